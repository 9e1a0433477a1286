"""``DocumentStage``: the shape every per-document step shares.

A step is a plain function ``Document -> Document | Drop`` (testable without Beam); the
transform routes kept documents to the main output, drops to ``drops``, and any exception to
``dead_letter`` with the document's file and line, so one bad document never kills a run.
"""
from __future__ import annotations

import traceback
from typing import Any, Callable, Iterator, Union

import apache_beam as beam

from pipeline.documents import DeadLetter, Document, Drop, preview, stable_hash

DROPS = "drops"
DEAD_LETTER = "dead_letter"
SAMPLES = "samples"
SAMPLE_CHARS = 1000
StepResult = Union[Document, Drop]


def dead_letter_for(doc: Document, stage: str, error: BaseException) -> DeadLetter:
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    location = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return DeadLetter(doc.source, stage, str(doc.meta.get("path", doc.id)), doc.meta.get("line"), doc.meta.get("row"), f"{type(error).__name__}: {error}{location}", preview(doc.text))


class _ApplyStep(beam.DoFn):
    def __init__(self, stage: str, step: Callable[[Document], StepResult]):
        self._stage = stage
        self._step = step

    def process(self, doc: Document) -> Iterator[Any]:
        try:
            result = self._step(doc)
        except Exception as e:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter_for(doc, self._stage, e))
            return
        if isinstance(result, Drop):
            yield beam.pvalue.TaggedOutput(DROPS, result)
            sample = (stable_hash(0, result.id), result.id, result.detail, doc.text[:SAMPLE_CHARS])
            yield beam.pvalue.TaggedOutput(SAMPLES, ((result.stage, result.reason), sample))
        else:
            yield result


class DocumentStage(beam.PTransform):
    """Applies ``step`` to every document: outputs ``documents``, ``drops``, ``dead_letter`` and
    ``samples`` (``((stage, reason), (hash, id, detail, text preview))`` for each drop)."""

    def __init__(self, stage: str, step: Callable[[Document], StepResult]):
        super().__init__()
        self._stage = stage
        self._step = step

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return docs | f"Apply{self._stage.title().replace('_', '')}" >> beam.ParDo(
            _ApplyStep(self._stage, self._step)
        ).with_outputs(DROPS, DEAD_LETTER, SAMPLES, main="documents")


class SampleDrops(beam.PTransform):
    """A bounded, deterministic sample of dropped documents per (stage, reason): the ``per_reason``
    smallest by a hash of their id, so the same documents are shown on every run and runner."""

    def __init__(self, per_reason: int = 5):
        super().__init__()
        self._per_reason = per_reason

    def expand(self, samples: beam.PCollection) -> beam.PCollection:
        return (
            samples
            | "SmallestPerReason" >> beam.combiners.Top.SmallestPerKey(self._per_reason)
            | "AsRecords" >> beam.MapTuple(lambda key, rows: {"stage": key[0], "reason": key[1], "documents": [{"id": i, "detail": d, "text": t} for _, i, d, t in rows]})
        )
