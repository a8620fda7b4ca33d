"""The shared vocabulary: bulletins, media, slots, priorities and commands, as feed-v1 defines them.

Parsing is strict about types and values and names the offending field; it does no I/O.
"""

from __future__ import annotations

import enum
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import partial
from pathlib import Path
from typing import Any

from signage.errors import BulletinError
from signage.limits import MAX_BODY_CHARS, MAX_BODY_LENGTH, MAX_SAFE_INTEGER, MAX_TITLE_CHARS, too_long
from signage.text import clean_text

log = logging.getLogger(__name__)

BULLETIN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
BOARD_ID = BULLETIN_ID
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DURATION_S = 24 * 3600


class Kind(enum.Enum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    PDF = "pdf"
    AUDIO = "audio"


class Priority(enum.Enum):
    """thường / ưu tiên / khẩn cấp."""

    NORMAL = "normal"
    HIGH = "high"
    EMERGENCY = "emergency"

    @property
    def label_vi(self) -> str:
        return {"normal": "Thông báo", "high": "Ưu tiên", "emergency": "Khẩn cấp"}[self.value]


class Source(enum.Enum):
    """Where a bulletin came from; not part of the feed's JSON."""

    FEED = "feed"
    INBOX = "inbox"
    PLAYLIST = "playlist"


class Action(enum.Enum):
    SYNC = "sync"
    SCREENSHOT = "screenshot"
    RELOAD = "reload"
    RESTART = "restart"
    DISPLAY_ON = "display_on"
    DISPLAY_OFF = "display_off"


MEDIA_TYPES: dict[str, Kind] = {
    "image/jpeg": Kind.IMAGE,
    "image/png": Kind.IMAGE,
    "image/webp": Kind.IMAGE,
    "video/mp4": Kind.VIDEO,
    "video/webm": Kind.VIDEO,
    "application/pdf": Kind.PDF,
    "audio/mpeg": Kind.AUDIO,
    "audio/ogg": Kind.AUDIO,
    "audio/mp4": Kind.AUDIO,
}


@dataclass(frozen=True, slots=True)
class Media:
    sha256: str
    bytes: int
    type: str

    @property
    def kind(self) -> Kind:
        return MEDIA_TYPES[self.type]


@dataclass(frozen=True, slots=True)
class Slot:
    """When in the week a bulletin may show; `until <= from` runs past midnight."""

    days: frozenset[int] = frozenset(range(7))  # 0 = Monday, as datetime.weekday()
    start: time = time(0, 0)
    end: time | None = None  # None: until the end of the day ("24:00")


@dataclass(frozen=True, slots=True)
class Bulletin:
    id: str
    revision: int
    kind: Kind
    title: str
    body: str = ""
    media: Media | None = None
    duration_s: float | None = None
    priority: Priority = Priority.NORMAL
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    slots: tuple[Slot, ...] = ()
    boards: tuple[str, ...] = ("*",)
    approved_by: str | None = None
    approved_at: datetime | None = None
    source: Source = Source.FEED

    def targets(self, board_id: str) -> bool:
        return "*" in self.boards or board_id in self.boards


@dataclass(frozen=True, slots=True)
class Playable:
    """A bulletin whose media (if any) is verified and on local disk."""

    bulletin: Bulletin
    media_path: Path | None = None
    media_seconds: float | None = None  # a video's or audio's length, once probed
    page_count: int | None = None  # a PDF's pages, once probed


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    action: Action
    boards: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime

    def targets(self, board_id: str) -> bool:
        return "*" in self.boards or board_id in self.boards


@dataclass(frozen=True, slots=True)
class BulletinInput:
    """Options of `parse_bulletin` that depend on where the data came from."""

    origin: str  # file or URL named in errors
    source: Source = Source.FEED
    strict: bool = False  # unknown keys are errors (hand-written playlists), not ignored (feeds)
    warnings: list[str] = field(default_factory=list)


_BULLETIN_KEYS = frozenset(
    {
        "id", "revision", "kind", "title", "body", "media", "duration_s", "priority",
        "valid_from", "valid_until", "slots", "boards", "approved_by", "approved_at",
    }
)  # fmt: skip


class _Fields:
    """Typed access to a mapping that names the field and origin in every error."""

    def __init__(self, data: Mapping[str, Any], origin: str, where: str = "") -> None:
        self.data, self.origin, self.where = data, origin, where

    def fail(self, key: str, problem: str) -> BulletinError:
        return BulletinError(f"{self.origin}: {self.where}{key}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                raise self.fail(key, "missing")
            return None
        value = self.data[key]
        # bool is an int in Python; a JSON `true` is never a number here.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(key, f"expected {_type_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(key, f"expected {_type_name(kind)}, got {type(value).__name__}")
        return value

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.get(key, str, required=required)
        if value is None:
            return None
        cleaned, removed = clean_text(value)
        if removed:
            log.warning("%s: %s%s: removed %d invisible format character(s)", self.origin, self.where, key, removed)
        return cleaned

    def moment(self, key: str, *, required: bool = False) -> datetime | None:
        return parse_moment(self.get(key, (str, datetime), required=required), lambda p: self.fail(key, p))


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table", datetime: "a date-time"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _number(value: float) -> str:
    """A number for an error line: a long integer shortened, so the line stays one short line."""
    if isinstance(value, int) and not -(10**20) < value < 10**20:
        return f"an integer of {len(str(abs(value)))} digits"
    return str(value)


def parse_moment(value: str | datetime | None, fail: Any) -> datetime | None:
    """An ISO 8601 timestamp with an offset (naive times are ambiguous on a board and refused)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise fail(f"not an ISO 8601 date-time: {value!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise fail(f"date-time without a UTC offset: {value.isoformat()}")
    return value


def parse_clock(value: str, fail: Any) -> time | None:
    """`HH:MM` (24-hour); `24:00` returns None, the end of the day."""
    match = re.fullmatch(r"([01]\d|2[0-4]):([0-5]\d)", value) if isinstance(value, str) else None
    if not match or (match[1] == "24" and match[2] != "00"):
        raise fail(f"expected a time as HH:MM, got {value!r}")
    if match[1] == "24":
        return None
    return time(int(match[1]), int(match[2]))


def _parse_media(f: _Fields) -> Media | None:
    raw = f.get("media", dict)
    if raw is None:
        return None
    m = _Fields(raw, f.origin, f"{f.where}media.")
    sha = m.get("sha256", str, required=True)
    if not SHA256_HEX.fullmatch(sha):
        raise m.fail("sha256", "expected 64 lowercase hex digits")
    size = m.get("bytes", int, required=True)
    if not 0 < size <= MAX_SAFE_INTEGER:
        raise m.fail("bytes", f"must be within 1..2^53-1, got {_number(size)}")
    media_type = m.get("type", str, required=True)
    if media_type not in MEDIA_TYPES:
        raise m.fail("type", f"unsupported media type {media_type!r} (expected one of {', '.join(MEDIA_TYPES)})")
    return Media(sha256=sha, bytes=size, type=media_type)


def _parse_slots(f: _Fields) -> tuple[Slot, ...]:
    raw = f.get("slots", list)
    if raw is None:
        return ()
    slots = []
    for index, entry in enumerate(raw):
        where = f"{f.where}slots[{index}]."
        if not isinstance(entry, Mapping):
            raise f.fail(f"slots[{index}]", "expected a table")
        s = _Fields(entry, f.origin, where)
        unknown = set(entry) - {"days", "from", "until"}
        if unknown:
            raise s.fail(sorted(unknown)[0], "unknown key (expected days, from, until)")
        days_raw = s.get("days", list)
        days = frozenset(range(7))
        if days_raw is not None:
            if not days_raw or any(d not in DAY_NAMES for d in days_raw):
                raise s.fail("days", f"expected a non-empty list of {', '.join(DAY_NAMES)}")
            days = frozenset(DAY_NAMES.index(d) for d in days_raw)
        start_raw = s.get("from", str)
        start = parse_clock(start_raw, partial(s.fail, "from")) if start_raw is not None else time(0, 0)
        if start is None:
            raise s.fail("from", "24:00 is not a start time")
        end_raw = s.get("until", str)
        end = parse_clock(end_raw, partial(s.fail, "until")) if end_raw is not None else None
        if end == start:
            raise s.fail("until", "equals from: an empty slot")
        slots.append(Slot(days=days, start=start, end=end))
    return tuple(slots)


def parse_bulletin(data: Mapping[str, Any], spec: BulletinInput) -> Bulletin:
    """Build a `Bulletin` from feed JSON or playlist TOML, or raise `BulletinError` naming the field."""
    if not isinstance(data, Mapping):
        raise BulletinError(f"{spec.origin}: bulletin: expected a table/object, got {type(data).__name__}")
    bid = data.get("id")
    where = f"bulletin {bid!r}: " if isinstance(bid, str) else "bulletin: "
    f = _Fields(data, spec.origin, where)
    if spec.strict:
        unknown = sorted(set(data) - _BULLETIN_KEYS)
        if unknown:
            raise f.fail(unknown[0], "unknown key")

    bulletin_id = f.get("id", str, required=True)
    if not BULLETIN_ID.fullmatch(bulletin_id):
        raise f.fail("id", f"{bulletin_id!r} is not a bulletin id ([a-z0-9][a-z0-9-]{{0,63}})")
    revision = f.get("revision", int, required=spec.source is Source.FEED)
    revision = 1 if revision is None else revision
    if not 0 <= revision <= MAX_SAFE_INTEGER:
        raise f.fail("revision", f"must be within 0..2^53-1, got {_number(revision)}")

    kind_raw = f.get("kind", str, required=True)
    try:
        kind = Kind(kind_raw)
    except ValueError:
        raise f.fail("kind", f"unknown kind {kind_raw!r} (expected {', '.join(k.value for k in Kind)})") from None

    # A text far past its cap is refused before it is cleaned (a pass over all of it); the caps are checked after.
    for key, cap, longest in (("title", MAX_TITLE_CHARS, 2 * MAX_TITLE_CHARS), ("body", MAX_BODY_CHARS, 2 * MAX_BODY_LENGTH)):
        raw = data.get(key)
        if isinstance(raw, str) and len(raw) > longest:
            raise f.fail(key, f"{key} of {len(raw)} characters is over {cap} characters")
    title = f.text("title", required=True) or ""
    if not title.strip():
        raise f.fail("title", "empty")
    body = f.text("body") or ""
    if problem := too_long(title, ""):
        raise f.fail("title", problem)
    if problem := too_long("", body):
        raise f.fail("body", problem)
    media = _parse_media(f)
    if kind is Kind.TEXT:
        if not body.strip():
            raise f.fail("body", "missing (a text bulletin needs a body)")
    else:
        if media is None:
            raise f.fail("media", f"missing (a {kind.value} bulletin needs media)")
        if media.kind is not kind:
            raise f.fail("media.type", f"{media.type} does not fit kind {kind.value!r}")

    duration = f.get("duration_s", (int, float))
    if duration is not None and not (0 < duration <= MAX_DURATION_S and math.isfinite(duration)):
        raise f.fail("duration_s", f"must be between 0 and {MAX_DURATION_S} seconds, got {_number(duration)}")

    priority_raw = f.get("priority", str) or "normal"
    try:
        priority = Priority(priority_raw)
    except ValueError:
        raise f.fail("priority", f"unknown priority {priority_raw!r} (expected normal, high, emergency)") from None

    valid_from = f.moment("valid_from", required=spec.source is Source.FEED)
    valid_until = f.moment("valid_until", required=spec.source is Source.FEED)
    if valid_from and valid_until and valid_until <= valid_from:
        raise f.fail("valid_until", "is not after valid_from")

    boards_raw = f.get("boards", list, required=spec.source is Source.FEED)
    boards: tuple[str, ...] = ("*",)
    if boards_raw is not None:
        if not boards_raw or any(not isinstance(b, str) or not (b == "*" or BOARD_ID.fullmatch(b)) for b in boards_raw):
            raise f.fail("boards", 'expected a non-empty list of board ids or ["*"]')
        boards = tuple(boards_raw)

    return Bulletin(
        id=bulletin_id,
        revision=revision,
        kind=kind,
        title=title,
        body=body,
        media=media,
        duration_s=float(duration) if duration is not None else None,
        priority=priority,
        valid_from=valid_from,
        valid_until=valid_until,
        slots=_parse_slots(f),
        boards=boards,
        approved_by=f.text("approved_by"),
        approved_at=f.moment("approved_at"),
        source=spec.source,
    )


def bulletin_json(bulletin: Bulletin) -> dict[str, Any]:
    """A bulletin as feed-v1 writes it (the inverse of `parse_bulletin`): the feed publishes it, the store keeps it."""
    data: dict[str, Any] = {
        "id": bulletin.id,
        "revision": bulletin.revision,
        "kind": bulletin.kind.value,
        "title": bulletin.title,
    }
    if bulletin.body:
        data["body"] = bulletin.body
    if bulletin.media is not None:
        data["media"] = {"sha256": bulletin.media.sha256, "bytes": bulletin.media.bytes, "type": bulletin.media.type}
    if bulletin.duration_s is not None:
        data["duration_s"] = int(bulletin.duration_s) if bulletin.duration_s.is_integer() else bulletin.duration_s
    data["priority"] = bulletin.priority.value
    for key in ("valid_from", "valid_until"):
        moment = getattr(bulletin, key)
        if moment is not None:
            data[key] = moment.isoformat()
    if bulletin.slots:
        data["slots"] = [
            {
                "days": [DAY_NAMES[d] for d in sorted(slot.days)],
                "from": f"{slot.start:%H:%M}",
                "until": "24:00" if slot.end is None else f"{slot.end:%H:%M}",
            }
            for slot in bulletin.slots
        ]
    data["boards"] = list(bulletin.boards)
    if bulletin.approved_by is not None:
        data["approved_by"] = bulletin.approved_by
    if bulletin.approved_at is not None:
        data["approved_at"] = bulletin.approved_at.isoformat()
    return data


def parse_command(data: Mapping[str, Any], origin: str) -> Command:
    """Build a `Command` from the manifest's `commands`, or raise `BulletinError`."""
    f = _Fields(data, origin, "command: ")
    command_id = f.get("id", str, required=True)
    if not BULLETIN_ID.fullmatch(command_id):
        raise f.fail("id", f"{command_id!r} is not an id")
    action_raw = f.get("action", str, required=True)
    try:
        action = Action(action_raw)
    except ValueError:
        raise f.fail("action", f"unknown action {action_raw!r}") from None
    boards: Sequence[str] = f.get("boards", list, required=True)
    if not boards or any(not isinstance(b, str) or not (b == "*" or BOARD_ID.fullmatch(b)) for b in boards):
        raise f.fail("boards", 'expected a non-empty list of board ids or ["*"]')
    issued_at = f.moment("issued_at", required=True)
    expires_at = f.moment("expires_at", required=True)
    assert issued_at is not None and expires_at is not None
    if expires_at <= issued_at:
        raise f.fail("expires_at", "is not after issued_at")
    return Command(command_id, action, tuple(boards), issued_at, expires_at)
