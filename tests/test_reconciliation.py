"""The run report counts what was written: a record lost between reading and the output files fails the run.

The loss seen on the local runner's multi-process mode (documents that the counts saw but no
output file held) cannot be forced on demand, so these tests inject the two shapes it can take
into a real run: a writer that commits fewer rows than it was given, and a unit whose report
never arrives.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
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
    original = ParquetRowWriter.write_table

    def lossy(self, table):
        if "/curated/part-" in self._path and "web/d7" in table.column("id").to_pylist():  # counted as written, never reaches the file
            self.rows += 1
            table = table.filter(pc.not_equal(table.column("id"), "web/d7"))
        original(self, table)

    monkeypatch.setattr(ParquetRowWriter, "write_table", lossy)
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


def test_rows_written_as_dicts_or_arrow_batches_of_any_size_give_the_same_file(tmp_path):
    """The apply step writes Arrow batches, the analyze step dict rows: the row groups (and so the
    bytes) depend on the rows alone."""
    from pipeline.io.curated import CURATED_SCHEMA

    rows = [{"id": f"d{i}", "text": f"{i} " * (i % 997 + 1500), "source": "s", "meta": "{}"} for i in range(2500)]  # row groups of several data pages
    by_row = ParquetRowWriter(str(tmp_path / "rows.parquet"), CURATED_SCHEMA, row_group=300)
    for row in rows:
        by_row.write(row)
    by_batch = ParquetRowWriter(str(tmp_path / "batches.parquet"), CURATED_SCHEMA, row_group=300)
    start = 0
    for size in [0, 1, 299, 7, 600, 1000, 3, 590]:
        by_batch.write_table(pa.Table.from_pylist(rows[start : start + size], schema=CURATED_SCHEMA))
        start += size
    assert start == len(rows)
    assert by_row.close() == by_batch.close()
    assert (tmp_path / "rows.parquet").read_bytes() == (tmp_path / "batches.parquet").read_bytes()


def test_length_bins_of_an_arrow_column_are_length_bin_of_each_text():
    from pipeline.report.counts import length_bin, length_bins

    texts = ["", "a", "ab", "abc", "é" * 4, "中" * 1023, "x" * 1024, "😀" * 4097]
    assert [str(b) for b in length_bins(pa.array(texts))] == [length_bin(t) for t in texts]


def test_an_intact_run_reconciles_on_written_files(tmp_path, corpus):
    report = curate(tmp_path, corpus)
    assert report["units"] == 2 and all(s["reconciles"] for s in report["sources"].values())
