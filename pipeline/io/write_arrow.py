"""The trainer-facing dataset: Arrow IPC stream shards in a ``datasets.load_from_disk`` directory."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.io.files import commit, create_atomic, write_json
from pipeline.records import PackedRow

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


def list_array(values: Sequence[np.ndarray], dtype: pa.DataType) -> pa.ListArray:
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum([len(v) for v in values], out=offsets[1:])
    flat = np.concatenate(values) if values else np.zeros(0)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, dtype))


def rows_to_batch(rows: Sequence[PackedRow]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [
            list_array([r.input_ids for r in rows], pa.int32()),
            list_array([np.asarray(r.document_lengths, dtype=np.int32) for r in rows], pa.int32()),
            pa.array([r.sources for r in rows], pa.list_(pa.string())),
        ],
        schema=SCHEMA,
    )


class ArrowShardWriter:
    """Writes packed rows to one Arrow stream shard as they come; ``close`` commits it and returns
    rows, tokens, padding, tokens per source and the file's sha256."""

    def __init__(self, path: str):
        self._path = path
        self._file = create_atomic(path)
        self._stream = pa.ipc.new_stream(self._file, SCHEMA)
        self._per_source: dict[str, int] = {}
        self._rows = 0
        self._seq_tokens = 0

    def write(self, rows: Sequence[PackedRow]) -> None:
        for start in range(0, len(rows), ROWS_PER_BATCH):
            self._stream.write_batch(rows_to_batch(rows[start : start + ROWS_PER_BATCH]))
        for r in rows:
            for length, source in zip(r.document_lengths, r.sources, strict=True):
                self._per_source[source] = self._per_source.get(source, 0) + length
            self._seq_tokens += len(r.input_ids)
        self._rows += len(rows)

    def close(self) -> dict[str, Any]:
        self._stream.close()
        commit(self._file, self._path)
        tokens = sum(self._per_source.values())
        return {"rows": self._rows, "tokens": tokens, "padding": self._seq_tokens - tokens, "tokens_per_source": dict(sorted(self._per_source.items())),
                "bytes": self._file.size, "sha256": self._file.sha256()}


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
