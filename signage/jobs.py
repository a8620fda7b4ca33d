"""The time-driven jobs around the engine, run by apscheduler 3: they do the I/O and post events.

The engine decides what plays; these jobs keep its inputs fresh. Each job runs in the
scheduler's thread pool and never touches pygame: it puts an event on a queue that the
main loop drains between frames. Set up in one place: `Jobs.for_board`.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from signage.config import BoardConfig
from signage.model import Playable
from signage.playlist import load_playlists

log = logging.getLogger(__name__)

PLAYLIST_CHECK_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ContentChanged:
    """The board's bulletins as they now are."""

    playables: list[Playable]


Event = ContentChanged


def _stamp(paths: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    """Size and modification time of each file: what changes when a clerk saves one."""
    stamps = []
    for path in paths:
        try:
            info = os.stat(path)
            stamps.append((str(path), info.st_size, info.st_mtime_ns))
        except OSError:
            stamps.append((str(path), -1, -1))
    return tuple(stamps)


class PlaylistWatch:
    """Re-reads the local playlists when they, or the media they name, change on disk.

    A look costs a `stat` per file; the playlists are parsed and their media hashed only
    when a size or modification time moved.
    """

    def __init__(self, paths: Sequence[Path], post: Callable[[Event], None], playables: Sequence[Playable]) -> None:
        self.paths = tuple(paths)
        self.post = post
        self._media = self._media_of(playables)
        self._stamp = _stamp([*self.paths, *self._media])

    @staticmethod
    def _media_of(playables: Sequence[Playable]) -> list[Path]:
        return sorted({p.media_path for p in playables if p.media_path is not None})

    def check(self) -> bool:
        """One look; posts `ContentChanged` and returns True when something changed."""
        if _stamp([*self.paths, *self._media]) == self._stamp:
            return False
        loaded = load_playlists(self.paths)
        self._media = self._media_of(loaded.playables)
        self._stamp = _stamp([*self.paths, *self._media])
        log.info("playlists changed: %d bulletins", len(loaded.playables))
        self.post(ContentChanged(loaded.playables))
        return True


class Jobs:
    """The board's background scheduler and the queue its jobs post to."""

    def __init__(self, timezone: object) -> None:
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        self.scheduler = BackgroundScheduler(timezone=timezone, job_defaults=defaults)

    @classmethod
    def for_board(cls, config: BoardConfig, playables: Sequence[Playable], *, playlist_seconds: float = PLAYLIST_CHECK_SECONDS) -> Jobs:
        jobs = cls(config.board.timezone)
        if config.playlists:
            watch = PlaylistWatch(config.playlists, jobs.events.put, playables)
            jobs.scheduler.add_job(
                watch.check, IntervalTrigger(seconds=playlist_seconds, jitter=playlist_seconds / 10), id="playlists", name="playlist watch"
            )
        return jobs

    def start(self) -> None:
        self.scheduler.start()

    def drain(self) -> list[Event]:
        events = []
        while True:
            try:
                events.append(self.events.get_nowait())
            except queue.Empty:
                return events

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
