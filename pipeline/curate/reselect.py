"""Re-threshold without recompute: a curate whose rule filters' thresholds changed, decided from the
values an earlier run stored (``output.keep_work``: its per-unit spill, dedup keys and signals).

Per unit, every document's verdict is taken again from its stored values, in chain order: a rule
that now fails removes it (with the detail the rule gives under the new thresholds); a document
that passes everything it passed before keeps its old outcome. The survivors that remain keep
their text, shingles, MinHash signatures and dedup keys (renumbered to their new positions), so
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
from apache_beam.io.filesystems import FileSystems

from pipeline.curate.analyze import UnitOutputs, keep_sample, score_keys
from pipeline.curate.filters.base import REMOVED_BY, DocumentFilter, Rejection, RuleFilter, filter_name
from pipeline.curate.filters.classifier import ClassifierFilter
from pipeline.curate.filters.rules.language import LanguageFilter
from pipeline.io.curated import CURATED_SCHEMA, SPILL_COMPRESSION, ParquetRowWriter, document_at
from pipeline.io.files import read_bytes, write_bytes
from pipeline.io.signals import SURVIVOR
from pipeline.io.spill import (
    ShingleSets,
    UnitIndex,
    read_filter_drops,
    read_index,
    read_shingle_sets,
    read_signatures,
    read_table,
    unit_file,
    write_filter_drops,
    write_index,
    write_shingle_sets,
    write_signatures,
)
from pipeline.records import Drop, Stage

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


def new_verdict(row: dict[str, Any], chain: list[DocumentFilter], changed: Collection[str]) -> tuple[int, Rejection] | None:
    """(chain index, rejection) when a rule whose thresholds ``changed`` now removes the document,
    else None (its old outcome stands: an unchanged rule decides as before). Raises ReselectError
    when the rule that removed it now lets it pass."""
    if row["stage"] not in (Stage.FILTER, "kept"):
        return None  # removed before the filters (normalize, extraction): unchanged
    removed_by = row.get(REMOVED_BY)
    for i, check in enumerate(chain):
        if isinstance(check, RuleFilter) and check.name not in changed:
            if removed_by == check.name:
                return None
        elif isinstance(check, RuleFilter):
            values = {key: row.get(f"{check.name}_{key}") for key in check.signal_types()}
            if all(v is None for v in values.values()):
                return None  # never reached: an earlier filter (not a rule) removed it, as before
            rejection = check.verdict(values)
            if rejection is not None:
                return i, rejection
            if removed_by == check.name:
                raise ReselectError(f"document {row['id']!r}: filter {check.name} removed it and now lets it pass; reselect can only tighten "
                                    "(the earlier run did not measure it past that filter): run curate")
        elif removed_by == filter_name(check):
            return None
    return None


def _language_at(row: dict[str, Any], chain: list[DocumentFilter], index: int) -> str:
    """The language a document's ``meta`` held when the filter at ``index`` saw it."""
    language_filter = next((i for i, c in enumerate(chain) if isinstance(c, LanguageFilter)), None)
    if language_filter is None:
        return row.get("language") or ""
    return (row.get("language_detected") or "") if language_filter < index else ""


def _unreached(row: dict[str, Any], chain: list[DocumentFilter], index: int) -> dict[str, Any]:
    """The row with every value of the filters after ``index`` null (a fresh run never measured them)."""
    row = dict(row)
    for check in chain[index + 1 :]:
        if isinstance(check, RuleFilter):
            row.update({f"{check.name}_{key}": None for key in check.signal_types()})
        elif isinstance(check, ClassifierFilter):
            row[f"classifier_{check.name}_score"] = None
    return row


def reselect_unit(old_work: str, new_work: str, unit: int, source: str, chain: list[DocumentFilter], changed: Collection[str], base_node: int,
                  verify: bool) -> UnitOutputs:
    """The unit's analysis under new thresholds, from the earlier run's files; writes the unit's new
    spill files and saved outputs under ``new_work``."""
    old = UnitOutputs.load(old_work, unit)
    if old is None:
        raise ReselectError(f"unit {unit}: the earlier run has no analysis of it (run curate with output.keep_work: true)")
    rows = read_table(unit_file(old_work, unit, "signals.parquet")).to_pylist()
    old_drops = iter(read_filter_drops(old_work, unit))
    survivors = read_table(unit_file(old_work, unit, "docs.parquet"))  # Documents made only for those that leave
    index = read_index(old_work, unit)
    counts = Counter(dict(old.counts))
    heaps: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for reason, sample in old.samples:
        heaps.setdefault(reason, []).append((-sample[0], *sample[1:]))
    for heap in heaps.values():
        heapq.heapify(heap)
    kept: list[int] = []  # old survivor positions that stay
    drops: list[Drop] = []
    new_rows = []
    for row in rows:
        position = row.pop(SURVIVOR)
        old_drop = next(old_drops) if position is None else None
        verdict = new_verdict(row, chain, changed)
        if verdict is None:
            if old_drop is not None:
                drops.append(old_drop)
            else:
                row[SURVIVOR] = len(kept)
                kept.append(position)
            new_rows.append(row)
            continue
        i, rejection = verdict
        drop = Drop(row["id"], source, Stage.FILTER, rejection.reason, rejection.detail, rejection.language or _language_at(row, chain, i))
        drops.append(drop)
        row = _unreached(row, chain, i)
        row.update({"stage": Stage.FILTER, "reason": drop.reason, REMOVED_BY: filter_name(chain[i]), "language": drop.language or None, SURVIVOR: None})
        new_rows.append(row)
        if old_drop is not None:  # another reason now: it leaves its old reason's samples (its text is not stored)
            _unsample(heaps, (old_drop.stage, old_drop.reason), drop.id)
            continue
        doc = document_at(survivors, position)
        for key in score_keys(source, doc):
            counts[key] -= 1
        for name in doc.meta.get("labels", {}):  # no longer a kept borderline document
            _unsample(heaps, (Stage.KEPT_BORDERLINE, f"classifier_{name}"), doc.id)
        keep_sample(heaps, drop, doc.text)
    for reason in [r for r, h in heaps.items() if not h]:
        del heaps[reason]
    _write_unit(old_work, new_work, unit, survivors, index, kept, drops, new_rows, verify)
    keyed = {tag: _renumbered(entries, kept, survivors.num_rows, base_node) for tag, entries in old.keyed.items()}
    sampled = [(reason, (-entry[0], *entry[1:])) for reason, heap in sorted(heaps.items()) for entry in sorted(heap)]
    report = dataclasses.replace(old.report, survivors=len(kept), survivor_bytes=sum(index.sizes[p] for p in kept),
                                 shuffled_bytes=sum(entries.nbytes for entries in keyed.values()))
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


def _write_unit(old_work: str, new_work: str, unit: int, survivors: pa.Table, index: UnitIndex, kept: list[int], drops: list[Drop],
                rows: list[dict[str, Any]], verify: bool) -> None:
    spill = ParquetRowWriter(unit_file(new_work, unit, "docs.parquet"), CURATED_SCHEMA, compression=SPILL_COMPRESSION)
    spill.write_table(survivors.take(pa.array(kept, pa.int64())))
    spill.close()
    write_index(new_work, unit, UnitIndex([index.ids[p] for p in kept], [index.sources[p] for p in kept], [index.sizes[p] for p in kept]))
    write_filter_drops(new_work, unit, drops)
    old_signals = read_table(unit_file(old_work, unit, "signals.parquet"))
    signals = ParquetRowWriter(unit_file(new_work, unit, "signals.parquet"), old_signals.schema, row_group=16384, compression=SPILL_COMPRESSION)
    for row in rows:
        signals.write(row)
    signals.close()
    if verify:
        sets = read_shingle_sets(old_work, unit)
        write_shingle_sets(new_work, unit, ShingleSets.from_sets([sets[p] for p in kept]))
        write_signatures(new_work, unit, read_signatures(old_work, unit)[kept])


def copy_file(source: str, target: str) -> None:
    if FileSystems.exists(source):
        write_bytes(target, read_bytes(source))
