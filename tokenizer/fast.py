r"""A fast exact encoder: a ``tiktoken.Encoding`` built from the trained merges.

HF's pre-tokenizer is three isolating regex splits in sequence (digits, CJK runs, the rest), and
each later split re-splits every piece of the earlier ones; tiktoken takes one regex.
``FAST_PATTERN`` is that sequence written as one regex, derived piece type by piece type:

- a digit piece (``\p{N}{1,3}``) holds no letter, punctuation or space, so later splits keep it;
- a CJK run is re-split by the third pattern, restricted to CJK characters (``ー゜`` is a letter
  then a symbol: two pieces);
- the rest is the third pattern with classes that exclude digits and CJK, whose lookaheads treat a
  digit or CJK character as the end of a piece;
- what no pattern matches stays one piece, as HF keeps the text between matches: a run of
  characters that start no match (a character that would prefix a letter run does).

Equivalence is checked, not taken on trust: ``build_fast_encoding`` encodes a probe set over the
whole of Unicode both ways and returns None on any mismatch (callers then use HF), and the build
re-encodes a sample of documents with ``tokenizer.json`` (``pipeline.assemble.tokenize.check_fast_path``).
"""
from __future__ import annotations

import json
import random
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

from tokenizers import Tokenizer, pre_tokenizers

from tokenizer.cjk import PRETOKENIZER_RANGES, escaped_class

if TYPE_CHECKING:  # imported where it is used: the fast path is optional
    import tiktoken

CJK = escaped_class(PRETOKENIZER_RANGES)
_LETTERS = rf"[[\p{{L}}\p{{M}}]--[{CJK}]]"
_PUNCT = rf"[[\p{{P}}\p{{S}}]--[{CJK}]]"
_SEGMENT_CHAR = rf"[^\s\p{{N}}{CJK}]"  # a non-space character of the same piece
_UNMATCHED = rf"[^\s\p{{L}}\p{{M}}\p{{P}}\p{{S}}\p{{N}}{CJK}]"  # starts no match unless it prefixes letters
_CJK_LETTERS = rf"[[{CJK}]&&[\p{{L}}\p{{M}}]]"
_CJK_PUNCT = rf"[[{CJK}]&&[\p{{P}}\p{{S}}]]"
_CJK_UNMATCHED = rf"[[{CJK}]--[\p{{L}}\p{{M}}\p{{P}}\p{{S}}]]"

FAST_PATTERN = "|".join([
    r"\p{N}{1,3}",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+",
    rf"[^\r\n\p{{L}}\p{{P}}\p{{S}}\p{{N}}{CJK}]?{_LETTERS}+",
    rf" ?{_PUNCT}+[\r\n]*",
    r"\s*[\r\n]+",
    rf"\s+(?!{_SEGMENT_CHAR})",
    r"\s+",
    rf"(?:{_UNMATCHED}(?!{_LETTERS}))+",
    rf"{_CJK_UNMATCHED}?{_CJK_LETTERS}+",
    rf"{_CJK_PUNCT}+",
    rf"(?:{_CJK_UNMATCHED}(?!{_CJK_LETTERS}))+",
])

PROBES = [
    "Hello, world!\nThe year 2024 had 366 days; 1234567 is long. x.append(y)\n",
    "def f(x):\n    return {'a': [1, 2, 3]}  # comment\n\n\tclass C: pass\r\n",
    "数据管道处理中文文本。日本語のテキスト、カタカナ・ひらがなー！한국어 텍스트도 있습니다.",
    "emoji 🙂👍🏽 and e\u0301 marks, ñ, ß, Ωμέγα, русский текст, العربية, हिन्दी 12 apples",
    "  leading   spaces  \n\n\n  trailing  \t \n...\n?!\n)\n",
    "a1b22c333d4444 ３４５ ⅷ ½ 数1字 x数 1数 \u3099\u309b ゠ ・ ー ー゜ア・イ\u3040\u3097あ ⓿1𒑓",
    "\x01\x02 controls \x7f and <｜end▁of▁sentence｜> as text, URLs https://example.com/a?b=c&d=1",
]


@lru_cache(maxsize=1)
def _code_points_by_category() -> dict[str, list[str]]:
    """Every code point but surrogates, by Unicode general category."""
    groups: dict[str, list[str]] = {}
    for code in range(0x110000):
        category = unicodedata.category(chr(code))
        if category != "Cs":
            groups.setdefault(category, []).append(chr(code))
    return groups


def unicode_strings(count: int, seed: int = 0, max_length: int = 40) -> list[str]:
    """Random strings over the whole of Unicode: each character from a random general category
    (format, private-use, unassigned, marks, emoji, CJK, digits, spaces, ...), random lengths."""
    rng = random.Random(seed)
    groups = _code_points_by_category()
    categories = sorted(groups)
    out = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, max_length)):
            pool = groups[rng.choice(categories)] if rng.random() < 0.7 else " \n\tab1数カ.,!"
            chars.append(rng.choice(pool))
        out.append("".join(chars))
    return out


def byte_decoder() -> dict[str, int]:
    """HF ByteLevel's printable-character alias of every byte, inverted."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def build_fast_encoding(tok: Tokenizer, pattern: str = FAST_PATTERN, probes: list[str] | None = None) -> tuple[tiktoken.Encoding | None, str]:
    """``(tiktoken.Encoding, "")`` when it reproduces ``tok`` on the probes, else ``(None, why)``."""
    try:
        import tiktoken
    except ImportError:
        return None, "tiktoken is not installed"
    tok.encode_special_tokens = True  # documents are text: special-token strings in them are not control tokens
    model = json.loads(tok.to_str())
    if model["model"]["type"] != "BPE" or not isinstance(tok.pre_tokenizer, pre_tokenizers.Sequence):
        return None, "not a byte-level BPE tokenizer"
    decoder = byte_decoder()
    special = {t["content"]: t["id"] for t in model["added_tokens"]}
    ranks = {}
    for token, token_id in model["model"]["vocab"].items():
        if token in special:
            continue
        try:
            ranks[bytes(decoder[c] for c in token)] = token_id
        except KeyError:
            return None, f"token {token!r} is not byte-level"
    try:
        encoding = tiktoken.Encoding("corpusmill", pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)
    except Exception as e:  # e.g. a pattern tiktoken's regex engine rejects
        return None, f"tiktoken rejected the encoding: {e}"
    for probe in probes or [*PROBES, *unicode_strings(500)]:
        expected = tok.encode(probe, add_special_tokens=False).ids
        got = encoding.encode_ordinary(probe)
        if got != expected:
            first = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected)))
            return None, f"differs from tokenizer.json on probe {probe[:30]!r} at token {first}"
    return encoding, ""
