"""Trainer I/O throughput: Megatron export MB/s and the rank reader's rows/s.

Writes a synthetic dataset (``--shards`` Arrow shards of ``--rows`` rows of ``--seq-len`` tokens,
documents of log-normal lengths, a manifest and ``_SUCCESS``) with the build's own shard writer,
then times ``corpusmill export megatron`` (per shard and merged) and ``RankReader`` over every
row (with its position_ids / cu_seqlens / loss_mask views) for one rank of 1 and of 8, plus a
resume from the middle of the epoch.

    python bench/trainer_io.py [--shards 8 --rows 4000 --seq-len 4096]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.dataset import RankReader  # noqa: E402
from pipeline.io.write_arrow import ArrowShardWriter, write_dataset_metadata  # noqa: E402
from pipeline.records import PackedRow  # noqa: E402
from pipeline.tools.export import export_megatron  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def synthetic_dataset(directory: Path, shards: int, rows: int, seq_len: int, vocab: int) -> None:
    rng = np.random.default_rng(0)
    stats = []
    for shard in range(shards):
        writer = ArrowShardWriter(str(directory / f"data-{shard:05d}.arrow"))
        packed = []
        for r in range(rows):
            lengths = []
            while sum(lengths) < seq_len - 64:
                lengths.append(int(min(seq_len - sum(lengths), max(2, rng.lognormal(6.5, 1.0)))))
            ids = np.zeros(seq_len, np.int32)
            ids[: sum(lengths)] = rng.integers(3, vocab, sum(lengths), dtype=np.int32)
            packed.append(PackedRow(f"{shard}/{r}", ids, lengths, ["bench"] * len(lengths)))
        writer.write(packed)
        stats.append({"file": f"data-{shard:05d}.arrow", **{k: v for k, v in writer.close().items() if k in ("rows", "tokens", "bytes", "sha256")}})
    manifest = {"shards": stats, "rows": shards * rows, "tokens": sum(s["tokens"] for s in stats), "tokenizer": {"vocab_size": vocab}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    write_dataset_metadata(str(directory), [s["file"] for s in stats], "bench")
    (directory / "_SUCCESS").write_text("{}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--rows", type=int, default=4000, help="rows per shard")
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument("--vocab", type=int, default=128000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "dataset"
        dataset.mkdir()
        synthetic_dataset(dataset, args.shards, args.rows, args.seq_len, args.vocab)
        total_mb = sum(p.stat().st_size for p in dataset.glob("*.arrow")) / 1e6
        print(f"dataset: {args.shards} shards × {args.rows:,} rows × {args.seq_len} tokens, {total_mb:,.0f} MB of Arrow")
        for merge in (False, True):
            entry = export_megatron(str(dataset), f"{tmp}/megatron/{'merged' if merge else 'shard'}", merge)
            print(f"export megatron ({'merged' if merge else 'per shard'}): {entry['tokens']:,} tokens as {entry['dtype']}, "
                  f"{entry['seconds']:.2f} s, {entry['mb_per_s']:,.0f} MB/s of Arrow")
        for world in (1, 8):
            reader = RankReader(str(dataset), rank=0, world_size=world, seed=1)
            started = time.perf_counter()
            n = sum(1 for _ in reader)
            seconds = time.perf_counter() - started
            print(f"RankReader rank 0 of {world}: {n:,} rows in {seconds:.2f} s, {n / seconds:,.0f} rows/s ({n * args.seq_len / seconds / 1e6:,.0f} M tokens/s)")
        for workers in (0, 2):
            reader = RankReader(str(dataset), rank=0, world_size=1, seed=1)
            started = time.perf_counter()
            n = sum(len(batch["input_ids"]) for batch in reader.batches(batch_size=8, num_workers=workers))
            seconds = time.perf_counter() - started
            print(f"RankReader.batches(8, num_workers={workers}) as int64 tensors with labels: {n:,} rows in {seconds:.2f} s, {n / seconds:,.0f} rows/s "
                  f"({n * args.seq_len / seconds / 1e6:,.0f} M tokens/s)")
        reader = RankReader(str(dataset), rank=3, world_size=8, seed=1)
        reader.load_state_dict({**reader.state_dict(), "consumed": len(reader) // 2})
        started = time.perf_counter()
        next(iter(reader))
        print(f"resume mid-epoch (rank 3 of 8, row {len(reader) // 2:,}): first row after {1000 * (time.perf_counter() - started):.1f} ms")


if __name__ == "__main__":
    print_installed_set()
    main()
