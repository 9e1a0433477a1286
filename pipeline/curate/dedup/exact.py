"""Exact deduplication on a 128-bit hash of normalized text, global across sources.

Only ``(hash, node)`` records are shuffled, as numpy blocks partitioned by hash; the smallest
node of each group of identical texts is its keeper (see ``pipeline.curate.dedup.nodes``).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

REASON = "exact_duplicate"
ENTRY = np.dtype([("h1", "<u8"), ("h2", "<u8"), ("node", "<u8")])


def text_hash(text: str) -> tuple[int, int]:
    """The 128-bit blake2b digest of a text, as two 64-bit integers."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")


def duplicate_decisions(partition: tuple[int, Iterable[np.ndarray]], stage: str) -> list[tuple[int, int, str]]:
    """``(member, keeper, stage)`` decisions for the groups of equal keys in one key partition's
    blocks (texts, or ids)."""
    return [(member, keeper, stage) for member, keeper in exact_duplicates(partition[1]).tolist()]


def decision_edge(decision: tuple[int, int, str]) -> tuple[int, int]:
    """The ``(keeper, member)`` edge of an exact decision: near dedup's components take it as
    verified (Jaccard 1), since LSH pairs each group of equal texts only through its keeper."""
    member, keeper, _ = decision
    return keeper, member


def exact_duplicates(blocks: Iterable[np.ndarray]) -> np.ndarray:
    """``(member, keeper)`` node pairs, shape ``(k, 2)``, for every document whose text a smaller node also has."""
    parts = list(blocks)
    entries = np.concatenate(parts) if parts else np.zeros(0, ENTRY)
    if len(entries) < 2:
        return np.zeros((0, 2), dtype=np.uint64)
    entries = entries[np.lexsort((entries["node"], entries["h2"], entries["h1"]))]
    same = (entries["h1"][1:] == entries["h1"][:-1]) & (entries["h2"][1:] == entries["h2"][:-1])
    group = np.concatenate([[0], np.cumsum(~same)])
    first = np.flatnonzero(np.concatenate([[True], ~same]))
    keepers = entries["node"][first][group]
    members = np.flatnonzero(np.concatenate([[False], same]))
    return np.stack([entries["node"][members], keepers[members]], axis=1)
