"""Re-threshold without recompute, at N GB: curate (keeping its work), then the same corpus with two
tighter thresholds both ways: a full curate, and ``corpusmill reselect`` from the first run.

Prints each run's time, reselect's share of the full rerun, and whether the two write the same
curated, drops and signals files, byte for byte. The corpus is ``bench/scale.py``'s.

    python bench/reselect.py --gb 1 [--mode multi_processing]
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale import corpus_dir, scale_config  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402

TIGHTER = {"min_length": {"min_chars": 200}, "gopher_quality": {"min_doc_words": 100}}


def timed(work: Path, name: str, config: dict, *command: str, quiet: bool = True) -> float:
    path = work / f"reselect-{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pipeline", command[0], str(path), *(["--quiet"] if quiet else []), *command[1:]], check=True)
    return time.monotonic() - started


def written(out: Path) -> dict[str, str]:
    files = [*out.glob("curated/part-*.parquet"), *out.glob("drops/part-*.parquet"), *out.glob("signals/part-*.parquet")]
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--mode", default="multi_processing", choices=["multi_processing", "in_memory"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", default="/tmp/corpusmill-scale")
    args = parser.parse_args()
    work = Path(args.work)
    corpus = corpus_dir(work, args.gb)
    outs = {name: work / f"reselect-{args.gb:g}gb-{name}" for name in ("first", "full", "reselected")}
    for out in outs.values():  # an earlier bench's complete runs would be kept as they are, not timed
        shutil.rmtree(out, ignore_errors=True)
    first = timed(work, "first", scale_config(corpus, outs["first"], args.mode, args.workers, output={"keep_work": True}), "curate", quiet=False)  # its progress lines show
    full = timed(work, "full", scale_config(corpus, outs["full"], args.mode, args.workers, filters=TIGHTER), "curate")
    again = timed(work, "reselected", scale_config(corpus, outs["reselected"], args.mode, args.workers, filters=TIGHTER), "reselect", "--from", str(outs["first"]))
    same = written(outs["full"]) == written(outs["reselected"])
    print(f"curate {args.gb:g} GB ({args.mode}, {args.workers} workers), thresholds {TIGHTER}")
    print(f"first curate (work kept) {first:.0f} s; full rerun with the new thresholds {full:.0f} s; reselect {again:.0f} s "
          f"({again / full:.1%} of the full rerun); curated, drops and signals identical: {same}")


if __name__ == "__main__":
    print_installed_set()
    main()
