"""Quality/domain classifiers: fastText supervised models trained on positives vs negatives.

``train_classifier`` reads texts from any input corpusmill reads (JSONL, Parquet, Arrow, text files,
``curated/`` directories) and splits them by ``hash(seed, text)``: a held-out share for the card,
a validation share that picks the epochs and learning rate (a small grid, by log-loss) and fits the
calibration, the rest for training. It trains with one thread and a fixed seed (the same inputs give
the same model) and writes ``model.bin`` and ``card.json`` (label, sizes, the chosen parameters, the
calibration, and on the held-out split precision/recall/F1 at 0.5, the threshold with the best F1,
ROC-AUC; the command). ``Classifier`` scores texts with the calibrated probability of the label
(Platt scaling of fastText's probability), so 0.5 means as likely positive as not.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline.config import Config, SourceConfig
from pipeline.io.curated import read_curated_file
from pipeline.io.files import list_files, read_bytes, write_bytes, write_json
from pipeline.read.formats import match_source_files, read_piece
from pipeline.read.units import Piece
from pipeline.records import Document, content_hash, stable_fraction

OTHER = "other"
FASTTEXT_PARAMS = {"wordNgrams": 2, "dim": 64, "bucket": 2_000_000, "minCount": 1, "loss": "softmax", "thread": 1, "verbose": 0}
SEARCH = [{"epoch": epoch, "lr": lr} for epoch in (10, 30) for lr in (0.1, 0.5)]  # tried on the validation split (lr 1.0 can diverge)
VALIDATION = 0.2  # share of the non-held-out documents that picks the parameters and fits the calibration
WARN_F1 = 0.8  # held-out F1 at 0.5 under this: training warns


def _format_of(path: str) -> str:
    name = path.lower()
    for ending, fmt in ((".jsonl", "jsonl"), (".jsonl.gz", "jsonl"), (".jsonl.zst", "jsonl"), (".parquet", "parquet"), (".arrow", "arrow")):
        if name.endswith(ending):
            return fmt
    return "text"


def read_texts(paths: Sequence[str], text_field: str = "text") -> Iterator[str]:
    """The document texts of files, globs or ``curated/`` directories, in path order."""
    for path in paths:
        curated = list_files(FileSystems.join(path, "part-*.parquet"))  # a glob: on an object store a folder does not "exist"
        if curated:
            for shard in curated:
                yield from (d.text for d in read_curated_file(shard))
            continue
        source = SourceConfig("input", [path], format=_format_of(path), text_field=text_field)  # type: ignore[arg-type]
        for file, base, size in match_source_files(source):
            for record in read_piece(source, Piece(file, base, size)):
                if isinstance(record, Document):
                    yield record.text


def one_line(text: str) -> str:
    """fastText reads one example per line."""
    return " ".join(text.split())


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


class Classifier:
    """A trained model: ``score(texts)`` is the probability of its label. Loaded once per process."""

    _loaded: dict[str, Any] = {}

    def __init__(self, directory: str):
        self.directory = directory
        self.card = json.loads(read_bytes(FileSystems.join(directory, "card.json")))
        self.label = self.card["label"]

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory, "card": self.card, "label": self.label}

    def _model(self) -> Any:
        model = Classifier._loaded.get(self.directory)
        if model is None:
            import fasttext

            with tempfile.TemporaryDirectory() as tmp:  # fastText loads local files only
                local = os.path.join(tmp, "model.bin")
                with open(local, "wb") as f:
                    f.write(read_bytes(FileSystems.join(self.directory, "model.bin")))
                model = Classifier._loaded[self.directory] = fasttext.load_model(local)
        return model

    def raw_score(self, texts: Sequence[str]) -> np.ndarray:
        """fastText's probability of the label."""
        return label_probability(self._model(), texts, self.label)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """The calibrated probability of the label (fastText's, where the card holds no calibration)."""
        raw = self.raw_score(texts)
        calibration = self.card.get("calibration")
        return raw if calibration is None else platt(raw, calibration["a"], calibration["b"])


def label_probability(model: Any, texts: Sequence[str], label: str) -> np.ndarray:
    labels, probabilities = model.predict([one_line(t) for t in texts], k=2)
    out = np.zeros(len(texts))
    for i, (names, probs) in enumerate(zip(labels, probabilities, strict=True)):
        for name, p in zip(names, probs, strict=True):
            if name == f"__label__{label}":
                out[i] = min(float(p), 1.0)
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -z))  # no overflow at any z


def platt(raw: np.ndarray, a: float, b: float) -> np.ndarray:
    """Platt scaling on the logit of the raw probability: ``sigmoid(a * logit(raw) + b)``."""
    return _sigmoid(a * _logit(raw) + b)


def fit_platt(raw: np.ndarray, truth: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """(a, b) maximising the likelihood of ``truth`` with Platt's smoothed targets and a weak pull
    towards the identity (a=1, b=0), so perfectly separated validation scores keep a finite fit;
    Newton steps, halved until the objective improves."""
    x = _logit(raw)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    target = np.where(truth, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    ridge = 1e-2

    def objective(a: float, b: float) -> float:
        z = a * x + b
        return float(np.sum(np.logaddexp(0, z) - target * z) + ridge * ((a - 1) ** 2 + b**2))

    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = _sigmoid(a * x + b)
        gradient = np.array([np.sum((p - target) * x) + 2 * ridge * (a - 1), np.sum(p - target) + 2 * ridge * b])
        w = p * (1 - p)
        hessian = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]]) + 2 * ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        scale, current = 1.0, objective(a, b)
        while scale > 1e-6 and objective(a - scale * step[0], b - scale * step[1]) > current:
            scale /= 2
        a, b = a - scale * step[0], b - scale * step[1]
        if np.abs(scale * step).max() < 1e-9:
            break
    return float(a), float(b)


def log_loss(probabilities: np.ndarray, truth: np.ndarray) -> float:
    p = np.clip(probabilities, 1e-6, 1 - 1e-6)
    return float(-np.mean(np.where(truth, np.log(p), np.log(1 - p))))


def binary_metrics(scores: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    predicted = scores >= threshold
    tp = int((predicted & truth).sum())
    precision, recall = tp / max(int(predicted.sum()), 1), tp / max(int(truth.sum()), 1)
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0}


def best_f1_threshold(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) of the score threshold with the highest F1 on these documents."""
    best = (0.5, binary_metrics(scores, truth)["f1"])
    for threshold in np.unique(np.round(scores, 4)):
        f1 = binary_metrics(scores, truth, float(threshold))["f1"]
        if f1 > best[1]:
            best = (float(threshold), f1)
    return best


@dataclass(frozen=True)
class TrainingResult:
    directory: str
    card: dict[str, Any]


def train_classifier(positive: Sequence[str], negative: Sequence[str], output: str, label: str = "positive", text_field: str = "text",
                     holdout: float = 0.1, seed: int = 0, command: str | None = None) -> TrainingResult:
    """Trains ``label`` vs ``other`` and writes ``model.bin`` and ``card.json`` to ``output``."""
    import fasttext

    examples = [(label, t) for t in read_texts(positive, text_field)] + [(OTHER, t) for t in read_texts(negative, text_field)]
    if not any(lab == label for lab, _ in examples) or not any(lab == OTHER for lab, _ in examples):
        raise ValueError("classifier training needs positive and negative documents")
    split = ["holdout" if stable_fraction(seed, "holdout", content_hash(t)) < holdout
             else "validation" if stable_fraction(seed, "validation", content_hash(t)) < VALIDATION else "train" for _, t in examples]
    part = {name: [(lab, t) for (lab, t), s in zip(examples, split, strict=True) if s == name] for name in ("train", "validation", "holdout")}
    if not part["validation"]:  # too few documents to spare any: validate on the training set
        part["validation"] = part["train"]
    truth = {name: np.array([lab == label for lab, _ in rows]) for name, rows in part.items()}
    with tempfile.TemporaryDirectory() as tmp:
        train_path = os.path.join(tmp, "train.txt")
        with open(train_path, "w", encoding="utf-8") as f:
            for lab, text in part["train"]:
                f.write(f"__label__{lab} {one_line(text)}\n")
        trials = []
        for params in SEARCH:
            model = fasttext.train_supervised(input=train_path, seed=seed, **FASTTEXT_PARAMS, **params)
            raw = label_probability(model, [t for _, t in part["validation"]], label)
            trials.append((log_loss(raw, truth["validation"]), params, model, raw))
        loss, chosen, model, raw = min(trials, key=lambda trial: trial[0])
        a, b = fit_platt(raw, truth["validation"])
        model_path = os.path.join(tmp, "model.bin")
        model.save_model(model_path)
        with open(model_path, "rb") as f:
            write_bytes(FileSystems.join(output, "model.bin"), f.read())
    sizes = Counter((s, "positive" if lab == label else "negative") for (lab, _), s in zip(examples, split, strict=True))
    card: dict[str, Any] = {"label": label, **{name: {kind: sizes[(name, kind)] for kind in ("positive", "negative")} for name in ("train", "validation", "holdout")},
                            "fasttext": {**FASTTEXT_PARAMS, **chosen}, "validation_log_loss": round(loss, 4),
                            "calibration": {"method": "platt", "a": round(a, 6), "b": round(b, 6)}, "seed": seed, "command": command}
    write_json(FileSystems.join(output, "card.json"), card)
    Classifier._loaded.pop(output, None)  # a model trained before into the same directory
    if part["holdout"]:
        scores = Classifier(output).score([t for _, t in part["holdout"]])
        threshold, best_f1 = best_f1_threshold(scores, truth["holdout"])
        card["metrics"] = {**binary_metrics(scores, truth["holdout"]), "roc_auc": round(roc_auc(scores, truth["holdout"]), 4),
                           "best_f1_threshold": round(threshold, 4), "best_f1": round(best_f1, 4)}
        write_json(FileSystems.join(output, "card.json"), card)
    return TrainingResult(output, card)


def weakness(card: dict[str, Any]) -> str | None:
    """A warning when the card's held-out F1 at 0.5 is under ``WARN_F1``, with its figures; else None."""
    m = card.get("metrics")
    if not m or m["f1"] >= WARN_F1:
        return None
    return (f"classifier {card['label']}: held-out F1 {m['f1']} at 0.5 (precision {m['precision']}, recall {m['recall']}, "
            f"ROC-AUC {m['roc_auc']}; best F1 {m['best_f1']} at threshold {m['best_f1_threshold']}), trained on "
            f"{card['train']['positive']} positive and {card['train']['negative']} negative documents: more or more varied examples would help")


def group_of(doc: Document, group_by: str) -> str:
    """The document's group for recall: its URL's domain, its source, or a ``meta.<key>`` value."""
    if group_by == "source":
        return doc.source
    if group_by == "url_domain":
        host = urlsplit(str(doc.meta.get("url", ""))).hostname or ""
        return host.removeprefix("www.") or "(no url)"
    return str(doc.meta.get(group_by.removeprefix("meta."), "(none)"))


def pool_documents(config: Config) -> Iterator[Document]:
    """Every readable document of the config's sources, in planning order."""
    for source in config.sources:
        for path, base, size in match_source_files(source):
            for record in read_piece(source, Piece(path, base, size), config.max_document_bytes, config.max_compression_ratio):
                if isinstance(record, Document):
                    yield record


def iterative_recall(config: Config, command: str | None = None) -> dict[str, Any]:
    """Rounds of: train on positives vs negatives → score the pool → recall documents at or above
    ``min_score`` → mark groups whose recalled share reaches ``group_share`` → their documents join
    the positives. Writes ``round-N/`` classifiers, ``recall.json`` (per-round counts and
    metrics) and ``recalled.jsonl`` (the last round's recalled ids, scores and groups)."""
    r = config.recall
    output = r.output if "://" in r.output or r.output.startswith("/") else FileSystems.join(config.output_dir, r.output)
    pool = list(pool_documents(config))
    groups = [group_of(d, r.group_by) for d in pool]
    group_sizes: dict[str, int] = {}
    for g in groups:
        group_sizes[g] = group_sizes.get(g, 0) + 1
    added: set[int] = set()
    rounds = []
    last_scores = np.zeros(len(pool))
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(1, r.rounds + 1):
            extra = os.path.join(tmp, f"added-{round_index}.jsonl")
            with open(extra, "w", encoding="utf-8") as f:
                for i in sorted(added):
                    f.write(json.dumps({"text": pool[i].text}) + "\n")
            directory = FileSystems.join(output, f"round-{round_index}")
            trained = train_classifier([*r.positive, extra], r.negative, directory, r.label, seed=config.seed, command=command)
            scores = Classifier(directory).score([d.text for d in pool]) if pool else np.zeros(0)
            recalled = scores >= r.min_score
            recalled_per_group: dict[str, int] = {}
            for g, hit in zip(groups, recalled.tolist(), strict=True):
                if hit:
                    recalled_per_group[g] = recalled_per_group.get(g, 0) + 1
            marked = sorted(g for g, n in recalled_per_group.items() if n / group_sizes[g] >= r.group_share)
            marked_set = set(marked)
            new = {i for i, g in enumerate(groups) if g in marked_set} - added
            rounds.append({"round": round_index, "positives_added_before": len(added), "pool": len(pool), "recalled": int(recalled.sum()),
                           "groups_marked": len(marked), "documents_added": len(new), "classifier": trained.card.get("metrics", {}),
                           "warning": weakness(trained.card), "marked_groups": marked[:50]})
            added |= new
            last_scores = scores
    lines = "".join(json.dumps({"id": d.id, "source": d.source, "group": g, "score": round(float(s), 4)}) + "\n"
                    for d, g, s, hit in zip(pool, groups, last_scores.tolist(), (last_scores >= r.min_score).tolist(), strict=True) if hit)
    write_bytes(FileSystems.join(output, "recalled.jsonl"), lines.encode("utf-8"))
    report = {"label": r.label, "group_by": r.group_by, "min_score": r.min_score, "group_share": r.group_share, "rounds": rounds,
              "classifier": FileSystems.join(output, f"round-{r.rounds}")}
    write_json(FileSystems.join(output, "recall.json"), report)
    return report
