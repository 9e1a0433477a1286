"""MinHash signatures, components and the NearDedup transform."""
from __future__ import annotations

import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to
from datasketch import MinHash

from pipeline.config import MinHashConfig
from pipeline.dedup.components import ConnectedComponents, large_star, small_star, union_find_components
from pipeline.dedup.minhash import jaccard, shingle_hashes, shingle_set, shingle_words, signatures
from pipeline.dedup.near import NearDedup, candidate_pairs, node_id, node_key
from pipeline.documents import Document
from pipeline.runner import create_pipeline
from tests.conftest import WORDS

IN_MEMORY = {"runner": "FnApiRunner", "direct_running_mode": "in_memory", "direct_num_workers": 1}


def test_signatures_equal_datasketch_affine64():
    texts = ["the quick brown fox jumps over the lazy dog " * 3, "a b", "数据管道处理中文文本和日本語"]
    shingles = [shingle_hashes(t, 5) for t in texts]
    sigs = signatures(shingles, 64, seed=11)
    for sh, sig in zip(shingles, sigs):
        m = MinHash(num_perm=64, seed=11, hashfunc=lambda x: x, scheme="affine64")
        m.update_batch([int(x) for x in sh])
        assert np.array_equal(m.hashvalues.astype(np.uint64), sig)


def test_shingling_folds_case_punctuation_and_splits_cjk():
    assert shingle_words("Hello,  WORLD!\nhello") == ["hello", "world", "hello"]
    assert shingle_words("中文abc") == ["中", "文", "abc"]
    assert shingle_words("x.append(foo_bar1)", kind="code") == ["x", "append", "foo_bar1"]
    assert np.array_equal(shingle_set("A b, c d e f", 5), shingle_set("a B c d  e. F", 5))
    assert len(shingle_hashes("one two", 5)) == 1  # fewer words than n: one shingle


def test_exact_jaccard():
    a = shingle_set(" ".join(WORDS), 2)
    b = shingle_set(" ".join(WORDS[:-3]), 2)
    assert jaccard(a, a) == 1.0
    assert jaccard(a, b) == pytest.approx((len(WORDS) - 4) / (len(WORDS) - 1))


def test_star_steps():
    assert sorted(large_star("c", ["a", "d", "e"])) == [("a", "d"), ("a", "e")]
    assert sorted(small_star("d", ["b", "c"])) == [("b", "c"), ("b", "d")]
    assert list(candidate_pairs(["c", "a", "b"], 32)) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert list(candidate_pairs(["c", "a", "b"], 2)) == [("a", "b"), ("a", "c")]
    assert node_key(-1, "web/x") < node_key(0, "a/a") and node_id(node_key(3, "web/x")) == "web/x"


def test_components_match_union_find_on_random_graphs():
    rng = random.Random(3)
    nodes = [f"n{i:03d}" for i in range(120)]
    edges = {tuple(sorted(rng.sample(nodes, 2))) for _ in range(110)}
    edges |= {(f"n{i:03d}", f"n{i + 1:03d}") for i in range(60, 90)}  # a long chain
    expected = sorted(union_find_components(edges).items())
    with create_pipeline(IN_MEMORY) as p:
        members, unconverged = p | beam.Create(sorted(edges)) | ConnectedComponents(rounds=8)
        assert_that(members, equal_to(expected), label="Members")
        assert_that(unconverged, equal_to([0]), label="Converged")


def near_copy(text: str, rng: random.Random, edits: int) -> str:
    words = text.split()
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


def test_near_dedup_keeps_one_per_cluster_and_resolves_chains():
    rng = random.Random(5)
    base = [" ".join(rng.choice(WORDS) for _ in range(300)) for _ in range(6)]
    docs = [Document(f"s/a_orig{i}", t, "s", {}) for i, t in enumerate(base)]
    docs += [Document(f"s/b_copy{i}", near_copy(base[i], rng, 3), "s", {}) for i in range(3)]
    chain_mid = near_copy(base[5], rng, 6)  # base5 ~ mid ~ far
    # ids sort originals first: the smallest id of a cluster is its keeper
    chain_far = near_copy(chain_mid, rng, 6)
    docs += [Document("s/c_chain_mid", chain_mid, "s", {}), Document("s/d_chain_far", chain_far, "s", {})]
    assert jaccard(shingle_set(base[5], 5), shingle_set(chain_far, 5)) < 0.7 <= jaccard(shingle_set(chain_mid, 5), shingle_set(chain_far, 5))
    config = MinHashConfig(threshold=0.7)
    with create_pipeline(IN_MEMORY) as p:
        out = p | beam.Create(docs) | NearDedup(config, {"s": 0}, {"s": "text"}, seed=1)
        assert_that(out["documents"] | beam.Map(lambda d: d.id), equal_to([f"s/a_orig{i}" for i in range(6)]), label="Kept")
        assert_that(
            out["drops"] | beam.Map(lambda d: (d.id, d.reason, d.detail)),
            equal_to([("s/b_copy0", "near_duplicate", "s/a_orig0"), ("s/b_copy1", "near_duplicate", "s/a_orig1"), ("s/b_copy2", "near_duplicate", "s/a_orig2"),
                      ("s/d_chain_far", "near_duplicate", "s/a_orig5"),
                      ("s/c_chain_mid", "near_duplicate", "s/a_orig5")]),
            label="Dropped",
        )
