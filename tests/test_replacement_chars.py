"""The replacement_chars rule filter: one module in pipeline/curate/filters/rules/, found by the
registry with no other edit; its config block, chain place, drop reason, signals and explain line."""
from __future__ import annotations

import pyarrow.parquet as pq
import yaml

from pipeline.config import config_from_dict
from pipeline.curate.filters.chain import SourceFilterChains, explain
from pipeline.curate.filters.rules.replacement_chars import ReplacementChars
from pipeline.records import Document, Drop
from tests.conftest import base_config, paragraph_docs, write_jsonl


def test_measures_the_share_of_replacement_characters_and_drops_above_the_threshold():
    check = ReplacementChars(max_fraction=0.01)
    clean, broken = "caf\u00e9 au lait " * 20, "caf\ufffd au lait " * 20
    assert check.measure(Document("t/0", clean, "t", {})) == {"fraction": 0.0}
    assert check(Document("t/0", clean, "t", {})) is None
    assert abs(check.measure(Document("t/1", broken, "t", {}))["fraction"] - 1 / 13) < 1e-12  # one in each 13 characters
    assert check(Document("t/1", broken, "t", {})).reason == "too_many_replacement_chars"
    assert check(Document("t/2", "", "t", {})) is None  # an empty text has no share to measure


def test_its_config_block_chain_place_and_explain_line_come_from_the_registry():
    sources = [{"name": "web", "paths": ["x"]}, {"name": "code", "paths": ["y"], "kind": "code"}]
    assert not config_from_dict({"sources": sources}).filters.replacement_chars.enabled  # off by default
    config = config_from_dict({"sources": sources, "filters": {"replacement_chars": {"enabled": True, "max_fraction": 0.05}}})
    chains = SourceFilterChains.from_config(config)
    for source in ("web", "code"):
        names = [type(f).__name__ for f in chains.chains[source]]
        assert names[names.index("MinLength") + 1] == "ReplacementChars"  # position 15: after min_length, before language / code rules
    broken = Document("web/1", " ".join(paragraph_docs(1)[0].replace("a", "\ufffd").split()), "web", {})
    dropped = chains(broken)
    assert isinstance(dropped, Drop) and dropped.reason == "too_many_replacement_chars"
    rows = explain(chains.chains["web"], broken)
    assert rows[1]["filter"] == "ReplacementChars" and rows[1]["thresholds"] == {"max_fraction": 0.05} and rows[1]["verdict"].startswith("DROP")


def test_a_curate_with_it_enabled_counts_its_drops_and_writes_its_signal(tmp_path):
    from pipeline.cli import main

    docs = paragraph_docs(30)
    records = [{"id": f"d{i}", "text": t.replace("e", "\ufffd") if i % 3 == 0 else t} for i, t in enumerate(docs)]
    write_jsonl(tmp_path / "in" / "web.jsonl", records)
    config = base_config(tmp_path, [{"name": "web", "paths": [str(tmp_path / "in" / "web.jsonl")], "id_field": "id"}])
    config["filters"]["replacement_chars"] = {"enabled": True}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["curate", str(tmp_path / "c.yaml"), "--quiet"]) == 0
    report = yaml.safe_load((tmp_path / "out" / "report" / "report.json").read_text())["curate"]["sources"]["web"]
    assert report["dropped"] == {"filter/too_many_replacement_chars": 10} and report["kept"] == 20 and report["reconciles"]
    signals = pq.read_table(tmp_path / "out" / "signals" / "part-00000.parquet").to_pylist()
    assert sorted(r["filter"] for r in signals if r["filter"]) == ["replacement_chars"] * 10
    assert all((r["replacement_chars_fraction"] > 0.001) == (r["filter"] == "replacement_chars") for r in signals)
