"""Give the memory of a large request back to the operating system.

glibc's malloc keeps what a request freed in its arenas (one per thread) for reuse, so after
one predict of a thousand texts a web process stayed hundreds of MB larger for good.
``malloc_trim(0)`` hands the free pages back; it walks the heap (a few ms), so it runs only
after a block that left the process noticeably larger than it found it. ``limit_arenas`` caps
the arenas themselves: a server's request, training, embedding and oracle threads would each
get one (up to 8 per core), each holding its own free pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

TRIM_GROWTH_BYTES = 32 * 1024 * 1024
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def rss_bytes() -> int:
    """This process's resident memory; 0 where ``/proc`` does not say (not Linux)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    # musl and macOS have neither call: nothing to trim or cap there
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def trim() -> bool:
    """Return the free memory of malloc's arenas to the system; False where there is no glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def limit_arenas(arenas: int) -> bool:
    """Let at most ``arenas`` malloc arenas serve this process's threads, and its children.

    Call it before starting threads: a thread keeps the arena it was given. 0 leaves glibc's
    default. Returns whether the cap was set (False without glibc).
    """
    libc = _glibc()
    if arenas <= 0 or libc is None:
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)  # read by glibc as a child process starts
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


@contextmanager
def returned_after(growth: int = TRIM_GROWTH_BYTES) -> Iterator[None]:
    """Trim the heap after the block if the process grew by ``growth`` bytes or more in it."""
    before = rss_bytes()
    try:
        yield
    finally:
        if before and rss_bytes() - before >= growth:
            trim()
