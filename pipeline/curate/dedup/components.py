"""Connected components of the duplicate graph, Beam-native (Kiveris et al. 2014).

Alternating large-star and small-star rounds turn every component into a star around its
smallest node; each round is two GroupByKeys over id pairs, never text, so no worker holds the
graph. Rounds are unrolled (a Beam graph is static); ``CheckConverged`` gives the nodes that
are still both a centre and a leaf, which must be none for the stars to be final.

A small run's duplicate graph fits one worker many times over (15,665 edges at 1 GB), where the
rounds cost two stages each whatever their data: ``components_for`` gives such runs
``WholeGraphComponents``, union-find in one worker, with the same result (the smallest node of
each component is its root either way).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam

Edge = tuple[int, int]  # (smaller node, larger node): nodes as ``pipeline.curate.dedup.nodes`` makes them
WHOLE_GRAPH_MAX_INPUT_BYTES = 2 << 30  # runs up to this much input find components in one worker


def large_star(node: int, neighbours: Iterable[int]) -> Iterator[Edge]:
    """Links every larger neighbour of ``node`` to the smallest node of its neighbourhood."""
    nbrs = set(neighbours)
    smallest = min(nbrs | {node})
    for v in nbrs:
        if v > node:
            yield (smallest, v)


def small_star(node: int, smaller_neighbours: Iterable[int]) -> Iterator[Edge]:
    """Links ``node`` and its smaller neighbours to the smallest of them."""
    group = set(smaller_neighbours) | {node}
    smallest = min(group)
    for v in group:
        if v != smallest:
            yield (smallest, v)


def _both_directions(edge: Edge) -> Iterator[Edge]:
    yield edge
    yield (edge[1], edge[0])


class StarRound(beam.PTransform):
    """One large-star then one small-star round over undirected edges ``(smaller, larger)``.

    Both steps read their neighbourhoods as sets, so repeated edges need no Distinct in between.
    """

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        large = (
            edges
            | "BothDirections" >> beam.FlatMap(_both_directions)
            | "GroupNeighbours" >> beam.GroupByKey()
            | "LargeStar" >> beam.FlatMapTuple(large_star)
        )
        return (
            large
            | "ByLarger" >> beam.Map(lambda e: (e[1], e[0]))
            | "GroupSmallerNeighbours" >> beam.GroupByKey()
            | "SmallStar" >> beam.FlatMapTuple(small_star)
        )


def _roles(edge: Edge) -> Iterator[tuple[int, str]]:
    yield edge[0], "centre"
    yield edge[1], "leaf"


class CheckConverged(beam.PTransform):
    """The nodes that are both a centre and a leaf (none when every component is a star)."""

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        return (
            edges
            | "Roles" >> beam.FlatMap(_roles)
            | "GroupRoles" >> beam.GroupByKey()
            | "BothRoles" >> beam.FlatMapTuple(lambda node, roles: [node] if len(set(roles)) > 1 else [])
        )


class ConnectedComponents(beam.PTransform):
    """Undirected edges → ``(node, root)`` for every non-root node (root = smallest node), and the
    nodes not yet converged to a star (``CheckConverged``)."""

    def __init__(self, rounds: int):
        super().__init__()
        self._rounds = rounds

    def expand(self, edges: beam.PCollection):  # (members, unconverged): no hint, Beam takes only PCollection hints
        for i in range(self._rounds):
            edges = edges | f"Round{i + 1}" >> StarRound()
        edges = edges | "DistinctEdges" >> beam.Distinct()
        unconverged = edges | "CheckConverged" >> CheckConverged()
        members = edges | "MemberToRoot" >> beam.Map(lambda e: (e[1], e[0]))
        return members, unconverged


class WholeGraphComponents(beam.PTransform):
    """``ConnectedComponents``' outputs from union-find over all edges in one worker (nothing is
    left unconverged): for duplicate graphs that fit one worker."""

    def expand(self, edges: beam.PCollection):  # (members, unconverged): no hint, Beam takes only PCollection hints
        members = (
            edges
            | "AllEdges" >> beam.combiners.ToList()
            | "UnionFind" >> beam.FlatMap(lambda all_edges: sorted(union_find_components(all_edges).items()))
        )
        return members, members | "NoneUnconverged" >> beam.FlatMap(lambda _: [])


def components_for(input_bytes: int, rounds: int) -> beam.PTransform:
    """The components transform for a run reading ``input_bytes``."""
    return WholeGraphComponents() if input_bytes <= WHOLE_GRAPH_MAX_INPUT_BYTES else ConnectedComponents(rounds)


def union_find_components(edges: Iterable[Edge]) -> dict[int, int]:
    """Single-machine components (node → smallest node, for every node that is not a root)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent if find(x) != x}
