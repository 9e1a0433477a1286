"""Exact deduplication on a hash of normalized text, global across sources."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import apache_beam as beam

from pipeline.documents import Document, Drop, content_hash
from pipeline.stages import DROPS

STAGE = "exact_dedup"
REASON = "exact_duplicate"


def keeper_key(priorities: dict[str, int], doc: Document) -> tuple[int, str, str]:
    """Lower source priority wins, then the smaller id (the source breaks ties between equal ids)."""
    return (priorities.get(doc.source, 0), doc.id, doc.source)


def split_duplicates(priorities: dict[str, int], docs: Iterable[Document]) -> tuple[Document, list[Drop]]:
    """The keeper of a group of identical texts, and a drop naming it for every other member."""
    group = list(docs)
    keeper = min(group, key=lambda d: keeper_key(priorities, d))
    drops = [Drop(d.id, d.source, STAGE, REASON, keeper.id) for d in group if d is not keeper]
    return keeper, drops


class _KeepOnePerText(beam.DoFn):
    def __init__(self, priorities: dict[str, int]):
        self._priorities = priorities

    def process(self, keyed: tuple[str, Iterable[Document]]) -> Iterator[Any]:
        keeper, drops = split_duplicates(self._priorities, keyed[1])
        yield keeper
        for drop in drops:
            yield beam.pvalue.TaggedOutput(DROPS, drop)


class ExactDedup(beam.PTransform):
    """Groups documents by content hash; keeps one per text (main output), drops the rest (``drops``)."""

    def __init__(self, priorities: dict[str, int]):
        super().__init__()
        self._priorities = priorities

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            docs
            | "KeyByContentHash" >> beam.Map(lambda d: (content_hash(d.text), d))
            | "GroupIdenticalTexts" >> beam.GroupByKey()
            | "KeepOnePerText" >> beam.ParDo(_KeepOnePerText(self._priorities)).with_outputs(DROPS, main="documents")
        )
