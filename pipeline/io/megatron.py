"""Megatron-LM indexed datasets (``MMIDIDX`` version 1): ``.bin`` token data and its ``.idx`` index.

The layout Megatron-LM, NeMo and GPT-NeoX read (``megatron/core/datasets/indexed_dataset.py``):

- ``.bin``: the sequences' tokens, back to back, in one dtype;
- ``.idx``: the 9-byte header ``MMIDIDX\\x00\\x00``, version ``<Q`` 1, dtype code ``<B``, sequence
  count ``<Q``, document-index count ``<Q``, then int32 sequence lengths, int64 byte pointers of
  each sequence in ``.bin``, and int64 document indices (``[0, ..., sequences]``: document k is
  sequences ``[d[k], d[k+1])``).

Each piece of a dataset row (``document_lengths``) is one sequence and one document: EOS kept
where the document ends, padding dropped.
"""
from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.io.files import commit, create_atomic, remove_temp_dirs

INDEX_HEADER = b"MMIDIDX\x00\x00"
VERSION = 1
DTYPE_CODES = {np.dtype(np.uint8): 1, np.dtype(np.int8): 2, np.dtype(np.int16): 3, np.dtype(np.int32): 4, np.dtype(np.int64): 5,
               np.dtype(np.float64): 6, np.dtype(np.float32): 7, np.dtype(np.uint16): 8}


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest dtype holding every id: uint8, uint16, int32 (Megatron reads them all)."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def row_pieces(batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens without padding, piece lengths)`` of a batch of dataset rows, in row order."""
    ids = batch.column("input_ids")
    lengths = batch.column("document_lengths")
    flat = ids.values.to_numpy(zero_copy_only=False)
    offsets = ids.offsets.to_numpy()
    piece_lengths = lengths.values.to_numpy(zero_copy_only=False).astype(np.int64)
    piece_offsets = lengths.offsets.to_numpy()
    real = np.add.reduceat(np.append(piece_lengths, 0), piece_offsets[:-1]) * (np.diff(piece_offsets) > 0)
    row_len = np.diff(offsets)
    within = np.arange(len(flat)) - np.repeat(offsets[:-1], row_len)
    keep = within < np.repeat(real, row_len)
    return flat[keep], piece_lengths


class IndexedDatasetWriter:
    """Streams sequences into ``<prefix>.bin`` and writes ``<prefix>.idx`` on ``close`` (both
    atomically, through ``FileSystems``); returns counts and sha256s."""

    def __init__(self, prefix: str, dtype: np.dtype):
        self._prefix, self._dtype = prefix, np.dtype(dtype)
        self._bin = create_atomic(f"{prefix}.bin")
        self._lengths: list[np.ndarray] = []

    def write(self, tokens: np.ndarray, lengths: np.ndarray) -> None:
        """Appends sequences: ``tokens`` back to back, ``lengths`` tokens each."""
        if int(lengths.sum()) != len(tokens):
            raise ValueError(f"{len(tokens)} tokens for sequences of {int(lengths.sum())}")
        if len(tokens) and (tokens.min() < 0 or tokens.max() > np.iinfo(self._dtype).max):
            raise ValueError(f"token ids outside {self._dtype} (max {int(tokens.max())})")
        self._bin.write(tokens.astype(self._dtype, copy=False).tobytes())
        self._lengths.append(lengths.astype(np.int32))

    def close(self) -> dict[str, Any]:
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int32)
        pointers = np.zeros(len(lengths), np.int64)
        np.cumsum(lengths[:-1].astype(np.int64) * self._dtype.itemsize, out=pointers[1:])
        documents = np.arange(len(lengths) + 1, dtype=np.int64)
        index = b"".join([
            INDEX_HEADER, struct.pack("<Q", VERSION), struct.pack("<B", DTYPE_CODES[self._dtype]),
            struct.pack("<Q", len(lengths)), struct.pack("<Q", len(documents)),
            lengths.tobytes(order="C"), pointers.tobytes(order="C"), documents.tobytes(order="C"),
        ])
        commit(self._bin, f"{self._prefix}.bin")
        idx = create_atomic(f"{self._prefix}.idx")
        idx.write(index)
        commit(idx, f"{self._prefix}.idx")
        return {"prefix": self._prefix, "sequences": int(len(lengths)), "tokens": int(lengths.sum()), "dtype": self._dtype.name,
                "bin_sha256": self._bin.sha256(), "idx_sha256": hashlib.sha256(index).hexdigest(), "bin_bytes": self._bin.size}


def arrow_batches(path: str) -> Iterator[pa.RecordBatch]:
    """The record batches of one dataset shard (an Arrow IPC stream), read through ``FileSystems``."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        yield from pa.ipc.open_stream(f)


def export_shards(groups: Sequence[tuple[str, Sequence[str]]], dtype: np.dtype) -> list[dict[str, Any]]:
    """Writes each ``(prefix, dataset shards)`` group as one ``.bin``/``.idx`` pair, in shard order."""
    results = []
    for prefix, paths in groups:
        writer = IndexedDatasetWriter(prefix, dtype)
        for path in paths:
            for batch in arrow_batches(path):
                writer.write(*row_pieces(batch))
        results.append(writer.close())
    remove_temp_dirs(*sorted({prefix.rsplit("/", 1)[0] for prefix, _ in groups if "/" in prefix}))
    return results
