"""WARC in, main text out, side by side: corpusmill's curate vs datatrove's WarcReader + Trafilatura.

Writes gzipped WARC files of HTML responses (the Debian Reference's chapters, tables left out as
in ``bench/extraction_quality.py``, each copy under its own URL) with warcio, then runs
- corpusmill ``curate`` (format warc, default extractor, filters and dedup off), 2 workers;
- datatrove ``WarcReader`` → ``Trafilatura`` → ``JsonlWriter`` with ``LocalPipelineExecutor``,
  2 workers, in its own virtualenv (``--datatrove-python``; datatrove is never a corpusmill
  dependency), e.g. ``python -m venv /tmp/dtenv && /tmp/dtenv/bin/pip install 'datatrove[io,processing]' trafilatura warcio``;
and prints wall time, MB/s of HTML and the paragraph F1 of each output against the book's text.

    python bench/warc_speed.py --datatrove-python /tmp/dtenv/bin/python [--copies 25]
"""
from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.environment import print_installed_set  # noqa: E402
from bench.extraction_quality import (  # noqa: E402
    debian_reference,
    found_in,
    paragraphs,
    trigrams,
    words,
)

FILES = 8


def write_warcs(pages: list[Path], copies: int, directory: Path) -> float:
    """``FILES`` gzipped WARC files holding ``copies`` of every chapter; returns MB of HTML."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    htmls = [re.sub(r"(?is)<table\b.*?</table>", "", p.read_text(encoding="utf-8")).encode() for p in pages]
    directory.mkdir(parents=True, exist_ok=True)
    outs = [open(directory / f"part-{i:02d}.warc.gz", "wb") for i in range(FILES)]
    writers = [WARCWriter(f, gzip=True) for f in outs]
    size = 0
    for copy in range(copies):
        for page, html in zip(pages, htmls):
            writer = writers[(copy * len(pages) + pages.index(page)) % FILES]
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            record = writer.create_warc_record(f"https://docs.example/{copy}/{page.name}", "response", payload=io.BytesIO(html), http_headers=headers,
                                               warc_headers_dict={"WARC-Identified-Payload-Type": "text/html"})  # as Common Crawl writes
            writer.write_record(record)
            size += len(html)
    for f in outs:
        f.close()
    return size / 1e6


def f1(texts: list[str], book: str) -> float:
    truth_grams, truth = trigrams(words(book)), paragraphs(book)
    found = [p for t in texts for p in paragraphs(t, r"\n")]
    extracted = trigrams(" ".join(words(t) for t in texts))
    precision = sum(found_in(p, truth_grams) for p in found) / max(len(found), 1)
    recall = sum(found_in(p, extracted) for p in truth) / max(len(truth), 1)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def run_corpusmill(warcs: Path, work: Path) -> tuple[float, list[str]]:
    config = {
        "output_dir": str(work / "corpusmill"),
        "beam": {"runner": "FnApiRunner", "direct_running_mode": "multi_processing", "direct_num_workers": 2},
        "sources": [{"name": "web", "paths": [f"{warcs}/*.warc.gz"], "format": "warc"}],
        "filters": {name: {"enabled": False} for name in ("min_length", "language", "gopher_quality", "gopher_repetition", "fineweb", "pii")},
        "dedup": {"exact": False, "minhash": {"enabled": False}},
    }
    path = work / "corpusmill.yaml"
    path.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pipeline", "curate", str(path), "--force", "--quiet"], check=True)
    seconds = time.monotonic() - started
    rows = [r for f in sorted((work / "corpusmill" / "curated").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return seconds, [r["text"] for r in rows if r["meta"] and '"https://docs.example/0/' in r["meta"]]


DATATROVE = """
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.writers import JsonlWriter
if __name__ == "__main__":  # datatrove's workers re-import this module
    LocalPipelineExecutor(pipeline=[WarcReader(sys.argv[1], glob_pattern="*.warc.gz"), Trafilatura(timeout=10.0),
                                    JsonlWriter(sys.argv[2], compression=None)],
                          tasks={files}, workers=2, logging_dir=sys.argv[3]).run()
"""


def run_datatrove(python: str, warcs: Path, work: Path) -> tuple[float, list[str]]:
    script = work / "datatrove_run.py"
    script.write_text(textwrap.dedent(DATATROVE.format(files=FILES)))
    started = time.monotonic()
    subprocess.run([python, str(script), str(warcs), str(work / "datatrove"), str(work / "datatrove-logs")], check=True, capture_output=True)
    seconds = time.monotonic() - started
    rows = [json.loads(line) for f in sorted((work / "datatrove").glob("*.jsonl")) for line in f.read_text().splitlines()]
    return seconds, [r["text"] for r in rows if r.get("metadata", {}).get("url", "").startswith("https://docs.example/0/")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datatrove-python", required=True, help="a Python with datatrove, trafilatura and warcio installed")
    parser.add_argument("--copies", type=int, default=25)
    parser.add_argument("--deb", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pages, book = debian_reference(args.deb, work)
        megabytes = write_warcs(pages, args.copies, work / "warc")
        print(f"{FILES} WARC files, {len(pages) * args.copies:,} pages, {megabytes:.0f} MB of HTML; 2 workers each", flush=True)
        print(f"{'pipeline':<44} {'seconds':>8} {'MB/s':>6} {'F1':>6}", flush=True)
        results = {"corpusmill curate (FastWARC + Resiliparse)": run_corpusmill(work / "warc", work),
                   "datatrove WarcReader + Trafilatura": run_datatrove(args.datatrove_python, work / "warc", work)}
        for name, (seconds, texts) in results.items():
            print(f"{name:<44} {seconds:>8.1f} {megabytes / seconds:>6.2f} {f1(texts, book):>6.3f}")
        (mine, _), (theirs, _) = results.values()
        print(f"corpusmill is {theirs / mine:.1f}× faster")


if __name__ == "__main__":
    print_installed_set()
    main()
