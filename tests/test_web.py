"""Web data: WARC/WET files written with warcio and HTML files, through curate, every record accounted for."""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.cli import main
from pipeline.config import SourceConfig
from pipeline.read.web import decode_html, main_text, read_warc
from tests.conftest import base_config

ARTICLE = """<html><head><title>Beam pipelines</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li></ul></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<main><article><h1>Writing data pipelines</h1>
<p>A data pipeline reads records, transforms them and writes the results in shards that a trainer loads directly.</p>
<p>Each step is a composite transform with a clear name, and the logic inside is a plain function that can be tested alone.</p>
<pre>def double(x):
    return 2 * x</pre>
<ul><li>deduplicate the corpus</li><li>filter low quality pages</li></ul>
</article></main>
<footer>Copyright 2026 Example Corp. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>"""


def page(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body><main><article><h1>{title}</h1><p>{body}</p></article></main></body></html>"


def response(writer: WARCWriter, url: str, payload: bytes, content_type: str) -> None:
    headers = StatusAndHeaders("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(payload)))], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=headers))


def write_warc(path: Path, truncated_tail: bool = False, compressed: bool = True) -> None:
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=compressed)
        request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.com")], is_http_request=True)
        writer.write_record(writer.create_warc_record("https://example.com/pipelines", "request", http_headers=request))  # not a document
        response(writer, "https://example.com/pipelines", ARTICLE.encode("utf-8"), "text/html; charset=utf-8")
        latin = page("Café crème", "Le café est une boisson préparée à partir des graines torréfiées du caféier, appréciée partout.")
        response(writer, "https://www.example.fr/cafe", latin.replace("<head>", '<head><meta charset="iso-8859-1">').encode("latin-1"), "text/html")
        response(writer, "https://example.com/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png")
        response(writer, "https://example.com/empty", b"<html><body><script>var x = 1;</script></body></html>", "text/html")
        response(writer, "https://blocked.example.net/spam", page("Offer", "A long enough page about something that is blocked by its domain name.").encode(), "text/html")
        response(writer, "https://example.com/huge", page("Huge", "word " * 60_000).encode(), "text/html")
        for i in range(5):
            response(writer, f"https://example.com/doc{i}", page(f"Document {i}", f"Paragraph number {i} talks about topic {i * 7} in enough words to pass filters.").encode(), "text/html")
    if truncated_tail:
        record = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100
        with open(path, "ab") as f:
            f.write(gzip.compress(record)[:60] if compressed else record)


def test_html_is_decoded_by_the_declared_then_meta_charset_and_reduced_to_main_text():
    text, charset = decode_html('<html><head><meta charset="iso-8859-1"></head><body>café</body></html>'.encode("latin-1"), None)
    assert charset == "iso-8859-1" and "café" in text
    main = main_text(ARTICLE)
    assert main.startswith("Writing data pipelines") and "A data pipeline reads records" in main and "def double(x):\n    return 2 * x" in main
    assert "deduplicate the corpus" in main and "filter low quality pages" in main
    assert "Copyright" not in main and "About us" not in main and "cookies" not in main


def test_warc_records_stream_into_documents_drops_and_dead_letters(tmp_path, monkeypatch):
    path = tmp_path / "crawl.warc.gz"
    write_warc(path, truncated_tail=True)
    source = SourceConfig("web", [str(path)], format="warc")
    records = list(read_warc(source, str(path), max_bytes=100_000))
    kinds = [type(r).__name__ for r in records]
    assert kinds.count("Document") == 8 and kinds.count("Drop") == 2 and kinds.count("DeadLetter") == 2  # + the truncated tail
    docs = {r.meta["url"]: r for r in records if type(r).__name__ == "Document"}
    assert docs["https://www.example.fr/cafe"].meta["charset"] == "iso-8859-1" and "café est une boisson" in docs["https://www.example.fr/cafe"].text
    article = docs["https://example.com/pipelines"]
    assert article.meta["host"] == "example.com" and article.meta["warc_file"] == str(path) and article.meta["content_type"] == "text/html"
    assert article.id.startswith("web/") and "Copyright" not in article.text
    drops = {r.reason: r.detail for r in records if type(r).__name__ == "Drop"}
    assert drops["not_html"].startswith("image/png") and "no_main_text" in drops
    errors = [r.error for r in records if type(r).__name__ == "DeadLetter"]
    assert any("exceeds max_document_bytes" in e for e in errors) and any("ends in a truncated record" in e for e in errors)
    import pipeline.read.web as web

    monkeypatch.setattr(web, "MAX_HTML_BYTES", 100_000)  # stands for 10 MB: a huge page is dropped unparsed
    huge = [r for r in read_warc(source, str(path)) if type(r).__name__ == "Drop" and r.reason == "html_too_large"]
    assert len(huge) == 1 and "https://example.com/huge" in huge[0].detail
    for compressed in (True, False):  # complete files have no tail; a plain file's short last record is one
        for truncated in (False, True):
            plain = tmp_path / f"crawl-{compressed}-{truncated}.warc"
            write_warc(plain, truncated_tail=truncated, compressed=compressed)
            tails = [r for r in read_warc(source, str(plain)) if type(r).__name__ == "DeadLetter"]
            assert len(tails) == truncated, (compressed, truncated, tails)


def test_a_warc_source_runs_through_curate_with_url_blocklists_and_reconciles(tmp_path):
    warc = tmp_path / "in" / "crawl.warc.gz"
    warc.parent.mkdir()
    write_warc(warc)
    blocklist = tmp_path / "domains"
    blocklist.write_text("# UT1-style list\nblocked.example.net\n")
    html = tmp_path / "html"
    html.mkdir()
    (html / "a.html").write_text(ARTICLE)
    config = base_config(tmp_path, [{"name": "crawl", "paths": [str(warc)], "format": "warc"}, {"name": "pages", "paths": [f"{html}/*.html"], "format": "html"}],
                         filters={**base_config(tmp_path, [])["filters"], "url": {"domain_files": [str(blocklist)], "words": ["/huge"]}},
                         max_document_bytes=10_000_000, dedup={"exact": True, "minhash": {"enabled": False}})
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--quiet"]) == 0  # to Arrow shards
    out = Path(config["output_dir"])
    manifest = json.loads((out / "dataset" / "manifest.json").read_text())
    assert manifest["packing"]["documents"] == 7 and manifest["tokens_per_source"]["crawl"] > 0  # the 7 kept pages
    report = json.loads((out / "report" / "report.json").read_text())["curate"]["sources"]
    crawl = report["crawl"]
    assert crawl["read"] == 11 and crawl["dead_lettered"] == 0 and crawl["reconciles"]  # response records only; the request record is no document
    assert crawl["dropped"] == {"extract/not_html": 1, "extract/no_main_text": 1, "filter/url_domain": 1, "filter/url_word": 1}
    assert report["pages"]["kept"] == 0 and report["pages"]["dropped"] == {"exact_dedup/exact_duplicate": 1}  # same main text as the crawled article
    drops = [r for f in (out / "drops").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert {d["detail"] for d in drops if d["reason"] == "url_domain"} == {"blocked.example.net"}  # the matched rule


def test_boilerplate_lines_in_many_documents_are_removed_everywhere(tmp_path):
    from pipeline.curate.dedup.lines import (
        count_lines,
        document_line_hashes,
        frequent_lines,
        line_key,
    )

    assert line_key("  Copyright © 2024, Example Corp.  ") == line_key("copyright 2019 example corp") == "copyright 0000 example corp"
    footer = "Copyright 2024 Example Corp. All rights reserved."
    topics = ["rivers", "mountains", "harbors", "bridges", "forests", "deserts"]
    docs = [f"An article about {t} and what lives there.\n{footer}\nThe {t} of the north differ from the {t} of the south." for t in topics]
    docs.append("A page without the footer.\nIt keeps all of its lines, even this one.")
    web = tmp_path / "web.jsonl"
    web.write_text("".join(json.dumps({"id": f"p{i}", "text": t}) + "\n" for i, t in enumerate(docs)))
    blocks = [count_lines([document_line_hashes(t) for t in docs[:3]]), count_lines([document_line_hashes(t) for t in docs[3:]])]
    assert len(frequent_lines(blocks, 3)) == 1  # only the footer is in ≥ 3 documents
    config = base_config(tmp_path, [{"name": "web", "paths": [str(web)], "id_field": "id"}], dedup={"exact": True, "minhash": {"enabled": False}, "lines": {"enabled": True}})
    path = tmp_path / "lines.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["curate", str(path), "--quiet"]) == 0
    out = Path(config["output_dir"])
    texts = [r["text"] for f in sorted((out / "curated").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert len(texts) == 7 and not any(footer in t for t in texts) and any("It keeps all of its lines" in t for t in texts)
    report = json.loads((out / "report" / "report.json").read_text())["curate"]["sources"]["web"]
    assert report["boilerplate_lines_removed"] == 6 and report["reconciles"]


def test_mixing_by_a_meta_key_remixes_hosts_in_tokens(tmp_path):
    warc = tmp_path / "in" / "hosts.warc.gz"
    warc.parent.mkdir()
    words = "river mountain harbor bridge forest desert valley island canyon glacier meadow lagoon".split()
    with open(warc, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for host, n in (("big.example", 30), ("small.example", 10)):
            for i in range(n):
                body = " ".join(words[(i * 7 + j * 3 + len(host)) % len(words)] + str(j) for j in range(60 + i))
                response(writer, f"https://{host}/page{i}", page(f"{host} page {i}", body).encode(), "text/html")
    config = base_config(tmp_path, [{"name": "crawl", "paths": [str(warc)], "format": "warc"}], mix_by="meta.host",
                         mix={"big.example": {"weight": 0.5}, "small.example": {"weight": 0.5}}, dedup={"exact": True, "minhash": {"enabled": False}})
    path = tmp_path / "remix.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--quiet"]) == 0
    manifest = json.loads((Path(config["output_dir"]) / "dataset" / "manifest.json").read_text())
    mix = manifest["mix"]
    assert set(mix) == {"big.example", "small.example"} and mix["small.example"]["whole_copies"] >= 1  # the small host is up-sampled
    largest = max(m["curated_tokens"] for m in mix.values()) / 10  # about one page's tokens
    for m in mix.values():
        assert abs(m["achieved_tokens"] - m["target_tokens"]) <= largest
    assert sum(m["achieved_tokens"] for m in mix.values()) == manifest["tokens"] == manifest["tokens_per_source"]["crawl"]
