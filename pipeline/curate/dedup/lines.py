"""Boilerplate lines, C4/CCNet style: a line whose normalized form appears in at least
``min_documents`` documents of the corpus is removed from every document.

A pass before analysis hashes each document's distinct lines (``document_line_hashes``); per
unit, hashes and their document counts go out in partitions (16 bytes per distinct line), are
summed per hash, and the frequent ones come back as one sorted array that ``remove_lines``
looks lines up in. Only hashes move, never text.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import xxhash

from pipeline.config import Config
from pipeline.curate.normalize import normalize_document
from pipeline.io.files import FileDoFn
from pipeline.read.formats import read_piece
from pipeline.read.units import WorkUnit
from pipeline.records import Document

COUNT = np.dtype([("hash", "<u8"), ("documents", "<i8")])
PARTITIONS = 64
_DIGITS = re.compile(r"\d")
_NON_WORD = re.compile(r"[^\w ]+")
_SPACES = re.compile(r"\s+")


def line_key(line: str) -> str:
    """CCNet's line normalization: lowercase, accents stripped, digits as 0, punctuation removed, spaces collapsed."""
    line = unicodedata.normalize("NFD", line.lower())
    line = "".join(c for c in line if unicodedata.category(c) != "Mn")
    return _SPACES.sub(" ", _NON_WORD.sub(" ", _DIGITS.sub("0", line))).strip()


def line_hashes(lines: Iterable[str]) -> np.ndarray:
    """One 64-bit hash per line (0 for a line whose key is empty: never boilerplate)."""
    return np.fromiter(((xxhash.xxh3_64_intdigest(k.encode("utf-8", "surrogatepass")) if (k := line_key(line)) else 0) for line in lines), dtype=np.uint64)


def document_line_hashes(text: str) -> np.ndarray:
    """The distinct non-empty line hashes of a document."""
    hashes = np.unique(line_hashes(text.split("\n")))
    return hashes[hashes != 0]


def count_lines(per_document: list[np.ndarray]) -> np.ndarray:
    """(hash, documents) of a unit's documents' distinct lines."""
    if not per_document:
        return np.zeros(0, COUNT)
    hashes, counts = np.unique(np.concatenate(per_document), return_counts=True)
    out = np.zeros(len(hashes), COUNT)
    out["hash"], out["documents"] = hashes, counts
    return out


def frequent_lines(blocks: Iterable[np.ndarray], min_documents: int) -> np.ndarray:
    """Sorted hashes of the lines in at least ``min_documents`` documents, from one partition's count blocks."""
    parts = list(blocks)
    if not parts:
        return np.zeros(0, np.uint64)
    counts = np.concatenate(parts)
    hashes, first = np.unique(counts["hash"], return_inverse=True)
    totals = np.bincount(first, weights=counts["documents"]).astype(np.int64)
    return hashes[totals >= min_documents]


def remove_lines(doc: Document, frequent: np.ndarray) -> tuple[Document, int]:
    """The document without its boilerplate lines, and how many it lost."""
    if not len(frequent):
        return doc, 0
    lines = doc.text.split("\n")
    hashes = line_hashes(lines)
    position = np.clip(np.searchsorted(frequent, hashes), 0, len(frequent) - 1)
    boiler = (frequent[position] == hashes) & (hashes != 0)
    removed = int(boiler.sum())
    if not removed:
        return doc, 0
    return doc._replace(text="\n".join(line for line, b in zip(lines, boiler.tolist(), strict=True) if not b)), removed


class _CountUnitLines(FileDoFn):
    """WorkUnit → (partition, (hash, documents) block) of its documents' distinct normalized lines."""

    def __init__(self, config: Config):
        super().__init__()
        self._config = config

    def process(self, unit: WorkUnit) -> Iterator[tuple[int, np.ndarray]]:
        source = self._config.source(unit.source)
        per_document = []
        for piece in unit.pieces:
            for record in read_piece(source, piece, self._config.max_document_bytes, self._config.max_compression_ratio):
                if isinstance(record, Document):
                    normalized = normalize_document(record)
                    if isinstance(normalized, Document):
                        per_document.append(document_line_hashes(normalized.text))
        counts = count_lines(per_document)
        for p in range(PARTITIONS):
            block = counts[counts["hash"] % np.uint64(PARTITIONS) == p]
            if len(block):
                yield p, block


class BoilerplateLines(beam.PTransform):
    """Work units → one sorted array of the hashes of lines in at least ``min_documents`` documents."""

    def __init__(self, config: Config):
        super().__init__()
        self._config = config

    def expand(self, units: beam.PCollection) -> beam.PCollection:
        min_documents = self._config.dedup.lines.min_documents
        return (
            units
            | "CountUnitLines" >> beam.ParDo(_CountUnitLines(self._config))
            | "GroupLineCounts" >> beam.GroupByKey()
            | "FrequentLines" >> beam.MapTuple(lambda _, blocks: frequent_lines(blocks, min_documents))
            | "AllFrequentLines" >> beam.CombineGlobally(lambda arrays: np.sort(np.concatenate([np.zeros(0, np.uint64), *arrays])))
        )
