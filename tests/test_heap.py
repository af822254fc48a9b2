"""The heap is trimmed after a block that grew the process, so freed memory goes back."""

from __future__ import annotations

import pytest

from app import heap

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
