"""Mixing by weight, epochs and token budget: exact rates, deterministic sampling, repeat ids."""
from __future__ import annotations

import random

from collections import Counter

import pytest

from pipeline.config import ConfigError, MixConfig, SourceConfig, config_from_dict
from pipeline.documents import Document
from pipeline.mix import BYTES_PER_TOKEN, copies, estimated_tokens, mixed_copies, sampling_rates

SOURCES = [SourceConfig("a", ["x"]), SourceConfig("b", ["y"]), SourceConfig("c", ["z"])]


def test_rates_for_weights_epochs_and_budgets():
    tokens = {"a": 600.0, "b": 300.0, "c": 100.0, "d": 50.0}
    rates = sampling_rates({"a": MixConfig(weight=0.5), "b": MixConfig(weight=0.3), "c": MixConfig(weight=0.2), "d": MixConfig(epochs=2.5)}, tokens)
    assert rates["a"] == pytest.approx(0.5 * 1000 / 600) and rates["c"] == pytest.approx(2.0) and rates["d"] == 2.5
    assert sampling_rates({"a": MixConfig(max_tokens=150)}, tokens) == {"a": 0.25, "b": 1.0, "c": 1.0, "d": 1.0}


def test_copies_follow_the_rate_deterministically():
    assert [copies(2.0, 1, f"d{i}") for i in range(5)] == [2] * 5
    n = sum(copies(0.3, 1, f"d{i}") for i in range(20000))
    assert abs(n / 20000 - 0.3) < 0.01
    assert [copies(1.5, 9, f"d{i}") for i in range(50)] == [copies(1.5, 9, f"d{i}") for i in range(50)]


def test_mix_config_is_validated():
    with pytest.raises(ConfigError, match="mix.a: give exactly one of weight, epochs, max_tokens"):
        config_from_dict({"sources": [{"name": "a", "paths": ["x"]}], "mix": {"a": {"weight": 0.5, "epochs": 2}}})
    with pytest.raises(ConfigError, match="mix.zz: no source named"):
        config_from_dict({"sources": [{"name": "a", "paths": ["x"]}], "mix": {"zz": {"epochs": 2}}})


def corpus(n_per_source: int) -> list[Document]:
    rng = random.Random(0)
    sizes = {"a": 600, "b": 300, "c": 100}  # unequal sources: a holds 60% of the bytes
    return [Document(f"{s}/{i}", "x" * rng.randint(size // 2, size * 3 // 2), s, {}) for s, size in sizes.items() for i in range(n_per_source)]


def mixed(docs: list[Document], mix: dict) -> list[tuple[str, str, int]]:
    """What curate's apply step writes for these documents: rates from their bytes, then copies."""
    size: Counter = Counter()
    for d in docs:
        size[d.source] += len(d.text.encode())
    rates = sampling_rates(mix, estimated_tokens(size, SOURCES, BYTES_PER_TOKEN))
    return [(c.id, c.source, len(c.text)) for d in docs for c in mixed_copies(d, rates[d.source], seed=3)]


def test_weights_land_within_one_percent_and_runs_are_identical():
    docs = corpus(6000)
    mix = {"a": MixConfig(weight=0.5), "b": MixConfig(weight=0.3), "c": MixConfig(weight=0.2)}
    first = mixed(docs, mix)
    assert first == mixed(docs, mix)
    total = sum(n for _, _, n in first)
    for source, target in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        share = sum(n for _, s, n in first if s == source) / total
        assert abs(share - target) < 0.01 * target + 0.002, (source, share)
    ids = [i for i, _, _ in first]
    assert len(ids) == len(set(ids)) and any("#r1" in i for i in ids)  # c is up-sampled with derived ids


def test_epochs_two_doubles_a_source_exactly():
    docs = corpus(50)
    out = mixed(docs, {"b": MixConfig(epochs=2)})
    b = sorted(i for i, s, _ in out if s == "b")
    assert len(b) == 100 and sorted(i for i in b if "#r1" not in i) == sorted(d.id for d in docs if d.source == "b")
    assert sum(1 for _, s, _ in out if s == "a") == 50
