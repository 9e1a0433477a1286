"""corpusmill vs datatrove on the same corpus: Gopher quality + Gopher repetition + FineWeb filters,
then MinHash near-dedup, side by side (documents kept, duplicates removed, MB/s). corpusmill runs
twice: its default filter definitions (``filters.compat: none``) and datatrove's (``datatrove``).

datatrove runs its standard 4-stage MinHash (signatures, buckets, single-task cluster, filter)
with 2 workers, its default 14×8 LSH (no verification; 64-bit sha1 hashing, as its xxhash path
fails with xxhash ≥ 4); corpusmill runs curate with 2 workers
and its defaults (threshold 0.8, exact-Jaccard verification). datatrove (with spaCy, its English
word splitter) runs in its own virtualenv, never a dependency of corpusmill:

    python -m venv /tmp/dt && /tmp/dt/bin/pip install datatrove spacy tokenizers
    python bench/compare_peers.py --datatrove-python /tmp/dt/bin/python [--base 20000 --duplicates 23000]

The originals are whole docstrings of this machine's Python (~19,600 documents, ~46 MB where the
standard library and corpusmill's dependencies are installed; ``--base`` beyond that takes them
all), so the default ~100 MB corpus holds more injected near-duplicates than originals.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.environment import print_installed_set  # noqa: E402

def run_corpusmill(input_dir: str, work: str, compat: str) -> dict[str, float]:
    import yaml

    config = {
        "output_dir": f"{work}/corpusmill-{compat}",
        "beam": {"runner": "FnApiRunner", "direct_running_mode": "multi_processing", "direct_num_workers": 2},
        "sources": [{"name": "web", "paths": [f"{input_dir}/*.jsonl"], "id_field": "id"}],
        "filters": {"compat": compat, "min_length": {"enabled": False}, "language": {"enabled": False}, "pii": {"enabled": False}},
        "dedup": {"exact": False, "minhash": {"threshold": 0.8, "num_perm": 112, "ngram": 5}},
        "max_dead_letter_fraction": 1.0,
    }
    path = Path(work) / f"corpusmill-{compat}.yaml"
    path.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pipeline", "curate", str(path), "--quiet"], check=True, stderr=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    web = json.loads((Path(work) / f"corpusmill-{compat}" / "report" / "report.json").read_text())["curate"]["sources"]["web"]
    filtered = sum(n for k, n in web["dropped"].items() if k.startswith("filter/"))
    return {"seconds": seconds, "kept": web["kept"], "after_filters": web["read"] - filtered, "duplicates": web["dropped"].get("near_dedup/near_duplicate", 0)}


def count_jsonl(folder: Path) -> int:
    import gzip

    total = 0
    for f in folder.rglob("*.jsonl*"):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def run_datatrove(input_dir: str, work: str) -> dict[str, float]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.filters import (
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    w = Path(work) / "datatrove"
    # datatrove's default xxhash path passes str to xxhash, which xxhash ≥ 4 rejects: sha1 64-bit instead
    config = MinhashConfig(hash_config=HashConfig(precision=64, hash_fc="sha1"))
    stages = [
        LocalPipelineExecutor([JsonlReader(input_dir), GopherRepetitionFilter(), GopherQualityFilter(), FineWebQualityFilter(), JsonlWriter(str(w / "filtered"))],
                              tasks=8, workers=2, logging_dir=str(w / "logs1")),
        LocalPipelineExecutor([JsonlReader(str(w / "filtered")), MinhashDedupSignature(str(w / "sigs"), config=config)], tasks=8, workers=2, logging_dir=str(w / "logs2")),
        LocalPipelineExecutor([MinhashDedupBuckets(str(w / "sigs"), str(w / "buckets"), config=config)], tasks=config.num_buckets, workers=2, logging_dir=str(w / "logs3")),
        LocalPipelineExecutor([MinhashDedupCluster(str(w / "buckets"), str(w / "remove_ids"), config=config)], tasks=1, workers=1, logging_dir=str(w / "logs4")),
        LocalPipelineExecutor([JsonlReader(str(w / "filtered")), MinhashDedupFilter(str(w / "remove_ids")), JsonlWriter(str(w / "deduped"))], tasks=8, workers=2, logging_dir=str(w / "logs5")),
    ]
    started = time.monotonic()
    for stage in stages:
        stage.run()
    seconds = time.monotonic() - started
    after_filters, kept = count_jsonl(w / "filtered"), count_jsonl(w / "deduped")
    return {"seconds": seconds, "kept": kept, "after_filters": after_filters, "duplicates": after_filters - kept}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=int, default=20000, help="originals (at most the docstring documents there are)")
    parser.add_argument("--duplicates", type=int, default=23000, help="injected near-duplicates")
    parser.add_argument("--datatrove-python", default=sys.executable, help="a Python with datatrove and spaCy installed")
    parser.add_argument("--run-datatrove", nargs=2, metavar=("INPUT", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_datatrove:
        print(json.dumps(run_datatrove(*args.run_datatrove)))
        return
    from bench.corpus import corpus_with_duplicates, write_jsonl_shards

    records = corpus_with_duplicates(args.base, args.duplicates, structured=True)
    with tempfile.TemporaryDirectory() as tmp:
        mb = write_jsonl_shards(records, Path(tmp) / "in", shards=8) / 1e6
        originals = sum(r["edit"] == "original" for r in records)
        print(f"corpus: {len(records):,} documents ({originals:,} originals + {len(records) - originals:,} injected near-duplicates), {mb:.1f} MB")
        runs = {f"corpusmill ({compat})": run_corpusmill(f"{tmp}/in", tmp, compat) for compat in ("none", "datatrove")}
        done = subprocess.run([args.datatrove_python, __file__, "--run-datatrove", f"{tmp}/in", tmp], check=True, capture_output=True, text=True)
        runs["datatrove"] = json.loads(done.stdout.strip().splitlines()[-1])
        theirs = runs["datatrove"]
        print(f"{'pipeline':<24} {'after filters':>13} {'vs datatrove':>12} {'near dups removed':>17} {'kept':>7} {'seconds':>8} {'MB/s':>6} {'speed':>6}")
        for name, r in runs.items():
            print(f"{name:<24} {r['after_filters']:>13,} {r['after_filters'] / theirs['after_filters'] - 1:>+12.2%} {r['duplicates']:>17,} {r['kept']:>7,} "
                  f"{r['seconds']:>8.1f} {mb / r['seconds']:>6.2f} {theirs['seconds'] / r['seconds']:>5.1f}x")


if __name__ == "__main__":
    print_installed_set()
    main()
