"""Packing tokenized documents into fixed-length rows (docs/architecture.md, "Tokenizer and build").

``best_fit`` (Ding et al. 2024, "Fewer Truncations Improve Language Modeling"): documents longer
than ``seq_len`` are cut into ``seq_len`` chunks (the only truncation), then chunks are packed
whole by Best-Fit-Decreasing; a segment tree over free capacities finds the tightest bin in
O(log seq_len), so a group packs in O(N log L). ``concat``, the common baseline: documents are
concatenated and cut every ``seq_len`` tokens. Either way the last rows are padded, and
``document_lengths`` records the pieces of each row so a trainer can rebuild boundaries.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.records import PackedRow, TokenizedDocument


@dataclass
class PackStats:
    documents: int = 0
    rows: int = 0
    tokens: int = 0
    padding: int = 0
    documents_split: int = 0
    tokens_per_source: dict[str, int] = field(default_factory=dict)


def pack_concat(group: int, docs: Iterable[TokenizedDocument], seq_len: int, pad_id: int) -> tuple[list[PackedRow], PackStats]:
    """Concatenate-then-split of ``docs`` in the given order."""
    rows: list[PackedRow] = []
    stats = PackStats()
    pieces: list[np.ndarray] = []
    lengths: list[int] = []
    sources: list[str] = []
    fill = 0

    def flush() -> None:
        nonlocal pieces, lengths, sources, fill
        padding = seq_len - fill
        row = np.concatenate(pieces + [np.full(padding, pad_id, dtype=np.int32)]) if padding else np.concatenate(pieces)
        rows.append(PackedRow(f"{group:09d}/{len(rows):09d}", row.astype(np.int32, copy=False), lengths, sources))
        stats.padding += padding
        pieces, lengths, sources, fill = [], [], [], 0

    for doc in docs:
        stats.documents += 1
        stats.tokens += len(doc.ids)
        stats.tokens_per_source[doc.source] = stats.tokens_per_source.get(doc.source, 0) + len(doc.ids)
        position, parts = 0, 0
        while position < len(doc.ids):
            take = min(seq_len - fill, len(doc.ids) - position)
            pieces.append(doc.ids[position : position + take])
            lengths.append(take)
            sources.append(doc.source)
            position += take
            fill += take
            parts += 1
            if fill == seq_len:
                flush()
        stats.documents_split += parts > 1
    if fill:
        flush()
    stats.rows = len(rows)
    return rows, stats


def unpack_row(row: PackedRow | dict) -> list[np.ndarray]:
    """The token pieces of one row, in order (padding excluded)."""
    ids = np.asarray(row["input_ids"] if isinstance(row, dict) else row.input_ids)
    lengths: Sequence[int] = row["document_lengths"] if isinstance(row, dict) else row.document_lengths
    bounds = np.cumsum([0, *lengths])
    return [ids[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]


class _FreeCapacityTree:
    """Counts of open bins per free capacity 0..L, answering "smallest capacity ≥ n" in O(log L)."""

    def __init__(self, capacity: int):
        self._size = 1
        while self._size < capacity + 1:
            self._size *= 2
        self._counts = [0] * (2 * self._size)

    def add(self, free: int, delta: int) -> None:
        i = free + self._size
        while i:
            self._counts[i] += delta
            i //= 2

    def smallest_at_least(self, n: int) -> int:
        """The smallest free capacity ≥ ``n`` that some bin has, or -1."""
        return self._first_from(1, 0, self._size - 1, n)

    def _first_from(self, node: int, lo: int, hi: int, n: int) -> int:
        if hi < n or self._counts[node] == 0:
            return -1
        if lo == hi:
            return lo
        mid = (lo + hi) // 2
        left = self._first_from(2 * node, lo, mid, n)
        return left if left >= 0 else self._first_from(2 * node + 1, mid + 1, hi, n)


def pack_best_fit(group: int, docs: Iterable[TokenizedDocument], seq_len: int, pad_id: int) -> tuple[list[PackedRow], PackStats]:
    """Best-Fit-Decreasing of whole chunks; ``docs`` order only breaks ties, so pass them sorted."""
    stats = PackStats()
    chunks: list[tuple[int, int, np.ndarray, str]] = []  # (length, arrival, ids, source)
    for doc in docs:
        stats.documents += 1
        stats.tokens += len(doc.ids)
        stats.tokens_per_source[doc.source] = stats.tokens_per_source.get(doc.source, 0) + len(doc.ids)
        stats.documents_split += len(doc.ids) > seq_len
        for start in range(0, len(doc.ids), seq_len):
            chunks.append((min(seq_len, len(doc.ids) - start), len(chunks), doc.ids[start : start + seq_len], doc.source))
    chunks.sort(key=lambda c: (-c[0], c[1]))
    tree = _FreeCapacityTree(seq_len)
    bins_by_free: dict[int, list[int]] = {}
    bins: list[list[tuple[np.ndarray, str]]] = []
    free: list[int] = []
    for length, _, ids, source in chunks:
        capacity = tree.smallest_at_least(length)
        if capacity < 0:
            bins.append([])
            free.append(seq_len)
            index = len(bins) - 1
        else:
            index = bins_by_free[capacity].pop()
            tree.add(capacity, -1)
        bins[index].append((ids, source))
        free[index] -= length
        if free[index] > 0:
            bins_by_free.setdefault(free[index], []).append(index)
            tree.add(free[index], 1)
    rows = []
    for index, pieces in enumerate(bins):
        padding = free[index]
        arrays = [p for p, _ in pieces] + ([np.full(padding, pad_id, dtype=np.int32)] if padding else [])
        rows.append(PackedRow(f"{group:09d}/{index:09d}", np.concatenate(arrays).astype(np.int32, copy=False), [len(p) for p, _ in pieces], [src for _, src in pieces]))
        stats.padding += padding
    stats.rows = len(rows)
    return rows, stats


PACKERS = {"best_fit": pack_best_fit, "concat": pack_concat}
