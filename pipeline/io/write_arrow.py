"""The trainer-facing dataset: Arrow IPC stream shards in a ``datasets.load_from_disk`` directory."""
from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from pipeline.io.files import commit, create_atomic, write_json
from pipeline.pack import PackedRow

_INT32_LIST = {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "List"}
FEATURES = {
    "input_ids": _INT32_LIST,
    "document_lengths": _INT32_LIST,
    "sources": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
}
SCHEMA = pa.schema(
    [("input_ids", pa.list_(pa.int32())), ("document_lengths", pa.list_(pa.int32())), ("sources", pa.list_(pa.string()))],
    metadata={"huggingface": json.dumps({"info": {"features": FEATURES}})},
)
ROWS_PER_BATCH = 1024


def _list_array(values: Sequence[np.ndarray], dtype: pa.DataType) -> pa.ListArray:
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum([len(v) for v in values], out=offsets[1:])
    flat = np.concatenate(values) if values else np.zeros(0)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, dtype))


def rows_to_batch(rows: Sequence[PackedRow]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [
            _list_array([r.input_ids for r in rows], pa.int32()),
            _list_array([np.asarray(r.document_lengths, dtype=np.int32) for r in rows], pa.int32()),
            pa.array([r.sources for r in rows], pa.list_(pa.string())),
        ],
        schema=SCHEMA,
    )


def write_arrow_shard(path: str, rows: list[PackedRow]) -> dict[str, Any]:
    """Writes one shard; returns rows, tokens, padding, tokens per source and the file's sha256."""
    writer = create_atomic(path)
    with pa.ipc.new_stream(writer, SCHEMA) as stream:
        for start in range(0, len(rows), ROWS_PER_BATCH):
            stream.write_batch(rows_to_batch(rows[start : start + ROWS_PER_BATCH]))
    commit(writer, path)
    per_source: dict[str, int] = {}
    for r in rows:
        for length, source in zip(r.document_lengths, r.sources):
            per_source[source] = per_source.get(source, 0) + length
    tokens = sum(per_source.values())
    seq_tokens = sum(len(r.input_ids) for r in rows)
    return {"rows": len(rows), "tokens": tokens, "padding": seq_tokens - tokens, "tokens_per_source": per_source, "bytes": writer.size, "sha256": writer.sha256()}


def write_dataset_metadata(directory: str, shard_files: Sequence[str], fingerprint: str) -> None:
    """``dataset_info.json`` and ``state.json`` as ``datasets.Dataset.save_to_disk`` writes them."""
    write_json(f"{directory}/dataset_info.json", {"citation": "", "description": "", "features": FEATURES, "homepage": "", "license": ""})
    write_json(
        f"{directory}/state.json",
        {
            "_data_files": [{"filename": name} for name in shard_files],
            "_fingerprint": fingerprint,
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": None,
        },
    )
