"""Mixing: per-source ``weight`` (share of output tokens), ``epochs`` (repeat factor) or ``max_tokens``.

Each source gets a sampling rate r. A document is kept ``floor(r)`` times plus once more with
probability ``r - floor(r)``, decided by ``hash(seed, id)``, so the mixture is identical on every
run and runner. Repeats get derived ids (``id#r1``, ``id#r2`` ...) so they never collide in
dedup or shard assignment; documents sampled out become drops (stage ``mix``). Token counts for
weights are estimated from bytes with a bytes-per-token figure per source kind; the build job
reports the exact tokens afterwards.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Mapping

from pipeline.config import MixConfig, SourceConfig
from pipeline.documents import Document, stable_fraction

STAGE = "mix"
REASON = "sampled_out"
BYTES_PER_TOKEN = {"text": 4.0, "code": 3.2}  # typical for 100K+ byte-level BPE vocabularies


def estimated_tokens(bytes_by_source: Mapping[str, int], sources: list[SourceConfig], bytes_per_token: Mapping[str, float]) -> dict[str, float]:
    kinds = {s.name: s.kind for s in sources}
    return {name: n / bytes_per_token[kinds[name]] for name, n in bytes_by_source.items()}


def sampling_rates(mix: Mapping[str, MixConfig], tokens: Mapping[str, float]) -> dict[str, float]:
    """Rate per source: weights share the current total; epochs and max_tokens are per source.

    Sources without an entry keep rate 1. Weighted sources split the tokens that weighted
    sources hold now, in proportion to their weights (normalised to sum 1).
    """
    rates = {name: 1.0 for name in tokens}
    weighted = {name: m.weight for name, m in mix.items() if m.weight is not None and name in tokens}
    pool = sum(tokens[name] for name in weighted)
    total_weight = sum(weighted.values())
    for name, m in mix.items():
        if name not in tokens or tokens[name] == 0:
            continue
        if m.weight is not None:
            rates[name] = (m.weight / total_weight) * pool / tokens[name]
        elif m.epochs is not None:
            rates[name] = m.epochs
        elif m.max_tokens is not None:
            rates[name] = min(1.0, m.max_tokens / tokens[name])
    return rates


def copies(rate: float, seed: int, doc_id: str) -> int:
    """How many times a document appears at this rate (0 = sampled out)."""
    whole = math.floor(rate)
    return whole + (stable_fraction(seed, "mix", doc_id) < rate - whole)


def repeat_id(doc_id: str, k: int) -> str:
    return doc_id if k == 0 else f"{doc_id}#r{k}"


def mixed_copies(doc: Document, rate: float, seed: int) -> list[Document]:
    """The document's copies at this rate: none (sampled out), itself, then repeats with derived ids."""
    return [doc if k == 0 else doc._replace(id=repeat_id(doc.id, k), meta={**doc.meta, "repeat_of": doc.id}) for k in range(copies(rate, seed, doc.id))]
