"""glibc's heap on a board that plays for months: few arenas, and the free pages handed back after each turn.

A board makes and frees big buffers all day, in several threads: slide pages (7 MB each at 1080p),
decoded photos, PDF pages, video frames. glibc serves them from the heap once its mmap threshold
has risen past their size, one arena per thread, and keeps what is freed: before this, a 50-minute
soak (bench/soak.py) grew from 389 MB at 10 minutes to 424 MB, rising 11 MB an hour, with only about
200 MB in use (mallinfo2; the rest free memory glibc held). Two arenas, and `malloc_trim` once a turn,
keep RSS near what is in use (docs/performance.md). Elsewhere than glibc (musl) both are no-ops.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import threading
from typing import Protocol

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt(3)
ARENAS = 2  # the main thread's and one for every other; more only spreads freed memory around


class _Libc(Protocol):
    def mallopt(self, param: int, value: int) -> int: ...

    def malloc_trim(self, pad: int) -> int: ...


def glibc() -> _Libc | None:
    """The process's C library, when it is glibc (the only one with these knobs)."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)  # type: ignore[return-value]
    except OSError:
        return None


class Heap:
    """The knobs of the process's heap; `libc=None` (not glibc) makes every call a no-op."""

    def __init__(self, libc: _Libc | None) -> None:
        self._libc = libc
        self._lock = threading.Lock()

    @classmethod
    def of_process(cls) -> Heap:
        return cls(glibc())

    def limit_arenas(self, count: int = ARENAS) -> bool:
        """At most `count` arenas; before the threads start, as later ones may have made theirs already."""
        if self._libc is None:
            return False
        done = bool(self._libc.mallopt(M_ARENA_MAX, count))
        if not done:
            log.debug("mallopt(M_ARENA_MAX, %d) refused", count)
        return done

    def trim(self) -> bool:
        """Hand the free pages of every arena back to the system (4 ms median, up to 30 ms in the soak: off the loop)."""
        if self._libc is None:
            return False
        with self._lock:  # one at a time: a second would find nothing more
            return bool(self._libc.malloc_trim(0))
