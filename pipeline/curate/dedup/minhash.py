"""MinHash signatures and LSH banding (plain functions; the Beam graph is in ``near.py``).

Shingles are word n-grams of normalized text (lowercased, punctuation and whitespace folded;
CJK characters count as words), or identifier n-grams for code (``shingle_words`` defines them).
Each word is hashed once with 64-bit XXH3 and n consecutive word hashes are combined
arithmetically; the split and the word hashes run compiled over a batch of texts. Signatures
follow datasketch's ``affine64`` scheme exactly (MurmurHash3 fmix64, then ``a*h + b mod 2^64``
with datasketch's own permutations for the seed): a signature here equals
``datasketch.MinHash(num_perm, seed, hashfunc=identity, scheme="affine64")`` over the same
shingle hashes, computed for a whole batch of documents in one compiled pass.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from pipeline.compiled import compiled
from pipeline.curate.dedup.word_hashes import WordRule, split_batch
from pipeline.records import mix64
from tokenizer.cjk import WORD_CHARS

# text: a CJK character alone, or a run of other word characters; code: identifiers and numbers
SHINGLE_WORDS = {"text": WordRule(f"[{WORD_CHARS}]", f"[^\\W{WORD_CHARS}]", f"[^\\W{WORD_CHARS}]"),
                 "code": WordRule("", "[A-Za-z_]", "[A-Za-z0-9_]", r"\d", r"\d")}
_SHINGLE_WORD_PATTERNS = {kind: re.compile(rule.pattern()) for kind, rule in SHINGLE_WORDS.items()}
_COMBINE = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier folding word hashes into a shingle hash


def shingle_words(text: str, kind: str = "text") -> list[str]:
    """Words for shingling: lowercase words and single CJK characters, or code identifiers/numbers."""
    return _SHINGLE_WORD_PATTERNS[kind].findall(text if kind == "code" else text.lower())


@compiled()
def _combine(hashes: np.ndarray, ends: np.ndarray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes from the word hashes of texts (text i's words end at ``ends[i]``): ``ngram``
    consecutive words folded into one 64-bit value (all words when fewer; none without words).
    Returns the shingles and where each text's end."""
    shingles = np.empty(len(hashes), dtype=np.uint64)
    shingle_ends = np.empty(len(ends), dtype=np.int64)
    made = start = 0
    for text in range(len(ends)):
        words = ends[text] - start
        n = min(ngram, words)
        for i in range(start, start + words - n + 1 if n else start):
            combined = np.uint64(0)
            for k in range(n):
                combined = combined * _COMBINE + hashes[i + k]
            shingles[made] = combined
            made += 1
        shingle_ends[text] = made
        start = ends[text]
    return shingles[:made], shingle_ends


def batch_shingle_hashes(texts: Sequence[str], ngram: int, kind: str = "text") -> list[np.ndarray]:
    """Per text, the 64-bit hashes of its word ``ngram``-grams (one shingle of all words when
    fewer; none for a text without words, which then never clusters), with repeats. The words are
    split, hashed and combined for the whole batch in compiled passes (``split_batch``)."""
    words = split_batch(texts if kind == "code" else [t.lower() for t in texts], SHINGLE_WORDS[kind])
    shingles, ends = _combine(words.hashes, words.ends, ngram)
    bounds = [0, *ends.tolist()]
    return [shingles[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def shingle_hashes(text: str, ngram: int, kind: str = "text") -> np.ndarray:
    """``batch_shingle_hashes`` of one text."""
    return batch_shingle_hashes([text], ngram, kind)[0]


def shingle_set(text: str, ngram: int, kind: str = "text") -> np.ndarray:
    """The sorted distinct shingle hashes (the set Jaccard similarity is defined on)."""
    return np.unique(shingle_hashes(text, ngram, kind))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted distinct hash arrays."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 1.0


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine64 permutation parameters ``(a, b)`` for ``seed``, drawn as datasketch
    2.0 draws them (``MinHash._init_permutations``: odd ``a``); importing datasketch for them cost
    0.4 s a worker process (tested equal to datasketch's)."""
    draw = np.random.RandomState(seed)
    a = draw.randint(0, 1 << 63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = draw.randint(0, 1 << 64, num_perm, dtype=np.uint64)
    return a, b


@compiled()
def _min_permuted(mixed: np.ndarray, lengths: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per document (``lengths`` consecutive mixed shingle hashes each), per permutation: min(a·h + b)."""
    out = np.full((len(lengths), len(a)), np.iinfo(np.uint64).max, dtype=np.uint64)
    position = 0
    for doc in range(len(lengths)):
        row = out[doc]
        for s in range(position, position + lengths[doc]):
            h = mixed[s]
            for p in range(len(a)):
                row[p] = min(row[p], a[p] * h + b[p])
        position += lengths[doc]
    return out


def signatures(shingles: Sequence[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures, shape ``(len(shingles), num_perm)`` uint64, for a batch of documents:
    fmix64 over all shingles at once, then one compiled pass (the permutation loop vectorizes)."""
    a, b = permutations(num_perm, seed)
    lengths = np.fromiter((len(s) for s in shingles), dtype=np.int64, count=len(shingles))
    if (lengths == 0).any():
        raise ValueError("every document needs at least one shingle")
    return _min_permuted(mix64(np.concatenate(shingles)), lengths, a, b)


def detection_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that two documents of this Jaccard similarity share at least one LSH bucket."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def choose_bands(threshold: float, num_perm: int, bands: int | None = None, rows: int | None = None, verify: bool = True, recall: float = 0.995) -> tuple[int, int]:
    """``(bands, rows)``: as given; with verification, the longest bands that still detect a pair
    right at the threshold with probability ``recall`` (candidates are cheap, exact Jaccard removes
    the false ones); without it, datasketch's balanced optimum (every false positive is a lost document)."""
    if bands and rows:
        if bands * rows > num_perm:
            raise ValueError(f"bands × rows = {bands * rows} exceeds num_perm {num_perm}")
        return bands, rows
    if not verify:
        from datasketch.lsh import _optimal_param

        return _optimal_param(threshold, num_perm, 0.5, 0.5)
    for r in range(num_perm, 0, -1):
        b = num_perm // r
        if detection_probability(threshold, b, r) >= recall:
            return b, r
    return num_perm, 1


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Bucket keys, shape ``(documents, bands)`` uint64: each band's slice of the signature folded
    into one 64-bit value (multiply-add, then MurmurHash3's finalizer), seeded by the band index."""
    keys = np.empty((len(sigs), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            h = np.full(len(sigs), band, dtype=np.uint64)
            for column in sigs[:, band * rows : (band + 1) * rows].T:
                h = mix64(h * _COMBINE + column)
            keys[:, band] = h
    return keys
