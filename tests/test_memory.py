"""Freed memory goes back to the operating system in corpusmill's processes (``pipeline.engine.memory``)."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import psutil
from pipeline.engine.memory import release_freed_memory
if sys.argv[1] == "set":
    assert release_freed_memory()
big = bytearray(16_000_000)
del big  # freeing a 16 MB block raises glibc's mmap threshold, unless it is fixed
blocks, pins = [], []
for _ in range(300):
    blocks.append(bytearray(2_000_000))  # 2 MB each, from malloc (numpy's allocator differs between releases)
    pins.append(bytearray(8_000))  # small blocks between them keep the freed heap from being trimmed
before = psutil.Process().memory_info().rss
del blocks
print(before - psutil.Process().memory_info().rss)
"""

def test_large_freed_blocks_leave_the_process():
    def freed(mode: str) -> int:
        return int(subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout)

    assert freed("set") > 500e6  # the 600 MB of blocks are returned
    assert freed("default") < 100e6  # glibc's default keeps them: what the setting is for
