"""FineWeb's quality rules (Penedo et al. 2024) with datatrove's thresholds and terminal punctuation, in
corpusmill's definitions: lines are compared without their indentation, the words are
corpusmill's, and Thai and Lao text (whose writing marks no sentence end) skips the terminal-punctuation rule (README "Filter definitions"; ``filters.compat: datatrove`` is datatrove's exactly)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pipeline.curate.filters.base import Rejection, RuleFilter, first_failure
from pipeline.curate.filters.lines import text_lines
from pipeline.curate.filters.registry import rule_filter
from pipeline.curate.filters.text import NO_SENTENCE_MARKS, text_words
from pipeline.records import Document


@rule_filter(position=50)
@dataclass(frozen=True)
class FineWebQuality(RuleFilter):
    """FineWeb quality rules with their published thresholds."""

    name: ClassVar[str] = "fineweb"
    MEASURE_PARAMS: ClassVar[frozenset[str]] = frozenset({"short_line_length"})
    SIGNALS: ClassVar[dict[str, type]] = {"line_punct_ratio": float, "short_line_ratio": float, "dup_line_char_ratio": float, "newline_word_ratio": float}

    min_line_punct_ratio: float = 0.12
    max_short_line_ratio: float = 0.67
    short_line_length: int = 30
    max_dup_line_char_ratio: float = 0.01
    max_newline_word_ratio: float = 0.3

    def measure(self, doc: Document) -> dict[str, Any]:
        counted = text_lines(doc.text)  # over the non-empty lines, stripped; no line at all counts as one empty line
        lines = max(counted.lines, 1)
        short = int(np.count_nonzero(counted.stripped_lengths <= self.short_line_length)) + (counted.lines == 0 and self.short_line_length >= 0)
        marks = doc.meta.get("language") not in NO_SENTENCE_MARKS
        return {
            "line_punct_ratio": counted.terminal_lines / lines if marks else None,
            "short_line_ratio": short / lines,
            "dup_line_char_ratio": counted.stripped_dup_chars / (int(counted.stripped_lengths.sum()) or 1),
            "newline_word_ratio": doc.text.count("\n") / max(text_words(doc.text).word_count, 1),
        }

    def verdict(self, m: dict[str, Any]) -> Rejection | None:
        return first_failure([
            ("fineweb_line_punct_ratio", m["line_punct_ratio"] or 0, m["line_punct_ratio"] is None or m["line_punct_ratio"] >= self.min_line_punct_ratio),
            ("fineweb_short_line_ratio", m["short_line_ratio"], m["short_line_ratio"] <= self.max_short_line_ratio),
            ("fineweb_dup_line_char_ratio", m["dup_line_char_ratio"], m["dup_line_char_ratio"] <= self.max_dup_line_char_ratio),
            ("fineweb_newline_word_ratio", m["newline_word_ratio"], m["newline_word_ratio"] <= self.max_newline_word_ratio),
        ])
