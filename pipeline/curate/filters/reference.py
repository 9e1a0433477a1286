"""The reference mode (``filters.compat: datatrove``): Gopher quality, Gopher repetition and FineWeb
quality exactly as datatrove (the implementation that produced FineWeb) defines them.

datatrove splits English words with spaCy's tokenizer; ``reference_words`` runs spaCy's algorithm
(special cases, then prefixes and suffixes stripped in turn, URLs kept whole, infixes split) on
spaCy's own English rules, stored in ``reference_en.json`` with datatrove's punctuation sets and
stop words (written by ``bench/datatrove_reference.py --rules``), so spaCy is no dependency. The
rules below follow datatrove's filters line by line: counts over all tokens (punctuation tokens
included), distinct case-sensitive stop words, separate ``#`` and ellipsis ratios, paragraphs
split on two or more newlines, duplicated n-grams counted greedily over the text's characters.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from pipeline.curate.filters.base import Rejection, first_failure
from pipeline.curate.filters.gopher import GopherQuality, GopherRepetition, duplicate_counts
from pipeline.curate.filters.fineweb import FineWebQuality
from pipeline.curate.filters.text import REFERENCE_RULES as _RULES
from pipeline.curate.filters.text import TERMINAL_PUNCTUATION
from pipeline.records import Document

_PREFIX = re.compile(_RULES["prefix"]).search
_SUFFIX = re.compile(_RULES["suffix"]).search
_INFIX = re.compile(_RULES["infix"]).finditer
_URL = re.compile(_RULES["url"]).match
_SPECIAL: dict[str, list[str]] = _RULES["special_cases"]
PUNCTUATION = frozenset(_RULES["punctuation"])
STOP_WORDS = frozenset(_RULES["stop_words"])


def _affix_length(match: Optional[re.Match]) -> int:
    return match.end() - match.start() if match else 0


@lru_cache(maxsize=1 << 16)
def _split_chunk(chunk: str) -> tuple[str, ...]:
    """spaCy's tokenization of one whitespace-free chunk."""
    if chunk in _SPECIAL:
        return tuple(_SPECIAL[chunk])
    prefixes: list[str] = []
    suffixes: list[str] = []
    string, last = chunk, -1
    while string and len(string) != last:
        if string in _SPECIAL:
            break
        last = len(string)
        pre = _affix_length(_PREFIX(string))
        if pre and string[pre:] in _SPECIAL:
            prefixes.append(string[:pre])
            string = string[pre:]
            break
        suf = _affix_length(_SUFFIX(string[pre:]))
        if suf and string[:-suf] in _SPECIAL:
            suffixes.append(string[-suf:])
            string = string[:-suf]
            break
        if pre and suf and pre + suf <= len(string):
            prefixes.append(string[:pre])
            suffixes.append(string[-suf:])
            string = string[pre:-suf]
        elif pre:
            prefixes.append(string[:pre])
            string = string[pre:]
        elif suf:
            suffixes.append(string[-suf:])
            string = string[:-suf]
    middle: list[str] = []
    if string in _SPECIAL:
        middle = list(_SPECIAL[string])
    elif string and _URL(string):
        middle = [string]
    elif string:
        start = 0
        for match in _INFIX(string):
            if match.start() == 0:
                continue
            if match.start() != start:
                middle.append(string[start:match.start()])
            if match.start() != match.end():
                middle.append(string[match.start():match.end()])
            start = match.end()
        if string[start:]:
            middle.append(string[start:])
    return _merge_special_spans(prefixes + middle + suffixes[::-1])


def _merge_special_spans(tokens: list[str]) -> tuple[str, ...]:
    """spaCy's last pass: consecutive tokens that together spell a special case (``):``, ``:-)``)
    become that special case's tokens; the longest match from the left wins."""
    if len(tokens) < 2:
        return tuple(tokens)
    merged: list[str] = []
    i = 0
    while i < len(tokens):
        for j in range(len(tokens), i + 1, -1):
            span = "".join(tokens[i:j])
            if span in _SPECIAL:
                merged += _SPECIAL[span]
                i = j
                break
        else:
            merged.append(tokens[i])
            i += 1
    return tuple(merged)


@lru_cache(maxsize=4)
def reference_words(text: str) -> tuple[str, ...]:
    """The words datatrove's English ``split_into_words`` gives: spaCy's tokens, whitespace dropped, stripped."""
    tokens = [piece.strip() for chunk in text.split() for piece in _split_chunk(chunk)]
    return tuple(t for t in tokens if t)


@dataclass(frozen=True)
class ReferenceGopherQuality(GopherQuality):
    """datatrove's ``GopherQualityFilter`` with these thresholds."""

    def measure(self, doc: Document) -> dict[str, Any]:
        text = doc.text
        tokens = reference_words(text)
        n = max(len(tokens), 1)
        content = [w for w in tokens if any(ch not in PUNCTUATION for ch in w)]
        lines = text.splitlines() or [""]
        return {
            "words": len(content),
            "avg_word_length": sum(map(len, content)) / len(content) if content else float("nan"),
            "hash_word_ratio": text.count("#") / n,
            "ellipsis_word_ratio": (text.count("...") + text.count("…")) / n,
            "bullet_lines_ratio": sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines),
            "ellipsis_lines_ratio": sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines),
            "alpha_words_ratio": sum(any(c.isalpha() for c in w) for w in tokens) / n,
            "stop_words": len(STOP_WORDS.intersection(tokens)),
        }

    def __call__(self, doc: Document) -> Optional[Rejection]:
        m = self.measure(doc)
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


def _greedy_duplicated_chars(words: tuple[str, ...], n: int) -> int:
    """Characters of n-grams (words joined without spaces) seen before, skipping past each repeat."""
    seen: set[str] = set()
    repeated, i = 0, 0
    while i < len(words) - n + 1:
        gram = "".join(words[i:i + n])
        if gram in seen:
            repeated += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile("\n+")


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
        tokens = reference_words(text)
        for n, _ in self.top_n_grams:
            grams = Counter(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
            top = grams.most_common(1)
            m[f"top_{n}_gram_char_frac"] = len(top[0][0]) * top[0][1] / size if top else 0.0
        for n, _ in self.dup_n_grams:
            m[f"dup_{n}_gram_char_frac"] = _greedy_duplicated_chars(tokens, n) / size
        return m


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
            "newline_word_ratio": text.count("\n") / max(len(reference_words(text)), 1),
        }
