"""The hub's HTTP connections under uvicorn, bounded: deadlines for headers and bodies, caps on connections.

uvicorn (0.54, httptools) arms no timer until a response is done: a client that sends half a request line, or a
body one byte at a time, holds its connection, its descriptor and its buffers for ever, and nothing caps how
many it opens or how long a request's headers may grow. `guarded_protocol` is uvicorn's own protocol with:

- a deadline for a request's headers (from its first byte, or from the connection) and a cap on their size;
- a deadline for its body, and a minimum rate measured over each window of a few seconds (so a body that
  sends most of itself at once and then trickles is closed as soon as one that trickles from the start);
- a deadline for a response the client does not read;
- a cap on connections from one address (a trusted proxy excepted), and on all of them: past it, the connection
  waiting longest for its headers (or idle between requests) is closed to make room, else the new one is turned
  away with a 503 at once, so descriptors never run out and a board's request in flight is never dropped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    from signage.district.hub.config import HubConfig

log = logging.getLogger("signage.hub")

_BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nretry-after: 10\r\nconnection: close\r\n\r\n"
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
FD_RESERVE = 128  # descriptors kept for the database, log and files, beyond the connections


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int = 1000
    max_per_address: int = 64  # boards behind one NAT send a request now and then; an attacker opens hundreds
    header_timeout_s: float = 10.0  # a board's headers arrive in one packet
    max_header_bytes: int = 64 * 1024
    body_timeout_s: float = 60.0  # a report (at most 1 MiB) or a screenshot (~200 KB) at a slow rural uplink
    body_window_s: float = 10.0  # the body's rate is measured over each such window (a stall is a window without bytes)
    body_min_bytes_per_s: float = 1024.0  # in every window: a 300 KB screenshot at a 3G uplink's worst is ~10 KB/s
    write_timeout_s: float = 60.0  # a response the client does not read
    exempt: tuple[str, ...] = ()  # trusted proxies (addresses or networks): every board comes through them
    tick_s: float = 1.0


class _Phase:
    HEAD, BODY, APP, IDLE = "head", "body", "app", "idle"


def guarded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with `limits`; pass it as uvicorn's `http=`. Counts are per server."""
    per_address: Counter[str] = Counter()
    proxies = [ipaddress.ip_network(item, strict=False) for item in limits.exempt]

    def capped(address: str) -> bool:
        if not proxies:
            return True
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return True
        return not any(parsed in network for network in proxies)

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            now = self.loop.time()
            self._phase = _Phase.HEAD
            self._since = now  # when the phase began
            self._head_bytes = 0
            self._body_bytes = 0
            self._mark = (now, 0)  # (when, body bytes then): where the current window began
            self._write_paused_at: float | None = None
            self._address = self.client[0] if self.client else "?"
            per_address[self._address] += 1
            self._counted = True
            self._timer: asyncio.TimerHandle | None = self.loop.call_later(limits.tick_s, self._check)
            if per_address[self._address] > limits.max_per_address and capped(self._address):
                log.warning("connection from %s refused: %d open from that address", self._address, per_address[self._address] - 1)
                self._refuse(_BUSY)
            elif len(self.connections) > limits.max_connections and not self._make_room(now):
                log.warning("connection from %s refused: %d connections open", self._address, len(self.connections) - 1)
                self._refuse(_BUSY)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._counted:
                self._counted = False
                per_address[self._address] -= 1
                if per_address[self._address] <= 0:
                    del per_address[self._address]
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            now = self.loop.time()
            if self._phase == _Phase.IDLE:  # the next request on a kept-alive connection: its headers' clock starts
                self._phase, self._since, self._head_bytes = _Phase.HEAD, now, 0
            if self._phase == _Phase.HEAD:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._phase == _Phase.HEAD and self._head_bytes > limits.max_header_bytes and not self.transport.is_closing():
                self._refuse(_TOO_LARGE)  # a request line or headers without end: uvicorn would keep adding to them

        def on_headers_complete(self) -> None:
            self._phase, self._since, self._body_bytes = _Phase.BODY, self.loop.time(), 0
            self._mark = (self._since, 0)
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            self._body_bytes += len(body)
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._phase = _Phase.APP
            super().on_message_complete()

        def on_response_complete(self) -> None:
            self._phase, self._since = _Phase.IDLE, self.loop.time()
            super().on_response_complete()

        def pause_writing(self) -> None:
            self._write_paused_at = self.loop.time()
            super().pause_writing()

        def resume_writing(self) -> None:
            self._write_paused_at = None
            super().resume_writing()

        def _check(self) -> None:
            self._timer = None
            if self.transport is None or self.transport.is_closing():
                return
            now = self.loop.time()
            if self._phase == _Phase.HEAD and now - self._since > limits.header_timeout_s:
                self._refuse(_TIMEOUT)
                return
            if self._phase == _Phase.BODY and not self.flow.read_paused:  # paused: the app is not reading, not the client
                elapsed = now - self._since
                window = now - self._mark[0]
                too_slow = window >= limits.body_window_s and self._body_bytes - self._mark[1] < limits.body_min_bytes_per_s * window
                if elapsed > limits.body_timeout_s or too_slow:
                    log.info("request body from %s too slow (%d bytes in %.0f s): closed", self._address, self._body_bytes, elapsed)
                    self._refuse(_TIMEOUT)
                    return
                if window >= limits.body_window_s:
                    self._mark = (now, self._body_bytes)
            elif self._phase == _Phase.BODY:  # the app is not reading: not the client's time
                self._mark = (now, self._body_bytes)
            if self._write_paused_at is not None and now - self._write_paused_at > limits.write_timeout_s:
                self._refuse(b"")  # the client does not read its answer
                return
            self._timer = self.loop.call_later(limits.tick_s, self._check)

        def _make_room(self, now: float) -> bool:
            """Close the connection that has waited longest for its headers, or idled longest: True if one was."""
            oldest: Any = None
            for other in self.connections:
                if other is self or not isinstance(other, GuardedHttpToolsProtocol) or other.transport.is_closing():
                    continue
                if other._phase in (_Phase.HEAD, _Phase.IDLE) and (oldest is None or other._since < oldest._since):
                    oldest = other
            if oldest is None:
                return False
            oldest._refuse(_BUSY if oldest._phase == _Phase.HEAD else b"")
            return True

        def _refuse(self, answer: bytes) -> None:
            """Answer (when no response has started) and close; the app, if reading, sees a disconnect."""
            cycle = self.cycle
            started = cycle is not None and not cycle.response_complete and cycle.response_started
            if answer and not started:
                self.transport.write(answer)
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.close()

    return GuardedHttpToolsProtocol


def limits_of(config: HubConfig, fd_limit: int | None = None) -> ConnectionLimits:
    """The config's limits; with `fd_limit` (the process's descriptors), connections fit within it."""
    most = config.max_connections
    if fd_limit is not None and most > fd_limit - FD_RESERVE:
        log.warning("max_connections %d lowered to %d: the process may open %d descriptors", most, fd_limit - FD_RESERVE, fd_limit)
        most = max(10, fd_limit - FD_RESERVE)
    return ConnectionLimits(
        max_connections=most,
        max_per_address=config.max_connections_per_address,
        header_timeout_s=config.header_timeout_seconds,
        body_window_s=config.header_timeout_seconds,
        body_timeout_s=config.body_timeout_seconds,
        exempt=tuple(config.trusted_proxies),
    )


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft limit on open descriptors towards `wanted` (within the hard limit); the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else wanted


def server_settings(limits: ConnectionLimits) -> dict[str, Any]:
    """uvicorn settings for the hub: the guarded protocol; a kept-alive connection idle for 5 s is closed."""
    return {"http": guarded_protocol(limits), "timeout_keep_alive": 5, "limit_concurrency": None}
