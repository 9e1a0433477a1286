"""Gopher (MassiveText, Rae et al. 2021) quality and repetition rules with their published thresholds,
in corpusmill's definitions (README "Filter definitions": how each differs from datatrove's, which
``filters.compat: datatrove`` applies exactly). Rules follow the detected language: stop words come from that
language's list, CJK text counts characters as words (no word-length rule) and measures n-gram
repetition over character pairs, so good non-English prose passes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.curate.dedup.word_hashes import count_present
from pipeline.curate.filters.base import Rejection, RuleFilter, first_failure
from pipeline.curate.filters.lines import ELLIPSES, text_lines
from pipeline.curate.filters.ngrams import NgramIndex
from pipeline.curate.filters.registry import rule_filter
from pipeline.curate.filters.stopwords import stop_word_hashes
from pipeline.curate.filters.text import is_unspaced, text_words, words
from pipeline.records import Document


@rule_filter(position=30)
@dataclass(frozen=True)
class GopherQuality(RuleFilter):
    """Gopher quality rules with their published thresholds."""

    name: ClassVar[str] = "gopher_quality"
    SIGNALS: ClassVar[dict[str, type]] = {"words": int, "avg_word_length": float, "hash_word_ratio": float, "ellipsis_word_ratio": float,
                                          "bullet_lines_ratio": float, "ellipsis_lines_ratio": float, "alpha_words_ratio": float, "stop_words": int}

    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3.0
    max_avg_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2

    def measure(self, doc: Document) -> dict[str, Any]:
        text = doc.text
        counted = text_words(text)
        n = max(counted.word_count, 1)
        counted_lines = text_lines(text)
        lines = max(counted_lines.lines, 1)
        language = doc.meta.get("language")
        unspaced = is_unspaced(language)
        stops = stop_word_hashes(language)
        return {
            "words": counted.word_count,
            "avg_word_length": None if unspaced else counted.chars / n,
            "hash_word_ratio": text.count("#") / n,
            "ellipsis_word_ratio": sum(text.count(e) for e in ELLIPSES) / n,
            "bullet_lines_ratio": counted_lines.bullet_lines / lines,
            "ellipsis_lines_ratio": counted_lines.ellipsis_lines / lines,
            "alpha_words_ratio": counted.with_letter / n,
            "stop_words": None if stops is None else count_present(stops, counted.lower.hashes),  # distinct ones, as the paper asks
        }

    def verdict(self, m: dict[str, Any]) -> Rejection | None:
        return first_failure([
            ("gopher_short_doc", m["words"], m["words"] >= self.min_doc_words),
            ("gopher_long_doc", m["words"], m["words"] <= self.max_doc_words),
            ("gopher_below_avg_word_length", m["avg_word_length"] or 0, m["avg_word_length"] is None or m["avg_word_length"] >= self.min_avg_word_length),
            ("gopher_above_avg_word_length", m["avg_word_length"] or 0, m["avg_word_length"] is None or m["avg_word_length"] <= self.max_avg_word_length),
            ("gopher_hash_word_ratio", m["hash_word_ratio"], m["hash_word_ratio"] <= self.max_symbol_word_ratio),
            ("gopher_ellipsis_word_ratio", m["ellipsis_word_ratio"], m["ellipsis_word_ratio"] <= self.max_symbol_word_ratio),
            ("gopher_bullet_lines", m["bullet_lines_ratio"], m["bullet_lines_ratio"] <= self.max_bullet_lines_ratio),
            ("gopher_ellipsis_lines", m["ellipsis_lines_ratio"], m["ellipsis_lines_ratio"] <= self.max_ellipsis_lines_ratio),
            ("gopher_alpha_words", m["alpha_words_ratio"], m["alpha_words_ratio"] >= self.min_alpha_words_ratio),
            ("gopher_stop_words", m["stop_words"] or 0, m["stop_words"] is None or m["stop_words"] >= self.min_stop_words),
        ])


def duplicate_counts(items: Sequence[str]) -> tuple[int, int]:
    """(items that repeat an earlier one, characters in those repeats)."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_items, dup_chars


@rule_filter(position=40, exclude=("top_n_grams", "dup_n_grams"))
@dataclass(frozen=True)
class GopherRepetition(RuleFilter):
    """Gopher repetition rules: line/paragraph thresholds, and Gopher's n-gram ones (top 2/3/4:
    .20/.18/.16, duplicated 5–10: .15→.10; not exposed in the config)."""

    name: ClassVar[str] = "gopher_repetition"
    SIGNALS: ClassVar[dict[str, type]] = {"dup_para_frac": float, "dup_para_char_frac": float, "dup_line_frac": float, "dup_line_char_frac": float}

    dup_line_frac: float = 0.30
    dup_para_frac: float = 0.30
    dup_line_char_frac: float = 0.20
    dup_para_char_frac: float = 0.20
    top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.20), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple[tuple[int, float], ...] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))

    def signal_types(self) -> dict[str, type]:
        return {**self.SIGNALS, **{f"top_{n}_gram_char_frac": float for n, _ in self.top_n_grams},
                **{f"dup_{n}_gram_char_frac": float for n, _ in sorted(self.dup_n_grams)}}

    def measure(self, doc: Document) -> dict[str, Any]:
        counted = text_lines(doc.text)  # shares of repeated paragraphs and lines, and of the characters in them
        para_frac, para_chars = counted.dup_paragraphs / max(counted.paragraphs, 1), counted.dup_paragraph_chars / (counted.paragraph_chars or 1)
        line_frac, line_chars = counted.dup_lines / max(counted.lines, 1), counted.dup_line_chars / (counted.line_chars or 1)
        if is_unspaced(doc.meta.get("language")):
            # words of unspaced scripts are single characters here, so n-grams count pairs of characters as one unit
            tokens = words(doc.text.lower())
            index = NgramIndex.of_tokens(["".join(tokens[i : i + 2]) for i in range(0, len(tokens), 2)])
        else:
            lower = text_words(doc.text).lower
            index = NgramIndex.of_hashes(lower.hashes, lower.lengths)
        m: dict[str, Any] = {"dup_para_frac": para_frac, "dup_para_char_frac": para_chars, "dup_line_frac": line_frac, "dup_line_char_frac": line_chars}
        top_ns = [n for n, _ in self.top_n_grams]
        for n, (chars, count) in zip(top_ns, index.top_ngrams(top_ns), strict=True):
            m[f"top_{n}_gram_char_frac"] = chars * count / index.total_chars
        dup_ns = sorted(n for n, _ in self.dup_n_grams)
        for n, chars in zip(dup_ns, index.duplicated_chars(dup_ns), strict=True):
            m[f"dup_{n}_gram_char_frac"] = chars / index.total_chars
        return m

    def verdict(self, m: dict[str, Any]) -> Rejection | None:
        checks = [
            ("gopher_dup_para_frac", m["dup_para_frac"], m["dup_para_frac"] <= self.dup_para_frac),
            ("gopher_dup_para_char_frac", m["dup_para_char_frac"], m["dup_para_char_frac"] <= self.dup_para_char_frac),
            ("gopher_dup_line_frac", m["dup_line_frac"], m["dup_line_frac"] <= self.dup_line_frac),
            ("gopher_dup_line_char_frac", m["dup_line_char_frac"], m["dup_line_char_frac"] <= self.dup_line_char_frac),
        ]
        checks += [(f"gopher_top_{n}_gram", m[f"top_{n}_gram_char_frac"], m[f"top_{n}_gram_char_frac"] <= t) for n, t in self.top_n_grams]
        checks += [(f"gopher_dup_{n}_gram", m[f"dup_{n}_gram_char_frac"], m[f"dup_{n}_gram_char_frac"] <= t) for n, t in self.dup_n_grams]
        return first_failure(checks)
