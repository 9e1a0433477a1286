"""The whole flow on a tiny generated corpus: curate → train tokenizer → build → load with datasets."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.assemble.fim import document_text
from pipeline.assemble.pack import unpack_row
from pipeline.cli import main
from tests.conftest import base_config
from tokenizer import load_directory


def run(tmp_path: Path, config: dict, *extra: str) -> int:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return main(["run", str(path), "--quiet", *extra])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("e2e")
    from tests.conftest import corpus as make_corpus

    corpus = make_corpus.__wrapped__(tmp_path)
    # Concat packing without FIM, one group per shard: rows then sit in packing order, so
    # documents can be reassembled from the token stream.
    config = base_config(
        tmp_path, corpus["sources"], pack={"seq_len": 128, "group_size": 1000, "strategy": "concat"},
        fim={"rate": 0.0}, split_combined_tokens={"rate": 0.0},
    )
    assert run(tmp_path, config) == 0
    return tmp_path, config, corpus


def curated_texts(out: Path) -> dict[str, str]:
    rows = [r for f in sorted((out / "curated").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {r["id"]: r["text"] for r in rows}


def test_rows_have_seq_len_and_tokens_decode_to_the_curated_text(built):
    tmp_path, config, _ = built
    out = Path(config["output_dir"])
    ds = datasets.load_from_disk(str(out / "dataset"))
    seq_len = config["pack"]["seq_len"]
    assert len(ds) > 0 and all(len(ids) == seq_len for ids in ds["input_ids"])
    encoder = load_directory(str(out / "tokenizer"))
    stream = np.concatenate([piece for row in ds for piece in unpack_row(row)])
    documents = np.split(stream, np.flatnonzero(stream == encoder.eos_id) + 1)[:-1]
    decoded = Counter(encoder.decode(d[:-1]) for d in documents)
    assert decoded == Counter(curated_texts(out).values())
    manifest = json.loads((out / "dataset" / "manifest.json").read_text())
    assert manifest["rows"] == len(ds) and [s["file"] for s in manifest["shards"]] == ["data-00000.arrow", "data-00001.arrow"]  # one per source's unit
    assert manifest["tokens"] == sum(sum(r) for r in ds["document_lengths"])
    assert set(manifest["tokens_per_source"]) == {"web", "code"}
    assert not [str(p) for p in out.rglob("_tmp")] and not [str(p) for p in out.rglob("_work")]  # a finished run leaves no temp or work folder


def test_bad_records_are_dead_lettered_and_the_report_reconciles(built):
    _, config, corpus = built
    out = Path(config["output_dir"])
    dead = [json.loads(line) for f in (out / "dead_letter").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert sorted(d["line"] for d in dead) == [11, 21, 31]
    assert all(d["file"] == str(corpus["jsonl"]) for d in dead)
    report = json.loads((out / "report" / "report.json").read_text())
    web = dict(report["curate"]["sources"]["web"])
    assert web.pop("languages") == {"unknown": 60}  # language ID is off in this corpus's config
    assert web.pop("dropped_by_language") == {"unknown": {"exact_dedup/exact_duplicate": 1, "filter/too_short": 1, "near_dedup/near_duplicate": 2}}
    histogram = web.pop("length_histogram")
    assert sum(histogram["read"].values()) == 64 and sum(histogram["kept"].values()) == 60  # read counts documents, not dead letters
    assert web == {
        "read": 67, "kept": 60, "dead_lettered": 3, "boilerplate_lines_removed": 0, "repaired_fields": 0, "classifier_scores": {}, "dead_lettered_by_stage": {"read": 3}, "reconciles": True, "pii_redactions": {"email": 1},
        "dropped": {"exact_dedup/exact_duplicate": 1, "filter/too_short": 1, "near_dedup/near_duplicate": 2},
    }
    assert report["curate"]["sources"]["code"]["kept"] == 8
    drops = [r for f in (out / "drops").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert {(d["id"], d["reason"], d["detail"]) for d in drops} == {
        ("web/dup", "exact_duplicate", "web/d0"), ("web/tiny", "too_short", "9 chars < 20"),
        ("web/near1", "near_duplicate", "web/d1"), ("web/near2", "near_duplicate", "web/d2"),
    }
    assert report["curate"]["near_dedup"]["duplicate_of"] == {"web -> web": 2}
    assert "<EMAIL> for details." in curated_texts(out)["web/d5"]
    samples = json.loads((out / "report" / "drop_samples.json").read_text())
    assert [(s["stage"], s["reason"], [d["id"] for d in s["documents"]]) for s in samples] == [("filter", "too_short", ["web/tiny"])]


def rows_of(out: Path) -> Counter:
    ds = datasets.load_from_disk(str(out / "dataset"))
    return Counter((tuple(r["input_ids"]), tuple(r["document_lengths"]), tuple(r["sources"])) for r in ds)


def manifest_of(out: Path) -> dict:
    return json.loads((out / "dataset" / "manifest.json").read_text())


@pytest.mark.slow
def test_byte_range_units_keep_every_document_and_runners_agree_byte_for_byte(built):
    tmp_path, config, _ = built
    sharded = dict(config, output={"unit_mb": 0.004})  # the web JSONL is cut into byte ranges of ~4 KB
    in_memory, multi = tmp_path / "sharded_in_memory", tmp_path / "sharded_multi"
    assert run(tmp_path, dict(sharded, output_dir=str(in_memory))) == 0
    assert curated_texts(in_memory) == curated_texts(Path(config["output_dir"]))  # units change where documents lie, never which
    two_workers = {"runner": "FnApiRunner", "direct_running_mode": "multi_processing", "direct_num_workers": 2}
    assert run(tmp_path, dict(sharded, output_dir=str(multi), beam=two_workers)) == 0
    first, second = manifest_of(in_memory), manifest_of(multi)
    assert len(first["shards"]) > 4
    assert [s["sha256"] for s in first["shards"]] == [s["sha256"] for s in second["shards"]]
    assert first["tokenizer"]["sha256"] == second["tokenizer"]["sha256"]
    curated = lambda out: sorted((f.name, f.read_bytes()) for f in (out / "curated").glob("*.parquet"))  # noqa: E731
    assert curated(in_memory) == curated(multi)
    report = json.loads((in_memory / "report" / "report.json").read_text())["curate"]
    assert report["units"] == len(first["shards"]) and report["sources"]["web"]["read"] == 67


def test_error_budget_fails_the_run_after_writing_dead_letters(tmp_path, corpus, capsys):
    config = base_config(tmp_path, corpus["sources"], max_dead_letter_fraction=0.01)
    assert run(tmp_path, config) == 1
    assert "ErrorBudgetExceeded" in capsys.readouterr().err
    assert (tmp_path / "out" / "dead_letter" / "part-00000.jsonl").read_text().count("\n") == 3


def test_best_fit_with_fim_and_splitting_keeps_every_document_whole(built):
    tmp_path, config, _ = built
    out = tmp_path / "fim"
    fim_config = dict(config, output_dir=str(out), pack={"seq_len": 512, "group_size": 30, "strategy": "best_fit"},
                      fim={"rate": 0.5, "spm_rate": 0.5}, split_combined_tokens={"rate": 0.5})
    assert run(tmp_path, fim_config) == 0
    manifest = manifest_of(out)
    assert manifest["packing"]["documents_split"] == 0 and manifest["fim"]["psm"] > 0 and manifest["fim"]["spm"] > 0
    encoder = load_directory(str(out / "tokenizer"))
    texts = Counter()
    for row in datasets.load_from_disk(str(out / "dataset")):
        assert len(row["input_ids"]) == 512
        for piece in unpack_row(row):
            assert piece[-1] == encoder.eos_id  # whole documents only
            texts[document_text(encoder, piece.tolist())] += 1
    assert texts == Counter(curated_texts(out).values())


def test_sentencepiece_backend_builds_a_dataset_that_decodes(built):
    tmp_path, config, _ = built
    out = tmp_path / "spm"
    spm_config = dict(config, output_dir=str(out), tokenizer={"backend": "sentencepiece", "vocab_size": 600, "sample_bytes": 1_000_000},
                      pack={"seq_len": 512, "group_size": 30, "strategy": "best_fit"}, fim={"rate": 0.3})
    assert run(tmp_path, spm_config) == 0
    manifest = manifest_of(out)
    assert manifest["tokenizer"]["file"] == "tokenizer.model" and manifest["packing"]["documents_split"] == 0
    encoder = load_directory(str(out / "tokenizer"))
    texts = Counter(document_text(encoder, piece.tolist()) for row in datasets.load_from_disk(str(out / "dataset")) for piece in unpack_row(row))
    assert texts == Counter(curated_texts(out).values())


def test_mixing_in_tokens_is_exact_and_every_curated_document_is_accounted_for(built):
    tmp_path, config, _ = built
    out = tmp_path / "mixed"
    budget = 3000
    mixed_config = dict(config, output_dir=str(out), mix={"web": {"max_tokens": budget}, "code": {"epochs": 2}})
    assert run(tmp_path, mixed_config) == 0
    curated = curated_texts(out)
    assert json.loads((out / "report" / "report.json").read_text())["curate"]["sources"]["code"]["kept"] == 8  # curate does not mix
    manifest = json.loads((out / "dataset" / "manifest.json").read_text())
    mix = manifest["mix"]
    encoder = load_directory(str(out / "tokenizer"))
    tokens = {doc_id: len(encoder.encode(text)) + 1 for doc_id, text in curated.items()}  # + EOS; no FIM, no splits here
    code_tokens = sum(n for doc_id, n in tokens.items() if doc_id.startswith("code/"))
    assert mix["code"]["curated_tokens"] == code_tokens and mix["code"]["achieved_tokens"] == 2 * code_tokens  # epochs: exact
    largest_web = max(n for doc_id, n in tokens.items() if doc_id.startswith("web/"))
    assert abs(mix["web"]["achieved_tokens"] - budget) <= largest_web  # budget: within one document
    assert manifest["tokens_per_source"] == {"code": mix["code"]["achieved_tokens"], "web": mix["web"]["achieved_tokens"]}
    sampled_out = [r for f in sorted((out / "drops").glob("mix-part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert len(sampled_out) == mix["web"]["sampled_out"] > 0 and {r["stage"] for r in sampled_out} == {"mix"}
    ds = datasets.load_from_disk(str(out / "dataset"))
    stream = np.concatenate([piece for row in ds for piece in unpack_row(row)])
    in_dataset = Counter(encoder.decode(d[:-1]) for d in np.split(stream, np.flatnonzero(stream == encoder.eos_id) + 1)[:-1])
    dropped_ids = {r["id"] for r in sampled_out}
    for doc_id, text in curated.items():  # curated texts are unique (exact dedup)
        assert in_dataset[text] == (2 if doc_id.startswith("code/") else 0 if doc_id in dropped_ids else 1), doc_id
    assert sum(in_dataset.values()) == manifest["packing"]["documents"] == 2 * 8 + (60 - len(sampled_out))


def test_language_rows_show_a_starved_language():
    """The report's per-language table: kept share and the rules that dropped, per source and language."""
    from pipeline.report.counts import Kind, SourceSummary
    from pipeline.report.html import language_rows

    summary = SourceSummary()
    for kind, stage, reason, n in [(Kind.LANGUAGE, "en", "", 95), (Kind.LANGUAGE, "ja", "", 2), (Kind.LANGUAGE_DROPPED, "ja", "filter/fineweb_line_punct_ratio", 7),
                                   (Kind.LANGUAGE_DROPPED, "ja", "filter/gopher_stop_words", 1), (Kind.LANGUAGE_DROPPED, "en", "exact_dedup/exact_duplicate", 5)]:
        summary.add(kind, stage, reason, n)
    assert language_rows({"web": summary.to_dict()}) == [
        ["web", "en", "95", "5", "95.0%", "exact_dedup/exact_duplicate: 5"],
        ["web", "ja", "2", "8", "20.0%", "filter/fineweb_line_punct_ratio: 7, filter/gopher_stop_words: 1"]]


def test_html_report_has_the_funnel_and_renders_in_a_browser(built):
    import shutil
    import subprocess

    _, config, _ = built
    index = Path(config["output_dir"]) / "report" / "index.html"
    html = index.read_text()
    for section in ("Reconciliation", "Funnel per source", "Drop reasons", "Mixture (share of tokens)", "Packing", "<svg", "Kept and dropped per language"):
        assert section in html
    assert 'href="#samples-filter-too_short"' in html and 'id="samples-filter-too_short"' in html
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={index.parent / '_chromium'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", index.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "Funnel per source" in dom and dom.count("<rect") > 10
    shot = index.parent / "_chromium" / "report.png"
    subprocess.run([chromium, *flags, "--window-size=1100,1600", f"--screenshot={shot}", index.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000


def test_inspect_shows_manifest_rows_and_curated_counts(built, capsys):
    _, config, _ = built
    out = Path(config["output_dir"])
    assert main(["inspect", str(out / "dataset"), "--rows", "1"]) == 0
    shown = capsys.readouterr().out
    assert "rows × 128 tokens" in shown and "row 0: (" in shown and "║" in shown
    assert main(["inspect", str(out / "curated")]) == 0
    assert '"web": 60' in capsys.readouterr().out
    assert main(["inspect", str(out / "report")]) == 1


def test_rehydration_repeats_cluster_keepers_by_cluster_size_exactly(built):
    tmp_path, config, _ = built
    out = tmp_path / "rehydrated"
    assert run(tmp_path, dict(config, output_dir=str(out), mix_by="cluster_size", mix={"1": {"epochs": 1}, "2-4": {"epochs": 3}})) == 0
    rows = [r for f in sorted((out / "curated").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    sizes = {r["id"]: json.loads(r["meta"]).get("cluster_size", 1) for r in rows}
    assert sizes["web/d1"] == sizes["web/d2"] == 2 and "web/near1" not in sizes and sizes["web/d3"] == 1
    mix = manifest_of(out)["mix"]
    assert set(mix) == {"1", "2-4"} and mix["2-4"]["achieved_tokens"] == 3 * mix["2-4"]["curated_tokens"]
    assert mix["1"]["achieved_tokens"] == mix["1"]["curated_tokens"]
    encoder = load_directory(str(out / "tokenizer"))
    ds = datasets.load_from_disk(str(out / "dataset"))
    stream = np.concatenate([piece for row in ds for piece in unpack_row(row)])
    in_dataset = Counter(encoder.decode(d[:-1]) for d in np.split(stream, np.flatnonzero(stream == encoder.eos_id) + 1)[:-1])
    for r in rows:
        assert in_dataset[r["text"]] == (3 if sizes[r["id"]] == 2 else 1), r["id"]


def test_rehydration_buckets_are_validated():
    from pipeline.config import ConfigError, config_from_dict

    source = [{"name": "a", "paths": ["x"]}]
    with pytest.raises(ConfigError, match="mix.2-4 and mix.3-9 overlap"):
        config_from_dict({"sources": source, "mix_by": "cluster_size", "mix": {"2-4": {"epochs": 2}, "3-9": {"epochs": 1}}})
    with pytest.raises(ConfigError, match="mix.big: with mix_by: cluster_size a key is a size"):
        config_from_dict({"sources": source, "mix_by": "cluster_size", "mix": {"big": {"epochs": 2}}})
    assert config_from_dict({"sources": source, "mix_by": "cluster_size", "mix": {"1": {"epochs": 1}, "2-4": {"epochs": 3}, "101+": {"epochs": 0.5}}}).mix_by == "cluster_size"
