"""Batched encoding with FIM and token-boundary splitting, and the tokenizer a worker loads once."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline.assemble.fim import fim_cuts, fim_ids, fim_kind
from pipeline.assemble.split_tokens import CombinedTokens, combined_token_parts, split_combined_tokens
from pipeline.config import FimConfig
from pipeline.io.files import read_bytes
from pipeline.records import Document, TokenizedDocument, stable_fraction
from tokenizer.encode import ENCODER_FILES, Encoder, load_encoder_files


def load_encoder(tokenizer_dir: str) -> Encoder:
    """The encoder of a tokenizer directory (HF or SentencePiece), read through ``FileSystems``."""
    files = {}
    for name in ENCODER_FILES:
        path = FileSystems.join(tokenizer_dir, name)
        if FileSystems.exists(path):
            files[name] = read_bytes(path)
    return load_encoder_files(files)  # type: ignore[return-value]


class FastPathMismatch(RuntimeError):
    """The fast encoder gave other ids than ``tokenizer.json`` for a document: the build stops."""


def check_fast_path(encoder: Encoder, docs: Sequence[Document], rate: float, seed: int) -> int:
    """Re-encodes the documents that ``hash(seed, id)`` picks at ``rate`` with ``tokenizer.json``
    and compares with the fast path; returns how many were checked (0 without a fast path)."""
    if getattr(encoder, "fast", None) is None or rate <= 0:
        return 0
    chosen = [d for d in docs if stable_fraction(seed, "encode-check", d.id) < rate]
    for doc, fast in zip(chosen, encoder.encode_batch([d.text for d in chosen]), strict=True):
        reference = encoder.reference_ids(doc.text)
        if fast.tolist() != reference:
            first = next((i for i, (a, b) in enumerate(zip(fast.tolist(), reference, strict=False)) if a != b), min(len(fast), len(reference)))
            raise FastPathMismatch(f"document {doc.id}: the fast encoder differs from tokenizer.json at token {first}")
    return len(chosen)


def encode_documents(
    encoder: Encoder, combined: CombinedTokens, docs: Sequence[Document], fim: FimConfig, split_rate: float, seed: int, check_rate: float = 0.0
) -> tuple[list[TokenizedDocument], Counter]:
    """Token ids of each document (EOS last): plain or FIM, then with combined tokens split; a
    ``check_rate`` share of documents is re-encoded with ``tokenizer.json`` (``check_fast_path``).

    Returns the documents and counts: ``fim_psm``, ``fim_spm``, ``fim_too_short``, ``split_tokens``,
    ``encode_checked``.
    """
    eos = np.asarray([encoder.eos_id], dtype=np.int32)
    kinds = [fim_kind(seed, d.id, d.text, fim.rate, fim.spm_rate) for d in docs]
    plain = [i for i, k in enumerate(kinds) if k not in ("psm", "spm")]
    ids: list[np.ndarray] = [np.empty(0, np.int32)] * len(docs)
    for i, encoded in zip(plain, encoder.encode_batch([docs[i].text for i in plain]), strict=True):
        ids[i] = np.concatenate([encoded, eos])
    counts: Counter = Counter()
    counts["encode_checked"] = check_fast_path(encoder, docs, check_rate, seed)
    for i, kind in enumerate(kinds):
        if kind == "psm" or kind == "spm":
            spans = [(f["start"], f["end"]) for f in docs[i].meta.get("files", ())] if fim.within_files else []
            ids[i] = fim_ids(encoder, kind, docs[i].text, fim_cuts(seed, docs[i].id, len(docs[i].text), spans))
        if kind != "plain":
            counts[f"fim_{kind}"] += 1
    out = []
    for doc, doc_ids in zip(docs, ids, strict=True):
        doc_ids, split = split_combined_tokens(doc_ids, combined, split_rate, seed, doc.id)
        counts["split_tokens"] += split
        out.append(TokenizedDocument(doc.id, doc.source, doc_ids))
    return out, counts


class LoadedTokenizer:
    """What a worker loads once: the encoder and its combined-token table (weak-referenceable for ``shared``)."""

    def __init__(self, tokenizer_dir: str):
        self.encoder = load_encoder(tokenizer_dir)
        self.combined = combined_token_parts(self.encoder)
