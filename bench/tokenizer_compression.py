"""Compression per language and for code: bytes per token at 32K and 128K vocabularies, for the
hf (byte-level BPE) and sentencepiece backends trained on the same mixed sample.

Held-out text: every tenth document of each part is kept out of training and measured.

    python bench/tokenizer_compression.py [--sample-mb 60] [--vocab 32000 128000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tokenizer_corpus import mixed_sample  # noqa: E402
from tokenizer import Encoder, train_tokenizer  # noqa: E402
from tokenizer.sentencepiece_backend import SentencePieceEncoder, train_sentencepiece  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample-mb", type=float, default=60)
    parser.add_argument("--vocab", type=int, nargs="+", default=[32000, 128000])
    args = parser.parse_args()
    parts = mixed_sample(args.sample_mb)
    train = [d for docs in parts.values() for i, d in enumerate(docs) if i % 10]
    held_out = {name: [d for i, d in enumerate(docs) if i % 10 == 0] for name, docs in parts.items()}
    print(f"training sample {sum(len(d.encode()) for d in train) / 1e6:.1f} MB; held-out parts: "
          + ", ".join(f"{k} {sum(len(d.encode()) for d in v) / 1e6:.2f} MB" for k, v in held_out.items()))
    columns = {}
    for vocab in args.vocab:
        for backend in ("hf", "sentencepiece"):
            started = time.perf_counter()
            if backend == "hf":
                encoder = Encoder(train_tokenizer(iter(train), vocab_size=vocab))
            else:
                encoder = SentencePieceEncoder(train_sentencepiece(iter(train), vocab_size=vocab))
            label = f"{backend} {vocab // 1000}K"
            columns[label] = {name: sum(len(d.encode()) for d in docs) / max(sum(len(ids) for ids in encoder.encode_batch(docs)), 1) for name, docs in held_out.items()}
            print(f"  trained {label} (actual vocab {encoder.vocab_size:,}) in {time.perf_counter() - started:.0f}s", flush=True)
    print("bytes per token (higher is better):")
    print(f"{'part':<6} " + " ".join(f"{c:>18}" for c in columns))
    for name in held_out:
        print(f"{name:<6} " + " ".join(f"{columns[c][name]:>18.3f}" for c in columns))


if __name__ == "__main__":
    print_installed_set()
    main()
