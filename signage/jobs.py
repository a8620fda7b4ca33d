"""The time-driven jobs around the engine, run by apscheduler 3: they do the I/O and post events.

The engine decides what plays; these jobs keep its inputs fresh. Each job runs in the
scheduler's thread pool and never touches pygame: it puts an event on a queue that the
main loop drains between frames. Set up in one place: `Jobs.for_board`.

apscheduler 3 plans on the wall clock: stepped back an hour, it would run nothing for an hour;
forward a day, it would count a day of missed runs. `SteadyJobStore` holds each job's time to
its next run across a step instead, so intervals are durations whatever the clock does.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from signage.boardtime import JUMP_TOLERANCE_S, clock_step, describe_seconds
from signage.config import BoardConfig
from signage.errors import SignageError
from signage.model import Action, Playable

if TYPE_CHECKING:
    from signage.inbox.watch import InboxWatch
    from signage.report.reporter import Reporter

log = logging.getLogger(__name__)

PLAYLIST_CHECK_SECONDS = 10.0
UNREACHABLE_BACKOFF_CAP_S = 600.0  # a feed down for long is tried at least every ten minutes
INBOX_TICK_SECONDS = 0.25  # cheap when nothing moved: a look at an in-memory flag


@dataclass(frozen=True, slots=True)
class ContentChanged:
    """The board's bulletins as they now are; `waiting`: ids held whose (new revision's) media is not here yet."""

    playables: list[Playable]
    waiting: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SignedTime:
    """The feed the board holds was signed at `generated_at`: a time that has certainly passed."""

    generated_at: datetime


@dataclass(frozen=True, slots=True)
class RunCommands:
    """District commands for this board, already recorded as run: (id, action), in order."""

    commands: list[tuple[str, Action]]


Event = ContentChanged | RunCommands | SignedTime
Reload = Callable[[], list[Playable]]
Waiting = Callable[[Sequence[Playable]], frozenset[str]]


def _nothing_waits(playables: Sequence[Playable]) -> frozenset[str]:
    return frozenset()


def waiting_for_media(config: BoardConfig) -> Waiting:
    """What the board holds but cannot play yet (a republished image whose new file is still downloading),
    so the player says a bulletin leaving for that reason was `revised`, not withdrawn or expired."""
    if config.feed is None and config.inbox is None:
        return _nothing_waits

    def waiting(playables: Sequence[Playable]) -> frozenset[str]:
        from signage.feed.sync import open_store
        from signage.model import Source

        ready = {p.bulletin.id for p in playables}
        sources = ([Source.FEED] if config.feed is not None else []) + ([Source.INBOX] if config.inbox is not None else [])
        try:
            store, _ = open_store(config)
            try:
                held = {bulletin.id for source in sources for bulletin in store.bulletins(source)}
            finally:
                store.close()
        except SignageError:
            return frozenset()  # the content reload has said what went wrong
        return frozenset(held - ready)

    return waiting


class SteadyJobStore(MemoryJobStore):
    """apscheduler's memory job store, with each job's next run moved along when the wall clock steps.

    apscheduler compares run times with `datetime.now()`. Each time it looks (and whenever a job is
    added or changed), the store compares the wall clock's progress with the monotonic clock's, and on
    a step moves every next run by the step: a job due in 40 s is still due in 40 s. So a heartbeat or a
    poll keeps its rhythm; nothing stalls for the hour a clock went back, nothing bursts for a day it went forward.
    """

    def __init__(
        self,
        *,
        wall: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        tolerance_s: float = JUMP_TOLERANCE_S,
    ) -> None:
        super().__init__()
        self.wall, self.monotonic, self.tolerance_s = wall, monotonic, tolerance_s
        self._last: tuple[datetime, float] | None = None
        self.steps = 0

    def _follow(self, now: datetime) -> None:
        mono = self.monotonic()
        last, self._last = self._last, (now, mono)
        if last is None:
            return
        step = clock_step(last[0], last[1], now, mono, self.tolerance_s)
        if step is None:
            return
        self.steps += 1
        by = timedelta(seconds=step)
        for job in super().get_all_jobs():
            if job.next_run_time is not None:
                job._modify(next_run_time=job.next_run_time + by)
                super().update_job(job)
        # The player logs the step once, for everyone; this is the detail.
        way = "forward" if step > 0 else "back"
        log.debug("jobs: the clock stepped %s %s: each job keeps its time to run", way, describe_seconds(step))

    def get_due_jobs(self, now: datetime) -> list[Job]:
        self._follow(now)
        return super().get_due_jobs(now)

    def add_job(self, job: Job) -> None:
        self._follow(self.wall())
        super().add_job(job)

    def update_job(self, job: Job) -> None:
        self._follow(self.wall())
        super().update_job(job)


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
    """Re-reads the board's content when a playlist, or a medium it names, changes on disk.

    A look costs a `stat` per file; the content is reloaded only when a size or a
    modification time moved.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        post: Callable[[Event], None],
        reload: Reload,
        playables: Sequence[Playable],
        waiting: Waiting = _nothing_waits,
    ) -> None:
        self.paths = tuple(paths)
        self.post = post
        self.reload = reload
        self.waiting = waiting
        self._media = self._media_of(playables)
        self._stamp = _stamp([*self.paths, *self._media])

    @staticmethod
    def _media_of(playables: Sequence[Playable]) -> list[Path]:
        return sorted({p.media_path for p in playables if p.media_path is not None})

    def check(self) -> bool:
        """One look; posts `ContentChanged` and returns True when something changed."""
        if _stamp([*self.paths, *self._media]) == self._stamp:
            return False
        playables = self.reload()
        self._media = self._media_of(playables)
        self._stamp = _stamp([*self.paths, *self._media])
        log.info("playlists changed: %d bulletins", len(playables))
        self.post(ContentChanged(playables, self.waiting(playables)))
        return True


def unreachable_backoff_s(failures: int, poll_seconds: float, rng: random.Random, cap_s: float = UNREACHABLE_BACKOFF_CAP_S) -> float:
    """How long to leave a feed alone after `failures` unreachable polls in a row: 0 after none, then
    doubling from one interval up to `cap_s`, each drawn in its upper half (a district's boards, cut off
    together, come back spread out rather than all at once when the server returns)."""
    if failures <= 0:
        return 0.0
    ceiling = min(max(cap_s, poll_seconds), poll_seconds * 2.0 ** min(failures - 1, 32))
    return rng.uniform(ceiling / 2, ceiling)


class FeedPoll:
    """Pulls the district feed; when what the board holds changed, posts the new content.

    While the feed cannot be reached, polls are skipped with a growing backoff (on the monotonic clock,
    so a clock that jumps neither stops nor hurries them); a district `sync` command (`wake`) ends it.
    """

    def __init__(
        self,
        config: BoardConfig,
        post: Callable[[Event], None],
        reload: Reload,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        waiting: Waiting = _nothing_waits,
    ) -> None:
        from signage.feed.http import Fetcher

        self.config = config
        self.post = post
        self.reload = reload
        self.waiting = waiting
        self._signed: datetime | None = None  # the signed time last told to the player
        self.fetcher = Fetcher()
        self.monotonic, self.sleep, self.rng = monotonic, sleep, rng or random.Random()
        self.failures = 0
        self._quiet_until = 0.0

    def wake(self) -> None:
        """The next run pulls whatever the backoff said."""
        self._quiet_until = 0.0

    def run(self) -> None:
        from signage.feed.sync import open_store, sync

        if self.monotonic() < self._quiet_until:
            return
        try:
            store, files = open_store(self.config)
        except SignageError as exc:
            if not exc.repeat:  # a full disk is told once, by whichever job meets it first
                log.error("%s", exc)
            return
        now = datetime.now(self.config.board.timezone)
        try:
            result = sync(self.config, store, files, self.fetcher, lambda: datetime.now(self.config.board.timezone), sleep=self.sleep)
            due = store.claim_commands(now)  # recorded as run before they run
            signed = store.feed().generated_at
        except SignageError as exc:  # recorded where it could be; never fatal to the board
            if not exc.repeat:
                log.error("%s", exc)
            return
        finally:
            store.close()
        if signed is not None and signed != self._signed:
            self._signed = signed
            self.post(SignedTime(signed))
        if due:
            self.post(RunCommands(due))
        if result.outcome == "unreachable":
            assert self.config.feed is not None
            self.failures += 1
            wait = unreachable_backoff_s(self.failures, self.config.feed.poll_seconds, self.rng)
            self._quiet_until = self.monotonic() + wait
            log.warning("feed: %s (unreachable %d time(s) in a row; next try in %.0f s)", "; ".join(result.errors), self.failures, wait)
            return
        if self.failures:
            log.info("feed: reachable again after %d failed poll(s)", self.failures)
        self.failures, self._quiet_until = 0, 0.0
        if result.ok:
            log.info("feed: %s", "; ".join(result.lines()[:1] + result.lines()[1:2]))
        for line in result.errors + result.notes:
            log.warning("feed: %s", line)
        if result.content_changed:
            playables = self.reload()
            self.post(ContentChanged(playables, self.waiting(playables)))


class Jobs:
    """The board's background scheduler and the queue its jobs post to."""

    def __init__(self, timezone: tzinfo) -> None:
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        self.store = SteadyJobStore(wall=lambda: datetime.now(timezone))
        self.scheduler = BackgroundScheduler(timezone=timezone, job_defaults=defaults, jobstores={"default": self.store})
        self.inbox: InboxWatch | None = None
        self.feed: FeedPoll | None = None

    @classmethod
    def for_board(
        cls,
        config: BoardConfig,
        playables: Sequence[Playable],
        reload: Reload,
        *,
        playlist_seconds: float = PLAYLIST_CHECK_SECONDS,
        reporter: Reporter | None = None,
    ) -> Jobs:
        """Every time-driven job of the board, in one place."""
        jobs = cls(config.board.timezone)
        waiting = waiting_for_media(config)
        if config.playlists:
            watch = PlaylistWatch(config.playlists, jobs.events.put, reload, playables, waiting)
            trigger = IntervalTrigger(seconds=playlist_seconds, jitter=playlist_seconds / 10)
            jobs.scheduler.add_job(watch.check, trigger, id="playlists", name="playlist watch")
        if config.inbox is not None:
            from signage.inbox.watch import InboxWatch

            def inbox_changed(changes: list[str]) -> None:
                playables = reload()
                jobs.events.put(ContentChanged(playables, waiting(playables)))

            jobs.inbox = InboxWatch(config, inbox_changed)
            jobs.scheduler.add_job(jobs.inbox.tick, IntervalTrigger(seconds=INBOX_TICK_SECONDS), id="inbox", name="drop folder")
        if config.feed is not None:
            poll = jobs.feed = FeedPoll(config, jobs.events.put, reload, waiting=waiting)
            # Jitter spreads a district's boards over the interval; the first pull is at start.
            trigger = IntervalTrigger(seconds=config.feed.poll_seconds, jitter=config.feed.poll_seconds / 5)
            jobs.scheduler.add_job(poll.run, trigger, id="feed", name="feed poll", next_run_time=datetime.now(config.board.timezone))
        if reporter is not None and config.report is not None:
            seconds = config.report.heartbeat_seconds
            # The first report soon after start: the hub learns the board is back.
            first = datetime.now(config.board.timezone) + timedelta(seconds=min(5.0, seconds))
            trigger = IntervalTrigger(seconds=seconds, jitter=min(seconds / 10, 30))
            jobs.scheduler.add_job(reporter.heartbeat, trigger, id="report", name="report heartbeat", next_run_time=first)
        return jobs

    def run_now(self, job_id: str) -> bool:
        """Run a job at once (a district `sync` command); False when the board has no such job."""
        job = self.scheduler.get_job(job_id)
        if job is None:
            return False
        if job_id == "feed" and self.feed is not None:
            self.feed.wake()
        job.modify(next_run_time=datetime.now(self.scheduler.timezone))
        return True

    def start(self) -> None:
        if self.inbox is not None:
            self.inbox.start()
        self.scheduler.start()

    def drain(self) -> list[Event]:
        events = []
        while not self.events.empty():  # asked every frame: no queue.Empty raised and caught 60 times a second
            events.append(self.events.get_nowait())  # the loop is the only taker: what is there stays there
        return events

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.inbox is not None:
            self.inbox.stop()
