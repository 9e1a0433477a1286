import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.config import SourceConfig
from pipeline.read.formats import InputNotFoundError, match_source_files, read_piece
from pipeline.read.units import Piece, plan_units
from pipeline.records import DeadLetter, Document
from tests.conftest import write_jsonl


def read_all(source: SourceConfig):
    return [r for path, base, size in match_source_files(source) for r in read_piece(source, Piece(path, base, size))]


def test_jsonl_bad_records_become_dead_letters_with_line_numbers(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [{"id": 1, "text": "one"}, "{not json", {"id": 3, "body": "x"}, b'{"text": "\xff"}', "[1, 2]", {"id": 6, "text": 5}, "", {"id": 8, "text": "eight"}],
    )
    records = read_all(SourceConfig("web", [str(path)], id_field="id"))
    docs = [r for r in records if isinstance(r, Document)]
    dead = {r.line: r for r in records if isinstance(r, DeadLetter)}
    assert [d.id for d in docs] == ["web/1", "web/8"]
    assert docs[0].meta == {"path": str(path), "line": 1}
    assert set(dead) == {2, 3, 4, 5, 6}
    assert "invalid JSON" in dead[2].error and dead[2].raw == "{not json"
    assert "missing text field 'text'" in dead[3].error
    assert "invalid UTF-8" in dead[4].error
    assert "expected a JSON object" in dead[5].error
    assert "not a string" in dead[6].error
    assert all(d.file == str(path) and d.stage == "read" for d in dead.values())


def test_ids_default_to_content_hash(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "same"}, {"text": "other"}])
    ids = [r.id for r in read_all(SourceConfig("s", [str(path)]))]
    assert ids[0].startswith("s/") and len(set(ids)) == 2


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".zst", lambda b: zstandard.ZstdCompressor().compress(b))])
def test_compressed_jsonl(tmp_path, suffix, compress):
    body = b"".join(json.dumps({"text": f"doc {i}"}).encode() + b"\n" for i in range(50))
    path = tmp_path / f"a.jsonl{suffix}"
    path.write_bytes(compress(body))
    assert [r.text for r in read_all(SourceConfig("s", [str(path)]))] == [f"doc {i}" for i in range(50)]


def test_truncated_gzip_keeps_what_was_read_and_dead_letters_the_rest(tmp_path):
    body = b"".join(json.dumps({"text": f"doc {i} " + "x" * 200}).encode() + b"\n" for i in range(2000))
    path = tmp_path / "a.jsonl.gz"
    data = gzip.compress(body)
    path.write_bytes(data[: len(data) // 2])
    records = read_all(SourceConfig("s", [str(path)]))
    dead = [r for r in records if isinstance(r, DeadLetter)]
    assert len(dead) == 1 and "unreadable after line" in dead[0].error
    assert 0 < len(records) - 1 < 2000


def test_parquet_and_arrow_and_hf_directories(tmp_path):
    table = pa.table({"content": ["alpha text", None, "gamma text"], "key": ["a", "b", "c"]})
    pq.write_table(table, tmp_path / "t.parquet")
    with pa.ipc.new_stream(str(tmp_path / "t.arrow"), table.schema) as w:
        w.write_table(table)
    import datasets

    datasets.Dataset.from_dict({"content": ["hf one", "hf two"]}).save_to_disk(str(tmp_path / "hf"))
    for fmt, path in (("parquet", tmp_path / "t.parquet"), ("arrow", tmp_path / "t.arrow")):
        records = read_all(SourceConfig("s", [str(path)], format=fmt, text_field="content", id_field="key"))
        assert [r.id for r in records if isinstance(r, Document)] == ["s/a", "s/c"]
        (dead,) = [r for r in records if isinstance(r, DeadLetter)]
        assert dead.row == 2 and dead.line is None
    hf = read_all(SourceConfig("s", [str(tmp_path / "hf")], format="hf", text_field="content"))
    assert sorted(r.text for r in hf) == ["hf one", "hf two"]


def test_parquet_without_the_text_column_is_one_dead_letter(tmp_path):
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "t.parquet")
    (record,) = read_all(SourceConfig("s", [str(tmp_path / "t.parquet")], format="parquet"))
    assert isinstance(record, DeadLetter) and "no column 'text'" in record.error


def test_text_ids_are_unique_across_patterns(tmp_path):
    for pkg in ("a", "b"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text(f"# {pkg}\n")
    (tmp_path / "a" / "bad.py").write_bytes(b"ok\n\xff\n")
    source = SourceConfig("code", [str(tmp_path / "a" / "*.py"), str(tmp_path / "b" / "*.py")], format="text")
    records = read_all(source)
    assert sorted(r.id for r in records if isinstance(r, Document)) == ["code/a/__init__.py", "code/b/__init__.py"]
    (dead,) = [r for r in records if isinstance(r, DeadLetter)]
    assert dead.line == 2 and "invalid UTF-8" in dead.error


def test_missing_input_fails_before_work(tmp_path):
    with pytest.raises(InputNotFoundError, match="no file matches"):
        match_source_files(SourceConfig("s", [str(tmp_path / "nothing*.jsonl")]))


def test_byte_ranges_read_every_line_once_wherever_the_cuts_fall(tmp_path):
    records = [{"id": i, "text": "x" * (i % 37) + f" doc {i}"} for i in range(500)]
    records[77] = "{broken"
    path = write_jsonl(tmp_path / "big.jsonl", records)
    source = SourceConfig("s", [str(path)], id_field="id")
    size = path.stat().st_size
    whole = read_all(source)
    for unit_bytes in (size // 7, size // 3 + 1, 100, 2000):
        units = plan_units([("s", "jsonl", match_source_files(source))], unit_bytes)
        assert len(units) > 1 and all(len(u.pieces) == 1 for u in units)
        ranged = [r for u in units for r in read_piece(source, u.pieces[0])]
        assert [r.id for r in ranged if isinstance(r, Document)] == [r.id for r in whole if isinstance(r, Document)]
        (dead,) = [r for r in ranged if isinstance(r, DeadLetter)]
        assert "invalid JSON" in dead.error and "byte offset" in dead.error
        offset = int(dead.error.split("byte offset ")[1].split(":")[0])
        assert path.read_bytes()[offset:].startswith(b"{broken")


def test_small_files_are_grouped_into_units_and_compressed_files_never_cut(tmp_path):
    files = [(f"/d/f{i}.jsonl", "/d/", 300) for i in range(10)] + [("/d/big.jsonl.gz", "/d/", 5000)]
    units = plan_units([("s", "jsonl", files)], 1000)
    assert [len(u.pieces) for u in units] == [3, 3, 3, 1, 1]
    assert units[-1].pieces[0] == Piece("/d/big.jsonl.gz", "/d/", 5000) and [u.index for u in units] == list(range(5))
