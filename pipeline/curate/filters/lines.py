"""A text's lines and paragraphs as numbers, from one compiled pass over its code points.

The definitions are Python's, as the filters state them: lines are ``text.split("\\n")``,
paragraphs ``text.split("\\n\\n")``, a line or paragraph counts when ``str.strip()`` leaves
something, and a repeat is an item equal to an earlier one (compared exactly, not by hash alone).
Gopher repetition (raw lines and paragraphs), FineWeb (stripped lines) and Gopher quality (lines,
bullet and ellipsis lines) share the pass; ``tests/test_filters.py`` holds it to those definitions.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from pipeline.compiled import compiled
from pipeline.curate.filters.text import TERMINAL_PUNCTUATION

BULLETS = ("•", "●", "○", "■", "□", "▪", "▫", "※", "·", "-", "*", "–", "—")
ELLIPSES = ("...", "…")  # the line pass knows these two: three full stops, or U+2026
_NEWLINE = 10
_FULL_STOP = 0x2E
_ELLIPSIS = 0x2026
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_BASIS = np.uint64(0xCBF29CE484222325)


class TextLines(NamedTuple):
    """Counts over the non-empty lines and paragraphs of a text (characters are code points)."""

    lines: int  # lines holding more than whitespace
    line_chars: int  # their characters, surrounding whitespace included
    dup_lines: int  # of those, lines equal to an earlier one
    dup_line_chars: int
    paragraphs: int  # "\n\n"-separated paragraphs holding more than whitespace
    paragraph_chars: int
    dup_paragraphs: int
    dup_paragraph_chars: int
    stripped_lengths: np.ndarray  # each non-empty line's length without its surrounding whitespace
    stripped_dup_chars: int  # characters of stripped lines equal to an earlier stripped line
    terminal_lines: int  # stripped lines ending in ``TERMINAL_PUNCTUATION``
    bullet_lines: int  # stripped lines starting with one of ``BULLETS``
    ellipsis_lines: int  # stripped lines ending with one of ``ELLIPSES``


def _members(chars: Sequence[str]) -> np.ndarray:
    """Per code point up to the largest of ``chars``, whether it is one of them."""
    table = np.zeros(max(map(ord, chars)) + 1, dtype=np.bool_)
    table[[ord(c) for c in chars]] = True
    return table


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``str.isspace`` per code point up to U+3000 (the last that is one), terminal punctuation, bullets."""
    return np.array([chr(c).isspace() for c in range(0x3001)], dtype=np.bool_), _members(TERMINAL_PUNCTUATION), _members(BULLETS)


@compiled(inline="always")
def _is_in(c: int, table: np.ndarray) -> bool:
    return c < len(table) and table[c]


@compiled(inline="always")
def _seen_before(points: np.ndarray, a: int, b: int, keys: np.ndarray, spans: np.ndarray) -> bool:
    """Whether ``points[a:b]`` equals an item already in the table (open addressing: a hash per
    slot in ``keys``, its item's (start, end + 1) in ``spans``, end 0 for a free slot); adds it if not."""
    h = _FNV_BASIS
    for p in range(a, b):
        h = (h ^ np.uint64(points[p])) * _FNV_PRIME
    mask = len(keys) - 1
    slot = np.int64(h & np.uint64(mask))
    while spans[slot, 1]:
        start = spans[slot, 0]
        if keys[slot] == h and spans[slot, 1] - 1 - start == b - a:
            same = True
            for k in range(b - a):
                if points[start + k] != points[a + k]:
                    same = False
                    break
            if same:
                return True
        slot = (slot + 1) & mask
    keys[slot] = h
    spans[slot, 0] = a
    spans[slot, 1] = b + 1
    return False


@compiled()
def _line_pass(points: np.ndarray, space: np.ndarray, terminal: np.ndarray, bullets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the counts of ``TextLines`` in its order, without ``stripped_lengths``; those lengths)."""
    n = len(points)
    newlines = 0
    for c in points:
        if c == _NEWLINE:
            newlines += 1
    size = 1
    while size < 2 * (newlines + 1):
        size *= 2
    raw_keys, raw_spans = np.empty(size, dtype=np.uint64), np.zeros((size, 2), dtype=np.int64)
    stripped_keys, stripped_spans = np.empty(size, dtype=np.uint64), np.zeros((size, 2), dtype=np.int64)
    paragraph_keys, paragraph_spans = np.empty(size, dtype=np.uint64), np.zeros((size, 2), dtype=np.int64)
    counts = np.zeros(12, dtype=np.int64)
    lengths = np.empty(newlines + 1, dtype=np.int64)
    lines = 0
    a = 0
    while a <= n:
        b = a
        while b < n and points[b] != _NEWLINE:
            b += 1
        s, e = a, b
        while s < e and _is_in(points[s], space):
            s += 1
        while e > s and _is_in(points[e - 1], space):
            e -= 1
        if s < e:
            counts[0] += 1
            counts[1] += b - a
            if _seen_before(points, a, b, raw_keys, raw_spans):
                counts[2] += 1
                counts[3] += b - a
            if _seen_before(points, s, e, stripped_keys, stripped_spans):
                counts[8] += e - s
            last = points[e - 1]
            if _is_in(last, terminal):
                counts[9] += 1
            if _is_in(points[s], bullets):
                counts[10] += 1
            if last == _ELLIPSIS or (e - s >= 3 and last == _FULL_STOP and points[e - 2] == _FULL_STOP and points[e - 3] == _FULL_STOP):
                counts[11] += 1
            lengths[lines] = e - s
            lines += 1
        a = b + 1
    a = 0
    while a <= n:
        b = a
        while b + 1 < n and not (points[b] == _NEWLINE and points[b + 1] == _NEWLINE):
            b += 1
        if b + 1 >= n:
            b = n
        blank = True
        for p in range(a, b):
            if not _is_in(points[p], space):
                blank = False
                break
        if not blank:
            counts[4] += 1
            counts[5] += b - a
            if _seen_before(points, a, b, paragraph_keys, paragraph_spans):
                counts[6] += 1
                counts[7] += b - a
        a = b + 2
    return counts, lengths[:lines]


@lru_cache(maxsize=4)
def text_lines(text: str) -> TextLines:
    """``TextLines`` of a text; cached, because consecutive filters of a chain ask for the same text's."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    counts, lengths = _line_pass(points, *_tables())
    c = counts.tolist()
    return TextLines(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], lengths, c[8], c[9], c[10], c[11])
