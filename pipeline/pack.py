"""Packing tokenized documents into fixed-length rows (DESIGN.md §3).

``concat``: documents in a group are concatenated (each already ends with EOS) and cut every
``seq_len`` tokens; the last row of a group is padded. ``document_lengths`` records the pieces
of each row so a trainer can rebuild boundaries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, NamedTuple, Sequence

import numpy as np


class TokenizedDocument(NamedTuple):
    id: str
    source: str
    ids: np.ndarray  # int32, EOS included


class PackedRow(NamedTuple):
    key: str  # "<group>/<row>": orders rows and picks their shard
    input_ids: np.ndarray  # int32, exactly seq_len
    document_lengths: list[int]
    sources: list[str]


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
