"""Text decoded with errors replaced: the share of U+FFFD REPLACEMENT CHARACTER in a document.

A document read from bytes in the wrong charset upstream (a crawl's misdeclared page, a
Latin-1 file read as UTF-8 with ``errors="replace"``) carries U+FFFD where its letters were; its
words are broken for the tokenizer and for every other rule. Off by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pipeline.curate.filters.base import Rejection, RuleFilter
from pipeline.curate.filters.registry import rule_filter
from pipeline.records import Document

REPLACEMENT_CHAR = "\ufffd"


@rule_filter(position=15, kinds=("text", "code"), enabled=False)
@dataclass(frozen=True)
class ReplacementChars(RuleFilter):
    """Drops documents whose share of U+FFFD characters exceeds ``max_fraction``."""

    name: ClassVar[str] = "replacement_chars"
    SIGNALS: ClassVar[dict[str, type]] = {"fraction": float}
    max_fraction: float = 0.001

    def measure(self, doc: Document) -> dict[str, float]:
        return {"fraction": doc.text.count(REPLACEMENT_CHAR) / max(len(doc.text), 1)}

    def verdict(self, m: dict[str, float]) -> Rejection | None:
        if m["fraction"] > self.max_fraction:
            return Rejection("too_many_replacement_chars", f"{m['fraction']:.4g} > {self.max_fraction}")
        return None
