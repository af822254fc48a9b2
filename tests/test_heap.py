"""The heap is trimmed after a block that grew the process, so freed memory goes back."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app import heap
from tests.server import ROOT

MB = 1024 * 1024


@pytest.mark.skipif(not heap.rss_bytes() or not heap.trim(), reason="needs Linux and glibc")
def test_memory_freed_in_a_grown_block_goes_back_to_the_system() -> None:
    before = heap.rss_bytes()
    with heap.returned_after(growth=32 * MB):
        blocks = [bytearray(64 * 1024) for _ in range(1600)]  # 100 MB on malloc's heap
        kept = blocks[::10]  # survivors scattered over it: holes only a trim gives back
        del blocks
    grown = heap.rss_bytes() - before
    assert len(kept) == 160
    assert grown < 32 * MB, f"the process kept {grown / MB:.0f} MB after the block"


ARENAS = """
import ctypes, sys, threading
from app import heap
if int(sys.argv[1]):
    assert heap.limit_arenas(int(sys.argv[1]))
barrier = threading.Barrier(8)
def allocate():
    kept = [bytearray(2048) for _ in range(200)]  # malloc'd in this thread's arena
    barrier.wait()  # all alive at once: none can hand its arena to the next
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas(cap: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", ARENAS, str(cap)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.count("Arena ")


@pytest.mark.skipif(not heap.trim(), reason="needs glibc")
def test_threads_share_the_capped_number_of_malloc_arenas() -> None:
    assert _arenas(0) > 2  # eight threads allocating at once get arenas of their own
    assert _arenas(2) == 2
