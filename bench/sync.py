"""Feed sync figures, in one run, against one loopback server (tests/feedserver.py):

1. a cold sync of a feed with 200 bulletins and 500 MB of media, as MB/s, beside `curl` fetching the
   same files from the same server into the same disk (goal: within 80 % of curl);
2. a warm poll answered 304: time and bytes written to disk (goal: under 20 ms and no writes);
3. peak RSS while downloading one 1 GB asset (goal: constant, under 100 MB above the baseline).

Run: `.venv/bin/python bench/sync.py [--quick]` (quick: 100 MB and a 200 MB asset).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signage.config import load_config  # noqa: E402
from signage.district.publish import publish  # noqa: E402
from signage.envelope import generate_key, public_key_text, public_raw  # noqa: E402
from signage.feed.http import Fetcher  # noqa: E402
from signage.feed.sync import open_store, sync  # noqa: E402
from tests.feedserver import FeedServer  # noqa: E402

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00"


def make_media(path: Path, size: int) -> None:
    """A file of `size` bytes that sniffs as MP4; incompressible (urandom in 1 MiB blocks)."""
    with path.open("wb") as handle:
        handle.write(MP4_HEAD)
        left = size - len(MP4_HEAD)
        block = os.urandom(1 << 20)
        while left > 0:
            handle.write(block[: min(left, len(block))])
            block = block[1:] + block[:1]  # different bytes in each block, at no cost
            left -= min(left, len(block))


def write_bulletin(src: Path, bid: str, media: str | None) -> None:
    kind = 'kind = "video"\nduration_s = 30\n' if media else 'kind = "text"\nbody = "Thông báo của xã."\n'
    media_line = f'media = "{media}"\n' if media else ""
    (src / f"{bid}.toml").write_text(
        f'{kind}title = "Bản tin {bid}"\n{media_line}valid_from = 2026-01-01T00:00:00+07:00\n'
        'valid_until = 2027-12-31T00:00:00+07:00\nboards = ["*"]\n',
        encoding="utf-8",
    )


def board(tmp: Path, name: str, url: str, public: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(
        f'[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\ndata_dir = "{name}-state"\n'
        f'[feed]\nurl = "{url}/feed.json"\npublic_keys = ["{public}"]\nmax_asset_bytes = {4 * 1024**3}\ncache_bytes = {8 * 1024**3}\n',
        encoding="utf-8",
    )
    return path


def vm(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def cold_sync(config: Path) -> float:
    os.sync()  # start from a quiet disk: no writeback left over from the run before
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "signage", "sync", "--config", str(config)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"sync failed: {result.stderr}")
    return time.perf_counter() - began


def curl_all(url: str, names: list[str], into: Path) -> float:
    into.mkdir()
    config = into / "curl.cfg"
    config.write_text("".join(f'url = "{url}/assets/{name}"\noutput = "{into / name}"\n' for name in names))
    os.sync()
    began = time.perf_counter()
    subprocess.run(["curl", "--silent", "--fail", "--config", str(config)], check=True)
    subprocess.run(["sync"], check=True)  # curl does not fsync; the board does, so count the flush in curl's time too
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    total_mb = 100 if args.quick else 500
    big_mb = 200 if args.quick else 1024
    if shutil.which("curl") is None:
        raise SystemExit("bench/sync.py needs curl (Debian package curl)")

    with tempfile.TemporaryDirectory(prefix="signage-bench-sync-") as scratch:
        tmp = Path(scratch)
        src, site = tmp / "src", tmp / "site"
        src.mkdir()
        key = generate_key(tmp / "district.key")
        public = public_key_text(public_raw(key))
        with_media = 100
        per_asset = total_mb * 1024 * 1024 // with_media
        for index in range(200):
            media = None
            if index < with_media:
                media = f"m{index:03d}.mp4"
                make_media(src / media, per_asset)
            write_bulletin(src, f"b{index:03d}", media)
        began = time.perf_counter()
        publish(src, tmp / "district.key", site, publisher="hon-quan", expires_in=timedelta(days=7), now=datetime.now(HCM))
        took = time.perf_counter() - began
        print(f"published 200 bulletins, {with_media} media of {per_asset / 1e6:.1f} MB ({total_mb} MiB) in {took:.1f} s")
        shutil.rmtree(src)

        with FeedServer(site) as server:
            names = [p.name for p in (site / "assets").iterdir()]
            size = sum((site / "assets" / n).stat().st_size for n in names)
            curl_s = curl_all(server.url, names, tmp / "curl")
            shutil.rmtree(tmp / "curl")
            cold = board(tmp, "cold", server.url, public)
            ours_s = cold_sync(cold)
            ours, theirs = size / 1e6 / ours_s, size / 1e6 / curl_s
            print(
                f"cold sync, {size / 1e6:.0f} MB: `signage sync` {ours:.0f} MB/s ({ours_s:.1f} s, interpreter start included), "
                f"curl {theirs:.0f} MB/s ({curl_s:.1f} s): {ours / theirs:.0%} of curl"
            )
            inproc_config = load_config(board(tmp, "inproc", server.url, public))
            store, files = open_store(inproc_config)
            os.sync()
            began = time.perf_counter()
            sync(inproc_config, store, files, Fetcher(), lambda: datetime.now(HCM))
            store.close()
            inproc_s = time.perf_counter() - began
            print(
                f"cold sync in one process (as the player's job runs it): {size / 1e6 / inproc_s:.0f} MB/s ({inproc_s:.1f} s): "
                f"{curl_s / inproc_s:.0%} of curl  (goal ≥ 80 %)"
            )
            shutil.rmtree(tmp / "inproc-state")

            config = load_config(cold)
            store, files = open_store(config)
            fetcher = Fetcher()
            times, writes = [], []
            try:
                for _ in range(20):
                    before = written_bytes()
                    began = time.perf_counter()
                    result = sync(config, store, files, fetcher, lambda: datetime.now(HCM))
                    times.append(time.perf_counter() - began)
                    os.sync()
                    writes.append(written_bytes() - before)
                    assert result.outcome == "unchanged", result.lines()
            finally:
                store.close()
                fetcher.close()
            times.sort()
            print(
                f"warm poll (304), 20 polls in one process: median {times[10] * 1000:.1f} ms, worst {times[-1] * 1000:.1f} ms, "
                f"bytes written {sum(writes)}  (goal < 20 ms, no writes)"
            )

        # One 1 GB medium: the sync process's memory while it downloads.
        for entry in site.iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        src.mkdir()
        make_media(src / "big.mp4", big_mb * 1024 * 1024)
        write_bulletin(src, "phim-dai", "big.mp4")
        publish(src, tmp / "district.key", site, publisher="hon-quan", expires_in=timedelta(days=7), now=datetime.now(HCM))
        shutil.rmtree(src)
        with FeedServer(site) as server:
            config_path = board(tmp, "big", server.url, public)
            process = subprocess.Popen(
                [sys.executable, "-m", "signage", "sync", "--config", str(config_path)], stderr=subprocess.PIPE, text=True
            )
            samples: list[tuple[float, int]] = []
            baseline = 0

            def watch() -> None:
                while process.poll() is None:
                    try:
                        samples.append((time.perf_counter(), vm(process.pid, "VmRSS")))
                    except (FileNotFoundError, ProcessLookupError):
                        return
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch)
            watcher.start()
            partial = load_config(config_path).board.data_dir / "media" / "partial"
            while process.poll() is None and not (partial.exists() and any(partial.iterdir())):
                time.sleep(0.01)
            baseline = samples[-1][1] if samples else 0
            began = time.perf_counter()
            process.wait()
            watcher.join()
            if process.returncode != 0:
                raise SystemExit(f"sync failed: {process.stderr.read() if process.stderr else ''}")
            # A transfer the host cut (its own send timeout) resumes at the next poll, as on a board.
            polls = 1
            while any(partial.iterdir()) and polls < 5:
                polls += 1
                cold_sync(config_path)
            if polls > 1:
                print(f"  (the host cut the transfer; completed by {polls - 1} more poll(s), resuming with Range)")
            peak = max(rss for _, rss in samples)
            late = [rss for at, rss in samples if at > began + (time.perf_counter() - began) / 2]
            print(
                f"download of one {big_mb} MiB medium: {big_mb * 1.048576 / (time.perf_counter() - began):.0f} MB/s; RSS at its start "
                f"{baseline / 1e6:.0f} MB, peak {peak / 1e6:.0f} MB (+{(peak - baseline) / 1e6:.0f} MB), second half max "
                f"{max(late or [peak]) / 1e6:.0f} MB  (goal: constant, < 100 MB above baseline)"
            )


if __name__ == "__main__":
    main()
