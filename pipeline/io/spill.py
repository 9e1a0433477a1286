"""A work unit's intermediate files under ``curated/_work/``: what the analyze step leaves for the apply step.

``unit-00007.docs.parquet`` holds the unit's surviving documents in read order (their position
is their dedup node's position), ``unit-00007.index.parquet`` their ids, sources and sizes,
``unit-00007.signatures.npy`` their MinHash signatures (32-bit, to estimate the Jaccard
similarity of candidate pairs), ``unit-00007.shingles.npz`` their shingle sets (for the exact
check of pairs the estimate cannot decide), and ``unit-00007.drops.parquet`` the
documents normalize and the filters removed. Later steps load one unit's small files at a time.

A unit that ``reselect`` re-decided keeps no copy of its survivors' text, signatures and shingle
sets: ``unit-00007.spill-from.json`` names the earlier run's work folder and the rows of its
spill that survive, and the readers below read those rows there (``survivor_rows``).
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.io.curated import ParquetRowWriter, read_curated_batches, write_drops
from pipeline.io.files import read_bytes, read_json, write_bytes, write_json
from pipeline.records import Drop

ANALYZED = "analyzed.json"  # the unit's analyze report, committed last: the unit is analyzed
SPILL_FROM = "spill-from.json"  # a reselected unit's survivors: rows of an earlier run's spill
INDEX_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("bytes", pa.int64())])


class UnitIndex(NamedTuple):
    ids: list[str]
    sources: list[str]
    sizes: list[int]


def unit_file(work_dir: str, unit: int, kind: str) -> str:
    return FileSystems.join(work_dir, f"unit-{unit:05d}.{kind}")


def write_index(work_dir: str, unit: int, index: UnitIndex) -> None:
    writer = ParquetRowWriter(unit_file(work_dir, unit, "index.parquet"), INDEX_SCHEMA, row_group=65536)
    for doc_id, source, size in zip(*index, strict=True):
        writer.write({"id": doc_id, "source": source, "bytes": size})
    writer.close()


def read_index(work_dir: str, unit: int) -> UnitIndex:
    table = read_table(unit_file(work_dir, unit, "index.parquet"))
    return UnitIndex(table.column("id").to_pylist(), table.column("source").to_pylist(), table.column("bytes").to_pylist())


def write_signatures(work_dir: str, unit: int, signatures: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, signatures, allow_pickle=False)
    write_bytes(unit_file(work_dir, unit, "signatures.npy"), buffer.getvalue())


def read_signatures(work_dir: str, unit: int) -> np.ndarray:
    spill_dir, rows = survivor_rows(work_dir, unit)
    signatures = np.load(io.BytesIO(read_bytes(unit_file(spill_dir, unit, "signatures.npy"))), allow_pickle=False)
    return signatures if rows is None else signatures[rows]


def write_spill_from(work_dir: str, unit: int, earlier_work_dir: str, kept: np.ndarray) -> None:
    """Records that the unit's survivors are the ``kept`` positions of the unit's survivors in
    ``earlier_work_dir`` (itself perhaps a reselected unit: the rows are composed down to a spill)."""
    spill_dir, rows = survivor_rows(earlier_work_dir, unit)
    write_json(unit_file(work_dir, unit, SPILL_FROM), {"work_dir": spill_dir, "rows": (kept if rows is None else rows[kept]).tolist()})


def survivor_rows(work_dir: str, unit: int) -> tuple[str, np.ndarray | None]:
    """The work folder whose spill holds the unit's survivors, and their rows in it (ascending;
    None: every row, the unit's own spill)."""
    reference = unit_file(work_dir, unit, SPILL_FROM)
    if not FileSystems.exists(reference):
        return work_dir, None
    spill = read_json(reference)
    return spill["work_dir"], np.asarray(spill["rows"], dtype=np.int64)


def read_survivor_batches(work_dir: str, unit: int) -> Iterator[pa.RecordBatch]:
    """The unit's surviving documents (``CURATED_SCHEMA``) in position order, a batch at a time."""
    spill_dir, rows = survivor_rows(work_dir, unit)
    start = 0
    for batch in read_curated_batches(unit_file(spill_dir, unit, "docs.parquet")):
        if rows is None:
            yield batch
        else:
            first, last = np.searchsorted(rows, [start, start + batch.num_rows])
            if last > first:
                yield batch.take(pa.array(rows[first:last] - start))
        start += batch.num_rows


class ShingleSets:
    """The sorted distinct shingle hashes of each document of a unit, stored flat with offsets."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray):
        self._flat, self._offsets = flat, offsets

    @classmethod
    def from_sets(cls, sets: list[np.ndarray]) -> ShingleSets:
        offsets = np.zeros(len(sets) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in sets], out=offsets[1:])
        return cls(np.concatenate(sets) if sets else np.zeros(0, np.uint64), offsets)

    def __getitem__(self, position: int) -> np.ndarray:
        return self._flat[self._offsets[position] : self._offsets[position + 1]]


def write_shingle_sets(work_dir: str, unit: int, sets: ShingleSets) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, flat=sets._flat, offsets=sets._offsets)
    write_bytes(unit_file(work_dir, unit, "shingles.npz"), buffer.getvalue())


def read_shingle_sets(work_dir: str, unit: int) -> ShingleSets:
    spill_dir, rows = survivor_rows(work_dir, unit)
    with np.load(io.BytesIO(read_bytes(unit_file(spill_dir, unit, "shingles.npz"))), allow_pickle=False) as data:
        sets = ShingleSets(data["flat"], data["offsets"])
    return sets if rows is None else ShingleSets.from_sets([sets[p] for p in rows.tolist()])


def write_filter_drops(work_dir: str, unit: int, drops: list[Drop]) -> None:
    write_drops(unit_file(work_dir, unit, "drops.parquet"), drops)


def read_filter_drops(work_dir: str, unit: int) -> Iterator[Drop]:
    for row in read_table(unit_file(work_dir, unit, "drops.parquet")).to_pylist():
        yield Drop(**row)


def read_table(path: str) -> pa.Table:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.read_table(f)
