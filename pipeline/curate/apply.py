"""Curate, step 2: global decisions back to the units where the documents lie.

Dedup decisions are node pairs ``(member, keeper)``. ``NameKeepers`` looks keeper ids up in the
keeper's unit index, ``resolve_unit`` gathers one unit's decisions (a duplicate id wins over an
exact duplicate, which wins over a near one), and ``ApplyUnit`` streams the unit's spill once: dropped documents to ``drops/``,
the rest to ``curated/``, in read order (mixing happens in the build, in tokens). The files are written here, by the unit that owns them, and their committed row
counts are what the run report reconciles.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config_checks import CLUSTER_SIZE
from pipeline.curate.dedup import exact, ids, near
from pipeline.curate.dedup.nodes import node_position, node_unit
from pipeline.curate.stages import COUNTS
from pipeline.io.curated import CURATED_SCHEMA, ParquetRowWriter, as_drops_table, write_drops
from pipeline.io.files import FileDoFn
from pipeline.io.signals import write_signals
from pipeline.io.spill import read_index, read_survivor_batches, read_table, unit_file
from pipeline.read.units import unit_name
from pipeline.records import AnalyzedUnit, AppliedUnit, Drop, Stage
from pipeline.report.counts import Kind, count_key, length_bins


class Decision(NamedTuple):
    """A survivor removed by deduplication: its position in its unit and the document it duplicates."""

    position: int
    stage: str
    reason: str
    keeper: str
    keeper_source: str


class UnitDedup(NamedTuple):
    """What deduplication decided for one unit: the removals, and each near-duplicate cluster
    member's (position, cluster size, keeper id; None for the keeper itself) for the signals."""

    decisions: list[Decision]
    clusters: list[tuple[int, int, str | None]]

PREVIEWS = "previews"
NEAR_STATS = "near_stats"
PREVIEW_CHARS = 200
_STAGE_ORDER = {Stage.ID_DEDUP: 0, Stage.EXACT_DEDUP: 1, Stage.NEAR_DEDUP: 2}  # a duplicate id wins over an exact duplicate, which wins over a near one
_REASONS = {Stage.ID_DEDUP: ids.REASON, Stage.EXACT_DEDUP: exact.REASON, Stage.NEAR_DEDUP: near.REASON}


class NameKeepers(FileDoFn):
    """(keeper unit, [(member, keeper, stage)]) → (member unit, Decision), keeper named from its unit index."""

    def __init__(self, work_dir: str):
        super().__init__()
        self._work_dir = work_dir

    def process(self, keyed: tuple[int, Iterable[tuple[int, int, str]]]) -> Iterator[tuple[int, Decision]]:
        unit, decisions = keyed
        index = read_index(self._work_dir, unit)
        for member, keeper, stage in decisions:
            position = node_position(keeper)
            yield node_unit(member), Decision(node_position(member), stage, _REASONS[stage], index.ids[position], index.sources[position])


def resolve_unit(keyed: tuple[int, dict[str, list[Any]]]) -> tuple[AnalyzedUnit, UnitDedup]:
    """(unit, {"report": [analyze report], "decisions": [Decision], "clusters": [(position, size)]})
    → (report, one decision per removed position): a duplicate id wins over an exact duplicate,
    which wins over a near one."""
    _, joined = keyed
    (report,) = joined["report"]
    decisions: dict[int, Decision] = {}
    for d in sorted(joined["decisions"], key=lambda d: (d.position, _STAGE_ORDER[d.stage], d.keeper)):
        decisions.setdefault(d.position, d)
    keepers = {d.position: d.keeper for d in joined["decisions"] if d.stage == Stage.NEAR_DEDUP}
    clusters = [(position, size, keepers.get(position)) for position, size in sorted(joined.get("clusters", []))]
    return report, UnitDedup(sorted(decisions.values()), clusters)


class ApplyUnit(FileDoFn):
    """(report, decisions) → the unit's ``apply`` report; writes ``curated/`` and ``drops/`` for
    the unit (a near-duplicate cluster's keeper with ``meta.cluster_size``), and ``signals/`` when asked; ``counts`` keys of what was kept, ``near_stats`` (which source's documents
    duplicate which) and ``previews`` of sampled clusters."""

    def __init__(self, work_dir: str, curated_dir: str, drops_dir: str, signals_dir: str | None = None):
        super().__init__()
        self._work_dir = work_dir
        self._curated_dir, self._drops_dir = curated_dir.rstrip("/"), drops_dir.rstrip("/")
        self._signals_dir = signals_dir.rstrip("/") if signals_dir else None

    def process(self, element: tuple[AnalyzedUnit, UnitDedup], sampled_roots: Iterable[str]) -> Iterator[Any]:
        report, dedup = element
        unit, source = report.unit, report.source
        by_position = {d.position: d for d in dedup.decisions}
        in_cluster = {position: (size, keeper) for position, size, keeper in dedup.clusters}
        cluster_of: dict[int, tuple[str, int]] = {}  # position → (keeper id, cluster size)
        sampled = set(sampled_roots)
        drops: list[Drop] = []  # dedup's; the filters' are read as an Arrow table when the unit is written
        curated = ParquetRowWriter(f"{self._curated_dir}/{unit_name('part', unit, '.parquet')}", CURATED_SCHEMA)
        counts: Counter = Counter()
        near_sources: Counter = Counter()
        offset = 0
        for batch in read_survivor_batches(self._work_dir, unit):
            ids, sources, metas = (batch.column(name).to_pylist() for name in ("id", "source", "meta"))
            text = batch.column("text")
            keep = np.ones(batch.num_rows, dtype=np.bool_)
            sized = False  # a keeper's meta gained its cluster size
            for i, doc_id in enumerate(ids):
                position = offset + i
                if position in in_cluster:
                    size, cluster_keeper = in_cluster[position]
                    cluster_of[position] = (cluster_keeper or doc_id, size)
                decision = by_position.get(position)
                if decision is not None:
                    keep[i] = False
                    _, stage, reason, keeper, keeper_source = decision
                    drops.append(Drop(doc_id, sources[i], stage, reason, keeper, json.loads(metas[i]).get("language", "")))
                    if stage == Stage.NEAR_DEDUP:
                        near_sources[f"{sources[i]} -> {keeper_source}"] += 1
                        if keeper in sampled:
                            yield beam.pvalue.TaggedOutput(PREVIEWS, (keeper, (doc_id, text[i].as_py()[:PREVIEW_CHARS])))
                    continue
                if doc_id in sampled:
                    yield beam.pvalue.TaggedOutput(PREVIEWS, (doc_id, (doc_id, text[i].as_py()[:PREVIEW_CHARS])))
                meta = json.loads(metas[i])
                if position in cluster_of:  # a cluster's keeper: its size, for rehydration (mix_by: cluster_size)
                    meta[CLUSTER_SIZE] = cluster_of[position][1]
                    metas[i] = json.dumps(meta, sort_keys=True, ensure_ascii=False)
                    sized = True
                counts[count_key(Kind.LANGUAGE, source, str(meta.get("language", "unknown")))] += 1
                for kind, n in meta.get("pii", {}).items():
                    counts[count_key(Kind.PII, sources[i], kind)] += n
            if sized:
                batch = pa.RecordBatch.from_arrays([pa.array(metas, pa.string()) if name == "meta" else batch.column(name) for name in batch.schema.names], schema=batch.schema)
            kept = batch.filter(keep)
            curated.write_table(pa.Table.from_batches([kept]))
            for length_bin, n in zip(*np.unique(length_bins(kept.column("text")), return_counts=True), strict=True):
                counts[count_key(Kind.LENGTH_KEPT, source, str(length_bin))] += int(n)
            offset += batch.num_rows
        curated_file = curated.close()
        all_drops = pa.concat_tables([as_drops_table(read_table(unit_file(self._work_dir, unit, "drops.parquet"))), as_drops_table(drops)])
        drops_stats = write_drops(f"{self._drops_dir}/{unit_name('part', unit, '.parquet')}", all_drops)
        language = pc.fill_null(all_drops.column("language"), "")
        by_language = pa.table({"language": pc.if_else(pc.equal(language, ""), "unknown", language), "stage": all_drops.column("stage"), "reason": all_drops.column("reason")})
        dropped: Counter = Counter()
        for row in by_language.group_by(["language", "stage", "reason"]).aggregate([([], "count_all")]).to_pylist():
            counts[count_key(Kind.LANGUAGE_DROPPED, source, row["language"], f"{row['stage']}/{row['reason']}")] += row["count_all"]
            dropped[(row["stage"], row["reason"])] += row["count_all"]
        for key, n in sorted(counts.items()):
            yield beam.pvalue.TaggedOutput(COUNTS, (key, n))
        for pair, n in sorted(near_sources.items()):
            yield beam.pvalue.TaggedOutput(NEAR_STATS, (("duplicate_of", pair), n))
        signals_file = None
        if self._signals_dir is not None:
            outcomes: dict[int, tuple[str | None, str | None, str | None, str | None, int]] = {p: (d.stage, d.reason, d.keeper, None, 1) for p, d in by_position.items()}
            for p, (cluster_keeper, size) in cluster_of.items():
                outcome = outcomes.get(p, (None, None, None, None, 1))
                outcomes[p] = (*outcome[:3], cluster_keeper, size)
            written = write_signals(f"{self._signals_dir}/{unit_name('part', unit, '.parquet')}", read_table(unit_file(self._work_dir, unit, "signals.parquet")), outcomes)
            signals_file = {k: written[k] for k in ("rows", "bytes", "sha256")}
        yield AppliedUnit(unit, source, curated_file["rows"], [(stage, reason, n) for (stage, reason), n in sorted(dropped.items())],
                          {k: curated_file[k] for k in ("rows", "bytes", "sha256")}, {k: drops_stats[k] for k in ("rows", "bytes", "sha256")}, signals_file)
