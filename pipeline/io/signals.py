"""The ``signals/`` format: every document's measured values, kept or dropped (``output.signals``).

One Parquet file per work unit (``signals/part-00007.parquet``), one row per document read (dead
letters excepted), in read order: the verdict (``stage`` is ``kept`` or the stage that dropped it,
with its ``reason``), the language, each rule filter's values as ``<filter>_<value>`` (a rule not
reached because an earlier one dropped the document is null), classifier scores, and the
deduplication it took part in: ``duplicate_of`` (the kept document it duplicates), and for
near-duplicate clusters ``cluster_keeper`` and ``cluster_size`` (1 outside any cluster). The analyze
step spills the rows with each survivor's position; the apply step adds the dedup columns.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.io.curated import ParquetRowWriter
from pipeline.records import Document, Drop

KEPT = "kept"
SURVIVOR = "survivor"  # the spill's column: a survivor's position in the unit (its dedup node), null for a drop
ARROW_TYPES = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}
FIXED_COLUMNS = [("id", pa.string()), ("source", pa.string()), ("stage", pa.string()), ("reason", pa.string()), ("filter", pa.string()), ("language", pa.string())]
DEDUP_COLUMNS = [("duplicate_of", pa.string()), ("cluster_keeper", pa.string()), ("cluster_size", pa.int64())]


def signals_schema(values: dict[str, type], classifiers: Iterable[str]) -> pa.Schema:
    """The columns of one source's signals: fixed, then its filters' values (column → Python
    type, in chain order), classifier scores, dedup."""
    measured = [(column, ARROW_TYPES[kind]) for column, kind in values.items()]
    scores = [(f"classifier_{name}_score", pa.float64()) for name in classifiers]
    return pa.schema([*FIXED_COLUMNS, *measured, *scores, *DEDUP_COLUMNS])


def spill_schema(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field(SURVIVOR, pa.int64()))


def signals_row(doc_id: str, source: str, result: Document | Drop, values: dict[str, Any], survivor: int | None) -> dict[str, Any]:
    """One spilled row: the analyze step's verdict and values."""
    row: dict[str, Any]
    if isinstance(result, Drop):
        row = {"stage": result.stage, "reason": result.reason, "language": result.language or None}
        if result.reason.startswith("classifier_"):
            row[f"{result.reason}_score"] = float(result.detail.split(" ", 1)[0])
    else:
        row = {"stage": KEPT, "language": result.meta.get("language")}
        row.update({f"classifier_{name}_score": score for name, score in result.meta.get("scores", {}).items()})
    return {**values, **row, "id": doc_id, "source": source, SURVIVOR: survivor}


def write_signals(path: str, spilled: pa.Table, dedup: dict[int, tuple[str | None, str | None, str | None, str | None, int]]) -> dict[str, Any]:
    """The unit's final signals: the spill with each survivor's dedup outcome by position
    (``(stage, reason, duplicate_of, cluster_keeper, cluster_size)``; absent: kept, no cluster).
    Only the five dedup-touched columns pass through Python; the rest stay Arrow columns."""
    columns = {name: spilled.column(name).to_pylist() for name in ("stage", "reason", "duplicate_of", "cluster_keeper")}
    stage, reason, duplicate_of, keeper = columns.values()
    size: list[int | None] = [None] * spilled.num_rows
    for row, position in enumerate(pc.fill_null(spilled.column(SURVIVOR), -1).to_numpy().tolist()):
        if position < 0:
            continue
        outcome = dedup.get(position, (None, None, None, None, 1))
        if outcome[0] is not None:
            stage[row], reason[row], duplicate_of[row] = outcome[:3]
        keeper[row], size[row] = outcome[3:]
    table = spilled.drop_columns([SURVIVOR])
    for name, values in (*columns.items(), ("cluster_size", size)):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.schema.field(index), pa.array(values, table.schema.field(index).type))
    writer = ParquetRowWriter(path, table.schema, row_group=16384)
    writer.write_table(table)
    return writer.close()
