"""What one board may send the hub, as pure decisions with the clock passed in: rates, a daily quota, log lines.

A board's key can be stolen (it sits on a kiosk in a commune hall): whatever it signs, one board must not be
able to take the hub's CPU, fill its disk or bury the log. Nothing here reads a clock or touches a database.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from signage.district.hub.ingest import Refusal, Report


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when `tokens` was counted (seconds, the caller's clock)


class Rates:
    """Token buckets: up to `burst` at once (a backlog after an outage), then `per_hour` sustained.

    Keyed by what the caller verified (a board and a kind), the buckets are bounded by the pinned boards.
    Keyed by what anyone can choose (an address), `keys` bounds them: the least recently used is forgotten
    (which only forgives it).
    """

    def __init__(self, burst: int, per_hour: float, keys: int | None = None) -> None:
        self.burst = float(burst)
        self.per_second = per_hour / 3600.0
        self.keys = keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def take(self, key: Hashable, now_s: float) -> float:
        """Take one; 0.0 when allowed, else the seconds until one is there (nothing taken)."""
        bucket = self._refilled(key, now_s)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.per_second

    def wait_s(self, key: Hashable, now_s: float) -> float:
        """The seconds until `key` has one again (0.0: it has), taking nothing."""
        if key not in self._buckets:
            return 0.0
        bucket = self._refilled(key, now_s)
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self.per_second

    def _refilled(self, key: Hashable, now_s: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now_s)
            while self.keys is not None and len(self._buckets) > self.keys:
                self._buckets.popitem(last=False)
        elif self.keys is not None:
            self._buckets.move_to_end(key)
        elapsed = max(0.0, now_s - bucket.at)  # a clock set back refills nothing, and takes nothing away
        bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.per_second)
        bucket.at = max(bucket.at, now_s)
        return bucket


@dataclass(frozen=True, slots=True)
class RowPlan:
    """How a report is stored under its board's daily quota: its first `keep_plays` plays row by row, the rest
    folded into per-day totals (counted in every figure, only not one row each); `rows` it adds in all."""

    keep_plays: int
    rows: int


def plan_rows(report: Report, used: int, quota: int, day_of: Callable[[datetime], str], next_day_s: float) -> RowPlan | Refusal:
    """The board has added `used` rows today; its quota is `quota` rows a day.

    Plays past the quota are folded, so nothing a board reports is lost from the figures. Totals and commands
    cannot be folded further: a report that would take the board past twice its quota waits for tomorrow (429,
    kept in the board's queue), which no board playing bulletins ever needs.
    """
    keep = min(len(report.plays), max(0, quota - used))
    folded = {(play.bulletin, play.revision, day_of(play.started_at)) for play in report.plays[keep:]}
    rows = keep + len(folded) + len(report.play_totals) + len(report.commands_done)
    if rows and used + rows > 2 * quota:
        wait = max(60, math.ceil(next_day_s))
        return Refusal(
            429,
            f"report: board {report.board!r} added {used} rows today, its quota is {quota}: send again tomorrow",
            board=report.board,
            retry_after_s=wait,
        )
    return RowPlan(keep, rows)


class LogLimiter:
    """One log line per key a window (a minute), then how many more were like it: a flood writes a line a minute.

    At most `keys` keys are remembered (the least recently seen forgotten first), so a flood from many
    addresses costs bounded memory; a forgotten key only logs once more.
    """

    def __init__(self, window_s: float = 60.0, keys: int = 10_000) -> None:
        self.window_s = window_s
        self.keys = keys
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()  # key → (window start, suppressed)

    def allow(self, key: Hashable, now_s: float) -> tuple[bool, int]:
        """(log it?, how many were suppressed since the last line for this key)."""
        entry = self._seen.get(key)
        if entry is not None and now_s - entry[0] < self.window_s:
            self._seen[key] = (entry[0], entry[1] + 1)
            self._seen.move_to_end(key)
            return False, 0
        self._seen[key] = (now_s, 0)
        self._seen.move_to_end(key)
        while len(self._seen) > self.keys:
            self._seen.popitem(last=False)
        return True, entry[1] if entry is not None else 0
