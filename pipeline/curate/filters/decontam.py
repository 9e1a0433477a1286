"""Benchmark decontamination: drop documents sharing a word n-gram (default 13) with eval data.

The index (sorted 64-bit n-gram hashes, each with its benchmark) is built once on the driver from
the eval files and travels with the filter to every worker; a lookup is one vectorized
``searchsorted`` per document. The drop reason names the benchmark the hit came from.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.curate.dedup.minhash import shingle_hashes, shingle_words
from pipeline.curate.filters.base import Rejection
from pipeline.records import Document

TEXT_FIELDS = ("text", "question", "prompt", "problem", "answer", "solution", "input", "output", "context", "passage")


def eval_texts(path: str, text_fields: Iterable[str] = TEXT_FIELDS) -> Iterator[str]:
    """Texts of one eval file: string fields of each JSONL record, or the lines of a text file."""
    with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as f:
        data = f.read().decode("utf-8", "replace")
    fields = tuple(text_fields)
    for line in data.splitlines():
        if not line.strip():
            continue
        if path.endswith((".jsonl", ".jsonl.gz", ".json")):
            record = json.loads(line)
            yield from (v for k, v in record.items() if k in fields and isinstance(v, str))
        else:
            yield line


def benchmark_name(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.split(".", 1)[0]


@dataclass(frozen=True)
class DecontaminationIndex:
    hashes: np.ndarray  # sorted uint64
    benchmark_ids: np.ndarray  # int32, parallel to hashes
    benchmarks: tuple[str, ...]
    ngram: int

    @classmethod
    def build(cls, paths: Iterable[str], ngram: int = 13) -> DecontaminationIndex:
        names: list[str] = []
        hashes, owners = [], []
        for pattern in paths:
            for metadata in FileSystems.match([pattern])[0].metadata_list:
                name = benchmark_name(metadata.path)
                if name not in names:
                    names.append(name)
                for text in eval_texts(metadata.path):
                    if len(shingle_words(text)) >= ngram:
                        h = np.unique(shingle_hashes(text, ngram))
                        hashes.append(h)
                        owners.append(np.full(len(h), names.index(name), dtype=np.int32))
        if not hashes:
            return cls(np.zeros(0, np.uint64), np.zeros(0, np.int32), tuple(names), ngram)
        all_hashes, all_owners = np.concatenate(hashes), np.concatenate(owners)
        order = np.argsort(all_hashes, kind="stable")
        return cls(all_hashes[order], all_owners[order], tuple(names), ngram)

    def first_hit(self, text: str) -> str | None:
        """The benchmark of the first n-gram of ``text`` found in the index, or None."""
        if not len(self.hashes) or len(shingle_words(text)) < self.ngram:
            return None
        doc = shingle_hashes(text, self.ngram)
        positions = np.searchsorted(self.hashes, doc)
        positions = np.minimum(positions, len(self.hashes) - 1)
        hits = np.flatnonzero(self.hashes[positions] == doc)
        return self.benchmarks[self.benchmark_ids[positions[hits[0]]]] if len(hits) else None


@dataclass(frozen=True)
class Decontaminate:
    index: DecontaminationIndex

    def measure(self, doc: Document) -> dict[str, Any]:
        return {"contaminated_by": self.index.first_hit(doc.text)}

    def __call__(self, doc: Document) -> Rejection | None:
        hit = self.index.first_hit(doc.text)
        return Rejection(f"decontaminated_{hit}", f"{self.index.ngram}-gram from {hit}") if hit else None
