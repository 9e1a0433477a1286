"""CJK character ranges, in one place, as two deliberate sets.

``PRETOKENIZER_RANGES`` are the DeepSeek-V3 pre-tokenizer's (Han 4E00–9FA5, Hiragana, Katakana):
they are part of every ``tokenizer.json`` this project writes, so changing them changes the
tokenizer. ``WORD_RANGES`` are for text statistics (filters, MinHash words, fertility): every
Han, Kana or Hangul character counts as one word, since those scripts do not separate words by
spaces.
"""
from __future__ import annotations

PRETOKENIZER_RANGES = ((0x4E00, 0x9FA5), (0x3040, 0x309F), (0x30A0, 0x30FF))
WORD_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF))


def python_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """The ranges as the inside of a character class, in literal characters (``re``, ``regex``, Rust)."""
    return "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges)


def escaped_class(ranges: tuple[tuple[int, int], ...], style: str = "x") -> str:
    """The ranges as the inside of a character class in escapes: ``\\x{4E00}`` (``regex``) or,
    with style ``u``, ``\\u4E00`` (``re``, and the form ``tokenizer.json`` stores)."""
    if style == "u":
        return "".join(f"\\u{a:04X}-\\u{b:04X}" for a, b in ranges)
    return "".join(f"\\x{{{a:04X}}}-\\x{{{b:04X}}}" for a, b in ranges)


WORD_CHARS = python_class(WORD_RANGES)
