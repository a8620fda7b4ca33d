"""What the hub refused from boards, for the officers' dashboard and the log, in bounded memory.

A refusal of something a pinned board's key signed is news (a board sends what the hub cannot take): each is
listed. Anything else is anonymous junk anyone can send: counted per address, never listed one by one, so
fifty junk posts cannot push a board's refusal off the page; and logged at most once a minute per address.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from signage.district.hub.limits import LogLimiter

log = logging.getLogger("signage.hub")

BOARD_REFUSALS_KEPT = 50
ADDRESSES_KEPT = 200


@dataclass(frozen=True, slots=True)
class RefusalRecord:
    at: datetime
    remote: str
    path: str
    status: int
    reason: str
    board: str | None = None
    count: int = 1  # the same refusal of the same board, again and again, is one line


@dataclass(frozen=True, slots=True)
class AnonymousRecord:
    remote: str
    count: int
    first_at: datetime
    last_at: datetime
    last_status: int
    last_reason: str


class RefusalLog:
    """The refusals officers see and the log lines they cost; `now` is the hub's clock."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self._boards: deque[RefusalRecord] = deque(maxlen=BOARD_REFUSALS_KEPT)
        self._anonymous: OrderedDict[str, AnonymousRecord] = OrderedDict()
        self._lines = LogLimiter()

    def record(self, remote: str, path: str, status: int, reason: str, board: str | None = None) -> None:
        moment = self.now()
        key = ("board", board, path, status) if board is not None else ("address", remote, path, status)
        allowed, suppressed = self._lines.allow(key, moment.timestamp())
        if allowed:
            more = f" ({suppressed} more like it in the last minute)" if suppressed else ""
            who = f"board {board} at {remote}" if board is not None else remote
            log.warning("refused %s from %s: %d %s%s", path, who, status, reason, more)
        if board is not None:
            last = self._boards[0] if self._boards else None
            if last is not None and (last.board, last.path, last.status, last.reason) == (board, path, status, reason):
                self._boards[0] = replace(last, at=moment, remote=remote, count=last.count + 1)
            else:
                self._boards.appendleft(RefusalRecord(moment, remote, path, status, reason, board))
            return
        seen = self._anonymous.pop(remote, None)
        first = seen.first_at if seen is not None else moment
        count = seen.count + 1 if seen is not None else 1
        self._anonymous[remote] = AnonymousRecord(remote, count, first, moment, status, reason)
        while len(self._anonymous) > ADDRESSES_KEPT:
            self._anonymous.popitem(last=False)  # the address heard from longest ago

    def from_boards(self) -> list[RefusalRecord]:
        """Refusals of what a pinned board signed, newest first."""
        return list(self._boards)

    def anonymous(self) -> list[AnonymousRecord]:
        """Junk per address, the most recent first."""
        return list(reversed(self._anonymous.values()))
