"""A real HTTP receiver for board reports in tests: verifies each envelope, keeps each seq once."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from signage.envelope import PNG_TYPE, REPORT_TYPE, verify


@dataclass
class Sink:
    public_key: bytes
    mode: str = "ok"  # "ok", "drop" (read, keep, close without answering), "500", "401"
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    screenshots: dict[int, Image.Image] = field(default_factory=dict)
    requests: int = 0
    duplicates: int = 0
    refuse: set[int] = field(default_factory=set)  # report seqs answered 400 (and not kept)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: str, body: bytes) -> None:
        if path.endswith("/screenshot"):
            png = verify(body, PNG_TYPE, [self.public_key], 1, "sink").payload
            image = Image.open(io.BytesIO(png))
            seq = int(image.text["signage:seq"])
            if seq in self.screenshots:
                self.duplicates += 1
            image.load()
            self.screenshots[seq] = image
            return
        report = json.loads(verify(body, REPORT_TYPE, [self.public_key], 1, "sink").payload)
        if report["seq"] in self.refuse:
            raise ValueError(f"seq {report['seq']} refused")
        if report["seq"] in self.reports:
            self.duplicates += 1
        self.reports[report["seq"]] = report

    def plays(self) -> list[dict[str, Any]]:
        return [play for seq in sorted(self.reports) for play in self.reports[seq]["plays"]]


@contextmanager
def serve(sink: Sink, port: int = 0) -> Iterator[str]:
    """Serve `sink` on 127.0.0.1; yields the report URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with sink.lock:
                sink.requests += 1
                mode = sink.mode
                if mode in ("ok", "drop"):
                    try:
                        sink.take(self.path, body)
                    except ValueError:
                        mode = "400"
            if mode == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status = {"ok": 200, "500": 500, "401": 401, "400": 400}[mode]
            answer = json.dumps({"ok": status == 200}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/report"
    finally:
        server.shutdown()
        server.server_close()
