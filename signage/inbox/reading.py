"""Opening the clerk's files without following links: every check is made on the descriptor that is then read.

A name in the drop folder or on a stick is opened relative to its folder's descriptor with O_NOFOLLOW
(a symlink fails with ELOOP) and O_NONBLOCK (a FIFO swapped in after the listing opens at once instead
of waiting for a writer forever), and `fstat` of that descriptor decides: only a regular file with one
link is read. A separate `lstat` before the open would leave a window in which the name could be swapped.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
from typing import BinaryIO

FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
FOLDER_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC
CHUNK_BYTES = 1 << 20
FICLONE = getattr(fcntl, "FICLONE", 0x40049409)  # linux/fs.h _IOW(0x94, 9, int); named by Python from 3.12


class Refused(Exception):
    """The name is not a plain file of its folder; `code` is a key of `rules.REASONS`."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


def refusal_of(info: os.stat_result, *, single_link: bool = True) -> Refused | None:
    """Why a file with this (f)stat must not be read, or None: links, FIFOs, devices, sockets, hard links."""
    if stat.S_ISLNK(info.st_mode):
        return Refused("link", "symbolic link")
    if not stat.S_ISREG(info.st_mode):
        return Refused("special", "pipe, device or socket")
    # A hard link cannot be told from the file it names; on the same filesystem it may name the
    # board's key. A file dropped or copied in has one name; one with more is refused.
    if single_link and info.st_nlink > 1:
        return Refused("hardlink", f"{info.st_nlink} links")
    return None


def open_regular(name: str, dir_fd: int, *, single_link: bool = True) -> tuple[int, os.stat_result]:
    """Open `name` in the folder `dir_fd` for reading, as a regular file only; returns (fd, fstat).

    Raises `Refused` for a link, a FIFO, a device, a socket, a folder or a hard-linked file (the fd
    closed); `OSError` for anything else (gone, unreadable, a name too long).
    """
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise Refused("link", "symbolic link") from None
        if exc.errno in (errno.ENXIO, errno.ENODEV, errno.EISDIR):  # a socket, a device, a folder
            raise Refused("special", "not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        refusal = refusal_of(info, single_link=single_link)
        if refusal is not None:
            raise refusal
        os.set_blocking(fd, True)  # a regular file: reads need not be non-blocking
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def open_folder(name: str, dir_fd: int | None = None) -> int:
    """Open a folder (relative to `dir_fd`) without following a symlink in its last component."""
    try:
        return os.open(name, FOLDER_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Refused("link", "not a real folder (a symbolic link or a file)") from None
        raise


def read_limited(fd: int, limit: int) -> bytes | None:
    """Up to `limit` bytes from `fd`; None if there are more (one byte past the limit tells)."""
    data = b""
    while len(data) <= limit and (chunk := os.pread(fd, limit + 1 - len(data), len(data))):
        data += chunk
    return None if len(data) > limit else data


def copy_hashing(fd: int, target: BinaryIO) -> tuple[str, int]:
    """Copy everything from `fd` (from its start) into `target`, fsynced; returns (SHA-256 hex, bytes).

    Where the filesystem clones (XFS, btrfs: FICLONE, `fd`'s file on the same filesystem) and `target`
    can be read, `target` becomes a copy-on-write clone of `fd`'s file: no bytes are written, yet it is a
    private copy (a later write to either file gets blocks of its own). The hash is then read from the
    clone, so it covers the bytes kept. Elsewhere the bytes are copied as they are hashed.
    """
    target.flush()
    cloned = target.readable() and _clone(fd, target.fileno())
    digest, size = hashlib.sha256(), 0
    while chunk := os.pread(target.fileno() if cloned else fd, CHUNK_BYTES, size):
        digest.update(chunk)
        if not cloned:
            target.write(chunk)
        size += len(chunk)
    target.flush()
    os.fsync(target.fileno())
    return digest.hexdigest(), size


def _clone(source_fd: int, target_fd: int) -> bool:
    """Whether `target_fd`'s (empty) file was made a clone of `source_fd`'s; False leaves it untouched."""
    try:
        fcntl.ioctl(target_fd, FICLONE, source_fd)
    except OSError:  # not a filesystem that clones (EOPNOTSUPP, ENOTTY), another filesystem (EXDEV), …
        return False
    return True
