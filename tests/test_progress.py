"""Progress lines and ``corpusmill status``, counted from the files a run's workers committed."""
from __future__ import annotations

import io
import json
import time
from dataclasses import asdict

import yaml

from pipeline.cli import main
from pipeline.records import AnalyzedUnit
from pipeline.report.progress import Progress, curate_state, progress_line, status_lines, write_plan
from tests.conftest import base_config


def test_status_of_a_finished_run_and_of_one_in_progress(tmp_path, corpus, capsys):
    config = base_config(tmp_path, corpus["sources"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert list(status_lines(str(tmp_path / "out"))) == ["curate: not started", "train_tokenizer: not done", "build: not started"]
    assert main(["curate", str(tmp_path / "config.yaml"), "--quiet"]) == 0
    report = json.loads((tmp_path / "out" / "report" / "report.json").read_text())["curate"]
    read = sum(s["read"] for s in report["sources"].values())
    assert main(["status", str(tmp_path / "out")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("curate: done in ") and f"{read:,} documents read" in first

    # a curate that planned three units and analyzed two of them (the files its workers commit)
    running = tmp_path / "running"
    work = running / "curated" / "_work"
    write_plan(str(work), {0: 1_000_000, 1: 2_000_000, 2: 3_000_000})
    for unit, (docs, survivors) in {0: (10, 8), 2: (30, 20)}.items():
        (work / f"unit-{unit:05d}.analyzed.json").write_text(json.dumps(asdict(AnalyzedUnit(unit, "web", docs, {}, survivors, 0, 0, 0))))
    (running / "curated" / "part-00000.parquet").write_bytes(b"")
    state = curate_state(str(running))
    assert state == {"state": "in progress", "units": 3, "input_bytes": 6_000_000, "analyzed": 2, "applied": 1,
                     "bytes_read": 4_000_000, "documents_read": 40, "survivors": 28}
    line = progress_line("curate", state, elapsed=10.0)
    assert line.startswith("[curate] analyzed 2/3 units, 40 documents, 4.0/6.0 MB (0.4 MB/s); applied 1/3;") and "ETA 0m05s" in line
    assert next(status_lines(str(running))).startswith("curate: in progress: analyzed 2/3 units (40 documents, 4.0 of 6.0 MB, 28 past the filters)")


def test_progress_prints_plain_lines_off_a_terminal(tmp_path):
    work = tmp_path / "curated" / "_work"
    write_plan(str(work), {0: 5_000_000, 1: 5_000_000})
    (work / "unit-00001.analyzed.json").write_text(json.dumps(asdict(AnalyzedUnit(1, "web", 7, {}, 7, 0, 0, 0))))
    out = io.StringIO()
    with Progress("curate", str(tmp_path), stream=out, log_every=0.05):
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("[curate] analyzed 1/2 units, 7 documents, 5.0/10.0 MB") for line in lines) and "\r" not in out.getvalue()
