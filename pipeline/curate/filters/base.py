"""The filter contract and the chain that applies filters in order.

A filter is a callable ``Document -> None | Rejection | Document``: ``None`` keeps the document
as it is, a ``Rejection`` drops it with a reason and the measured value, and a ``Document`` keeps
a changed copy (a redaction, removed lines, or a language annotation in ``meta``). Filters that
measure something also offer ``measure(doc) -> dict`` for ``corpusmill filters explain``.

A ``RuleFilter`` splits the two: ``measure`` computes the document's values once and ``verdict``
judges them against the thresholds, so the chain keeps every value it measured (the run's
signals, ``output.signals``) at no extra cost.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple

from pipeline.records import Document, Drop, Stage


class Rejection(NamedTuple):
    """Why a filter removed a document: a reason name and the measured value."""

    reason: str
    detail: str
    language: str = ""  # the language identified, when the language filter itself rejects


FilterResult = Rejection | Document | None
DocumentFilter = Callable[[Document], FilterResult]


class RuleFilter:
    """A filter whose verdict is a function of its measured values: ``name`` prefixes its signal
    columns, ``SIGNALS`` declares each value's type (``signal_types`` when they depend on parameters)."""

    name: ClassVar[str]
    SIGNALS: ClassVar[dict[str, type]]
    MEASURE_PARAMS: ClassVar[frozenset[str]] = frozenset()  # parameters that change the measured values, not only the verdict

    def measure(self, doc: Document) -> dict[str, Any]:
        raise NotImplementedError

    def verdict(self, measured: dict[str, Any]) -> Rejection | None:
        raise NotImplementedError

    def signal_types(self) -> dict[str, type]:
        return self.SIGNALS

    def annotate(self, doc: Document, measured: dict[str, Any]) -> Document | None:
        """The kept document's changed copy (e.g. a ``meta`` annotation), or None to keep it as it is."""
        return None

    def judge(self, doc: Document, measured: dict[str, Any]) -> FilterResult:
        return self.verdict(measured) or self.annotate(doc, measured)

    def __call__(self, doc: Document) -> FilterResult:
        return self.judge(doc, self.measure(doc))


REMOVED_BY = "filter"  # the signals column naming the filter that removed a document


def filter_name(check: DocumentFilter) -> str:
    """A filter's name in signals: its config block for a rule filter, else its class."""
    return check.name if isinstance(check, RuleFilter) else type(check).__name__


def apply_filters(filters: Sequence[DocumentFilter], doc: Document, signals: dict[str, Any] | None = None) -> Document | Drop:
    """The first rejection wins, so every drop has exactly one reason; changed copies flow on.
    With ``signals``, every rule filter's measured values are added to it as ``<name>_<value>``,
    and the name of the filter that removed the document as ``filter``."""
    for check in filters:
        if signals is not None and isinstance(check, RuleFilter):
            measured = check.measure(doc)
            signals.update({f"{check.name}_{key}": value for key, value in measured.items()})
            result: FilterResult = check.judge(doc, measured)
        else:
            result = check(doc)
        if isinstance(result, Rejection):
            if signals is not None:
                signals[REMOVED_BY] = filter_name(check)
            return Drop(doc.id, doc.source, Stage.FILTER, result.reason, result.detail, result.language or doc.meta.get("language", ""))
        if isinstance(result, Document):
            doc = result
    return doc


def first_failure(checks: Sequence[tuple[str, float, bool]]) -> Rejection | None:
    """``(reason, measured value, passed)`` triples → the first failing one as a Rejection."""
    for reason, value, passed in checks:
        if not passed:
            return Rejection(reason, f"{value:.4g}")
    return None
