"""Content-addressed files: media stored under their SHA-256, written so a power cut never leaves half a file."""

from __future__ import annotations

import logging
import os
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from signage.errors import StoreError

log = logging.getLogger(__name__)

SHA256_NAME = re.compile(r"[0-9a-f]{64}")
STALE_STAGING_SECONDS = 86400.0  # a staged copy this old was left by a process that died: removed by `collect`


def _new_file(folder: Path, suffix: str = "", mode: int = 0o666, access: int = os.O_WRONLY) -> tuple[int, Path]:
    """A new file in `folder` with a short random name: a name derived from a long one (255 bytes) would not fit."""
    while True:
        temporary = folder / f".tmp-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
        try:
            return os.open(temporary, access | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode), temporary
        except FileExistsError:
            continue


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path`: a temporary file in the same folder, fsync, rename, fsync the folder."""
    try:
        fd, temporary = _new_file(path.parent)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fsync_dir(path.parent)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise StoreError(f"{path}: cannot write: {exc.strerror}") from None


class ContentStore:
    """`<root>/assets/<sha256>` for verified media; `<root>/partial/<sha256>` for downloads in progress;
    `<root>/staging/` for private copies of local files while they are checked (see `stage`)."""

    def __init__(self, root: Path) -> None:
        self.assets = Path(root) / "assets"
        self.partial_dir = Path(root) / "partial"
        self.staging_dir = Path(root) / "staging"
        try:
            self.assets.mkdir(parents=True, exist_ok=True)
            self.partial_dir.mkdir(parents=True, exist_ok=True)
            self.staging_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{root}: cannot create the media store: {exc.strerror}") from None

    def path(self, sha256: str) -> Path:
        if not SHA256_NAME.fullmatch(sha256):  # names come from a feed: never a path of their own
            raise StoreError(f"{sha256[:80]!r}: not a SHA-256 name")
        return self.assets / sha256

    def partial(self, sha256: str) -> Path:
        return self.partial_dir / self.path(sha256).name

    def has(self, sha256: str, size: int) -> bool:
        try:
            return self.path(sha256).stat().st_size == size
        except FileNotFoundError:
            return False

    def commit(self, sha256: str) -> Path:
        """Move a verified, fsynced download into place; call `settle()` once after a batch.

        Until `settle()` a power cut may undo the rename: the verified file is then still in
        `partial/`, is verified again at the next sync and moved again. Never half a file.
        """
        source, target = self.partial(sha256), self.path(sha256)
        os.replace(source, target)
        return target

    def stage(self, suffix: str) -> tuple[BinaryIO, Path]:
        """A new private file to copy a local file into, so decoders read bytes nobody else can change.

        Not in `partial/`: `collect` empties that of downloads nobody wants, and a staged copy is
        in use until `adopt` or its removal. `suffix` is the type's extension (decoders may look at it).
        Readable too: a copy made as a clone (`inbox.reading.copy_hashing`) is hashed from its own bytes.
        """
        fd, staged = _new_file(self.staging_dir, suffix, 0o600, os.O_RDWR)
        return os.fdopen(fd, "w+b"), staged

    def adopt(self, staged: Path, sha256: str) -> Path:
        """Move a staged copy whose bytes hash to `sha256` into place, durably.

        A rename within the store's root (one filesystem): the staged file becomes the stored one, its
        bytes never copied a second time.
        """
        target = self.path(sha256)
        os.replace(staged, target)
        self.settle()
        return target

    def settle(self) -> None:
        """Make the renames of `commit` durable (one directory fsync for the batch)."""
        fsync_dir(self.assets)

    def usage(self) -> int:
        return sum(entry.stat().st_size for entry in self.assets.iterdir() if entry.is_file()) + sum(
            entry.stat().st_size for entry in self.partial_dir.iterdir() if entry.is_file()
        )

    def names(self) -> set[str]:
        return {entry.name for entry in self.assets.iterdir() if SHA256_NAME.fullmatch(entry.name)}

    def collect(self, wanted: set[str], unused_since: dict[str, datetime], now: datetime, grace: timedelta) -> list[str]:
        """Remove media no bulletin needs once unused for `grace`; partial downloads nobody wants go at once."""
        removed = []
        for entry in self.assets.iterdir():
            name = entry.name
            if name in wanted or not SHA256_NAME.fullmatch(name):
                continue
            since = unused_since.get(name)
            if since is None or now - since < grace:
                continue
            entry.unlink(missing_ok=True)
            removed.append(name)
        for entry in self.partial_dir.iterdir():
            if entry.name not in wanted:
                entry.unlink(missing_ok=True)
                removed.append(entry.name)
        for entry in self.staging_dir.iterdir():
            try:
                if now.timestamp() - entry.stat(follow_symlinks=False).st_mtime > STALE_STAGING_SECONDS:
                    entry.unlink()
                    removed.append(entry.name)
            except FileNotFoundError:
                continue
        if removed:
            fsync_dir(self.assets)
            log.info("cache: removed %d unused media file(s)", len(removed))
        return removed
