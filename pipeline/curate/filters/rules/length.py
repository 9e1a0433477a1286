"""Minimum document length."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pipeline.curate.filters.base import Rejection, RuleFilter
from pipeline.curate.filters.registry import rule_filter
from pipeline.records import Document


@rule_filter(position=10, kinds=("text", "code"))
@dataclass(frozen=True)
class MinLength(RuleFilter):
    """Drops documents shorter than ``min_chars`` characters (whitespace excluded at the ends)."""

    name: ClassVar[str] = "min_length"
    SIGNALS: ClassVar[dict[str, type]] = {"chars": int}
    min_chars: int = 50

    def measure(self, doc: Document) -> dict[str, int]:
        return {"chars": len(doc.text.strip())}

    def verdict(self, m: dict[str, int]) -> Rejection | None:
        length = m["chars"]
        if length < self.min_chars:
            return Rejection("too_short", f"{length} chars < {self.min_chars}")
        return None
