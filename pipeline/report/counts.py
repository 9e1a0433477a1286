"""The run report's count keys and its typed per-source section, made and read here only.

A count key is ``(kind, source, stage, reason)``; steps emit ``(key, n)`` pairs, the pipeline sums
them, and ``SourceSummary.add`` folds each kind into its field. Adding a count means one kind
here, one ``add`` branch, and the step that emits it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.records import Stage

CountKey = tuple[str, str, str, str]  # (kind, source, stage, reason); plain tuples shuffle with deterministic coders


class Kind:
    """Count kinds: ``stage``/``reason`` hold what each one is per (a drop's stage and reason, a bin, a name)."""

    READ = "read"  # records a work unit read
    KEPT = "kept"  # documents written to curated/
    DROPPED = "dropped"  # per stage and reason
    DEAD_LETTER = "dead_letter"  # per stage
    BOILERPLATE_LINES = "boilerplate_lines"
    PII = "pii"  # redactions per kind (stage)
    LANGUAGE = "language"  # kept documents per language (stage)
    LANGUAGE_DROPPED = "language_dropped"  # dropped documents per language (stage) and "stage/reason" (reason)
    SCORE = "score"  # classifier scores per "name/bin" (stage)
    LENGTH_READ = "length_read"  # per power-of-two length bin (stage)
    LENGTH_KEPT = "length_kept"
    REPOS = "repos"  # repositories, documents, files_curated, files_in_documents (stage)
    REPO_LANGUAGE = "repo_language"  # files in repository documents per language (stage)
    REPAIRED = "repaired"  # records whose id, meta or path held lone surrogates, replaced by U+FFFD


def count_key(kind: str, source: str, stage: str = "", reason: str = "") -> CountKey:
    return (kind, source, stage, reason)


def length_bin(text: str) -> str:
    """Power-of-two character-length bucket, for the length histograms."""
    return str(max(len(text), 1).bit_length() - 1)


def length_bins(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``length_bin`` of every text of an Arrow string array, as integers (``frexp``'s exponent
    of n is n's bit length, exactly, below 2**53)."""
    lengths = np.maximum(pc.utf8_length(texts).to_numpy(zero_copy_only=False), 1)
    return np.frexp(lengths.astype(np.float64))[1] - 1


@dataclass
class RepositoryCounts:
    repositories: int = 0
    documents: int = 0
    files_curated: int = 0
    files_in_documents: int = 0
    languages: dict[str, int] = field(default_factory=dict)


@dataclass
class SourceSummary:
    """One source's section of the curate report."""

    read: int = 0
    kept: int = 0
    dead_lettered: int = 0
    boilerplate_lines_removed: int = 0
    classifier_scores: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)  # "stage/reason" → documents
    dead_lettered_by_stage: dict[str, int] = field(default_factory=dict)
    pii_redactions: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    dropped_by_language: dict[str, dict[str, int]] = field(default_factory=dict)  # language → "stage/reason" → documents
    length_histogram: dict[str, dict[str, int]] = field(default_factory=lambda: {"read": {}, "kept": {}})
    repaired_fields: int = 0  # records whose id, meta or path had lone surrogates replaced
    repositories: RepositoryCounts | None = None

    def add(self, kind: str, stage: str, reason: str, n: int) -> None:
        if kind == Kind.READ:
            self.read += n
        elif kind == Kind.KEPT:
            self.kept += n
        elif kind == Kind.DROPPED:
            self.dropped[f"{stage}/{reason}"] = self.dropped.get(f"{stage}/{reason}", 0) + n
        elif kind == Kind.DEAD_LETTER:
            self.dead_lettered += n
            self.dead_lettered_by_stage[stage] = self.dead_lettered_by_stage.get(stage, 0) + n
        elif kind == Kind.BOILERPLATE_LINES:
            self.boilerplate_lines_removed += n
        elif kind == Kind.PII:
            self.pii_redactions[stage] = n
        elif kind == Kind.LANGUAGE:
            self.languages[stage] = n
        elif kind == Kind.LANGUAGE_DROPPED:
            reasons = self.dropped_by_language.setdefault(stage, {})
            reasons[reason] = reasons.get(reason, 0) + n
        elif kind == Kind.SCORE:
            self.classifier_scores[stage] = n
        elif kind in (Kind.LENGTH_READ, Kind.LENGTH_KEPT):
            self.length_histogram[kind.removeprefix("length_")][stage] = n
        elif kind == Kind.REPAIRED:
            self.repaired_fields += n
        elif kind in (Kind.REPOS, Kind.REPO_LANGUAGE):
            self.repositories = self.repositories or RepositoryCounts()
            if kind == Kind.REPOS:
                setattr(self.repositories, stage, getattr(self.repositories, stage) + n)
            else:
                self.repositories.languages[stage] = n
        else:
            raise ValueError(f"unknown count kind {kind!r}")

    @property
    def reconciles(self) -> bool:
        """``read = kept + dropped + dead-lettered``."""
        return self.read == self.kept + sum(self.dropped.values()) + self.dead_lettered

    def to_dict(self) -> dict[str, Any]:
        """The section as ``report.json`` holds it; a repository source's files are the files it
        curated plus those it skipped unread (drops of stage ``repo``)."""
        data = dataclasses.asdict(self)
        data["reconciles"] = self.reconciles
        repos = data.pop("repositories")
        if repos is not None:
            repos["files_skipped"] = {key.split("/", 1)[1]: n for key, n in sorted(self.dropped.items()) if key.startswith(f"{Stage.REPO}/")}
            repos["files"] = repos.pop("files_curated") + sum(repos["files_skipped"].values())
            data["repositories"] = repos
        return data


