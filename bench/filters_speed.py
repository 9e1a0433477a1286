"""Filter throughput: MB/s of each filter alone (one process) and of the whole chain on the runner.

Text: docstring prose from this machine (bench/corpus.py); code: the standard library's sources.
The chain run is corpusmill's curate job with dedup off (read → normalize → filter → write, per
work unit) on FnApiRunner, in a fresh subprocess.

    python bench/filters_speed.py [--text-docs 20000] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import prose_documents, write_jsonl_shards  # noqa: E402
from pipeline.config import config_from_dict  # noqa: E402
from pipeline.curate.filters.chain import filters_for_source  # noqa: E402
from pipeline.records import Document  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def code_records() -> list[dict[str, str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return [{"id": str(p.relative_to(stdlib)), "text": p.read_text(encoding="utf-8", errors="replace")} for p in sorted(stdlib.rglob("*.py"))]


def run_chain(directory: str, workers: int) -> None:
    """The measured job (own process): curate both sources with dedup off, write the kept count."""
    import dataclasses

    from jobs.curate import run_curate
    from pipeline.config import DedupConfig, MinHashConfig

    beam_config = {"runner": "FnApiRunner", "direct_running_mode": "multi_processing" if workers > 1 else "in_memory", "direct_num_workers": workers}
    config = dataclasses.replace(bench_config(directory), beam=beam_config, output_dir=f"{directory}/out",
                                 dedup=DedupConfig(exact=False, minhash=MinHashConfig(enabled=False)))
    report = run_curate(config, force=True)
    Path(f"{directory}/kept.json").write_text(json.dumps([sum(s["kept"] for s in report["sources"].values())]))


def bench_config(directory: str):
    return config_from_dict({"sources": [
        {"name": "text", "paths": [f"{directory}/text/*.jsonl"], "id_field": "id"},
        {"name": "code", "paths": [f"{directory}/code/*.jsonl"], "id_field": "id", "kind": "code"},
    ]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text-docs", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_chain(args.run_one, args.workers)
        return
    text = [{"id": f"t{i}", "text": t} for i, t in enumerate(prose_documents(args.text_docs))]
    code = code_records()
    with tempfile.TemporaryDirectory() as tmp:
        text_mb = write_jsonl_shards(text, Path(tmp) / "text") / 1e6
        code_mb = write_jsonl_shards(code, Path(tmp) / "code") / 1e6
        config = bench_config(tmp)
        print(f"corpus: {len(text):,} prose documents ({text_mb:.1f} MB), {len(code):,} code files ({code_mb:.1f} MB)")
        print(f"{'filter':<22} {'kind':<5} {'MB/s':>7}")
        for source, records in ((config.sources[0], text), (config.sources[1], code)):
            docs = [Document(r["id"], r["text"], source.name, {}) for r in records]
            mb = sum(len(d.text.encode()) for d in docs) / 1e6
            for check in filters_for_source(config, source):
                check(docs[0])  # models load on first use, once per worker: not part of the rate
                started = time.perf_counter()
                for d in docs:
                    check(d)
                print(f"{type(check).__name__:<22} {source.kind:<5} {mb / (time.perf_counter() - started):>7.2f}", flush=True)
        started = time.monotonic()
        subprocess.run([sys.executable, __file__, "--run-one", tmp, "--workers", str(args.workers)], check=True, stderr=subprocess.DEVNULL)
        seconds = time.monotonic() - started
        kept = json.loads((Path(tmp) / "kept.json").read_text())[0]
        total = text_mb + code_mb
        print(f"whole chain on FnApiRunner ({args.workers} workers, read + normalize + filter + write): {total:.1f} MB in {seconds:.1f}s = {total / seconds:.2f} MB/s; "
              f"kept {kept:,} of {len(text) + len(code):,} documents")


if __name__ == "__main__":
    print_installed_set()
    main()
