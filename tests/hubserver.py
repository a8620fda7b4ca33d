"""The hub under a real uvicorn on 127.0.0.1 (port 0) in a thread, and builders for signed reports and screenshots.

with serve(create_app(config)) as base_url:
    requests.post(base_url + "/report", data=report_envelope(key, board="tan-quan", seq=1))
"""

from __future__ import annotations

import io
import json
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, PngImagePlugin

from signage.envelope import PNG_TYPE, REPORT_TYPE, public_key_text, public_raw, sign

START = datetime.fromisoformat("2026-11-23T09:05:00+07:00")


@contextmanager
def serve(app: Any, **options: Any) -> Iterator[str]:
    """Run `app` under uvicorn on a free port; yield its base URL; stop it (and wait for the thread) afterwards.

    `options` are more uvicorn settings (e.g. the hub's proxy settings); proxy headers are off unless given, as in
    `signage hub`, so a test client cannot claim another address with X-Forwarded-For by accident.
    """
    settings: dict[str, Any] = {"proxy_headers": False, **options}
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False, **settings)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="hub-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the hub test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def write_hub_config(folder: Path, keys: dict[str, Ed25519PrivateKey], database: str = "hub.db", **hub: Any) -> Path:
    """A hub.toml in `folder` pinning each board's key (`{board id: private key}`)."""
    lines = ["[hub]", f"database = {json.dumps(database)}", 'title = "Hệ thống thông tin nguồn huyện Hớn Quản"']
    lines += [f"{name} = {json.dumps(value)}" for name, value in hub.items()]
    for board_id, key in keys.items():
        name = "UBND xã " + board_id.replace("-", " ").title()
        lines += ["", "[[boards]]", f'id = "{board_id}"', f"name = {json.dumps(name, ensure_ascii=False)}"]
        lines.append(f'public_key = "{public_key_text(public_raw(key))}"')
    path = folder / "hub.toml"
    path.write_text(textwrap.dedent("\n".join(lines)) + "\n", encoding="utf-8")
    return path


def play(bulletin: str, started_at: datetime, shown_s: float = 20.0, completed: bool = True, **extra: Any) -> dict[str, Any]:
    return {"bulletin": bulletin, "revision": extra.pop("revision", 1), "started_at": started_at.isoformat(), "shown_s": shown_s,
            "completed": completed, **extra}  # fmt: skip


def report_body(
    board: str,
    seq: int,
    sent_at: datetime = START,
    plays: Sequence[dict[str, Any]] = (),
    **extra: Any,
) -> dict[str, Any]:
    status = {
        "version": "0.1.0", "uptime_s": 3600, "feed_sequence": 1042, "feed_stale": False, "last_sync_at": sent_at.isoformat(),
        "last_error": None, "now_playing": "hq-2026-0142", "display_on": True, "cache_bytes": 10**9,
        "disk_free_bytes": 12_300_000_000, "clock": sent_at.isoformat(), "clock_behind_trusted": False, "heartbeat_s": 300,
    }  # fmt: skip
    status.update(extra.pop("status", {}))
    body = {"format": "signage-report/1", "board": board, "seq": seq, "sent_at": sent_at.isoformat(), "status": status,
            "plays": list(plays), "commands_done": extra.pop("commands_done", [])}  # fmt: skip
    body.update(extra)
    return body


def envelope_of(body: dict[str, Any] | bytes, key: Ed25519PrivateKey, payload_type: str = REPORT_TYPE) -> bytes:
    payload = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return sign(payload, payload_type, [key])


def report_envelope(key: Ed25519PrivateKey, board: str, seq: int, **fields: Any) -> bytes:
    return envelope_of(report_body(board, seq, **fields), key)


def screenshot_png(board: str, seq: int, taken_at: datetime = START, command: str | None = None, size: tuple[int, int] = (96, 54)) -> bytes:
    image = Image.new("RGB", size, (20, 90, 160))
    info = PngImagePlugin.PngInfo()
    info.add_text("signage:board", board)
    info.add_text("signage:seq", str(seq))
    info.add_text("signage:taken_at", taken_at.isoformat())
    if command:
        info.add_text("signage:command", command)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def screenshot_envelope(key: Ed25519PrivateKey, board: str, seq: int, **fields: Any) -> bytes:
    return sign(screenshot_png(board, seq, **fields), PNG_TYPE, [key])


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
