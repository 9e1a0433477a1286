"""Language-aware text measures shared by the heuristic filters.

Words: whitespace-separated tokens, except that every CJK character (Han, Kana, Hangul) is a
word of its own, so Chinese and Japanese text (no spaces) gets meaningful word counts.
"""
from __future__ import annotations

import re

CJK_LANGUAGES = frozenset({"zh", "ja", "ko"})
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORDS = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")
TERMINAL_PUNCTUATION = (".", "!", "?", '"', "'", "”", "’", "。", "！", "？", "…", ":", ";", "：", "；", "」", "』")


def words(text: str) -> list[str]:
    return _WORDS.findall(text)


def is_cjk(language: str | None) -> bool:
    return language in CJK_LANGUAGES


def non_empty_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]
