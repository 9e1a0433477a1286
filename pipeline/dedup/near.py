"""``NearDedup``: global near-duplicate removal with MinHash LSH (DESIGN.md §5).

Only ids and hashes are shuffled: band buckets hold node keys, candidate pairs are node pairs,
verification joins compact shingle-hash sets, and components run on id pairs. Text moves once,
in the final join that drops the non-keepers.
"""
from __future__ import annotations

from itertools import combinations
from typing import Any, Iterable, Iterator

import apache_beam as beam
import numpy as np

from pipeline.config import MinHashConfig
from pipeline.dedup.components import ConnectedComponents
from pipeline.dedup.minhash import band_keys, choose_bands, jaccard, shingle_hashes, signatures
from pipeline.documents import Document, Drop, stable_hash
from pipeline.stages import DROPS

STAGE = "near_dedup"
REASON = "near_duplicate"
_PRIORITY_OFFSET = 2**31


def node_key(priority: int, doc_id: str) -> str:
    """A string that sorts like ``(priority, id)``: the smallest node of a cluster is its keeper."""
    return f"{priority + _PRIORITY_OFFSET:010d}:{doc_id}"


def node_id(node: str) -> str:
    return node[11:]


def candidate_pairs(members: Iterable[str], max_all_pairs: int) -> Iterator[tuple[str, str]]:
    """Pairs to check in one bucket: all pairs of a small bucket, a star around the smallest otherwise."""
    nodes = sorted(set(members))
    if len(nodes) <= max_all_pairs:
        yield from combinations(nodes, 2)
    else:
        yield from ((nodes[0], v) for v in nodes[1:])


class _Signatures(beam.DoFn):
    """Per batch: band bucket keys (main output) and shingle sets (``shingles``) of each document."""

    def __init__(self, config: MinHashConfig, priorities: dict[str, int], kinds: dict[str, str], seed: int):
        self._config, self._priorities, self._kinds, self._seed = config, priorities, kinds, seed
        self._bands, self._rows = choose_bands(config.threshold, config.num_perm, config.bands, config.rows, config.verify)

    def process(self, batch: list[Document]) -> Iterator[Any]:
        cfg = self._config
        shingles = []
        for doc in batch:
            kind = self._kinds.get(doc.source, "text")
            shingles.append(shingle_hashes(doc.text, cfg.code_ngram if kind == "code" else cfg.ngram, kind))
        sigs = signatures(shingles, cfg.num_perm, self._seed)
        for doc, sig, sh in zip(batch, sigs, shingles):
            node = node_key(self._priorities.get(doc.source, 0), doc.id)
            for key in band_keys(sig, self._bands, self._rows):
                yield key, node
            if cfg.verify:
                yield beam.pvalue.TaggedOutput("shingles", (node, np.unique(sh)))


def _attach_first(joined: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, tuple[str, np.ndarray]]]:
    node, groups = joined
    for shingles in groups["shingles"]:
        for other in groups["pairs"]:
            yield other, (node, shingles)


def _verify(threshold: float):
    def verify(joined: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, str]]:
        node, groups = joined
        for shingles in groups["shingles"]:
            for other, other_shingles in groups["partners"]:
                if jaccard(shingles, other_shingles) >= threshold:
                    yield (other, node)
    return verify


class VerifyPairs(beam.PTransform):
    """Keeps candidate pairs whose exact Jaccard similarity of shingle sets reaches the threshold."""

    def __init__(self, threshold: float):
        super().__init__()
        self._threshold = threshold

    def expand(self, inputs: tuple[beam.PCollection, beam.PCollection]) -> beam.PCollection:
        pairs, shingles = inputs
        with_first = (
            {"pairs": pairs | "BySmaller" >> beam.Map(lambda p: (p[0], p[1])), "shingles": shingles}
            | "JoinSmaller" >> beam.CoGroupByKey()
            | "AttachSmaller" >> beam.FlatMap(_attach_first)
        )
        return (
            {"partners": with_first, "shingles": shingles}
            | "JoinLarger" >> beam.CoGroupByKey()
            | "ExactJaccard" >> beam.FlatMap(_verify(self._threshold))
        )


PREVIEW_CHARS = 200


class _SplitNearDuplicates(beam.DoFn):
    """Keeps documents outside clusters and cluster roots; drops the other members.

    Every clustered document (root included) also goes to ``previews`` for the sampled clusters.
    """

    def process(self, joined: tuple[str, dict[str, list[Any]]]) -> Iterator[Any]:
        _, groups = joined
        roots = groups["root"]
        for doc in groups["docs"]:
            if not roots:
                yield doc
                continue
            yield beam.pvalue.TaggedOutput("previews", (roots[0], (doc.id, doc.text[:PREVIEW_CHARS])))
            if roots[0] == doc.id:
                yield doc
            else:
                yield beam.pvalue.TaggedOutput(DROPS, Drop(doc.id, doc.source, STAGE, REASON, roots[0]))


class DuplicatePairs(beam.PTransform):
    """Documents → ``candidates`` (node pairs sharing an LSH bucket) and ``duplicates`` (those
    verified by exact Jaccard, or all candidates when ``verify`` is off)."""

    def __init__(self, config: MinHashConfig, priorities: dict[str, int], kinds: dict[str, str], seed: int):
        super().__init__()
        self._config, self._priorities, self._kinds, self._seed = config, priorities, kinds, seed

    def expand(self, docs: beam.PCollection) -> dict[str, beam.PCollection]:
        cfg = self._config
        hashed = (
            docs
            | "BatchForMinHash" >> beam.BatchElements(min_batch_size=64, max_batch_size=512)
            | "Signatures" >> beam.ParDo(_Signatures(cfg, self._priorities, self._kinds, self._seed)).with_outputs("shingles", main="bands")
        )
        candidates = (
            hashed.bands
            | "GroupBuckets" >> beam.GroupByKey()
            | "CandidatePairs" >> beam.FlatMapTuple(lambda _, members: candidate_pairs(members, cfg.max_bucket_pairs))
            | "DistinctPairs" >> beam.Distinct()
        )
        duplicates = (candidates, hashed.shingles) | "VerifyPairs" >> VerifyPairs(cfg.threshold) if cfg.verify else candidates
        return {"candidates": candidates, "duplicates": duplicates}


class NearDedup(beam.PTransform):
    """Documents → ``documents`` (kept), ``drops`` (near duplicates, with their keeper's id),
    ``stats`` (count keys: candidate and verified pairs, cluster sizes, unconverged nodes) and
    ``samples`` (a few whole clusters, chosen by a hash of their keeper, with text previews)."""

    def __init__(self, config: MinHashConfig, priorities: dict[str, int], kinds: dict[str, str], seed: int, sample_clusters: int = 5):
        super().__init__()
        self._config, self._priorities, self._kinds, self._seed = config, priorities, kinds, seed
        self._sample_clusters = sample_clusters

    def expand(self, docs: beam.PCollection) -> dict[str, beam.PCollection]:
        seed = self._seed
        pairs = docs | "DuplicatePairs" >> DuplicatePairs(self._config, self._priorities, self._kinds, self._seed)
        members, unconverged = pairs["duplicates"] | "Components" >> ConnectedComponents(self._config.component_rounds)
        roots = members | "Roots" >> beam.MapTuple(lambda _, root: node_id(root)) | "DistinctRoots" >> beam.Distinct()
        root_of = (
            members | "RootOfMember" >> beam.MapTuple(lambda member, root: (node_id(member), node_id(root))),
            roots | "RootOfRoot" >> beam.Map(lambda root: (root, root)),
        ) | "MergeRootOf" >> beam.Flatten()
        split = (
            {"docs": docs | "DocsById" >> beam.Map(lambda d: (d.id, d)), "root": root_of}
            | "JoinRoots" >> beam.CoGroupByKey()
            | "SplitNearDuplicates" >> beam.ParDo(_SplitNearDuplicates()).with_outputs(DROPS, "previews", main="documents")
        )
        sampled_roots = roots | "SampleRoots" >> beam.combiners.Top.Smallest(self._sample_clusters, key=lambda r: stable_hash(seed, "cluster-sample", r))
        samples = (
            split.previews
            | "InSampledClusters" >> beam.Filter(lambda preview, chosen: preview[0] in chosen, beam.pvalue.AsSingleton(sampled_roots))
            | "GroupSampledClusters" >> beam.GroupByKey()
            | "ClusterSample" >> beam.MapTuple(lambda root, members: {"keeper": root, "members": [{"id": i, "text": t} for i, t in sorted(members)]})
        )
        cluster_sizes = (
            members
            | "RootCounts" >> beam.MapTuple(lambda _, root: (root, 1))
            | "ClusterMembers" >> beam.CombinePerKey(sum)
            | "ClusterSizeKey" >> beam.MapTuple(lambda _, n: ("cluster_size", str(n + 1)))
        )
        stats = (
            pairs["candidates"] | "CandidateKey" >> beam.Map(lambda _: ("candidate_pairs", "")),
            pairs["duplicates"] | "DuplicateKey" >> beam.Map(lambda _: ("duplicate_pairs", "")),
            unconverged | "UnconvergedKey" >> beam.FlatMap(lambda n: [("unconverged_nodes", "")] * n),
            cluster_sizes,
            split.drops | "SourcePairKey" >> beam.Map(lambda d: ("duplicate_of", f"{d.source} -> {d.detail.split('/', 1)[0]}")),
        ) | "MergeStats" >> beam.Flatten()
        return {"documents": split.documents, "drops": split.drops, "stats": stats, "samples": samples}
