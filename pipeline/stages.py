"""``DocumentStage``: the shape every per-document step shares.

A step is a plain function ``Document -> Document | Drop`` (testable without Beam); the
transform routes kept documents to the main output, drops to ``drops``, and any exception to
``dead_letter`` with the document's file and line, so one bad document never kills a run.
"""
from __future__ import annotations

import traceback
from typing import Any, Callable, Iterator, Union

import apache_beam as beam

from pipeline.documents import DeadLetter, Document, Drop, preview

DROPS = "drops"
DEAD_LETTER = "dead_letter"
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
        else:
            yield result


class DocumentStage(beam.PTransform):
    """Applies ``step`` to every document: outputs ``documents``, ``drops`` and ``dead_letter``."""

    def __init__(self, stage: str, step: Callable[[Document], StepResult]):
        super().__init__()
        self._stage = stage
        self._step = step

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return docs | f"Apply{self._stage.title().replace('_', '')}" >> beam.ParDo(
            _ApplyStep(self._stage, self._step)
        ).with_outputs(DROPS, DEAD_LETTER, main="documents")
