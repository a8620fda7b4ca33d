"""What may play now: validity, targeting, slots and durations (pure; the caller passes `now`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from signage.model import Bulletin, Kind, Playable, Slot

TEXT_SECONDS_MIN = 8.0
TEXT_SECONDS_MAX = 45.0
TEXT_CHARS_PER_SECOND = 12.0  # a passer-by reads a public board slower than a page in hand
IMAGE_SECONDS = 10.0


def in_slot(slot: Slot, local: datetime) -> bool:
    """Whether `local` (in the board's zone) falls in `slot`; a slot past midnight belongs to the day it starts."""
    clock = local.time().replace(tzinfo=None)
    if slot.end is None or slot.start < slot.end:
        return local.weekday() in slot.days and slot.start <= clock and (slot.end is None or clock < slot.end)
    # Runs past midnight, e.g. 22:00–02:00.
    if clock >= slot.start:
        return local.weekday() in slot.days
    yesterday = (local - timedelta(days=1)).weekday()
    return clock < slot.end and yesterday in slot.days


def is_playable(bulletin: Bulletin, board_id: str, now: datetime) -> bool:
    """Valid in `[valid_from, valid_until)`, aimed at this board, and inside one of its slots (if any)."""
    if bulletin.valid_from is not None and now < bulletin.valid_from:
        return False
    if bulletin.valid_until is not None and now >= bulletin.valid_until:
        return False
    if not bulletin.targets(board_id):
        return False
    return not bulletin.slots or any(in_slot(slot, now) for slot in bulletin.slots)


def playable_now(playables: Iterable[Playable], board_id: str, now: datetime) -> list[Playable]:
    """The playables that may show at `now` (an aware datetime in the board's time zone), in order."""
    return [p for p in playables if is_playable(p.bulletin, board_id, now)]


def page_seconds(bulletin: Bulletin, page_texts: list[str]) -> list[float]:
    """How long each page of a bulletin stays: `duration_s` shared out, or reading time, or by kind."""
    pages = max(1, len(page_texts))
    if bulletin.duration_s is not None:
        return [bulletin.duration_s / pages] * pages
    if bulletin.kind is Kind.TEXT:
        return [min(TEXT_SECONDS_MAX, max(TEXT_SECONDS_MIN, 4.0 + len(text) / TEXT_CHARS_PER_SECOND)) for text in page_texts]
    return [IMAGE_SECONDS] * pages
