"""The boards' endpoints as plain ASGI, in front of the officers' web app: POST /report, /report/screenshot and /join.

Ten thousand boards send 33 reports a second; each would cost as much in the web framework's layers
(middleware, routing, request and response objects) as in checking and storing it. These two paths
need none of that: read the body within its limit and the hub's memory budget, decide, store, answer in JSON.
A small report is handled on the event loop (a thread hand-over costs more than the work); a large one, and
every screenshot (Pillow), in the thread pool, so a megabyte of JSON never holds up the other boards.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from time import monotonic
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from signage import envelope
from signage.district.hub.ingest import (
    PinnedBoards,
    Refusal,
    Report,
    parse_report,
    parse_screenshot,
    thumbnail,
    verify_envelope,
)
from signage.district.hub.join import MAX_JOIN_BYTES, JoinBook, Joins, LivePins
from signage.district.hub.limits import Rates, RowPlan, plan_rows
from signage.district.hub.store import Ingested
from signage.errors import StoreError

if TYPE_CHECKING:
    from signage.district.hub.config import HubConfig
    from signage.district.hub.store import HubStore

log = logging.getLogger("signage.hub")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Answer:
    """A handler's answer with a status other than 200 (a join request waiting: 202)."""

    status: int
    body: dict[str, Any]


Handler = Callable[[bytes], dict[str, Any] | Answer | Refusal]
AddressedHandler = Callable[[bytes, str], dict[str, Any] | Answer | Refusal]  # also given the sender's address
# (remote, path, status, reason, board that signed it or None): logged and shown to officers
Refused = Callable[[str, str, int, str, str | None], None]

FREE_BODY_BYTES = 64 * 1024  # what any request may hold without asking the budget: a report is a few KiB
# Measured (bench/hub.py): a heartbeat's report (3 KiB, 15 plays) costs 0.9 ms on the event loop and half as much
# again through a thread; one of 16 KiB about 2.5 ms. Larger ones go to the thread pool, so no board waits on them.
ON_LOOP_BELOW = 16 * 1024
BUSY_RETRY_S = 30
SCREENSHOT_DECODES = 2  # at most this many screenshots decoded at once (~15 MB each at 1920x1920)
SCREENSHOT_BURST = 20
SCREENSHOTS_PER_HOUR = 60
JOIN_HANDLERS = 4
PRUNE_EVERY_S = 3600.0
# Anonymous refusals (400, 401, 413: nothing a pinned key signed) an address may cost: 60 at once, then 10 a
# minute; past them its requests are turned away before their body is read. A board never earns one unless it is
# misconfigured, once a heartbeat; fifty such boards behind one address would still pass.
JUNK_BURST = 60
JUNK_PER_HOUR = 600
JUNK_ADDRESSES = 10_000


@dataclass(frozen=True, slots=True)
class Endpoint:
    limit: int  # body bytes
    handle: Handler | AddressedHandler
    on_loop_below: int = 0  # bodies smaller than this are handled on the event loop, the rest in the thread pool
    concurrency: int | None = None  # at most this many handled at once (the rest wait, holding only their body)
    addressed: bool = False  # `handle` takes the sender's address after the body


class BodyBudget:
    """Bytes of request bodies held at once across every request (the event loop's alone: no lock).

    Each request holds up to `free` bytes without asking; past that it takes from the budget, and when the
    budget is spent it is answered 503 with Retry-After, so a hundred stalled uploads cannot hold the memory.
    """

    def __init__(self, total: int, free: int = FREE_BODY_BYTES) -> None:
        self.total = total
        self.free = free
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.total:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size


class BoardEndpoints:
    """An ASGI app: the boards' POSTs handled here, everything else passed to `app` (whose `state` it shows)."""

    def __init__(self, app: Any, endpoints: Mapping[str, Endpoint], refused: Refused, budget: BodyBudget | None = None) -> None:
        self.app = app
        self.state = app.state
        self.endpoints = dict(endpoints)
        self.refused = refused
        self.budget = budget or BodyBudget(64 * 1024 * 1024)
        self.junk = Rates(JUNK_BURST, JUNK_PER_HOUR, keys=JUNK_ADDRESSES)  # the event loop's alone
        self._slots: dict[str, asyncio.Semaphore] = {}

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
        wait = self.junk.wait_s(remote, monotonic())
        if wait:  # this address sent junk again and again: not one more megabyte of it is read
            refusal = Refusal(429, "too many refused requests from this address; send again later", retry_after_s=math.ceil(wait))
            await self._refuse(send, remote, path, refusal, close=True)
            return
        held = [0]  # bytes this request took from the budget
        try:
            raw = await self._read_body(scope, receive, endpoint.limit, held)
            if isinstance(raw, Refusal):
                await self._refuse(send, remote, path, raw, close=True)
                return
            if raw is None:  # the board went away mid-body (or was closed for sending too slowly)
                return
            try:
                outcome = await self._handle(path, endpoint, raw, remote)
            except StoreError as exc:  # the database cannot hold what it says: sending it again would not help
                outcome = Refusal(422, str(exc))  # (the intake names the board; a handler of its own may not)
            except Exception:
                log.exception("storing %s failed", path)
                busy = {"ok": False, "error": "the hub could not store it; send again later"}
                await _answer(send, 503, busy, [(b"retry-after", str(BUSY_RETRY_S).encode())])
                return
            if isinstance(outcome, Refusal):
                await self._refuse(send, remote, path, outcome)
                return
            if isinstance(outcome, Answer):
                await _answer(send, outcome.status, outcome.body)
            else:
                await _answer(send, 200, outcome)
        finally:
            self.budget.give(held[0])

    async def _handle(self, path: str, endpoint: Endpoint, raw: bytes, remote: str) -> dict[str, Any] | Answer | Refusal:
        handle = functools.partial(endpoint.handle, raw, remote) if endpoint.addressed else functools.partial(endpoint.handle, raw)
        if endpoint.concurrency is None:
            return handle() if len(raw) < endpoint.on_loop_below else await run_in_threadpool(handle)
        slots = self._slots.get(path)
        if slots is None:
            slots = self._slots[path] = asyncio.Semaphore(endpoint.concurrency)
        async with slots:
            return handle() if len(raw) < endpoint.on_loop_below else await run_in_threadpool(handle)

    async def _refuse(self, send: Send, remote: str, path: str, refusal: Refusal, close: bool = False) -> None:
        self.refused(remote, path, refusal.status, refusal.reason, refusal.board)
        if refusal.board is None and refusal.status in (400, 401, 413):
            self.junk.take(remote, monotonic())
        headers = [(b"connection", b"close")] if close else []
        if refusal.retry_after_s is not None:
            headers.append((b"retry-after", str(refusal.retry_after_s).encode()))
        answer: dict[str, Any] = {"ok": False, "error": refusal.reason}
        if refusal.collision:  # the board renumbers the report into a new epoch and sends it again
            answer["collision"] = True
        await _answer(send, refusal.status, answer, headers)

    async def _read_body(self, scope: Scope, receive: Receive, limit: int, held: list[int]) -> bytes | Refusal | None:
        """The body, a 413 as soon as it passes `limit` (whatever Content-Length said), a 503 when the hub's
        budget for bodies in memory is spent, or None on a disconnect. `held[0]`: what it took from the budget."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value.decode("latin-1")
                if not (declared.isascii() and declared.isdigit()) or int(declared) > limit:
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
            wanted = max(0, size - self.budget.free) - held[0]
            if wanted > 0:
                if not self.budget.take(wanted):
                    return Refusal(503, "the hub is receiving too much at once; send again later", retry_after_s=BUSY_RETRY_S)
                held[0] += wanted
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class BoardIntake:
    """The boards' handlers: verify, rate-limit by the board that signed, parse, apply the daily quota, store; and
    boards asking to join (join.py), whose keys, once accepted in the browser, `pins` adds to `pinned`."""

    def __init__(self, config: HubConfig, store: HubStore, pinned: PinnedBoards, now: Callable[[], datetime]) -> None:
        self.config = config
        self.store = store
        self.pinned = pinned
        self.now = now
        self._lock = threading.Lock()  # the rates: reports are handled on the loop and in threads
        self.report_rates = Rates(config.board_report_burst, config.board_reports_per_hour)
        self.screenshot_rates = Rates(SCREENSHOT_BURST, SCREENSHOTS_PER_HOUR)
        self._pruned_at: float | None = None
        self._prune_wanted: datetime | None = None
        self._pruning = False  # a retention thread is running
        book = JoinBook(store.engine)
        self.pins = LivePins(pinned, book, [(board.id, board.public_key) for board in config.boards])
        self.pins.refresh(monotonic())
        self.joins = Joins(book, now)

    def endpoints(self) -> dict[str, Endpoint]:
        return {
            "/report": Endpoint(self.config.max_report_bytes, self.report, on_loop_below=ON_LOOP_BELOW),
            # Pillow decodes: off the loop, and a few at a time (each decoded image is megabytes).
            "/report/screenshot": Endpoint(self.config.max_screenshot_bytes, self.screenshot, concurrency=SCREENSHOT_DECODES),
            # Rare (a board asks once, at install): in the thread pool, a few at a time.
            "/join": Endpoint(MAX_JOIN_BYTES, self.join, concurrency=JOIN_HANDLERS, addressed=True),
        }

    def join(self, raw: bytes, remote: str) -> Answer | Refusal:
        outcome = self.joins.take(raw, remote)
        return outcome if isinstance(outcome, Refusal) else Answer(outcome.status, outcome.answer())

    def report(self, raw: bytes) -> dict[str, Any] | Refusal:
        moment = self.now()
        self.pins.refresh(monotonic())  # a board accepted in the browser a second ago is pinned now
        checked = verify_envelope(raw, self.pinned, envelope.REPORT_TYPE)
        if isinstance(checked, Refusal):
            return checked
        signer, payload = checked
        wait = self._take(self.report_rates, signer, moment)
        if wait:
            per_hour = self.config.board_reports_per_hour
            return Refusal(429, f"board {signer!r}: more than {per_hour:g} reports an hour; send again later", signer, wait)
        report = parse_report(signer, payload, moment)
        if isinstance(report, Refusal):
            return report
        plan = self._plan(report, moment)
        if isinstance(plan, Refusal):
            return plan
        try:
            outcome = self.store.ingest_report(report, moment, keep_plays=plan.keep_plays, seen_slack_s=self.config.heartbeat_seconds)
        except StoreError as exc:  # the database cannot hold what it says: sending it again would not help
            return Refusal(422, str(exc), report.board)
        if outcome is Ingested.COLLISION:
            held = f"epoch {report.epoch}" if report.epoch else "no epoch"
            reason = (
                f"report seq {report.seq} ({held}): the hub holds another report under it, not stored "
                "(the board's numbering went back: its database lost or restored); renumber it in a new epoch"
            )
            return Refusal(409, reason, report.board, collision=True)
        self._prune_if_due(moment)
        return _taken(report.seq, outcome)

    def screenshot(self, raw: bytes) -> dict[str, Any] | Refusal:
        moment = self.now()
        self.pins.refresh(monotonic())
        checked = verify_envelope(raw, self.pinned, envelope.PNG_TYPE)
        if isinstance(checked, Refusal):
            return checked
        signer, png = checked
        wait = self._take(self.screenshot_rates, signer, moment)
        if wait:
            return Refusal(429, f"board {signer!r}: more than {SCREENSHOTS_PER_HOUR} screenshots an hour; send again later", signer, wait)
        shot = parse_screenshot(signer, png, moment)
        if isinstance(shot, Refusal):
            return shot
        kept, slack = self.config.screenshots_kept, self.config.heartbeat_seconds
        try:
            outcome = self.store.ingest_screenshot(shot, thumbnail(shot.png), moment, kept, seen_slack_s=slack)
        except StoreError as exc:
            return Refusal(422, str(exc), shot.board)
        return _taken(shot.seq, outcome)

    def _take(self, rates: Rates, board: str, moment: datetime) -> int:
        with self._lock:
            wait = rates.take(board, moment.timestamp())
        return math.ceil(wait) if wait else 0

    def _plan(self, report: Report, moment: datetime) -> RowPlan | Refusal:
        day = self.store.local_day(moment)
        local = moment.astimezone(self.config.timezone)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), self.config.timezone)
        used = self.store.rows_added(report.board, day)
        return plan_rows(report, used, self.config.board_rows_per_day, self.store.local_day, (midnight - local).total_seconds())

    def _prune_if_due(self, moment: datetime) -> None:
        """Retention runs in its own thread, at most hourly, on the hub's own traffic (no traffic, no growth).

        If a run is under way when the next is due, that thread runs once more for the newer time when done.
        """
        stamp = moment.timestamp()
        with self._lock:
            if self._pruned_at is not None and stamp - self._pruned_at < PRUNE_EVERY_S:
                return
            self._pruned_at = stamp
            self._prune_wanted = moment
            if self._pruning:
                return
            self._pruning = True

        def prune() -> None:
            while True:
                with self._lock:
                    wanted, self._prune_wanted = self._prune_wanted, None
                    if wanted is None:
                        self._pruning = False
                        return
                try:
                    deleted = self.store.prune(wanted, self.config.keep_plays_days)
                    if any(deleted.values()):
                        log.info("retention (%d days): deleted %s", self.config.keep_plays_days, deleted)
                except Exception:
                    log.exception("retention: pruning old records failed")

        threading.Thread(target=prune, name="hub-retention", daemon=True).start()


def _taken(seq: int, outcome: Ingested) -> dict[str, Any]:
    """The 200 answer: stored, or held already (`same`: these very bytes, so the board may count it delivered)."""
    answer: dict[str, Any] = {"ok": True, "seq": seq, "duplicate": outcome is not Ingested.STORED}
    if outcome is Ingested.SAME:
        answer["same"] = True
    return answer


async def _answer(send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("ascii")), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
