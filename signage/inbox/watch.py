"""Watching the drop folder: watchdog marks it dirty, a short apscheduler job looks, a rescan catches what events miss."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime

from watchdog.events import FileClosedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from signage.config import BoardConfig
from signage.errors import SignageError
from signage.inbox.ingest import Inbox
from signage.store.db import Store
from signage.store.files import ContentStore

log = logging.getLogger(__name__)

RESCAN_SECONDS = 30.0  # network shares and some filesystems miss events: look anyway this often


class _Marks(FileSystemEventHandler):
    """Runs in watchdog's thread: only notes that something happened (and which files were completed)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.dirty = threading.Event()
        self.lock = threading.Lock()
        self.closed: dict[str, float] = {}

    def on_any_event(self, event: FileSystemEvent) -> None:
        # A writer closing a file, or a finished copy renamed into place, marks it complete.
        finished = event.src_path if isinstance(event, FileClosedEvent) else event.dest_path if isinstance(event, FileMovedEvent) else ""
        if finished:
            name = os.path.relpath(os.fsdecode(finished), self.folder)  # `Thang 11/Thong bao.jpg` in a subfolder
            with self.lock:
                self.closed[name] = time.monotonic()
        self.dirty.set()


class InboxWatch:
    """The drop folder, watched: `tick()` is cheap when nothing moved and takes files once they hold still."""

    def __init__(self, config: BoardConfig, changed: Callable[[list[str]], None]) -> None:
        assert config.inbox is not None
        self.config = config
        self.changed = changed
        data = config.board.data_dir
        self.inbox = Inbox(config, ContentStore(data / "media"), lambda: datetime.now(config.board.timezone))
        self.marks = _Marks(str(config.inbox.path))
        self.marks.dirty.set()  # the first tick looks at what is already there
        self.observer = Observer()
        self.observer.schedule(self.marks, str(config.inbox.path), recursive=True)  # subfolders are taken too
        self._last_scan = 0.0

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)

    def tick(self) -> None:
        clock = time.monotonic()
        due = clock - self._last_scan >= RESCAN_SECONDS
        if not (self.marks.dirty.is_set() or self.inbox.waiting or due):
            return
        self.marks.dirty.clear()
        self._last_scan = clock
        with self.marks.lock:
            closed = dict(self.marks.closed)
            self.marks.closed.clear()
        try:
            store = Store(self.config.board.data_dir / "board.db")  # a connection of this thread's own
            try:
                changes = self.inbox.poll(store, clock, closed=closed)
            finally:
                store.close()
        except SignageError as exc:
            if not exc.repeat:  # a full disk is told once, by whichever job meets it first
                log.error("%s", exc)
            return
        if changes:
            self.changed(changes)
