"""The ``curated/``, ``drops/`` and ``dead_letter/`` formats: schemas, streaming atomic writers for one
work unit's files and their readers, side by side; and small collected JSON files.

Each unit writes its own files (``part-00007.parquet``), in the order it reads its documents,
so output bytes depend only on the input and the config, never on bundles, runners or worker
counts. Writers count the rows they commit: the run report reconciles those counts.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.io.files import FileDoFn, commit, create_atomic, write_json
from pipeline.records import DeadLetter, Document, Drop

CURATED_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string()), ("meta", pa.string())])
DROPS_SCHEMA = pa.schema([(f, pa.string()) for f in Drop._fields])
PARQUET_ROW_GROUP = 1024
SPILL_COMPRESSION = "lz4"  # intermediate files under _work/: read back once or twice, so speed over size


class ReconciliationError(RuntimeError):
    """Documents went missing or appeared from nowhere: a bug, never a data problem."""


def parquet_rows(path: str) -> int:
    """The rows a Parquet file's footer records (read back, to check what a writer committed)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.ParquetFile(f).metadata.num_rows


def verify_parquet_rows(expected: dict[str, int]) -> list[str]:
    """The files whose Parquet footers hold another number of rows than expected (read back)."""
    return [f"{path} holds {rows} rows, {n} were reported" for path, n in expected.items() if (rows := parquet_rows(path)) != n]


def curated_row(doc: Document) -> dict[str, Any]:
    return {"id": doc.id, "text": doc.text, "source": doc.source, "meta": json.dumps(doc.meta, sort_keys=True, ensure_ascii=False)}


class ParquetRowWriter:
    """Writes rows to ``path`` in row groups of ``row_group`` rows as they come, dict rows and Arrow
    rows alike (the same rows give the same file whichever way they came); ``close`` commits and
    returns file stats."""

    def __init__(self, path: str, schema: pa.Schema, row_group: int = PARQUET_ROW_GROUP, compression: str = "zstd"):
        self._path, self._schema, self._row_group = path, schema, row_group
        self._file = create_atomic(path)
        self._writer = pq.ParquetWriter(self._file, schema, compression=compression)
        self._rows: list[dict[str, Any]] = []  # dict rows after the Arrow ones
        self._tables: list[pa.Table] = []  # rows not yet in a row group, in order
        self._pending = 0
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self._added(1)

    def write_table(self, table: pa.Table) -> None:
        """Rows already in Arrow form, after the ones written before."""
        self._hold_rows()
        self._tables.append(table.cast(self._schema))
        self._added(table.num_rows)

    def _hold_rows(self) -> None:
        if self._rows:
            self._tables.append(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def _added(self, rows: int) -> None:
        self.rows += rows
        self._pending += rows
        if self._pending >= self._row_group:
            self._flush(whole_groups_only=True)

    def _flush(self, whole_groups_only: bool = False) -> None:
        self._hold_rows()
        pending = pa.concat_tables(self._tables).combine_chunks() if self._tables else None  # where chunks end changes the data pages: one chunk, as from dict rows
        self._tables = []
        if pending is None or not pending.num_rows:
            self._pending = 0
            return
        ready = pending.num_rows - pending.num_rows % self._row_group if whole_groups_only else pending.num_rows
        if ready:
            self._writer.write_table(pending.slice(0, ready), row_group_size=self._row_group)
        if ready < pending.num_rows:
            self._tables = [pending.slice(ready)]
        self._pending = pending.num_rows - ready

    def close(self) -> dict[str, Any]:
        self._flush()
        self._writer.close()
        commit(self._file, self._path)
        return {"rows": self.rows, "bytes": self._file.size, "sha256": self._file.sha256()}


def as_drops_table(drops: Iterable[Drop] | pa.Table) -> pa.Table:
    """Drops as an Arrow table of ``DROPS_SCHEMA`` (a table read back from a drops file, or records)."""
    if isinstance(drops, pa.Table):
        return pa.table(drops.select(DROPS_SCHEMA.names).columns, schema=DROPS_SCHEMA)
    return pa.Table.from_pylist([drop._asdict() for drop in drops], schema=DROPS_SCHEMA)


def write_drops(path: str, drops: Iterable[Drop] | pa.Table) -> dict[str, Any]:
    writer = ParquetRowWriter(path, DROPS_SCHEMA, row_group=16384)
    writer.write_table(as_drops_table(drops))
    return writer.close()


def write_dead_letters(path: str, records: list[DeadLetter]) -> dict[str, Any] | None:
    """JSONL; no file at all when there is nothing to write (object stores reject empty multipart uploads)."""
    if not records:
        return None
    writer = create_atomic(path)
    for r in records:
        location = {"row": r.row} if r.row is not None else {"line": r.line}
        entry = {"source": r.source, "stage": r.stage, "file": r.file, **location, "error": r.error, "raw": r.raw}
        writer.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
    commit(writer, path)
    return {"rows": len(records), "bytes": writer.size, "sha256": writer.sha256()}


class WriteJsonFiles(beam.PTransform):
    """``{path: small PCollection}`` → one sorted JSON list file per path (counts, unit reports,
    samples), every path written even when its PCollection is empty (a None per path makes its group exist; items are never None). One GroupByKey for all the
    files: each collected file used to cost the runner three stages of its own."""

    def expand(self, collections):  # {path: PCollection}: no hint, Beam takes only PCollection hints
        keyed = [items | f"Key {i}" >> beam.Map(lambda item, path: (path, item), path) for i, (path, items) in enumerate(sorted(collections.items()))]
        every_path = next(iter(collections.values())).pipeline | "EveryPath" >> beam.Create([(path, None) for path in sorted(collections)], reshuffle=False)
        return (
            [every_path, *keyed]
            | "MergeFiles" >> beam.Flatten()
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteFiles" >> beam.ParDo(_WriteSortedJson())
        )


class _WriteSortedJson(FileDoFn):
    """Writes one file per group and emits nothing (so ``process`` has no return hint: Beam reads
    ``-> None`` as an output type, which it refuses)."""

    def process(self, grouped: tuple[str, Iterable[Any]]):
        path, items = grouped
        write_json(path, sorted((x for x in items if x is not None), key=lambda x: json.dumps(x, sort_keys=True)))


def document_at(table: pa.Table, position: int) -> Document:
    """The document in row ``position`` of a table of ``CURATED_SCHEMA``."""
    row = table.slice(position, 1).to_pylist()[0]
    return Document(row["id"], row["text"], row["source"], json.loads(row["meta"]))


def read_curated_batches(path: str) -> Iterator[pa.RecordBatch]:
    """Record batches of one ``curated/`` Parquet shard (or a unit's spill of that schema), in file order."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        yield from pq.ParquetFile(f).iter_batches(batch_size=1024)


def read_curated_file(path: str) -> Iterator[Document]:
    """Documents of one ``curated/`` Parquet shard, in file order."""
    for batch in read_curated_batches(path):
        cols = batch.to_pydict()
        for doc_id, text, source, meta in zip(cols["id"], cols["text"], cols["source"], cols["meta"], strict=True):
            yield Document(doc_id, text, source, json.loads(meta))


def curated_ids(path: str) -> list[str]:
    """The document ids of one ``curated/`` shard (the id column alone)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.read_table(f, columns=["id"]).column("id").to_pylist()


def curated_stats(paths: Iterable[str]) -> tuple[int, int]:
    """(documents, uncompressed text bytes) of curated shards, from Parquet footers alone."""
    rows = text_bytes = 0
    for path in paths:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            meta = pq.ParquetFile(f).metadata
        rows += meta.num_rows
        for rg in range(meta.num_row_groups):
            group = meta.row_group(rg)
            text_bytes += sum(group.column(c).total_uncompressed_size for c in range(group.num_columns) if group.column(c).path_in_schema == "text")
    return rows, text_bytes
