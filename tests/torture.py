"""A torture corpus: every way input goes wrong, with where each record must end up."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

GOOD = "A perfectly ordinary document with enough characters to pass the length filter."


def write_torture_corpus(root: Path, tiny_documents: int = 100_000, big_document_bytes: int = 2_000_000) -> dict[str, list[str]]:
    """Writes the corpus under ``root``; returns the paths for two sources (``messy`` and ``files``)."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        b"\xef\xbb\xbf" + json.dumps({"id": "bom", "text": GOOD + " bom"}).encode(),  # line 1: BOM
        b'{"id": "badjson", "text": ',  # 2: invalid JSON
        b'{"id": "badutf8", "text": "caf\xe9"}',  # 3: invalid UTF-8
        b'{"id": "rawnul", "text": "a\x00b"}',  # 4: raw NUL inside a JSON string: invalid JSON
        json.dumps({"id": "escnul", "text": GOOD + " with \u0000 NUL"}).encode(),  # 5: kept, NUL removed
        json.dumps({"id": "surrogate", "text": GOOD + " lone \ud800 surrogate"}).encode(),  # 6: kept, U+FFFD
        json.dumps({"id": "notext", "body": GOOD}).encode(),  # 7: missing text
        json.dumps({"id": "numtext", "text": 42}).encode(),  # 8: non-string text
        json.dumps({"id": "nulltext", "text": None}).encode(),  # 9: null text
        json.dumps({"id": "crlf", "text": GOOD + "\r\nwindows\r\nnewlines"}).encode() + b"\r",  # 10: kept
        json.dumps({"id": "shared", "text": GOOD + " shared id, source one"}).encode(),  # 11: kept
        json.dumps({"id": "empty", "text": "   \x00 "}).encode(),  # 12: dropped, normalize/empty
        json.dumps({"id": "big", "text": "x" * big_document_bytes}).encode(),  # 13: dead letter, too large
        json.dumps([1, 2, 3]).encode(),  # 14: not an object
    ]
    (root / "messy.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (root / "empty.jsonl").write_bytes(b"")
    tiny = b"".join(json.dumps({"id": f"tiny{i}", "text": f"t{i}"}).encode() + b"\n" for i in range(tiny_documents))
    (root / "tiny.jsonl").write_bytes(tiny)
    body = b"".join(json.dumps({"id": f"gz{i}", "text": GOOD + f" gz {i} " + "y" * 300}).encode() + b"\n" for i in range(3000))
    gz = gzip.compress(body)
    (root / "trunc.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    zst = zstandard.ZstdCompressor().compress(body.replace(b'"gz', b'"zst'))
    (root / "trunc.jsonl.zst").write_bytes(zst[: len(zst) // 2])
    files = root / "files"
    files.mkdir(exist_ok=True)
    (files / "bom_crlf.txt").write_bytes(b"\xef\xbb\xbf" + (GOOD + "\r\nsecond line\r\n").encode())
    (files / "bad.txt").write_bytes(b"fine start\n\xff\xfe broken")
    (files / "shared").write_text(GOOD + " shared id, source two")
    pq.write_table(pa.table({"content": ["x"]}), root / "wrong_schema.parquet")
    return {
        "messy": [str(root / "*.jsonl"), str(root / "*.jsonl.gz"), str(root / "*.jsonl.zst")],
        "files": [str(files / "*")],
        "columnar": [str(root / "wrong_schema.parquet")],
    }
