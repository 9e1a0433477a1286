"""Classifier quality and scoring speed on two collections this machine has.

Positives: technical prose (docstrings of the standard library, ``bench.corpus.prose_documents``);
negatives: licence and copyright texts (``/usr/share/doc/*/copyright``, cut into ~250-word
documents). Each collection is split in halves by content hash: ``corpusmill classifier train``
learns on one half (with its own 10% held out for the card), the other half is scored. Prints
precision, recall, F1 at 0.5, ROC-AUC and scoring MB/s on one core.

Then one iterative recall run (``corpusmill classifier recall``): the seed is a tenth of the
technical training half, the negatives the licence training half, and the pool the other halves
spread over 20 technical and 20 licence "domains"; it prints each round's counts.

    python bench/classifier_quality.py [--docs 4000] [--train-positives 250 --train-negatives 540]
"""
from __future__ import annotations

import argparse
import glob
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import prose_documents  # noqa: E402
from pipeline.curate.classify import Classifier, binary_metrics, roc_auc, train_classifier  # noqa: E402
from pipeline.records import content_hash, stable_fraction  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def licence_documents(limit: int, words: int = 250) -> list[str]:
    docs: list[str] = []
    for path in sorted(glob.glob("/usr/share/doc/*/copyright")):
        tokens = Path(path).read_text(encoding="utf-8", errors="replace").split()
        docs += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens) - words // 2, words)]
        if len(docs) >= limit:
            break
    return docs[:limit]


def halves(texts: list[str]) -> tuple[list[str], list[str]]:
    first = [stable_fraction(0, "half", content_hash(t)) < 0.5 for t in texts]
    return [t for t, f in zip(texts, first) if f], [t for t, f in zip(texts, first) if not f]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=4000, help="documents per collection")
    parser.add_argument("--train-positives", type=int, help="train on at most this many positives (a small seed set)")
    parser.add_argument("--train-negatives", type=int, help="train on at most this many negatives")
    args = parser.parse_args()
    technical, licences = prose_documents(args.docs), licence_documents(args.docs)
    (tech_train, tech_test), (lic_train, lic_test) = halves(technical), halves(licences)
    tech_train, lic_train = tech_train[: args.train_positives], lic_train[: args.train_negatives]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, texts in (("technical", tech_train), ("licences", lic_train)):
            paths[name] = f"{tmp}/{name}.jsonl"
            Path(paths[name]).write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
        started = time.monotonic()
        result = train_classifier([paths["technical"]], [paths["licences"]], f"{tmp}/clf", label="technical")
        trained = time.monotonic() - started
        classifier = Classifier(f"{tmp}/clf")
        test = tech_test + lic_test
        truth = np.array([True] * len(tech_test) + [False] * len(lic_test))
        classifier.score(test[:10])  # load once
        started = time.perf_counter()
        scores = classifier.score(test)
        seconds = time.perf_counter() - started
    m = binary_metrics(scores, truth)
    precision, recall, f1 = m["precision"], m["recall"], m["f1"]
    megabytes = sum(len(t.encode()) for t in test) / 1e6
    print(f"train: {len(tech_train):,} technical vs {len(lic_train):,} licence documents in {trained:.1f}s; card: {result.card.get('metrics')}")
    print(f"other half: {len(tech_test):,} + {len(lic_test):,} documents ({megabytes:.1f} MB)")
    print(f"precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}  ROC-AUC {roc_auc(scores, truth):.4f}  scoring {megabytes / seconds:.1f} MB/s (1 core)")
    recall_run(tech_train, lic_train, tech_test, lic_test)


def recall_run(tech_train: list[str], lic_train: list[str], tech_test: list[str], lic_test: list[str]) -> None:
    from pipeline.config import config_from_dict
    from pipeline.curate.classify import iterative_recall

    with tempfile.TemporaryDirectory() as tmp:
        Path(f"{tmp}/seed.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in tech_train[: len(tech_train) // 10]))
        Path(f"{tmp}/negative.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lic_train))
        pool = [(f"https://docs{i % 20}.example/{i}", t) for i, t in enumerate(tech_test)] + [(f"https://legal{i % 20}.example/{i}", t) for i, t in enumerate(lic_test)]
        Path(f"{tmp}/pool.jsonl").write_text("".join(json.dumps({"id": str(i), "url": u, "text": t}) + "\n" for i, (u, t) in enumerate(pool)))
        config = config_from_dict({"output_dir": tmp, "sources": [{"name": "pool", "paths": [f"{tmp}/pool.jsonl"], "id_field": "id"}],
                                   "recall": {"positive": [f"{tmp}/seed.jsonl"], "negative": [f"{tmp}/negative.jsonl"], "label": "technical", "rounds": 3,
                                              "group_share": 0.5}})
        started = time.monotonic()
        report = iterative_recall(config)
    print(f"recall: pool {len(tech_test):,} technical + {len(lic_test):,} licence pages on 40 domains, seed {len(tech_train) // 10:,} ({time.monotonic() - started:.0f}s)")
    for r in report["rounds"]:
        print(f"  round {r['round']}: positives added so far {r['positives_added_before']:,}; recalled {r['recalled']:,}; domains marked {r['groups_marked']}; "
              f"pages added {r['documents_added']:,}; held-out F1 {r['classifier'].get('f1')}")


if __name__ == "__main__":
    print_installed_set()
    main()
