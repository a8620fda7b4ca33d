"""The feed's manifest: parsed once from verified payload bytes; one bad bulletin is refused alone."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from signage.envelope import loads_strict
from signage.errors import BulletinError, FeedRejected
from signage.model import Bulletin, BulletinInput, Command, Source, parse_bulletin, parse_command

log = logging.getLogger(__name__)

FORMAT = "signage-feed/1"
MAX_SEQUENCE = 2**53 - 1


@dataclass(frozen=True)
class Manifest:
    publisher: str
    sequence: int
    generated_at: datetime
    expires_at: datetime
    bulletins: tuple[Bulletin, ...]
    commands: tuple[Command, ...]
    rejected: tuple[str, ...] = field(default=())  # one line per refused bulletin or command


def parse_manifest(payload: bytes, origin: str) -> Manifest:
    """The manifest of a verified payload; a missing or bad required field refuses it whole."""
    data = loads_strict(payload, origin)
    if not isinstance(data, dict):
        raise FeedRejected(f"{origin}: manifest is not a JSON object")

    def required(key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in data:
            raise FeedRejected(f"{origin}: manifest: {key}: missing")
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise FeedRejected(f"{origin}: manifest: {key}: wrong type {type(value).__name__}")
        return value

    if required("format", str) != FORMAT:
        raise FeedRejected(f"{origin}: manifest: format: {data['format']!r} is not {FORMAT!r}")
    publisher = required("publisher", str)
    sequence = required("sequence", int)
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise FeedRejected(f"{origin}: manifest: sequence: {sequence} is outside 0..2^53-1")
    moments = {}
    for key in ("generated_at", "expires_at"):
        raw = required(key, str)
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise FeedRejected(f"{origin}: manifest: {key}: not an ISO 8601 date-time: {raw!r}") from None
        if moment.utcoffset() is None:
            raise FeedRejected(f"{origin}: manifest: {key}: date-time without a UTC offset")
        moments[key] = moment
    if moments["expires_at"] <= moments["generated_at"]:
        raise FeedRejected(f"{origin}: manifest: expires_at: is not after generated_at")
    rejected: list[str] = []
    bulletins: list[Bulletin] = []
    seen: set[str] = set()
    for entry in required("bulletins", list):
        try:
            bulletin = parse_bulletin(entry, BulletinInput(origin=origin, source=Source.FEED))
        except BulletinError as exc:
            rejected.append(str(exc))
            continue
        if bulletin.id in seen:
            rejected.append(f"{origin}: bulletin {bulletin.id!r}: id used twice; the second is refused")
            continue
        seen.add(bulletin.id)
        bulletins.append(bulletin)
    commands: list[Command] = []
    raw_commands = data.get("commands", [])
    if not isinstance(raw_commands, list):
        rejected.append(f"{origin}: manifest: commands: expected a list; ignored")
        raw_commands = []
    for entry in raw_commands:
        try:
            commands.append(parse_command(entry if isinstance(entry, Mapping) else {}, origin))
        except BulletinError as exc:
            rejected.append(str(exc))
    for line in rejected:
        log.warning("%s", line)
    return Manifest(
        publisher=publisher,
        sequence=sequence,
        generated_at=moments["generated_at"],
        expires_at=moments["expires_at"],
        bulletins=tuple(bulletins),
        commands=tuple(commands),
        rejected=tuple(rejected),
    )
