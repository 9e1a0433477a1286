"""The words of many documents, split and hashed in one compiled pass.

``word_hashes(texts, kind)`` equals ``[xxh3_64(w.encode("utf-8", "surrogatepass")) for w in
shingle_words(text, kind)]`` per text: the regex split and xxhash's XXH3-64 (seed 0), done in
numba over the texts' code points instead of one Python string and one call per word. Words of
more than 240 UTF-8 bytes (XXH3's long-input path: rare, long identifiers and numbers) are hashed
by xxhash itself afterwards.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import xxhash
from numba import njit

from tokenizer.cjk import WORD_CHARS

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

# character classes: \w but not CJK, a CJK character, \d, [A-Za-z_], [A-Za-z0-9_]
TEXT_WORD, CJK_CHAR, DIGIT, IDENTIFIER_START, IDENTIFIER = 1, 2, 4, 8, 16
# the split rules as class masks (see _word_end): text ``[CJK]|[^\W CJK]+``, code ``[A-Za-z_][A-Za-z0-9_]*|\d+``
TEXT_RULES = (CJK_CHAR, TEXT_WORD, TEXT_WORD, 0, 0)
CODE_RULES = (0, IDENTIFIER_START, IDENTIFIER, DIGIT, DIGIT)


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """One class byte per code point, read off the regex classes the split is defined by."""
    every = "".join(map(chr, range(0x110000)))
    classes = np.zeros(0x110000, dtype=np.uint8)
    patterns = ((TEXT_WORD, f"[^\\W{WORD_CHARS}]"), (CJK_CHAR, f"[{WORD_CHARS}]"), (DIGIT, r"\d"),
                (IDENTIFIER_START, "[A-Za-z_]"), (IDENTIFIER, "[A-Za-z0-9_]"))
    for flag, pattern in patterns:
        classes[[m.start() for m in re.finditer(pattern, every)]] |= flag
    return classes


@njit(cache=True, inline="always")
def _u64(data: np.ndarray, at: int) -> np.uint64:
    value = np.uint64(0)
    for k in range(7, -1, -1):
        value = (value << np.uint64(8)) | np.uint64(data[at + k])
    return value


@njit(cache=True, inline="always")
def _u32(data: np.ndarray, at: int) -> np.uint64:
    value = np.uint64(0)
    for k in range(3, -1, -1):
        value = (value << np.uint64(8)) | np.uint64(data[at + k])
    return value


@njit(cache=True, inline="always")
def _mul128_fold64(a: np.uint64, b: np.uint64) -> np.uint64:
    lo_lo = (a & _MASK32) * (b & _MASK32)
    hi_lo = (a >> np.uint64(32)) * (b & _MASK32)
    lo_hi = (a & _MASK32) * (b >> np.uint64(32))
    hi_hi = (a >> np.uint64(32)) * (b >> np.uint64(32))
    cross = (lo_lo >> np.uint64(32)) + (hi_lo & _MASK32) + lo_hi
    upper = (hi_lo >> np.uint64(32)) + (cross >> np.uint64(32)) + hi_hi
    lower = (cross << np.uint64(32)) | (lo_lo & _MASK32)
    return lower ^ upper


@njit(cache=True, inline="always")
def _avalanche(h: np.uint64) -> np.uint64:
    h ^= h >> np.uint64(37)
    h *= _PRIME_MX1
    return h ^ (h >> np.uint64(32))


@njit(cache=True, inline="always")
def _xxh64_avalanche(h: np.uint64) -> np.uint64:
    h ^= h >> np.uint64(33)
    h *= _PRIME64_2
    h ^= h >> np.uint64(29)
    h *= _PRIME64_3
    return h ^ (h >> np.uint64(32))


@njit(cache=True, inline="always")
def _mix16(data: np.ndarray, at: int, secret_at: int) -> np.uint64:
    return _mul128_fold64(_u64(data, at) ^ _u64(_SECRET, secret_at), _u64(data, at + 8) ^ _u64(_SECRET, secret_at + 8))


@njit(cache=True)
def xxh3_64(data: np.ndarray, size: int) -> np.uint64:
    """XXH3-64 with seed 0 of ``data[:size]``, for ``size`` ≤ 240."""
    length = np.uint64(size)
    if size == 0:
        return _xxh64_avalanche(_u64(_SECRET, 56) ^ _u64(_SECRET, 64))
    if size <= 3:
        combined = (np.uint64(data[0]) << np.uint64(16)) | (np.uint64(data[size >> 1]) << np.uint64(24)) | np.uint64(data[size - 1]) | (length << np.uint64(8))
        return _xxh64_avalanche(combined ^ (_u32(_SECRET, 0) ^ _u32(_SECRET, 4)))
    if size <= 8:
        keyed = (_u32(data, size - 4) + (_u32(data, 0) << np.uint64(32))) ^ (_u64(_SECRET, 8) ^ _u64(_SECRET, 16))
        keyed ^= ((keyed << np.uint64(49)) | (keyed >> np.uint64(15))) ^ ((keyed << np.uint64(24)) | (keyed >> np.uint64(40)))
        keyed *= _PRIME_MX2
        keyed ^= (keyed >> np.uint64(35)) + length
        keyed *= _PRIME_MX2
        return keyed ^ (keyed >> np.uint64(28))
    if size <= 16:
        low = _u64(data, 0) ^ (_u64(_SECRET, 24) ^ _u64(_SECRET, 32))
        high = _u64(data, size - 8) ^ (_u64(_SECRET, 40) ^ _u64(_SECRET, 48))
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


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def _word_end(points: np.ndarray, p: int, end: int, classes: np.ndarray, rules: tuple[int, int, int, int, int]) -> int:
    """End of the word starting at ``p``, or ``p`` when none starts there. ``rules`` are class
    masks: a character of the first is a word alone; else a run starts with the second (third)
    and goes on through the third (fifth)."""
    single, start_a, run_a, start_b, run_b = rules
    point = classes[points[p]]
    if point & single:
        return p + 1
    if point & start_a:
        run = run_a
    elif point & start_b:
        run = run_b
    else:
        return p
    while p + 1 < end and classes[points[p + 1]] & run:
        p += 1
    return p + 1


@njit(cache=True)
def _split_and_hash(points: np.ndarray, ends: np.ndarray, classes: np.ndarray, rules: tuple[int, int, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word hashes of every text (``points[ends[i-1]:ends[i]]``), the word count after each text, and
    (word number, begin, end) of the words too long to hash here (their hash is left 0)."""
    hashes = np.empty(len(points), dtype=np.uint64)
    counts = np.zeros(len(ends), dtype=np.int64)
    long_words = np.empty((len(points) // (_LONG // 4) + 1, 3), dtype=np.int64)  # > 240 bytes: > 60 code points
    buffer = np.empty(_LONG + 4, dtype=np.uint8)
    words = longs = start = 0
    for doc in range(len(ends)):
        end = ends[doc]
        p = start
        while p < end:
            word_end = _word_end(points, p, end, classes, rules)
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
            words += 1
            p = word_end
        counts[doc] = words
        start = end
    return hashes[:words], counts, long_words[:longs]


def word_hashes(texts: Sequence[str], kind: str = "text") -> list[np.ndarray]:
    """Per text, the 64-bit xxh3 hashes of its shingling words (``minhash.shingle_words``), in order."""
    if not texts:
        return []
    code = kind == "code"
    prepared = list(texts) if code else [t.lower() for t in texts]
    joined = "".join(prepared)
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.cumsum([len(t) for t in prepared], dtype=np.int64)
    hashes, counts, long_words = _split_and_hash(points, ends, char_classes(), CODE_RULES if code else TEXT_RULES)
    for at, begin, end in long_words.tolist():
        hashes[at] = xxhash.xxh3_64_intdigest(joined[begin:end].encode("utf-8", "surrogatepass"))
    return np.split(hashes, counts[:-1])
