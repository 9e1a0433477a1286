"""Mixing in real tokens: weights within half a point, epochs exact, budgets within one document,
found through the draw histogram exactly as a global sort would, and the same on every run."""
from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from pipeline.assemble.mix import BINS, boundary_choice, draw_bins, draws, target_tokens
from pipeline.assemble.transforms import plan_mix
from pipeline.config import ConfigError, MixConfig, config_from_dict


def corpus(seed: int = 0) -> dict[str, list[tuple[str, int, int]]]:
    """Per shard index: (source, doc id, tokens); sources of unequal size and long-tailed lengths."""
    rng = random.Random(seed)
    sizes = {"a": 3000, "b": 1500, "c": 400}
    shards: dict[int, list[tuple[str, str, int]]] = {}
    for s_index, (source, n) in enumerate(sizes.items()):
        for i in range(n):
            shards.setdefault(s_index * 10 + i % 7, []).append((source, f"{source}/{i}", int(rng.paretovariate(1.5) * 200)))
    return shards


def mixed_tokens(shards: dict[int, list], mix: dict[str, MixConfig], seed: int = 3) -> tuple[dict[str, int], dict[str, int], dict]:
    """What the build's PlanMix / ResolveBoundaries / PackShard steps compute, without Beam:
    (tokens per source in the dataset, copies per document id, plans)."""
    histograms: dict[str, np.ndarray] = {}
    per_shard = {}
    for shard, docs in shards.items():
        d = draws(seed, [doc_id for _, doc_id, _ in docs])
        per_shard[shard] = d
        for (source, _, tokens), b in zip(docs, draw_bins(d)):
            histograms.setdefault(source, np.zeros(BINS, np.int64))[b] += tokens
    plans = plan_mix(histograms, mix)
    boundary: dict[str, list] = {}
    for shard, docs in shards.items():
        for position, ((source, _, tokens), draw, b) in enumerate(zip(docs, per_shard[shard].tolist(), draw_bins(per_shard[shard]).tolist())):
            plan, needed = plans[source]
            if needed > 0 and b == plan.boundary_bin:
                boundary.setdefault(source, []).append(((int(draw), shard, position), tokens))
    final = {s: dataclasses.replace(p, last_key=boundary_choice(boundary.get(s, []), needed)) for s, (p, needed) in plans.items()}
    achieved: dict[str, int] = {}
    copies: dict[str, int] = {}
    for shard, docs in shards.items():
        for position, ((source, doc_id, tokens), draw) in enumerate(zip(docs, per_shard[shard])):
            n = int(final[source].copies(np.asarray([draw], np.uint64), shard, np.asarray([position]))[0])
            copies[doc_id] = n
            achieved[source] = achieved.get(source, 0) + n * tokens
    return achieved, copies, final


def test_weights_land_within_half_a_point_and_runs_are_identical():
    shards = corpus()
    mix = {"a": MixConfig(weight=0.5), "b": MixConfig(weight=0.3), "c": MixConfig(weight=0.2)}
    achieved, copies, _ = mixed_tokens(shards, mix)
    total = sum(achieved.values())
    for source, target in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        assert abs(achieved[source] / total - target) < 0.005, (source, achieved[source] / total)
    assert max(copies.values()) >= 2 and min(copies.values()) == 0  # c is up-sampled, a sampled down
    assert mixed_tokens(shards, mix)[1] == copies


def test_epochs_are_exact_and_budgets_within_one_document():
    shards = corpus()
    tokens = {doc_id: n for docs in shards.values() for _, doc_id, n in docs}
    curated = {s: sum(n for docs in shards.values() for src, _, n in docs if src == s) for s in "abc"}
    achieved, copies, _ = mixed_tokens(shards, {"a": MixConfig(max_tokens=100_000), "b": MixConfig(epochs=2), "c": MixConfig(epochs=1.5)})
    assert achieved["b"] == 2 * curated["b"] and all(copies[d] == 2 for d in tokens if d.startswith("b/"))
    largest = {s: max(n for d, n in tokens.items() if d.startswith(s)) for s in "ac"}
    assert abs(achieved["a"] - 100_000) <= largest["a"]
    assert abs(achieved["c"] - round(1.5 * curated["c"])) <= largest["c"] and {copies[d] for d in tokens if d.startswith("c/")} == {1, 2}


def test_the_histogram_finds_what_a_global_sort_by_draw_finds():
    shards = corpus()
    _, copies, plans = mixed_tokens(shards, {"a": MixConfig(max_tokens=123_457)})
    docs = sorted((int(d), shard, pos, doc_id, n) for shard, items in shards.items()
                  for pos, ((src, doc_id, n), d) in enumerate(zip(items, draws(3, [i for _, i, _ in items]))) if src == "a")
    taken, best, best_gap = 0, 0, 123_457
    for k, (*_, n) in enumerate(docs, start=1):
        taken += n
        if abs(123_457 - taken) < best_gap:
            best, best_gap = k, abs(123_457 - taken)
    chosen = {doc_id for *_, doc_id, _ in docs[:best]}
    assert {d for d, c in copies.items() if d.startswith("a/") and c} == chosen
    assert plans["a"].whole_copies == 0 and copies["b/0"] == 1  # an unmixed source keeps every document once


def test_targets_follow_the_rules():
    tokens = {"a": 600, "b": 300, "c": 100, "d": 50}
    mix = {"a": MixConfig(weight=0.5), "b": MixConfig(weight=0.3), "c": MixConfig(weight=0.2), "d": MixConfig(epochs=2.5)}
    assert target_tokens(mix, tokens) == {"a": 500, "b": 300, "c": 200, "d": 125}
    assert target_tokens({"a": MixConfig(max_tokens=150)}, tokens) == {"a": 150, "b": 300, "c": 100, "d": 50}


def test_boundary_choice_takes_the_prefix_closest_to_what_is_needed():
    docs = [((3, 0, 0), 10), ((1, 0, 1), 5), ((2, 1, 0), 7)]  # sorted by key: 5, 7, 10
    assert boundary_choice(docs, 11) == (2, 1, 0)  # 5 + 7 = 12 is closer than 5
    assert boundary_choice(docs, 2) is None  # taking none (0) beats taking 5
    assert boundary_choice(docs, 100) == (3, 0, 0)


def test_mix_config_is_validated():
    with pytest.raises(ConfigError, match="mix.a: give exactly one of weight, epochs, max_tokens"):
        config_from_dict({"sources": [{"name": "a", "paths": ["x"]}], "mix": {"a": {"weight": 0.5, "epochs": 2}}})
    with pytest.raises(ConfigError, match="mix.zz: no source named"):
        config_from_dict({"sources": [{"name": "a", "paths": ["x"]}], "mix": {"zz": {"epochs": 2}}})
    with pytest.raises(ConfigError, match="mix_by: expected source, cluster_size or meta.<key>"):
        config_from_dict({"sources": [{"name": "a", "paths": ["x"]}], "mix_by": "language"})
    assert config_from_dict({"sources": [{"name": "a", "paths": ["x"]}], "mix_by": "meta.language", "mix": {"en": {"weight": 1}}}).mix_by == "meta.language"


def test_mix_groups_come_from_the_source_or_a_meta_path():
    from pipeline.assemble.mix import mix_group

    assert mix_group("web", {"language": "de"}, "source") == "web"
    assert mix_group("web", {"language": "de"}, "meta.language") == "de"
    assert mix_group("web", {"scores": {"math": 0.9}}, "meta.scores.math") == "0.9"
    assert mix_group("web", {}, "meta.host") == "(none)"


def test_cluster_size_groups_are_the_buckets_that_hold_the_size():
    from pipeline.assemble.mix import mix_group
    from pipeline.config_checks import size_buckets

    buckets = size_buckets(["101+", "1", "2-4", "5-100"])
    assert [mix_group("web", {"cluster_size": n}, "cluster_size", buckets) for n in (2, 4, 5, 100, 101, 10**6)] == ["2-4", "2-4", "5-100", "5-100", "101+", "101+"]
    assert mix_group("web", {}, "cluster_size", buckets) == "1"  # in no cluster
    assert mix_group("web", {"cluster_size": 7}, "cluster_size", size_buckets(["1", "2-4"])) == "(other)"
