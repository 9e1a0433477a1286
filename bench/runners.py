"""The same run on every runner this machine has: wall time per job, and whether the bytes agree.

Runs ``corpusmill run`` (curate, train-tokenizer, build) on one corpus with FnApiRunner
(in_memory, multi_processing), Flink's embedded cluster and Spark local mode, the last two with
the Python workers in the driver (LOOPBACK) and with Beam's worker pool (EXTERNAL: one process
per worker). Prints seconds per job, MB/s, peak RSS of the process tree (the Java job server
included), and whether every dataset shard's sha256 equals the first runner's (in_memory, unless
``--runners`` picks others). Flink and Spark need ``jobs/fetch_runner_jars.sh`` first.

    python bench/runners.py [--gb 0.1 [1 ...]] [--runners multi_processing Flink ...] [--workers 2]

With two or more sizes it fits each runner's seconds per GB (between the smallest and largest
corpus) and its fixed cost (job submission, scheduling, start-up), and compares the per-GB cost
with the local multi-process runner's.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.flink_cluster import free_port  # noqa: E402
from bench.scale import corpus_dir, run_measured  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def runners(workers: int, pool: str) -> dict[str, list[str]]:
    external = ["--environment_type=EXTERNAL", f"--environment_config={pool}"]
    return {
        "FnApiRunner in_memory": ["--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"],
        "FnApiRunner multi_processing": ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"],
        "Flink local, LOOPBACK": ["--runner=FlinkRunner", "--flink_master=[local]", "--environment_type=LOOPBACK", f"--parallelism={workers}"],
        "Flink local, worker pool": ["--runner=FlinkRunner", "--flink_master=[local]", f"--parallelism={workers}", *external],
        "Spark local, LOOPBACK": ["--runner=SparkRunner", f"--spark_master_url=local[{workers}]", "--environment_type=LOOPBACK"],
        "Spark local, worker pool": ["--runner=SparkRunner", f"--spark_master_url=local[{workers}]", *external],
    }


def run_jobs(name: str, flags: list[str], corpus: Path, gigabytes: float, work: Path) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """(seconds and peak MB per job, dataset shard sha256s) of ``corpusmill run`` on one runner."""
    slug = name.lower().replace(" ", "-").replace(",", "")
    out = work / f"runners-{gigabytes:g}gb-{slug}"
    config = {
        "output_dir": str(out),
        "sources": [{"name": "prose", "paths": [f"{corpus}/prose/*.jsonl"], "id_field": "id"},
                    {"name": "code", "paths": [f"{corpus}/code/*.jsonl"], "id_field": "id", "kind": "code", "priority": 1}],
        "tokenizer": {"vocab_size": 8000, "sample_bytes": 20_000_000},
        "mix": {"prose": {"weight": 0.6}, "code": {"weight": 0.4}},
    }
    config_path = work / f"runners-{gigabytes:g}gb-{slug}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    times = {}
    for job in ("curate", "train-tokenizer", "build"):
        log = work / f"runners-{gigabytes:g}gb-{slug}-{job}.log"
        times[job] = run_measured([sys.executable, "-m", "pipeline", job, str(config_path), "--force", *flags], log)
    return times, [s["sha256"] for s in json.loads((out / "dataset" / "manifest.json").read_text())["shards"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, nargs="+", default=[0.1], help="corpus sizes; with two or more, each runner's cost per GB and fixed cost are fitted")
    parser.add_argument("--runners", nargs="+", default=[], help="run only the runners whose names contain one of these words (e.g. multi_processing Flink)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/corpusmill-scale"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    corpora = {gb: corpus_dir(args.work, gb) for gb in sorted(args.gb)}
    sizes = {gb: sum(f.stat().st_size for f in corpus.glob("*/*.jsonl")) for gb, corpus in corpora.items()}
    port = free_port()
    pool = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    chosen = {name: flags for name, flags in runners(args.workers, f"localhost:{port}").items() if not args.runners or any(w in name for w in args.runners)}
    print(f"corpora: {', '.join(f'{sizes[gb] / 1e6:.0f} MB' for gb in corpora)}; {args.workers} workers")
    print(f"{'runner':<30} {'MB':>6} {'curate s':>8} {'tok s':>6} {'build s':>7} {'total s':>7} {'MB/s':>6} {'peak MB':>8}  shards identical to the first runner's")
    reference: dict[float, list[str]] = {}
    totals: dict[str, dict[float, float]] = {}
    try:
        for name, flags in chosen.items():
            for gb, corpus in corpora.items():
                times, shards = run_jobs(name, flags, corpus, gb, args.work)
                reference.setdefault(gb, shards)
                total = totals.setdefault(name, {})[gb] = sum(t for t, _ in times.values())
                print(f"{name:<30} {sizes[gb] / 1e6:>6.0f} {times['curate'][0]:>8.0f} {times['train-tokenizer'][0]:>6.0f} {times['build'][0]:>7.0f} {total:>7.0f} "
                      f"{sizes[gb] / 1e6 / total:>6.2f} {max(p for _, p in times.values()):>8.0f}  {shards == reference[gb]} ({len(shards)})", flush=True)
    finally:
        pool.terminate()
    if len(corpora) > 1:
        small, large = min(corpora), max(corpora)
        per_gb = {name: (t[large] - t[small]) / ((sizes[large] - sizes[small]) / 1e9) for name, t in totals.items()}
        base = next((name for name in per_gb if "multi_processing" in name), next(iter(per_gb)))
        print(f"\nper byte (fitted between {sizes[small] / 1e6:.0f} and {sizes[large] / 1e6:.0f} MB) and fixed cost, against {base}:")
        for name, seconds in per_gb.items():
            fixed = totals[name][small] - seconds * sizes[small] / 1e9
            print(f"{name:<30} {seconds:>6.0f} s per GB  ({seconds / per_gb[base]:.2f}×)   fixed {fixed:>4.0f} s")


if __name__ == "__main__":
    print_installed_set()
    main()
