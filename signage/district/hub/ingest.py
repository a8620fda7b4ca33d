"""Accept or refuse a board's report or screenshot: a pure decision over (pinned boards, raw bytes, limits).

The order is feed-v1's: the envelope's shape, a signature over PAE by the key the keyid picks (the keyid
only picks; the signature decides), the payloadType, then the payload parsed once. Every refusal is a value
carrying the HTTP status and a one-line reason naming the field, never an exception to the caller.
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
from datetime import date, datetime
from typing import Any

from PIL import Image

from signage import envelope
from signage.errors import SignageError

REPORT_FORMAT = "signage-report/1"
MAX_SEQ = 2**53 - 1
MAX_TEXT = 500  # one line of text: an id, an error, a detail
MAX_PIXELS = 4096 * 4096
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_ID_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 400 malformed, 401 not signed by a pinned key, 403 signed by one board naming another
    reason: str


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
    """The boards' public keys, looked up by keyid: the hint picks the candidates, so a report costs one verify."""

    def __init__(self, boards: Sequence[tuple[str, bytes]]) -> None:
        self._by_keyid: dict[str, list[tuple[str, bytes]]] = {}
        for board_id, raw_key in boards:
            self._by_keyid.setdefault(envelope.key_id(raw_key), []).append((board_id, raw_key))

    def candidates(self, keyid: object) -> list[tuple[str, bytes]]:
        return self._by_keyid.get(keyid, []) if isinstance(keyid, str) else []


class _Malformed(Exception):
    """A field is wrong: becomes a 400 refusal."""


class _Rejected(SignageError):
    """What `envelope.verify` raises here; the shape was checked before, so it means the signature failed."""


def decide_report(raw: bytes, pinned: PinnedBoards) -> Report | Refusal:
    """A report envelope's bytes → the validated report, or why it is refused."""
    checked = _verify(raw, pinned, envelope.REPORT_TYPE)
    if isinstance(checked, Refusal):
        return checked
    signer, payload = checked
    try:
        body = envelope.loads_strict(payload, "report", _Rejected)
    except _Rejected as exc:
        return Refusal(400, str(exc))
    try:
        report = _parse_report(body, payload)
    except _Malformed as exc:
        return Refusal(400, f"report: {exc}")
    if report.board != signer:
        return Refusal(403, f"report: signed by board {signer!r} but names board {report.board!r}")
    return report


def decide_screenshot(raw: bytes, pinned: PinnedBoards, max_pixels: int = MAX_PIXELS) -> Screenshot | Refusal:
    """A screenshot envelope's bytes → the checked PNG and its identity, or why it is refused."""
    checked = _verify(raw, pinned, envelope.PNG_TYPE)
    if isinstance(checked, Refusal):
        return checked
    signer, png = checked
    try:
        shot = _parse_screenshot(png, max_pixels)
    except _Malformed as exc:
        return Refusal(400, f"screenshot: {exc}")
    if shot.board != signer:
        return Refusal(403, f"screenshot: signed by board {signer!r} but names board {shot.board!r}")
    return shot


def _verify(raw: bytes, pinned: PinnedBoards, payload_type: str) -> tuple[str, bytes] | Refusal:
    """Shape (400) → signature by a candidate the keyid picks (401) → payloadType (400): (signer, payload)."""
    try:
        outer = envelope.loads_strict(raw, "envelope", _Rejected)
    except _Rejected as exc:
        return Refusal(400, str(exc))
    if not isinstance(outer, dict):
        return Refusal(400, "envelope: not a JSON object")
    claimed_type, payload_b64, signatures = outer.get("payloadType"), outer.get("payload"), outer.get("signatures")
    if not isinstance(claimed_type, str) or not isinstance(payload_b64, str) or not isinstance(signatures, list):
        return Refusal(400, "envelope: needs payloadType, payload and signatures")
    if not signatures or len(signatures) > envelope.MAX_SIGNATURES:
        return Refusal(400, f"envelope: {len(signatures)} signatures (1 to {envelope.MAX_SIGNATURES} allowed)")
    for index, signature in enumerate(signatures):
        if not isinstance(signature, dict) or not isinstance(signature.get("sig"), str):
            return Refusal(400, f"envelope: signatures[{index}]: needs a sig")
        try:
            envelope.b64decode_strict(signature["sig"])
        except ValueError as exc:
            return Refusal(400, f"envelope: signatures[{index}].sig: {exc}")
    try:
        envelope.b64decode_strict(payload_b64)
    except ValueError as exc:
        return Refusal(400, f"envelope: payload: {exc}")
    hints = {signature.get("keyid") for signature in signatures}
    candidates = [candidate for hint in hints for candidate in pinned.candidates(hint)]
    if not candidates:
        return Refusal(401, "envelope: no signature names the keyid of a pinned board key")
    for board_id, raw_key in candidates:
        try:
            # The claimed type is what the signature covers; whether it is the expected one is asked after.
            verified = envelope.verify_parsed(outer, claimed_type, [raw_key], 1, "envelope", _Rejected)
        except _Rejected:
            continue
        if claimed_type != payload_type:
            return Refusal(400, f"envelope: payloadType {claimed_type!r}, expected {payload_type!r}")
        return board_id, verified.payload
    return Refusal(401, "envelope: signature check failed: no pinned board key signed it")


def _parse_report(body: Any, payload: bytes) -> Report:
    if not isinstance(body, dict):
        raise _Malformed("not a JSON object")
    if body.get("format") != REPORT_FORMAT:
        raise _Malformed(f"format: expected {REPORT_FORMAT!r}, got {body.get('format')!r}")
    board = _text(body, "board", required=True)
    seq = _integer(body, "seq", low=1, high=MAX_SEQ, required=True)
    sent_at = _timestamp(body, "sent_at", required=True)
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
    status = _status(body.get("status"))
    plays = tuple(_play(entry, f"plays[{index}]") for index, entry in enumerate(_list(body, "plays")))
    totals = tuple(_total(entry, f"play_totals[{index}]") for index, entry in enumerate(_list(body, "play_totals")))
    commands = tuple(_command(entry, f"commands_done[{index}]") for index, entry in enumerate(_list(body, "commands_done")))
    beats = tuple(_heartbeat_day(entry, f"heartbeat_days[{index}]") for index, entry in enumerate(_list(body, "heartbeat_days")))
    return Report(board, seq, sent_at, status, plays, totals, commands, covers_seq, payload, beats)


def _day(value: Any, where: str) -> str:
    day = _text(value, "day", where=where, required=True)
    try:
        if len(day) != 10:
            raise ValueError
        date.fromisoformat(day)
    except ValueError:
        raise _Malformed(f"{where}.day: expected YYYY-MM-DD, got {day[:40]!r}") from None
    return day


def _heartbeat_day(value: Any, where: str) -> tuple[str, int]:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    return _day(value, where), _integer(value, "count", low=0, high=MAX_SEQ, where=where, required=True)


def _status(value: Any) -> Status:
    if not isinstance(value, dict):
        raise _Malformed("status: expected an object")
    for key, kind in (("last_sync_at", "time"), ("clock", "time")):
        if value.get(key) is not None and kind == "time":
            _timestamp(value, key, where="status")
    _integer(value, "uptime_s", low=0, high=MAX_SEQ, where="status", number=True)
    _integer(value, "cache_bytes", low=0, high=MAX_SEQ, where="status")
    heartbeat = _integer(value, "heartbeat_s", low=1, high=86400 * 7, where="status", number=True)
    return Status(
        raw=value,
        feed_sequence=_integer(value, "feed_sequence", low=0, high=MAX_SEQ, where="status"),
        feed_stale=_boolean(value, "feed_stale", where="status"),
        now_playing=_text(value, "now_playing", where="status"),
        last_error=_text(value, "last_error", where="status", line=True),
        disk_free_bytes=_integer(value, "disk_free_bytes", low=0, high=MAX_SEQ, where="status"),
        display_on=_boolean(value, "display_on", where="status"),
        clock_behind_trusted=_boolean(value, "clock_behind_trusted", where="status"),
        heartbeat_s=None if heartbeat is None else float(heartbeat),
        version=_text(value, "version", where="status"),
    )


def _play(value: Any, where: str) -> Play:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    completed = _boolean(value, "completed", where=where, required=True)
    assert completed is not None
    return Play(
        bulletin=_text(value, "bulletin", where=where, required=True),
        revision=_integer(value, "revision", low=0, high=MAX_SEQ, where=where, required=True),
        started_at=_timestamp(value, "started_at", where=where, required=True),
        shown_s=float(_integer(value, "shown_s", low=0, high=86400 * 366, where=where, number=True, required=True)),
        completed=completed,
        reason=_text(value, "reason", where=where),
    )


def _total(value: Any, where: str) -> PlayTotal:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    day = _day(value, where)
    count = _integer(value, "count", low=0, high=MAX_SEQ, where=where, required=True)
    completed = _integer(value, "completed", low=0, high=count, where=where, required=True)
    return PlayTotal(
        bulletin=_text(value, "bulletin", where=where, required=True),
        revision=_integer(value, "revision", low=0, high=MAX_SEQ, where=where, required=True),
        day=day,
        count=count,
        completed=completed,
        shown_s=float(_integer(value, "shown_s", low=0, high=MAX_SEQ, where=where, number=True, required=True)),
    )


def _command(value: Any, where: str) -> CommandDone:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    ok = _boolean(value, "ok", where=where, required=True)
    assert ok is not None
    return CommandDone(
        id=_text(value, "id", where=where, required=True),
        ok=ok,
        at=_timestamp(value, "at", where=where) if value.get("at") is not None else None,
        detail=_text(value, "detail", where=where, line=True),
    )


def _name(where: str | None, key: str) -> str:
    return f"{where}.{key}" if where else key


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"{key}: expected a list")
    return value


def _text(body: Mapping[str, Any], key: str, *, where: str | None = None, required: bool = False, line: bool = False) -> Any:
    """An id-like string (no control characters, at most 200); `line`: any text up to MAX_TEXT characters."""
    value = body.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{_name(where, key)}: missing")
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{_name(where, key)}: expected a string, got {type(value).__name__}")
    if line:
        if len(value) > MAX_TEXT * 4:
            raise _Malformed(f"{_name(where, key)}: longer than {MAX_TEXT * 4} characters")
        return value[:MAX_TEXT]
    if not _ID_TEXT.fullmatch(value):
        raise _Malformed(f"{_name(where, key)}: expected 1 to 200 printable characters, got {value[:40]!r}")
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
    ok_type = _is_int(value) or (number and isinstance(value, float) and math.isfinite(value))
    if not ok_type:
        kind = "a number" if number else "an integer"
        raise _Malformed(f"{_name(where, key)}: expected {kind}, got {json.dumps(value)[:40]}")
    if not low <= value <= high:
        raise _Malformed(f"{_name(where, key)}: must be between {low:g} and {high:g}, got {value}")
    return value


def _boolean(body: Mapping[str, Any], key: str, *, where: str | None = None, required: bool = False) -> bool | None:
    value = body.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{_name(where, key)}: missing")
        return None
    if not isinstance(value, bool):
        raise _Malformed(f"{_name(where, key)}: expected true or false, got {json.dumps(value)[:40]}")
    return value


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with an offset; ValueError otherwise."""
    if len(text) > 64:
        raise ValueError("too long")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("no UTC offset")
    return moment


def _timestamp(body: Mapping[str, Any], key: str, *, where: str | None = None, required: bool = False) -> Any:
    value = body.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{_name(where, key)}: missing")
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{_name(where, key)}: expected an ISO 8601 time, got {type(value).__name__}")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise _Malformed(f"{_name(where, key)}: expected an ISO 8601 time with an offset, got {value[:40]!r}") from None


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


def _parse_screenshot(png: bytes, max_pixels: int) -> Screenshot:
    texts = png_text_chunks(png)
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise _Malformed(f"{width}x{height} pixels is over the limit of {max_pixels}")
            image.load()  # decodes every row: a PNG that only looks right is refused here
    except _Malformed:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, zlib.error) as exc:
        raise _Malformed(f"not a readable PNG ({str(exc)[:80]})") from None
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
