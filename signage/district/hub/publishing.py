"""Publishing is automatic: approval, withdrawal, expiry, a command or a board moved republishes the feeds of the
units it touches, at once; a background pass republishes every feed older than half its expiry and expires the
bulletins whose validity ended. Without a signing key (`[source] key` unset) nothing is published and the pages say so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from signage.district.hub.desk import Desk
from signage.district.hub.feeds import FeedContents, FeedSite, due_for_republish
from signage.errors import SignageError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Publisher:
    def __init__(self, desk: Desk, site: FeedSite | None, now: Clock) -> None:
        self.desk, self.site, self.now = desk, site, now
        self._lock = threading.Lock()  # one pass at a time: the expiry pass and a click never interleave a unit
        self._pending: set[str] = set()  # units whose last publication failed
        self.problem: str | None = None  # why, for every page, until a publication succeeds

    @property
    def enabled(self) -> bool:
        return self.site is not None

    def publish(self, units: Iterable[str]) -> dict[str, int]:
        """Sign and write the feed of each unit; its sequence by unit.

        A failure (a full disk, a key gone) never undoes the officer's action, which is recorded: it is logged, the
        units are kept as pending and the tending pass tries them again every minute; until one succeeds, every page
        says the feeds are not up to date (`problem`)."""
        if self.site is None:
            return {}
        wanted = set(units) | self._pending
        try:
            done = self._publish(wanted)
        except (SignageError, OSError, SQLAlchemyError) as exc:
            self._pending = wanted
            self.problem = f"Chưa xuất bản được bản tin tới bảng tin ({_first_line(exc)}); hệ thống sẽ tự thử lại mỗi phút."
            log.error("publishing the feeds of %s failed: %s", ", ".join(sorted(wanted)), exc)
            return {}
        self._pending, self.problem = set(), None
        return done

    def _publish(self, units: set[str]) -> dict[str, int]:
        assert self.site is not None
        done: dict[str, int] = {}
        with self._lock:
            moment = self.now()
            audiences = self.desk.boards_by_unit()
            commands = self.desk.live_commands(moment)
            chosen = {unit: audiences.get(unit, set()) for unit in sorted(units)}
            items = self.desk.feed_items_many(chosen)
            batch = [
                (unit, FeedContents(tuple(items[unit]), tuple(self.desk.feed_commands(unit, moment, boards, commands))))
                for unit, boards in chosen.items()
            ]
            for (unit, _), published in zip(batch, self.site.publish_many(batch, moment), strict=True):
                done[unit] = published.sequence
            self.desk.feeds_published(done, moment, moment + self.site.expires_in)
        return done

    def link_boards(self) -> None:
        """Every accepted board's link to its unit's feed (a board accepted or moved follows at once)."""
        if self.site is None:
            return
        moment = self.now()
        for board in self.desk.boards():
            if self.site.linked_unit(board.id) != board.unit:
                self.site.link_board(board.id, board.unit, moment)

    def tend(self) -> set[str]:
        """The background pass: expire what ended, republish what changed or is half-way to expiring; the units done."""
        if self.site is None:
            return set()
        moment = self.now()
        due = set(self.desk.expire_due(moment)) | self._pending
        held = self.desk.feeds()
        for unit in self.desk.feed_units():
            row = held.get(unit)
            published_at = None if row is None else datetime.fromtimestamp(row.published_at, UTC)
            if due_for_republish(published_at, moment, self.site.expires_in):
                due.add(unit)
        if due:
            self.publish(due)
            log.info("republished the feeds of %d unit(s)", len(due))
        self.link_boards()
        return due


class Tender:
    """Runs Publisher.tend every `every` in a daemon thread until stopped."""

    def __init__(self, publisher: Publisher, every: timedelta = timedelta(minutes=1)) -> None:
        self.publisher, self.every = publisher, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.publisher.site is None:
            return
        self._thread = threading.Thread(target=self._run, name="feeds", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.publisher.tend()
            except (SignageError, OSError) as exc:
                log.error("republishing the feeds failed: %s", exc)
            except Exception:
                log.exception("republishing the feeds failed")
            self._stop.wait(self.every.total_seconds())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
