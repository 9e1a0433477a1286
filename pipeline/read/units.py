"""Work units: the input cut into pieces of about ``output.unit_mb`` that are processed where they lie.

A unit is a run of whole files of one source (small files are grouped) or one byte range of a
large uncompressed JSONL file. Every per-document step of a unit runs in one worker, and each
unit becomes exactly one curated shard and one dataset shard, so document text never crosses a
shuffle. Units are planned on the driver from file sizes, in sorted order: the same input gives
the same units on every runner.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

from pipeline.read.decompress import compression_of

MAX_UNITS = 1 << 24  # the unit index has 24 bits in a dedup node (pipeline.curate.dedup.nodes)


class Piece(NamedTuple):
    """One file of ``size`` bytes, or the byte range ``[start, end)`` of it (``end`` None: to the end)."""

    path: str
    base: str
    size: int = 0
    start: int = 0
    end: int | None = None


def piece_bytes(piece: Piece) -> int:
    """The input bytes a piece covers."""
    return (piece.size if piece.end is None else piece.end) - piece.start


class WorkUnit(NamedTuple):
    index: int  # type: ignore[assignment]  # the field shadows tuple.index, which nothing here calls
    source: str
    pieces: tuple[Piece, ...]


def unit_name(prefix: str, index: int, suffix: str) -> str:
    """The file a unit writes in an output directory: ``part-00007.parquet``."""
    return f"{prefix}-{index:05d}{suffix}"


def splittable(path: str, fmt: str) -> bool:
    """Only uncompressed JSONL can be cut at line boundaries without reading what comes before."""
    return fmt == "jsonl" and compression_of(path) is None


def plan_units(sources: Sequence[tuple[str, str, Sequence[tuple[str, str, int]]]], unit_bytes: int) -> list[WorkUnit]:
    """Units for ``(source name, format, [(path, base, size)])`` in order.

    Consecutive files of a source are grouped while the group stays under ``unit_bytes``; a
    splittable file over twice ``unit_bytes`` is cut into byte ranges of about ``unit_bytes``.
    """
    units: list[WorkUnit] = []

    def add(source: str, pieces: list[Piece]) -> None:
        units.append(WorkUnit(len(units), source, tuple(pieces)))

    for name, fmt, files in sources:
        group: list[Piece] = []
        group_size = 0
        for path, base, size in files:
            if size > 2 * unit_bytes and splittable(path, fmt):
                parts = -(-size // unit_bytes)
                bounds = [size * k // parts for k in range(parts + 1)]
                for start, end in pairwise(bounds):
                    add(name, [Piece(path, base, size, start, end)])
                continue
            if group and group_size + size > unit_bytes:
                add(name, group)
                group, group_size = [], 0
            group.append(Piece(path, base, size))
            group_size += size
        if group:
            add(name, group)
    if len(units) > MAX_UNITS:
        raise ValueError(f"{len(units):,} work units exceed {MAX_UNITS:,}; raise output.unit_mb")
    return units
