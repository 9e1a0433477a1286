"""``TokenizeDocuments``: batched encoding, FIM and token-boundary splitting, one encoder per worker."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils import shared

from pipeline.config import FimConfig
from pipeline.documents import Document
from pipeline.fim import fim_cuts, fim_ids, fim_kind
from pipeline.io.files import read_bytes
from pipeline.pack import TokenizedDocument
from pipeline.split_tokens import combined_token_parts, split_combined_tokens
from tokenizer.encode import Encoder, load_encoder_files


def load_encoder(tokenizer_dir: str) -> Encoder:
    """The encoder of a tokenizer directory (HF or SentencePiece), read through ``FileSystems``."""
    files = {}
    for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json"):
        path = FileSystems.join(tokenizer_dir, name)
        if FileSystems.exists(path):
            files[name] = read_bytes(path)
    return load_encoder_files(files)  # type: ignore[return-value]


def encode_documents(
    encoder: Encoder, parts: dict[int, np.ndarray], docs: Sequence[Document], fim: FimConfig, split_rate: float, seed: int
) -> tuple[list[TokenizedDocument], Counter]:
    """Token ids of each document (EOS last): plain or FIM, then with combined tokens split.

    Returns the documents and counts: ``fim_psm``, ``fim_spm``, ``fim_too_short``, ``split_tokens``.
    """
    eos = np.asarray([encoder.eos_id], dtype=np.int32)
    kinds = [fim_kind(seed, d.id, d.text, fim.rate, fim.spm_rate) for d in docs]
    plain = [i for i, k in enumerate(kinds) if k not in ("psm", "spm")]
    ids: list[np.ndarray] = [np.empty(0, np.int32)] * len(docs)
    for i, encoded in zip(plain, encoder.encode_batch([docs[i].text for i in plain])):
        ids[i] = np.concatenate([encoded, eos])
    counts: Counter = Counter()
    for i, kind in enumerate(kinds):
        if kind in ("psm", "spm"):
            ids[i] = fim_ids(encoder, kind, docs[i].text, fim_cuts(seed, docs[i].id, len(docs[i].text)))
        if kind != "plain":
            counts[f"fim_{kind}"] += 1
    out = []
    for doc, doc_ids in zip(docs, ids):
        doc_ids, split = split_combined_tokens(doc_ids, parts, split_rate, seed, doc.id)
        counts["split_tokens"] += split
        out.append(TokenizedDocument(doc.id, doc.source, doc_ids))
    return out, counts


class _Tokenizer:
    """What a worker loads once: the encoder and its combined-token table (weak-referenceable for ``shared``)."""

    def __init__(self, tokenizer_dir: str):
        self.encoder = load_encoder(tokenizer_dir)
        self.parts = combined_token_parts(self.encoder)


class _EncodeBatches(beam.DoFn):
    def __init__(self, tokenizer_dir: str, shared_handle: shared.Shared, fim: FimConfig, split_rate: float, seed: int):
        self._tokenizer_dir, self._shared = tokenizer_dir, shared_handle
        self._fim, self._split_rate, self._seed = fim, split_rate, seed

    def setup(self) -> None:
        self._tokenizer = self._shared.acquire(lambda: _Tokenizer(self._tokenizer_dir))

    def process(self, batch: list[Document]) -> Iterator[Any]:
        docs, counts = encode_documents(self._tokenizer.encoder, self._tokenizer.parts, batch, self._fim, self._split_rate, self._seed)
        yield from docs
        for key, n in counts.items():
            yield beam.pvalue.TaggedOutput("stats", (key, n))


class TokenizeDocuments(beam.PTransform):
    """Documents → ``TokenizedDocument`` (main) and ``stats`` ``(name, count)`` pairs."""

    def __init__(self, tokenizer_dir: str, fim: FimConfig, split_rate: float, seed: int, batch_size: int = 256):
        super().__init__()
        self._tokenizer_dir, self._fim, self._split_rate, self._seed = tokenizer_dir, fim, split_rate, seed
        self._batch_size = batch_size

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            docs
            | "BatchDocuments" >> beam.BatchElements(min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "EncodeBatches" >> beam.ParDo(_EncodeBatches(self._tokenizer_dir, shared.Shared(), self._fim, self._split_rate, self._seed)).with_outputs("stats", main="documents")
        )
