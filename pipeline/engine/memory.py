"""Freed memory goes back to the operating system promptly (glibc's malloc).

glibc raises its mmap threshold each time a large block is freed (up to 32 MB), so the numpy
arrays of one batch or unit are later carved from the heap, whose freed pages stay in the
process: a worker's RSS keeps the high-water mark of every step it ran. Fixing both thresholds
at 128 KiB (what ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` do) returns large
blocks when they are freed. Arrow buffers use Arrow's own allocator and are not affected.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 128 * 1024


def release_freed_memory() -> bool:
    """Sets glibc's trim and mmap thresholds for this process; False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, THRESHOLD_BYTES)) and bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD_BYTES))
