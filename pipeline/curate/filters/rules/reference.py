"""The reference mode (``filters.compat: datatrove``): Gopher quality, Gopher repetition and FineWeb
quality exactly as datatrove (the implementation that produced FineWeb) defines them.

datatrove splits English words with spaCy's tokenizer, here ``spacy_words`` (spaCy's algorithm on
spaCy's rules, no spaCy dependency). The rules below follow datatrove's filters line by line:
counts over all tokens (punctuation tokens included), distinct case-sensitive stop words (from
datatrove, in ``reference_en.json``), separate ``#`` and ellipsis ratios, paragraphs split on two
or more newlines, duplicated n-grams counted greedily over the text's characters. n-grams are
compared as token sequences (64-bit hashes, ``ngrams.NgramIndex``) where datatrove compares their
concatenations: the two differ only when two token sequences spell one string, which no fixture
document shows. C4 has one definition in both modes, datatrove's (``c4.py``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.curate.filters.base import Rejection, first_failure
from pipeline.curate.filters.ngrams import NgramIndex
from pipeline.curate.filters.registry import compat_variant
from pipeline.curate.filters.rules.fineweb import FineWebQuality
from pipeline.curate.filters.rules.gopher import GopherQuality, GopherRepetition, duplicate_counts
from pipeline.curate.filters.spacy_english import spacy_words
from pipeline.curate.filters.text import REFERENCE_RULES as _RULES
from pipeline.curate.filters.text import TERMINAL_PUNCTUATION
from pipeline.records import Document

PUNCTUATION = frozenset(_RULES["punctuation"])
STOP_WORDS = frozenset(_RULES["stop_words"])
# over tokens one per line: a token with a character outside datatrove's punctuation set (a word), and
# one with a letter or a numeric character that is no decimal digit (like ² and ½, which are no letters)
_WORD_TOKEN = re.compile(f"^(?=[^\n]*?[^\n{re.escape(_RULES['punctuation'])}])[^\n]+", re.MULTILINE)
_TOKEN_WITH_LETTER_OR_NUMERIC = re.compile(r"^[^\n]*?[^\W\d_][^\n]*", re.MULTILINE)


def tokens_with_letter(one_per_line: str) -> int:
    """Tokens (one a line) with a character that ``str.isalpha``, as datatrove counts them: the
    regex finds them and the few non-letter numerics; only non-ASCII tokens need the exact check."""
    found = _TOKEN_WITH_LETTER_OR_NUMERIC.findall(one_per_line)
    if one_per_line.isascii():
        return len(found)
    return sum(1 for w in found if w.isascii() or any(c.isalpha() for c in w))


@compat_variant("datatrove", "gopher_quality")
@dataclass(frozen=True)
class ReferenceGopherQuality(GopherQuality):
    """datatrove's ``GopherQualityFilter`` with these thresholds."""

    def measure(self, doc: Document) -> dict[str, Any]:
        text = doc.text
        tokens = spacy_words(text)
        n = max(len(tokens), 1)
        one_per_line = "\n".join(tokens)
        content = _WORD_TOKEN.findall(one_per_line)
        lines = text.splitlines() or [""]
        return {
            "words": len(content),
            "avg_word_length": sum(map(len, content)) / len(content) if content else float("nan"),
            "hash_word_ratio": text.count("#") / n,
            "ellipsis_word_ratio": (text.count("...") + text.count("…")) / n,
            "bullet_lines_ratio": sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines),
            "ellipsis_lines_ratio": sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines),
            "alpha_words_ratio": tokens_with_letter(one_per_line) / n,
            "stop_words": len(STOP_WORDS.intersection(tokens)),
        }

    def verdict(self, m: dict[str, Any]) -> Rejection | None:
        avg = m["avg_word_length"]
        return first_failure([
            ("gopher_short_doc", m["words"], m["words"] >= self.min_doc_words),
            ("gopher_long_doc", m["words"], m["words"] <= self.max_doc_words),
            ("gopher_below_avg_word_length", avg, not avg < self.min_avg_word_length),  # NaN (no words) passes, as in numpy
            ("gopher_above_avg_word_length", avg, not avg > self.max_avg_word_length),
            ("gopher_hash_word_ratio", m["hash_word_ratio"], m["hash_word_ratio"] <= self.max_symbol_word_ratio),
            ("gopher_ellipsis_word_ratio", m["ellipsis_word_ratio"], m["ellipsis_word_ratio"] <= self.max_symbol_word_ratio),
            ("gopher_bullet_lines", m["bullet_lines_ratio"], m["bullet_lines_ratio"] <= self.max_bullet_lines_ratio),
            ("gopher_ellipsis_lines", m["ellipsis_lines_ratio"], m["ellipsis_lines_ratio"] <= self.max_ellipsis_lines_ratio),
            ("gopher_alpha_words", m["alpha_words_ratio"], m["alpha_words_ratio"] >= self.min_alpha_words_ratio),
            ("gopher_stop_words", m["stop_words"], m["stop_words"] >= self.min_stop_words),
        ])


_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile("\n+")


@compat_variant("datatrove", "gopher_repetition")
@dataclass(frozen=True)
class ReferenceGopherRepetition(GopherRepetition):
    """datatrove's ``GopherRepetitionFilter`` with these thresholds: every denominator is the text's length."""

    def measure(self, doc: Document) -> dict[str, Any]:
        text = doc.text
        size = max(len(text), 1)
        paragraphs = _PARAGRAPHS.split(text.strip())
        lines = _LINES.split(text)
        para_dup, para_chars = duplicate_counts(paragraphs)
        line_dup, line_chars = duplicate_counts(lines)
        m: dict[str, Any] = {"dup_para_frac": para_dup / len(paragraphs), "dup_para_char_frac": para_chars / size,
                             "dup_line_frac": line_dup / len(lines), "dup_line_char_frac": line_chars / size}
        index = NgramIndex.of_tokens(list(spacy_words(text)))
        top_ns = [n for n, _ in self.top_n_grams]
        for n, (chars, count) in zip(top_ns, index.top_ngrams(top_ns), strict=True):
            m[f"top_{n}_gram_char_frac"] = (chars + n - 1) * count / size if count else 0.0  # words joined by spaces
        dup_ns = sorted(n for n, _ in self.dup_n_grams)
        for n, repeated in zip(dup_ns, index.greedy_repeated_chars(dup_ns), strict=True):
            m[f"dup_{n}_gram_char_frac"] = repeated / size
        return m


@compat_variant("datatrove", "fineweb")
@dataclass(frozen=True)
class ReferenceFineWebQuality(FineWebQuality):
    """datatrove's ``FineWebQualityFilter`` with these thresholds: lines as they are (no strip),
    datatrove's terminal punctuation, duplicated line characters over the text without newlines."""

    def measure(self, doc: Document) -> dict[str, Any]:
        text = doc.text
        lines = [line for line in text.split("\n") if line.strip()] or [""]
        _, dup_chars = duplicate_counts(lines)
        return {
            "line_punct_ratio": sum(line.endswith(TERMINAL_PUNCTUATION) for line in lines) / len(lines),
            "short_line_ratio": sum(len(line) <= self.short_line_length for line in lines) / len(lines),
            "dup_line_char_ratio": dup_chars / max(len(text.replace("\n", "")), 1),
            "newline_word_ratio": text.count("\n") / max(len(spacy_words(text)), 1),
        }
