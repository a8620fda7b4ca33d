"""The board's reporter: builds the heartbeat report, queues screenshots, sends the queue to the hub.

Runs off the main loop (an apscheduler job, and one worker thread for screenshots). Each call
opens the board's database in its own thread and closes it; a lock keeps them one at a time.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pygame
import requests

from signage import __version__
from signage.config import BoardConfig, ReportSection
from signage.envelope import load_private_key
from signage.errors import SignageError
from signage.feed.trust import effective_now, is_stale
from signage.report.plays import PlayLog
from signage.report.queue import ReportQueue, collided
from signage.report.screenshot import png_of
from signage.report.sender import Sender
from signage.store.db import Store
from signage.store.files import ContentStore

log = logging.getLogger(__name__)

Live = Callable[[], tuple[str | None, bool | None]]  # (now playing, display on), from the player
CLOSING_TIMEOUT = (2.0, 5.0)
PENDING_BATCH = 500  # queue entries read at a time while sending  # the last report at stop must not hold up a restart
MAX_RENUMBERS = 60  # per send: each at least doubles the seq, so a hub's whole earlier numbering is passed long before


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class Reporter:
    def __init__(
        self,
        config: BoardConfig,
        plays: PlayLog,
        live: Live,
        *,
        now: Callable[[], datetime] | None = None,
        session: requests.Session | None = None,
        time_status: Callable[[], dict[str, Any]] | None = None,
        screen: tuple[int, int] | None = None,
    ) -> None:
        assert config.report is not None
        self.screen = screen  # the frame's size: the hub previews a bulletin at the sizes of the boards it targets
        self.config = config
        self.section: ReportSection = config.report
        self.key = load_private_key(self.section.key)  # a missing or bad key stops the start, naming the file
        self.plays = plays
        self.live = live
        self.time_status = time_status  # the player's: clock steps seen, playing by the feed's signed time
        self.now = now or (lambda: datetime.now(config.board.timezone))
        self.sender = Sender(self.section.url, session)
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report")
        self.last_error: str | None = None
        # Heartbeats that could not be written (a full disk): since when, how many, why. Their plays wait in memory.
        self._unwritten: tuple[datetime, int, str] | None = None

    def _open(self) -> tuple[Store, ReportQueue]:
        store = Store(self.config.board.data_dir / "board.db")
        return store, ReportQueue(store, self.key, self.config.board.id, self.config.board.timezone, self.section.queue_max)

    # -- what the board tells ----------------------------------------------------------

    def status(self, store: Store, now: datetime) -> dict[str, Any]:
        """The status block of a report: feed, screen, disk, clock."""
        record = store.feed()
        _, clock_note = effective_now(now, record.state)
        now_playing, display_on = self.live()
        data_dir = self.config.board.data_dir
        try:
            cache_bytes = ContentStore(data_dir / "media").usage() if (data_dir / "media").is_dir() else 0
            disk_free = shutil.disk_usage(data_dir).free
        except OSError:
            cache_bytes, disk_free = 0, 0
        feed = self.config.feed is not None
        return {
            "version": __version__,
            "uptime_s": round(time.monotonic() - self.started),
            "feed_sequence": record.state.sequence if feed else None,
            "feed_stale": bool(feed and (record.expires_at is None or is_stale(record.expires_at, now, record.state))),
            "last_sync_at": _iso(record.last_sync_at),
            "last_error": record.last_error or self.last_error,
            "now_playing": now_playing,
            "display_on": display_on,
            "cache_bytes": cache_bytes,
            "disk_free_bytes": disk_free,
            "clock": now.isoformat(),
            "clock_behind_trusted": clock_note is not None,
            "feed_notes": record.notes,  # e.g. a lower sequence accepted once after a key rotation
            "heartbeat_s": self.section.heartbeat_seconds,
            **({"screen": list(self.screen)} if self.screen else {}),
            **(self.time_status() if self.time_status is not None else {}),
        }

    def heartbeat(self, *, timeout: tuple[float, float] | None = None) -> int | None:
        """Queue a report with the plays since the last one, then send what waits; its seq, or None.

        A report that cannot be written (a full disk, a store that will not open) loses nothing: its
        plays go back and travel in the next report that is written, with a line saying what happened.
        """
        with self._lock:
            plays = self.plays.take()
            now = self.now()
            try:
                store, queue = self._open()
            except SignageError as exc:
                self.plays.put_back(plays)
                self._not_written(exc, now)
                return None
            try:
                status = self.status(store, now)
                seq = queue.add_report(status, plays, now, incidents=self._written_again(now, len(plays)))
            except (SignageError, OSError) as exc:
                self.plays.put_back(plays)
                self._not_written(exc, now)
                store.close()
                return None
            if self._unwritten is not None:
                since, missed, _ = self._unwritten
                log.warning("report: written again (seq %d) after %d heartbeat(s) could not be, since %s; no play lost", seq, missed, since)
                self._unwritten = None
            try:
                self._send(queue, timeout)
            finally:
                store.close()
            return seq

    def _not_written(self, exc: BaseException, now: datetime) -> None:
        """One line when a condition starts (not one per heartbeat); counted until a report is written again."""
        message = str(exc) if isinstance(exc, SignageError) else f"{self.config.board.data_dir}: {exc}"
        since, missed, previous = self._unwritten or (now, 0, "")
        self._unwritten = (since, missed + 1, message)
        if message != previous and not (isinstance(exc, SignageError) and exc.repeat):  # told once: here or by another job
            log.error("report: cannot write the report (its plays are kept in memory until it can): %s", message)

    def _written_again(self, now: datetime, plays: int) -> list[tuple[str, str, datetime]]:
        """The incident to tell in the first report written after some could not be."""
        if self._unwritten is None:
            return []
        since, missed, message = self._unwritten
        kind = "disk_full" if "disk is full" in message else "report_not_written"
        detail = (
            f"{message}: {missed} heartbeat(s) from {since:%Y-%m-%d %H:%M:%S} to {now:%H:%M:%S} could not be written; "
            f"their plays ({plays} in all) are in this report"
        )
        return [(kind, detail, since)]

    def screenshot(self, surface: pygame.Surface, command_id: str | None = None) -> Future[int | None]:
        """Queue `surface` (a copy the caller made of the frame) as a screenshot, and send; off the loop."""
        return self._pool.submit(self._screenshot, surface, command_id)

    def _screenshot(self, surface: pygame.Surface, command_id: str | None) -> int | None:
        with self._lock:
            try:
                store, queue = self._open()
            except SignageError as exc:
                log.error("report: %s", exc)
                return None
            try:
                now = self.now()
                board, width = self.config.board.id, self.section.screenshot_width
                seq = queue.add_screenshot(lambda s: png_of(surface, width, board=board, seq=s, taken_at=now, command=command_id), now)
                if command_id is not None:
                    store.command_done(command_id, f"ok: ảnh màn hình số {seq}")  # the officer reads it on the board's page
                log.info("screenshot seq %d queued%s", seq, f" for command {command_id}" if command_id else "")
                self._send(queue, None)
                return seq
            except (SignageError, OSError, pygame.error) as exc:
                log.error("report: screenshot: %s", exc)
                if command_id is not None:
                    store.command_done(command_id, f"failed: không chụp được màn hình ({exc})")
                return None
            finally:
                store.close()

    def send(self) -> int:
        """Send what waits in the queue now; how many the hub took."""
        with self._lock:
            store, queue = self._open()
            try:
                return self._send(queue, None)
            finally:
                store.close()

    def _send(self, queue: ReportQueue, timeout: tuple[float, float] | None) -> int:
        previous = self.sender.timeout
        if timeout is not None:
            self.sender.timeout = timeout
        try:
            return self._send_all(queue)
        except SignageError as exc:  # the queue itself failed (a full disk will not even take a deletion): next time
            if self.last_error != str(exc) and not exc.repeat:
                log.error("report: %s", exc)
            self.last_error = str(exc)
            return 0
        finally:
            self.sender.timeout = previous

    def _send_all(self, queue: ReportQueue) -> int:
        sent = 0
        renumbered = 0
        while True:
            batch = queue.pending(PENDING_BATCH)
            failed = moved = False
            for entry in batch:
                queue.sending(entry)
                outcome = self.sender.post(entry)
                if collided(entry, duplicate=outcome.duplicate, same=outcome.same, collision=outcome.collision):
                    if renumbered >= MAX_RENUMBERS:
                        return sent  # the hub keeps saying so: try again at the next heartbeat
                    epoch, first, count = queue.renumber(entry.seq, self.now())
                    renumbered += 1
                    (log.warning if renumbered == 1 else log.info)(
                        "report: the hub holds another report under seq %d (this board's report queue was made afresh): "
                        "%d report(s) renumbered from %d in epoch %s",
                        entry.seq,
                        count,
                        first,
                        epoch,
                    )
                    moved = True
                    break  # the queue's seqs moved: read it again
                if outcome.delivered:
                    queue.delivered(entry.seq)
                    sent += 1
                    continue
                assert outcome.error is not None
                failed = True
                queue.failed(entry.seq, outcome.error, uncertain=entry.uncertain or outcome.uncertain)
                if self.last_error != outcome.error:
                    log.warning("report: seq %d not delivered: %s", entry.seq, outcome.error)
                self.last_error = outcome.error
                if outcome.stop:
                    return sent
            if moved:
                continue
            if failed:  # a refused entry stays queued for the next heartbeat; the rest went
                return sent
            if len(batch) < PENDING_BATCH:  # all of it delivered
                self.last_error = None
                return sent

    def close(self) -> None:
        """The last report (the plays up to now), sent if the hub answers quickly; kept in the queue if not."""
        self._pool.shutdown(wait=True)
        self.heartbeat(timeout=CLOSING_TIMEOUT)
