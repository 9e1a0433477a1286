"""Duplicate ids: a second document with an id already read (within a source; ``5`` and ``"5"`` are
one id) is dropped as ``duplicate_id``, or fails the run (``on_duplicate_id``).

Only ids the input gives are checked (``id_field``, WARC record ids): a content-hash id repeats
exactly when the text does (exact dedup's case), and paths and repository names are unique by
construction. The same machinery as exact dedup, on a 128-bit hash of the id instead of the text: only
``(hash, node)`` blocks are shuffled, and the smallest node (the document read first) is kept.
"""
from __future__ import annotations

from pipeline.config import SourceConfig

REASON = "duplicate_id"


def given_ids(source: SourceConfig) -> bool:
    """Whether a source's ids come from its input, so two records can claim the same one."""
    return not source.repositories and (source.id_field is not None or source.format == "warc")
