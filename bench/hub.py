"""Hub figures, in one run on loopback, SQLite and PostgreSQL side by side:

1. reports ingested per second from 1,000 simulated boards as fast as the hub takes them (each report
   signed by its board's key, 15 plays, a status block), and the hub process's CPU per report;
2. the goal's load itself, paced: 33.3 reports/s (10,000 boards every 5 minutes) from 1,000 boards,
   the hub's CPU as a share of one core over that time, and the ingest latency (p50 / p99);
3. the dashboard's page time with 1,000 boards and a month of plays (goal: under 300 ms). The month
   is seeded through the same HTTP endpoint, as the per-day totals a board's merged report carries
   (1,000 boards x 30 days x 12 bulletins), plus the plays of phase 1.

The hub runs as `signage hub` in its own process (uvicorn, one worker); the simulated boards are
other processes, so their signing does not count against the hub.

Run: `.venv/bin/python bench/hub.py [--quick] [--backends sqlite,postgresql]`.

`--attack` measures resilience instead (issue 13): real boards report (paced, a new connection each, from
127.0.0.1) while 200 slow clients (half never finish their headers, half stall a screenshot upload after
600 KB; from ten other loopback addresses) and 20 junk senders (1 MiB of JSON each, in a loop, three kinds)
attack for `--attack-seconds`: the boards' latency p99 (goal under 100 ms, no report lost) and the hub's
peak RSS (goal under 300 MB). All of it on loopback, bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signage.envelope import REPORT_TYPE, key_id, public_key_text, public_raw, sign  # noqa: E402
from signage.report import payload as payloads  # noqa: E402

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PG_ADMIN = os.environ.get("SIGNAGE_TEST_POSTGRES", "postgresql://signage:signage@127.0.0.1:5432/signage_test")
PASSWORD = "bench-mật-khẩu-2026"
TARGET_RATE = 10_000 / 300  # reports a second from 10,000 boards reporting every 5 minutes
BULLETINS = [f"hq-2026-{n:04d}" for n in range(12)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def board_id(n: int) -> str:
    return f"xa-{n:04d}"


def status(now: datetime, playing: str) -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "uptime_s": 3600,
        "feed_sequence": 1042,
        "feed_stale": False,
        "last_sync_at": now.isoformat(),
        "last_error": None,
        "now_playing": playing,
        "display_on": True,
        "cache_bytes": 52_000_000,
        "disk_free_bytes": 41_000_000_000,
        "clock": now.isoformat(),
        "clock_behind_trusted": False,
        "heartbeat_s": 300,
    }


def live_report(key: Ed25519PrivateKey, board: str, seq: int, now: datetime) -> bytes:
    """A heartbeat report: 15 plays of 20 s in the last five minutes."""
    plays = [
        {
            "bulletin": BULLETINS[(seq + k) % len(BULLETINS)],
            "revision": 1,
            "started_at": (now - timedelta(seconds=300 - 20 * k)).isoformat(),
            "shown_s": 20.0,
            "completed": k != 14,
            **({"reason": "stopped"} if k == 14 else {}),
        }
        for k in range(15)
    ]
    body = payloads.report(board, seq, now, status(now, plays[-1]["bulletin"]), plays, [])
    return sign(payloads.encode(body), REPORT_TYPE, [key])


def month_report(key: Ed25519PrivateKey, board: str, seq: int, day: datetime) -> bytes:
    """One day of a board as a merged report: per-bulletin totals (16 h on screen, 20 s turns)."""
    body = payloads.report(board, seq, day, status(day, BULLETINS[0]), [], [])
    body["covers_seq"] = [seq, seq]
    body["play_totals"] = [
        {"bulletin": b, "revision": 1, "day": day.date().isoformat(), "count": 240, "completed": 236, "shown_s": 4790.0} for b in BULLETINS
    ]
    return sign(payloads.encode(body), REPORT_TYPE, [key])


# -- the simulated boards (worker processes) ---------------------------------------------------


def _keys(raw: list[bytes]) -> list[Ed25519PrivateKey]:
    return [Ed25519PrivateKey.from_private_bytes(r) for r in raw]


def _post_all(url: str, envelopes: list[bytes]) -> list[float]:
    session = requests.Session()
    latencies = []
    for envelope in envelopes:
        started = time.perf_counter()
        response = session.post(url, data=envelope, headers={"Content-Type": "application/json"}, timeout=30)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
    return latencies


def _prepare(job: tuple[str, list[tuple[int, bytes]], int, int, str]) -> list[bytes]:
    kind, boards, first_seq, count, now_iso = job
    now = datetime.fromisoformat(now_iso)
    out = []
    for n, raw in boards:
        key = Ed25519PrivateKey.from_private_bytes(raw)
        for i in range(count):
            if kind == "live":
                out.append(live_report(key, board_id(n), first_seq + i, now))
            else:
                out.append(month_report(key, board_id(n), first_seq + i, now - timedelta(days=count - i)))
    return out


def _send(job: tuple[str, list[bytes]]) -> list[float]:
    return _post_all(*job)


def prepare(pool: Any, kind: str, keys: list[bytes], first_seq: int, count: int, now: datetime, parts: int) -> list[list[bytes]]:
    boards = list(enumerate(keys))
    slices = [boards[i::parts] for i in range(parts)]
    return pool.map(_prepare, [(kind, s, first_seq, count, now.isoformat()) for s in slices])


# -- the hub -----------------------------------------------------------------------------------


class Hub:
    def __init__(self, folder: Path, database: str, keys: list[bytes], extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        lines = [
            "[hub]",
            f'listen = "127.0.0.1:{self.port}"',
            f'database = "{database}"',
            "heartbeat_seconds = 300",
            "max_report_bytes = 1048576",
            *extra,
            "",
        ]
        for n, raw in enumerate(keys):
            public = public_key_text(public_raw(Ed25519PrivateKey.from_private_bytes(raw)))
            lines += ["[[boards]]", f'id = "{board_id(n)}"', f'name = "UBND xã số {n}"', f'public_key = "{public}"', ""]
        self.config = folder / "hub.toml"
        self.config.write_text("\n".join(lines), encoding="utf-8")
        signage = [sys.executable, "-m", "signage", "hub", "--config", str(self.config)]
        subprocess.run([*signage, "--add-user", "bench"], input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        self.process = subprocess.Popen(signage, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"hub did not start: {self.process.stderr.read().decode() if self.process.stderr else ''}")
            time.sleep(0.1)
        self.ps = psutil.Process(self.process.pid)

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def page_times(session: requests.Session, url: str, repeat: int) -> tuple[float, float, int]:
    times = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = session.get(url, timeout=60)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
        size = len(response.content)
    return statistics.median(times), max(times), size


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def running_hub(name: str, keys: list[bytes], purpose: str) -> Iterator[Hub]:
    """A hub on `name` (sqlite or postgresql) in a temporary folder or database, removed on the way out."""
    folder = Path(tempfile.mkdtemp(prefix=f"signage-bench-{purpose}-{name}-"))
    admin = None
    database = str(folder / "hub.db")
    if name == "postgresql":
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True)
        db_name = f"signage_bench_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{db_name}"')
        database = f"{PG_ADMIN.rsplit('/', 1)[0]}/{db_name}"
    hub = Hub(folder, database, keys)
    try:
        yield hub
    finally:
        hub.stop()
        shutil.rmtree(folder, ignore_errors=True)
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" WITH (FORCE)')
            admin.close()


def run_backend(
    name: str, keys: list[bytes], pool: Any, parts: int, live_rounds: int, month_days: int, paced_boards: int
) -> dict[str, float]:
    figures: dict[str, float] = {}
    with running_hub(name, keys, "hub") as hub:
        now = datetime.now(HCM)
        report_url = f"{hub.url}/report"
        # 1. throughput: every board sends `live_rounds` heartbeat reports, as fast as the hub takes them
        batches = prepare(pool, "live", keys, 1000, live_rounds, now, parts)
        total = sum(len(b) for b in batches)
        cpu0, wall0 = hub.cpu(), time.perf_counter()
        latencies = [x for part in pool.map(_send, [(report_url, b) for b in batches]) for x in part]
        wall, cpu = time.perf_counter() - wall0, hub.cpu() - cpu0
        figures["reports"] = total
        figures["per_s"] = total / wall
        figures["cpu_ms_per_report"] = 1000 * cpu / total
        figures["p99_saturated_ms"] = 1000 * percentile(latencies, 0.99)
        # 2. the goal's own load: 10,000 boards every 5 minutes is 33.3 reports/s; paced, one after another
        paced = prepare(pool, "live", keys[:paced_boards], 5000, 1, now, 1)[0]
        session = requests.Session()
        steady = []
        cpu0, wall0 = hub.cpu(), time.perf_counter()
        next_at = wall0
        for envelope in paced:
            next_at += 1 / TARGET_RATE
            time.sleep(max(0.0, next_at - time.perf_counter()))
            started = time.perf_counter()
            session.post(report_url, data=envelope, headers={"Content-Type": "application/json"}, timeout=30).raise_for_status()
            steady.append(time.perf_counter() - started)
        wall, cpu = time.perf_counter() - wall0, hub.cpu() - cpu0
        figures["paced_rate"] = len(paced) / wall
        figures["paced_core_pct"] = 100 * cpu / wall
        figures["paced_cpu_ms"] = 1000 * cpu / len(paced)
        figures["p50_ms"] = 1000 * statistics.median(steady)
        figures["p99_ms"] = 1000 * percentile(steady, 0.99)
        # 3. a month of plays, as per-day totals, then the dashboard
        month = prepare(pool, "month", keys, 1, month_days, now, parts)
        seeded = time.perf_counter()
        pool.map(_send, [(report_url, b) for b in month])
        figures["seed_s"] = time.perf_counter() - seeded
        officer = requests.Session()
        login = officer.post(f"{hub.url}/login", data={"username": "bench", "password": PASSWORD}, allow_redirects=False, timeout=30)
        if login.status_code not in (200, 303) or not officer.cookies:
            raise SystemExit(f"login failed: HTTP {login.status_code}")
        figures["dash_median_ms"], figures["dash_max_ms"], size = (lambda m, x, s: (1000 * m, 1000 * x, s))(
            *page_times(officer, f"{hub.url}/", 10)
        )
        figures["dash_kb"] = size / 1024
        median, worst, _ = page_times(officer, f"{hub.url}/bulletins", 5)
        figures["bulletins_median_ms"], figures["bulletins_max_ms"] = 1000 * median, 1000 * worst
        median, worst, _ = page_times(officer, f"{hub.url}/boards/{board_id(7)}", 5)
        figures["board_median_ms"], figures["board_max_ms"] = 1000 * median, 1000 * worst
        first = (now - timedelta(days=7)).date().isoformat()
        median, worst, size = page_times(officer, f"{hub.url}/export.csv?from={first}&to={now.date().isoformat()}", 2)
        figures["csv_week_ms"], figures["csv_week_mb"] = 1000 * median, size / 1e6
        figures["hub_rss_mb"] = hub.ps.memory_info().rss / 1e6
    return figures


# -- --attack: resilience under slow clients and junk ---------------------------------------------

SLOW_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 12)]  # ten "machines" of slow clients
JUNK_ADDRESSES = [f"127.0.1.{n}" for n in range(1, 5)]


async def _slow_headers(port: int, source: str, stop: float, stats: dict[str, int]) -> None:
    """Open, send half a request, add a header line every 3 s; when the hub closes it, open again."""
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["slow_opened"] += 1
        try:
            writer.write(b"POST /report HTTP/1.1\r\nHost: hub\r\n")
            while time.monotonic() < stop:
                try:
                    said = await asyncio.wait_for(reader.read(65536), 3)
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                    continue
                # An answer (408, 503) or the close: either way the hub is done with this one.
                stats["slow_closed_by_hub" if not said.startswith(b"HTTP/1.1 503") else "slow_503"] += 1
                break
        except OSError:
            stats["slow_closed_by_hub"] += 1
        finally:
            writer.close()
        await asyncio.sleep(0.2)


async def _slow_upload(port: int, source: str, stop: float, stats: dict[str, int]) -> None:
    """A screenshot upload that sends 600 KB of its 8 MiB and then 100 bytes a second."""
    head = b"POST /report/screenshot HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 8000000\r\n\r\n"
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["upload_opened"] += 1
        try:
            writer.write(head + b"A" * 600_000)
            while time.monotonic() < stop:
                try:
                    said = await asyncio.wait_for(reader.read(65536), 1)
                except TimeoutError:
                    writer.write(b"A" * 100)
                    continue
                stats["upload_503" if said.startswith(b"HTTP/1.1 503") else "upload_closed_by_hub"] += 1
                break
        except OSError:
            stats["upload_closed_by_hub"] += 1
        finally:
            writer.close()
        await asyncio.sleep(0.2)


async def _junk(port: int, source: str, body: bytes, stop: float, stats: dict[str, int]) -> None:
    """POST the same megabyte of junk again and again on one kept-alive connection (reopened when closed)."""
    request = b"POST /report HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        try:
            while time.monotonic() < stop:
                writer.write(request + body)
                await writer.drain()
                status_line = await asyncio.wait_for(reader.readline(), 30)
                if not status_line:
                    break
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                stats[f"junk_{status_line.split()[1].decode()}"] += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            stats["junk_dropped"] += 1
        finally:
            writer.close()


def _attack(port: int, seconds: float, keyid: str, out: Any) -> None:
    """The attackers, in a process of their own (one core): 100 + 100 slow clients and 20 junk senders."""
    import collections

    stats: collections.Counter[str] = collections.Counter()
    junk_bodies = [
        b'{"a": [' + b"{}," * 340_000 + b"{}]}",  # names no known key
        b'{"signatures": [{"keyid": "%s"}], "a": [' % keyid.encode() + b"{}," * 340_000 + b"{}]}",  # a known keyid, not the shape
        (  # the shape of a signed envelope and a known keyid: base64 decoded, the signature checked, refused
            b'{"payloadType": "application/vnd.signage.report.v1+json", "payload": "'
            + base64.b64encode(os.urandom(760_000))
            + b'", "signatures": [{"keyid": "%s", "sig": "%s"}]}' % (keyid.encode(), base64.b64encode(os.urandom(64)))
        ),
    ]

    async def everything() -> None:
        stop = time.monotonic() + seconds
        tasks = [_slow_headers(port, SLOW_ADDRESSES[n % 10], stop, stats) for n in range(100)]
        tasks += [_slow_upload(port, SLOW_ADDRESSES[n % 10], stop, stats) for n in range(100)]
        tasks += [_junk(port, JUNK_ADDRESSES[n % 4], junk_bodies[n % 3], stop, stats) for n in range(20)]
        await asyncio.gather(*tasks)

    asyncio.run(everything())
    out.put(dict(stats))


def _boards_report(hub: Hub, envelopes: list[bytes], rate: float) -> tuple[list[float], int, int]:
    """Each envelope from a board of its own (a new connection each), paced at `rate`; a failure retried as a board
    would (after a pause): (latencies of first attempts, first attempts that failed, reports lost in the end)."""
    latencies: list[float] = []
    failed = lost = 0
    next_at = time.perf_counter()
    for envelope in envelopes:
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.perf_counter()))
        for attempt in range(4):
            started = time.perf_counter()
            try:
                status = requests.post(f"{hub.url}/report", data=envelope, timeout=30).status_code
            except requests.RequestException:
                status = 0
            if attempt == 0:
                latencies.append(time.perf_counter() - started)
            if status == 200:
                break
            failed += attempt == 0
            time.sleep(1.0)
        else:
            lost += 1
    return latencies, failed, lost


def run_attack(name: str, keys: list[bytes], seconds: float, rate: float) -> dict[str, float]:
    figures: dict[str, float] = {}
    with running_hub(name, keys, "attack") as hub:
        now = datetime.now(HCM)
        count = int(seconds * rate * 0.8)
        envelopes = [live_report(Ed25519PrivateKey.from_private_bytes(keys[n % len(keys)]), board_id(n % len(keys)), 10 + n, now)
                     for n in range(count)]  # fmt: skip
        calm = [live_report(Ed25519PrivateKey.from_private_bytes(keys[n % len(keys)]), board_id(n % len(keys)), 100_000 + n, now)
                for n in range(min(200, count))]  # fmt: skip
        calm_latencies, _, _ = _boards_report(hub, calm, rate)
        figures["calm_p99_ms"] = 1000 * percentile(calm_latencies, 0.99)
        figures["rss_before_mb"] = hub.ps.memory_info().rss / 1e6
        peak = [figures["rss_before_mb"]]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                with contextlib.suppress(psutil.Error):
                    peak.append(hub.ps.memory_info().rss / 1e6)
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stats_queue: Any = multiprocessing.get_context("fork").Queue()
        keyid = key_id(public_raw(Ed25519PrivateKey.from_private_bytes(keys[0])))
        attacker = multiprocessing.get_context("fork").Process(target=_attack, args=(hub.port, seconds, keyid, stats_queue))
        cpu0 = hub.cpu()
        attacker.start()
        time.sleep(min(5.0, seconds / 6))  # the attack in full swing first
        latencies, failed, lost = _boards_report(hub, envelopes, rate)
        stats = stats_queue.get(timeout=seconds + 120)
        attacker.join(timeout=60)
        figures["attack_cpu_pct"] = 100 * (hub.cpu() - cpu0) / seconds
        sampling.set()
        sampler.join()
        figures["reports"] = len(envelopes)
        figures["p50_ms"] = 1000 * statistics.median(latencies)
        figures["p99_ms"] = 1000 * percentile(latencies, 0.99)
        figures["max_ms"] = 1000 * max(latencies)
        figures["first_try_failed"] = failed
        figures["lost"] = lost
        figures["peak_rss_mb"] = max(peak)
        for key in ("slow_opened", "slow_closed_by_hub", "slow_503", "upload_opened", "upload_closed_by_hub", "upload_503", "junk_400",
                    "junk_401", "junk_429", "junk_dropped", "refused"):  # fmt: skip
            figures[key] = stats.get(key, 0)
        healthz = []
        for _ in range(20):
            started = time.perf_counter()
            requests.get(f"{hub.url}/healthz", timeout=10)
            healthz.append(time.perf_counter() - started)
        figures["healthz_after_ms"] = 1000 * max(healthz)
    return figures


def attack_main(args: argparse.Namespace) -> None:
    raw = (serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    keys = [Ed25519PrivateKey.generate().private_bytes(*raw) for _ in range(200)]
    print(f"hub attack bench: 200 boards at {args.attack_rate:g} reports/s under 200 slow clients and 20 junk senders for "
          f"{args.attack_seconds:g} s; {os.cpu_count()} CPUs")  # fmt: skip
    results = {backend: run_attack(backend, keys, args.attack_seconds, args.attack_rate) for backend in args.backends.split(",")}
    rows = [
        ("boards' reports, calm: latency p99 (ms)", "calm_p99_ms", "{:.1f}"),
        ("boards' reports under attack", "reports", "{:.0f}"),
        ("  latency p50 (ms)", "p50_ms", "{:.1f}"),
        ("  latency p99 (ms, goal < 100)", "p99_ms", "{:.1f}"),
        ("  latency worst (ms)", "max_ms", "{:.1f}"),
        ("  failed at first try", "first_try_failed", "{:.0f}"),
        ("  lost (goal 0)", "lost", "{:.0f}"),
        ("hub RSS before (MB)", "rss_before_mb", "{:.0f}"),
        ("hub RSS peak under attack (MB, goal < 300)", "peak_rss_mb", "{:.0f}"),
        ("hub CPU under attack (% of one core)", "attack_cpu_pct", "{:.0f}"),
        ("slow-header connections opened / closed (408) / 503", ("slow_opened", "slow_closed_by_hub", "slow_503"), "{:.0f}"),
        ("stalled uploads opened / closed / 503", ("upload_opened", "upload_closed_by_hub", "upload_503"), "{:.0f}"),
        ("junk answered 400 / 401 / 429 / dropped", ("junk_400", "junk_401", "junk_429", "junk_dropped"), "{:.0f}"),
        ("attackers' connections refused", "refused", "{:.0f}"),
        ("/healthz worst of 20 after (ms)", "healthz_after_ms", "{:.1f}"),
    ]
    backends = list(results)
    print(f"{'':52}" + "".join(f"{b:>22}" for b in backends))
    for label, keys_shown, fmt in rows:
        names = keys_shown if isinstance(keys_shown, tuple) else (keys_shown,)
        cells = (" / ".join(fmt.format(results[b][name]) for name in names) for b in backends)
        print(f"{label:52}" + "".join(f"{cell:>22}" for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer reports and a week instead of a month")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--boards", type=int, default=1000)
    parser.add_argument("--attack", action="store_true", help="resilience under slow clients and junk senders instead")
    parser.add_argument("--attack-seconds", type=float, default=30.0)
    parser.add_argument("--attack-rate", type=float, default=20.0, help="the real boards' reports a second")
    args = parser.parse_args()
    if args.attack:
        attack_main(args)
        return
    live_rounds, month_days = (2, 7) if args.quick else (6, 30)
    raw = (serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    keys = [Ed25519PrivateKey.generate().private_bytes(*raw) for _ in range(args.boards)]
    parts = 4
    print(f"hub bench: {args.boards} boards, {live_rounds} reports each (15 plays), {month_days} days of totals; {os.cpu_count()} CPUs")
    results = {}
    with multiprocessing.get_context("fork").Pool(parts) as pool:
        for backend in args.backends.split(","):
            results[backend] = run_backend(backend, keys, pool, parts, live_rounds, month_days, 300 if args.quick else len(keys))
    rows = [
        ("reports ingested", "reports", "{:.0f}"),
        ("reports/s (saturated, 4 senders)", "per_s", "{:.0f}"),
        ("hub CPU per report, saturated (ms)", "cpu_ms_per_report", "{:.2f}"),
        ("paced at 33.3 reports/s (10,000 boards / 5 min): rate", "paced_rate", "{:.1f}"),
        ("  hub CPU, % of one core (goal < 10)", "paced_core_pct", "{:.1f}"),
        ("  hub CPU per report (ms)", "paced_cpu_ms", "{:.2f}"),
        ("  latency p50 (ms)", "p50_ms", "{:.1f}"),
        ("  latency p99 (ms)", "p99_ms", "{:.1f}"),
        ("latency saturated p99 (ms)", "p99_saturated_ms", "{:.1f}"),
        ("seeding the month (s)", "seed_s", "{:.1f}"),
        ("dashboard / median (ms, goal < 300)", "dash_median_ms", "{:.0f}"),
        ("dashboard / worst of 10 (ms)", "dash_max_ms", "{:.0f}"),
        ("dashboard / size (KiB)", "dash_kb", "{:.0f}"),
        ("/bulletins median (ms)", "bulletins_median_ms", "{:.0f}"),
        ("/boards/{id} median (ms)", "board_median_ms", "{:.0f}"),
        ("CSV of a week (ms)", "csv_week_ms", "{:.0f}"),
        ("CSV of a week (MB)", "csv_week_mb", "{:.1f}"),
        ("hub RSS at the end (MB)", "hub_rss_mb", "{:.0f}"),
    ]
    backends = list(results)
    print(f"{'':52}" + "".join(f"{b:>14}" for b in backends))
    for label, key, fmt in rows:
        print(f"{label:52}" + "".join(f"{fmt.format(results[b][key]):>14}" for b in backends))


if __name__ == "__main__":
    main()
