"""Language-aware text measures shared by the heuristic filters.

Words: whitespace-separated tokens, except that every character of a script written without
spaces between words (Han, Kana, Hangul; Thai, Lao, Myanmar, Khmer) is a word of its own, so
Chinese, Japanese and Thai text gets meaningful word counts without a dictionary segmenter.
"""
from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from tokenizer.cjk import WORD_CHARS

# languages whose words are single characters here: no word-length rule, n-grams over character pairs
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "ko", "th", "lo", "my", "km"})
# languages whose writing marks no sentence end (a space ends a Thai sentence): no terminal-punctuation rule
NO_SENTENCE_MARKS = frozenset({"th", "lo"})
_UNSPACED_CHARS = WORD_CHARS + "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # + Thai, Lao, Myanmar, Khmer
# their vowel signs and tone marks (Unicode category M) stay on the letter before them
_MARKS = "".join(c for c in map(chr, [*range(0x0E00, 0x0F00), *range(0x1000, 0x10A0), *range(0x1780, 0x1800)]) if unicodedata.category(c).startswith("M"))
_WORDS = re.compile(f"[{_UNSPACED_CHARS}][{_MARKS}]*|[^\\s{_UNSPACED_CHARS}]+")
# spaCy's English tokenizer rules and datatrove's punctuation sets and stop words (bench/datatrove_reference.py --rules)
REFERENCE_RULES = json.loads(Path(__file__).with_name("reference_en.json").read_text(encoding="utf-8"))
# datatrove's sentence-ending characters (159, across scripts); closing quotes, colons and ellipses are not among them
TERMINAL_PUNCTUATION = tuple(REFERENCE_RULES["terminal_punctuation"])


@lru_cache(maxsize=4)
def words(text: str) -> tuple[str, ...]:
    """The words of a text; cached, because consecutive filters of a chain ask for the same text's words."""
    return tuple(_WORDS.findall(text))


@lru_cache(maxsize=4)
def lower_words(text: str) -> tuple[str, ...]:
    """``words(text.lower())``, from ``words(text)``: lowercasing never moves a character between
    whitespace, unspaced scripts, their marks and the rest (checked over every code point in the
    tests), so the words of the lowercased text are the lowercased words, without a second scan."""
    return tuple(map(str.lower, words(text)))


def is_unspaced(language: str | None) -> bool:
    return language in UNSPACED_LANGUAGES


def non_empty_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]
