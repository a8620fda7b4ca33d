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
from signage.report.queue import ReportQueue
from signage.report.screenshot import png_of
from signage.report.sender import Sender
from signage.store.db import Store
from signage.store.files import ContentStore

log = logging.getLogger(__name__)

Live = Callable[[], tuple[str | None, bool | None]]  # (now playing, display on), from the player
CLOSING_TIMEOUT = (2.0, 5.0)
PENDING_BATCH = 500  # queue entries read at a time while sending  # the last report at stop must not hold up a restart


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
    ) -> None:
        assert config.report is not None
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
            **(self.time_status() if self.time_status is not None else {}),
        }

    def heartbeat(self, *, timeout: tuple[float, float] | None = None) -> int | None:
        """Queue a report with the plays since the last one, then send what waits; its seq, or None."""
        with self._lock:
            plays = self.plays.take()
            try:
                store, queue = self._open()
            except SignageError as exc:
                self.plays.put_back(plays)
                log.error("report: %s", exc)
                return None
            try:
                now = self.now()
                seq = queue.add_report(self.status(store, now), plays, now)
            except (SignageError, OSError) as exc:
                self.plays.put_back(plays)
                log.error("report: cannot queue the report: %s", exc)
                store.close()
                return None
            try:
                self._send(queue, timeout)
            finally:
                store.close()
            return seq

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
                    store.command_done(command_id, f"ok: screenshot seq {seq}")
                log.info("screenshot seq %d queued%s", seq, f" for command {command_id}" if command_id else "")
                self._send(queue, None)
                return seq
            except (SignageError, OSError, pygame.error) as exc:
                log.error("report: screenshot: %s", exc)
                if command_id is not None:
                    store.command_done(command_id, f"failed: {exc}")
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
        sent = 0
        previous = self.sender.timeout
        if timeout is not None:
            self.sender.timeout = timeout
        try:
            while True:
                batch = queue.pending(PENDING_BATCH)
                failed = False
                for entry in batch:
                    outcome = self.sender.post(entry)
                    if outcome.delivered:
                        queue.delivered(entry.seq)
                        sent += 1
                        continue
                    assert outcome.error is not None
                    failed = True
                    queue.failed(entry.seq, outcome.error, uncertain=outcome.uncertain)
                    if self.last_error != outcome.error:
                        log.warning("report: seq %d not delivered: %s", entry.seq, outcome.error)
                    self.last_error = outcome.error
                    if outcome.stop:
                        return sent
                if failed:  # a refused entry stays queued for the next heartbeat; the rest went
                    return sent
                if len(batch) < PENDING_BATCH:  # all of it delivered
                    self.last_error = None
                    return sent
        finally:
            self.sender.timeout = previous

    def close(self) -> None:
        """The last report (the plays up to now), sent if the hub answers quickly; kept in the queue if not."""
        self._pool.shutdown(wait=True)
        self.heartbeat(timeout=CLOSING_TIMEOUT)
