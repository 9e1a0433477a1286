"""Words of many texts, split and hashed in one compiled pass.

A word rule is a few regex character classes (``WordRule``); ``split_words`` applies one to a
batch of texts in numba over their code points and gives each word's XXH3-64 hash (seed 0, of
its UTF-8 bytes, as ``xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass"))``), its length
in code points and whether it holds a ``marked`` character: what the filters and the shingling
need, without one Python string and one call per word. Words over 240 UTF-8 bytes (XXH3's
long-input path: rare, long identifiers and numbers) are hashed by xxhash itself afterwards.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import xxhash

from pipeline.compiled import compiled

_SECRET = np.frombuffer(bytes.fromhex(  # XXH3's default secret, the 160 bytes the short paths read
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
    "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"), dtype=np.uint8)
_PRIME64_1 = np.uint64(0x9E3779B185EBCA87)
_PRIME64_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_PRIME64_3 = np.uint64(0x165667B19E3779F9)
_PRIME_MX1 = np.uint64(0x165667919E3779F9)
_PRIME_MX2 = np.uint64(0x9FB21C651E98DF25)
_MASK32 = np.uint64(0xFFFFFFFF)
_LONG = 240  # XXH3's short and mid-size inputs end here


class WordRule(NamedTuple):
    """A split into words, as regex character classes: a character of ``single`` is a word alone;
    otherwise a word starts with a character of ``start_a`` and runs on through ``run_a`` (else
    ``start_b``, ``run_b``). ``marked``: the class ``split_words`` flags words for. "" is no class."""

    single: str
    start_a: str
    run_a: str
    start_b: str = ""
    run_b: str = ""
    marked: str = ""

    def pattern(self) -> str:
        """The rule as one regex, the definition the compiled split is tested against."""
        runs = [self.single, *(f"{start}{run}*" for start, run in ((self.start_a, self.run_a), (self.start_b, self.run_b)) if start)]
        return "|".join(r for r in runs if r)


class Words(NamedTuple):
    """One text's words: hashes (uint64), lengths in code points, and which hold a marked character."""

    hashes: np.ndarray
    lengths: np.ndarray
    marked: np.ndarray


_MARKED = 32  # the bit of WordRule.marked, its sixth field


@lru_cache(maxsize=1)
def _every_character() -> tuple[str, np.ndarray]:
    """Every code point once, in order, as a string and as an array."""
    return "".join(map(chr, range(0x110000))), np.arange(0x110000, dtype=np.uint32)


@lru_cache(maxsize=8)
def char_classes(patterns: tuple[str, ...]) -> np.ndarray:
    """One byte per code point: bit i set when the character matches the i-th regex character
    class of ``patterns`` (at most 8; "" matches nothing)."""
    every, points = _every_character()
    classes = np.zeros(0x110000, dtype=np.uint8)
    for bit, pattern in enumerate(patterns):
        if pattern:  # each match becomes U+FFFF in one C pass (a class matches one character: positions stay)
            marked = np.frombuffer(re.sub(pattern, "\uffff", every).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            hit = marked != points
            hit[0xFFFF] = re.fullmatch(pattern, "\uffff") is not None
            classes[hit] |= 1 << bit
    return classes


@compiled(inline="always")
def _read_le(data: np.ndarray, at: int, width: int) -> np.uint64:
    """The ``width`` bytes at ``at`` as a little-endian unsigned integer."""
    value = np.uint64(0)
    for k in range(width - 1, -1, -1):
        value = (value << np.uint64(8)) | np.uint64(data[at + k])
    return value


@compiled(inline="always")
def _mul128_fold64(a: np.uint64, b: np.uint64) -> np.uint64:
    lo_lo = (a & _MASK32) * (b & _MASK32)
    hi_lo = (a >> np.uint64(32)) * (b & _MASK32)
    lo_hi = (a & _MASK32) * (b >> np.uint64(32))
    hi_hi = (a >> np.uint64(32)) * (b >> np.uint64(32))
    cross = (lo_lo >> np.uint64(32)) + (hi_lo & _MASK32) + lo_hi
    upper = (hi_lo >> np.uint64(32)) + (cross >> np.uint64(32)) + hi_hi
    lower = (cross << np.uint64(32)) | (lo_lo & _MASK32)
    return lower ^ upper


@compiled(inline="always")
def _avalanche(h: np.uint64) -> np.uint64:
    h ^= h >> np.uint64(37)
    h *= _PRIME_MX1
    return h ^ (h >> np.uint64(32))


@compiled(inline="always")
def _xxh64_avalanche(h: np.uint64) -> np.uint64:
    h ^= h >> np.uint64(33)
    h *= _PRIME64_2
    h ^= h >> np.uint64(29)
    h *= _PRIME64_3
    return h ^ (h >> np.uint64(32))


@compiled(inline="always")
def _mix16(data: np.ndarray, at: int, secret_at: int) -> np.uint64:
    return _mul128_fold64(_read_le(data, at, 8) ^ _read_le(_SECRET, secret_at, 8), _read_le(data, at + 8, 8) ^ _read_le(_SECRET, secret_at + 8, 8))


@compiled()
def xxh3_64(data: np.ndarray, size: int) -> np.uint64:
    """XXH3-64 with seed 0 of ``data[:size]``, for ``size`` ≤ 240."""
    length = np.uint64(size)
    if size == 0:
        return _xxh64_avalanche(_read_le(_SECRET, 56, 8) ^ _read_le(_SECRET, 64, 8))
    if size <= 3:
        combined = (np.uint64(data[0]) << np.uint64(16)) | (np.uint64(data[size >> 1]) << np.uint64(24)) | np.uint64(data[size - 1]) | (length << np.uint64(8))
        return _xxh64_avalanche(combined ^ (_read_le(_SECRET, 0, 4) ^ _read_le(_SECRET, 4, 4)))
    if size <= 8:
        keyed = (_read_le(data, size - 4, 4) + (_read_le(data, 0, 4) << np.uint64(32))) ^ (_read_le(_SECRET, 8, 8) ^ _read_le(_SECRET, 16, 8))
        keyed ^= ((keyed << np.uint64(49)) | (keyed >> np.uint64(15))) ^ ((keyed << np.uint64(24)) | (keyed >> np.uint64(40)))
        keyed *= _PRIME_MX2
        keyed ^= (keyed >> np.uint64(35)) + length
        keyed *= _PRIME_MX2
        return keyed ^ (keyed >> np.uint64(28))
    if size <= 16:
        low = _read_le(data, 0, 8) ^ (_read_le(_SECRET, 24, 8) ^ _read_le(_SECRET, 32, 8))
        high = _read_le(data, size - 8, 8) ^ (_read_le(_SECRET, 40, 8) ^ _read_le(_SECRET, 48, 8))
        swapped = np.uint64(0)
        for k in range(8):
            swapped = (swapped << np.uint64(8)) | ((low >> np.uint64(8 * k)) & np.uint64(0xFF))
        return _avalanche(length + swapped + high + _mul128_fold64(low, high))
    acc = length * _PRIME64_1
    if size <= 128:
        if size > 32:
            if size > 64:
                if size > 96:
                    acc += _mix16(data, 48, 96) + _mix16(data, size - 64, 112)
                acc += _mix16(data, 32, 64) + _mix16(data, size - 48, 80)
            acc += _mix16(data, 16, 32) + _mix16(data, size - 32, 48)
        acc += _mix16(data, 0, 0) + _mix16(data, size - 16, 16)
        return _avalanche(acc)
    for i in range(8):
        acc += _mix16(data, 16 * i, 16 * i)
    acc = _avalanche(acc)
    for i in range(8, size // 16):
        acc += _mix16(data, 16 * i, 16 * (i - 8) + 3)
    acc += _mix16(data, size - 16, 136 - 17)
    return _avalanche(acc)


@compiled(inline="always")
def _utf8(points: np.ndarray, begin: int, end: int, buffer: np.ndarray) -> int:
    """UTF-8 bytes of ``points[begin:end]`` into ``buffer`` (surrogates as three bytes, as
    "surrogatepass" writes them); stops once past ``_LONG`` bytes. Returns the byte count."""
    size = 0
    for q in range(begin, end):
        if size > _LONG:
            break
        c = np.int64(points[q])
        if c < 0x80:
            buffer[size] = c
            size += 1
        elif c < 0x800:
            buffer[size] = 0xC0 | (c >> 6)
            buffer[size + 1] = 0x80 | (c & 0x3F)
            size += 2
        elif c < 0x10000:
            buffer[size] = 0xE0 | (c >> 12)
            buffer[size + 1] = 0x80 | ((c >> 6) & 0x3F)
            buffer[size + 2] = 0x80 | (c & 0x3F)
            size += 3
        else:
            buffer[size] = 0xF0 | (c >> 18)
            buffer[size + 1] = 0x80 | ((c >> 12) & 0x3F)
            buffer[size + 2] = 0x80 | ((c >> 6) & 0x3F)
            buffer[size + 3] = 0x80 | (c & 0x3F)
            size += 4
    return size


@compiled(inline="always")
def _word_end(points: np.ndarray, p: int, end: int, classes: np.ndarray) -> int:
    """End of the word starting at ``p`` (``WordRule``'s classes as bits 1, 2, 4, 8, 16), or ``p``."""
    point = classes[points[p]]
    if point & 1:
        return p + 1
    if point & 2:
        run = 4
    elif point & 8:
        run = 16
    else:
        return p
    while p + 1 < end and classes[points[p + 1]] & run:
        p += 1
    return p + 1


@compiled()
def _split_and_hash(points: np.ndarray, ends: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Word hashes, lengths and marked flags of every text (``points[ends[i-1]:ends[i]]``), the
    word count after each text, and (word number, begin, end) of the words too long to hash here
    (their hash is left 0)."""
    hashes = np.empty(len(points), dtype=np.uint64)
    lengths = np.empty(len(points), dtype=np.int64)
    marked = np.zeros(len(points), dtype=np.bool_)
    counts = np.zeros(len(ends), dtype=np.int64)
    long_words = np.empty((len(points) // (_LONG // 4) + 1, 3), dtype=np.int64)  # > 240 bytes: > 60 code points
    buffer = np.empty(_LONG + 4, dtype=np.uint8)
    words = longs = start = 0
    for doc in range(len(ends)):
        end = ends[doc]
        p = start
        while p < end:
            word_end = _word_end(points, p, end, classes)
            if word_end == p:
                p += 1
                continue
            size = _utf8(points, p, word_end, buffer)
            if size <= _LONG:
                hashes[words] = xxh3_64(buffer, size)
            else:
                hashes[words] = 0
                long_words[longs, 0] = words
                long_words[longs, 1] = p
                long_words[longs, 2] = word_end
                longs += 1
            lengths[words] = word_end - p
            for q in range(p, word_end):
                if classes[points[q]] & _MARKED:
                    marked[words] = True
                    break
            words += 1
            p = word_end
        counts[doc] = words
        start = end
    return hashes[:words], lengths[:words], marked[:words], counts, long_words[:longs]


@compiled()
def count_present(values: np.ndarray, hashes: np.ndarray) -> int:
    """How many of the (distinct) ``values`` occur in ``hashes``: a few stop words against a text's words."""
    found = np.zeros(len(values), dtype=np.bool_)
    for h in hashes:
        for k in range(len(values)):
            if h == values[k]:
                found[k] = True
    return int(found.sum())


class BatchWords(NamedTuple):
    """The words of a batch of texts, concatenated: ``ends[i]`` is where text i's words end."""

    hashes: np.ndarray
    lengths: np.ndarray
    marked: np.ndarray
    ends: np.ndarray


def split_batch(texts: Sequence[str], rule: WordRule) -> BatchWords:
    """The words of all ``texts`` under ``rule``, in order, as flat arrays."""
    if not texts:
        return BatchWords(np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.bool_), np.zeros(0, np.int64))
    joined = "".join(texts)
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.cumsum([len(t) for t in texts], dtype=np.int64)
    hashes, lengths, marked, counts, long_words = _split_and_hash(points, ends, char_classes(tuple(rule)))
    for at, begin, end in long_words.tolist():
        hashes[at] = xxhash.xxh3_64_intdigest(joined[begin:end].encode("utf-8", "surrogatepass"))
    return BatchWords(hashes, lengths, marked, counts)


def split_words(texts: Sequence[str], rule: WordRule) -> list[Words]:
    """Per text, its words under ``rule``, in order."""
    batch = split_batch(texts, rule)
    bounds = [0, *batch.ends.tolist()]
    return [Words(batch.hashes[a:b], batch.lengths[a:b], batch.marked[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
