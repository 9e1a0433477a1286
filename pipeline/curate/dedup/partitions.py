"""Dedup keys grouped by partition through the work directory: a sort-based shuffle of numpy blocks.

Each unit writes its exact, id and LSH band entries sorted by partition (``key % PARTITIONS``)
to one file per kind (``unit-00007.bands.keys``) and emits only ``(partition, KeySlice)``
references. ``GroupKeyPartitions`` groups the references and reads each partition's slice of
every unit's file where the partition is processed. The runner shuffles a few bytes per unit
and partition instead of the keys: the local runner holds a whole shuffle in its driver and
hands a grouped partition to a worker whole, so at 10 GB the keys' shuffle had raised curate's
peak memory from 2.4 to 5.2 GB. This is the layout of Spark's sort-based shuffle (one file per
map task, one segment per reducer); every worker already reads the work directory.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.io.files import FileDoFn, read_bytes, write_bytes
from pipeline.io.spill import unit_file

PARTITIONS = 64


class KeySlice(NamedTuple):
    """Rows ``[start, stop)`` of one unit's key file of one kind: the unit's entries in one partition."""

    unit: int
    start: int
    stop: int


def sorted_by_partition(entries: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``entries`` in partition order (``key % PARTITIONS``), each partition's entries in their order."""
    return entries[np.argsort(key % np.uint64(PARTITIONS), kind="stable")]


def key_slices(unit: int, key: np.ndarray) -> Iterator[tuple[int, KeySlice]]:
    """``(partition, slice)`` for each non-empty partition of a unit's entries in partition order (their ``key``)."""
    part = key % np.uint64(PARTITIONS)
    if not len(part):
        return
    if np.any(part[1:] < part[:-1]):
        raise ValueError(f"unit {unit}: dedup entries are not in partition order")
    starts = np.flatnonzero(np.concatenate([[True], part[1:] != part[:-1]]))
    stops = np.concatenate([starts[1:], [len(part)]])
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        yield int(part[start]), KeySlice(unit, start, stop)


def key_file(work_dir: str, unit: int, kind: str) -> str:
    return unit_file(work_dir, unit, f"{kind}.keys")


def write_keys(work_dir: str, unit: int, kind: str, entries: np.ndarray) -> None:
    write_bytes(key_file(work_dir, unit, kind), entries.tobytes())


def read_keys(work_dir: str, unit: int, kind: str, dtype: np.dtype) -> np.ndarray:
    return np.frombuffer(read_bytes(key_file(work_dir, unit, kind)), dtype)


def read_key_slice(work_dir: str, kind: str, dtype: np.dtype, piece: KeySlice) -> np.ndarray:
    with FileSystems.open(key_file(work_dir, piece.unit, kind), compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.seek(piece.start * dtype.itemsize)
        return np.frombuffer(f.read((piece.stop - piece.start) * dtype.itemsize), dtype)


class _ReadSlices(FileDoFn):
    def __init__(self, work_dir: str, kind: str, dtype: np.dtype):
        super().__init__()
        self._work_dir, self._kind, self._dtype = work_dir, kind, dtype

    def process(self, grouped: tuple[int, Iterable[KeySlice]]) -> Iterator[tuple[int, list[np.ndarray]]]:
        partition, pieces = grouped
        yield partition, [read_key_slice(self._work_dir, self._kind, self._dtype, piece) for piece in pieces]


class GroupKeyPartitions(beam.PTransform):
    """``(partition, KeySlice)`` of one kind of key → ``(partition, [entry blocks])``, read from the units' key files."""

    def __init__(self, work_dir: str, kind: str, dtype: np.dtype):
        super().__init__()
        self._work_dir, self._kind, self._dtype = work_dir, kind, dtype

    def expand(self, slices: beam.PCollection) -> beam.PCollection:
        return (
            slices
            | "GroupSlices" >> beam.GroupByKey()
            | "ReadSlices" >> beam.ParDo(_ReadSlices(self._work_dir, self._kind, self._dtype))
        )
