"""Language-aware text measures shared by the heuristic filters.

Words: whitespace-separated tokens, except that every CJK character (Han, Kana, Hangul) is a
word of its own, so Chinese and Japanese text (no spaces) gets meaningful word counts.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from tokenizer.cjk import WORD_CHARS

CJK_LANGUAGES = frozenset({"zh", "ja", "ko"})
_WORDS = re.compile(f"[{WORD_CHARS}]|[^\\s{WORD_CHARS}]+")
# spaCy's English tokenizer rules and datatrove's punctuation sets and stop words (bench/datatrove_reference.py --rules)
REFERENCE_RULES = json.loads(Path(__file__).with_name("reference_en.json").read_text(encoding="utf-8"))
# datatrove's sentence-ending characters (159, across scripts); closing quotes, colons and ellipses are not among them
TERMINAL_PUNCTUATION = tuple(REFERENCE_RULES["terminal_punctuation"])


@lru_cache(maxsize=4)
def words(text: str) -> tuple[str, ...]:
    """The words of a text; cached, because consecutive filters of a chain ask for the same text's words."""
    return tuple(_WORDS.findall(text))


def is_cjk(language: str | None) -> bool:
    return language in CJK_LANGUAGES


def non_empty_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]
