"""``TokenizeDocuments``: batched encoding with the trained tokenizer, one encoder per worker."""
from __future__ import annotations

from typing import Iterator, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils import shared

from pipeline.documents import Document
from pipeline.io.files import read_bytes
from pipeline.pack import TokenizedDocument
from tokenizer.encode import Encoder, load_tokenizer


def load_encoder(tokenizer_dir: str) -> Encoder:
    """The encoder of a tokenizer directory, read through ``FileSystems`` (local or remote)."""
    config_path = FileSystems.join(tokenizer_dir, "tokenizer_config.json")
    config_json = read_bytes(config_path).decode("utf-8") if FileSystems.exists(config_path) else None
    return load_tokenizer(read_bytes(FileSystems.join(tokenizer_dir, "tokenizer.json")).decode("utf-8"), tokenizer_config_json=config_json)


def tokenize_with_eos(encoder: Encoder, docs: Sequence[Document]) -> list[TokenizedDocument]:
    """Each document's ids followed by EOS."""
    eos = np.asarray([encoder.eos_id], dtype=np.int32)
    encoded = encoder.encode_batch([d.text for d in docs])
    return [TokenizedDocument(d.id, d.source, np.concatenate([ids, eos])) for d, ids in zip(docs, encoded)]


class _EncoderHolder:
    """A weak-referenceable wrapper so ``shared.Shared`` can keep one encoder per worker."""

    def __init__(self, encoder: Encoder):
        self.encoder = encoder


class _EncodeBatches(beam.DoFn):
    def __init__(self, tokenizer_dir: str, shared_handle: shared.Shared):
        self._tokenizer_dir = tokenizer_dir
        self._shared = shared_handle

    def setup(self) -> None:
        self._encoder = self._shared.acquire(lambda: _EncoderHolder(load_encoder(self._tokenizer_dir))).encoder

    def process(self, batch: list[Document]) -> Iterator[TokenizedDocument]:
        yield from tokenize_with_eos(self._encoder, batch)


class TokenizeDocuments(beam.PTransform):
    """Documents → ``TokenizedDocument`` (ids + EOS), encoded in batches."""

    def __init__(self, tokenizer_dir: str, batch_size: int = 256):
        super().__init__()
        self._tokenizer_dir = tokenizer_dir
        self._batch_size = batch_size

    def expand(self, docs: beam.PCollection) -> beam.PCollection:
        return (
            docs
            | "BatchDocuments" >> beam.BatchElements(min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "EncodeBatches" >> beam.ParDo(_EncodeBatches(self._tokenizer_dir, shared.Shared()))
        )
