"""Word n-gram repetition measures of one document, compiled with numba.

A document's words become ids by first occurrence and an n-gram is the polynomial hash of its ids
(64-bit, wrapping), so equal n-grams always get equal values and a collision needs ~2^32 distinct
n-grams. Each measure is one pass over the n-grams with an open-addressing hash table: a few
nanoseconds per n-gram instead of the per-call cost of a dozen small numpy sorts per document.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.compiled import compiled

_MULTIPLIER = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)


@compiled()
def _grams(word_ids: np.ndarray, n: int) -> np.ndarray:
    count = max(len(word_ids) - n + 1, 0)
    grams = np.empty(count, dtype=np.uint64)
    for i in range(count):
        gram = word_ids[i]
        for k in range(1, n):
            gram = gram * _MULTIPLIER + word_ids[i + k]
        grams[i] = gram
    return grams


@compiled()
def _first_occurrences(grams: np.ndarray) -> np.ndarray:
    """For every n-gram, the position of its first occurrence."""
    bits = 1
    while (1 << bits) < 2 * len(grams):
        bits += 1
    mask = (1 << bits) - 1
    table = np.full(1 << bits, -1, dtype=np.int64)
    first = np.empty(len(grams), dtype=np.int64)
    for i in range(len(grams)):
        slot = np.int64((grams[i] * _MIX) >> np.uint64(64 - bits)) & mask
        while table[slot] >= 0 and grams[table[slot]] != grams[i]:
            slot = (slot + 1) & mask
        if table[slot] < 0:
            table[slot] = i
        first[i] = table[slot]
    return first


@compiled()
def _top_ngrams(word_ids: np.ndarray, lengths: np.ndarray, ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per n: the characters of the most frequent n-gram's words and its count (ties: the earliest)."""
    chars = np.zeros(len(ns), dtype=np.int64)
    counts = np.zeros(len(ns), dtype=np.int64)
    for k in range(len(ns)):
        first = _first_occurrences(_grams(word_ids, ns[k]))
        occurrences = np.zeros(len(first), dtype=np.int64)
        for i in range(len(first)):
            occurrences[first[i]] += 1
        best = 0
        for i in range(len(occurrences)):
            if occurrences[i] > occurrences[best]:
                best = i
        if len(occurrences):
            counts[k] = occurrences[best]
            chars[k] = lengths[best : best + ns[k]].sum()
    return chars, counts


@compiled()
def _covered_chars(word_ids: np.ndarray, lengths: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """Per n: characters of the words inside n-grams seen earlier (overlaps once); once none repeats, 0 after."""
    covered = np.zeros(len(ns), dtype=np.int64)
    for k in range(len(ns)):
        if k and not covered[k - 1]:
            break
        n = ns[k]
        first = _first_occurrences(_grams(word_ids, n))
        end = 0
        for i in range(len(first)):
            if first[i] < i:
                for j in range(max(i, end), i + n):
                    covered[k] += lengths[j]
                end = i + n
    return covered


@compiled()
def _greedy_repeated_chars(word_ids: np.ndarray, lengths: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """Per n: datatrove's walk (see ``NgramIndex.greedy_repeated_chars``); once none repeats, 0 after."""
    repeated = np.zeros(len(ns), dtype=np.int64)
    for k in range(len(ns)):
        if k and not repeated[k - 1]:
            break
        n = ns[k]
        first = _first_occurrences(_grams(word_ids, n))
        seen = np.zeros(len(first), dtype=np.bool_)
        position = 0
        while position < len(first):
            if seen[first[position]]:
                repeated[k] += lengths[position : position + n].sum()
                position += n
            else:
                seen[first[position]] = True
                position += 1
    return repeated


class NgramIndex:
    """Word n-grams of one document as integers, for the repetition measures. Every method takes the
    n-gram sizes at once (one compiled call); the duplicate measures take them ascending and stop
    at the first size with no repeat: an n-gram that repeats contains a shorter one that does."""

    def __init__(self, word_ids: np.ndarray, lengths: np.ndarray):
        self.word_ids, self.lengths = word_ids, lengths
        self.total_chars = max(int(lengths.sum()), 1)

    @classmethod
    def of_tokens(cls, tokens: Sequence[str]) -> NgramIndex:
        """Words numbered by first occurrence."""
        ids = {w: i for i, w in enumerate(dict.fromkeys(tokens), 1)}
        return cls(np.fromiter(map(ids.__getitem__, tokens), dtype=np.uint64, count=len(tokens)),
                   np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens)))

    @classmethod
    def of_hashes(cls, hashes: np.ndarray, lengths: np.ndarray) -> NgramIndex:
        """Words given as 64-bit hashes, numbered by first occurrence as ``of_tokens`` numbers them
        (equal hashes are taken for equal words)."""
        first = _first_occurrences(hashes)
        number = np.cumsum(first == np.arange(len(first)), dtype=np.uint64)
        return cls(number[first], lengths)

    def top_ngrams(self, ns: Sequence[int]) -> list[tuple[int, int]]:
        """Per n: (characters of the most frequent n-gram's words, its count); ties go to the
        earliest, as ``Counter.most_common``."""
        chars, counts = _top_ngrams(self.word_ids, self.lengths, np.asarray(ns, dtype=np.int64))
        return list(zip(chars.tolist(), counts.tolist(), strict=True))

    def duplicated_chars(self, ns: Sequence[int]) -> list[int]:
        """Per n: characters of words inside n-grams seen earlier in the document (overlaps once)."""
        return _covered_chars(self.word_ids, self.lengths, np.asarray(ns, dtype=np.int64)).tolist()

    def greedy_repeated_chars(self, ns: Sequence[int]) -> list[int]:
        """Per n, datatrove's count: walk the n-grams left to right; one seen before adds its
        characters and the walk jumps past it (the n-grams jumped over are never seen)."""
        return _greedy_repeated_chars(self.word_ids, self.lengths, np.asarray(ns, dtype=np.int64)).tolist()
