"""``NearDuplicates``: global near-duplicate clusters with MinHash LSH (docs/architecture.md, "Global decisions on keys only").

Only integers move: band buckets are numpy blocks of ``(bucket key, node)`` and candidate pairs
are node pairs. Verification is exact where it matters: each candidate pair carries its first
document's 32-bit MinHash signature to the second document's unit, which estimates the Jaccard
similarity; a pair whose estimate lies within ``estimate_margin`` of the threshold carries the
second document's shingle set back to the first one's unit for the exact value. Each side loads
its own unit's spill files (``pipeline.io.spill``); band entries, signed pairs and uncertain
pairs travel through the work directory (``pipeline.curate.dedup.partitions``), the runner
shuffling only references to them. Components run on node pairs; the smallest node of a
cluster is its root (the keeper).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from pipeline.config import MinHashConfig
from pipeline.curate.dedup.components import components_for
from pipeline.curate.dedup.minhash import jaccard
from pipeline.curate.dedup.nodes import node_position, node_positions, node_unit, node_units
from pipeline.curate.dedup.partitions import FileSlice, GroupFileSlices, entry_decoder, pack_arrays, unpack_arrays, write_blocks
from pipeline.io.files import FileDoFn
from pipeline.io.spill import read_index, read_shingle_sets, read_signatures, unit_file
from pipeline.records import mix64

REASON = "near_duplicate"
BANDS = "bands"  # the kind of key file band entries are in
BAND_ENTRY = np.dtype([("key", "<u8"), ("node", "<u8"), ("text", "<u8")])  # text: the first half of the document's exact text hash
_NO_PAIRS = np.zeros((0, 2), dtype=np.uint64)


def candidate_pairs(nodes: np.ndarray, key: int, max_all_pairs: int, neighbours: int) -> np.ndarray:
    """Pairs to check in one bucket of distinct sorted ``nodes``: all pairs of a bucket of up to
    ``max_all_pairs`` members; in a larger one, each member with the next ``neighbours`` in a
    cyclic order drawn from the bucket key. Every band draws another order, so a member meets
    different members in each of its buckets (2 × neighbours × bands in all), and pairs similar
    to each other but not to one center still connect (a star would lose them), at a cost linear
    in the bucket size: ``neighbours × n`` pairs."""
    n = len(nodes)
    if n <= max_all_pairs:
        first, second = np.triu_indices(n, 1)
        return np.stack([nodes[first], nodes[second]], axis=1)
    with np.errstate(over="ignore"):
        order = nodes[np.argsort(mix64(nodes ^ np.uint64(key)), kind="stable")]
    width = min(neighbours, n - 1)
    left = np.repeat(order, width)
    right = order[(np.repeat(np.arange(n), width) + np.tile(np.arange(1, width + 1), n)) % n]
    return np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1)


def exact_representatives(entries: np.ndarray) -> np.ndarray:
    """Band entries with each bucket's documents of one text reduced to the smallest node, sorted by
    (key, node). Equal texts have equal signatures, so an exact group shares every bucket and its
    smallest node (its exact keeper) stands for it in each: a page copied a million times enters
    pairing as one node. The group's own edges come from exact dedup (``exact.decision_edge``)."""
    entries = entries[np.lexsort((entries["node"], entries["text"], entries["key"]))]
    first = np.concatenate([[True], (entries["key"][1:] != entries["key"][:-1]) | (entries["text"][1:] != entries["text"][:-1])])
    kept = entries[first]
    return kept[np.lexsort((kept["node"], kept["key"]))]


def bucket_pairs(blocks: Iterable[np.ndarray], max_all_pairs: int, neighbours: int) -> np.ndarray:
    """Distinct ``(smaller, larger)`` node pairs to check among those sharing a bucket, from blocks
    of ``BAND_ENTRY``; documents of one text meet the others once, as one node."""
    parts = list(blocks)
    entries = exact_representatives(np.concatenate(parts)) if parts else np.zeros(0, BAND_ENTRY)
    if len(entries) < 2:
        return _NO_PAIRS
    keys, nodes = entries["key"], entries["node"]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(keys)]]))
    pairs = []
    for n in np.unique(sizes[(sizes > 1) & (sizes <= max_all_pairs)]).tolist():  # all pairs, every bucket of one size at once
        members = nodes[starts[sizes == n][:, None] + np.arange(n)]
        first, second = np.triu_indices(n, 1)
        pairs.append(np.stack([members[:, first].ravel(), members[:, second].ravel()], axis=1))
    large = sizes > max_all_pairs
    pairs += [candidate_pairs(nodes[s : s + n], int(keys[s]), max_all_pairs, neighbours) for s, n in zip(starts[large], sizes[large], strict=True)]
    return np.unique(np.concatenate(pairs), axis=0) if pairs else _NO_PAIRS


def by_unit(pairs: np.ndarray, column: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(unit, pairs)`` groups of ``pairs`` by the unit of the node in ``column``."""
    units = node_units(pairs[:, column])
    for unit in np.unique(units):
        yield int(unit), pairs[units == unit]


def estimate_margin(num_perm: int) -> float:
    """Half-width of the band around the threshold where a MinHash estimate cannot decide a pair:
    four standard errors at the widest (J = 0.5), so an estimate outside it errs with odds ~1e-4."""
    return 4 * 0.5 / num_perm**0.5


class _AttachFirstSignatures(FileDoFn):
    """(unit, distinct pairs whose first node lies there) → (second node's unit, slice of
    ``unit-U.signed-pairs``: those pairs and their first nodes' signatures)."""

    def __init__(self, work_dir: str):
        super().__init__()
        self._work_dir = work_dir

    def process(self, keyed: tuple[int, np.ndarray]) -> Iterator[tuple[int, FileSlice]]:
        unit, pairs = keyed
        sigs = read_signatures(self._work_dir, unit)
        blocks = ((other, pack_arrays(chunk, sigs[node_positions(chunk[:, 0])])) for other, group in by_unit(pairs, 1) for chunk in chunks(group))
        yield from write_blocks(unit_file(self._work_dir, unit, "signed-pairs"), blocks)


PAIRS_PER_BLOCK = 1 << 16  # a block of signed pairs holds at most 32 MiB of signatures (128 permutations)


def chunks(pairs: np.ndarray) -> Iterator[np.ndarray]:
    """``pairs`` in blocks of at most ``PAIRS_PER_BLOCK``, so no worker holds a unit's signed pairs at once."""
    for start in range(0, len(pairs), PAIRS_PER_BLOCK):
        yield pairs[start : start + PAIRS_PER_BLOCK]


class _EstimateJaccard(FileDoFn):
    """(unit, [[pairs, first signatures]]) → pairs whose MinHash estimate clears the threshold by
    the margin (main); pairs within the margin go on as ``uncertain`` (first node's unit, slice of
    ``unit-U.uncertain-pairs``: the pairs and their second nodes' shingle sets) for an exact
    check; the rest are dropped."""

    def __init__(self, work_dir: str, threshold: float, margin: float):
        super().__init__()
        self._work_dir, self._threshold, self._margin = work_dir, threshold, margin

    def process(self, keyed: tuple[int, Iterable[list[np.ndarray]]]) -> Iterator[Any]:
        unit, parts = keyed
        sigs = read_signatures(self._work_dir, unit)
        unsure = []
        for pairs, first in parts:
            estimate = (first == sigs[node_positions(pairs[:, 1])]).mean(axis=1)
            yield from (tuple(pair) for pair in pairs[estimate >= self._threshold + self._margin].tolist())
            unsure.append(pairs[np.abs(estimate - self._threshold) < self._margin])
        unsure_pairs = np.concatenate(unsure) if unsure else _NO_PAIRS
        if not len(unsure_pairs):
            return
        sets = read_shingle_sets(self._work_dir, unit)
        blocks = ((other, pack_shingle_pairs(chunk, [sets[p] for p in node_positions(chunk[:, 1]).tolist()])) for other, group in by_unit(unsure_pairs, 0) for chunk in chunks(group))
        for other, piece in write_blocks(unit_file(self._work_dir, unit, "uncertain-pairs"), blocks):
            yield beam.pvalue.TaggedOutput("uncertain", (other, piece))


def pack_shingle_pairs(pairs: np.ndarray, second_sets: list[np.ndarray]) -> bytes:
    """Node pairs with their second nodes' shingle sets, in one block (``unpack_arrays`` reads it back)."""
    offsets = np.zeros(len(second_sets) + 1, np.int64)
    np.cumsum([len(s) for s in second_sets], out=offsets[1:])
    return pack_arrays(pairs, offsets, np.concatenate(second_sets))


class _ExactJaccard(FileDoFn):
    """(unit, [[pairs, offsets, second shingle sets]]) → the pairs whose exact Jaccard reaches the
    threshold; side output ``checked``: how many pairs each block held."""

    def __init__(self, work_dir: str, threshold: float):
        super().__init__()
        self._work_dir, self._threshold = work_dir, threshold

    def process(self, keyed: tuple[int, Iterable[list[np.ndarray]]]) -> Iterator[Any]:
        unit, parts = keyed
        sets = read_shingle_sets(self._work_dir, unit)
        for pairs, offsets, flat in parts:
            for i, (a, b) in enumerate(pairs.tolist()):
                if jaccard(sets[node_position(a)], flat[offsets[i] : offsets[i + 1]]) >= self._threshold:
                    yield a, b
            yield beam.pvalue.TaggedOutput("checked", len(pairs))


MIN_SHARE_GUARDED = 11  # the share guard watches clusters of more documents than a small source's few duplicates


class _ClusterRemovals(FileDoFn):
    """(keeper node, member nodes) → ``(member, keeper)`` for the members to remove. A cluster of up
    to ``max_cluster`` documents is removed as components found it, unless it holds more than
    ``max_cluster_share`` of one source's documents (and at least ``MIN_SHARE_GUARDED``); in a
    larger one, chained similarity may have joined documents far apart, so each member is
    compared with the keeper (exact Jaccard of their shingle sets, when ``verify`` spilled them)
    and only those at the threshold are removed. Side outputs: ``nodes`` (unit, (position, cluster
    size)) for every document of the cluster as removed, keeper included; ``sizes``; ``giant``
    (keeper id, size found, members removed) for each cluster guarded."""

    def __init__(self, work_dir: str, threshold: float, max_cluster: int, max_share: float, recheck: bool, unit_sources: dict[int, str]):
        super().__init__()
        self._work_dir, self._threshold, self._max_cluster, self._recheck = work_dir, threshold, max_cluster, recheck
        self._max_share, self._unit_sources = max_share, unit_sources
        self._survivors: Counter | None = None  # source → documents that reached dedup, summed from the side input once

    def _too_large(self, nodes: list[int], unit_survivors: Iterable[tuple[str, int]]) -> bool:
        """Over ``max_cluster`` documents, or over ``max_cluster_share`` of a source's documents that
        reached dedup (``unit_survivors``: each unit's source and survivors)."""
        if len(nodes) > self._max_cluster:
            return True
        if len(nodes) < MIN_SHARE_GUARDED:
            return False
        if self._survivors is None:
            self._survivors = Counter()
            for source, n in unit_survivors:
                self._survivors[source] += n
        per_source = Counter(self._unit_sources[node_unit(node)] for node in nodes)
        return any(n > self._max_share * self._survivors[source] for source, n in per_source.items())

    def process(self, keyed: tuple[int, Iterable[int]], unit_survivors: Iterable[tuple[str, int]]) -> Iterator[Any]:
        keeper, grouped = keyed
        members = sorted(grouped)
        removed = members
        if self._recheck and self._too_large([keeper, *members], unit_survivors):
            removed = self._near_keeper(keeper, members)
            keeper_id = read_index(self._work_dir, node_unit(keeper)).ids[node_position(keeper)]
            yield beam.pvalue.TaggedOutput("giant", (keeper_id, len(members) + 1, len(removed)))
        for member in removed:
            yield member, keeper
        if removed:
            yield beam.pvalue.TaggedOutput("sizes", len(removed) + 1)
            for node in (keeper, *removed):
                yield beam.pvalue.TaggedOutput("nodes", (node_unit(node), (node_position(node), len(removed) + 1)))

    def _near_keeper(self, keeper: int, members: list[int]) -> list[int]:
        keeper_set = read_shingle_sets(self._work_dir, node_unit(keeper))[node_position(keeper)]
        near_keeper = []
        for unit in sorted({node_unit(m) for m in members}):
            sets = read_shingle_sets(self._work_dir, unit)
            near_keeper += [m for m in members if node_unit(m) == unit and jaccard(sets[node_position(m)], keeper_set) >= self._threshold]
        return sorted(near_keeper)


class NearDuplicates(beam.PTransform):
    """``{"bands": (partition, FileSlice) of band entries, "exact_edges": (keeper, member) of equal
    texts}`` → ``members`` (``(member node, root node)`` for every
    document a cluster removes; in a cluster over ``max_cluster`` or ``max_cluster_share`` only those near the root),
    ``cluster_nodes`` and ``giant_clusters`` (``_ClusterRemovals``), and ``stats``: ``((kind, detail), n)`` to sum, for
    candidate pairs, pairs checked by exact Jaccard (near the threshold), duplicate pairs, unconverged nodes,
    cluster sizes and giant clusters."""

    def __init__(self, config: MinHashConfig, work_dir: str, unit_sources: dict[int, str], unit_survivors: beam.pvalue.AsSideInput, input_bytes: int):
        super().__init__()
        self._config, self._work_dir, self._input_bytes = config, work_dir, input_bytes
        self._unit_sources, self._unit_survivors = unit_sources, unit_survivors  # unit → its source; each unit's (source, documents that reached dedup)

    def expand(self, inputs):  # {name: PCollection} in and out: no hints, Beam takes only PCollection hints
        cfg = self._config
        by_first = (
            inputs["bands"]
            | "GroupBuckets" >> GroupFileSlices(entry_decoder(BAND_ENTRY))
            | "CandidatePairs" >> beam.FlatMapTuple(lambda _, blocks: by_unit(bucket_pairs(blocks, cfg.max_bucket_pairs, cfg.large_bucket_neighbours), 0))
            | "GroupByFirstUnit" >> beam.GroupByKey()
            | "DistinctPairs" >> beam.MapTuple(lambda unit, blocks: (unit, np.unique(np.concatenate(list(blocks)), axis=0)))
        )
        stats = [by_first | "CountCandidates" >> beam.MapTuple(lambda _, pairs: (("candidate_pairs", ""), len(pairs)))]
        if cfg.verify:
            estimated = (
                by_first
                | "AttachFirstSignatures" >> beam.ParDo(_AttachFirstSignatures(self._work_dir))
                | "GroupBySecondUnit" >> GroupFileSlices(unpack_arrays)
                | "EstimateJaccard" >> beam.ParDo(_EstimateJaccard(self._work_dir, cfg.threshold, estimate_margin(cfg.num_perm))).with_outputs("uncertain", main="edges")
            )
            checked = (
                estimated.uncertain
                | "GroupUncertainByFirstUnit" >> GroupFileSlices(unpack_arrays)
                | "ExactJaccard" >> beam.ParDo(_ExactJaccard(self._work_dir, cfg.threshold)).with_outputs("checked", main="edges")
            )
            edges = (estimated.edges, checked.edges) | "MergeVerified" >> beam.Flatten()
        else:
            edges = by_first | "AllCandidates" >> beam.FlatMapTuple(lambda _, pairs: [(a, b) for a, b in pairs.tolist()])
        graph = (edges, inputs["exact_edges"]) | "WithExactEdges" >> beam.Flatten()
        clustered, unconverged = graph | "Components" >> components_for(self._input_bytes, cfg.component_rounds)
        clusters = (
            clustered
            | "ByKeeper" >> beam.MapTuple(lambda member, keeper: (keeper, member))
            | "GroupClusters" >> beam.GroupByKey()
            | "ClusterRemovals" >> beam.ParDo(_ClusterRemovals(self._work_dir, cfg.threshold, cfg.max_cluster, cfg.max_cluster_share, cfg.verify, self._unit_sources),
                                            self._unit_survivors).with_outputs("nodes", "sizes", "giant", main="members")
        )
        if cfg.verify:
            stats.append(checked.checked | "ExactCheckedKey" >> beam.Map(lambda n: (("exact_checked_pairs", ""), n)))
        stats += [
            edges | "DuplicateKey" >> beam.Map(lambda _: (("duplicate_pairs", ""), 1)),
            unconverged | "UnconvergedKey" >> beam.Map(lambda _: (("unconverged_nodes", ""), 1)),
            clusters.sizes | "ClusterSizeKey" >> beam.Map(lambda n: (("cluster_size", str(n)), 1)),
            clusters.giant | "GiantClusterKey" >> beam.MapTuple(lambda keeper, size, removed: (("giant_cluster", f"{keeper}\t{size}\t{removed}"), 1)),
        ]
        return {
            "members": clusters.members,
            "cluster_nodes": clusters.nodes,
            "giant_clusters": clusters.giant,
            "stats": stats | "MergeStats" >> beam.Flatten(),
        }
