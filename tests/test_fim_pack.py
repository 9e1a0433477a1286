"""FIM layout and rate, token-boundary splitting, best-fit packing and the trainer-side views."""
from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from pipeline.assemble.fim import document_text, fim_cuts, fim_ids, fim_kind
from pipeline.assemble.pack import _FreeCapacityTree, pack_best_fit, pack_concat, unpack_row
from pipeline.assemble.split_tokens import combined_token_parts, split_combined_tokens
from pipeline.assemble.tokenize import encode_documents
from pipeline.config import FimConfig
from pipeline.dataset import cu_seqlens, loss_mask, position_ids
from pipeline.records import Document, TokenizedDocument
from tests.conftest import paragraph_docs
from tokenizer import Encoder, train_tokenizer

TEXTS = ["def f(x):\n    return x + 1;\n\nprint(f(2)).\n", "数据管道 🙂👍🏽 e\u0301 ok!\nnext line.\n", "short", "ab"]


@pytest.fixture(scope="module")
def encoder():
    return Encoder(train_tokenizer(paragraph_docs(100) + TEXTS * 30 + ["x = 1;\n", "end.\n", "ok!\n"] * 40, vocab_size=800))


def fim_text(encoder: Encoder, ids: np.ndarray) -> str:
    assert ids[0] == encoder.special_ids["fim_begin"] and ids[-1] == encoder.eos_id
    return document_text(encoder, ids)


@pytest.mark.parametrize("kind", ["psm", "spm"])
@pytest.mark.parametrize("text", TEXTS)
def test_fim_layout_decodes_back_to_the_text(encoder, kind, text):
    for doc_id in ("a", "b", "c", "d"):
        cuts = fim_cuts(1, doc_id, len(text))
        assert 0 <= cuts[0] <= cuts[1] <= len(text)
        ids = fim_ids(encoder, kind, text, cuts)
        sentinels = [i for i in ids.tolist() if i in (encoder.special_ids["fim_begin"], encoder.special_ids["fim_hole"], encoder.special_ids["fim_end"])]
        assert len(sentinels) == 3
        assert fim_text(encoder, ids) == text


def test_fim_share_is_within_statistical_bounds():
    n, rate = 4000, 0.1
    kinds = Counter(fim_kind(7, f"doc{i}", "long enough text", rate, 0.5) for i in range(n))
    share = (kinds["psm"] + kinds["spm"]) / n
    assert abs(share - rate) < 4 * (rate * (1 - rate) / n) ** 0.5
    assert abs(kinds["spm"] / (kinds["psm"] + kinds["spm"]) - 0.5) < 0.12
    assert fim_kind(7, "x", "a", 1.0, 0.0) == "too_short"


def test_encode_documents_counts_and_keeps_text(encoder):
    docs = [Document(f"d{i}", t, "s", {}) for i, t in enumerate(TEXTS * 5)]
    out, counts = encode_documents(encoder, combined_token_parts(encoder), docs, FimConfig(rate=0.5, spm_rate=0.5), 0.0, seed=3)
    assert counts["fim_psm"] + counts["fim_spm"] + counts["fim_too_short"] > 0
    for doc, tok in zip(docs, out):
        is_fim = tok.ids[0] == encoder.special_ids["fim_begin"]
        assert (fim_text(encoder, tok.ids) if is_fim else encoder.decode(tok.ids[:-1])) == doc.text
        assert tok.ids[-1] == encoder.eos_id


def test_combined_tokens_are_found_and_splitting_never_changes_text(encoder):
    combined = combined_token_parts(encoder)
    parts = combined.parts
    assert parts, "a vocabulary trained on code has punctuation+newline tokens"
    assert np.flatnonzero(combined.is_combined).tolist() == sorted(parts)
    for token_id, replacement in parts.items():
        assert encoder.decode(replacement.tolist()) == encoder.decode([token_id])
    ids = encoder.encode("x = 1;\nend.\nok!\n" * 20)
    split, count = split_combined_tokens(ids, combined, 1.0, seed=1, doc_id="d")
    assert count > 0 and len(split) == len(ids) + sum(len(parts[int(t)]) - 1 for t in ids if int(t) in parts)
    assert encoder.decode(split) == encoder.decode(ids)
    half, n = split_combined_tokens(ids, combined, 0.5, seed=1, doc_id="d")
    assert 0 < n < count and encoder.decode(half) == encoder.decode(ids)
    assert split_combined_tokens(ids, combined, 0.5, seed=1, doc_id="d")[0].tolist() == half.tolist()
    assert split_combined_tokens(ids, combined, 0.0, seed=1, doc_id="d")[0] is ids


SYMBOL_LINES = ["".join(random.Random(i).choice("│⊂❂⚂☂。⎂—…!?;:") for _ in range(random.Random(i).randint(1, 6))) + "\n" for i in range(400)]


@pytest.mark.parametrize("backend", ["hf", "sentencepiece"])
def test_splitting_never_changes_a_byte_even_inside_multibyte_symbols(backend):
    texts = ["".join(SYMBOL_LINES[i : i + 40]) + "x = 1;\nend.\nok!\n" for i in range(0, 360, 4)]
    if backend == "hf":
        encoder = Encoder(train_tokenizer(texts, vocab_size=700))
    else:
        from tokenizer.sentencepiece_backend import (
            SentencePieceEncoder,
            train_sentencepiece,
        )
        encoder = SentencePieceEncoder(train_sentencepiece(texts, vocab_size=400))
    as_bytes = lambda ids: b"".join(encoder.token_bytes(t) for t in ids)  # noqa: E731
    combined = combined_token_parts(encoder)
    for token_id, replacement in combined.parts.items():
        assert as_bytes(replacement.tolist()) == encoder.token_bytes(token_id)
    text = "x ⎂\n" + "".join(SYMBOL_LINES[:200]) + "end.\n"
    ids = encoder.encode(text)
    split, _ = split_combined_tokens(ids, combined, 1.0, seed=1, doc_id="d")
    assert as_bytes(split.tolist()) == as_bytes(ids.tolist()) == text.encode()


def test_free_capacity_tree_finds_the_tightest_bin():
    tree, rng, bins = _FreeCapacityTree(100), random.Random(0), Counter()
    for _ in range(500):
        free = rng.randrange(101)
        if rng.random() < 0.6:
            tree.add(free, 1)
            bins[free] += 1
        elif bins[free]:
            tree.add(free, -1)
            bins[free] -= 1
        n = rng.randrange(101)
        expected = min((c for c, k in bins.items() if k and c >= n), default=-1)
        assert tree.smallest_at_least(n) == expected


def lognormal_docs(n: int, seed: int = 0) -> list[TokenizedDocument]:
    rng = random.Random(seed)
    return [TokenizedDocument(f"d{i:05d}", "ab"[i % 2], np.arange(int(rng.lognormvariate(5, 1.3)) + 1, dtype=np.int32) + 100_000 * i) for i in range(n)]


def test_best_fit_keeps_every_token_once_and_only_cuts_long_documents():
    seq_len = 512
    docs = lognormal_docs(3000)
    rows, stats = pack_best_fit(0, docs, seq_len, pad_id=-1)
    assert all(len(r.input_ids) == seq_len for r in rows)
    pieces = [p for r in rows for p in unpack_row(r)]
    by_doc: dict[int, list[np.ndarray]] = {}
    for p in pieces:
        by_doc.setdefault(int(p[0]) // 100_000, []).append(p)
    for i, doc in enumerate(docs):
        got = sorted(by_doc[i], key=lambda p: int(p[0]))
        assert np.array_equal(np.concatenate(got), doc.ids)  # every token once, in order within pieces
        if len(doc.ids) <= seq_len:
            assert len(got) == 1  # never truncated
    assert stats.documents_split == sum(len(d.ids) > seq_len for d in docs)
    concat_rows, concat_stats = pack_concat(0, docs, seq_len, pad_id=-1)
    assert stats.padding / (stats.rows * seq_len) < 0.005
    assert stats.rows <= concat_stats.rows * 1.001 + 1
    assert concat_stats.documents_split > stats.documents_split


def test_trainer_views_from_document_lengths():
    assert position_ids([3, 2], 7).tolist() == [0, 1, 2, 0, 1, 0, 0]
    assert cu_seqlens([3, 2], 7).tolist() == [0, 3, 5, 7]
    assert cu_seqlens([3, 4], 7).tolist() == [0, 3, 7]
    assert loss_mask([3, 2], 7).tolist() == [1, 1, 1, 1, 1, 0, 0]
