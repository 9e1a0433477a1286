"""Crawl-shaped duplication: curate's peak memory and time on corpora whose cluster sizes follow a
power law, against a corpus of the same size without duplicates, and a page copied a million times.

Three corpora of ``--gb`` each, made from random words (filters off but min_length: dedup is under
test), written once under ``--work``:
- ``crawl``: half the documents in clusters whose sizes follow a power law (Zipf, exponent
  ``--alpha``, capped at ``--max-cluster`` = 10^6, the largest cluster a quarter of the corpus or
  10^6), taking turns at three kinds: exact copies, copies with one word replaced (Jaccard
  ~0.9 between two) and templated pages (a shared 85% of boilerplate, a paragraph of their own: not
  duplicates, but they crowd the LSH buckets); unique documents fill the rest.
- ``unique``: only unique documents (the same size).
- ``million``: one page copied 1,000,000 times (``--gb`` ignored: ~1.1 GB).
Each curate runs as a subprocess; peak memory is the largest sum of PSS over its process tree
(pages shared by forked workers count once), polled every 0.5 s. Prints time, MB/s, peak, kept and
removals per stage, and whether the run's report reconciles.

    python bench/duplication.py --gb 1 [--corpora crawl unique million] [--work bench/.cache/duplication]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.environment import print_installed_set  # noqa: E402
from bench.scale import run_measured  # noqa: E402

WORDS_PER_PAGE = 170  # ~1.1 KB of text a document
VOCABULARY = 20_000
KINDS = ("exact", "edited", "templated")


def vocabulary(rng: np.random.Generator) -> np.ndarray:
    syllables = np.array(["ka", "to", "ri", "me", "su", "na", "lo", "pe", "vi", "da", "go", "shu", "ten", "mar", "bel", "cor"])
    return np.array(["".join(rng.choice(syllables, int(rng.integers(2, 5)))) for _ in range(VOCABULARY)])


class Writer:
    """JSONL documents with ids in order, counting bytes."""

    def __init__(self, path: Path):
        self._file, self.bytes, self.documents = open(path, "w", encoding="utf-8"), 0, 0

    def write(self, text: str, kind: str) -> None:
        line = json.dumps({"id": f"d{self.documents}", "text": text, "kind": kind}) + "\n"
        self._file.write(line)
        self.bytes += len(line)
        self.documents += 1

    def close(self) -> None:
        self._file.close()


def page(rng: np.random.Generator, words: np.ndarray, n: int = WORDS_PER_PAGE) -> list[str]:
    return list(words[rng.integers(0, len(words), n)])


def cluster_sizes(rng: np.random.Generator, documents: int, max_cluster: int, alpha: float) -> list[int]:
    """Cluster sizes for ``documents``: one of ``min(max_cluster, documents / 2)``, then draws of
    a Zipf law of exponent ``alpha`` capped at ``max_cluster`` (mostly 1s and 2s, a few large)."""
    sizes = [min(max_cluster, documents // 2)]
    while sum(sizes) < documents:
        sizes.append(int(min(max_cluster, rng.zipf(alpha))))
    sizes[-1] -= sum(sizes) - documents
    return sizes


def write_crawl(path: Path, target: int, max_cluster: int, alpha: float, seed: int) -> dict[str, int]:
    """The crawl-shaped corpus: half its documents in clusters of power-law sizes (the kinds in
    turn, a cluster of one being a unique page), the rest unique; returns documents per kind."""
    rng = np.random.default_rng(seed)
    words = vocabulary(rng)
    documents = target // (WORDS_PER_PAGE * 7)  # ~7 bytes a word in the JSONL
    out, per_kind = Writer(path), dict.fromkeys((*KINDS, "unique"), 0)
    for k, size in enumerate(cluster_sizes(rng, documents // 2, max_cluster, alpha)):
        kind = KINDS[k % len(KINDS)] if size > 1 else "unique"
        base = page(rng, words)
        for _ in range(size):
            if kind == "edited":
                text = list(base)
                text[rng.integers(0, len(text))] = words[rng.integers(0, len(words))]
            elif kind == "templated":
                shared = int(len(base) * 0.85)
                text = base[:shared] + page(rng, words, len(base) - shared)
            else:
                text = base
            out.write(" ".join(text), kind)
            per_kind[kind] += 1
    while out.bytes < target:
        out.write(" ".join(page(rng, words)), "unique")
        per_kind["unique"] += 1
    out.close()
    return per_kind


def write_unique(path: Path, target: int, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed + 1)
    words = vocabulary(rng)
    out = Writer(path)
    while out.bytes < target:
        out.write(" ".join(page(rng, words)), "unique")
    out.close()
    return {"unique": out.documents}


def write_million(path: Path, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed + 2)
    text = " ".join(page(rng, vocabulary(rng)))
    out = Writer(path)
    for _ in range(1_000_000):
        out.write(text, "exact")
    out.close()
    return {"exact": out.documents}


def config(corpus: Path, output: Path, workers: int) -> dict:
    return {
        "output_dir": str(output), "seed": 7,
        "beam": {"runner": "FnApiRunner", "direct_running_mode": "multi_processing", "direct_num_workers": workers},
        "sources": [{"name": "crawl", "paths": [str(corpus)], "id_field": "id"}],
        "filters": {"min_length": {"min_chars": 20}, "language": {"enabled": False}, "gopher_quality": {"enabled": False},
                    "gopher_repetition": {"enabled": False}, "fineweb": {"enabled": False}},
        "output": {"signals": False},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of the crawl and unique corpora")
    parser.add_argument("--corpora", nargs="+", default=["crawl", "unique", "million"], choices=["crawl", "unique", "million"])
    parser.add_argument("--max-cluster", type=int, default=1_000_000, help="the largest cluster of the crawl corpus")
    parser.add_argument("--alpha", type=float, default=2.0, help="power-law exponent of cluster sizes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", default="bench/.cache/duplication")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    target = int(args.gb * 1e9)
    print(f"{'corpus':<8} {'GB':>5} {'documents':>10} {'curate s':>8} {'MB/s':>6} {'peak PSS GB':>11} {'kept':>9} {'exact':>9} {'near':>9} reconciles  made of")
    for name in args.corpora:
        corpus = work / (f"{name}-{args.gb:g}gb.jsonl" if name != "million" else "million.jsonl")
        made = corpus.with_suffix(".made.json")
        if not made.exists():
            kinds = {"crawl": lambda: write_crawl(corpus, target, args.max_cluster, args.alpha, 0), "unique": lambda: write_unique(corpus, target, 0),
                     "million": lambda: write_million(corpus, 0)}[name]()
            made.write_text(json.dumps(kinds))
        output = work / f"out-{name}"
        shutil.rmtree(output, ignore_errors=True)
        (work / f"{name}.yaml").write_text(yaml.safe_dump(config(corpus, output, args.workers)))
        seconds, peak_mb = run_measured([sys.executable, "-m", "pipeline", "curate", str(work / f"{name}.yaml"), "--quiet"], work / f"{name}.log", pss=True)
        report = json.loads((output / "report" / "report.json").read_text())["curate"]["sources"]["crawl"]
        dropped = report["dropped"]
        size = corpus.stat().st_size
        print(f"{name:<8} {size / 1e9:>5.2f} {report['read']:>10,} {seconds:>8.1f} {size / 1e6 / seconds:>6.2f} {peak_mb / 1e3:>11.2f} {report['kept']:>9,} "
              f"{dropped.get('exact_dedup/exact_duplicate', 0):>9,} {dropped.get('near_dedup/near_duplicate', 0):>9,} {str(report['reconciles']):>10}  "
              f"{json.loads(made.read_text())}", flush=True)


if __name__ == "__main__":
    print_installed_set()
    main()
