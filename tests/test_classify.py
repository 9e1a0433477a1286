"""Classifiers: fastText training with held-out metrics, deterministic, and scoring in the filter chain."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.cli import main
from pipeline.curate.classify import Classifier, roc_auc, train_classifier
from tests.conftest import base_config

MATH = "theorem proof lemma integral derivative matrix eigenvalue polynomial equation prime group ring field vector limit series".split()
COOKING = "recipe oven flour butter sugar onion garlic simmer bake stir salt pepper sauce dough fry boil".split()
COMMON = "the a of and to in is that it for with as on this be by".split()
SPORTS = "match goal team player season league coach score referee stadium transfer cup final striker keeper".split()


def documents(vocabulary: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(vocabulary if rng.random() < 0.4 else COMMON) for _ in range(rng.randint(30, 80))) for _ in range(n)]


def write_jsonl(path: Path, texts: list[str]) -> str:
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return str(path)


def test_roc_auc_counts_ties_as_half():
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True])) == 0.75
    assert roc_auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5


@pytest.mark.slow
def test_training_writes_a_model_and_a_card_with_held_out_metrics_and_is_deterministic(tmp_path):
    math = write_jsonl(tmp_path / "math.jsonl", documents(MATH, 400, 1))
    cooking = write_jsonl(tmp_path / "cooking.jsonl", documents(COOKING, 400, 2))
    first = train_classifier([math], [cooking], str(tmp_path / "clf"), label="math", seed=3)
    card = json.loads((tmp_path / "clf" / "card.json").read_text())
    assert card["label"] == "math" and sum(card[split]["positive"] for split in ("train", "validation", "holdout")) == 400
    assert card["metrics"]["f1"] > 0.95 and card["metrics"]["roc_auc"] > 0.98
    assert card["calibration"]["method"] == "platt" and {"epoch", "lr"} <= set(card["fasttext"]) and 0 < card["metrics"]["best_f1_threshold"] < 1
    second = train_classifier([math], [cooking], str(tmp_path / "clf2"), label="math", seed=3)
    assert (tmp_path / "clf" / "model.bin").read_bytes() == (tmp_path / "clf2" / "model.bin").read_bytes() and second.card == first.card
    scores = Classifier(str(tmp_path / "clf")).score([documents(MATH, 1, 9)[0], documents(COOKING, 1, 9)[0]])
    assert scores[0] > 0.9 > 0.1 > scores[1]


@pytest.mark.slow
def test_the_classifier_filter_tags_or_drops_in_a_run(tmp_path):
    train_classifier([write_jsonl(tmp_path / "m.jsonl", documents(MATH, 300, 1))], [write_jsonl(tmp_path / "c.jsonl", documents(COOKING, 300, 2))],
                     str(tmp_path / "clf"), label="math")
    mixed = documents(MATH, 20, 5) + documents(COOKING, 20, 6)
    web = write_jsonl(tmp_path / "web.jsonl", mixed)
    filters = {**base_config(tmp_path, [])["filters"], "classifiers": [{"name": "math", "model": str(tmp_path / "clf"), "min_score": 0.5}]}
    config = base_config(tmp_path, [{"name": "web", "paths": [web], "id_field": "id"}], filters=filters, dedup={"exact": True, "minhash": {"enabled": False}})
    path = tmp_path / "clf.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["curate", str(path), "--quiet"]) == 0
    out = Path(config["output_dir"])
    kept = [r for f in (out / "curated").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    dropped = [r for f in (out / "drops").glob("part-*.parquet") for r in pq.read_table(f).to_pylist()]
    assert len(kept) == 20 and all(json.loads(r["meta"])["scores"]["math"] >= 0.5 and json.loads(r["meta"])["labels"]["math"] == "math" for r in kept)
    assert len(dropped) == 20 and {d["reason"] for d in dropped} == {"classifier_math"}
    report = json.loads((out / "report" / "report.json").read_text())["curate"]["sources"]["web"]
    assert sum(report["classifier_scores"].values()) == 40 and report["classifier_scores"]["math/0.9"] >= 15  # every scored document, in tenths
    samples = json.loads((out / "report" / "drop_samples.json").read_text())
    (math_samples,) = [s["documents"] for s in samples if s["stage"] == "filter" and s["reason"] == "classifier_math"]
    shown = sorted(float(d["detail"].split()[0]) for d in math_samples)
    assert shown == sorted(float(d["detail"].split()[0]) for d in dropped)[-len(shown):]  # the borderline ones
    (above,) = [s["documents"] for s in samples if s["stage"] == "kept_borderline"]
    kept_scores = sorted(json.loads(r["meta"])["scores"]["math"] for r in kept)
    assert sorted(float(d["detail"].split()[0]) for d in above) == kept_scores[: len(above)]  # and the lowest kept
    assert "Classifier scores" in (out / "report" / "index.html").read_text()


def test_a_missing_classifier_fails_before_any_work(tmp_path):
    web = write_jsonl(tmp_path / "web.jsonl", documents(MATH, 3, 1))
    filters = {**base_config(tmp_path, [])["filters"], "classifiers": [{"name": "math", "model": str(tmp_path / "nowhere")}]}
    path = tmp_path / "missing.yaml"
    path.write_text(yaml.safe_dump(base_config(tmp_path, [{"name": "web", "paths": [web]}], filters=filters)))
    assert main(["curate", str(path), "--quiet"]) != 0
    assert not (tmp_path / "out" / "curated").exists()


@pytest.mark.slow
def test_iterative_recall_marks_domains_adds_their_pages_and_is_deterministic(tmp_path):
    """Seed math vs random pages (cooking, sports); the pool holds a math forum (math words plus forum chatter), a recipe
    site and a sports site. The forum is recalled and marked; its pages join the positives, and the
    next round recalls the forum's pages more surely, marking nothing new."""
    from pipeline.config import config_from_dict
    from pipeline.curate.classify import iterative_recall

    seed = write_jsonl(tmp_path / "seed.jsonl", documents(MATH, 200, 1))
    negative = write_jsonl(tmp_path / "negative.jsonl", documents(COOKING, 150, 2) + documents(SPORTS, 150, 7))  # "random pages"
    chatter = "forum thread reply posted user quote thanks help question answer".split()
    pool = ([{"url": f"https://forum.mathland.org/t/{i}", "text": t} for i, t in enumerate(documents(MATH + chatter, 40, 3))]
            + [{"url": f"https://www.recipes.example/{i}", "text": t} for i, t in enumerate(documents(COOKING, 40, 4))]
            + [{"url": f"https://news.example/{i}", "text": t} for i, t in enumerate(documents(SPORTS, 40, 5))])
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps({"id": f"p{i}", **d}) + "\n" for i, d in enumerate(pool)))
    config = config_from_dict({"output_dir": str(tmp_path / "out"), "sources": [{"name": "crawl", "paths": [str(tmp_path / "pool.jsonl")], "id_field": "id"}],
                               "recall": {"positive": [seed], "negative": [negative], "label": "math", "rounds": 2, "group_share": 0.2}})
    report = iterative_recall(config)
    first, second = report["rounds"]
    assert first["marked_groups"] == ["forum.mathland.org"] and first["documents_added"] == 40 and second["documents_added"] == 0
    assert second["recalled"] >= first["recalled"] >= 20
    recalled = [json.loads(line) for line in (tmp_path / "out" / "classifiers" / "recall" / "recalled.jsonl").read_text().splitlines()]
    assert {r["group"] for r in recalled} == {"forum.mathland.org"} and all(r["score"] >= 0.5 for r in recalled)
    assert (tmp_path / "out" / "classifiers" / "recall" / "round-2" / "model.bin").exists()
    assert iterative_recall(config)["rounds"] == report["rounds"]  # deterministic


def test_platt_calibration_stays_finite_and_ordered_on_separable_scores():
    """A validation split the raw model separates perfectly (the usual case with few, distinct
    documents) keeps a finite fit: calibrated scores stay in (0, 1) and keep the raw order."""
    import numpy as np

    from pipeline.curate.classify import fit_platt, platt

    raw = np.array([0.999, 0.99, 0.97, 0.9, 0.4, 0.2, 0.05, 0.01, 0.001])
    truth = np.array([True, True, True, True, False, False, False, False, False])
    a, b = fit_platt(raw, truth)
    assert 0 < a < 10 and abs(b) < 10
    calibrated = platt(raw, a, b)
    assert np.all(np.diff(calibrated) < 0) and 0 < calibrated.min() and calibrated.max() < 1
    assert calibrated[3] > 0.5 > calibrated[4]


def test_a_weak_classifier_warns_with_its_figures():
    from pipeline.curate.classify import weakness

    card = {"label": "math", "train": {"positive": 20, "negative": 40},
            "metrics": {"precision": 0.9, "recall": 0.3, "f1": 0.45, "roc_auc": 0.97, "best_f1": 0.8, "best_f1_threshold": 0.21}}
    message = weakness(card)
    assert message is not None and "F1 0.45 at 0.5" in message and "recall 0.3" in message and "20 positive" in message
    assert weakness({**card, "metrics": {**card["metrics"], "f1": 0.93}}) is None
