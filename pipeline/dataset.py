"""Loading a built ``dataset/`` for training: rows plus the per-document views trainers need.

``document_lengths`` gives every piece packed into a row; from it come ``position_ids`` (reset
at each document, padding at 0), ``cu_seqlens`` (boundaries for varlen attention, padding as its
own segment) and a loss mask that ignores padding. DeepSeek-V3 trains without cross-document
masking; these let users choose.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def position_ids(document_lengths: Sequence[int], seq_len: int) -> np.ndarray:
    """Positions restarting at 0 for every piece; padding positions are 0."""
    out = np.zeros(seq_len, dtype=np.int32)
    start = 0
    for n in document_lengths:
        out[start : start + n] = np.arange(n, dtype=np.int32)
        start += n
    return out


def cu_seqlens(document_lengths: Sequence[int], seq_len: int) -> np.ndarray:
    """Cumulative piece boundaries ``[0, l1, l1+l2, ..., seq_len]`` (padding is the last segment)."""
    bounds = np.concatenate([[0], np.cumsum(document_lengths, dtype=np.int64)])
    if bounds[-1] < seq_len:
        bounds = np.append(bounds, seq_len)
    return bounds.astype(np.int32)


def loss_mask(document_lengths: Sequence[int], seq_len: int) -> np.ndarray:
    """1 for real tokens, 0 for padding."""
    mask = np.zeros(seq_len, dtype=np.int8)
    mask[: int(sum(document_lengths))] = 1
    return mask


def _add_views(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    rows = []
    for ids, lengths in zip(batch["input_ids"], batch["document_lengths"]):
        seq_len = len(ids)
        rows.append((position_ids(lengths, seq_len), cu_seqlens(lengths, seq_len), loss_mask(lengths, seq_len)))
    batch["position_ids"] = [r[0] for r in rows]
    batch["cu_seqlens"] = [r[1] for r in rows]
    batch["loss_mask"] = [r[2] for r in rows]
    return batch


class IncompleteDatasetError(FileNotFoundError):
    """The directory has no ``_SUCCESS`` marker: its build did not finish."""


def load(path: str) -> Any:
    """``datasets.load_from_disk(path)`` with ``position_ids``, ``cu_seqlens`` and ``loss_mask`` added
    on access; refuses a directory whose build did not finish."""
    import os

    import datasets

    if not os.path.exists(os.path.join(path, "_SUCCESS")):
        raise IncompleteDatasetError(f"{path} has no _SUCCESS marker: its build did not finish; rerun `corpusmill build`")
    ds = datasets.load_from_disk(path)
    ds.set_transform(_add_views, output_all_columns=True)
    return ds
