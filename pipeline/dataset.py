"""Loading a built ``dataset/`` for training: rows plus the per-document views trainers need.

``document_lengths`` gives every piece packed into a row; from it come ``position_ids`` (reset
at each document, padding at 0), ``cu_seqlens`` (boundaries for varlen attention, padding as its
own segment) and a loss mask that ignores padding. DeepSeek-V3 trains without cross-document
masking; these let users choose.

``load`` gives the whole dataset (``datasets``); ``RankReader`` gives one data-parallel rank its
rows in a deterministic per-epoch order and resumes exactly from ``state_dict()``.
"""
from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

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


IGNORE_INDEX = -100  # the label PyTorch's and Hugging Face's cross-entropy skip


def labels(input_ids: np.ndarray, document_lengths: Sequence[int]) -> np.ndarray:
    """int64 next-token labels for a packed row: the ids, with ``IGNORE_INDEX`` on padding and on
    each piece's first token, which must not be predicted from the previous document."""
    out = np.asarray(input_ids, dtype=np.int64).copy()
    starts = np.concatenate([[0], np.cumsum(document_lengths, dtype=np.int64)])
    out[starts[:-1]] = IGNORE_INDEX
    out[starts[-1] :] = IGNORE_INDEX
    return out


def _add_views(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    rows = []
    for ids, lengths in zip(batch["input_ids"], batch["document_lengths"], strict=True):
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
    Iterating gives one dict per row: ``input_ids``, ``document_lengths``, ``sources``,
    ``position_ids``, ``cu_seqlens``, ``loss_mask`` and its ``shard``/``row`` address, in this
    process only; ``batches(batch_size, num_workers)`` gives training batches, read by DataLoader
    worker processes if asked, with ``state_dict()`` following what was delivered.
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

    def _addresses(self) -> Iterator[tuple[int, int]]:
        """``(shard, row)`` of this rank's rows from position ``consumed`` of the epoch on."""
        shard_order = self._rng(1 << 32).permutation(len(self._files))
        position = self.rank + self.consumed * self.world_size  # the next global position for this rank
        start = 0
        for shard in shard_order:
            rows = self._rows[shard]
            if position < start + rows:
                order = self._rng(int(shard)).permutation(rows)
                while position < start + rows:
                    yield int(shard), int(order[position - start])
                    position += self.world_size
            start += rows

    def _reading(self) -> Any:
        """A function ``(shard, row) -> row dict`` that keeps the last shard it opened mapped."""
        opened: dict[int, _Shard] = {}

        def read(shard: int, row: int) -> dict[str, Any]:
            if shard not in opened:
                opened.clear()
                opened[shard] = _Shard(self._files[shard])
            input_ids, pieces, sources = opened[shard].row(row)
            seq_len = len(input_ids)
            return {"input_ids": input_ids, "document_lengths": pieces, "sources": sources, "position_ids": position_ids(pieces, seq_len),
                    "cu_seqlens": cu_seqlens(pieces, seq_len), "loss_mask": loss_mask(pieces, seq_len), "shard": shard, "row": row}

        return read

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if get_worker_info() is not None:
            raise RuntimeError("RankReader rows are read in this process only: in a DataLoader worker its state_dict() "
                               "would never see their progress. Use reader.batches(batch_size, num_workers=N) instead.")
        read = self._reading()
        for shard, row in self._addresses():
            self.consumed += 1
            yield read(shard, row)

    def batches(self, batch_size: int, num_workers: int = 0, **loader_options: Any) -> Iterator[dict[str, Any]]:
        """The rank's remaining rows of the epoch in batches of ``batch_size`` (the last may be
        shorter): ``input_ids``, ``labels`` (int64, see ``labels``), ``position_ids`` (int64),
        ``loss_mask`` stacked; ``cu_seqlens``, ``document_lengths``, ``sources`` per row; ``shard``
        and ``row``. With torch installed a DataLoader delivers them as tensors, read by
        ``num_workers`` processes (batch j by worker j mod N, delivered in order); ``state_dict()``
        counts the rows of the batches delivered so far, so a checkpoint taken between batches
        resumes with the next row, with any number of workers."""
        stream = _BatchStream(self, batch_size)
        if _Iterable is object:
            if num_workers:
                raise ValueError("num_workers needs torch's DataLoader, and torch is not installed")
            delivered: Iterator[dict[str, Any]] = iter(stream)
        else:
            from torch.utils.data import DataLoader

            # numpy crosses the worker pipe pickled (one copy); tensors there would each cost a shared-memory segment
            loader = DataLoader(stream, batch_size=None, num_workers=num_workers, collate_fn=_as_is, **loader_options)
            delivered = ({k: _as_tensors(v) for k, v in batch.items()} for batch in loader)
        for batch in delivered:
            self.consumed = int(batch.pop("consumed"))
            yield batch


class _BatchStream(_Iterable):  # type: ignore[misc,valid-type]
    """A reader's batches from its current position; in DataLoader worker w of N, batches w, w+N, ..."""

    def __init__(self, reader: RankReader, batch_size: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.reader, self.batch_size = reader, batch_size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker = get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        read = self.reader._reading()
        addresses = self.reader._addresses()
        consumed = self.reader.consumed
        for j in itertools.count():
            chunk = list(itertools.islice(addresses, self.batch_size))
            if not chunk:
                return
            consumed += len(chunk)
            if j % workers == worker_id:
                yield _stack([read(shard, row) for shard, row in chunk], consumed)


def _as_is(batch: Any) -> Any:
    return batch


def _as_tensors(value: Any) -> Any:
    """numpy arrays (alone or in a list) as torch tensors sharing their memory; anything else as is."""
    import torch

    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return [torch.from_numpy(v) for v in value] if isinstance(value, list) and value and isinstance(value[0], np.ndarray) else value


def _stack(rows: list[dict[str, Any]], consumed: int) -> dict[str, Any]:
    return {"input_ids": np.stack([r["input_ids"] for r in rows]).astype(np.int64),
            "labels": np.stack([labels(r["input_ids"], r["document_lengths"]) for r in rows]),
            "position_ids": np.stack([r["position_ids"] for r in rows]).astype(np.int64),
            "loss_mask": np.stack([r["loss_mask"] for r in rows]),
            "cu_seqlens": [r["cu_seqlens"] for r in rows], "document_lengths": [r["document_lengths"] for r in rows],
            "sources": [r["sources"] for r in rows], "shard": np.array([r["shard"] for r in rows]), "row": np.array([r["row"] for r in rows]),
            "consumed": consumed}


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
