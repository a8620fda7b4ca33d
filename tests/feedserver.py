"""A real HTTP server on 127.0.0.1 (port 0) for tests: serves a folder like a static feed host, and misbehaves on demand.

    with FeedServer(root) as server:                      # or: server = FeedServer(root); ...; server.stop()
        server.behaviour = Behaviour(cut_after=1000)      # mutable between requests
        fetcher.download(server.url + "/assets/<sha256>", ...)
        assert server.requests[-1].headers["Range"] == "bytes=1000-"

Done properly: GET of files under `root`, with a strong ETag (a hash of the bytes served) and Last-Modified (the file's mtime);
If-None-Match / If-Modified-Since answered 304; a single `Range: bytes=a-` or `bytes=a-b` answered 206 with the right
Content-Range (416 past the end); 404 for anything else. Every request is logged in `server.requests` (method, path,
headers); `server.requested(path)` picks one path's.

Misbehaviours (fields of `Behaviour`, all off by default). `redirects` applies to the paths it names; every other
misbehaviour applies to every path, or only to `Behaviour.paths` when that is set:
    redirects            {path: Location}: answer 302 with that Location (absolute, or relative to this server)
    captive_portal       answer 200 text/html with a Wi-Fi login page, whatever was asked (no ETag, no 304, no Range)
    wrong_bytes          serve these bytes instead of the file's (ETag and Range then apply to them)
    gzip                 send the body gzip-compressed with Content-Encoding: gzip, whatever Accept-Encoding said
    ignore_range         answer a Range request with 200 and the whole file
    wrong_range          answer a Range request with 206, the whole file and `Content-Range: bytes 0-(n-1)/n`
    framing              "length" (Content-Length, the default), "chunked" (Transfer-Encoding), "close" (closed at the end)
    cut_after            close the connection after this many body bytes (a Content-Length still announces the whole body)
    stall_after          send this many body bytes at once, then `trickle_bytes` every `trickle_interval_s`
                         (trickle_bytes=0: send nothing more; the handler waits until the client or the server gives up)
"""

from __future__ import annotations

import gzip
import hashlib
import re
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

PORTAL_HTML = (
    "<!DOCTYPE html><html><head><title>Đăng nhập Wi-Fi</title></head>"
    "<body><form action='/login'>Vui lòng đăng nhập để sử dụng Internet</form></body></html>"
).encode()


@dataclass
class Behaviour:
    """How the server misbehaves; see the module docstring."""

    paths: frozenset[str] | None = None
    redirects: dict[str, str] = field(default_factory=dict)
    captive_portal: bool = False
    wrong_bytes: bytes | None = None
    gzip: bool = False
    ignore_range: bool = False
    wrong_range: bool = False
    framing: str = "length"
    cut_after: int | None = None
    stall_after: int | None = None
    trickle_bytes: int = 0
    trickle_interval_s: float = 0.1


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Message  # case-insensitive .get() / [] (missing → None)


class FeedServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a background thread, serving `root`; `url` has no trailing slash."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.behaviour = Behaviour()
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.feed = self
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    def requested(self, path: str) -> list[Request]:
        """The requests for one path (query string ignored), oldest first."""
        return [request for request in self.requests if urlsplit(request.path).path == path]

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()  # ends stalled handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    feed: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hangs up is part of the tests, not an error
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked, like a real host
    timeout = 5  # an idle keep-alive connection's thread ends after this
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests read FeedServer.requests instead

    def do_GET(self) -> None:
        feed = self.server.feed
        feed.requests.append(Request(self.command, self.path, self.headers))
        behaviour = feed.behaviour
        path = unquote(urlsplit(self.path).path)
        try:
            if path in behaviour.redirects:
                self._send(302, b"", {"Location": behaviour.redirects[path]}, Behaviour())
                return
            misbehave = behaviour if behaviour.paths is None or path in behaviour.paths else Behaviour()
            if misbehave.captive_portal:
                self._send(200, PORTAL_HTML, {"Content-Type": "text/html; charset=utf-8"}, misbehave)
                return
            file = self._file(path)
            if file is None:
                self._send(404, b"not found\n", {"Content-Type": "text/plain"}, Behaviour())
                return
            self._serve(file, misbehave)
        except ConnectionError:
            self.close_connection = True  # the client gave up

    def _file(self, path: str) -> Path | None:
        root = self.server.feed.root
        file = (root / path.lstrip("/")).resolve()
        return file if file.is_file() and file.is_relative_to(root) else None

    def _serve(self, file: Path, behaviour: Behaviour) -> None:
        body = behaviour.wrong_bytes if behaviour.wrong_bytes is not None else file.read_bytes()
        mtime = int(file.stat().st_mtime)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": formatdate(mtime, usegmt=True), "Accept-Ranges": "bytes"}
        if self._not_modified(etag, mtime):
            self._send(304, b"", headers, Behaviour())
            return
        headers["Content-Type"] = "application/json" if file.suffix == ".json" else "application/octet-stream"
        status = 200
        asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "").strip())
        if asked and behaviour.wrong_range:
            status, headers["Content-Range"] = 206, f"bytes 0-{len(body) - 1}/{len(body)}"
        elif asked and not behaviour.ignore_range:
            start = int(asked[1])
            end = min(int(asked[2]), len(body) - 1) if asked[2] else len(body) - 1
            if start >= len(body) or end < start:
                self._send(416, b"", {"Content-Range": f"bytes */{len(body)}"}, Behaviour())
                return
            status, headers["Content-Range"], body = 206, f"bytes {start}-{end}/{len(body)}", body[start : end + 1]
        if behaviour.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self._send(status, body, headers, behaviour)

    def _not_modified(self, etag: str, mtime: int) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in if_none_match.split(","))
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is None:
            return False
        try:
            return mtime <= parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False

    def _send(self, status: int, body: bytes, headers: dict[str, str], behaviour: Behaviour) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status == 304:
            self.end_headers()
            return
        if behaviour.framing == "length":
            self.send_header("Content-Length", str(len(body)))
        elif behaviour.framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        sent = 0
        for piece in self._pieces(body, behaviour):
            sent += len(piece)
            if behaviour.framing == "chunked":
                piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            self.wfile.write(piece)
        if sent < len(body):  # cut, or the server stopped while stalling: no proper end of body
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif behaviour.framing == "chunked":
            self.wfile.write(b"0\r\n\r\n")

    def _pieces(self, body: bytes, behaviour: Behaviour) -> Iterator[bytes]:
        """The body as it goes on the wire: at once, or stalled and trickled; stopped at cut_after."""
        end = len(body) if behaviour.cut_after is None else min(behaviour.cut_after, len(body))
        sent = end if behaviour.stall_after is None else min(behaviour.stall_after, end)
        if sent:
            yield body[:sent]
        while sent < end:
            if self.server.feed.stopping.wait(behaviour.trickle_interval_s):
                return
            if behaviour.trickle_bytes:
                yield body[sent : sent + behaviour.trickle_bytes]
                sent += behaviour.trickle_bytes
