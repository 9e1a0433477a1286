"""MinHash signatures, LSH buckets, exact-duplicate groups, nodes and components."""
from __future__ import annotations

import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import MinHashConfig
from pipeline.curate.analyze import UnitSigner
from pipeline.curate.dedup.components import (
    WHOLE_GRAPH_MAX_INPUT_BYTES,
    ConnectedComponents,
    WholeGraphComponents,
    components_for,
    large_star,
    small_star,
    union_find_components,
)
from pipeline.curate.dedup.exact import ENTRY, exact_duplicates, text_hash
from pipeline.curate.dedup.minhash import band_keys, jaccard, shingle_hashes, shingle_set, shingle_words, signatures
from pipeline.curate.dedup.near import BAND_ENTRY, bucket_pairs, candidate_pairs, exact_representatives
from pipeline.curate.dedup.nodes import make_node, node_position, node_positions, node_unit, node_units, priority_ranks
from pipeline.curate.dedup.partitions import (
    PARTITIONS,
    GroupFileSlices,
    entry_decoder,
    key_file,
    key_slices,
    pack_arrays,
    read_keys,
    read_slice,
    sorted_by_partition,
    unpack_arrays,
    write_blocks,
    write_keys,
)
from pipeline.engine.runner import create_pipeline
from tests.conftest import WORDS

IN_MEMORY = {"runner": "FnApiRunner", "direct_running_mode": "in_memory", "direct_num_workers": 1}


@pytest.mark.slow
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
    assert len(shingle_hashes("!!! ??? ...", 5)) == 0 and len(shingle_hashes("🙂🙂 —— ###", 5)) == 0  # no words: no shingle


def test_documents_without_words_get_no_bucket_keys():
    signer = UnitSigner(MinHashConfig(), "text", seed=1)
    for text in ["!!! ??? ...", " ".join(WORDS), "🙂🙂 —— ###", " ".join(WORDS[:20])]:
        signer.add(text)
    signer.flush()
    (positions,) = signer.positions
    assert positions.tolist() == [1, 3] and signer.band_keys[0].shape[0] == 2 and len(signer.shingle_sets) == 4


def test_exact_jaccard():
    a = shingle_set(" ".join(WORDS), 2)
    b = shingle_set(" ".join(WORDS[:-3]), 2)
    assert jaccard(a, a) == 1.0
    assert jaccard(a, b) == pytest.approx((len(WORDS) - 4) / (len(WORDS) - 1))


def test_star_steps():
    assert sorted(large_star(3, [1, 4, 5])) == [(1, 4), (1, 5)]
    assert sorted(small_star(4, [2, 3])) == [(2, 3), (2, 4)]


def test_candidate_pairs_are_all_pairs_of_small_buckets_and_linear_in_large_ones():
    assert candidate_pairs(np.array([1, 2, 3], np.uint64), 7, 32, 16).tolist() == [[1, 2], [1, 3], [2, 3]]
    nodes = np.arange(1000, dtype=np.uint64)
    pairs = candidate_pairs(nodes, 7, 32, 16)
    assert len(pairs) == 1000 * 16 and (pairs[:, 0] < pairs[:, 1]).all()  # linear in the bucket size
    assert np.bincount(pairs.ravel().astype(np.int64)).min() == 32  # every member meets 32 others
    assert not np.array_equal(np.unique(pairs, axis=0), np.unique(candidate_pairs(nodes, 8, 32, 16), axis=0))  # each bucket its own order


def test_nodes_order_by_priority_then_unit_then_position():
    ranks = priority_ranks({"web": 5, "books": -1, "code": 5})
    assert ranks == {"web": 1, "books": 0, "code": 1}
    node = make_node(ranks["web"], 70000, 12)
    assert node_unit(node) == 70000 and node_position(node) == 12
    assert make_node(0, 9, 9) < make_node(1, 0, 0) and make_node(1, 2, 0) < make_node(1, 3, 0)
    nodes = np.array([node, make_node(0, 5, 2**32 - 1)], dtype=np.uint64)
    assert node_units(nodes).tolist() == [70000, 5] and node_positions(nodes).tolist() == [12, 2**32 - 1]


def test_exact_duplicates_name_the_smallest_node():
    entries = np.zeros(5, ENTRY)
    entries["h1"], entries["h2"], entries["node"] = [1, 1, 2, 1, 1], [7, 7, 7, 8, 7], [30, 10, 40, 50, 20]
    pairs = exact_duplicates([entries[:2], entries[2:]])
    assert sorted(map(tuple, pairs.tolist())) == [(20, 10), (30, 10)]
    assert text_hash("a") == text_hash("a") != text_hash("b")


def test_key_partitions_read_back_each_units_entries_grouped_by_partition(tmp_path):
    """Units' entries written in partition order and read back per partition are exactly the
    entries of each partition, whatever the units' sizes (an empty unit included)."""
    rng = np.random.default_rng(3)
    units, slices = {}, []
    for unit, n in enumerate([0, 1, 5, 300, 4000]):
        entries = np.zeros(n, BAND_ENTRY)
        entries["key"] = rng.integers(0, 1 << 63, n, dtype=np.uint64)
        entries["node"] = make_node(0, unit, 0) + np.arange(n, dtype=np.uint64)
        units[unit] = sorted_by_partition(entries, entries["key"])
        write_keys(str(tmp_path), unit, "bands", units[unit])
        assert np.array_equal(read_keys(str(tmp_path), unit, "bands", BAND_ENTRY), units[unit])
        slices += key_slices(key_file(str(tmp_path), unit, "bands"), units[unit], units[unit]["key"])
    with create_pipeline(IN_MEMORY) as p:
        grouped = (p | beam.Create(slices) | GroupFileSlices(entry_decoder(BAND_ENTRY))
                   | beam.MapTuple(lambda part, blocks: (part, sorted(map(tuple, np.concatenate(list(blocks)).tolist())))))
        everything = np.concatenate(list(units.values()))
        expected = [(part, sorted(map(tuple, everything[everything["key"] % PARTITIONS == part].tolist())))
                    for part in np.unique(everything["key"] % np.uint64(PARTITIONS)).tolist()]
        assert_that(grouped, equal_to(expected))
    with pytest.raises(ValueError, match="dedup entries are not in partition order"):
        list(key_slices("unit-4", units[4], units[4]["key"][::-1]))


def test_blocks_written_to_one_file_read_back_by_key(tmp_path):
    arrays = {3: (np.arange(6, dtype=np.uint64).reshape(3, 2), np.ones((3, 4), np.uint32)), 1: (np.zeros((0, 2), np.uint64),), 7: (np.array([5], np.int64),)}
    refs = list(write_blocks(str(tmp_path / "blocks"), ((key, pack_arrays(*a)) for key, a in arrays.items())))
    assert [key for key, _ in refs] == [3, 1, 7]
    for key, piece in refs:
        back = unpack_arrays(read_slice(piece))
        assert len(back) == len(arrays[key]) and all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(back, arrays[key], strict=True))


def test_bucket_pairs_are_distinct_and_linear_for_big_buckets():
    def block(rows):
        b = np.zeros(len(rows), BAND_ENTRY)
        b["key"], b["node"] = zip(*rows)
        b["text"] = b["node"]  # every document its own text
        return b
    small = [(1, 5), (1, 3), (1, 4), (2, 3), (2, 5), (2, 3), (9, 8)]
    assert bucket_pairs([block(small)], 32, 16).tolist() == [[3, 4], [3, 5], [4, 5]]
    big = [(1, n) for n in range(10, 20)]
    ring = bucket_pairs([block(big[:4]), block(big[4:])], 3, 1)  # one neighbour each, in the bucket's cyclic order
    assert len(ring) == 10 and sorted(np.bincount(ring.ravel().astype(np.int64))[10:].tolist()) == [2] * 10


def test_documents_of_one_text_enter_pairing_as_their_smallest_node():
    """A bucket of a million copies of one page and two other pages pairs three nodes: the copies'
    smallest node (their exact keeper) stands for all of them, in every bucket they share."""
    copies = np.zeros(1_000_000, BAND_ENTRY)
    copies["key"], copies["node"], copies["text"] = 7, np.arange(100, 1_000_100), 555
    others = np.zeros(3, BAND_ENTRY)
    others["key"], others["node"], others["text"] = (7, 7, 8), (50, 2_000_000, 60), (1, 2, 1)
    assert bucket_pairs(np.array_split(np.concatenate([copies, others]), 4), 32, 2).tolist() == [[50, 100], [50, 2_000_000], [100, 2_000_000]]
    assert exact_representatives(np.concatenate([others, copies[:5]]))[["key", "node"]].tolist() == [(7, 50), (7, 100), (7, 2_000_000), (8, 60)]


def test_bucket_pairs_are_the_union_of_each_buckets_candidate_pairs():
    """Buckets of one size are paired together, at once: the result is what pairing each bucket alone gives."""
    rng = np.random.default_rng(5)
    for trial in range(20):
        n = int(rng.integers(2, 5000))
        entries = np.zeros(n, BAND_ENTRY)
        entries["key"] = rng.integers(0, max(1, n // int(rng.integers(1, 40))), n)
        entries["node"] = rng.choice(1 << 40, n, replace=False)
        entries["text"] = entries["node"]
        distinct = np.unique(entries)
        expected = set()
        for key in np.unique(distinct["key"]).tolist():
            members = distinct["node"][distinct["key"] == key]
            if len(members) > 1:
                expected |= set(map(tuple, candidate_pairs(members, key, 8, 4).tolist()))
        assert set(map(tuple, bucket_pairs(np.array_split(entries, 3), 8, 4).tolist())) == expected, trial


@pytest.mark.parametrize("components", [ConnectedComponents(rounds=8), WholeGraphComponents()], ids=["rounds", "whole graph"])
def test_components_match_union_find_on_random_graphs(components):
    rng = random.Random(3)
    nodes = list(range(1000, 1120))
    edges = {tuple(sorted(rng.sample(nodes, 2))) for _ in range(110)}
    edges |= {(1000 + i, 1001 + i) for i in range(60, 90)}  # a long chain
    expected = sorted(union_find_components(edges).items())
    assert len(expected) > 60
    with create_pipeline(IN_MEMORY) as p:
        members, unconverged = p | beam.Create(sorted(edges)) | components
        assert_that(members, equal_to(expected), label="Members")
        assert_that(unconverged, equal_to([]), label="Converged")


def test_small_runs_find_components_in_one_worker_and_large_runs_in_rounds():
    assert isinstance(components_for(WHOLE_GRAPH_MAX_INPUT_BYTES, 8), WholeGraphComponents)
    assert isinstance(components_for(WHOLE_GRAPH_MAX_INPUT_BYTES + 1, 8), ConnectedComponents)


def test_band_keys_collide_only_for_equal_bands():
    rng = random.Random(5)
    text = " ".join(rng.choice(WORDS) for _ in range(300))
    sigs = signatures([shingle_hashes(t, 5) for t in (text, text + " extra words here", " ".join(WORDS))], 128, seed=1)
    keys = band_keys(sigs, 16, 8)
    equal_bands = [(sigs[0, b * 8 : b * 8 + 8] == sigs[1, b * 8 : b * 8 + 8]).all() for b in range(16)]
    assert (keys[0] == keys[1]).tolist() == equal_bands and any(equal_bands)
    assert not (keys[0] == keys[2]).any()


def test_large_buckets_keep_pair_recall_in_a_cluster_straddling_the_threshold():
    """400 documents in 20 families: most similar pairs are not similar to the bucket's smallest
    member. With buckets far over ``max_bucket_pairs``, every similar pair still ends in one cluster."""
    from bench.corpus import straddling_cluster
    from pipeline.curate.dedup.minhash import choose_bands

    texts = straddling_cluster(400, seed=5, families=20)
    sets = [shingle_set(t, 5) for t in texts]
    sigs = signatures([shingle_hashes(t, 5) for t in texts], 128, 1234)
    bands, rows = choose_bands(0.8, 128)
    keys = band_keys(sigs, bands, rows)
    entries = np.zeros(keys.size, BAND_ENTRY)
    entries["key"], entries["node"] = keys.ravel(), np.repeat(np.arange(len(texts), dtype=np.uint64), bands)
    entries["text"] = entries["node"]
    pairs = bucket_pairs([entries], 8, 2)  # the default neighbours
    assert len(pairs) < len(texts) * bands * 2 + 1  # linear, not all 79,800 pairs
    edges = [(a, b) for a, b in pairs.tolist() if jaccard(sets[a], sets[b]) >= 0.8]
    root = union_find_components(edges)
    truth = [(a, b) for a in range(len(texts)) for b in range(a + 1, len(texts)) if jaccard(sets[a], sets[b]) >= 0.8]
    assert len(truth) > 1000
    assert all(root.get(a, a) == root.get(b, b) for a, b in truth)


def test_compiled_xxh3_equals_xxhash_for_every_short_length():
    import xxhash

    from pipeline.curate.dedup.word_hashes import xxh3_64

    rng = np.random.default_rng(11)
    for size in range(241):
        for _ in range(20):
            data = rng.integers(0, 256, size, dtype=np.uint8)
            assert int(xxh3_64(np.concatenate([data, np.zeros(4, np.uint8)]), size)) == xxhash.xxh3_64_intdigest(data.tobytes()), size


_WORD_ALPHABET = list("abcXYZ_09 \n\t.,;:!?-'\"ÄéßΣσİ中文日本語한국어ไทย١٢٣߀𝟘😀\u0301\u0e31\ud800\udfff") + ["x" * 250, "é" * 130, "9" * 241, "中" * 90]


@given(st.lists(st.lists(st.sampled_from(_WORD_ALPHABET), max_size=60).map("".join), max_size=8), st.sampled_from(["text", "code"]))
@settings(max_examples=300, deadline=None)
def test_compiled_split_gives_the_regex_words_hashed_with_xxh3(texts, kind):
    """The compiled split + hash equals the regex definition (shingle_words) hashed with xxhash,
    across scripts, Unicode digits, lone surrogates and words past XXH3's 240-byte short path."""
    import xxhash

    from pipeline.curate.dedup.minhash import SHINGLE_WORDS
    from pipeline.curate.dedup.word_hashes import split_words

    prepared = texts if kind == "code" else [t.lower() for t in texts]
    got = split_words(prepared, SHINGLE_WORDS[kind])
    assert len(got) == len(texts)
    for text, words in zip(texts, got, strict=True):
        expected = shingle_words(text, kind)
        assert words.hashes.tolist() == [xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass")) for w in expected]
        assert words.lengths.tolist() == [len(w) for w in expected]


@pytest.mark.parametrize("whole_graph_bytes", [WHOLE_GRAPH_MAX_INPUT_BYTES, 0], ids=["whole graph", "rounds"])
def test_verification_across_units_decides_as_exact_jaccard_over_all_pairs(tmp_path, monkeypatch, whole_graph_bytes):
    """With LSH set to find every pair above J = 0.5 (64 bands of 2 rows), the run's near-duplicate
    removals are exactly the components of the pairs whose exact Jaccard reaches the threshold,
    each kept at its first document, whether the components are found in one worker or in rounds.
    Copies lie in other units than their originals (units of ~4 KB), so signed pairs and
    uncertain pairs go through the work directory between units."""
    import json

    from pipeline.curate.dedup import components

    monkeypatch.setattr(components, "WHOLE_GRAPH_MAX_INPUT_BYTES", whole_graph_bytes)
    import random

    import pyarrow.parquet as pq
    import yaml

    from jobs.curate import run_curate
    from pipeline.config import load_config
    from tests.conftest import base_config

    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(3000)]
    lines = []
    for i in range(30):
        words = [rng.choice(vocabulary) for _ in range(200)]
        lines.append({"id": f"base{i:02d}", "text": " ".join(words)})
        for k in range(1, 6):  # 1-5 words replaced: Jaccard around the threshold, so pairs get exact checks
            copy = list(words)
            for position in rng.sample(range(200), k):
                copy[position] = rng.choice(vocabulary)
            lines.append({"id": f"base{i:02d}-{k}", "text": " ".join(copy)})
    rng.shuffle(lines)
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    config = base_config(tmp_path, [{"name": "web", "paths": [str(tmp_path / "docs.jsonl")], "id_field": "id"}],
                         dedup={"exact": True, "minhash": {"threshold": 0.8, "verify": True, "bands": 64, "rows": 2}},
                         output={"unit_mb": 0.004})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    report = run_curate(load_config(str(tmp_path / "config.yaml")))
    drops = [r for f in sorted((tmp_path / "out" / "drops").glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    removed = {r["id"].removeprefix("web/") for r in drops if r["reason"] == "near_duplicate"}

    sets = [shingle_set(line["text"], 5) for line in lines]
    order = {line["id"]: n for n, line in enumerate(lines)}  # one source: the node order is the read order
    edges = [(lines[x]["id"], lines[y]["id"]) for x in range(len(lines)) for y in range(x + 1, len(lines)) if jaccard(sets[x], sets[y]) >= 0.8]
    clusters: dict[str, set[str]] = {}
    for member, root in union_find_components(edges).items():
        clusters.setdefault(root, {root}).add(member)
    expected = {m for members in clusters.values() for m in sorted(members, key=order.__getitem__)[1:]}
    assert report["near_dedup"]["exact_checked_pairs"] > 0 and report["units"] > 10
    assert removed == expected and len(expected) > 60


@pytest.mark.parametrize("rule", ["shingle text", "shingle code", "filter words", "code characters"])
def test_character_classes_equal_the_regex_on_every_code_point(rule):
    """The one-pass class table (re.sub marks matches) equals matching each code point alone."""
    import re

    from pipeline.curate.dedup.minhash import SHINGLE_WORDS
    from pipeline.curate.dedup.word_hashes import char_classes
    from pipeline.curate.filters.rules.code import _CHAR_CLASSES
    from pipeline.curate.filters.text import WORD_RULE

    patterns = {"shingle text": tuple(SHINGLE_WORDS["text"]), "shingle code": tuple(SHINGLE_WORDS["code"]),
                "filter words": tuple(WORD_RULE), "code characters": tuple(_CHAR_CLASSES)}[rule]
    classes = char_classes(patterns)
    every = "".join(map(chr, range(0x110000)))
    for bit, pattern in enumerate(patterns):
        expected = np.zeros(0x110000, dtype=bool)
        if pattern:
            expected[[m.start() for m in re.finditer(pattern, every)]] = True
        assert np.array_equal((classes >> bit) & 1 == 1, expected), pattern


@pytest.mark.parametrize(("num_perm", "seed"), [(112, 0), (128, 1), (256, 12345), (1, 7)])
def test_permutations_equal_datasketch_affine64(num_perm, seed):
    from pipeline.curate.dedup.minhash import permutations

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine64").permutations
    got_a, got_b = permutations(num_perm, seed)
    assert got_a.dtype == got_b.dtype == np.uint64
    assert np.array_equal(got_a, a) and np.array_equal(got_b, b)
