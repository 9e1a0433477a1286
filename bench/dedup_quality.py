"""Near-dedup quality: precision, recall and F1 of duplicate pairs against exact Jaccard.

A corpus of real prose (docstrings on this machine) gets near-duplicates injected with known
edits (substitutions, insertions, truncations, reorderings). Ground truth is the exact Jaccard of
the same shingle sets for every pair that shares a shingle (pairs sharing none have J = 0), so it
is complete. corpusmill's pairs come from the functions its curate job runs, composed in one
process: signatures, band keys, bucket pairs, then verification (the MinHash estimate, and exact
Jaccard for pairs whose estimate lies near the threshold); "LSH only" is the same banding without
verification.

Then one large cluster (``bench.corpus.straddling_cluster``: 2,000 documents in 40 families whose
pairwise Jaccard straddles the threshold, so LSH buckets hold hundreds of members): pair recall
is the share of truly similar pairs (exact J ≥ 0.8) whose documents end in the same cluster, for
corpusmill's large-bucket rule and for a star around each bucket's smallest member.

    python bench/dedup_quality.py [--base 3000 --duplicates 1500 --cluster 2000]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.environment import print_installed_set  # noqa: E402
from bench.corpus import corpus_with_duplicates, straddling_cluster  # noqa: E402
from pipeline.config import MinHashConfig  # noqa: E402
from pipeline.curate.dedup.components import union_find_components  # noqa: E402
from pipeline.curate.dedup.exact import text_hash  # noqa: E402
from pipeline.curate.dedup.minhash import (  # noqa: E402
    band_keys,
    choose_bands,
    jaccard,
    shingle_hashes,
    shingle_set,
    signatures,
)
from pipeline.curate.dedup.near import BAND_ENTRY, bucket_pairs, estimate_margin  # noqa: E402
from pipeline.records import Document  # noqa: E402


def true_similarities(docs: list[Document], ngram: int) -> dict[tuple[str, str], float]:
    """Exact Jaccard of every pair sharing at least one shingle, via an inverted index."""
    sets = {d.id: shingle_set(d.text, ngram) for d in docs}
    postings: dict[int, list[str]] = {}
    for doc_id, shingles in sets.items():
        for h in shingles.tolist():
            postings.setdefault(h, []).append(doc_id)
    shared: Counter = Counter()
    for ids in postings.values():
        if len(ids) > 1:
            ids.sort()
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    shared[(a, b)] += 1
    return {(a, b): n / (len(sets[a]) + len(sets[b]) - n) for (a, b), n in shared.items()}


def star_pairs(blocks: list[np.ndarray], max_all_pairs: int, _neighbours: int) -> np.ndarray:
    """The baseline large-bucket rule: all pairs of small buckets, a star around the smallest member otherwise."""
    entries = np.unique(np.concatenate(blocks))
    pairs = set()
    for key in np.unique(entries["key"]):
        nodes = sorted(entries["node"][entries["key"] == key].tolist())
        if len(nodes) <= max_all_pairs:
            pairs |= {(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1 :]}
        else:
            pairs |= {(nodes[0], b) for b in nodes[1:]}
    return np.array(sorted(pairs), dtype=np.uint64).reshape(-1, 2)


def predicted_pairs(docs: list[Document], config: MinHashConfig, candidates=bucket_pairs) -> set[tuple[str, str]]:
    sigs = signatures([shingle_hashes(d.text, config.ngram) for d in docs], config.num_perm, 1234)
    bands, rows = choose_bands(config.threshold, config.num_perm, verify=config.verify)
    keys = band_keys(sigs, bands, rows)
    entries = np.zeros(keys.size, BAND_ENTRY)
    entries["key"], entries["node"] = keys.ravel(), np.repeat(np.arange(len(docs), dtype=np.uint64), bands)
    texts = np.array([text_hash(d.text)[0] for d in docs], dtype=np.uint64)
    entries["text"] = np.repeat(texts, bands)  # as AnalyzeUnit writes them
    pairs = candidates([entries], config.max_bucket_pairs, config.large_bucket_neighbours).astype(np.int64)
    first_of_text: dict[int, int] = {}
    exact_edges = {(first_of_text.setdefault(t, i), i) for i, t in enumerate(texts.tolist())} - {(i, i) for i in range(len(docs))}  # as exact dedup adds them
    if config.verify:  # as NearDuplicates: the MinHash estimate decides, exact Jaccard within the margin
        small, margin = sigs.astype(np.uint32), estimate_margin(config.num_perm)
        estimate = (small[pairs[:, 0]] == small[pairs[:, 1]]).mean(axis=1)
        sets = {i: shingle_set(docs[i].text, config.ngram) for i in np.unique(pairs).tolist()}
        exact = np.array([jaccard(sets[a], sets[b]) >= config.threshold for a, b in pairs.tolist()], dtype=bool)
        unsure = np.abs(estimate - config.threshold) < margin
        keep = np.where(unsure, exact, estimate >= config.threshold + margin)
        print(f"      {unsure.mean():.1%} of {len(pairs):,} candidate pairs needed the exact check")
        pairs = pairs[keep]
    return {tuple(sorted((docs[a].id, docs[b].id))) for a, b in [*pairs.tolist(), *exact_edges]}


def scores(predicted: set, truth: set) -> tuple[float, float, float]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def cluster_recall(documents: int, threshold: float = 0.8) -> None:
    """Pair recall inside one large cluster straddling the threshold (see the module docstring)."""
    from scipy import sparse

    texts = straddling_cluster(documents)
    docs = [Document(f"c/{i:05d}", t, "bench", {}) for i, t in enumerate(texts)]
    sets = [shingle_set(t, 5) for t in texts]
    columns = {h: i for i, h in enumerate(np.unique(np.concatenate(sets)).tolist())}
    incidence = sparse.csr_matrix((np.ones(sum(len(x) for x in sets)), ([i for i, x in enumerate(sets) for _ in range(len(x))], [columns[h] for x in sets for h in x.tolist()])))
    shared = (incidence @ incidence.T).toarray()
    sizes = np.array([len(x) for x in sets])
    similarity = shared / (sizes[:, None] + sizes[None, :] - shared)
    first, second = np.triu_indices(len(docs), 1)
    truth = {(docs[a].id, docs[b].id) for a, b in zip(first[similarity[first, second] >= threshold], second[similarity[first, second] >= threshold])}
    print(f"\nlarge cluster: {len(docs):,} documents, {len(first):,} pairs, {len(truth):,} with J ≥ {threshold} "
          f"(J from {similarity[first, second].min():.2f} to {similarity[first, second].max():.2f})")
    print(f"{'large-bucket rule':<34} {'verified pairs':>14} {'edge recall':>11} {'pair recall':>11} {'clusters':>8}")
    for name, candidates in (("corpusmill (cyclic windows)", bucket_pairs), ("star around the smallest member", star_pairs)):
        found = predicted_pairs(docs, MinHashConfig(threshold=threshold), candidates)
        root = union_find_components(found)
        together = sum(1 for a, b in truth if root.get(a, a) == root.get(b, b))
        clusters = len({root.get(d.id, d.id) for d in docs})
        print(f"{name:<34} {len(found):>14,} {len(found & truth) / len(truth):>11.4f} {together / len(truth):>11.4f} {clusters:>8,}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=int, default=3000, help="original documents")
    parser.add_argument("--duplicates", type=int, default=1500, help="injected near-duplicates")
    parser.add_argument("--cluster", type=int, default=2000, help="documents in the large straddling cluster")
    args = parser.parse_args()
    records = corpus_with_duplicates(args.base, args.duplicates)
    docs = [Document(f"bench/{r['id']}", r["text"], "bench", {}) for r in records]
    print(f"corpus: {len(docs)} documents ({args.base} originals + {args.duplicates} injected), "
          f"{sum(len(d.text.encode()) for d in docs) / 1e6:.1f} MB; edits: {dict(Counter(r['edit'] for r in records[args.base:]))}")
    started = time.monotonic()
    similarities = true_similarities(docs, ngram=5)
    print(f"ground truth: {len(similarities):,} pairs share a shingle ({time.monotonic() - started:.1f}s)")
    print(f"{'threshold':>9} {'bands×rows':>10} {'variant':<20} {'true pairs':>10} {'found':>7} {'precision':>9} {'recall':>7} {'F1':>6}")
    for threshold in (0.7, 0.8, 0.9):
        truth = {pair for pair, j in similarities.items() if j >= threshold}
        for variant, verify in (("corpusmill (verify)", True), ("LSH only", False)):
            bands, rows = choose_bands(threshold, 128, verify=verify)
            found = predicted_pairs(docs, MinHashConfig(threshold=threshold, verify=verify))
            p, r, f = scores(found, truth)
            print(f"{threshold:>9} {f'{bands}×{rows}':>10} {variant:<20} {len(truth):>10,} {len(found):>7,} {p:>9.4f} {r:>7.4f} {f:>6.4f}", flush=True)
    cluster_recall(args.cluster)


if __name__ == "__main__":
    print_installed_set()
    main()
