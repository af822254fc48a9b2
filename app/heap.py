"""Give the memory of a large request back to the operating system.

glibc's malloc keeps what a request freed in its arenas (one per thread) for reuse, so after
one predict of a thousand texts a web process stayed hundreds of MB larger for good.
``malloc_trim(0)`` hands the free pages back; it walks the heap (a few ms), so it runs only
after a block that left the process noticeably larger than it found it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

TRIM_GROWTH_BYTES = 32 * 1024 * 1024


def rss_bytes() -> int:
    """This process's resident memory; 0 where ``/proc`` does not say (not Linux)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # no glibc (musl, macOS): nothing to trim
        return None


def trim() -> bool:
    """Return the free memory of malloc's arenas to the system; False where there is no glibc."""
    malloc_trim = _malloc_trim()
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True


@contextmanager
def returned_after(growth: int = TRIM_GROWTH_BYTES) -> Iterator[None]:
    """Trim the heap after the block if the process grew by ``growth`` bytes or more in it."""
    before = rss_bytes()
    try:
        yield
    finally:
        if before and rss_bytes() - before >= growth:
            trim()
