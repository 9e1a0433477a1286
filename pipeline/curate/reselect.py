"""Re-threshold without recompute: a curate whose rule filters' thresholds changed, decided from the
values an earlier run stored (``output.keep_work``: its per-unit spill, dedup keys and signals).

Per unit, every document's verdict is taken again from its stored values, in chain order: a rule
that now fails removes it (with the detail the rule gives under the new thresholds); a document
that passes everything it passed before keeps its old outcome. The survivors that remain keep
their dedup keys (renumbered to their new positions) and are read where the earlier run spilled
them (their text, shingles and MinHash signatures are not copied: ``write_spill_from``), so
deduplication and the apply step then run as in any curate and write what a full run with the
new config writes. A rule that removed a document and now lets it pass would need the text the
old run never kept past that rule: ``reselect`` refuses, as it refuses any change other than
thresholds (``reselect_refusals``).
"""
from __future__ import annotations

import dataclasses
import heapq
from collections import Counter
from collections.abc import Collection
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from pipeline.curate.analyze import UnitOutputs, keep_sample, score_keys
from pipeline.curate.filters.base import REMOVED_BY, DocumentFilter, Rejection, RuleFilter, filter_name
from pipeline.curate.filters.classifier import ClassifierFilter
from pipeline.curate.filters.rules.language import LanguageFilter
from pipeline.io.curated import CURATED_SCHEMA, SPILL_COMPRESSION, ParquetRowWriter, document_at
from pipeline.io.files import read_bytes, write_bytes
from pipeline.io.signals import KEPT, SURVIVOR
from pipeline.io.spill import (
    UnitIndex,
    read_filter_drops,
    read_index,
    read_survivor_batches,
    read_table,
    unit_file,
    write_filter_drops,
    write_index,
    write_spill_from,
)
from pipeline.records import Document, Drop, Stage

# what may differ from the earlier run: the build's sections, and where and how the run goes
BUILD_ONLY = ("output_dir", "beam", "mix", "mix_by", "tokenizer", "fim", "split_combined_tokens", "pack", "max_dead_letter_fraction", "output.keep_work")


class Reselect(NamedTuple):
    """Where a reselect starts (an earlier run's output_dir) and, per source, the rule filters whose
    thresholds changed: only those can decide differently."""

    run_dir: str
    changed: dict[str, list[str]]


class ReselectError(ValueError):
    """A change that stored signals cannot decide: the message names the key or the document."""


def _flat(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{path}.{key}" if path else key).items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{path}.{i}").items()}
    return {path: value}


def reselect_refusals(old: dict[str, Any], new: dict[str, Any], rules: dict[str, type[RuleFilter]]) -> list[str]:
    """The config keys that differ between two curate configs and that stored signals cannot decide:
    anything but a rule filter's thresholds (``rules``: config block → its class) and the build's sections."""
    before, after = _flat(old), _flat(new)
    refused = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key) or key.startswith(tuple(f"{b}." for b in BUILD_ONLY)) or key in BUILD_ONLY:
            continue
        parts = key.split(".")
        block = parts[-2] if len(parts) >= 3 and parts[-3] == "filters" else None
        if block in rules and parts[-1] != "enabled" and parts[-1] not in rules[block].MEASURE_PARAMS:
            continue
        refused.append(key)
    return refused


def new_verdicts(signals: pa.Table, chain: list[DocumentFilter], changed: Collection[str]) -> dict[int, tuple[int, Rejection]]:
    """Row → (chain index, rejection) for each document a rule whose thresholds ``changed`` now
    removes; every other row keeps its old outcome (an unchanged rule decides as before). Works
    filter by filter over the stored columns, judging only the rows a changed rule reached. Raises
    ReselectError when the rule that removed a document now lets it pass."""
    stage = np.asarray(signals.column("stage").to_pylist(), dtype=object)
    removed_by = np.asarray(signals.column(REMOVED_BY).to_pylist(), dtype=object)
    undecided = (stage == Stage.FILTER) | (stage == KEPT)  # removed before the filters (normalize, extraction): unchanged
    verdicts: dict[int, tuple[int, Rejection]] = {}
    for i, check in enumerate(chain):
        if not (isinstance(check, RuleFilter) and check.name in changed):
            undecided &= removed_by != filter_name(check)
            continue
        keys = list(check.signal_types())
        columns = [f"{check.name}_{key}" for key in keys if f"{check.name}_{key}" in signals.column_names]
        reached = np.zeros(signals.num_rows, dtype=bool)
        for column in columns:
            reached |= signals.column(column).is_valid().to_numpy(zero_copy_only=False)
        undecided &= reached  # never reached: an earlier filter (not a rule) removed it, as before
        rows = np.flatnonzero(undecided)
        stored = signals.select(columns).take(pa.array(rows)).to_pylist()
        for row, values in zip(rows.tolist(), stored, strict=True):
            rejection = check.verdict({key: values.get(f"{check.name}_{key}") for key in keys})
            if rejection is not None:
                verdicts[row] = (i, rejection)
                undecided[row] = False
            elif removed_by[row] == check.name:
                raise ReselectError(f"document {signals.column('id')[row].as_py()!r}: filter {check.name} removed it and now lets it pass; reselect can "
                                    "only tighten (the earlier run did not measure it past that filter): run curate")
    return verdicts


def _language_at(language: str | None, detected: str | None, chain: list[DocumentFilter], index: int) -> str:
    """The language a document's ``meta`` held when the filter at ``index`` saw it (``language`` and
    ``language_detected``: its stored columns)."""
    language_filter = next((i for i, c in enumerate(chain) if isinstance(c, LanguageFilter)), None)
    if language_filter is None:
        return language or ""
    return (detected or "") if language_filter < index else ""


def _columns_after(chain: list[DocumentFilter], index: int) -> list[str]:
    """The value columns of the filters after ``index``: null for a document removed at ``index`` (a fresh run never measures them)."""
    columns = []
    for check in chain[index + 1 :]:
        if isinstance(check, RuleFilter):
            columns += [f"{check.name}_{key}" for key in check.signal_types()]
        elif isinstance(check, ClassifierFilter):
            columns.append(f"classifier_{check.name}_score")
    return columns


def reselected_signals(signals: pa.Table, chain: list[DocumentFilter], verdicts: dict[int, tuple[int, Rejection]], drops: dict[int, Drop],
                       positions: list[int | None]) -> pa.Table:
    """The unit's signals spill after reselection: rows removed now get their filter's outcome and
    null values past it; ``positions`` are the survivors' new positions (None: not a survivor)."""
    columns = {name: signals.column(name) for name in signals.column_names}
    rows_at: dict[int, list[int]] = {}
    for row, (i, _) in verdicts.items():
        rows_at.setdefault(i, []).append(row)
    for i, rows in sorted(rows_at.items()):
        mask = np.zeros(signals.num_rows, dtype=bool)
        mask[rows] = True
        for name in _columns_after(chain, i):
            if name in columns:
                columns[name] = pc.if_else(pa.array(mask), pa.nulls(signals.num_rows, columns[name].type), columns[name])
    outcome = {"stage": lambda row: Stage.FILTER, "reason": lambda row: drops[row].reason, REMOVED_BY: lambda row: filter_name(chain[verdicts[row][0]]),
               "language": lambda row: drops[row].language or None}
    for name, value in outcome.items():
        current = columns[name].to_pylist()
        for row in verdicts:
            current[row] = value(row)
        columns[name] = pa.array(current, type=columns[name].type)
    columns[SURVIVOR] = pa.array(positions, type=columns[SURVIVOR].type)
    return pa.table(list(columns.values()), schema=signals.schema)


def reselect_unit(old_work: str, new_work: str, unit: int, source: str, chain: list[DocumentFilter], changed: Collection[str], base_node: int) -> UnitOutputs:
    """The unit's analysis under new thresholds, from the earlier run's files; writes the unit's new
    spill files and saved outputs under ``new_work``."""
    old = UnitOutputs.load(old_work, unit)
    if old is None:
        raise ReselectError(f"unit {unit}: the earlier run has no analysis of it (run curate with output.keep_work: true)")
    signals = read_table(unit_file(old_work, unit, "signals.parquet"))
    old_drops = iter(read_filter_drops(old_work, unit))
    index = read_index(old_work, unit)
    survivors: list[pa.Table] = []  # read once a survivor leaves: Documents are made only for those

    def survivor(position: int) -> Document:
        if not survivors:
            survivors.append(pa.Table.from_batches(list(read_survivor_batches(old_work, unit)), schema=CURATED_SCHEMA))
        return document_at(survivors[0], position)

    counts = Counter(dict(old.counts))
    heaps: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for reason, sample in old.samples:
        heaps.setdefault(reason, []).append((-sample[0], *sample[1:]))
    for heap in heaps.values():
        heapq.heapify(heap)
    verdicts = new_verdicts(signals, chain, changed)
    removed = sorted(verdicts)
    stored = signals.select(["id", "language", "language_detected"] if "language_detected" in signals.column_names else ["id", "language"])
    new_drops: dict[int, Drop] = {}
    for row, values in zip(removed, stored.take(pa.array(removed, pa.int64())).to_pylist(), strict=True):
        i, rejection = verdicts[row]
        language = rejection.language or _language_at(values["language"], values.get("language_detected"), chain, i)
        new_drops[row] = Drop(values["id"], source, Stage.FILTER, rejection.reason, rejection.detail, language)
    kept: list[int] = []  # old survivor positions that stay
    positions: list[int | None] = []  # each row's new survivor position
    drops: list[Drop] = []
    for row, position in enumerate(signals.column(SURVIVOR).to_pylist()):
        old_drop = next(old_drops) if position is None else None
        drop = new_drops.get(row)
        if drop is None:
            positions.append(None if position is None else len(kept))
            if old_drop is not None:
                drops.append(old_drop)
            else:
                kept.append(position)
            continue
        positions.append(None)
        drops.append(drop)
        if old_drop is not None:  # another reason now: it leaves its old reason's samples (its text is not stored)
            _unsample(heaps, (old_drop.stage, old_drop.reason), drop.id)
            continue
        doc = survivor(position)
        for key in score_keys(source, doc):
            counts[key] -= 1
        for name in doc.meta.get("labels", {}):  # no longer a kept borderline document
            _unsample(heaps, (Stage.KEPT_BORDERLINE, f"classifier_{name}"), doc.id)
        keep_sample(heaps, drop, doc.text)
    for reason in [r for r, h in heaps.items() if not h]:
        del heaps[reason]
    _write_unit(old_work, new_work, unit, index, kept, drops, reselected_signals(signals, chain, verdicts, new_drops, positions))
    keyed = {tag: _renumbered(entries, kept, len(index.ids), base_node) for tag, entries in old.keyed.items()}
    sampled = [(reason, (-entry[0], *entry[1:])) for reason, heap in sorted(heaps.items()) for entry in sorted(heap)]
    report = dataclasses.replace(old.report, survivors=len(kept), survivor_bytes=sum(index.sizes[p] for p in kept),
                                 dedup_key_bytes=sum(entries.nbytes for entries in keyed.values()))
    outputs = UnitOutputs(keyed, sorted((k, n) for k, n in counts.items() if n), sampled, report)
    outputs.save(new_work, unit)
    return outputs


def _unsample(heaps: dict[tuple[str, str], list[tuple[Any, ...]]], reason: tuple[str, str], doc_id: str) -> None:
    if reason in heaps:
        heaps[reason] = [entry for entry in heaps[reason] if entry[1] != doc_id]
        heapq.heapify(heaps[reason])


def _renumbered(entries: np.ndarray, kept: list[int], survivors: int, base_node: int) -> np.ndarray:
    """Dedup entries of the survivors that stay (of ``survivors`` before), their nodes moved to their new positions."""
    new_position = np.full(survivors, -1, np.int64)
    new_position[kept] = np.arange(len(kept))
    positions = new_position[(entries["node"] - np.uint64(base_node)).astype(np.int64)]
    entries = entries[positions >= 0].copy()
    entries["node"] = np.uint64(base_node) + positions[positions >= 0].astype(np.uint64)
    return entries


def _write_unit(old_work: str, new_work: str, unit: int, index: UnitIndex, kept: list[int], drops: list[Drop], signals: pa.Table) -> None:
    """The unit's new index, drops and signals; its survivors' text, signatures and shingle sets stay
    in the earlier run's spill, read there through the kept positions (``write_spill_from``)."""
    write_spill_from(new_work, unit, old_work, np.asarray(kept, dtype=np.int64))
    write_index(new_work, unit, UnitIndex([index.ids[p] for p in kept], [index.sources[p] for p in kept], [index.sizes[p] for p in kept]))
    write_filter_drops(new_work, unit, drops)
    spill = ParquetRowWriter(unit_file(new_work, unit, "signals.parquet"), signals.schema, row_group=16384, compression=SPILL_COMPRESSION)
    spill.write_table(signals)
    spill.close()


def copy_file(source: str, target: str) -> None:
    if FileSystems.exists(source):
        write_bytes(target, read_bytes(source))
