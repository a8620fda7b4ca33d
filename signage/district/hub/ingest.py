"""Accept or refuse a board's report or screenshot: a pure decision over (pinned boards, raw bytes, limits, now).

The order is feed-v1's, with the cheap checks first: the envelope's first byte and a pinned keyid (so junk
is refused before any JSON is parsed), its shape, a signature over PAE by the key the keyid picks (the keyid
only picks; the signature decides), the payloadType, then the payload parsed once with every number, time
and text bounded. Every refusal is a value carrying the HTTP status and a one-line reason naming the field,
never an exception to the caller.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image

from signage import envelope

REPORT_FORMAT = "signage-report/1"
MAX_SEQ = 2**53 - 1  # every count and sequence fits a double exactly, and no sum of them overflows 64 bits
MAX_DIGITS = 16  # an integer longer than this is not one a board writes (2**53 has 16 digits)
MAX_TEXT = 500  # one line of text: an error, a detail
MAX_VERSION = 100  # the board_state.version column
DAY_S = 86_400
MAX_DAY_PLAYS = DAY_S  # what one day can hold: 86,400 plays of one second
MAX_SHOWN_S = 2 * DAY_S  # a play, or a day's total of one bulletin: a day, plus a last play running past midnight
MAX_PLAYS = 5_000  # a report holds one heartbeat's plays: 5,000 is a 1-s slide for 83 minutes
MAX_TOTALS = 5_000
MAX_COMMANDS = 100
MAX_HEARTBEAT_DAYS = 1_000
EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)  # before any board of this project ran: a clock never set
AHEAD = timedelta(days=1)  # a board's clock may run ahead of the hub's by this much
LATEST_WITHOUT_NOW = datetime(2100, 1, 1, tzinfo=UTC)
MAX_PIXELS = 1920 * 1920
MAX_SCREENSHOT_SIDE = 1920  # a board downscales to report.screenshot_width (960 by default)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A signed envelope is one object with a list of at most MAX_SIGNATURES small objects: counted in the raw
# bytes (base64, hex and a media type contain none of these), more means junk, refused before parsing.
MAX_ENVELOPE_OBJECTS = 1 + envelope.MAX_SIGNATURES
MAX_ENVELOPE_SEPARATORS = 4 * MAX_ENVELOPE_OBJECTS
_KEYID = re.compile(rb'"keyid"\s*:\s*"([^"\\]{1,64})"')
_EPOCH = re.compile("[0-9a-f]{16}")  # what a board's queue makes (secrets.token_hex(8)); "" or absent: a board from before
# Ids: printable, one line, no invisible format characters (bidi overrides, zero-width) or lone surrogates.
_UNSEEN = "\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff"
_ID_TEXT = re.compile(f"[^{_UNSEEN}]{{1,200}}")
_LINE_BREAKS = re.compile("[\t\n\r\x0b\x0c\u2028\u2029]")
_INVISIBLE = re.compile(f"[{_UNSEEN}]")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 400 malformed, 401 not signed by a pinned key, 403 signed by one board naming another, 429 too often
    reason: str
    board: str | None = None  # the board whose key signed it: None for anonymous junk
    retry_after_s: int | None = None  # with a 429 or 503: when to send again
    collision: bool = False  # a 409: the hub holds other bytes under the report's (board, epoch, seq)


@dataclass(frozen=True, slots=True)
class Play:
    bulletin: str
    revision: int
    started_at: datetime  # aware
    shown_s: float
    completed: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class PlayTotal:
    bulletin: str
    revision: int
    day: str  # YYYY-MM-DD, the board's local day
    count: int
    completed: int
    shown_s: float


@dataclass(frozen=True, slots=True)
class CommandDone:
    id: str
    ok: bool
    at: datetime | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Status:
    raw: Mapping[str, Any]  # everything the board said, kept as JSON for the detail page
    feed_sequence: int | None
    feed_stale: bool | None
    now_playing: str | None
    last_error: str | None
    disk_free_bytes: int | None
    display_on: bool | None
    clock_behind_trusted: bool | None
    heartbeat_s: float | None
    version: str | None


@dataclass(frozen=True, slots=True)
class Report:
    board: str
    seq: int
    sent_at: datetime
    status: Status
    plays: tuple[Play, ...]
    play_totals: tuple[PlayTotal, ...]
    commands_done: tuple[CommandDone, ...]
    covers_seq: tuple[int, int] | None
    body: bytes  # the verified payload, as it came
    heartbeat_days: tuple[tuple[str, int], ...] = ()  # a merged report: the heartbeats it stands for, by day
    epoch: str = ""  # the board's report queue its seq counts in; "" for a board from before epochs


@dataclass(frozen=True, slots=True)
class Screenshot:
    board: str
    seq: int
    taken_at: datetime
    command: str | None
    png: bytes
    width: int
    height: int


class PinnedBoards:
    """The boards' public keys, looked up by keyid: the hint picks the candidates, so a report costs one verify.

    `replace` swaps in another set whole (boards accepted in the browser join without a restart): the table is
    built aside and assigned in one step, so a report verified on another thread sees the old set or the new.
    """

    def __init__(self, boards: Sequence[tuple[str, bytes]]) -> None:
        self._by_keyid: dict[str, list[tuple[str, bytes]]] = {}
        self.replace(boards)

    def replace(self, boards: Sequence[tuple[str, bytes]]) -> None:
        by_keyid: dict[str, list[tuple[str, bytes]]] = {}
        for board_id, raw_key in boards:
            by_keyid.setdefault(envelope.key_id(raw_key), []).append((board_id, raw_key))
        self._by_keyid = by_keyid

    def candidates(self, keyid: object) -> list[tuple[str, bytes]]:
        return self._by_keyid.get(keyid, []) if isinstance(keyid, str) else []


class _Malformed(Exception):
    """A field is wrong: becomes a 400 refusal."""


@dataclass(frozen=True, slots=True)
class _HugeNumber:
    """A number too long to be one a board writes, kept as a marker so the refusal can name its field."""

    digits: int


@dataclass(frozen=True, slots=True)
class _Window:
    """The times a report may carry: from EARLIEST to a day ahead of the hub's clock."""

    earliest: datetime
    latest: datetime

    @classmethod
    def around(cls, now: datetime | None) -> _Window:
        return cls(EARLIEST, LATEST_WITHOUT_NOW if now is None else now + AHEAD)

    def holds(self, moment: datetime) -> bool:
        try:
            return self.earliest <= moment <= self.latest
        except OverflowError:  # year 1 at +07:00 is before year 1 in UTC: far outside either way
            return False


def decide_report(raw: bytes, pinned: PinnedBoards, now: datetime | None = None) -> Report | Refusal:
    """A report envelope's bytes → the validated report, or why it is refused. `now` is the hub's clock."""
    checked = verify_envelope(raw, pinned, envelope.REPORT_TYPE)
    if isinstance(checked, Refusal):
        return checked
    return parse_report(*checked, now)


def decide_screenshot(raw: bytes, pinned: PinnedBoards, max_pixels: int = MAX_PIXELS, now: datetime | None = None) -> Screenshot | Refusal:
    """A screenshot envelope's bytes → the checked PNG and its identity, or why it is refused."""
    checked = verify_envelope(raw, pinned, envelope.PNG_TYPE)
    if isinstance(checked, Refusal):
        return checked
    return parse_screenshot(*checked, now, max_pixels)


def parse_report(signer: str, payload: bytes, now: datetime | None) -> Report | Refusal:
    """A payload `signer`'s key signed → the report, or a 400 naming the field (a 403 if it names another board)."""
    try:
        report = _parse_report(_strict_json(payload, "report", numbers=True), payload, _Window.around(now))
    except _Malformed as exc:
        return Refusal(400, f"report: {exc}", board=signer)
    if report.board != signer:
        return Refusal(403, f"report: signed by board {signer!r} but names board {report.board!r}", board=signer)
    return report


def parse_screenshot(signer: str, png: bytes, now: datetime | None, max_pixels: int = MAX_PIXELS) -> Screenshot | Refusal:
    try:
        shot = _parse_screenshot(png, max_pixels, _Window.around(now))
    except _Malformed as exc:
        return Refusal(400, f"screenshot: {exc}", board=signer)
    if shot.board != signer:
        return Refusal(403, f"screenshot: signed by board {signer!r} but names board {shot.board!r}", board=signer)
    return shot


def verify_envelope(raw: bytes, pinned: PinnedBoards, payload_type: str) -> tuple[str, bytes] | Refusal:
    """First byte (400) → a pinned keyid (401) → shape (400) → signature by a candidate (401) → payloadType (400).

    The first two read the raw bytes only: a megabyte of junk costs a regular-expression scan, not a parse.
    """
    head = raw[:64].lstrip()
    if not head.startswith(b"{"):
        return Refusal(400, "envelope: not a JSON object")
    hinted = {match.decode("latin-1") for match in _KEYID.findall(raw)}
    if not any(pinned.candidates(hint) for hint in hinted):
        return Refusal(401, "envelope: no signature names the keyid of a pinned board key")
    objects, separators = raw.count(b"{") + raw.count(b"["), raw.count(b",") + raw.count(b":")
    if objects > MAX_ENVELOPE_OBJECTS + 1 or separators > MAX_ENVELOPE_SEPARATORS:
        return Refusal(400, f"envelope: {objects} objects and lists, {separators} separators: not the shape of a signed envelope")
    try:
        outer = _strict_json(raw, "envelope", numbers=False)
    except _Malformed as exc:
        return Refusal(400, str(exc))
    if not isinstance(outer, dict):
        return Refusal(400, "envelope: not a JSON object")
    claimed_type, payload_b64, signatures = outer.get("payloadType"), outer.get("payload"), outer.get("signatures")
    if not isinstance(claimed_type, str) or not isinstance(payload_b64, str) or not isinstance(signatures, list):
        return Refusal(400, "envelope: needs payloadType, payload and signatures")
    if not signatures or len(signatures) > envelope.MAX_SIGNATURES:
        return Refusal(400, f"envelope: {len(signatures)} signatures (1 to {envelope.MAX_SIGNATURES} allowed)")
    sigs: list[bytes] = []
    for index, signature in enumerate(signatures):
        if not isinstance(signature, dict) or not isinstance(signature.get("sig"), str):
            return Refusal(400, f"envelope: signatures[{index}]: needs a sig")
        try:
            sigs.append(envelope.b64decode_strict(signature["sig"]))
        except ValueError as exc:
            return Refusal(400, f"envelope: signatures[{index}].sig: {exc}")
    hints = {signature.get("keyid") for signature in signatures}
    candidates = [candidate for hint in hints for candidate in pinned.candidates(hint)]
    if not candidates:
        return Refusal(401, "envelope: no signature names the keyid of a pinned board key")
    try:
        payload = envelope.b64decode_strict(payload_b64)
    except ValueError as exc:
        return Refusal(400, f"envelope: payload: {exc}")
    # The claimed type is what the signature covers; whether it is the expected one is asked after. The payload
    # is decoded once, here (envelope.verify_parsed would decode a megabyte of base64 again).
    message = envelope.pae(claimed_type, payload)
    for board_id, raw_key in candidates:
        key = Ed25519PublicKey.from_public_bytes(raw_key)
        for sig in sigs:
            try:
                key.verify(sig, message)
            except InvalidSignature:
                continue
            if claimed_type != payload_type:
                return Refusal(400, f"envelope: payloadType {claimed_type!r}, expected {payload_type!r}", board=board_id)
            return board_id, payload
    return Refusal(401, "envelope: signature check failed: no pinned board key signed it")


def _strict_json(raw: bytes, origin: str, *, numbers: bool) -> Any:
    """JSON with no duplicate keys, no NaN or Infinity, nesting at most 32 deep, UTF-8 only, numbers bounded.

    An integer of more than MAX_DIGITS digits (or a float of more than 40 characters) becomes a marker the
    field checks refuse by name: Python would otherwise spend quadratic time on it, or raise past the caller.
    With `numbers` False (the envelope has none) the first number refuses the whole text.
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                raise _Malformed(f"{origin}: duplicate JSON key {key[:40]!r}")
            result[key] = value
        return result

    def no_constants(name: str) -> Any:
        raise _Malformed(f"{origin}: JSON constant {name} is not allowed")

    def integer(text: str) -> Any:
        if not numbers:
            raise _Malformed(f"{origin}: a number where none belongs")
        digits = len(text) - text.startswith("-")
        return int(text) if digits <= MAX_DIGITS else _HugeNumber(digits)

    def real(text: str) -> Any:
        if not numbers:
            raise _Malformed(f"{origin}: a number where none belongs")
        return float(text) if len(text) <= 40 else _HugeNumber(len(text))

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed(f"{origin}: not UTF-8 JSON") from None
    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constants, parse_int=integer, parse_float=real)
    except json.JSONDecodeError as exc:
        raise _Malformed(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # the C scanner guards its recursion: a hostile nesting ends here, not in a crash
        raise _Malformed(f"{origin}: JSON nested deeper than {envelope.MAX_JSON_DEPTH}") from None
    if envelope.json_depth(value) > envelope.MAX_JSON_DEPTH:
        raise _Malformed(f"{origin}: JSON nested deeper than {envelope.MAX_JSON_DEPTH}")
    return value


def clean_line(text: str) -> str:
    """One line of free text fit for any database and page: breaks become spaces; control, invisible format
    characters and lone surrogates (which neither PostgreSQL nor UTF-8 can hold) are dropped."""
    return _INVISIBLE.sub("", _LINE_BREAKS.sub(" ", text))


def _clean_json(value: Any, where: str) -> Any:
    """The status object as stored and shown: every key and string cleaned, every number bounded (depth ≤ 32)."""
    if isinstance(value, str):
        return clean_line(value)
    if isinstance(value, dict):
        return {clean_line(key): _clean_json(item, f"{where}.{clean_line(key)[:40]}") for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_json(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, _HugeNumber):
        raise _Malformed(f"{where}: a number of {value.digits} digits (at most {MAX_DIGITS})")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Malformed(f"{where}: not a finite number")
    return value


def _parse_report(body: Any, payload: bytes, window: _Window) -> Report:
    if not isinstance(body, dict):
        raise _Malformed("not a JSON object")
    if body.get("format") != REPORT_FORMAT:
        raise _Malformed(f"format: expected {REPORT_FORMAT!r}, got {_shown(body.get('format'))}")
    board = _text(body, "board", required=True)
    seq = _integer(body, "seq", low=1, high=MAX_SEQ, required=True)
    epoch = body.get("epoch", "")
    if not isinstance(epoch, str) or not (epoch == "" or _EPOCH.fullmatch(epoch)):
        raise _Malformed(f"epoch: expected 16 lowercase hex digits, got {_shown(epoch)}")
    sent_at = _timestamp(body, "sent_at", window, required=True)
    covers = body.get("covers_seq")
    covers_seq = None
    if covers is not None:
        if (
            not isinstance(covers, list)
            or len(covers) != 2
            or not all(_is_int(value) and 1 <= value <= MAX_SEQ for value in covers)
            or covers[0] != seq
            or covers[1] < covers[0]
        ):
            raise _Malformed("covers_seq: expected [seq, last seq] with last ≥ seq")
        covers_seq = (covers[0], covers[1])
    status = _status(body.get("status"), window)
    plays = tuple(_play(entry, f"plays[{index}]", window) for index, entry in enumerate(_list(body, "plays", MAX_PLAYS)))
    totals = tuple(_total(entry, f"play_totals[{index}]", window) for index, entry in enumerate(_list(body, "play_totals", MAX_TOTALS)))
    commands = tuple(
        _command(entry, f"commands_done[{index}]", window) for index, entry in enumerate(_list(body, "commands_done", MAX_COMMANDS))
    )
    beats = tuple(
        _heartbeat_day(entry, f"heartbeat_days[{index}]", window)
        for index, entry in enumerate(_list(body, "heartbeat_days", MAX_HEARTBEAT_DAYS))
    )
    return Report(board, seq, sent_at, status, plays, totals, commands, covers_seq, payload, beats, epoch)


def _day(value: Any, where: str, window: _Window) -> str:
    day = _text(value, "day", where=where, required=True)
    try:
        if len(day) != 10:
            raise ValueError
        parsed = date.fromisoformat(day)
    except ValueError:
        raise _Malformed(f"{where}.day: expected YYYY-MM-DD, got {day[:40]!r}") from None
    if not window.earliest.date() <= parsed <= window.latest.date():
        raise _Malformed(f"{where}.day: {day} is outside {window.earliest.date()} .. {window.latest.date()}")
    return day


def _heartbeat_day(value: Any, where: str, window: _Window) -> tuple[str, int]:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    return _day(value, where, window), _integer(value, "count", low=0, high=MAX_DAY_PLAYS, where=where, required=True)


def _status(value: Any, window: _Window) -> Status:
    if not isinstance(value, dict):
        raise _Malformed("status: expected an object")
    for key in ("last_sync_at", "clock"):
        if value.get(key) is not None:
            _timestamp(value, key, window, where="status")
    _integer(value, "uptime_s", low=0, high=MAX_SEQ, where="status", number=True)
    _integer(value, "cache_bytes", low=0, high=MAX_SEQ, where="status")
    heartbeat = _integer(value, "heartbeat_s", low=1, high=DAY_S * 7, where="status", number=True)
    return Status(
        raw=_clean_json(value, "status"),
        feed_sequence=_integer(value, "feed_sequence", low=0, high=MAX_SEQ, where="status"),
        feed_stale=_boolean(value, "feed_stale", where="status"),
        now_playing=_text(value, "now_playing", where="status"),
        last_error=_text(value, "last_error", where="status", line=MAX_TEXT),
        disk_free_bytes=_integer(value, "disk_free_bytes", low=0, high=MAX_SEQ, where="status"),
        display_on=_boolean(value, "display_on", where="status"),
        clock_behind_trusted=_boolean(value, "clock_behind_trusted", where="status"),
        heartbeat_s=None if heartbeat is None else float(heartbeat),
        version=_text(value, "version", where="status", line=MAX_VERSION),
    )


def _play(value: Any, where: str, window: _Window) -> Play:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    completed = _boolean(value, "completed", where=where, required=True)
    assert completed is not None
    return Play(
        bulletin=_text(value, "bulletin", where=where, required=True),
        revision=_integer(value, "revision", low=0, high=MAX_SEQ, where=where, required=True),
        started_at=_timestamp(value, "started_at", window, where=where, required=True),
        shown_s=float(_integer(value, "shown_s", low=0, high=MAX_SHOWN_S, where=where, number=True, required=True)),
        completed=completed,
        reason=_text(value, "reason", where=where),
    )


def _total(value: Any, where: str, window: _Window) -> PlayTotal:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    day = _day(value, where, window)
    count = _integer(value, "count", low=0, high=MAX_DAY_PLAYS, where=where, required=True)
    completed = _integer(value, "completed", low=0, high=count, where=where, required=True)
    # A day's plays of one bulletin were on screen at most a day (and the last one's run past midnight).
    shown_high = min(MAX_SHOWN_S, count * MAX_SHOWN_S)
    return PlayTotal(
        bulletin=_text(value, "bulletin", where=where, required=True),
        revision=_integer(value, "revision", low=0, high=MAX_SEQ, where=where, required=True),
        day=day,
        count=count,
        completed=completed,
        shown_s=float(_integer(value, "shown_s", low=0, high=shown_high, where=where, number=True, required=True)),
    )


def _command(value: Any, where: str, window: _Window) -> CommandDone:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    ok = _boolean(value, "ok", where=where, required=True)
    assert ok is not None
    return CommandDone(
        id=_text(value, "id", where=where, required=True),
        ok=ok,
        at=_timestamp(value, "at", window, where=where) if value.get("at") is not None else None,
        detail=_text(value, "detail", where=where, line=MAX_TEXT),
    )


def _name(where: str | None, key: str) -> str:
    return f"{where}.{key}" if where else key


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    """A wrong value, short and on one line, for a refusal."""
    if isinstance(value, _HugeNumber):
        return f"a number of {value.digits} digits"
    return clean_line(json.dumps(value, ensure_ascii=False)[:40])


def _list(body: Mapping[str, Any], key: str, most: int) -> list[Any]:
    value = body.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"{key}: expected a list")
    if len(value) > most:
        raise _Malformed(f"{key}: {len(value)} entries, at most {most} in one report")
    return value


def _text(body: Mapping[str, Any], key: str, *, where: str | None = None, required: bool = False, line: int = 0) -> Any:
    """An id-like string (printable, no invisible characters, at most 200); with `line`, free text cleaned
    (`clean_line`) and cut to that many characters (refused past four times as many)."""
    value = body.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{_name(where, key)}: missing")
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{_name(where, key)}: expected a string, got {type(value).__name__}")
    if line:
        if len(value) > line * 4:
            raise _Malformed(f"{_name(where, key)}: longer than {line * 4} characters")
        return clean_line(value)[:line]
    if not _ID_TEXT.fullmatch(value):
        raise _Malformed(f"{_name(where, key)}: expected 1 to 200 printable characters, got {_shown(value)}")
    return value


def _integer(
    body: Mapping[str, Any],
    key: str,
    *,
    low: float,
    high: float,
    where: str | None = None,
    number: bool = False,
    required: bool = False,
) -> Any:
    """An integer (or with `number`, any finite number) between low and high."""
    value = body.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{_name(where, key)}: missing")
        return None
    if isinstance(value, _HugeNumber):
        raise _Malformed(f"{_name(where, key)}: a number of {value.digits} digits (at most {MAX_DIGITS})")
    ok_type = _is_int(value) or (number and isinstance(value, float) and math.isfinite(value))
    if not ok_type:
        kind = "a number" if number else "an integer"
        raise _Malformed(f"{_name(where, key)}: expected {kind}, got {_shown(value)}")
    if not low <= value <= high:
        raise _Malformed(f"{_name(where, key)}: must be between {low:g} and {high:g}, got {value:g}")
    return value


def _boolean(body: Mapping[str, Any], key: str, *, where: str | None = None, required: bool = False) -> bool | None:
    value = body.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{_name(where, key)}: missing")
        return None
    if not isinstance(value, bool):
        raise _Malformed(f"{_name(where, key)}: expected true or false, got {_shown(value)}")
    return value


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with an offset; ValueError otherwise."""
    if len(text) > 64:
        raise ValueError("too long")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("no UTC offset")
    return moment


def _timestamp(body: Mapping[str, Any], key: str, window: _Window, *, where: str | None = None, required: bool = False) -> Any:
    value = body.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{_name(where, key)}: missing")
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{_name(where, key)}: expected an ISO 8601 time, got {type(value).__name__}")
    try:
        moment = parse_timestamp(value)
    except ValueError:
        raise _Malformed(f"{_name(where, key)}: expected an ISO 8601 time with an offset, got {_shown(value)}") from None
    if not window.holds(moment):
        raise _Malformed(f"{_name(where, key)}: {_shown(value)} is outside {window.earliest:%Y-%m-%d} .. a day ahead of the hub's clock")
    return moment


def png_header(png: bytes) -> tuple[int, int, int]:
    """(width, height, bit depth) from the PNG's IHDR, which must come first; _Malformed if it does not."""
    if not png.startswith(PNG_MAGIC):
        raise _Malformed("not a PNG (bad signature)")
    if len(png) < 33 or png[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise _Malformed("PNG does not start with its IHDR chunk")
    width, height, depth = struct.unpack(">IIB", png[16:25])
    return width, height, depth


def png_text_chunks(png: bytes) -> dict[str, str]:
    """The `tEXt` chunks of a PNG (keyword → Latin-1 text), walking the chunk list; _Malformed if it is broken."""
    if not png.startswith(PNG_MAGIC):
        raise _Malformed("not a PNG (bad signature)")
    texts: dict[str, str] = {}
    offset = len(PNG_MAGIC)
    while offset + 12 <= len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        end = offset + 8 + length
        if end + 4 > len(png):
            raise _Malformed("PNG chunk runs past the end")
        data = png[offset + 8 : end]
        if zlib.crc32(kind + data) != struct.unpack(">I", png[end : end + 4])[0]:
            raise _Malformed(f"PNG chunk {kind!r} has a bad CRC")
        if kind == b"tEXt":
            keyword, _, text = data.partition(b"\x00")
            texts.setdefault(keyword.decode("latin-1"), text.decode("latin-1"))
        if kind == b"IEND":
            return texts
        offset = end + 4
    raise _Malformed("PNG has no IEND chunk")


def _parse_screenshot(png: bytes, max_pixels: int, window: _Window) -> Screenshot:
    # The size from the header first: a 4096x4096 PNG of one colour is 64 KiB sent and 48 MiB decoded.
    width, height, depth = png_header(png)
    if width > MAX_SCREENSHOT_SIDE or height > MAX_SCREENSHOT_SIDE:
        raise _Malformed(f"{width}x{height} pixels: a board's screenshot is at most {MAX_SCREENSHOT_SIDE}x{MAX_SCREENSHOT_SIDE}")
    if width * height > max_pixels:
        raise _Malformed(f"{width}x{height} pixels is over the limit of {max_pixels}")
    if depth > 8:
        raise _Malformed(f"{depth} bits per sample: a board's screenshot has 8")
    texts = png_text_chunks(png)
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            if image.size != (width, height):
                raise _Malformed("PNG size differs from its header")
            image.load()  # decodes every row: a PNG that only looks right is refused here
    except _Malformed:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, zlib.error) as exc:
        raise _Malformed(f"not a readable PNG ({clean_line(str(exc))[:80]})") from None
    board = texts.get("signage:board")
    if board is None or not _ID_TEXT.fullmatch(board):
        raise _Malformed("tEXt signage:board: missing or not an id")
    seq_text = texts.get("signage:seq", "")
    if not re.fullmatch(r"[1-9][0-9]{0,15}", seq_text) or int(seq_text) > MAX_SEQ:
        raise _Malformed(f"tEXt signage:seq: expected a positive integer, got {seq_text[:20]!r}")
    try:
        taken_at = parse_timestamp(texts.get("signage:taken_at", ""))
    except ValueError:
        raise _Malformed("tEXt signage:taken_at: expected an ISO 8601 time with an offset") from None
    if not window.holds(taken_at):
        raise _Malformed(f"tEXt signage:taken_at: {texts['signage:taken_at'][:40]} is outside {window.earliest:%Y-%m-%d} .. a day ahead")
    command = texts.get("signage:command")
    if command is not None and not _ID_TEXT.fullmatch(command):
        raise _Malformed("tEXt signage:command: not an id")
    return Screenshot(board, int(seq_text), taken_at, command, png, width, height)


def thumbnail(png: bytes, width: int = 240) -> bytes:
    """A small PNG of a checked screenshot, for the dashboard's table."""
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        small = image.convert("RGB")
    small.thumbnail((width, width * 4), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()
