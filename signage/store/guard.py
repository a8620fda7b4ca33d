"""SQLite's failures as the board's own errors, one line naming the file; a damaged file set aside; a full disk told once.

Every connection the store opens is guarded: a damaged page (SQLITE_CORRUPT, SQLITE_NOTADB) becomes
`StoreDamaged`, a full disk `DiskFull`, an unreadable or locked file `StoreError`, wherever the
query runs (a page may be read only when a row is fetched). Mistakes in our own SQL stay sqlite3
errors: those are bugs, and a traceback is what finds them.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from signage.errors import DiskFull, StoreDamaged, StoreError

log = logging.getLogger(__name__)

DAMAGED_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
TROUBLE_CODES = frozenset(
    {
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_PROTOCOL,
    }
)
DAMAGED_KEPT = 3  # copies set aside for a post-mortem; a failing disk must not fill itself with them
NEARLY_FULL_BYTES = 1 << 20  # below this, SQLite's I/O errors (no room for a -shm or WAL frame) are a full disk
SIDE_FILES = ("-wal", "-shm")


class DiskCondition:
    """A full disk is one condition of the machine however many connections meet it: noticed once, and once when it ends.

    Process-wide on purpose: the heartbeat, the feed poll and the drop folder each meet it in their
    own thread, and the log should say it once, not once per poll.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: datetime | None = None

    def full(self) -> bool:
        """The disk was found full; True when that is news (the first time since it last had room)."""
        with self._lock:
            if self.since is not None:
                return False
            self.since = datetime.now().astimezone()
            return True

    def room(self, path: Path) -> datetime | None:
        """A write went through; returns when the disk had filled, if it had (and logs that it has room again)."""
        with self._lock:
            since, self.since = self.since, None
        if since is not None:
            minutes = (datetime.now().astimezone() - since).total_seconds() / 60
            log.warning("%s: the disk has room again (it was full for %.0f min since %s)", path, minutes, f"{since:%Y-%m-%d %H:%M:%S}")
        return since


DISK = DiskCondition()

# Files (device, inode) whose pages passed `PRAGMA quick_check` in this process: checked at the first
# open, not at every one (the drop folder's tick opens the store often), and again once damage was met.
_checked: set[tuple[int, int]] = set()
_checked_lock = threading.Lock()
RECOVERY_LOCK = threading.Lock()  # one thread at a time sets a damaged file aside


def identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def needs_check(path: Path) -> bool:
    found = identity(path)
    with _checked_lock:
        return found is not None and found not in _checked


def passed_check(path: Path) -> None:
    found = identity(path)
    if found is not None:
        with _checked_lock:
            _checked.add(found)


def suspect(path: Path) -> None:
    """Damage was met in `path`: the next open checks it again (and sets it aside if it fails)."""
    found = identity(path)
    with _checked_lock:
        _checked.discard(found)  # type: ignore[arg-type]


def disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def translate(exc: sqlite3.Error, path: Path) -> Exception:
    """The board's error for a sqlite3 one, or `exc` itself when it is a mistake in the SQL."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in DAMAGED_CODES:
        suspect(path)
        return StoreDamaged(f"{path}: damaged ({exc})")
    if primary == sqlite3.SQLITE_FULL or (primary in TROUBLE_CODES and disk_full(path.parent)):
        return DiskFull(f"{path}: cannot write: the disk is full", first=DISK.full())
    if primary in TROUBLE_CODES:
        return StoreError(f"{path}: {exc}")
    return exc


class GuardedCursor(sqlite3.Cursor):
    """A cursor whose every step raises the board's errors (a page is read when a row is fetched, too)."""

    connection: GuardedConnection

    def _fail(self, exc: sqlite3.Error) -> Exception:
        return translate(exc, self.connection.path)

    def execute(self, sql: str, parameters: Any = (), /) -> GuardedCursor:  # type: ignore[override]
        try:
            return super().execute(sql, parameters)  # type: ignore[return-value]
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def executemany(self, sql: str, parameters: Any, /) -> GuardedCursor:  # type: ignore[override]
        try:
            return super().executemany(sql, parameters)  # type: ignore[return-value]
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def executescript(self, script: str, /) -> GuardedCursor:  # type: ignore[override]
        try:
            return super().executescript(script)  # type: ignore[return-value]
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size if size is not None else self.arraysize)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None


class GuardedConnection(sqlite3.Connection):
    """A connection whose `execute` goes through a `GuardedCursor` (sqlite3's own would bypass `cursor()`)."""

    path: Path

    def cursor(self, factory: Any = GuardedCursor) -> GuardedCursor:  # type: ignore[override]
        return super().cursor(factory)  # type: ignore[no-any-return]

    def execute(self, sql: str, parameters: Any = (), /) -> GuardedCursor:  # type: ignore[override]
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> GuardedCursor:  # type: ignore[override]
        return self.cursor().executemany(sql, parameters)

    def executescript(self, script: str, /) -> GuardedCursor:  # type: ignore[override]
        return self.cursor().executescript(script)


def connect(path: Path, *, timeout: float = 30) -> GuardedConnection:
    try:
        connection = sqlite3.connect(path, timeout=timeout, isolation_level=None, factory=GuardedConnection)
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    connection.path = path
    return connection  # type: ignore[return-value]


def aside_name(path: Path, moment: datetime) -> Path:
    """`board.db` → `board.damaged-20261123T090500.db` (its -wal and -shm keep the pairing SQLite expects)."""
    stamp = f"{moment:%Y%m%dT%H%M%S}"
    candidate = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}.damaged-{stamp}-{number}{path.suffix}")
    return candidate


def set_aside(path: Path, moment: datetime, keep: int = DAMAGED_KEPT) -> Path:
    """Move a damaged database (with its -wal and -shm) aside for a post-mortem; keep the newest `keep` such copies."""
    target = aside_name(path, moment)
    for side in SIDE_FILES:  # the WAL first: a crash in between leaves the main file to be set aside again
        source = path.with_name(path.name + side)
        if source.exists():
            os.replace(source, target.with_name(target.name + side))
    os.replace(path, target)
    copies = sorted(path.parent.glob(f"{path.stem}.damaged-*{path.suffix}"))  # oldest first: the names carry the time
    for old in copies[: max(0, len(copies) - keep)]:
        for name in (old.name, *(old.name + side for side in SIDE_FILES)):
            old.with_name(name).unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target
