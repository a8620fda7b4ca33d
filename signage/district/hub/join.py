"""Boards that join themselves: a board's request to be taken (POST /join), and the boards' keys kept in step with
the boards table, so a board accepted in the browser reports without a restart of any hub process.

A join request is a DSSE envelope signed by the key it carries (proof that the sender holds it, nothing more: anyone
can ask). It only ever becomes a row of `board_requests`, which an administrator accepts or not; until then the key
is pinned for nothing. `decide_join` and `place_of` are pure; `JoinBook` is the database edge; `Joins` the handler.
"""

from __future__ import annotations

import logging
import math
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from signage import envelope
from signage.district.hub import schema as t
from signage.district.hub.ingest import PinnedBoards, Refusal, parse_timestamp, verify_envelope
from signage.district.hub.limits import Rates
from signage.district.hub.throttle import address_key
from signage.errors import SignageError
from signage.kiosk.join import JOIN_FORMAT
from signage.model import BOARD_ID
from signage.text import printable

log = logging.getLogger("signage.hub")

MAX_JOIN_BYTES = 8 * 1024  # a request is ~600 bytes: a key, a name and a host name
MAX_NAME = 100
MAX_HOSTNAME = 253  # a DNS name's limit
SENT_WITHIN = timedelta(days=1)  # a request signed further from the hub's clock is a replay or a clock never set
MAX_WAITING = 1_000  # requests waiting for an administrator, in all
NEW_PER_ADDRESS = 5  # new requests from one address (an IPv6 /64) an hour; a board asking again is not new
NEW_WINDOW_S = 3600.0
WAITING_DAYS = 30  # a request not heard from for this long is forgotten
FULL_RETRY_S = 3600
# Every POST /join from one address, new or not, in memory: a board asks once at install and when retried by hand.
JOIN_BURST = 20
JOIN_PER_HOUR = 60
JOIN_ADDRESSES = 10_000
GENERATION = "boards_generation"  # settings key: the Desk changes it in the transaction that accepts or removes a board
REFRESH_EVERY_S = 1.0
# A category Unicode calls unprintable: controls, format characters (bidi overrides, zero-width), surrogates,
# private use, unassigned, and the line and paragraph separators. Spaces are printable.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class _Malformed(SignageError):
    """A join request's field is wrong: a 400."""


@dataclass(frozen=True, slots=True)
class JoinRequest:
    board: str  # the id it asks for (signage.model.BOARD_ID)
    name: str  # as sent: printable, at most MAX_NAME characters
    hostname: str
    public_key: bytes  # the raw 32 bytes it carries and signed with
    keyid: str
    sent_at: datetime


class Place(Enum):
    """Where a join request stands: what the hub answers and does."""

    ACCEPTED = "accepted"  # its key is an accepted board's: 200
    WAITING = "waiting"  # asked before and still waiting: refreshed, 202
    NEW = "new"  # a new waiting request: stored, 202
    TAKEN = "taken"  # the id is another key's board: 409
    OTHER_ID = "other-id"  # the key is a board under another id: 409
    HELD = "held"  # NEW_PER_ADDRESS new requests from this address this hour: 429
    FULL = "full"  # MAX_WAITING requests wait already: 503


@dataclass(frozen=True, slots=True)
class Joined:
    place: Place
    board: str  # the id it asked for, or (OTHER_ID) the id its key is accepted under
    keyid: str

    @property
    def status(self) -> int:
        return 200 if self.place is Place.ACCEPTED else 202

    def answer(self) -> dict[str, Any]:
        state = "accepted" if self.place is Place.ACCEPTED else "waiting"
        return {"ok": True, "status": state, "board": self.board, "keyid": self.keyid}


def is_printable(text: str) -> bool:
    return all(unicodedata.category(ch) not in _UNPRINTABLE for ch in text)


def decide_join(raw: bytes, now: datetime) -> JoinRequest | Refusal:
    """A join envelope's bytes → the checked request, or why it is refused (every refusal anonymous: no pinned
    board signed it). `now` is the hub's clock. The payload is read before the signature is checked, since the key
    that must have signed it is in it; the endpoint's body limit (MAX_JOIN_BYTES) bounds that reading."""
    if not raw[:64].lstrip().startswith(b"{"):
        return Refusal(400, "join: not a JSON object")
    try:
        body = _payload_of(raw)
        public_key = _public_key(body)
        claimed = _field(body, "board")
    except _Malformed as exc:
        return Refusal(400, f"join: {exc}")
    # The key it carries is its only candidate: signed by any other key, it proves nothing.
    checked = verify_envelope(raw, PinnedBoards([(claimed, public_key)]), envelope.JOIN_TYPE)
    if isinstance(checked, Refusal):
        if checked.status == 401:
            return Refusal(401, "join: not signed by the key it carries")
        return Refusal(checked.status, checked.reason.replace("envelope:", "join envelope:", 1))
    try:
        request = _request(body, public_key, now)
    except _Malformed as exc:
        return Refusal(400, f"join: {exc}")
    return request


def _payload_of(raw: bytes) -> dict[str, Any]:
    outer = envelope.loads_strict(raw, "envelope", _Malformed)
    if not isinstance(outer, dict) or not isinstance(outer.get("payload"), str):
        raise _Malformed("envelope: needs a payload")
    try:
        payload = envelope.b64decode_strict(outer["payload"])
    except ValueError as exc:
        raise _Malformed(f"envelope: payload: {exc}") from None
    body = envelope.loads_strict(payload, "payload", _Malformed)
    if not isinstance(body, dict):
        raise _Malformed("payload: not a JSON object")
    if body.get("format") != JOIN_FORMAT:
        raise _Malformed(f"format: expected {JOIN_FORMAT!r}")
    return body


def _field(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise _Malformed(f"{key}: expected a string")
    return value


def _public_key(body: dict[str, Any]) -> bytes:
    try:
        return envelope.parse_public_key(_field(body, "public_key")[:200])
    except ValueError as exc:
        raise _Malformed(f"public_key: {exc}") from None


def _request(body: dict[str, Any], public_key: bytes, now: datetime) -> JoinRequest:
    board = _field(body, "board")
    if not BOARD_ID.fullmatch(board):
        raise _Malformed(f"board: {printable(board[:70])!r} is not a board id ([a-z0-9][a-z0-9-]{{0,63}})")
    name = _field(body, "name")
    if not name.strip() or len(name) > MAX_NAME or not is_printable(name):
        raise _Malformed(f"name: expected 1 to {MAX_NAME} printable characters on one line")
    hostname = body.get("hostname", "")
    if not isinstance(hostname, str) or len(hostname) > MAX_HOSTNAME or not is_printable(hostname):
        raise _Malformed(f"hostname: expected at most {MAX_HOSTNAME} printable characters")
    try:
        sent_at = parse_timestamp(_field(body, "sent_at"))
    except ValueError:
        raise _Malformed("sent_at: expected an ISO 8601 time with an offset") from None
    try:
        off = abs(sent_at - now)
    except OverflowError:
        off = timedelta.max
    if off > SENT_WITHIN:
        raise _Malformed(f"sent_at: {sent_at.isoformat()} is more than a day from the hub's clock ({now.isoformat()})")
    return JoinRequest(board, name, hostname, public_key, envelope.key_id(public_key), sent_at)


def place_of(
    request: JoinRequest,
    *,
    key_board: str | None,
    id_keyid: str | None,
    waiting: bool,
    waiting_total: int,
    new_from_address: int,
) -> Place:
    """Where a checked request stands, from what the database holds: the board its key is (`key_board`), the keyid
    of the board holding its id (`id_keyid`), whether it waits already, how many wait, how many of them this address
    asked for in the last NEW_WINDOW_S."""
    if key_board is not None:
        return Place.ACCEPTED if key_board == request.board else Place.OTHER_ID
    if id_keyid is not None and id_keyid != request.keyid:
        return Place.TAKEN
    if waiting:
        return Place.WAITING
    if new_from_address >= NEW_PER_ADDRESS:
        return Place.HELD
    if waiting_total >= MAX_WAITING:
        return Place.FULL
    return Place.NEW


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class JoinBook:
    """The join requests and the accepted boards' keys in the hub's database (SQLAlchemy Core; SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()  # one request placed at a time in this process: the address count holds

    def place(self, request: JoinRequest, address: str, now: float) -> tuple[Place, str | None]:
        """Decide and store, in one transaction: forget requests silent for WAITING_DAYS, then upsert by keyid.
        Also the id of the board its key already is, if any."""
        c, r = t.boards.c, t.board_requests.c
        with self._lock, self.engine.begin() as conn:
            conn.execute(sa.delete(t.board_requests).where(r.last_seen < now - WAITING_DAYS * 86400))
            key_board = conn.execute(sa.select(c.id).where(c.keyid == request.keyid, c.public_key == _key_text(request))).scalar()
            id_keyid = conn.execute(sa.select(c.keyid).where(c.id == request.board)).scalar()
            waiting = conn.execute(sa.select(r.keyid).where(r.keyid == request.keyid)).first() is not None
            recent = conn.execute(sa.select(r.address).where(r.requested_at > now - NEW_WINDOW_S)).scalars().all()
            mine = address_key(address)
            place = place_of(
                request,
                key_board=key_board,
                id_keyid=id_keyid,
                waiting=waiting,
                waiting_total=conn.execute(sa.select(sa.func.count()).select_from(t.board_requests)).scalar_one(),
                new_from_address=sum(address_key(other) == mine for other in recent),
            )
            if place in (Place.NEW, Place.WAITING):
                self._upsert(conn, request, address, now)
        return place, key_board

    def _upsert(self, conn: Connection, request: JoinRequest, address: str, now: float) -> None:
        r = t.board_requests.c
        values = {"board_id": request.board, "name": request.name, "public_key": _key_text(request), "address": address[:100]}
        ins = _insert(conn)(t.board_requests).values(keyid=request.keyid, requested_at=now, last_seen=now, times=1, **values)
        # A board asking again refreshes its row (its latest id and name, where it asks from), never adds one.
        again = ins.on_conflict_do_update(index_elements=["keyid"], set_={**values, "last_seen": now, "times": r.times + 1})
        conn.execute(again)

    def generation(self) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.settings.c.value).where(t.settings.c.key == GENERATION)).scalar()

    def accepted_boards(self) -> list[tuple[str, bytes]]:
        """The boards accepted in the browser (not named by hub.toml): id and raw key."""
        c = t.boards.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.id, c.public_key).where(c.from_config.is_(False))).all()
        boards = []
        for board_id, text in rows:
            try:
                boards.append((board_id, envelope.parse_public_key(text)))
            except ValueError:
                log.error("board %s: its stored public key is not one (%s); not pinned", board_id, printable(text[:40]))
        return boards


def _key_text(request: JoinRequest) -> str:
    return envelope.public_key_text(request.public_key)


class LivePins:
    """Keeps `pinned` in step with the boards table: hub.toml's boards, plus those accepted in the browser.

    A report asks `refresh` first; at most once every REFRESH_EVERY_S it reads the boards' generation (one row), and
    only when that changed does it read the boards again, so an accept is honoured within a second by every hub
    process on the database. A board removed from hub.toml is not pinned, though its row stays for its history.
    """

    def __init__(
        self, pinned: PinnedBoards, book: JoinBook, configured: Sequence[tuple[str, bytes]], every_s: float = REFRESH_EVERY_S
    ) -> None:
        self.pinned = pinned
        self.book = book
        self.configured = list(configured)
        self.every_s = every_s
        self._checked: float | None = None
        self._generation: object = object()  # nothing read yet: the first refresh reads the boards
        self._lock = threading.Lock()

    def refresh(self, now_s: float) -> bool:
        """Re-read the boards if they changed; True when it did. `now_s` is a monotonic clock's seconds."""
        if self._checked is not None and now_s - self._checked < self.every_s:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # another thread is reading them now
        try:
            self._checked = now_s
            generation = self.book.generation()
            if generation == self._generation:
                return False
            configured_ids = {board_id for board_id, _ in self.configured}
            accepted = [(board_id, key) for board_id, key in self.book.accepted_boards() if board_id not in configured_ids]
            self.pinned.replace(self.configured + accepted)
            self._generation = generation
            log.info("boards' keys read again: %d from hub.toml, %d accepted in the browser", len(self.configured), len(accepted))
            return True
        except sa.exc.SQLAlchemyError as exc:  # the database away: keep the keys held, try again next second
            log.warning("boards' keys not read again: %s", str(exc).splitlines()[0][:200])
            return False
        finally:
            self._lock.release()


class Joins:
    """POST /join: decide, rate-limit by address, place the request; answers a `Joined` or a refusal."""

    def __init__(self, book: JoinBook, now: Callable[[], datetime]) -> None:
        self.book = book
        self.now = now
        self._rates = Rates(JOIN_BURST, JOIN_PER_HOUR, keys=JOIN_ADDRESSES)
        self._lock = threading.Lock()

    def take(self, raw: bytes, address: str) -> Joined | Refusal:
        moment = self.now()
        with self._lock:
            wait = self._rates.take(address_key(address), moment.timestamp())
        if wait:
            return Refusal(429, "join: too many requests from this address; send again later", retry_after_s=math.ceil(wait))
        request = decide_join(raw, moment)
        if isinstance(request, Refusal):
            return request
        place, key_board = self.book.place(request, address, moment.timestamp())
        shown = f"{request.board} ({request.keyid}, {printable(request.name)!r}, host {printable(request.hostname)!r}) from {address}"
        if place is Place.TAKEN:
            return Refusal(409, f"join: board id {request.board!r} belongs to another key; ask under another id")
        if place is Place.OTHER_ID:
            return Refusal(409, f"join: this key is board {key_board!r}'s; ask as {key_board!r}, not {request.board!r}")
        if place is Place.HELD:
            reason = f"join: {NEW_PER_ADDRESS} new requests from this address within the hour; send again later"
            return Refusal(429, reason, retry_after_s=int(NEW_WINDOW_S))
        if place is Place.FULL:
            return Refusal(503, f"join: {MAX_WAITING} requests wait already; ask the hub's administrator", retry_after_s=FULL_RETRY_S)
        if place is Place.NEW:
            log.info("board %s asks to join", shown)
        return Joined(place, request.board, request.keyid)
