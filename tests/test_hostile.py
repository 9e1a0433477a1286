"""Hostile input and interrupted runs (#24): every record ends in exactly one place, no job builds
on partial or stale data, the user's input is never deleted, nothing outside the input is read."""
from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import fault_line, main
from pipeline.config import SourceConfig
from pipeline.read.formats import read_jsonl, read_parquet, read_piece
from pipeline.read.repos import read_repository
from pipeline.read.units import Piece
from pipeline.records import DeadLetter, Document, Drop, Repository
from tests.conftest import base_config, paragraph_docs, write_jsonl

DEEP = b'{"text": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
HUGE_INT = b'{"id": "big", "text": "x", "n": ' + b"7" * 5000 + b"}"


def run_cli(*args: str) -> int:
    return main([*args, "--quiet"])


def write_config(tmp_path: Path, config: dict, name: str = "config.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def read_back(out: Path) -> dict[str, list]:
    """Every verdict as written: curated ids, drops (id, reason), dead letters."""
    curated = [r["id"] for f in sorted((out / "curated").glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    drops = [(r["id"], r["reason"]) for f in sorted((out / "drops").glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    dead = [json.loads(line) for f in sorted((out / "dead_letter").glob("*.jsonl")) for line in f.read_text().splitlines()]
    return {"curated": curated, "drops": drops, "dead": dead}


# 1. Each record is its own failure domain -------------------------------------------------


def test_a_record_that_breaks_the_decoder_dead_letters_that_line_only(tmp_path):
    good = [json.dumps({"id": f"g{i}", "text": f"good document {i}"}).encode() for i in range(4)]
    path = write_jsonl(tmp_path / "in.jsonl", [good[0], DEEP, good[1], HUGE_INT, good[2], good[3]])
    records = list(read_jsonl(SourceConfig("s", [str(path)], id_field="id"), str(path)))
    assert [type(r).__name__ for r in records] == ["Document", "DeadLetter", "Document", "DeadLetter", "Document", "Document"]
    assert records[1].line == 2 and "RecursionError" in records[1].error
    assert records[3].line == 4 and "ValueError" in records[3].error
    assert [r.id for r in records if isinstance(r, Document)] == ["s/g0", "s/g1", "s/g2", "s/g3"]


HOSTILE_LINES = st.sampled_from([
    b"{not json", b"[1, 2]", b'"a string"', b"\xff\xfe invalid utf-8", b'{"text": null}', b'{"text": 5}', b'{"id": [1], "text": "list id"}',
    DEEP[:2000] + b"]" * 0, b'{"text": "nul \\u0000 inside"}', b'{"id": "\\ud800", "text": "lone surrogate id", "url": "http://x/\\udfff"}',
    b'{"text": "' + b"y" * 3000 + b'"}', b'{"text": "' + b"[" * 3 + b'"}', HUGE_INT[:200] + b"}",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.builds(lambda i: json.dumps({"id": f"v{i}", "text": f"valid {i}"}).encode(), st.integers(0, 10**6)), HOSTILE_LINES, st.just(b"")),
                min_size=1, max_size=40),
       st.sampled_from(["", ".gz"]))
def test_fuzz_every_line_ends_in_exactly_one_place(tmp_path_factory, lines, suffix):
    """Generated files mixing valid and hostile lines: one record per non-blank line, at its line."""
    path = tmp_path_factory.mktemp("fuzz") / f"f.jsonl{suffix}"
    body = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(body) if suffix else body)
    source = SourceConfig("s", [str(path)], id_field="id")
    records = list(read_piece(source, Piece(str(path), str(path.parent) + "/", path.stat().st_size), max_bytes=2500))
    expected = [i + 1 for i, line in enumerate(lines) if line.strip()]
    assert [r.meta["line"] if isinstance(r, Document) else r.line for r in records] == expected
    for record, line in zip(records, [lines[i - 1] for i in expected]):
        assert isinstance(record, (Document, DeadLetter))
        if line.startswith(b'{"id": "v'):
            assert isinstance(record, Document)


def test_hostile_lines_through_curate_reconcile_on_what_was_written(tmp_path):
    docs = paragraph_docs(30, seed=3)
    records = [{"id": f"d{i}", "text": t} for i, t in enumerate(docs)]
    records[5:5] = [DEEP, HUGE_INT, b'{"id": "\\ud800x", "text": "' + paragraph_docs(1, seed=11)[0].encode() + b'", "url": "http://a/\\udc80"}']
    path = write_jsonl(tmp_path / "in" / "h.jsonl", records)
    config = base_config(tmp_path, [{"name": "h", "paths": [str(path)], "id_field": "id"}])
    assert run_cli("curate", write_config(tmp_path, config)) == 0
    out = Path(config["output_dir"])
    written = read_back(out)
    assert len(written["curated"]) + len(written["drops"]) + len(written["dead"]) == 33
    assert sorted(d["line"] for d in written["dead"]) == [6, 7]
    assert "h/\ufffdx" in written["curated"]
    report = json.loads((out / "report" / "report.json").read_text())["curate"]["sources"]["h"]
    assert report["read"] == 33 and report["reconciles"] and report["repaired_fields"] == 1


# 2. No job builds on partial or stale data ------------------------------------------------


@pytest.fixture
def finished_run(tmp_path, corpus):
    config = base_config(tmp_path, corpus["sources"])
    path = write_config(tmp_path, config)
    assert run_cli("run", path) == 0
    return tmp_path, config, path


def test_build_and_tokenizer_refuse_a_curated_folder_without_success(finished_run, capsys):
    tmp_path, config, path = finished_run
    out = Path(config["output_dir"])
    (out / "curated" / "_SUCCESS").unlink()  # what a kill -9 during curate leaves
    next(iter(sorted((out / "curated").glob("part-*.parquet")))).unlink()
    capsys.readouterr()
    for job in ("build", "train-tokenizer"):
        assert main([job, path, "--force"]) == 1
        err = capsys.readouterr().err
        assert "is not complete" in err and "run `corpusmill curate`" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_changed_input_rebuilds_the_tokenizer_and_the_dataset(finished_run, corpus):
    tmp_path, config, path = finished_run
    out = Path(config["output_dir"])
    before = json.loads((out / "dataset" / "manifest.json").read_text())
    with open(corpus["jsonl"], "a") as f:
        for i, text in enumerate(paragraph_docs(20, seed=99)):
            f.write(json.dumps({"id": f"new{i}", "text": text}) + "\n")
    assert run_cli("curate", path) == 0  # the input changed: not "up to date"
    assert run_cli("run", path) == 0
    after = json.loads((out / "dataset" / "manifest.json").read_text())
    assert after["packing"]["documents"] == before["packing"]["documents"] + 20
    success = json.loads((out / "dataset" / "_SUCCESS").read_text())
    assert success["upstream"]["curated"] == json.loads((out / "curated" / "_SUCCESS").read_text())["fingerprint"]


def test_a_curate_over_its_error_budget_leaves_no_success_and_blocks_the_build(tmp_path, corpus):
    config = base_config(tmp_path, corpus["sources"], max_dead_letter_fraction=0.01)
    path = write_config(tmp_path, config)
    assert run_cli("run", path) == 1
    out = Path(config["output_dir"])
    assert not (out / "curated" / "_SUCCESS").exists() and not (out / "dataset" / "_SUCCESS").exists()
    assert run_cli("build", path) == 1


# 3. The user's input is never deleted -----------------------------------------------------


def test_an_input_inside_the_output_is_refused_before_anything_is_deleted(finished_run, capsys):
    tmp_path, config, _ = finished_run
    out = Path(config["output_dir"])
    shards = sorted((out / "curated").glob("part-*.parquet"))
    again = dict(config, sources=[{"name": "again", "paths": [str(out / "curated" / "part-*.parquet")], "format": "parquet"}])
    path = write_config(tmp_path, again, "again.yaml")
    capsys.readouterr()
    assert main(["validate", path]) == 1
    assert "lies inside the output folder" in capsys.readouterr().err
    assert run_cli("curate", path) == 1
    assert sorted((out / "curated").glob("part-*.parquet")) == shards and (out / "curated" / "_SUCCESS").exists()
    everything = dict(config, sources=[{"name": "all", "paths": [str(tmp_path / "**")]}])
    assert main(["validate", write_config(tmp_path, everything, "all.yaml")]) == 1
    assert "would read its own output" in capsys.readouterr().err


LATE_FAILURES = [
    ({"output": {"unit_mb": float("inf")}}, "output.unit_mb"),
    ({"seed": 2**32}, "seed"),
    ({"mix": {"web": {"epochs": float("inf")}}}, "mix.web.epochs"),
    ({"mix": {"web": {"weight": 0.0}, "code": {"weight": 0.0}}}, "mix"),
    ({"beam": {"direct_num_workers": -3}}, "beam.direct_num_workers"),
    ({"filters": {"language": {"min_score": 7.0}}}, "filters.language.min_score"),
    ({"filters": {"gopher_quality": {"min_doc_words": -5}}}, "filters.gopher_quality.min_doc_words"),
    ({"dedup": {"lines": {"enabled": True, "min_documents": 0}}}, "dedup.lines.min_documents"),
    ({"tokenizer": {"max_token_length": 0}}, "tokenizer.max_token_length"),
    ({"max_dead_letter_fraction": float("nan")}, "max_dead_letter_fraction"),
]


def test_values_that_would_fail_late_fail_validate_and_leave_a_finished_run_alone(finished_run, capsys):
    tmp_path, config, _ = finished_run
    out = Path(config["output_dir"])

    def files() -> dict[Path, bytes]:
        return {p: p.read_bytes() for folder in ("curated", "dataset") for p in (out / folder).glob("*") if p.is_file()}

    before = files()
    for override, key in LATE_FAILURES:
        path = write_config(tmp_path, {**config, **override}, "bad.yaml")
        capsys.readouterr()
        assert main(["validate", path]) == 2 and main(["run", path]) == 2, key
        assert f"config error: {path}: {key}: " in capsys.readouterr().err.split("\n")[0]
    assert files() == before


@pytest.mark.parametrize("name", ["..", "a/b", "a\nb", "", " x", ".hidden"])
def test_source_names_are_safe_path_parts(tmp_path, corpus, name, capsys):
    config = base_config(tmp_path, [{**corpus["sources"][0], "name": name}])
    assert main(["validate", write_config(tmp_path, config)]) == 2
    assert "sources[0].name" in capsys.readouterr().err


def test_a_rerun_keeps_files_it_did_not_write(finished_run):
    tmp_path, config, path = finished_run
    mine = Path(config["output_dir"]) / "curated" / "NOTES.md"
    mine.write_text("my notes")
    assert run_cli("curate", path, "--force") == 0
    assert mine.read_text() == "my notes"


# 4-5. Surrogates (above) and bounded decompression -----------------------------------------


@pytest.mark.slow
def test_a_decompression_bomb_is_cut_with_flat_memory(tmp_path):
    path = tmp_path / "bomb.jsonl.gz"
    head = b"".join(json.dumps({"id": f"d{i}", "text": f"document {i}"}).encode() + b"\n" for i in range(3))
    path.write_bytes(gzip.compress(head + b"\n" * (300 << 20), compresslevel=9))
    assert path.stat().st_size < 400_000
    tracemalloc.start()
    records = list(read_jsonl(SourceConfig("s", [str(path)], id_field="id"), str(path), max_bytes=1 << 20))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [r.id for r in records if isinstance(r, Document)] == ["s/d0", "s/d1", "s/d2"]
    (dead,) = [r for r in records if isinstance(r, DeadLetter)]
    assert "max_compression_ratio" in dead.error
    assert peak < 32 << 20


def test_a_zip_member_lying_about_its_size_is_not_inflated(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("pkg/small.py", "x = 1\n")
        z.writestr("pkg/big.py", "#" * (20 << 20))
    data = bytearray(buffer.getvalue())
    declared = (20 << 20).to_bytes(4, "little")
    for at in [i for i in range(len(data)) if data[i:i + 4] == declared]:
        data[at:at + 4] = (100).to_bytes(4, "little")  # local header and central directory claim 100 bytes
    archive = tmp_path / "repo.zip"
    archive.write_bytes(bytes(data))
    source = SourceConfig("r", [str(archive)], format="repos", kind="code", max_file_bytes=1_000_000)
    tracemalloc.start()
    records = list(read_repository(source, str(archive), str(tmp_path) + "/"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    repo = records[-1]
    assert isinstance(repo, Repository) and [f.meta["file"] for f in repo.files] == ["pkg/small.py"]
    assert len(records) == 2 and not isinstance(records[0], Repository)  # big.py: a skip or a dead letter, counted
    assert peak < 16 << 20


# 6. Nothing outside the input is read ----------------------------------------------------


def test_directory_repositories_never_follow_links_and_skip_special_files(tmp_path):
    secret = tmp_path / "outside" / "secret.py"
    secret.parent.mkdir()
    secret.write_text("API_KEY = 'do not read'\n")
    repo = tmp_path / "repos" / "proj"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "main.py").write_text("import os\nprint(os.getcwd())\n")
    os.symlink(secret, repo / "pkg" / "leak.py")
    os.symlink(secret.parent, repo / "linked_dir")
    os.symlink(repo / "nowhere.py", repo / "broken.py")
    os.symlink(repo, repo / "pkg" / "loop")
    os.mkfifo(repo / "pipe.py")
    source = SourceConfig("r", [str(tmp_path / "repos" / "*")], format="repos", kind="code")
    records = list(read_repository(source, str(repo), str(tmp_path / "repos") + "/"))
    skips = {r.id.split("/", 2)[2]: r.reason for r in records if isinstance(r, Drop)}
    assert skips == {"pkg/leak.py": "symlink", "linked_dir": "symlink", "broken.py": "symlink", "pkg/loop": "symlink", "pipe.py": "not_a_regular_file"}
    (repository,) = [r for r in records if isinstance(r, Repository)]
    assert [f.meta["file"] for f in repository.files] == ["pkg/main.py"]
    assert not any("do not read" in f.text for f in repository.files)


def test_zip_symlink_entries_are_skipped(tmp_path):
    archive = tmp_path / "r.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.py", "print('a')\n")
        link = zipfile.ZipInfo("passwd.py")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "/etc/passwd")
    records = list(read_repository(SourceConfig("r", [str(archive)], format="repos", kind="code"), str(archive), str(tmp_path) + "/"))
    assert [(r.id, r.reason) for r in records if isinstance(r, Drop)] == [("r/r/passwd.py", "symlink")]


@pytest.mark.slow
def test_a_fifo_matched_by_a_glob_is_a_dead_letter_not_a_hang(tmp_path):
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "a document that is long enough to keep"}])
    os.mkfifo(tmp_path / "in" / "b.jsonl")
    config = base_config(tmp_path, [{"name": "s", "paths": [str(tmp_path / "in" / "*.jsonl")], "id_field": "id"}])
    cli = "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", cli, "curate", write_config(tmp_path, config), "--quiet"], timeout=300,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    dead = read_back(Path(config["output_dir"]))["dead"]
    assert len(dead) == 1 and "not a regular file (fifo)" in dead[0]["error"]


# 7. Recovery at the finest grain the format allows -----------------------------------------


def test_a_damaged_warc_member_costs_one_dead_letter_and_reading_resumes(tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from tests.test_web import page

    buffer, starts = io.BytesIO(), []
    writer = WARCWriter(buffer, gzip=True)
    for i in range(8):
        starts.append(buffer.tell())
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        html = page(f"Page {i}", f"<p>Paragraph number {i} of a page about data pipelines and their many shards.</p>").encode()
        writer.write_record(writer.create_warc_record(f"https://example.com/{i}", "response", payload=io.BytesIO(html), http_headers=headers))
    data = bytearray(buffer.getvalue())
    data[starts[3] + 30:starts[3] + 60] = b"\x00" * 30
    path = tmp_path / "damaged.warc.gz"
    path.write_bytes(bytes(data))
    records = list(read_piece(SourceConfig("w", [str(path)], format="warc"), Piece(str(path), str(tmp_path) + "/", len(data))))
    urls = [r.meta["url"] for r in records if isinstance(r, Document)]
    assert urls == [f"https://example.com/{i}" for i in (0, 1, 2, 4, 5, 6, 7)]
    (dead,) = [r for r in records if isinstance(r, DeadLetter)]
    assert f"resumed at byte offset {starts[4]}" in dead.error


def test_a_corrupt_parquet_row_group_loses_only_its_rows_each_counted(tmp_path):
    path = tmp_path / "t.parquet"
    table = pa.table({"text": [f"row {i} " + "w" * 200 for i in range(3000)]})
    pq.write_table(table, path, row_group_size=1000, compression="snappy")
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(1).column(0)
    start = column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 40:start + 400] = random.Random(0).randbytes(360)  # inside row group 1's page data: fixed bytes, so the test is deterministic
    path.write_bytes(bytes(data))
    records = list(read_parquet(SourceConfig("p", [str(path)], format="parquet"), str(path)))
    assert len(records) == 3000
    assert [r.meta["row"] for r in records if isinstance(r, Document)][:1000] == list(range(1, 1001))
    assert [r.meta["row"] for r in records if isinstance(r, Document)][-1000:] == list(range(2001, 3001))
    lost = [r for r in records if isinstance(r, DeadLetter)]
    assert lost and all(1001 <= r.row <= 2000 and "row group 1" in r.error for r in lost)


# 8. Duplicate ids, faults, runs that keep nothing, the lock -------------------------------


def test_duplicate_ids_across_files_are_dropped_or_fail_the_run(tmp_path):
    docs = paragraph_docs(6, seed=5)
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": 5, "text": docs[0]}, {"id": "x", "text": docs[1]}])
    write_jsonl(tmp_path / "in" / "b.jsonl", [{"id": "5", "text": docs[2]}, {"id": "y", "text": docs[3]}, {"id": "x", "text": docs[4]}])
    config = base_config(tmp_path, [{"name": "s", "paths": [str(tmp_path / "in" / "*.jsonl")], "id_field": "id"}])
    assert run_cli("curate", write_config(tmp_path, config)) == 0
    written = read_back(Path(config["output_dir"]))
    assert sorted(written["curated"]) == ["s/5", "s/x", "s/y"]
    assert sorted(written["drops"]) == [("s/5", "duplicate_id"), ("s/x", "duplicate_id")]
    kept = {r["id"]: r["text"] for f in (Path(config["output_dir"]) / "curated").glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    assert kept["s/5"] == docs[0] and kept["s/x"] == docs[1]  # the first read is kept
    failing = dict(config, on_duplicate_id="fail")
    assert run_cli("curate", write_config(tmp_path, failing, "fail.yaml")) == 1


def test_a_failing_worker_ends_in_one_line_with_the_traceback_in_a_log_file(tmp_path, corpus, capsys, monkeypatch):
    from pipeline.io import curated

    def full_disk(self):
        raise OSError(28, "No space left on device", self._path)

    monkeypatch.setattr(curated.ParquetRowWriter, "close", full_disk)
    config = base_config(tmp_path, corpus["sources"])
    capsys.readouterr()
    assert main(["curate", write_config(tmp_path, config), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and err.startswith("corpusmill: OSError")
    log = Path(err.rsplit("(traceback: ", 1)[1].rstrip(")"))
    assert log.parent == Path(config["output_dir"]) / "_logs" and "Traceback (most recent call last)" in log.read_text()


def test_fault_line_names_the_worker_exception():
    beam_error = RuntimeError("Traceback (most recent call last):\n  File \"w.py\", line 1, in f\nOSError: [Errno 28] No space left on device: '/o/x' "
                              "[while running 'ApplyUnits']")
    assert fault_line(beam_error) == "OSError: [Errno 28] No space left on device: '/o/x' [while running 'ApplyUnits']"
    assert fault_line(KeyError("k")) == "KeyError: 'k'"


def test_a_run_that_keeps_nothing_warns(tmp_path, capsys):
    write_jsonl(tmp_path / "in" / "t.jsonl", [{"id": i, "text": "short"} for i in range(5)])
    config = base_config(tmp_path, [{"name": "tiny", "paths": [str(tmp_path / "in" / "t.jsonl")], "id_field": "id"}])
    assert main(["curate", write_config(tmp_path, config), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: source tiny kept no documents of 5 read (filter/too_short 5" in err


def test_a_second_run_on_the_same_output_is_refused_naming_the_holder(tmp_path, corpus, capsys):
    config = base_config(tmp_path, corpus["sources"])
    path = write_config(tmp_path, config)
    out = Path(config["output_dir"])
    out.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (out / "_LOCK").write_text(json.dumps({"host": os.uname().nodename, "pid": holder.pid, "job": "run", "since": "now"}))
        capsys.readouterr()
        assert main(["curate", path]) == 1
        assert f"in use by another run (run on {os.uname().nodename}, pid {holder.pid}" in capsys.readouterr().err
        assert not (out / "curated").exists()
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("curate", path) == 0  # the holder is gone: its lock is stale and taken over
    assert not (out / "_LOCK").exists()


def test_compressed_html_files_are_read_and_bounded(tmp_path):
    from pipeline.read.web import read_html
    from tests.test_web import page

    good = tmp_path / "good.html.gz"
    good.write_bytes(gzip.compress(page("Title", "<p>A paragraph about shards and the pipelines that write them.</p>").encode()))
    bomb = tmp_path / "bomb.html.gz"
    bomb.write_bytes(gzip.compress(b"<html><body><p>" + b" " * (200 << 20), compresslevel=9))
    source = SourceConfig("h", [str(tmp_path / "*.html.gz")], format="html")
    (doc,) = read_html(source, str(good), str(tmp_path) + "/", max_bytes=1 << 20)
    assert isinstance(doc, Document) and "paragraph about shards" in doc.text
    tracemalloc.start()
    (capped,) = read_html(source, str(bomb), str(tmp_path) + "/", max_bytes=1 << 20)
    (cut,) = read_html(source, str(bomb), str(tmp_path) + "/", max_bytes=None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert isinstance(capped, DeadLetter) and "exceeds max_document_bytes" in capped.error
    assert isinstance(cut, DeadLetter) and "max_compression_ratio" in cut.error
    assert peak < 64 << 20
