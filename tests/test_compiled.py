"""Compiled kernels where numba has nowhere to cache them (a read-only install, no home folder)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
if sys.argv[1] == "no-cache":
    import numba.core.caching as caching
    caching.CacheImpl._locator_classes = []  # what numba finds on a read-only install without a home
from pipeline.curate.dedup.minhash import shingle_hashes
from pipeline.curate.filters.pii import PiiRedactor
from pipeline.curate.filters.lines import text_lines
from pipeline.curate.filters.text import text_words
text = "Write to ops@example.com from 10.0.0.1 about the quick brown fox jumping over the lazy dog"
print(json.dumps([text_words(text).word_count, shingle_hashes(text, 5).tolist(), PiiRedactor().redact_text(text), text_lines(text + "\\n" + text).dup_lines]))
"""


@pytest.mark.slow
def test_kernels_compile_without_a_cache_location_and_give_the_same_results():
    def probe(mode: str) -> list:
        done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    cached, uncached = probe("cache"), probe("no-cache")
    assert uncached == cached
    assert cached[0] == 15 and cached[2][1] == {"email": 1, "ip_address": 1} and cached[3] == 1
