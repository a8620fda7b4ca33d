"""The boards' endpoints as plain ASGI, in front of the officers' web app: POST /report and /report/screenshot.

Ten thousand boards send 33 reports a second; each would cost as much in the web framework's layers
(middleware, routing, request and response objects) as in checking and storing it. These two paths
need none of that: read the body within its limit, decide, store, answer in JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from signage.district.hub.ingest import Refusal

log = logging.getLogger("signage.hub")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[bytes], dict[str, Any] | Refusal]
Refused = Callable[[str, str, int, str], None]  # (remote, path, status, reason): logged and shown to officers


@dataclass(frozen=True, slots=True)
class Endpoint:
    limit: int  # body bytes
    handle: Handler
    on_loop: bool  # short work (a report): run on the event loop, no thread hand-over; else in the thread pool


class BoardEndpoints:
    """An ASGI app: the boards' POSTs handled here, everything else passed to `app` (whose `state` it shows)."""

    def __init__(self, app: Any, endpoints: Mapping[str, Endpoint], refused: Refused) -> None:
        self.app = app
        self.state = app.state
        self.endpoints = dict(endpoints)
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _answer(send, 405, {"ok": False, "error": "POST only"}, [(b"allow", b"POST")])
            return
        path = scope["path"]
        client = scope.get("client")
        remote = client[0] if client else "?"
        raw = await _read_body(scope, receive, endpoint.limit)
        if isinstance(raw, Refusal):
            self.refused(remote, path, raw.status, raw.reason)
            await _answer(send, raw.status, {"ok": False, "error": raw.reason}, [(b"connection", b"close")])
            return
        if raw is None:  # the board went away mid-body
            return
        try:
            outcome = endpoint.handle(raw) if endpoint.on_loop else await run_in_threadpool(endpoint.handle, raw)
        except Exception:
            log.exception("storing %s failed", path)
            await _answer(send, 503, {"ok": False, "error": "the hub could not store it; send again later"})
            return
        if isinstance(outcome, Refusal):
            self.refused(remote, path, outcome.status, outcome.reason)
            await _answer(send, outcome.status, {"ok": False, "error": outcome.reason})
            return
        await _answer(send, 200, outcome)


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | Refusal | None:
    """The body, or a 413 as soon as it passes `limit` (whatever Content-Length said), or None on a disconnect."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = value.decode("latin-1")
            if not declared.isdigit() or int(declared) > limit:
                return Refusal(413, f"Content-Length {declared[:20]} is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return Refusal(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("ascii")), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
