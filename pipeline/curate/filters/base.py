"""The filter contract and the chain that applies filters in order.

A filter is a callable ``Document -> None | Rejection | Document``: ``None`` keeps the document
as it is, a ``Rejection`` drops it with a reason and the measured value, and a ``Document`` keeps
a changed copy (a redaction, removed lines, or a language annotation in ``meta``). Filters that
measure something also offer ``measure(doc) -> dict`` for ``corpusmill filters explain``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence, Union

from pipeline.records import Document, Drop

STAGE = "filter"


class Rejection(NamedTuple):
    """Why a filter removed a document: a reason name and the measured value."""

    reason: str
    detail: str
    language: str = ""  # the language identified, when the language filter itself rejects


FilterResult = Optional[Union[Rejection, Document]]
DocumentFilter = Callable[[Document], FilterResult]


def apply_filters(filters: Sequence[DocumentFilter], doc: Document) -> Document | Drop:
    """The first rejection wins, so every drop has exactly one reason; changed copies flow on."""
    for check in filters:
        result = check(doc)
        if isinstance(result, Rejection):
            return Drop(doc.id, doc.source, STAGE, result.reason, result.detail, result.language or doc.meta.get("language", ""))
        if isinstance(result, Document):
            doc = result
    return doc


def first_failure(checks: Sequence[tuple[str, float, bool]]) -> Optional[Rejection]:
    """``(reason, measured value, passed)`` triples → the first failing one as a Rejection."""
    for reason, value, passed in checks:
        if not passed:
            return Rejection(reason, f"{value:.4g}")
    return None
