"""Near-dedup throughput: the whole Beam transform on the local runner vs a plain datasketch loop.

For 1×, 2× and 4× the same kind of corpus (real prose with injected near-duplicates) it runs
corpusmill's curate job (filters and exact dedup off, so reading, MinHash, LSH, verification,
components and writing) on FnApiRunner with 2 worker processes, in a fresh subprocess each so the
peak memory is its own, and a single-process ``datasketch`` MinHash + MinHashLSH loop on the same
documents; it prints documents/s, MB/s, the ratio and how cost grows with data.

    python bench/dedup_speed.py [--base 3000 --duplicates 1000 --scales 1 2 4 --workers 2]
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

from bench.corpus import corpus_with_duplicates, write_jsonl_shards  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def run_corpusmill(input_dir: str, workers: int) -> None:
    """The measured job (runs in its own process): curate with every filter and exact dedup off,
    so the time is reading, MinHash, LSH, verification, components and writing; counts the removed."""
    from jobs.curate import run_curate
    from pipeline.config import config_from_dict

    off = {"enabled": False}
    config = config_from_dict({
        "output_dir": f"{input_dir}/out",
        "beam": {"runner": "FnApiRunner", "direct_running_mode": "multi_processing" if workers > 1 else "in_memory", "direct_num_workers": workers},
        "sources": [{"name": "bench", "paths": [f"{input_dir}/*.jsonl"], "id_field": "id"}],
        "filters": {name: off for name in ("min_length", "language", "gopher_quality", "gopher_repetition", "fineweb", "pii", "decontaminate")},
        "dedup": {"exact": False},
        "output": {"unit_mb": 4},
    })
    report = run_curate(config, force=True)
    removed = report["sources"]["bench"]["dropped"].get("near_dedup/near_duplicate", 0)
    Path(f"{input_dir}/result.json").write_text(json.dumps([removed]))


def datasketch_loop(records: list[dict[str, str]]) -> tuple[float, int]:
    """The textbook single-process baseline: MinHash per document, query then insert into MinHashLSH."""
    from datasketch import MinHash, MinHashLSH

    from pipeline.curate.dedup.minhash import shingle_words

    started = time.monotonic()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    removed = 0
    for r in records:
        words = shingle_words(r["text"])
        m = MinHash(num_perm=128, seed=1234)
        m.update_batch({" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))})
        if lsh.query(m):
            removed += 1
        else:
            lsh.insert(r["id"], m)
    return time.monotonic() - started, removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=int, default=3000)
    parser.add_argument("--duplicates", type=int, default=1000)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_corpusmill(args.run_one, args.workers)
        return
    print(f"{'scale':>5} {'docs':>7} {'MB':>6} {'corpusmill s':>12} {'docs/s':>7} {'MB/s':>6} {'removed':>7} {'peak RSS MB':>11} "
          f"{'datasketch s':>12} {'MB/s':>6} {'removed':>7} {'speed-up':>8}")
    first = None
    for scale in args.scales:
        records = corpus_with_duplicates(args.base * scale, args.duplicates * scale)
        with tempfile.TemporaryDirectory() as tmp:
            size = write_jsonl_shards(records, Path(tmp), shards=8) / 1e6
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            started = time.monotonic()
            subprocess.run([sys.executable, __file__, "--run-one", tmp, "--workers", str(args.workers)], check=True, stderr=subprocess.DEVNULL)
            seconds = time.monotonic() - started
            peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
            (removed,) = json.loads((Path(tmp) / "result.json").read_text())
        baseline_s, baseline_removed = datasketch_loop(records)
        print(f"{scale:>4}× {len(records):>7,} {size:>6.1f} {seconds:>12.1f} {len(records) / seconds:>7.0f} {size / seconds:>6.2f} {removed:>7,} {peak:>11.0f} "
              f"{baseline_s:>12.1f} {size / baseline_s:>6.2f} {baseline_removed:>7,} {baseline_s / seconds:>7.2f}×", flush=True)
        first = first or (scale, seconds)
        if scale != first[0]:
            print(f"       time grows {seconds / first[1]:.2f}× for {scale / first[0]:.0f}× data")


if __name__ == "__main__":
    print_installed_set()
    main()
