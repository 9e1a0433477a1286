"""Loading a built ``dataset/`` for training: rows plus the per-document views trainers need.

``document_lengths`` gives every piece packed into a row; from it come ``position_ids`` (reset
at each document, padding at 0), ``cu_seqlens`` (boundaries for varlen attention, padding as its
own segment) and a loss mask that ignores padding. DeepSeek-V3 trains without cross-document
masking; these let users choose.

``load`` gives the whole dataset (``datasets``); ``RankReader`` gives one data-parallel rank its
rows in a deterministic per-epoch order and resumes exactly from ``state_dict()``.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

try:  # a PyTorch IterableDataset when torch is installed; a plain iterable otherwise
    from torch.utils.data import IterableDataset as _Iterable
    from torch.utils.data import get_worker_info
except ImportError:
    _Iterable = object  # type: ignore[assignment,misc]

    def get_worker_info() -> Any:
        return None


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
    import datasets

    if not os.path.exists(os.path.join(path, "_SUCCESS")):
        raise IncompleteDatasetError(f"{path} has no _SUCCESS marker: its build did not finish; rerun `corpusmill build`")
    ds = datasets.load_from_disk(path)
    ds.set_transform(_add_views, output_all_columns=True)
    return ds


class RankReader(_Iterable):  # type: ignore[misc,valid-type]
    """The rows of one data-parallel rank: ``rank`` of ``world_size``, in a permutation of all rows
    that depends on ``(seed, epoch)`` only, resumable exactly.

    The epoch's order is the shards in a seeded order, each shard's rows in a seeded permutation
    (so memory follows one shard, not the dataset); global position g goes to rank g mod
    ``world_size``, so ranks are disjoint and together cover every row once. ``state_dict()``
    records the rows this rank consumed; ``load_state_dict`` continues from the next one.
    Each row comes as a dict: ``input_ids``, ``document_lengths``, ``sources``, ``position_ids``,
    ``cu_seqlens``, ``loss_mask`` and its ``shard``/``row`` address. With a PyTorch DataLoader, use
    ``num_workers`` 0 or 1 (one stream per rank; reading memory-mapped Arrow is cheap).
    """

    def __init__(self, path: str, rank: int = 0, world_size: int = 1, seed: int = 0, epoch: int = 0):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not within world_size {world_size}")
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as f:
            shards = json.load(f)["shards"]
        self.path, self.rank, self.world_size, self.seed = path, rank, world_size, seed
        self._files = [os.path.join(path, s["file"]) for s in shards]
        self._rows = [int(s["rows"]) for s in shards]
        self.epoch, self.consumed = epoch, 0

    @property
    def total_rows(self) -> int:
        return sum(self._rows)

    def __len__(self) -> int:
        """Rows this rank reads in one epoch (ranks differ by at most one)."""
        return len(range(self.rank, self.total_rows, self.world_size))

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.consumed = epoch, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "consumed": self.consumed, "seed": self.seed, "rank": self.rank, "world_size": self.world_size, "rows": self.total_rows}

    def load_state_dict(self, state: dict[str, int]) -> None:
        for key in ("seed", "rank", "world_size"):
            if state[key] != getattr(self, key):
                raise ValueError(f"state has {key} {state[key]}, this reader {getattr(self, key)}")
        if state["rows"] != self.total_rows:
            raise ValueError(f"state is of a dataset of {state['rows']:,} rows, this one has {self.total_rows:,}")
        self.epoch, self.consumed = state["epoch"], state["consumed"]

    def _rng(self, *keys: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, self.epoch, *keys])))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker = get_worker_info()
        if worker is not None and worker.num_workers > 1:
            raise ValueError("RankReader is one stream per rank: use a DataLoader with num_workers 0 or 1")
        shard_order = self._rng(1 << 32).permutation(len(self._files))
        position = self.rank + self.consumed * self.world_size  # the next global position for this rank
        start = 0
        for shard in shard_order:
            rows = self._rows[shard]
            if position >= start + rows:
                start += rows
                continue
            order = self._rng(int(shard)).permutation(rows)
            data = _Shard(self._files[shard])
            while position < start + rows:
                row = int(order[position - start])
                input_ids, pieces, sources = data.row(row)
                seq_len = len(input_ids)
                self.consumed += 1
                yield {"input_ids": input_ids, "document_lengths": pieces, "sources": sources, "position_ids": position_ids(pieces, seq_len),
                       "cu_seqlens": cu_seqlens(pieces, seq_len), "loss_mask": loss_mask(pieces, seq_len), "shard": int(shard), "row": row}
                position += self.world_size
            start += rows


class _Shard:
    """One Arrow stream shard, memory-mapped: rows are numpy views into its record batches."""

    def __init__(self, path: str):
        self._batches = list(pa.ipc.open_stream(pa.memory_map(path)))
        self._starts = np.cumsum([0] + [b.num_rows for b in self._batches])
        self._columns = [(self._flat(b.column("input_ids")), self._flat(b.column("document_lengths")), b.column("sources")) for b in self._batches]

    @staticmethod
    def _flat(array: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
        return array.values.to_numpy(), array.offsets.to_numpy()

    def row(self, index: int) -> tuple[np.ndarray, list[int], list[str]]:
        batch = int(np.searchsorted(self._starts, index, side="right")) - 1
        local = index - int(self._starts[batch])
        (ids, id_offsets), (lengths, length_offsets), sources = self._columns[batch]
        pieces = lengths[length_offsets[local] : length_offsets[local + 1]].tolist()
        return ids[id_offsets[local] : id_offsets[local + 1]], pieces, sources[local].as_py()
