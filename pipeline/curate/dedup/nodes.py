"""Dedup nodes: one 64-bit integer per document, ordered the way keepers are chosen.

``priority rank (8 bits) | work unit (24 bits) | position in the unit (32 bits)``: the smallest
node of a duplicate group is its keeper, so the preferred source wins and, within a source, the
document read first. Integers keep every dedup shuffle small (8 bytes a document) and let
numpy sort and group them; a node names where its document lies, so a decision goes straight
back to the unit that holds the text.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

UNIT_BITS = 24
POSITION_BITS = 32
MAX_RANKS = 128


def priority_ranks(priorities: Mapping[str, int]) -> dict[str, int]:
    """Source → rank of its priority (0 = preferred); equal priorities share a rank."""
    distinct = sorted(set(priorities.values()))
    if len(distinct) > MAX_RANKS:
        raise ValueError(f"at most {MAX_RANKS} distinct source priorities are supported, got {len(distinct)}")
    return {name: distinct.index(p) for name, p in priorities.items()}


def make_node(rank: int, unit: int, position: int) -> int:
    return (rank << (UNIT_BITS + POSITION_BITS)) | (unit << POSITION_BITS) | position


def node_unit(node: int) -> int:
    return (int(node) >> POSITION_BITS) & ((1 << UNIT_BITS) - 1)


def node_position(node: int) -> int:
    return int(node) & ((1 << POSITION_BITS) - 1)


def node_units(nodes: np.ndarray) -> np.ndarray:
    """``node_unit`` of a uint64 array."""
    return (nodes >> np.uint64(POSITION_BITS)) & np.uint64((1 << UNIT_BITS) - 1)


def node_positions(nodes: np.ndarray) -> np.ndarray:
    """``node_position`` of a uint64 array, as indices."""
    return (nodes & np.uint64((1 << POSITION_BITS) - 1)).astype(np.int64)
