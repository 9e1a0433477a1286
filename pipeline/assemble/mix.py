"""Mixing in real tokens: per mixing group (a source, or a ``mix_by`` value) ``weight``, ``epochs`` or ``max_tokens``, decided in the build
from every document's token count in the dataset (the tokenizer exists by then).

A group's target T (``target_tokens``) is met as ``floor(T / N)`` copies of every document plus
one more copy of documents taken in the order of their draw ``hash(seed, "mix", id)`` until the
remainder is met to the nearest document. That order is global per group, yet nobody sorts every
document: a histogram of tokens over draw bins (``BIN_BITS``) finds the bin in which the
remainder is crossed, and only that bin's documents are sorted (``boundary_choice``). Ties are
broken by (shard, position), so same config + same ``curated/`` ⇒ same copies on every runner.
Copies of a document are token-identical (FIM and splits derive from its id); documents that
get no copy are drops (stage ``mix``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.config import MixConfig
from pipeline.config_checks import CLUSTER_SIZE
from pipeline.records import stable_hash

REASON = "sampled_out"
BIN_BITS = 20
BINS = 1 << BIN_BITS

DocKey = tuple[int, int, int]  # (draw, shard, position): the order in which documents take the remainder
# Beam codes an ``int`` hint as a signed 64-bit varint, which an unsigned 64-bit draw overflows:
# the hints Beam reads give the draw as ``Any`` (its general coder carries any Python int).
ShuffledDocKey = tuple[Any, int, int]


def target_tokens(mix: Mapping[str, MixConfig], tokens: Mapping[str, int]) -> dict[str, int]:
    """Tokens each mixing group should contribute. Weighted groups split the tokens they hold together
    in proportion to their weights (normalised to sum 1); ``epochs`` multiplies a group,
    ``max_tokens`` caps it; a group without an entry keeps what it has."""
    weighted = {name: m.weight for name, m in mix.items() if m.weight is not None and name in tokens}
    pool = sum(tokens[name] for name in weighted)
    total_weight = sum(weighted.values())
    targets = dict(tokens)
    for name, m in mix.items():
        if name not in tokens:
            continue
        if m.weight is not None:
            targets[name] = round(pool * m.weight / total_weight) if total_weight else 0
        elif m.epochs is not None:
            targets[name] = round(tokens[name] * m.epochs)
        elif m.max_tokens is not None:
            targets[name] = min(tokens[name], int(m.max_tokens))
    return targets


def draws(seed: int, doc_ids: Sequence[str]) -> np.ndarray:
    """Each document's 64-bit mixing draw."""
    return np.fromiter((stable_hash(seed, "mix", i) for i in doc_ids), dtype=np.uint64, count=len(doc_ids))


def draw_bins(draw: np.ndarray) -> np.ndarray:
    return (draw >> np.uint64(64 - BIN_BITS)).astype(np.int64)


@dataclass(frozen=True)
class GroupMix:
    """How one mixing group is mixed: every document ``whole_copies`` times, and once more when drawn in a
    bin below ``boundary_bin``, or in that bin with a key up to ``last_key``."""

    total_tokens: int
    target_tokens: int
    whole_copies: int
    boundary_bin: int = 0
    last_key: DocKey | None = None

    def copies(self, draw: np.ndarray, shard: int, positions: np.ndarray) -> np.ndarray:
        """Copies of a shard's documents (their draws and positions in the shard)."""
        bins = draw_bins(draw)
        extra = bins < self.boundary_bin
        if self.last_key is not None:
            last_draw, last_shard, last_position = self.last_key
            d = np.uint64(last_draw)
            tie = (draw == d) & ((shard < last_shard) | ((shard == last_shard) & (positions <= last_position)))
            extra |= (bins == self.boundary_bin) & ((draw < d) | tie)
        return self.whole_copies + extra.astype(np.int64)


def whole_copies_and_remainder(total: int, target: int) -> tuple[int, int]:
    """Copies every document gets, and the tokens left for one more copy of some."""
    if total <= 0:
        return 0, 0
    whole = math.floor(target / total)
    return whole, target - whole * total


def boundary_bin(histogram: np.ndarray, remainder: int) -> tuple[int, int]:
    """(bin in which the cumulative tokens reach ``remainder``, tokens in the bins below it);
    ``(0, 0)`` when there is nothing to fill."""
    if remainder <= 0:
        return 0, 0
    cumulative = np.cumsum(histogram)
    b = int(np.searchsorted(cumulative, remainder, side="left"))
    b = min(b, len(histogram) - 1)
    return b, int(cumulative[b - 1]) if b > 0 else 0


def boundary_choice(docs: Sequence[tuple[DocKey, int]], needed: int) -> DocKey | None:
    """Of the boundary bin's documents ``(key, tokens)``, the key of the last one to take so that
    the tokens taken come closest to ``needed`` (None: take none of them)."""
    best, best_gap, taken = None, abs(needed), 0
    for key, tokens in sorted(docs):
        taken += tokens
        gap = abs(needed - taken)
        if gap < best_gap:
            best, best_gap = key, gap
        if taken >= needed:
            break
    return best


def plan_group(histogram: np.ndarray, target: int) -> tuple[GroupMix, int]:
    """The group's plan before its boundary bin is resolved, and the tokens that bin must add."""
    total = int(histogram.sum())
    whole, remainder = whole_copies_and_remainder(total, target)
    b, below = boundary_bin(histogram, remainder)
    return GroupMix(total, target, whole, b), remainder - below if remainder > 0 else 0


OTHER_SIZES = "(other)"


def mix_group(source: str, meta: Mapping[str, Any], mix_by: str, buckets: Sequence[tuple[int, float, str]] = ()) -> str:
    """The group a document is mixed in: its source; with ``cluster_size``, the bucket of
    ``buckets`` holding its near-duplicate cluster size (``(other)`` in none); or the value at
    ``meta.<key>`` (dotted into nested meta), ``(none)`` when absent."""
    if mix_by == "source":
        return source
    if mix_by == CLUSTER_SIZE:
        size = meta.get(CLUSTER_SIZE, 1)
        return next((key for low, high, key in buckets if low <= size <= high), OTHER_SIZES)
    value: Any = meta
    for part in mix_by.removeprefix("meta.").split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "(none)" if value is None else str(value)


def describe(mix: Mapping[str, MixConfig], name: str) -> str:
    """The configured rule of a mixing group, as the report shows it."""
    m = mix.get(name)
    if m is None:
        return "all"
    if m.weight is not None:
        return f"weight {m.weight:g}"
    if m.epochs is not None:
        return f"epochs {m.epochs:g}"
    return f"max_tokens {m.max_tokens:,.0f}"
