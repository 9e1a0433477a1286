"""The build's spill of tokenized documents, one pair of files per curated shard: an Arrow IPC
stream of (id, source, mixing group, draw, ids) that packing reads, and a small Parquet table of
(group, draw, tokens) that the mixing plan reads."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import CompressionTypes, FileSystems

from pipeline.io.files import commit, create_atomic
from pipeline.io.write_arrow import list_array
from pipeline.records import TokenizedDocument

SPILL_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("group", pa.string()), ("draw", pa.uint64()), ("ids", pa.list_(pa.int32()))])
TABLE_SCHEMA = pa.schema([("group", pa.string()), ("draw", pa.uint64()), ("tokens", pa.int64())])


def spill_path(work_dir: str, shard: int) -> str:
    return f"{work_dir}/tokens-{shard:05d}.arrow"


def table_path(work_dir: str, shard: int) -> str:
    return f"{work_dir}/docs-{shard:05d}.parquet"


class TokenSpillWriter:
    """Streams one shard's tokenized documents; ``close`` also writes its document table."""

    def __init__(self, work_dir: str, shard: int):
        self._work_dir, self._shard = work_dir, shard
        self._file = create_atomic(spill_path(work_dir, shard))
        self._stream = pa.ipc.new_stream(self._file, SPILL_SCHEMA)
        self._groups: list[str] = []
        self._draws: list[np.ndarray] = []
        self._tokens: list[int] = []

    def write(self, docs: Sequence[TokenizedDocument], groups: Sequence[str], draws: np.ndarray) -> None:
        if not docs:
            return
        batch = pa.RecordBatch.from_arrays(
            [pa.array([d.id for d in docs], pa.string()), pa.array([d.source for d in docs], pa.string()), pa.array(groups, pa.string()),
             pa.array(draws, pa.uint64()), list_array([d.ids for d in docs], pa.int32())],
            schema=SPILL_SCHEMA,
        )
        self._stream.write_batch(batch)
        self._groups += groups
        self._draws.append(draws)
        self._tokens += [len(d.ids) for d in docs]

    def close(self) -> None:
        self._stream.close()
        commit(self._file, spill_path(self._work_dir, self._shard))
        table = pa.table([pa.array(self._groups, pa.string()), pa.array(np.concatenate(self._draws) if self._draws else np.zeros(0, np.uint64), pa.uint64()),
                          pa.array(self._tokens, pa.int64())], schema=TABLE_SCHEMA)
        path = table_path(self._work_dir, self._shard)
        out = create_atomic(path)
        pq.write_table(table, out, compression="zstd")
        commit(out, path)


class SpilledBatch(NamedTuple):
    ids: list[str]
    sources: list[str]
    groups: list[str]
    draws: np.ndarray
    tokens: list[np.ndarray]  # int32 views into the batch


def read_token_spill(work_dir: str, shard: int) -> Iterator[SpilledBatch]:
    """The shard's tokenized documents, in batches, in the order they were written."""
    with FileSystems.open(spill_path(work_dir, shard), compression_type=CompressionTypes.UNCOMPRESSED) as f:
        for batch in pa.ipc.open_stream(f):
            lists = batch.column("ids")
            offsets = lists.offsets.to_numpy()
            values = lists.values.to_numpy()
            tokens = [values[offsets[i] : offsets[i + 1]] for i in range(len(lists))]
            yield SpilledBatch(batch.column("id").to_pylist(), batch.column("source").to_pylist(), batch.column("group").to_pylist(),
                               batch.column("draw").to_numpy(), tokens)


def read_doc_table(work_dir: str, shard: int) -> pa.Table:
    with FileSystems.open(table_path(work_dir, shard), compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.read_table(f)
