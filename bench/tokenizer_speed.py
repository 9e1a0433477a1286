"""Tokenizer speed: training MB/s (corpusmill vs a plain HF byte-level BPE trainer), encode MB/s
(corpusmill's tiktoken fast path vs HF ``encode_batch``, 2 threads each), and peak memory.

Each training run is a fresh subprocess so its peak RSS is its own.

    python bench/tokenizer_speed.py [--sample-mb 200] [--vocab-size 128000]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tokenizer_corpus import mixed_sample  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def train_one(kind: str, sample_file: str, vocab: int, out: str) -> None:
    """(subprocess) trains one tokenizer and writes {"seconds", "mb"} to ``out``."""
    texts = [json.loads(line) for line in open(sample_file, encoding="utf-8")]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    started = time.perf_counter()
    if kind == "corpusmill":
        from tokenizer.train import train_tokenizer

        tok = train_tokenizer(iter(texts), vocab_size=vocab)
    else:
        from tokenizers import ByteLevelBPETokenizer

        tok = ByteLevelBPETokenizer()
        tok.train_from_iterator(iter(texts), vocab_size=vocab, min_frequency=2, show_progress=False)
    seconds = time.perf_counter() - started
    tok.save(out + ".tokenizer.json")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out).write_text(json.dumps({"seconds": seconds, "mb": mb, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample-mb", type=float, default=200)
    parser.add_argument("--vocab-size", type=int, default=128000)
    parser.add_argument("--train-one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_one:
        kind, sample, vocab, out = args.train_one
        train_one(kind, sample, int(vocab), out)
        return
    sample = [t for docs in mixed_sample(args.sample_mb).values() for t in docs]
    with tempfile.TemporaryDirectory() as tmp:
        sample_file = f"{tmp}/sample.jsonl"
        with open(sample_file, "w", encoding="utf-8") as f:
            for t in sample:
                f.write(json.dumps(t) + "\n")
        results = {}
        for kind in ("corpusmill", "hf_bytelevel_bpe"):
            subprocess.run([sys.executable, __file__, "--train-one", kind, sample_file, str(args.vocab_size), f"{tmp}/{kind}"], check=True)
            results[kind] = json.loads(Path(f"{tmp}/{kind}").read_text())
        mb = results["corpusmill"]["mb"]
        print(f"training sample: {mb:.1f} MB, vocab {args.vocab_size:,}")
        for kind, r in results.items():
            print(f"  train {kind:<18} {r['seconds']:7.1f}s  {r['mb'] / r['seconds']:6.2f} MB/s  peak RSS {r['peak_mb']:,.0f} MB (sample held in memory too)")
        print(f"  corpusmill / plain HF training speed: {results['hf_bytelevel_bpe']['seconds'] / results['corpusmill']['seconds']:.2f}×")

        from tokenizers import Tokenizer

        from tokenizer import Encoder

        tok = Tokenizer.from_file(f"{tmp}/corpusmill.tokenizer.json")
        encoder = Encoder(tok)
        texts = sample[: max(1, len(sample) // 4)]
        enc_mb = sum(len(t.encode()) for t in texts) / 1e6
        started = time.perf_counter()
        slow = tok.encode_batch_fast(texts, add_special_tokens=False)
        hf_s = time.perf_counter() - started
        started = time.perf_counter()
        fast = encoder.encode_batch(texts)
        fast_s = time.perf_counter() - started
        identical = all(a.ids == b.tolist() for a, b in zip(slow, fast))
        print(f"encode {enc_mb:.1f} MB: HF encode_batch (2 threads) {enc_mb / hf_s:.2f} MB/s, the build's fast path (1 thread) {enc_mb / fast_s:.2f} MB/s, "
              f"{hf_s / fast_s:.1f}× faster; ids identical: {identical}")


if __name__ == "__main__":
    print_installed_set()
    main()
