"""Fast-path exactness: the tiktoken encoder the build uses vs ``tokenizer.json`` on random Unicode.

Trains a byte-level BPE on random strings over every Unicode general category (format and
private-use characters, unassigned code points, marks, emoji, CJK, digits, ...) plus real prose
and code from this machine, then encodes N fresh random strings both ways and counts the
strings whose ids differ. Also prints MB/s on real text: the fast path on 1 and 2 threads vs HF ``encode_batch`` on 2.

    python bench/tokenizer_exactness.py [--strings 1000000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tokenizer_corpus import mixed_sample  # noqa: E402
from tokenizer import Encoder, train_tokenizer  # noqa: E402
from tokenizer.fast import unicode_strings  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402

BATCH = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strings", type=int, default=1_000_000)
    parser.add_argument("--vocab-size", type=int, default=32000)
    args = parser.parse_args()
    real = [text for texts in mixed_sample(20).values() for text in texts]
    started = time.monotonic()
    encoder = Encoder(train_tokenizer([s * 3 for s in unicode_strings(50_000, seed=1)] + real, vocab_size=args.vocab_size))
    print(f"trained {encoder.vocab_size:,} tokens in {time.monotonic() - started:.0f}s; fast path: {'on' if encoder.fast is not None else 'OFF'}")
    mismatches, first = 0, None
    started = time.monotonic()
    for start in range(0, args.strings, BATCH):
        texts = unicode_strings(min(BATCH, args.strings - start), seed=1000 + start)
        fast = encoder.encode_batch(texts)
        reference = encoder.tokenizer.encode_batch(texts, add_special_tokens=False)
        for text, a, b in zip(texts, fast, reference):
            if a.tolist() != b.ids:
                mismatches += 1
                first = first or text
    print(f"{args.strings:,} random Unicode strings: {mismatches:,} differ ({time.monotonic() - started:.0f}s)" + (f"; first {first!r}" if first else ""))
    mb = sum(len(t.encode()) for t in real) / 1e6
    timings = {}
    for name, encode in [
        ("Encoder.encode_batch (the build's path: tiktoken to numpy, 1 thread)", lambda: encoder.encode_batch(real)),
        ("fast path, 1 thread", lambda: encoder.fast.encode_ordinary_batch(real, num_threads=1)),
        ("fast path, 2 threads", lambda: encoder.fast.encode_ordinary_batch(real, num_threads=2)),
        ("tokenizer.json encode_batch, 2 threads", lambda: encoder.tokenizer.encode_batch(real, add_special_tokens=False)),
    ]:
        started = time.perf_counter()
        encode()
        timings[name] = time.perf_counter() - started
    reference = timings["tokenizer.json encode_batch, 2 threads"]
    for name, seconds in timings.items():
        print(f"real text {mb:.0f} MB, {name}: {mb / seconds:.2f} MB/s ({reference / seconds:.1f}× HF)")

if __name__ == "__main__":
    print_installed_set()
    main()
