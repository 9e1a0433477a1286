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
from typing import NamedTuple

from pipeline.curate.dedup.word_hashes import WordRule, Words, split_words
from tokenizer.cjk import WORD_CHARS

# languages whose words are single characters here: no word-length rule, n-grams over character pairs
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "ko", "th", "lo", "my", "km"})
# languages whose writing marks no sentence end (a space ends a Thai sentence): no terminal-punctuation rule
NO_SENTENCE_MARKS = frozenset({"th", "lo"})
_UNSPACED_CHARS = WORD_CHARS + "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # + Thai, Lao, Myanmar, Khmer
# their vowel signs and tone marks (Unicode category M) stay on the letter before them
_MARKS = "".join(c for c in map(chr, [*range(0x0E00, 0x0F00), *range(0x1000, 0x10A0), *range(0x1780, 0x1800)]) if unicodedata.category(c).startswith("M"))
# a character of an unspaced script with its marks, or a run of anything but whitespace and those
# scripts; words holding a letter are marked (Gopher's alphabetic-word rule)
WORD_RULE = WordRule("", f"[{_UNSPACED_CHARS}]", f"[{_MARKS}]", f"[^\\s{_UNSPACED_CHARS}]", f"[^\\s{_UNSPACED_CHARS}]", marked=r"[^\W\d_]")
_WORDS = re.compile(WORD_RULE.pattern())
# spaCy's English tokenizer rules and datatrove's punctuation sets and stop words (bench/datatrove_reference.py --rules)
REFERENCE_RULES = json.loads(Path(__file__).with_name("reference_en.json").read_text(encoding="utf-8"))
# datatrove's sentence-ending characters (159, across scripts); closing quotes, colons and ellipses are not among them
TERMINAL_PUNCTUATION = tuple(REFERENCE_RULES["terminal_punctuation"])


def words(text: str) -> tuple[str, ...]:
    """The words of a text, as strings (``text_words`` measures the same words compiled)."""
    return tuple(_WORDS.findall(text))


class TextWords(NamedTuple):
    """A text's words (``words``) as numbers: their count, code points and how many hold a letter,
    and the lowercased text's words (hash and length each), from one compiled pass."""

    word_count: int
    chars: int
    with_letter: int
    lower: Words


@lru_cache(maxsize=4)
def text_words(text: str) -> TextWords:
    """``TextWords`` of a text; cached, because consecutive filters of a chain ask for the same text's."""
    original, lower = split_words([text, text.lower()], WORD_RULE)
    return TextWords(len(original.lengths), int(original.lengths.sum()), int(original.marked.sum()), lower)


def is_unspaced(language: str | None) -> bool:
    return language in UNSPACED_LANGUAGES

