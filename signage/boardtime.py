"""The time the board plays by: the wall clock, watched against the monotonic clock for jumps,
and never earlier than the district's signed time (a board whose clock battery died).

Pure: every reading is handed in (wall, monotonic); nothing here reads a clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# The wall clock may drift from the monotonic one by NTP's slew (at most 0.5 ms a second) between two
# readings that can be a minute apart: anything past this is a step, not a drift.
JUMP_TOLERANCE_S = 2.0


def clock_step(
    wall_before: datetime, mono_before: float, wall_now: datetime, mono_now: float, tolerance_s: float = JUMP_TOLERANCE_S
) -> float | None:
    """How far the wall clock stepped between two readings (seconds, + forward), or None when it only ran.

    A step is wall progress minus monotonic progress: NTP correcting a clock, a hardware clock kept in
    local time, a technician setting the date, a resume from suspend (the monotonic clock stood still).
    """
    step = (wall_now - wall_before).total_seconds() - (mono_now - mono_before)
    return step if abs(step) > tolerance_s else None


def describe_seconds(seconds: float) -> str:
    """`1 day 2 h 05 min`, `7 h 00 min`, `3 min 20 s`: how far a clock stepped, for a technician."""
    left = round(abs(seconds))
    days, left = divmod(left, 86400)
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    if days:
        return f"{days} day{'s' if days > 1 else ''} {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


@dataclass(frozen=True, slots=True)
class Jump:
    """The board's time stepped by `by_s` seconds (+ forward); `at` is its reading just after."""

    at: datetime
    by_s: float

    def line(self, before: datetime) -> str:
        way = "forward" if self.by_s > 0 else "back"
        return (
            f"clock: the time stepped {way} {describe_seconds(self.by_s)} "
            f"({before:%Y-%m-%d %H:%M:%S} -> {self.at:%Y-%m-%d %H:%M:%S}): rotation, heartbeats and polls re-planned from the new time"
        )

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "by_s": round(self.by_s, 1)}


class BoardTime:
    """Readings of (wall, monotonic) in; the time to play by out, with any step seen since the last one.

    While the wall clock reads earlier than the feed's signed time (its `generated_at`, which certainly
    passed) advanced by the monotonic time since the board learned it, the clock is known to be
    behind, and the board plays by that signed time instead: validity, slots, the header's date.
    Only the signed part of the trusted time counts here: the rest is the board's own earlier
    reading, which may be the wrong one (a clock seven hours ahead until NTP stepped it back).
    The player reads it every frame; the reporter reads `report()` from its own thread.
    """

    def __init__(self, tolerance_s: float = JUMP_TOLERANCE_S) -> None:
        self.tolerance_s = tolerance_s
        self._last: tuple[datetime, float] | None = None  # (board time, monotonic) of the last reading
        self._signed: tuple[datetime, float] | None = None  # (signed time, monotonic when learned)
        self._lock = threading.Lock()
        self.by_signed_time = False
        self.jumps = 0
        self.last_jump: Jump | None = None

    def learn(self, signed: datetime | None, mono: float) -> None:
        """The feed the board holds was signed at `signed`, as read at monotonic `mono` (None: no feed)."""
        if signed is None:
            return
        if self._signed is None or signed > self._signed[0] + timedelta(seconds=mono - self._signed[1]):
            self._signed = (signed, mono)

    def signed_now(self, mono: float) -> datetime | None:
        """The signed time advanced by the monotonic time since it was learned: a floor for the true time."""
        if self._signed is None:
            return None
        signed, learned = self._signed
        return signed + timedelta(seconds=max(0.0, mono - learned))

    def read(self, wall: datetime, mono: float) -> tuple[datetime, Jump | None, datetime | None]:
        """The time to play by; the step since the last reading, if any, and the time before it."""
        floor = self.signed_now(mono)
        behind = floor is not None and wall < floor
        now = floor.astimezone(wall.tzinfo) if behind and floor is not None else wall
        last, self._last = self._last, (now, mono)
        jump = None
        if last is not None:
            step = clock_step(last[0], last[1], now, mono, self.tolerance_s)
            if step is not None:
                jump = Jump(now, step)
        with self._lock:
            self.by_signed_time = behind
            if jump is not None:
                self.jumps += 1
                self.last_jump = jump
        before = None if last is None or jump is None else now - timedelta(seconds=jump.by_s)
        return now, jump, before

    def report(self) -> dict[str, Any]:
        """What the next report's status block says of the board's time (see docs/reports.md)."""
        with self._lock:
            return {
                "plays_by_signed_time": self.by_signed_time,
                "clock_jumps": self.jumps,
                "last_clock_jump": self.last_jump.as_json() if self.last_jump is not None else None,
            }
