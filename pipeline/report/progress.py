"""What a run has done so far, read from the files its workers committed: live progress lines
while a job runs and ``corpusmill status RUN_DIR`` at any time.

Curate's driver writes the unit plan (``curated/_work/plan.json``: each unit's input bytes); each
analyze step commits ``curated/_work/unit-U.analyzed.json`` (its unit report: documents read,
survivors) when its unit is done, and each apply step the unit's ``curated/part-U.parquet``. The
build's steps commit a token spill per curated shard (``dataset/_work/docs-U.parquet``) and a
dataset shard (``dataset/data-U.arrow``). Counts come only from those files, never from guesses,
so they are the same on every runner and from any machine that can read the output.
"""
from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

from apache_beam.io.filesystems import FileSystems

from pipeline.io.files import SUCCESS, list_files, read_json, write_json
from pipeline.io.spill import ANALYZED, unit_file
from pipeline.records import AnalyzedUnit

PLAN = "plan.json"
_UNIT = re.compile(r"(\d+)\D*$")


def plan_path(curate_work: str) -> str:
    return FileSystems.join(curate_work, PLAN)


def write_plan(curate_work: str, unit_bytes: dict[int, int]) -> None:
    write_json(plan_path(curate_work), {"units": {str(u): n for u, n in sorted(unit_bytes.items())}})


def _units(pattern: str) -> set[int]:
    return {int(m.group(1)) for path in list_files(pattern) if (m := _UNIT.search(path.rsplit("/", 1)[-1].split(".", 1)[0]))}


def curate_state(output_dir: str) -> dict[str, Any]:
    """Curate's units planned, analyzed and applied, with the documents and bytes read so far."""
    curated = FileSystems.join(output_dir, "curated")
    work = FileSystems.join(curated, "_work")
    if FileSystems.exists(FileSystems.join(curated, SUCCESS)):
        return {"state": "done"}
    if not FileSystems.exists(plan_path(work)):
        return {"state": "not started"}
    unit_bytes = {int(u): n for u, n in read_json(plan_path(work))["units"].items()}
    analyzed = sorted(_units(FileSystems.join(work, f"unit-*.{ANALYZED}")))
    reports = [AnalyzedUnit(**read_json(unit_file(work, u, ANALYZED))) for u in analyzed]
    return {
        "state": "in progress",
        "units": len(unit_bytes),
        "input_bytes": sum(unit_bytes.values()),
        "analyzed": len(analyzed),
        "applied": len(_units(FileSystems.join(curated, "part-*.parquet"))),
        "bytes_read": sum(unit_bytes.get(u, 0) for u in analyzed),
        "documents_read": sum(r.read for r in reports),
        "survivors": sum(r.survivors for r in reports),
    }


def build_state(output_dir: str) -> dict[str, Any]:
    """The build's curated shards tokenized and dataset shards packed so far."""
    dataset = FileSystems.join(output_dir, "dataset")
    if FileSystems.exists(FileSystems.join(dataset, SUCCESS)):
        return {"state": "done"}
    work = FileSystems.join(dataset, "_work")
    shards = len(list_files(FileSystems.join(output_dir, "curated", "part-*.parquet")))
    tokenized = len(_units(FileSystems.join(work, "docs-*.parquet")))
    packed = len(_units(FileSystems.join(dataset, "data-*.arrow")))
    if not tokenized and not packed:
        return {"state": "not started", "shards": shards}
    return {"state": "in progress", "shards": shards, "tokenized": tokenized, "packed": packed}


def tokenizer_state(output_dir: str) -> dict[str, Any]:
    return {"state": "done" if FileSystems.exists(FileSystems.join(output_dir, "tokenizer", SUCCESS)) else "not done"}


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f}" if n < 1e8 else f"{n / 1e6:,.0f}"


def progress_line(job: str, state: dict[str, Any], elapsed: float) -> str | None:
    """One line of what ``job`` has done, with rate and ETA where units give them; None before any plan."""
    if state.get("state") != "in progress":
        return None
    if job == "curate":
        share = state["bytes_read"] / max(state["input_bytes"], 1)
        rate = state["bytes_read"] / 1e6 / max(elapsed, 1e-9)
        eta = f", ETA {_duration(elapsed * (1 - share) / share)}" if 0 < share < 1 else ""
        return (f"[curate] analyzed {state['analyzed']}/{state['units']} units, {state['documents_read']:,} documents, "
                f"{_mb(state['bytes_read'])}/{_mb(state['input_bytes'])} MB ({rate:.1f} MB/s); applied {state['applied']}/{state['units']}; "
                f"{_duration(elapsed)} elapsed{eta}")
    if job == "build":
        return f"[build] tokenized {state['tokenized']}/{state['shards']} shards; packed {state['packed']} dataset shards; {_duration(elapsed)} elapsed"
    return None


class Progress:
    """Prints ``job``'s progress while it runs: on a terminal one line rewritten every ``every``
    seconds, otherwise a plain line every ``log_every`` seconds (cluster logs); the elapsed time
    alone for a job without units."""

    def __init__(self, job: str, output_dir: str, stream: TextIO = sys.stdout, every: float = 2.0, log_every: float = 30.0):
        self._job, self._output_dir, self._stream = job, output_dir, stream
        self._live = stream.isatty()
        self._every = every if self._live else log_every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()
        self._width = 0

    def _state(self) -> dict[str, Any]:
        if self._job == "curate":
            return curate_state(self._output_dir)
        if self._job == "build":
            return build_state(self._output_dir)
        return {}

    def _run(self) -> None:
        while not self._done.wait(self._every):
            elapsed = time.monotonic() - self._started
            try:
                line = progress_line(self._job, self._state(), elapsed)
            except (OSError, ValueError, KeyError):  # a file committed between listing and reading: next time
                continue
            line = line or f"[{self._job}] running, {_duration(elapsed)} elapsed"
            if self._live:
                self._stream.write("\r" + line.ljust(self._width))
                self._width = len(line)
            else:
                self._stream.write(line + "\n")
            self._stream.flush()

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._done.set()
        self._thread.join()
        if self._live and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()


def status_lines(output_dir: str) -> Iterator[str]:
    """``corpusmill status``: each job's state, with the report's figures for finished jobs and
    the committed units for a running one."""
    report_path = FileSystems.join(output_dir, "report", "report.json")
    report = read_json(report_path) if FileSystems.exists(report_path) else {}
    curate = curate_state(output_dir)
    if curate["state"] == "done" and "curate" in report:
        section = report["curate"]
        read = sum(s["read"] for s in section["sources"].values())
        kept = sum(s["kept"] for s in section["sources"].values())
        yield f"curate: done in {_duration(section['seconds'])}: {section['units']} units, {read:,} documents read, {kept:,} kept"
    elif curate["state"] == "in progress":
        yield (f"curate: in progress: analyzed {curate['analyzed']}/{curate['units']} units ({curate['documents_read']:,} documents, "
               f"{_mb(curate['bytes_read'])} of {_mb(curate['input_bytes'])} MB, {curate['survivors']:,} past the filters); "
               f"applied {curate['applied']}/{curate['units']}")
    else:
        yield f"curate: {curate['state']}"
    tokenizer = tokenizer_state(output_dir)
    if tokenizer["state"] == "done" and "train_tokenizer" in report:
        yield f"train_tokenizer: done in {_duration(report['train_tokenizer']['seconds'])}"
    else:
        yield f"train_tokenizer: {tokenizer['state']}"
    build = build_state(output_dir)
    if build["state"] == "done" and "build" in report:
        section = report["build"]
        yield f"build: done in {_duration(section['seconds'])}: " + ", ".join(f"{k} {v:,}" for k, v in section.items() if k in ("rows", "tokens", "shards") and isinstance(v, int))
    elif build["state"] == "in progress":
        yield f"build: in progress: tokenized {build['tokenized']}/{build['shards']} curated shards, packed {build['packed']} dataset shards"
    else:
        yield f"build: {build['state']}"
