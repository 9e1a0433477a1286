"""The records that flow between transforms (DESIGN.md §2) and stable hashing.

All randomness and partitioning derive from these hashes of ``(seed, id)``: never Python's
``hash()``, global RNG state or set order, so output is identical on every runner.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple, Optional

import xxhash


class Document(NamedTuple):
    id: str
    text: str
    source: str
    meta: dict[str, Any]


class Drop(NamedTuple):
    """A document removed on purpose, with the stage and reason that removed it."""

    id: str
    source: str
    stage: str
    reason: str
    detail: str


class DeadLetter(NamedTuple):
    """A record that could not be read or processed: 1-based ``line`` (text) or ``row`` (columnar)."""

    source: str
    stage: str
    file: str
    line: Optional[int]
    row: Optional[int]
    error: str
    raw: str


RAW_PREVIEW_BYTES = 1024


def stable_hash(seed: int, *parts: str) -> int:
    """A 64-bit hash of ``parts`` under ``seed``, identical on every machine and process."""
    h = xxhash.xxh3_64(seed=seed & 0xFFFFFFFFFFFFFFFF)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.intdigest()


def stable_fraction(seed: int, *parts: str) -> float:
    """A uniform number in [0, 1) derived from ``stable_hash``."""
    return stable_hash(seed, *parts) / 2.0**64


def content_hash(text: str) -> str:
    """Hex digest identifying a text by content (128 bits: collisions are negligible)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def make_id(source: str, original_id: Optional[str], text: str) -> str:
    """``source/original-id``, or ``source/<content hash>`` when the input has no id."""
    return f"{source}/{original_id if original_id is not None else content_hash(text)}"


def preview(raw: Any) -> str:
    """The first KB of a raw record, as text, for the dead-letter output."""
    if isinstance(raw, bytes):
        return raw[:RAW_PREVIEW_BYTES].decode("utf-8", "backslashreplace")
    return str(raw)[:RAW_PREVIEW_BYTES]


def document_order(doc: Document) -> tuple[str, str, str]:
    """A total order on documents (ids can repeat in bad input), for deterministic output."""
    return (doc.id, doc.text, json.dumps(doc.meta, sort_keys=True, ensure_ascii=False))
