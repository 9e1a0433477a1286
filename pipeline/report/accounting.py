"""Run accounting: per-source counts, the reconciliation invariant and the error budget.

Counts are computed as data inside the pipeline (not runner metrics, which some runners do not
return), written to ``report/_counts/<job>.json``, and turned into the report by the driver.
Read, kept, dropped and dead-lettered counts come from the work units' own reports of what they
read and what their writers committed, and are checked against the files on disk.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.io.curated import ReconciliationError, parquet_rows
from pipeline.io.files import read_bytes, read_json, write_bytes, write_json
from pipeline.read.units import WorkUnit, unit_name
from pipeline.records import AnalyzedUnit, AppliedUnit, UnitReport
from pipeline.report.counts import CountKey, Kind, SourceSummary, count_key
from pipeline.report.html import render


class ErrorBudgetExceeded(RuntimeError):
    """More records were dead-lettered than ``max_dead_letter_fraction`` allows."""


class SumCounts(beam.PTransform):
    """Sums ``((kind, source, stage, reason), n)`` pairs over all inputs into ``[key, n]`` rows."""

    def expand(self, keys: beam.PCollection) -> beam.PCollection:
        return keys | "SumPerKey" >> beam.CombinePerKey(sum) | "AsRows" >> beam.Map(lambda kv: [list(kv[0]), kv[1]])


def summarize_counts(rows: Iterable[tuple[Sequence[str], int]], sources: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per source, its ``SourceSummary`` as a dict: read, kept, dead-lettered, dropped per
    ``stage/reason``, ..., and whether ``read = kept + dropped + dead-lettered`` holds (a
    repository source reads repository documents and the files it skipped, dropped or dead-lettered)."""
    summary = {s: SourceSummary() for s in sources}
    for (kind, source, stage, reason), n in rows:
        summary.setdefault(source, SourceSummary()).add(kind, stage, reason, n)
    return {name: entry.to_dict() for name, entry in summary.items()}


def unit_count_rows(unit_reports: Iterable[UnitReport]) -> list[tuple[CountKey, int]]:
    """The read, kept, dropped and dead-lettered count rows of the per-unit reports."""
    rows: list[tuple[CountKey, int]] = []
    for r in unit_reports:
        if isinstance(r, AnalyzedUnit):
            rows.append((count_key(Kind.READ, r.source), r.read))
            rows += [(count_key(Kind.DEAD_LETTER, r.source, stage), n) for stage, n in r.dead_lettered.items()]
        else:
            rows.append((count_key(Kind.KEPT, r.source), r.kept))
            rows += [(count_key(Kind.DROPPED, r.source, stage, reason), n) for stage, reason, n in r.dropped]
    return rows


def summarize_units(unit_reports: Iterable[UnitReport], count_rows: Iterable[tuple[Sequence[str], int]], sources: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``summarize_counts`` over the unit reports (what the writers committed) plus the other count keys."""
    return summarize_counts([*unit_count_rows(unit_reports), *count_rows], sources)


def _jsonl_rows(path: str) -> int:
    return read_bytes(path).count(b"\n") if FileSystems.exists(path) else 0


def verify_written(units: Sequence[WorkUnit], unit_reports: Sequence[UnitReport], curated_dir: str, drops_dir: str, dead_letter_dir: str,
                   signals_dir: str) -> None:
    """Every unit reported both steps once, its counts add up, and the files it committed hold
    exactly the rows it reported (read back from Parquet footers and JSONL lines): a record
    lost anywhere between reading and the output files fails the run here, naming the unit."""
    analyzed_by_unit: dict[int, list[AnalyzedUnit]] = {}
    applied_by_unit: dict[int, list[AppliedUnit]] = {}
    for r in unit_reports:
        if isinstance(r, AnalyzedUnit):
            analyzed_by_unit.setdefault(r.unit, []).append(r)
        else:
            applied_by_unit.setdefault(r.unit, []).append(r)
    problems = []
    for unit in units:
        where = f"unit {unit.index} ({unit.source}: {', '.join(p.path for p in unit.pieces[:2])}{' ...' if len(unit.pieces) > 2 else ''})"
        analyzed, applied = analyzed_by_unit.get(unit.index, []), applied_by_unit.get(unit.index, [])
        if len(analyzed) != 1 or len(applied) != 1:
            problems.append(f"{where}: {len(analyzed)} analyze and {len(applied)} apply reports, expected one each")
            continue
        a, b = analyzed[0], applied[0]
        dead = sum(a.dead_lettered.values())
        dropped = sum(n for _, _, n in b.dropped)
        if a.read != b.kept + dropped + dead:
            problems.append(f"{where}: read {a.read} != kept {b.kept} + dropped {dropped} + dead-lettered {dead}")
        written = {
            "curated": (parquet_rows(FileSystems.join(curated_dir, unit_name("part", unit.index, ".parquet"))), b.kept),
            "drops": (parquet_rows(FileSystems.join(drops_dir, unit_name("part", unit.index, ".parquet"))), dropped),
            "dead_letter": (_jsonl_rows(FileSystems.join(dead_letter_dir, unit_name("part", unit.index, ".jsonl"))), dead),
        }
        if b.signals_file is not None:  # one row per document read, kept or dropped
            written["signals"] = (parquet_rows(FileSystems.join(signals_dir, unit_name("part", unit.index, ".parquet"))), b.kept + dropped)
        problems += [f"{where}: {name}/ file holds {rows} rows, the unit reported {reported}" for name, (rows, reported) in written.items() if rows != reported]
    if problems:
        raise ReconciliationError("written output does not match the counts: " + "; ".join(problems[:20]))


def check_reconciliation(summary: dict[str, dict[str, Any]]) -> None:
    bad = [f"{s}: read {e['read']} != kept {e['kept']} + dropped {sum(e['dropped'].values())} + dead-lettered {e['dead_lettered']}" for s, e in summary.items() if not e["reconciles"]]
    if bad:
        raise ReconciliationError("counts do not reconcile: " + "; ".join(bad))


def check_error_budget(summary: dict[str, dict[str, Any]], max_fraction: float, dead_letter_dir: str) -> None:
    read = sum(e["read"] for e in summary.values())
    dead = sum(e["dead_lettered"] for e in summary.values())
    if read and dead / read > max_fraction:
        raise ErrorBudgetExceeded(
            f"{dead} of {read} records ({dead / read:.2%}) were dead-lettered, over max_dead_letter_fraction "
            f"{max_fraction:.2%}; see {dead_letter_dir}"
        )


def update_run_report(report_dir: str, job: str, section: dict[str, Any]) -> None:
    """Sets one job's section of ``report/report.json`` (keeping the others) and re-renders ``index.html``."""
    path = FileSystems.join(report_dir, "report.json")
    report = read_json(path) if FileSystems.exists(path) else {}
    report[job] = section
    write_json(path, report)
    optional = {name: read_json(FileSystems.join(report_dir, name)) if FileSystems.exists(FileSystems.join(report_dir, name)) else None
                for name in ("drop_samples.json", "near_duplicate_samples.json")}
    html = render(report, optional["drop_samples.json"], optional["near_duplicate_samples.json"])
    write_bytes(FileSystems.join(report_dir, "index.html"), html.encode("utf-8"))


def summarize_near_dedup(rows: Iterable[tuple[list[str], int]]) -> dict[str, Any]:
    """Pair counts, the cluster-size histogram, duplicates per (source -> keeper source) and the
    clusters over ``max_cluster`` (their members re-checked against the keeper)."""
    summary: dict[str, Any] = {"candidate_pairs": 0, "exact_checked_pairs": 0, "duplicate_pairs": 0, "unconverged_nodes": 0, "cluster_sizes": {}, "duplicate_of": {}, "giant_clusters": []}
    for (kind, detail), n in rows:
        if kind == "cluster_size":
            summary["cluster_sizes"][detail] = n
        elif kind == "duplicate_of":
            summary["duplicate_of"][detail] = n
        elif kind == "giant_cluster":
            keeper, size, removed = detail.split("\t")
            summary["giant_clusters"].append({"keeper": keeper, "size": int(size), "removed": int(removed), "kept": int(size) - 1 - int(removed)})
        else:
            summary[kind] = n
    summary["cluster_sizes"] = dict(sorted(summary["cluster_sizes"].items(), key=lambda kv: int(kv[0])))
    summary["giant_clusters"].sort(key=lambda c: (-c["size"], c["keeper"]))
    return summary
