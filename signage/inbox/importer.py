"""`signage import PATH`: files from a folder (a USB stick's BANGTIN/) copied into the drop folder and taken at once.

The stick is the attacker's: its folder and every folder below are opened without following links,
each file through a descriptor checked to be a regular file with one link (`reading.py`), and only
that descriptor is read. Links, pipes and devices are not copied; each is told, one line, and noted
in quarantine with its reason so that `signage status` shows it. One bad file never stops the others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from signage.config import BoardConfig
from signage.errors import SignageError, StoreError
from signage.inbox.ingest import Inbox, quarantine_name, write_reason
from signage.inbox.reading import Refused, copy_hashing, open_folder, open_regular
from signage.inbox.rules import ignored, reason_line
from signage.store.db import Store
from signage.store.files import ContentStore, fsync_dir
from signage.text import printable

log = logging.getLogger(__name__)

MAX_DEPTH = 8  # folders below BANGTIN/ that are looked into; deeper ones are told, not walked
# Folders of the systems that wrote the stick, never a clerk's notices (hidden ones start with "." or "$").
SYSTEM_FOLDERS = frozenset({"System Volume Information", "LOST.DIR", "lost+found"})


@dataclass
class _Outcome:
    copied: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (shown path, reason code, detail)


def _skipped_folder(name: str) -> bool:
    return name.startswith((".", "$")) or name in SYSTEM_FOLDERS


def import_folder(config: BoardConfig, source: Path) -> list[str]:
    """Copy every file under `source` into the drop folder (atomically: a hidden name, then a rename), then take them.

    The copies are complete, so nothing waits to hold still: a file that will not decode is set aside at once.
    """
    if config.inbox is None:
        raise SignageError(f"{config.path}: no [inbox] section: nowhere to import into")
    inbox = config.inbox.path
    inbox.mkdir(parents=True, exist_ok=True)
    outcome = _Outcome()
    root_fd = _open_source(source)
    inbox_fd = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _copy_folder(root_fd, "", 0, inbox, inbox_fd, outcome)
    finally:
        os.close(root_fd)
        os.close(inbox_fd)
    fsync_dir(inbox)
    lines = [f"copied {len(outcome.copied)} file(s) from {printable(str(source))} into {inbox}"]
    lines += [f"not copied: {_note_refusal(config, shown, code, detail)}" for shown, code, detail in outcome.refused]
    store = Store(config.board.data_dir / "board.db")
    try:
        taker = Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: datetime.now(config.board.timezone))
        changes = taker.poll(store, time.monotonic(), settle=0, patience=0)
    finally:
        store.close()
    return [*lines, *changes]


def _open_source(source: Path) -> int:
    """The source folder's descriptor; its last component must be a real folder, not a link on the stick.

    The path is read as written (`usb/BANGTIN/..` is `usb`, never the parent of where a link points);
    the folders above it (the mount point) are the system's and may be links.
    """
    plain = Path(os.path.abspath(source))
    shown = printable(str(source))
    try:
        if plain.parent == plain:  # the root folder itself
            return os.open(plain, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        parent_fd = os.open(plain.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return open_folder(plain.name, parent_fd)
        finally:
            os.close(parent_fd)
    except Refused:
        raise SignageError(
            f"{shown}: không phải thư mục thật (là liên kết hoặc tệp): không nhập / not a real folder (a link or a file): nothing imported"
        ) from None
    except OSError as exc:
        raise SignageError(f"{shown}: not a folder: {exc.strerror}") from None


def _copy_folder(folder_fd: int, where: str, depth: int, inbox: Path, inbox_fd: int, outcome: _Outcome) -> None:
    """Copy the plain files of one folder of the stick, then its real subfolders (never a link to one)."""
    with os.scandir(folder_fd) as found:
        entries = sorted(found, key=lambda entry: entry.name)
    for entry in entries:
        name = entry.name
        shown = f"{where}/{name}" if where else name
        try:
            if entry.is_dir(follow_symlinks=False):
                if _skipped_folder(name):
                    continue
                if depth >= MAX_DEPTH:
                    outcome.refused.append((shown, "deep", f"more than {MAX_DEPTH} folders deep"))
                    continue
                sub_fd = open_folder(name, folder_fd)
                try:
                    _copy_folder(sub_fd, shown, depth + 1, inbox, inbox_fd, outcome)
                finally:
                    os.close(sub_fd)
                continue
            if ignored(name) and not name.endswith(".toml"):
                continue
            if not entry.is_file(follow_symlinks=False):  # from the folder listing: a FIFO is never opened
                raise Refused("link", "symbolic link") if entry.is_symlink() else Refused("special", "pipe, device or socket")
            _copy_file(folder_fd, name, inbox, inbox_fd)
            outcome.copied.append(shown)
        except Refused as refusal:
            outcome.refused.append((shown, refusal.code, refusal.detail))
        except (OSError, StoreError) as exc:
            outcome.refused.append((shown, "unreadable", getattr(exc, "strerror", None) or str(exc)))


def _copy_file(folder_fd: int, name: str, inbox: Path, inbox_fd: int) -> None:
    """One file, from its checked descriptor, into the drop folder under a short hidden name, then renamed into place."""
    fd, _ = open_regular(name, folder_fd)
    try:
        # Short and random: a name derived from a 255-byte one would not fit; `.part` and `.*` are never taken.
        temporary = f".import-{os.getpid()}-{secrets.token_hex(4)}.part"
        out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=inbox_fd)
        try:
            with os.fdopen(out, "wb") as writer:
                copy_hashing(fd, writer)
            os.replace(temporary, name, src_dir_fd=inbox_fd, dst_dir_fd=inbox_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=inbox_fd)
            raise
    except OSError as exc:
        raise StoreError(f"{printable(name)}: cannot copy into {inbox}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _note_refusal(config: BoardConfig, shown: str, code: str, detail: str) -> str:
    """The refusal's line, also written to quarantine (the clerk reads `signage status`, not the import's log)."""
    assert config.inbox is not None
    quarantine = config.inbox.quarantine
    name = shown.rsplit("/", 1)[-1]
    line = reason_line(shown, code, detail)
    try:
        quarantine.mkdir(parents=True, exist_ok=True)
        write_reason(quarantine, quarantine_name(quarantine, name), line)
    except (OSError, StoreError) as exc:
        log.error("%s: cannot note in quarantine: %s", printable(shown), exc)
    return line
