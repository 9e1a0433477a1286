"""The records that flow between transforms (docs/architecture.md, "Contracts") and stable hashing.

All randomness and partitioning derive from these hashes of ``(seed, id)``: never Python's
``hash()``, global RNG state or set order, so output is identical on every runner.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, ClassVar, NamedTuple

import numpy as np
import xxhash


class Stage:
    """Every stage name a drop, dead letter or sample carries, in one place (plain strings: they
    are parts of shuffle keys and file columns)."""

    READ = "read"
    EXTRACT = "extract"
    REPO = "repo"
    NORMALIZE = "normalize"
    BOILERPLATE_LINES = "boilerplate_lines"
    FILTER = "filter"
    ID_DEDUP = "id_dedup"
    EXACT_DEDUP = "exact_dedup"
    NEAR_DEDUP = "near_dedup"
    MIX = "mix"
    KEPT_BORDERLINE = "kept_borderline"  # samples of kept documents just above a classifier's threshold
    FUNNEL = (EXTRACT, REPO, NORMALIZE, BOILERPLATE_LINES, FILTER, ID_DEDUP, EXACT_DEDUP, NEAR_DEDUP)  # the report's order


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
    language: str = ""  # the document's identified language, where the language filter ran


class DeadLetter(NamedTuple):
    """A record that could not be read or processed: 1-based ``line`` (text) or ``row`` (columnar)."""

    source: str
    stage: str
    file: str
    line: int | None
    row: int | None
    error: str
    raw: str


class Repository(NamedTuple):
    """The readable source files of one repository (``Document`` ids ``source/repo/path``), in path order."""

    source: str
    name: str
    location: str
    files: tuple[Document, ...]


class TokenizedDocument(NamedTuple):
    """One document's token ids, between tokenize and pack."""

    id: str
    source: str
    ids: np.ndarray  # int32, EOS included


class PackedRow(NamedTuple):
    """One dataset row: ``seq_len`` ids holding whole or cut documents (``document_lengths``)."""

    key: str  # "<group>/<row>": orders rows and picks their shard
    input_ids: np.ndarray  # int32, exactly seq_len
    document_lengths: list[int]
    sources: list[str]


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


_FMIX = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, elementwise on a uint64 array."""
    s, m1, m2 = _FMIX
    with np.errstate(over="ignore"):
        h = h ^ (h >> s)
        h = h * m1
        h = h ^ (h >> s)
        h = h * m2
        return h ^ (h >> s)


def stable_fractions(base: int, positions: np.ndarray) -> np.ndarray:
    """Uniform numbers in [0, 1), one per position, from a base ``stable_hash``: a vectorized
    ``stable_fraction`` for many draws within one document."""
    with np.errstate(over="ignore"):
        keys = positions.astype(np.uint64) * _GOLDEN + np.uint64(base)
    return (mix64(keys) >> np.uint64(11)).astype(np.float64) / 2.0**53


def content_hash(text: str) -> str:
    """Hex digest identifying a text by content (128 bits: collisions are negligible)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def make_id(source: str, original_id: str | None, text: str) -> str:
    """``source/original-id``, or ``source/<content hash>`` when the input has no id."""
    return f"{source}/{original_id if original_id is not None else content_hash(text)}"


def preview(raw: Any) -> str:
    """The first KB of a raw record, as text that encodes as UTF-8 (a lone surrogate is shown escaped), for the dead-letter output."""
    if isinstance(raw, bytes):
        return raw[:RAW_PREVIEW_BYTES].decode("utf-8", "backslashreplace")
    return str(raw)[:RAW_PREVIEW_BYTES].encode("utf-8", "backslashreplace").decode("utf-8")


@dataclasses.dataclass(frozen=True)
class AnalyzedUnit:
    """What one work unit's analyze step read, dead-lettered and passed on to dedup: the first half
    of the unit's reconciliation (``read = kept + dropped + dead-lettered``)."""

    STEP: ClassVar[str] = "analyze"
    unit: int
    source: str
    read: int
    dead_lettered: dict[str, int]  # per stage
    survivors: int  # documents past the filters, into dedup
    survivor_bytes: int
    input_bytes: int
    dedup_key_bytes: int  # exact, id and band entries it wrote for the dedup steps


@dataclasses.dataclass(frozen=True)
class AppliedUnit:
    """What one work unit's apply step committed: kept and dropped counts and each written file's
    rows, bytes and sha256 (the second half of the reconciliation)."""

    STEP: ClassVar[str] = "apply"
    unit: int
    source: str
    kept: int
    dropped: list[tuple[str, str, int]]  # (stage, reason, documents)
    curated_file: dict[str, Any]
    drops_file: dict[str, Any]
    signals_file: dict[str, Any] | None = None


UnitReport = AnalyzedUnit | AppliedUnit


def unit_report_json(report: UnitReport) -> dict[str, Any]:
    """A unit report as a JSON object, with its ``step``."""
    return {"step": report.STEP, **dataclasses.asdict(report)}


def unit_report_from_json(data: dict[str, Any]) -> UnitReport:
    fields = {k: v for k, v in data.items() if k != "step"}
    if data["step"] == AnalyzedUnit.STEP:
        return AnalyzedUnit(**fields)
    return AppliedUnit(**{**fields, "dropped": [tuple(d) for d in fields["dropped"]]})
