"""Packing quality and speed: best_fit vs concat on real and long-tailed length distributions.

Lengths come from the demo corpus tokenized (when ``out/demo`` exists: run ``corpusmill demo``
first) and from a synthetic log-normal distribution with a long tail. For seq_len 2048/4096/8192
it prints rows, padding share, documents truncated (best_fit: only those longer than seq_len;
concat: every document crossing a row boundary) and packing throughput in tokens/s.

    python bench/packing.py [--demo out/demo] [--documents 100000]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.assemble.pack import pack_best_fit, pack_concat  # noqa: E402
from pipeline.records import TokenizedDocument
from bench.environment import print_installed_set  # noqa: E402

GROUP = 20000  # the default pack.group_size: packing runs per group


def demo_lengths(demo: Path) -> list[int] | None:
    """Document lengths (EOS included) of the demo's curated text under its trained tokenizer."""
    if not (demo / "tokenizer" / "tokenizer.json").exists():
        return None
    import pyarrow.parquet as pq

    from tokenizer import load_directory

    encoder = load_directory(str(demo / "tokenizer"))
    texts = [t for f in sorted((demo / "curated").glob("*.parquet")) for t in pq.read_table(f, columns=["text"])["text"].to_pylist()]
    return [len(ids) + 1 for ids in encoder.encode_batch(texts)]


def synthetic_lengths(n: int, seed: int = 0) -> list[int]:
    """Log-normal body (median ~700 tokens) with a Pareto tail of very long documents."""
    rng = random.Random(seed)
    return [int(rng.paretovariate(1.2) * 4000) if rng.random() < 0.03 else int(rng.lognormvariate(6.5, 1.0)) + 2 for _ in range(n)]


def run(lengths: list[int], seq_len: int) -> dict[str, tuple[int, float, int, float]]:
    docs = [TokenizedDocument(f"d{i:08d}", "s", np.zeros(n, dtype=np.int32)) for i, n in enumerate(lengths)]
    results = {}
    for name, pack in (("best_fit", pack_best_fit), ("concat", pack_concat)):
        rows = padding = cut = tokens = 0
        started = time.perf_counter()
        for g in range(0, len(docs), GROUP):
            _, stats = pack(g // GROUP, docs[g : g + GROUP], seq_len, 0)
            rows, padding, cut, tokens = rows + stats.rows, padding + stats.padding, cut + stats.documents_split, tokens + stats.tokens
        seconds = time.perf_counter() - started
        results[name] = (rows, padding / (rows * seq_len), cut, tokens / seconds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", default="out/demo", help="a finished demo run to take real lengths from")
    parser.add_argument("--documents", type=int, default=100_000, help="synthetic documents")
    args = parser.parse_args()
    corpora = {"synthetic long-tail": synthetic_lengths(args.documents)}
    real = demo_lengths(Path(args.demo))
    if real:
        corpora = {"demo corpus": real, **corpora}
    else:
        print(f"(no tokenizer under {args.demo}: run `corpusmill demo` for the real-length rows)")
    print(f"{'corpus':<20} {'docs':>8} {'seq_len':>7} {'strategy':<9} {'rows':>8} {'vs concat':>9} {'padding':>8} {'truncated':>9} {'≤seq_len cut':>12} {'Mtok/s':>7}")
    for name, lengths in corpora.items():
        for seq_len in (2048, 4096, 8192):
            results = run(lengths, seq_len)
            for strategy, (rows, padding, cut, speed) in results.items():
                ratio = rows / results["concat"][0] - 1
                short = 0 if strategy == "best_fit" else cut - sum(n > seq_len for n in lengths)
                print(f"{name:<20} {len(lengths):>8,} {seq_len:>7} {strategy:<9} {rows:>8,} {ratio:>+8.3%} {padding:>8.3%} {cut:>9,} {short:>12,} {speed / 1e6:>7.1f}")


if __name__ == "__main__":
    print_installed_set()
    main()
