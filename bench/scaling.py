"""Scaling on the local runner: curate + build on 1×, 2× and 4× the same kind of corpus.

The corpus is real prose (docstrings) and code (installed Python sources) as JSONL shards, with
injected near-duplicates; the tokenizer is trained once up front (``tokenizer.path``), so the
runs time curate and build. Each run is a subprocess; peak memory is the largest total RSS of its
process tree (driver + workers), polled every 0.2 s.

    python bench/scaling.py [--base-mb 50] [--scales 1 2 4] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import near_variant, prose_documents, write_jsonl_shards  # noqa: E402


def corpus(megabytes: float, seed: int = 0) -> dict[str, list[dict[str, str]]]:
    """Half prose (with 10% near-duplicates), half code, about ``megabytes`` MB in all; the prose on
    a machine runs out near 40 MB, so large scales are code-heavy (the printed MB are the real sizes)."""
    rng = random.Random(seed)
    budget = megabytes * 1e6
    prose, size = [], 0.0
    originals = prose_documents(10**9)
    for i, doc in enumerate(originals):
        if size >= budget / 2:
            break
        prose.append({"id": f"p{i}", "text": doc})
        size += len(doc.encode())
    vocabulary = sorted({w for d in originals[:200] for w in d.split()})
    prose += [{"id": f"dup{j}", "text": near_variant(prose[rng.randrange(len(prose))]["text"], rng, vocabulary)[1]} for j in range(len(prose) // 10)]
    code, size = [], 0.0
    root = Path(sysconfig.get_paths()["purelib"])
    for path in sorted(root.rglob("*.py")):
        if size >= budget / 2:
            break
        text = path.read_text(encoding="utf-8", errors="replace")
        code.append({"id": str(path.relative_to(root)), "text": text})
        size += len(text.encode())
    return {"prose": prose, "code": code}


def run_measured(command: list[str]) -> tuple[float, float]:
    """(seconds, peak MB of the whole process tree) of a command."""
    started = time.monotonic()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    if process.returncode:
        raise RuntimeError(process.stderr.read().decode()[-2000:])
    return time.monotonic() - started, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-mb", type=float, default=50)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from tokenizer.train import save_tokenizer, train_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        sample = corpus(20)
        save_tokenizer(train_tokenizer((r["text"] for part in sample.values() for r in part), vocab_size=32000), f"{tmp}/tokenizer")
        print(f"{'scale':>5} {'MB':>7} {'docs':>8} {'seconds':>8} {'docs/s':>7} {'MB/s':>6} {'peak MB':>8} {'kept':>8} {'tokens':>12}")
        first = None
        for scale in args.scales:
            parts = corpus(args.base_mb * scale)
            size = sum(write_jsonl_shards(records, Path(tmp) / f"in{scale}" / name, shards=16) for name, records in parts.items()) / 1e6
            docs = sum(len(r) for r in parts.values())
            config = {
                "output_dir": f"{tmp}/out{scale}",
                "beam": {"runner": "FnApiRunner", "direct_running_mode": "multi_processing" if args.workers > 1 else "in_memory", "direct_num_workers": args.workers},
                "sources": [{"name": "prose", "paths": [f"{tmp}/in{scale}/prose/*.jsonl"], "id_field": "id"},
                            {"name": "code", "paths": [f"{tmp}/in{scale}/code/*.jsonl"], "id_field": "id", "kind": "code", "priority": 1}],
                "tokenizer": {"path": f"{tmp}/tokenizer"},
                "pack": {"seq_len": 4096},
            }
            config_path = Path(tmp) / f"scale{scale}.yaml"
            config_path.write_text(yaml.safe_dump(config))
            seconds, peak = run_measured([sys.executable, "-m", "pipeline", "run", str(config_path), "--quiet"])
            report = json.loads(Path(f"{tmp}/out{scale}/report/report.json").read_text())
            kept = sum(s["kept"] for s in report["curate"]["sources"].values())
            print(f"{scale:>4}× {size:>7.1f} {docs:>8,} {seconds:>8.1f} {docs / seconds:>7.0f} {size / seconds:>6.2f} {peak:>8.0f} {kept:>8,} {report['build']['tokens']:>12,}  "
                  f"(curate {report['curate']['seconds']:.0f}s, build {report['build']['seconds']:.0f}s)", flush=True)
            first = first or (size, seconds, peak)
            if size != first[0]:
                print(f"      {size / first[0]:.2f}× data: {seconds / first[1]:.2f}× time, {peak / first[2]:.2f}× peak memory")


if __name__ == "__main__":
    main()
