"""The filter contract and the chain that applies filters in order."""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence

from pipeline.documents import Document, Drop

STAGE = "filter"


class Rejection(NamedTuple):
    """Why a filter removed a document: a reason name and the measured value."""

    reason: str
    detail: str


DocumentFilter = Callable[[Document], Optional[Rejection]]


def apply_filters(filters: Sequence[DocumentFilter], doc: Document) -> Document | Drop:
    """The first rejection wins, so every drop has exactly one reason."""
    for check in filters:
        rejection = check(doc)
        if rejection is not None:
            return Drop(doc.id, doc.source, STAGE, rejection.reason, rejection.detail)
    return doc
