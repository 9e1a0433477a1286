"""What every per-document step shares: exceptions become dead letters, drops are sampled.

A step is a plain function ``Document -> Document | Drop`` (testable without Beam); the analyze
step turns any exception into a dead letter with the document's file and line, so one bad
document never kills a run, and keeps a bounded sample of drops per reason for the report.
"""
from __future__ import annotations

import traceback

import apache_beam as beam

from pipeline.records import DeadLetter, Document, preview

SAMPLES = "samples"
COUNTS = "counts"  # the tagged output of count keys, ((kind, source, stage, reason), n)
SAMPLE_CHARS = 1000


def dead_letter_for(doc: Document, stage: str, error: BaseException) -> DeadLetter:
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    location = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    if "offset" in doc.meta:  # a document of a byte range of a large file: no line number
        location += f" at byte offset {doc.meta['offset']}"
    return DeadLetter(doc.source, stage, str(doc.meta.get("path", doc.id)), doc.meta.get("line"), doc.meta.get("row"), f"{type(error).__name__}: {error}{location}", preview(doc.text))


class SampleDrops(beam.PTransform):
    """A bounded, deterministic sample of dropped documents per (stage, reason): the ``per_reason``
    smallest by a hash of their id (for a classifier: the highest scores under its threshold), so
    the same documents are shown on every run and runner."""

    def __init__(self, per_reason: int = 5):
        super().__init__()
        self._per_reason = per_reason

    def expand(self, samples: beam.PCollection) -> beam.PCollection:
        return (
            samples
            | "SmallestPerReason" >> beam.combiners.Top.SmallestPerKey(self._per_reason)
            | "AsRecords" >> beam.MapTuple(lambda key, rows: {"stage": key[0], "reason": key[1], "documents": [{"id": i, "detail": d, "text": t} for _, i, d, t in rows]})
        )
