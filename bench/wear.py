"""Disk wear: bytes a board writes per hour while playing the bundled demo with nothing new arriving.

Runs `signage play --headless` on the demo playlist with its data_dir in a temporary folder (on disk, not
tmpfs: writes to tmpfs never reach /proc's write_bytes), lets it settle for --settle seconds (first frame,
cache and database created), then reads /proc/<pid>/io of the player (and any children) at the start and end of
a --minutes window and extrapolates to an hour. Goal: under 1 MB/hour apart from new content. Prints figures;
asserts nothing.

With --report-every S the board also reports to a hub (a local HTTP server answering 200) every S
seconds: the heartbeat's transaction (plays, status, the queue) and the delivery's delete are the writes.

  .venv/bin/python bench/wear.py [--minutes 3] [--settle 20] [--dir /var/tmp] [--report-every 60]
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1_000_000  # bytes per hour


def tree(pid: int) -> list[int]:
    """pid and its descendants (the player may start helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def io(pid: int) -> dict[str, int]:
    total: dict[str, int] = {}
    for p in tree(pid):
        try:
            text = Path(f"/proc/{p}/io").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            total[key] = total.get(key, 0) + int(value)
    return total


def size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def fs_type(folder: Path) -> str:
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, *_ = line.split()
        if str(folder).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)


def _sink() -> ThreadingHTTPServer:
    """A stand-in hub on loopback: takes every POST with 200 (the hub's own costs are bench/hub.py's)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            server.posts += 1  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.posts = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="measured window (default 3)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds before the window starts (default 20)")
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="where the temporary data_dir goes (default /var/tmp)")
    parser.add_argument("--report-every", type=float, metavar="S", help="also report to a local hub every S seconds")
    args = parser.parse_args()
    signage = shutil.which("signage", path=str(Path(sys.executable).parent)) or shutil.which("signage")
    if not signage:
        print("wear: no `signage` command (run `make` first)", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="signage-wear-", dir=args.dir) as tmp:
        base = Path(tmp)
        data = base / "data"
        config = base / "board.toml"
        config.write_text(
            "[board]\n"
            'id = "tan-quan"\nname = "UBND xã Tân Quan"\ntimezone = "Asia/Ho_Chi_Minh"\n'
            f'data_dir = "{data}"\n\n'
            f'[playlists]\npaths = ["{ROOT / "playlists" / "demo.toml"}"]\n\n'
            '[display]\non = "00:00"\noff = "23:59"\n'
        )
        sink = None
        if args.report_every:
            sink = _sink()
            subprocess.run([signage, "keygen", "--out", str(base / "board.key")], check=True, capture_output=True)
            with config.open("a") as handle:
                handle.write(f'\n[report]\nurl = "http://127.0.0.1:{sink.server_address[1]}/report"\nkey = "board.key"\n')
                handle.write(f"heartbeat_seconds = {args.report_every}\n")
        env = {
            **os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "XDG_STATE_HOME": str(base / "state"),
            "XDG_CACHE_HOME": str(base / "cache"), "HOME": str(base), "PYTHONDONTWRITEBYTECODE": "1",
        }  # fmt: skip
        window = args.minutes * 60
        log = base / "player.log"
        with log.open("wb") as out:
            player = subprocess.Popen(
                [signage, "play", "--headless", "--no-screenshots", "--config", str(config), "--for", str(args.settle + window + 30)],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
            try:
                time.sleep(args.settle)
                if player.poll() is not None:
                    print(f"wear: the player stopped early (exit {player.returncode}):\n{log.read_text()[-2000:]}", file=sys.stderr)
                    return 1
                start, size0, t0 = io(player.pid), size(base), time.monotonic()
                time.sleep(window)
                end, size1, t1 = io(player.pid), size(base), time.monotonic()
            finally:
                player.terminate()
                try:
                    player.wait(15)
                except subprocess.TimeoutExpired:
                    player.kill()
        hours = (t1 - t0) / 3600
        written = end.get("write_bytes", 0) - start.get("write_bytes", 0)
        cancelled = end.get("cancelled_write_bytes", 0) - start.get("cancelled_write_bytes", 0)
        wchar = end.get("wchar", 0) - start.get("wchar", 0)
        log_bytes = log.stat().st_size
        reporting = f", reporting every {args.report_every:g} s ({sink.posts} reports taken)" if sink else ""
        print(f"wear: demo board, headless{reporting}, {args.minutes:g} min measured after {args.settle:g} s; data_dir on {fs_type(base)}")
        print(f"  disk writes (write_bytes - cancelled):  {human(written - cancelled)} -> {human((written - cancelled) / hours)}/hour")
        print(f"  write() calls of any kind (wchar):      {human(wchar)} -> {human(wchar / hours)}/hour (incl. log lines, pipes)")
        print(f"  data_dir size change:                   {human(size1 - size0)} -> {human((size1 - size0) / hours)}/hour")
        print(f"  log output (journald on a board):       {human(log_bytes)} in the whole run")
        rate = (written - cancelled) / hours
        print(f"  goal under {human(GOAL)}/hour: {'met' if rate < GOAL else 'NOT met'}")
        if fs_type(base) in {"tmpfs", "ramfs"}:
            print("  note: the data_dir is on tmpfs, whose writes are not counted; pass --dir on a disk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
