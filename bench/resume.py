"""What a resume saves: curate at N GB uninterrupted, then killed once a share of its units are
analyzed and started again with the same command (``corpusmill status`` counts the committed units).

Prints the uninterrupted time, the time to the kill, the resumed run's time, the share of units
it reused (``units_resumed`` in its report) and whether its curated shards equal the uninterrupted
run's, byte for byte. The corpus is ``bench/scale.py``'s.

    python bench/resume.py --gb 1 [--kill-at 0.5] [--mode multi_processing]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale import corpus_dir, scale_config  # noqa: E402
from pipeline.report.progress import curate_state  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def curate(config_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", "curate", str(config_path), "--quiet"], start_new_session=True)


def shard_digests(out: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted((out / "curated").glob("part-*.parquet"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of units analyzed when the run is killed")
    parser.add_argument("--mode", default="multi_processing", choices=["multi_processing", "in_memory"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", default="/tmp/corpusmill-scale")
    args = parser.parse_args()
    work = Path(args.work)
    corpus = corpus_dir(work, args.gb)
    runs = {}
    for name in ("uninterrupted", "interrupted"):
        out = work / f"resume-{args.gb:g}gb-{name}"
        path = work / f"resume-{args.gb:g}gb-{name}.yaml"
        path.write_text(yaml.safe_dump(scale_config(corpus, out, args.mode, args.workers)))
        runs[name] = (out, path)
    out, path = runs["uninterrupted"]
    started = time.monotonic()
    assert curate(path).wait() == 0
    uninterrupted = time.monotonic() - started

    out, path = runs["interrupted"]
    started = time.monotonic()
    process = curate(path)
    state: dict = {}
    while process.poll() is None:
        state = curate_state(str(out))
        if state.get("state") == "in progress" and state["analyzed"] >= args.kill_at * state["units"]:
            break
        time.sleep(0.5)
    killed_after = time.monotonic() - started
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    started = time.monotonic()
    assert curate(path).wait() == 0
    resumed = time.monotonic() - started
    report = json.loads((out / "report" / "report.json").read_text())["curate"]
    identical = shard_digests(out) == shard_digests(runs["uninterrupted"][0])
    print(f"curate {args.gb:g} GB ({args.mode}, {args.workers} workers): uninterrupted {uninterrupted:.0f} s")
    print(f"killed after {killed_after:.0f} s with {state.get('analyzed', 0)}/{state.get('units', 0)} units analyzed; "
          f"resumed run {resumed:.0f} s, reusing {report['units_resumed']}/{report['units']} units ({report['units_resumed'] / report['units']:.0%})")
    print(f"total with the kill {killed_after + resumed:.0f} s vs {killed_after + uninterrupted:.0f} s redoing from scratch "
          f"(saved {uninterrupted - resumed:.0f} s); curated shards identical: {identical}")


if __name__ == "__main__":
    print_installed_set()
    main()
