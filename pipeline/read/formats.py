"""Readers: one generator per input format, and the reader of ``curated/`` shards.

Each reader yields ``Document`` or ``DeadLetter`` records, one per input record, so nothing is
lost: a bad line, row or file becomes a dead letter naming the file and line and the run goes on.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.config import DEFAULT_MAX_RATIO, SourceConfig
from pipeline.io.files import InputNotFoundError, common_base, glob_base, special_file_kind
from pipeline.read.decompress import BlankLines, Oversized, compression_of, lines
from pipeline.read.repos import RepoRecord, match_repositories, read_repository, repositories_from_rows
from pipeline.read.units import Piece
from pipeline.read.web import read_html, read_warc
from pipeline.records import DeadLetter, Document, Drop, Stage, make_id, preview

Record = Document | DeadLetter | Drop


def _dead(source: SourceConfig, path: str, line: int | None, error: str, raw: Any = "", row: int | None = None) -> DeadLetter:
    return DeadLetter(source.name, Stage.READ, path, line, row, error, preview(raw))


def _document(source: SourceConfig, text: Any, original_id: Any, meta: dict[str, Any], raw: Any) -> Record:
    """Validates one record's fields; a missing or non-string text or a bad id is a dead letter.

    ``meta`` holds the record's ``path`` and its ``line`` or ``row``, which the dead letter reuses.
    """
    error = None
    if text is None:
        error = f"missing text field {source.text_field!r}"
    elif not isinstance(text, str):
        error = f"text field {source.text_field!r} is {type(text).__name__}, not a string"
    elif original_id is not None and (isinstance(original_id, bool) or not isinstance(original_id, (str, int))):
        error = f"id field {source.id_field!r} is {type(original_id).__name__}, not a string or integer"
    if error is not None:
        at = f"at byte offset {meta['offset']}: " if "offset" in meta else ""
        return _dead(source, meta["path"], meta.get("line"), at + error, raw, meta.get("row"))
    oid = None if original_id is None else str(original_id)
    return Document(make_id(source.name, oid, text), text, source.name, meta)


def _skip_partial_line(f: Any, start: int) -> int:
    """Positions ``f`` at the first line that starts at or after ``start``; returns that offset.

    The line that straddles ``start`` belongs to the range before it, which reads past its end.
    """
    f.seek(start - 1)
    skipped = 0
    while True:
        chunk = f.read(1 << 16)
        if not chunk:
            return start - 1 + skipped
        cut = chunk.find(b"\n")
        if cut >= 0:
            f.seek(start - 1 + skipped + cut + 1)
            return start + skipped + cut
        skipped += len(chunk)


def read_jsonl(source: SourceConfig, path: str, max_bytes: int | None = None, start: int = 0, end: int | None = None,
               max_ratio: float | None = DEFAULT_MAX_RATIO) -> Iterator[Record]:
    """One JSON object per line; .gz/.zst/.bz2 are decompressed by their extension.

    With a byte range (uncompressed files only) the lines that start inside ``[start, end)`` are
    read; their place is given as a byte ``offset`` instead of a line number. Each line is its own
    failure domain: whatever decoding it raises dead-letters that line alone.
    """
    line_no = 0
    offset = start
    ranged = start > 0 or end is not None
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            if start > 0:
                offset = _skip_partial_line(f, start)
            for raw in lines(f, compression_of(path), max_bytes, max_ratio):
                if end is not None and offset >= end:
                    break
                if isinstance(raw, BlankLines):
                    line_no, offset = line_no + raw, offset + raw
                    continue
                line_no += 1
                place = {"offset": offset} if ranged else {"line": line_no}
                try:
                    record = _jsonl_record(source, path, raw, place, max_bytes, first=offset == 0)
                except Exception as e:  # RecursionError on deep nesting, ValueError on huge integers, ...
                    at = "" if not ranged else f"at byte offset {offset}: "
                    record = _dead(source, path, place.get("line"), f"{at}undecodable record: {type(e).__name__}: {e}", raw if isinstance(raw, bytes) else "")
                offset += int(raw) if isinstance(raw, Oversized) else len(raw)
                if record is not None:
                    yield record
    except Exception as e:  # a corrupt, truncated or inflating compressed file: the rest of it is unreadable
        where = f"byte offset {offset}" if ranged else f"line {line_no}"
        yield _dead(source, path, None if ranged else line_no + 1, f"unreadable after {where}: {type(e).__name__}: {e}")


def _jsonl_record(source: SourceConfig, path: str, raw: bytes | Oversized, place: dict[str, int], max_bytes: int | None, first: bool) -> Record | None:
    """The document or dead letter of one JSONL line (None for a blank line)."""
    line = place.get("line")
    at = "" if line is not None else f"at byte offset {place['offset']}: "
    if isinstance(raw, Oversized):
        return _dead(source, path, line, f"{at}record of {int(raw):,} bytes exceeds max_document_bytes {max_bytes:,}")
    body = raw.rstrip(b"\r\n")
    if first:
        body = body.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
    if not body.strip():
        return None
    try:
        obj = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        return _dead(source, path, line, f"{at}invalid UTF-8 at byte {e.start}", body)
    except json.JSONDecodeError as e:
        return _dead(source, path, line, f"{at}invalid JSON: {e.msg} at column {e.colno}", body)
    if not isinstance(obj, dict):
        return _dead(source, path, line, f"{at}expected a JSON object, got {type(obj).__name__}", body)
    meta: dict[str, Any] = {"path": path, **place}
    if isinstance(obj.get("url"), str):
        meta["url"] = obj["url"]
    if source.repo_field is not None:
        meta["repo"], meta["file"] = obj.get(source.repo_field), obj.get(source.path_field)
    return _document(source, obj.get(source.text_field), obj.get(source.id_field) if source.id_field else None, meta, body)


def _read_record_batches(source: SourceConfig, path: str, batches: Iterable[pa.RecordBatch], first_row: int = 0) -> Iterator[Record]:
    row = first_row
    for batch in batches:
        columns = batch.to_pydict()
        texts = columns.get(source.text_field)
        ids = columns.get(source.id_field) if source.id_field else None
        for i in range(batch.num_rows):
            row += 1
            text = texts[i] if texts is not None else None
            oid = ids[i] if ids is not None else None
            raw = {k: v[i] for k, v in columns.items()}
            meta: dict[str, Any] = {"path": path, "row": row}
            if source.repo_field is not None:
                meta["repo"], meta["file"] = raw.get(source.repo_field), raw.get(source.path_field)
            yield _document(source, text, oid, meta, raw)


def _columns(source: SourceConfig, schema: pa.Schema, path: str) -> list[str]:
    """The columns to read; a file without the text column is wholly unreadable."""
    if source.text_field not in schema.names:
        raise KeyError(f"no column {source.text_field!r} (columns: {', '.join(schema.names)})")
    return [c for c in (source.text_field, source.id_field, source.repo_field, source.path_field) if c and c in schema.names]


def read_parquet(source: SourceConfig, path: str) -> Iterator[Record]:
    """Row group by row group: a damaged row group dead-letters the rows it could not give (each by
    its row number) and reading goes on with the next; a file without a readable footer is one dead letter."""
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            pf = pq.ParquetFile(f)
            columns = _columns(source, pf.schema_arrow, path)
            first_row = 0
            for group in range(pf.num_row_groups):
                rows = pf.metadata.row_group(group).num_rows
                done = 0
                try:
                    for record in _read_record_batches(source, path, pf.iter_batches(batch_size=1024, row_groups=[group], columns=columns), first_row):
                        done += 1
                        yield record
                except Exception as e:
                    error = f"unreadable row group {group} (rows {first_row + 1}-{first_row + rows}): {type(e).__name__}: {e}"
                    for row in range(first_row + done + 1, first_row + rows + 1):
                        yield _dead(source, path, None, error, row=row)
                first_row += rows
    except Exception as e:
        yield _dead(source, path, None, f"unreadable Parquet file: {type(e).__name__}: {e}")


def read_arrow(source: SourceConfig, path: str) -> Iterator[Record]:
    """Arrow IPC, stream or file format (HF ``datasets`` shards are streams)."""
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            data = f.read()
        try:
            reader = pa.ipc.open_stream(data)
            batches: Iterable[pa.RecordBatch] = reader
        except pa.ArrowInvalid:
            file_reader = pa.ipc.open_file(data)
            reader = file_reader
            batches = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
        columns = _columns(source, reader.schema, path)
        yield from _read_record_batches(source, path, (b.select(columns) for b in batches))
    except Exception as e:
        yield _dead(source, path, None, f"unreadable Arrow file: {type(e).__name__}: {e}")


def read_text(source: SourceConfig, path: str, base: str, max_bytes: int | None = None, max_ratio: float | None = DEFAULT_MAX_RATIO) -> Iterator[Record]:
    """One file is one document; its id is the path relative to the glob's base directory."""
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            pieces: list[bytes] = []
            size = 0
            for line in lines(f, compression_of(path), max_bytes, max_ratio):
                if isinstance(line, BlankLines):
                    line = b"\n" * line
                size += int(line) if isinstance(line, Oversized) else len(line)
                if isinstance(line, Oversized) or (max_bytes is not None and size > max_bytes):
                    raise ValueError(f"document exceeds max_document_bytes {max_bytes:,}")
                pieces.append(line)
            data = b"".join(pieces)
    except Exception as e:
        yield _dead(source, path, None, f"unreadable file: {type(e).__name__}: {e}")
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        yield _dead(source, path, 1 + data.count(b"\n", 0, e.start), f"invalid UTF-8 at byte {e.start}", data[max(0, e.start - 64):])
        return
    relative = path[len(base):].lstrip("/") if path.startswith(base) else path
    yield Document(make_id(source.name, relative, text), text, source.name, {"path": path})


def _hf_data_files(directory: str) -> list[str]:
    """The Arrow shards of a ``datasets.save_to_disk`` directory, from its state.json."""
    state_path = FileSystems.join(directory, "state.json")
    with FileSystems.open(state_path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        state = json.loads(f.read())
    return [FileSystems.join(directory, d["filename"]) for d in state["_data_files"]]


def match_source_files(source: SourceConfig) -> list[tuple[str, str, int]]:
    """``(path, base, size in bytes)`` for every file of a source, sorted; fails on a pattern matching nothing.

    ``base`` is the directory shared by all the source's patterns, so ids of ``text`` documents
    (paths relative to it) stay unique across patterns: ``asyncio/__init__.py``, ``email/__init__.py``.
    """
    if source.format == "repos":
        return match_repositories(source)
    found: dict[str, int] = {}
    for pattern in source.paths:
        if source.format == "hf":
            if not FileSystems.exists(FileSystems.join(pattern, "state.json")):
                raise InputNotFoundError(f"source {source.name!r}: {pattern} is not a datasets directory (no state.json)")
            for path in _hf_data_files(pattern):
                found.update((m.path, m.size_in_bytes) for m in FileSystems.match([path])[0].metadata_list)
            continue
        metadata = FileSystems.match([pattern])[0].metadata_list
        if not metadata:
            raise InputNotFoundError(f"source {source.name!r}: no file matches {pattern}")
        found.update((m.path, m.size_in_bytes) for m in metadata)
    base = common_base([glob_base(p) for p in source.paths])
    return [(path, base, found[path]) for path in sorted(found)]


def read_piece(source: SourceConfig, piece: Piece, max_bytes: int | None = None, max_ratio: float | None = DEFAULT_MAX_RATIO) -> Iterator[Record | RepoRecord]:
    """Dispatches on the source's format; columnar records over ``max_bytes`` are dead-lettered.
    Web formats also yield drops (stage ``extract``) for records without main text; repository
    sources yield ``Repository`` records and drops (stage ``repo``) for skipped files. A FIFO,
    device or socket matched by a glob is one dead letter, never opened (it could block forever)."""
    if source.format == "repos":
        return read_repository(source, piece.path, piece.base)
    special = special_file_kind(piece.path)
    if special is not None:
        return iter([_dead(source, piece.path, None, f"not a regular file ({special}): not read")])
    records = _records(source, piece, max_bytes, max_ratio)
    return repositories_from_rows(source, records) if source.repo_field is not None else records


def _records(source: SourceConfig, piece: Piece, max_bytes: int | None, max_ratio: float | None) -> Iterator[Record]:
    if source.format == "jsonl":
        return read_jsonl(source, piece.path, max_bytes, piece.start, piece.end, max_ratio)
    if source.format == "text":
        return read_text(source, piece.path, piece.base, max_bytes, max_ratio)
    if source.format == "warc":
        return read_warc(source, piece.path, max_bytes)
    if source.format == "html":
        return read_html(source, piece.path, piece.base, max_bytes)
    records = read_parquet(source, piece.path) if source.format == "parquet" else read_arrow(source, piece.path)
    return (_within_limit(source, piece.path, r, max_bytes) for r in records)


def _within_limit(source: SourceConfig, path: str, record: Record, max_bytes: int | None) -> Record:
    """The record, or a dead letter when its text is over ``max_bytes`` (UTF-8 measured only when it could be)."""
    if not isinstance(record, Document) or max_bytes is None or len(record.text) * 4 <= max_bytes:
        return record
    size = len(record.text.encode("utf-8", "surrogatepass"))
    if size <= max_bytes:
        return record
    return _dead(source, path, None, f"record of {size:,} bytes exceeds max_document_bytes {max_bytes:,}", record.text, record.meta.get("row"))
