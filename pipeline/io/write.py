"""Deterministic sharded writers: shard by stable hash, sort inside a shard, write atomically.

Beam's own file sinks place records by bundle, which differs between runners and worker counts;
these place them by a hash of each record's key, so the bytes are the same everywhere.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Iterator, Sequence

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.documents import DeadLetter, Document, Drop, stable_hash
from pipeline.io.files import commit, create_atomic, write_json

ShardWriter = Callable[[str, list[Any]], dict[str, Any]]

CURATED_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string()), ("meta", pa.string())])
DROPS_SCHEMA = pa.schema([(f, pa.string()) for f in Drop._fields])
PARQUET_ROW_GROUP = 4096


def shard_name(prefix: str, index: int, num_shards: int, suffix: str) -> str:
    return f"{prefix}-{index:05d}-of-{num_shards:05d}{suffix}"


def write_parquet_rows(path: str, schema: pa.Schema, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    writer = create_atomic(path)
    with pq.ParquetWriter(writer, schema, compression="zstd") as pw:
        for start in range(0, max(len(rows), 1), PARQUET_ROW_GROUP):
            pw.write_table(pa.Table.from_pylist(list(rows[start : start + PARQUET_ROW_GROUP]), schema=schema))
    commit(writer, path)
    return {"rows": len(rows), "bytes": writer.size, "sha256": writer.sha256()}


def write_curated_shard(path: str, docs: list[Document]) -> dict[str, Any]:
    rows = [{"id": d.id, "text": d.text, "source": d.source, "meta": json.dumps(d.meta, sort_keys=True, ensure_ascii=False)} for d in docs]
    return write_parquet_rows(path, CURATED_SCHEMA, rows)


def write_drops_shard(path: str, drops: list[Drop]) -> dict[str, Any]:
    return write_parquet_rows(path, DROPS_SCHEMA, [d._asdict() for d in drops])


def write_dead_letter_shard(path: str, records: list[DeadLetter]) -> dict[str, Any]:
    """JSONL; no file at all when there is nothing to write (object stores reject empty multipart uploads)."""
    if not records:
        return {"rows": 0, "bytes": 0, "sha256": None}
    writer = create_atomic(path)
    for r in records:
        location = {"row": r.row} if r.row is not None else {"line": r.line}
        entry = {"source": r.source, "stage": r.stage, "file": r.file, **location, "error": r.error, "raw": r.raw}
        writer.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
    commit(writer, path)
    return {"rows": len(records), "bytes": writer.size, "sha256": writer.sha256()}


class _WriteShard(beam.DoFn):
    def __init__(self, directory: str, prefix: str, suffix: str, num_shards: int, sort_key: Callable[[Any], Any], write: ShardWriter):
        self._directory = directory.rstrip("/")
        self._prefix, self._suffix, self._num_shards = prefix, suffix, num_shards
        self._sort_key = sort_key
        self._write = write

    def process(self, keyed: tuple[int, tuple[Iterable[Any], Iterable[Any]]]) -> Iterator[dict[str, Any]]:
        index, (_, records) = keyed
        name = shard_name(self._prefix, index, self._num_shards, self._suffix)
        stats = self._write(f"{self._directory}/{name}", sorted(records, key=self._sort_key))
        yield {"file": name, **stats}


class WriteShards(beam.PTransform):
    """Writes records into exactly ``num_shards`` files (empty ones included) and returns their stats.

    ``shard_key`` gives the string whose stable hash picks a record's shard; ``sort_key`` orders
    records inside a shard. Both must be total and deterministic for byte-identical output.
    """

    def __init__(self, directory: str, prefix: str, suffix: str, num_shards: int, shard_key: Callable[[Any], str], sort_key: Callable[[Any], Any], write: ShardWriter, seed: int = 0):
        super().__init__()
        self._directory, self._prefix, self._suffix, self._num_shards = directory, prefix, suffix, num_shards
        self._shard_key, self._sort_key, self._write, self._seed = shard_key, sort_key, write, seed

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        n, seed, shard_key = self._num_shards, self._seed, self._shard_key
        keyed = records | "AssignShard" >> beam.Map(lambda r: (stable_hash(seed, shard_key(r)) % n, r))
        all_shards = records.pipeline | "AllShards" >> beam.Create([(i, None) for i in range(n)])
        return (
            (all_shards, keyed)
            | "GroupByShard" >> beam.CoGroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self._directory, self._prefix, self._suffix, n, self._sort_key, self._write))
        )


class WriteCollectedJson(beam.PTransform):
    """Collects a small PCollection into one sorted JSON list file (counts, shard stats)."""

    def __init__(self, path: str):
        super().__init__()
        self._path = path

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        path = self._path
        return (
            items
            | "Collect" >> beam.combiners.ToList()
            | "WriteJson" >> beam.Map(lambda collected: write_json(path, sorted(collected, key=lambda x: json.dumps(x, sort_keys=True))))
        )
