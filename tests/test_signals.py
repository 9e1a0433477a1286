"""Signals (every document's measured values, kept and dropped) and the giant-cluster guard, on real curate runs."""
from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.config import load_config
from tests.conftest import base_config, paragraph_docs, write_jsonl


def curate(tmp_path, sources, **overrides):
    from jobs.curate import run_curate

    path = tmp_path / "config.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(base_config(tmp_path, sources, **overrides)))
    return run_curate(load_config(str(path)))


def signal_rows(tmp_path):
    return [row for f in sorted((tmp_path / "out" / "signals").glob("part-*.parquet")) for row in pq.read_table(f).to_pylist()]


def test_signals_hold_every_document_read_with_its_verdict_values_and_dedup(tmp_path, corpus):
    config = {"filters": {**base_config(tmp_path, [])["filters"], "gopher_quality": {"enabled": True, "min_doc_words": 60, "min_stop_words": 0}}}
    report = curate(tmp_path, corpus["sources"], **config)
    rows = signal_rows(tmp_path)
    by_id = {r["id"]: r for r in rows}
    for name, entry in report["sources"].items():
        mine = [r for r in rows if r["source"] == name]
        assert len(mine) == entry["read"] - entry["dead_lettered"] == len({r["id"] for r in mine})
        assert Counter(r["stage"] for r in mine)["kept"] == entry["kept"]
        assert Counter(f"{r['stage']}/{r['reason']}" for r in mine if r["stage"] != "kept") == Counter(entry["dropped"])
    assert report["signals"]["rows"] == len(rows) and report["signals"]["bytes"] > 0

    tiny = by_id["web/tiny"]
    assert (tiny["stage"], tiny["reason"], tiny["min_length_chars"]) == ("filter", "too_short", 9)
    assert tiny["gopher_quality_words"] is None  # not reached: dropped by an earlier rule
    words = len(corpus["docs"][3].split())
    d3 = by_id["web/d3"]
    assert d3["gopher_quality_words"] == words and (d3["stage"] == "kept") == (words >= 60)
    assert d3["cluster_size"] == 1 and d3["cluster_keeper"] is None and d3["duplicate_of"] is None
    assert (by_id["web/dup"]["stage"], by_id["web/dup"]["duplicate_of"]) == ("exact_dedup", "web/d0")
    near, keeper = by_id["web/near1"], by_id["web/d1"]
    if keeper["stage"] == "kept":  # both long enough for the Gopher word count
        assert (near["stage"], near["duplicate_of"], near["cluster_keeper"], near["cluster_size"]) == ("near_dedup", "web/d1", "web/d1", 2)
        assert (keeper["cluster_keeper"], keeper["cluster_size"]) == ("web/d1", 2)
    code = [r for r in rows if r["source"] == "code"]
    assert code and all(r["code_alnum_fraction"] is not None and "gopher_quality_words" not in r for r in code)


def test_signals_off_writes_none(tmp_path, corpus):
    report = curate(tmp_path, corpus["sources"], output={"unit_mb": 1, "signals": False})
    assert "signals" not in report and not (tmp_path / "out" / "signals").exists()


def chain_documents(links: int, length: int = 200, step: int = 10) -> list[dict[str, str]]:
    """Documents A~B~C~…: each a window of ``length`` distinct words, ``step`` words after the
    previous one (neighbours' 5-gram Jaccard (L-s-4)/(L+s-4) = 0.90); windows more than 22 words
    apart are under 0.8, and the ends share nothing."""
    words = [f"w{i}" for i in range(length + step * links)]
    return [{"id": f"c{k:02d}", "text": " ".join(words[k * step : k * step + length]) + "."} for k in range(links)]


@pytest.mark.slow
def test_a_chained_giant_cluster_keeps_the_members_far_from_its_keeper(tmp_path):
    jsonl = write_jsonl(tmp_path / "in" / "chain.jsonl", chain_documents(26))
    sources = [{"name": "chain", "paths": [str(jsonl)], "format": "jsonl", "id_field": "id"}]
    unguarded = curate(tmp_path / "unguarded", sources, dedup={"minhash": {"max_cluster": 1000, "max_cluster_share": 1.0}})
    assert unguarded["sources"]["chain"]["kept"] == 1  # one transitive cluster: A to Z removed for A
    by_size = {"max_cluster": 10, "max_cluster_share": 1.0}
    by_share = {"max_cluster": 1000}  # the default share (0.05): 26 documents are the whole source
    for name, guard in (("by_size", by_size), ("by_share", by_share)):
        report = curate(tmp_path / name, sources, dedup={"minhash": guard})
        kept = {r["id"].removeprefix("chain/") for r in signal_rows(tmp_path / name) if r["stage"] == "kept"}
        assert kept == {"c00"} | {f"c{k:02d}" for k in range(3, 26)}, name  # c01, c02 (offset ≤ 20 words) are near c00
        assert report["near_dedup"]["giant_clusters"] == [{"keeper": "chain/c00", "size": 26, "removed": 2, "kept": 23}]
        samples = json.loads((tmp_path / name / "out" / "report" / "near_duplicate_samples.json").read_text())
        assert any(s["keeper"] == "chain/c00" for s in samples)
    crowd = write_jsonl(tmp_path / "in" / "crowd.jsonl", [{"id": f"d{i}", "text": t} for i, t in enumerate(paragraph_docs(600, seed=11))])
    sources[0]["paths"].append(str(crowd))  # 26 of 626 documents: under 5% of the source, so the chain goes as components found it
    diluted = curate(tmp_path / "diluted", sources, dedup={"minhash": by_share})
    assert diluted["sources"]["chain"]["kept"] == 601 and diluted["near_dedup"]["giant_clusters"] == []


def run_cli(tmp_path, sources, *command, **overrides):
    from pipeline.cli import main

    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base_config(tmp_path, sources, **overrides)))
    return main([*command[:1], str(path), "--quiet", *command[1:]])


def written(out):
    import hashlib

    files = [*out.glob("curated/part-*.parquet"), *out.glob("drops/part-*.parquet"), *out.glob("signals/part-*.parquet"), *out.glob("dead_letter/*.jsonl")]
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files)}


@pytest.mark.slow
def test_reselect_writes_what_a_full_rerun_with_tighter_thresholds_writes(tmp_path, corpus, monkeypatch):
    base = base_config(tmp_path, [])["filters"]
    loose = {**base, "min_length": {"min_chars": 20}, "gopher_quality": {"enabled": True, "min_doc_words": 30, "min_stop_words": 0}}
    tight = {**base, "min_length": {"min_chars": 300}, "gopher_quality": {"enabled": True, "min_doc_words": 60, "min_stop_words": 0}}
    assert run_cli(tmp_path / "a", corpus["sources"], "curate", filters=loose, output={"unit_mb": 1, "keep_work": True}) == 0
    assert run_cli(tmp_path / "full", corpus["sources"], "curate", filters=tight) == 0
    for path in (tmp_path / "in").rglob("*.*"):  # same names and sizes, other bytes: reselect must not read the input
        path.write_bytes(b"#" * path.stat().st_size)
    assert run_cli(tmp_path / "re", corpus["sources"], "reselect", "--from", str(tmp_path / "a" / "out"), filters=tight) == 0
    full, re = written(tmp_path / "full" / "out"), written(tmp_path / "re" / "out")
    assert full == re and any(name.startswith("signals/") for name in full)
    # twice: a reselected run's units refer to the first run's spill, and a reselect from it composes the rows
    middle = {**base, "min_length": {"min_chars": 150}, "gopher_quality": {"enabled": True, "min_doc_words": 45, "min_stop_words": 0}}
    monkeypatch.chdir(tmp_path)  # a relative --from is recorded absolute: the next reselect may run from elsewhere
    assert run_cli(tmp_path / "mid", corpus["sources"], "reselect", "--from", "a/out", filters=middle, output={"unit_mb": 1, "keep_work": True}) == 0
    monkeypatch.chdir(tmp_path / "in")
    references = sorted((tmp_path / "mid" / "out" / "curated" / "_work").glob("unit-*.spill-from.json"))
    assert references and not list((tmp_path / "mid" / "out" / "curated" / "_work").glob("unit-*.docs.parquet"))
    assert json.loads(references[0].read_text())["work_dir"] == str(tmp_path / "a" / "out" / "curated" / "_work")
    assert run_cli(tmp_path / "re2", corpus["sources"], "reselect", "--from", str(tmp_path / "mid" / "out"), filters=tight) == 0
    assert written(tmp_path / "re2" / "out") == full
    kept = [json.loads((tmp_path / run / "out" / "report" / "report.json").read_text())["curate"]["sources"]["web"]["kept"] for run in ("a", "mid", "re2")]
    assert kept[0] > kept[1] > kept[2], kept
    reports = [json.loads((tmp_path / run / "out" / "report" / "report.json").read_text())["curate"] for run in ("a", "full", "re")]
    assert reports[1]["sources"] == reports[2]["sources"] and reports[1]["sources"]["web"]["kept"] < reports[0]["sources"]["web"]["kept"]
    assert reports[1]["near_dedup"]["cluster_sizes"] == reports[2]["near_dedup"]["cluster_sizes"]


def test_reselect_refuses_what_stored_signals_cannot_decide(tmp_path, corpus, capsys, monkeypatch):
    base = base_config(tmp_path, [])["filters"]
    filters = {**base, "min_length": {"min_chars": 200}}
    assert run_cli(tmp_path / "a", corpus["sources"], "curate", filters=filters, output={"unit_mb": 1, "keep_work": True}) == 0
    earlier = str(tmp_path / "a" / "out")
    monkeypatch.chdir(tmp_path / "a")  # "out" here is the earlier run's folder: never overwritten
    assert run_cli(tmp_path / "a", corpus["sources"], "reselect", "--from", "out", filters=filters) != 0
    assert "give an output_dir other than" in capsys.readouterr().err
    assert run_cli(tmp_path / "dedup", corpus["sources"], "reselect", "--from", earlier, filters=filters, dedup={"minhash": {"threshold": 0.7}}) != 0
    assert "cannot decide a change of dedup.minhash.threshold" in capsys.readouterr().err
    assert run_cli(tmp_path / "looser", corpus["sources"], "reselect", "--from", earlier, filters={**base, "min_length": {"min_chars": 20}}) != 0
    assert "filter min_length removed it and now lets it pass" in capsys.readouterr().err
