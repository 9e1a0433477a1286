"""Job 1, curate: read → normalize → filter → exact + near dedup → ``curated/``.

The input is cut into work units (``pipeline.read.units``). Step 1 (``AnalyzeUnit``) does all text
work where a unit lies and emits compact keys; dedup decides on those keys alone;
step 2 (``ApplyUnit``) applies the decisions where the unit lies and writes its ``curated/``,
``drops/`` and ``dead_letter/`` files. Document text never crosses a GroupByKey.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from jobs.lifecycle import JobResult, fingerprint, run_job
from pipeline import __version__, layout
from pipeline.config import Config, config_from_dict
from pipeline.curate.analyze import BANDS, EXACT, IDS, AnalyzeUnit
from pipeline.curate.apply import NEAR_STATS, PREVIEWS, ApplyUnit, NameKeepers, resolve_unit
from pipeline.curate.dedup import exact, ids, near
from pipeline.curate.dedup.lines import BoilerplateLines
from pipeline.curate.dedup.nodes import node_unit
from pipeline.curate.dedup.partitions import GroupFileSlices, entry_decoder
from pipeline.curate.filters.base import RuleFilter
from pipeline.curate.filters.chain import SourceFilterChains
from pipeline.curate.repo_order import split_repositories
from pipeline.curate.reselect import Reselect, ReselectError, reselect_refusals
from pipeline.curate.stages import COUNTS, SAMPLES, SampleDrops
from pipeline.engine.runner import create_pipeline
from pipeline.io.curated import WriteJsonFiles, curated_ids
from pipeline.io.files import absolute_path, delete_tree, list_files, read_json, remove_temp_dirs, write_json
from pipeline.io.spill import ANALYZED
from pipeline.read.formats import match_source_files
from pipeline.read.units import WorkUnit, piece_bytes, plan_units, unit_name
from pipeline.records import AnalyzedUnit, AppliedUnit, Stage, stable_hash, unit_report_from_json, unit_report_json
from pipeline.report.accounting import (
    SumCounts,
    check_error_budget,
    check_reconciliation,
    summarize_near_dedup,
    summarize_units,
    verify_written,
)
from pipeline.report.progress import write_plan

JOB = "curate"
OUTPUT_DIRS = ("curated", "drops", "dead_letter", "signals")
RESUME = "resume.json"  # under _work/: the config hash, input fingerprint and version the analyzed units were made with
SAMPLED_CLUSTERS = 5
MEMBERS_PER_SAMPLE = 20  # documents shown per sampled cluster (those of smallest id hash)
TARGET_UNITS = 64
MIN_UNIT_BYTES = 1 << 20


def warm_up_worker() -> None:
    """Loads each compiled kernel a curate worker may call: numba reads a kernel from its cache on
    first use (~0.5 s a process), which a zygote (``pipeline.engine.zygote``) does once for all
    the workers it forks."""
    from pipeline.curate.dedup.minhash import batch_shingle_hashes, signatures
    from pipeline.curate.dedup.word_hashes import count_present
    from pipeline.curate.filters.lines import text_lines
    from pipeline.curate.filters.ngrams import NgramIndex
    from pipeline.curate.filters.pii import PiiRedactor
    from pipeline.curate.filters.rules.code import line_and_character_counts
    from pipeline.curate.filters.text import text_words

    text = "Write to someone@example.com or 10.0.0.1 today.\n- the same line\n- the same line\n"
    words = text_words(text)
    index = NgramIndex.of_hashes(words.lower.hashes, words.lower.lengths)
    index.top_ngrams([2, 3])
    index.duplicated_chars([2, 3])
    index.greedy_repeated_chars([2, 3])
    count_present(words.lower.hashes[:2], words.lower.hashes)
    text_lines(text)
    PiiRedactor().redact_text(text)
    line_and_character_counts("def f():\n    return 1\n")
    for kind in ("text", "code"):
        signatures(batch_shingle_hashes([text], 2, kind), 8, 0)


def work_dir(config: Config) -> str:
    return layout.out(config, "curated", "_work")


def plan(config: Config) -> list[WorkUnit]:
    """The run's work units, from the sources' files and sizes (fails on a path matching nothing).

    Units are ``output.unit_mb`` at most; a small input is cut into about ``TARGET_UNITS`` units
    of at least 1 MB, so every worker gets work. The size depends on the input alone, never on
    the runner or worker count, so the output does not either."""
    sources = [(s.name, "repos" if s.repositories else s.format, match_source_files(s)) for s in config.sources]
    total = sum(size for _, _, files in sources for _, _, size in files)
    unit_bytes = min(int(config.output.unit_mb * (1 << 20)), max(MIN_UNIT_BYTES, total // TARGET_UNITS))
    return plan_units(sources, max(1, unit_bytes))


def near_decision(member: int, root: int) -> tuple[int, int, str]:
    """A near-dedup cluster's ``(member, keeper, stage)`` decision, as exact and id dedup give theirs."""
    return member, root, Stage.NEAR_DEDUP


def build_curate_pipeline(p: beam.Pipeline, config: Config, units: list[WorkUnit], reselect: Reselect | None = None) -> None:
    """Adds the curate graph to ``p``."""
    work = work_dir(config)
    spread = p | "ListUnits" >> beam.Create(units, reshuffle=False) | "SpreadUnits" >> beam.Reshuffle()
    side = [beam.pvalue.AsSingleton(spread | "BoilerplateLines" >> BoilerplateLines(config))] if config.dedup.lines.enabled and not reselect else []
    analyzed = spread | "AnalyzeUnits" >> beam.ParDo(
        AnalyzeUnit(config, SourceFilterChains.from_config(config), work, layout.out(config, "dead_letter"), reselect), *side).with_outputs(
        EXACT, IDS, BANDS, COUNTS, SAMPLES, main="reports")
    decisions = []
    if config.on_duplicate_id != "keep":
        decisions.append(
            analyzed[IDS]
            | "GroupIdHashes" >> GroupFileSlices(entry_decoder(exact.ENTRY))
            | "DuplicateIds" >> beam.FlatMap(exact.duplicate_decisions, Stage.ID_DEDUP)
        )
    if config.dedup.exact or config.dedup.minhash.enabled:  # near dedup links each group of equal texts through its keeper
        exact_decisions = (
            analyzed[EXACT]
            | "GroupTextHashes" >> GroupFileSlices(entry_decoder(exact.ENTRY))
            | "ExactDuplicates" >> beam.FlatMap(exact.duplicate_decisions, Stage.EXACT_DEDUP)
        )
    if config.dedup.exact:
        decisions.append(exact_decisions)
    cluster_members = []
    if config.dedup.minhash.enabled:
        survivors = analyzed.reports | "SurvivorsBySource" >> beam.Map(lambda r: (r.source, r.survivors))  # summed where read: no extra shuffle
        near_inputs = {"bands": analyzed[BANDS], "exact_edges": exact_decisions | "ExactEdges" >> beam.Map(exact.decision_edge)}
        clusters = near_inputs | "NearDuplicates" >> near.NearDuplicates(config.dedup.minhash, work, {u.index: u.source for u in units}, beam.pvalue.AsList(survivors),
                                                                           sum(piece_bytes(piece) for u in units for piece in u.pieces))
        decisions.append(clusters["members"] | "NearDecisions" >> beam.MapTuple(near_decision))
        cluster_members.append(clusters["cluster_nodes"])
    if not decisions:
        decisions.append(p | "NoDedup" >> beam.Create([]))
    named = (
        decisions
        | "MergeDecisions" >> beam.Flatten()
        | "ByKeeperUnit" >> beam.Map(lambda d: (node_unit(d[1]), d))
        | "GroupByKeeperUnit" >> beam.GroupByKey()
        | "NameKeepers" >> beam.ParDo(NameKeepers(work))
    )
    joined = {"report": analyzed.reports | "ReportByUnit" >> beam.Map(lambda r: (r.unit, r)), "decisions": named}
    if cluster_members:
        joined["clusters"] = cluster_members[0]
    resolved = (
        joined
        | "GroupByUnit" >> beam.CoGroupByKey()
        | "ResolveUnits" >> beam.Map(resolve_unit)
    )
    seed = config.seed
    sampled_roots = (
        named
        | "NearKeepers" >> beam.FlatMapTuple(lambda _, d: [d.keeper] if d.stage == Stage.NEAR_DEDUP else [])
        | "DistinctKeepers" >> beam.Distinct()
        | "SampleClusters" >> beam.combiners.Top.Smallest(SAMPLED_CLUSTERS, key=lambda r: stable_hash(seed, "cluster-sample", r))
        | "SampledKeepers" >> beam.FlatMap(lambda roots: roots)
    )
    if config.dedup.minhash.enabled:  # every giant cluster is sampled too
        sampled_roots = (sampled_roots, clusters["giant_clusters"] | "GiantKeepers" >> beam.MapTuple(lambda keeper, *_: keeper)) | "AllSampledKeepers" >> beam.Flatten()
    applied = resolved | "ApplyUnits" >> beam.ParDo(
        ApplyUnit(work, layout.out(config, "curated"), layout.out(config, "drops"), layout.out(config, "signals") if config.output.signals else None),
        beam.pvalue.AsList(sampled_roots),
    ).with_outputs(COUNTS, NEAR_STATS, PREVIEWS, main="reports")
    report_files = {
        layout.counts_path(config, "units"): (analyzed.reports, applied.reports) | "MergeUnitReports" >> beam.Flatten() | "UnitReportsAsJson" >> beam.Map(unit_report_json),
        layout.counts_path(config, JOB): (analyzed[COUNTS], applied[COUNTS]) | "MergeCounts" >> beam.Flatten() | "Count" >> SumCounts(),
        layout.out(config, "report", "drop_samples.json"): analyzed[SAMPLES] | "SampleDrops" >> SampleDrops(),
    }
    if config.dedup.minhash.enabled:
        report_files[layout.counts_path(config, "near_dedup")] = (
            [clusters["stats"], applied[NEAR_STATS]]
            | "MergeNearStats" >> beam.Flatten()
            | "SumNearStats" >> beam.CombinePerKey(sum)
            | "NearStatRows" >> beam.MapTuple(lambda key, n: [list(key), n])
        )
        report_files[layout.out(config, "report", "near_duplicate_samples.json")] = (
            applied[PREVIEWS]
            | "SampleClusterMembers" >> beam.combiners.Top.PerKey(MEMBERS_PER_SAMPLE, key=lambda member: stable_hash(seed, "member-sample", member[0]), reverse=True)
            | "ClusterSample" >> beam.MapTuple(lambda root, members: {"keeper": root, "members": [{"id": i, "text": t} for i, t in sorted(members)]})
        )
    _ = report_files | "WriteReportFiles" >> WriteJsonFiles()


def check_reselect(config: Config, run_dir: str, fingerprint_now: str) -> dict[str, list[str]]:
    """Refuses a reselect that the earlier run's stored values cannot decide, naming why; else
    returns, per source, the rule filters whose thresholds changed (the only ones to judge again)."""
    old_work = FileSystems.join(run_dir, "curated", "_work")
    marker = FileSystems.join(old_work, RESUME)
    if absolute_path(run_dir) == absolute_path(config.output_dir):
        raise ReselectError(f"reselect writes a new run: give an output_dir other than {run_dir}")
    if not FileSystems.exists(FileSystems.join(run_dir, "curated", "_SUCCESS")) or not FileSystems.exists(marker):
        raise ReselectError(f"{run_dir}: no complete curate with its work kept (curate it with output.keep_work: true)")
    if any(s.repositories for s in config.sources):
        raise ReselectError("reselect does not re-decide repository sources: run curate")
    earlier = read_json(marker)
    if earlier["input"] != fingerprint_now or earlier["version"] != __version__:
        raise ReselectError(f"{run_dir} was curated from other input files or by another corpusmill version: run curate")
    if not earlier["config"]["output"]["signals"]:
        raise ReselectError(f"{run_dir} was curated without output.signals: run curate")
    chains = SourceFilterChains.from_config(config)
    rules = {check.name: type(check) for chain in chains.chains.values() for check in chain if isinstance(check, RuleFilter)}
    refused = reselect_refusals(earlier["config"], json.loads(json.dumps(config.to_dict())), rules)
    if refused:
        raise ReselectError("stored signals cannot decide a change of " + ", ".join(refused[:10]) + " (only rule filters' thresholds and the build's sections): run curate")
    before = SourceFilterChains.from_config(config_from_dict(earlier["config"]))
    return {source: [new.name for new, old in zip(chain, before.chains[source], strict=True) if isinstance(new, RuleFilter) and new != old]
            for source, chain in chains.chains.items()}


def input_fingerprint(units: list[WorkUnit]) -> str:
    """What curate read: every planned piece's path, size and byte range."""
    return fingerprint([[u.source, [[p.path, p.size, p.start, p.end] for p in u.pieces]] for u in units])


def run_curate(config: Config, extra_beam_args: Sequence[str] = (), force: bool = False, reselect_from: str | None = None) -> dict[str, Any]:
    """Runs the job, checks the written files against the unit reports, the invariant and the
    error budget, and returns the report section. A complete ``curated/`` from the same config
    and the same input files is kept as it is unless ``force``. Inputs are matched (and an input
    inside the output refused) before anything is cleared. With ``reselect_from`` (an earlier
    run's output_dir), units are re-decided from that run's stored values instead of read
    (``pipeline.curate.reselect``); what cannot be is refused first."""
    report_path = layout.out(config, "report", "report.json")
    units: list[WorkUnit] = []
    changed_rules: dict[str, list[str]] = {}  # reselect: per source, the rule filters whose thresholds changed
    resume_marker = FileSystems.join(work_dir(config), RESUME)

    def upstream() -> dict[str, str]:
        overlap = layout.input_output_overlap(config)
        if overlap is not None:
            raise layout.OverlapError(overlap)
        units[:] = plan(config)
        if reselect_from is not None:
            changed_rules.update(check_reselect(config, reselect_from, input_fingerprint(units)))
        return {"input": input_fingerprint(units)}

    def resume_key() -> dict[str, Any]:
        """As written to JSON (lists, not tuples), so a saved key compares equal."""
        return json.loads(json.dumps({"config_hash": config.config_hash(), "input": input_fingerprint(units), "version": __version__, "config": config.to_dict()}))

    def resumable(sources: dict[str, str]) -> list[str]:
        """An interrupted run of this config, version and input: its analyzed units (and their dead letters) are reused, unless ``force``."""
        if not force and FileSystems.exists(resume_marker) and read_json(resume_marker) == resume_key():
            return [work_dir(config), layout.out(config, "dead_letter")]
        return []

    def work() -> JobResult:
        resumed = len(list_files(FileSystems.join(work_dir(config), f"unit-*.{ANALYZED}")))
        write_json(resume_marker, resume_key())
        write_plan(work_dir(config), {u.index: sum(piece_bytes(piece) for piece in u.pieces) for u in units})
        with create_pipeline(config.beam, extra_beam_args) as p:
            build_curate_pipeline(p, config, units, Reselect(reselect_from, changed_rules) if reselect_from else None)
        unit_reports = [unit_report_from_json(r) for r in read_json(layout.counts_path(config, "units"))]
        verify_written(units, unit_reports, layout.curated_dir(config), layout.out(config, "drops"), layout.out(config, "dead_letter"), layout.out(config, "signals"))
        if not config.output.keep_work:
            delete_tree(work_dir(config))
        remove_temp_dirs(*(layout.out(config, name) for name in OUTPUT_DIRS))
        summary = summarize_units(unit_reports, read_json(layout.counts_path(config, JOB)), [s.name for s in config.sources])
        for source in config.sources:
            if source.repo_field is not None and "repositories" in summary[source.name]:
                shards = [FileSystems.join(layout.curated_dir(config), unit_name("part", u.index, ".parquet")) for u in units if u.source == source.name]
                split = split_repositories(doc_id for path in shards for doc_id in curated_ids(path))
                summary[source.name]["repositories"]["split_across_files"] = {"repositories": len(split), "examples": split[:10]}
        analyzed = [r for r in unit_reports if isinstance(r, AnalyzedUnit)]
        applied = [r for r in unit_reports if isinstance(r, AppliedUnit)]
        report: dict[str, Any] = {"config_hash": config.config_hash(), "units": len(units), "units_resumed": resumed, "input_bytes": sum(r.input_bytes for r in analyzed),
                  "dedup_key_bytes": sum(r.dedup_key_bytes for r in analyzed), "sources": summary}
        if config.output.signals:
            signal_files = [r.signals_file for r in applied if r.signals_file is not None]
            signal_bytes = sum(w["bytes"] for w in signal_files)
            report["signals"] = {"rows": sum(w["rows"] for w in signal_files), "bytes": signal_bytes,
                                 "bytes_per_input_byte": round(signal_bytes / max(report["input_bytes"], 1), 4)}
        if config.dedup.minhash.enabled:
            report["near_dedup"] = summarize_near_dedup(read_json(layout.counts_path(config, "near_dedup")))
        curated = {unit_name("part", r.unit, ".parquet"): r.curated_file["sha256"] for r in applied}
        return JobResult(report, {"documents": sum(e["kept"] for e in summary.values())}, dict(sorted(curated.items())))

    def checks(report: dict[str, Any]) -> None:
        check_reconciliation(report["sources"])
        if report.get("near_dedup", {}).get("unconverged_nodes"):
            raise RuntimeError(
                f"near-duplicate components did not converge in {config.dedup.minhash.component_rounds} rounds "
                f"({report['near_dedup']['unconverged_nodes']} nodes); raise dedup.minhash.component_rounds"
            )
        check_error_budget(report["sources"], config.max_dead_letter_fraction, layout.out(config, "dead_letter"))
        duplicated = {name: e["dropped"].get(f"{Stage.ID_DEDUP}/{ids.REASON}", 0) for name, e in report["sources"].items()}
        if config.on_duplicate_id == "fail" and any(duplicated.values()):
            raise RuntimeError("duplicate ids (on_duplicate_id: fail): " + ", ".join(f"{name} {n:,}" for name, n in duplicated.items() if n)
                               + f"; the documents are in {layout.out(config, 'drops')} with reason duplicate_id")

    return run_job(config, JOB, layout.curated_dir(config), extra_beam_args, force, upstream, work,
                   lambda: read_json(report_path)[JOB] if FileSystems.exists(report_path) else None, checks, resumable)
