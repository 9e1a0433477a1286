"""A trained classifier in the filter chain: the score goes to ``meta["scores"][name]`` and the
verdict to ``meta["labels"][name]`` (the classifier's label at or above ``min_score``, else
``other``: a key ``mix_by`` can remix on); with ``action: drop``, documents under ``min_score`` are
dropped with their score as the detail."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.curate.classify import Classifier
from pipeline.curate.filters.base import Rejection
from pipeline.records import Document


@dataclass(frozen=True)
class ClassifierFilter:
    name: str
    model: str  # the classifier directory (model.bin + card.json), any Beam file system
    min_score: float = 0.5
    action: Literal["drop", "tag"] = "drop"
    classifier: Classifier = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classifier", Classifier(self.model))

    def measure(self, doc: Document) -> dict[str, float]:
        return {f"score_{self.name}": float(self.classifier.score([doc.text])[0])}

    def __call__(self, doc: Document) -> Rejection | Document | None:
        score = round(float(self.classifier.score([doc.text])[0]), 4)
        if self.action == "drop" and score < self.min_score:
            return Rejection(f"classifier_{self.name}", f"{score:.4f} < {self.min_score}")
        label = self.classifier.label if score >= self.min_score else "other"
        return doc._replace(meta={**doc.meta, "scores": {**doc.meta.get("scores", {}), self.name: score},
                                  "labels": {**doc.meta.get("labels", {}), self.name: label}})
