"""Proof of play: which bulletin was on screen, from when, for how long, and why it ended.

How long is measured on the monotonic clock: the wall clock may step back or forward mid-slide.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signage.engine import turn_seconds
from signage.model import Playable

# A turn that ends this close to its full length counts as completed (frame pacing, a late compose).
COMPLETED_SLACK_S = 0.5
LONGEST_PLAY_S = 86_400.0  # no turn lasts a day: a longer reading is a clock that stepped

REASONS = ("emergency", "withdrawn", "expired", "revised", "screen_off", "error", "stopped")


@dataclass(frozen=True, slots=True)
class Play:
    bulletin: str
    revision: int
    started_at: datetime
    shown_s: float
    completed: bool
    reason: str | None = None  # one of REASONS when not completed

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "bulletin": self.bulletin,
            "revision": self.revision,
            "started_at": self.started_at.isoformat(),
            "shown_s": round(self.shown_s, 2),
            "completed": self.completed,
        }
        if not self.completed:
            entry["reason"] = self.reason
        return entry


class PlayLog:
    """The slide on screen and the plays that ended, until the reporter takes them (thread-safe).

    `limit`: on a board without a hub nobody takes them, and a board plays thousands of turns a day for
    months, so only the latest `limit` are kept. None (a reporter takes them) keeps every one.
    """

    def __init__(self, *, limit: int | None = None) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._current: tuple[Playable, datetime, float | None, float] | None = None  # (playable, start, monotonic start, planned s)
        self._done: list[Play] = []

    @property
    def current(self) -> Playable | None:
        current = self._current
        return current[0] if current is not None else None

    @property
    def now_playing(self) -> str | None:
        current = self.current
        return current.bulletin.id if current is not None else None

    def begin(self, playable: Playable, at: datetime, mono: float | None = None, *, planned_s: float | None = None) -> None:
        """A bulletin's slide went on screen at `at` (monotonic `mono`); the one before must have been ended.

        `planned_s`: what its turn has left, when it came on screen after the turn began (its full turn if None).
        """
        planned = turn_seconds(playable) if planned_s is None else planned_s
        with self._lock:
            self._current = (playable, at, mono, planned)

    def end(self, at: datetime, reason: str, mono: float | None = None) -> Play | None:
        """The slide on screen left it; `reason` says why in case it left before its turn was over.

        Seconds shown come from the monotonic readings when both ends have one, else from the wall clock.
        """
        with self._lock:
            if self._current is None:
                return None
            playable, started, started_mono, planned = self._current
            self._current = None
            shown = mono - started_mono if mono is not None and started_mono is not None else (at - started).total_seconds()
            shown = min(max(0.0, shown), LONGEST_PLAY_S)
            completed = shown >= planned - COMPLETED_SLACK_S
            play = Play(playable.bulletin.id, playable.bulletin.revision, started, shown, completed, None if completed else reason)
            self._done.append(play)
            if self.limit is not None and len(self._done) > self.limit:
                del self._done[: len(self._done) - self.limit]
            return play

    def take(self) -> list[Play]:
        """The plays that ended since the last take, oldest first."""
        with self._lock:
            done, self._done = self._done, []
            return done

    def put_back(self, plays: list[Play]) -> None:
        """Plays that could not be queued (a full disk): kept for the next report."""
        with self._lock:
            self._done[:0] = plays
