"""A corpus of any size from text every machine has: Python sources (code) and docstrings (prose).

Each pass over the originals writes copies with about one word in ``mutate_every`` replaced, so
every copy is a distinct document (distinct hash, Jaccard well below the dedup threshold); a
``near_fraction`` of documents also get a near-duplicate (one word in 60 replaced) that MinHash
should catch, and a few exact copies are added for exact dedup. Deterministic for a seed.

    python bench/scale_corpus.py OUT_DIR --gb 1 [--code-share 0.5] [--shard-mb 64]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import sysconfig
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import docstring_documents  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402

_WORD = re.compile(r"[A-Za-z_]{3,}")


def code_originals(max_bytes: int = 200_000) -> list[tuple[str, str]]:
    """``(relative path, source)`` of the installed Python files, sorted, each under ``max_bytes``;
    not pip's editable-install finders, whose text names the folder a package was installed from."""
    root = Path(sysconfig.get_paths()["purelib"])
    out = []
    for path in sorted(root.rglob("*.py")):
        if path.name.startswith("__editable__"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if 200 <= len(text) <= max_bytes:
            out.append((str(path.relative_to(root)), text))
    return out


def mutate(text: str, rng: random.Random, every: int, vocabulary: list[str]) -> str:
    """``text`` with about one word in ``every`` (of 3+ letters) replaced by a vocabulary word."""
    return _WORD.sub(lambda m: rng.choice(vocabulary) if rng.random() < 1.0 / every else m.group(0), text)


def records(originals: list[tuple[str, str]], budget: int, prefix: str, seed: int, mutate_every: int, near_fraction: float, exact_fraction: float) -> Iterator[dict[str, str]]:
    """Mutated copies of ``originals`` (pass k = copy k), plus near and exact duplicates, until ``budget`` bytes."""
    vocabulary = sorted({w for _, t in originals[:300] for w in _WORD.findall(t)})
    size, copy = 0, 0
    while True:
        for name, text in originals:
            rng = random.Random(f"{seed}:{prefix}:{copy}:{name}")
            body = text if copy == 0 else mutate(text, rng, mutate_every, vocabulary)
            doc_id = f"{prefix}/{copy}/{name}"
            yield {"id": doc_id, "text": body}
            size += len(body)
            if rng.random() < near_fraction:
                yield {"id": f"{doc_id}#near", "text": mutate(body, rng, 60, vocabulary)}
                size += len(body)
            if rng.random() < exact_fraction:
                yield {"id": f"{doc_id}#exact", "text": body}
                size += len(body)
            if size >= budget:
                return
        copy += 1


def write_shards(items: Iterator[dict[str, str]], directory: Path, shard_bytes: int) -> tuple[int, int]:
    """JSONL shards of about ``shard_bytes``; returns (records, bytes)."""
    directory.mkdir(parents=True, exist_ok=True)
    count = total = shard = written = 0
    f = open(directory / f"part-{shard:05d}.jsonl", "w", encoding="utf-8")
    for item in items:
        line = json.dumps(item, ensure_ascii=False) + "\n"
        if written >= shard_bytes:
            f.close()
            shard, written = shard + 1, 0
            f = open(directory / f"part-{shard:05d}.jsonl", "w", encoding="utf-8")
        f.write(line)
        n = len(line.encode("utf-8"))
        written += n
        total += n
        count += 1
    f.close()
    return count, total


def make_corpus(out: Path, gigabytes: float, code_share: float = 0.5, unit_mb: int = 64, seed: int = 0,
                mutate_every: int = 8, near_fraction: float = 0.05, exact_fraction: float = 0.01) -> dict[str, tuple[int, int]]:
    """Writes ``out/code`` and ``out/prose`` JSONL shards; returns ``{kind: (records, bytes)}``."""
    budget = int(gigabytes * 1e9)
    jobs = [(kind, int(budget * share)) for kind, share in (("code", code_share), ("prose", 1 - code_share)) if share > 0]
    with ProcessPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {kind: pool.submit(_make_kind, out, kind, size, unit_mb, seed, mutate_every, near_fraction, exact_fraction) for kind, size in jobs}
        return {kind: f.result() for kind, f in futures.items()}


def _make_kind(out: Path, kind: str, budget: int, unit_mb: int, seed: int, mutate_every: int, near_fraction: float, exact_fraction: float) -> tuple[int, int]:
    originals = code_originals() if kind == "code" else [(f"doc{i}", t) for i, t in enumerate(docstring_documents(10**9))]
    return write_shards(records(originals, budget, kind, seed, mutate_every, near_fraction, exact_fraction), out / kind, unit_mb << 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--code-share", type=float, default=0.5)
    parser.add_argument("--shard-mb", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for kind, (n, size) in make_corpus(args.out, args.gb, args.code_share, args.shard_mb, args.seed).items():
        print(f"{kind}: {n:,} records, {size / 1e6:,.1f} MB in {args.out / kind}")


if __name__ == "__main__":
    print_installed_set()
    main()
