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
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
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

from signage.envelope import REPORT_TYPE, public_key_text, public_raw, sign  # noqa: E402
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
    def __init__(self, folder: Path, database: str, keys: list[bytes]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        lines = [
            "[hub]",
            f'listen = "127.0.0.1:{self.port}"',
            f'database = "{database}"',
            "heartbeat_seconds = 300",
            "max_report_bytes = 1048576",
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


def run_backend(
    name: str, keys: list[bytes], pool: Any, parts: int, live_rounds: int, month_days: int, paced_boards: int
) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"signage-bench-hub-{name}-"))
    admin = None
    database = str(folder / "hub.db")
    if name == "postgresql":
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True)
        db_name = f"signage_bench_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{db_name}"')
        database = f"{PG_ADMIN.rsplit('/', 1)[0]}/{db_name}"
    hub = Hub(folder, database, keys)
    figures: dict[str, float] = {}
    try:
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
    finally:
        hub.stop()
        shutil.rmtree(folder, ignore_errors=True)
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" WITH (FORCE)')
            admin.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer reports and a week instead of a month")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--boards", type=int, default=1000)
    args = parser.parse_args()
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
