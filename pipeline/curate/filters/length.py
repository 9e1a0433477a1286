"""Minimum document length."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pipeline.curate.filters.base import Rejection
from pipeline.records import Document


@dataclass(frozen=True)
class MinLength:
    """Drops documents shorter than ``min_chars`` characters (whitespace excluded at the ends)."""

    min_chars: int = 50

    def measure(self, doc: Document) -> dict[str, int]:
        return {"chars": len(doc.text.strip())}

    def __call__(self, doc: Document) -> Optional[Rejection]:
        length = len(doc.text.strip())
        if length < self.min_chars:
            return Rejection("too_short", f"{length} chars < {self.min_chars}")
        return None
