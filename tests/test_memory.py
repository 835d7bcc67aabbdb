"""cmlib.memory: freed heap pages go back to the system."""

from __future__ import annotations

import sys

import pytest

from cmlib.memory import release_memory, resident_mb


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc are Linux's")
def test_release_memory_returns_freed_heap_pages():
    # 300 MB in 64 KB blocks: below glibc's mmap threshold, so freeing them leaves the pages in the heap
    blocks = [bytearray(64 * 1024) for _ in range(4_800)]
    for b in blocks:
        b[::4096] = b"\x01" * len(range(0, len(b), 4096))  # touch every page: resident, not just reserved
    held = resident_mb()
    del blocks
    freed = release_memory()
    assert freed > 150, (held, freed)
    assert resident_mb() < held - 150
    assert release_memory() >= 0.0  # nothing left to free: no error, nothing negative
