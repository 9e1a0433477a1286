"""The run report counts what was written: a record lost between reading and the output files fails the run.

The loss seen on the local runner's multi-process mode (documents that the counts saw but no
output file held) cannot be forced on demand, so these tests inject the two shapes it can take
into a real run: a writer that commits fewer rows than it was given, and a unit whose report
never arrives.
"""
from __future__ import annotations

import pytest
import yaml

from pipeline.config import load_config
from pipeline.curate import apply
from pipeline.io.curated import ParquetRowWriter, ReconciliationError
from pipeline.records import AppliedUnit
from tests.conftest import base_config


def curate(tmp_path, corpus):
    from jobs.curate import run_curate

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base_config(tmp_path, corpus["sources"])))
    return run_curate(load_config(str(path)))


def test_a_row_lost_on_its_way_to_a_file_fails_the_run_naming_the_unit(tmp_path, corpus, monkeypatch):
    original = ParquetRowWriter.write

    def lossy(self, row):
        if row.get("id") == "web/d7" and "/curated/part-" in self._path:  # counted as written, never reaches the file
            self.rows += 1
            return
        original(self, row)

    monkeypatch.setattr(ParquetRowWriter, "write", lossy)
    with pytest.raises(ReconciliationError, match=r"unit 0 \(web: .*part.jsonl\): curated/ file holds 59 rows, the unit reported 60"):
        curate(tmp_path, corpus)


def test_a_unit_whose_report_never_arrives_fails_the_run(tmp_path, corpus, monkeypatch):
    original = apply.ApplyUnit.process

    def forgetful(self, element, sampled_roots):
        for output in original(self, element, sampled_roots):
            if not (isinstance(output, AppliedUnit) and output.unit == 1):
                yield output

    monkeypatch.setattr(apply.ApplyUnit, "process", forgetful)
    with pytest.raises(ReconciliationError, match=r"unit 1 \(code: .*\): 1 analyze and 0 apply reports"):
        curate(tmp_path, corpus)


def test_an_intact_run_reconciles_on_written_files(tmp_path, corpus):
    report = curate(tmp_path, corpus)
    assert report["units"] == 2 and all(s["reconciles"] for s in report["sources"].values())
