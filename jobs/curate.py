"""Job 1, curate: read → normalize → filter → exact dedup → ``curated/`` (DESIGN.md §1).

Also writes ``drops/`` (one row per removed document), ``dead_letter/`` and the counts the
report reconciles.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import layout
from pipeline.config import Config
from pipeline.dedup.exact import ExactDedup
from pipeline.dedup.near import NearDedup
from pipeline.mix import BYTES_PER_TOKEN, Mix
from pipeline.documents import document_order
from pipeline.filters import SourceFilterChains
from pipeline.io.files import completed_with, read_json, remove_temp_dirs, reset_dir, write_success
from pipeline.io.read import ReadCorpus
from pipeline.io.write import WriteCollectedJson, WriteShards, write_curated_shard, write_dead_letter_shard, write_drops_shard
from pipeline.normalize import normalize_document
from pipeline.report import CountAndWrite, mix_targets, update_run_report, check_error_budget, summarize_near_dedup, check_reconciliation, dead_letter_key, drop_key, kept_key, length_bin, pii_keys, read_key, summarize_counts
from pipeline.runner import configure_filesystems, create_pipeline
from pipeline.stages import DocumentStage, SampleDrops

JOB = "curate"
OUTPUT_DIRS = ("curated", "drops", "dead_letter")


def build_curate_pipeline(p: beam.Pipeline, config: Config) -> None:
    """Adds the curate graph to ``p``."""
    read_dead, read_docs = [], []
    for source in config.sources:
        read = p | f"Read[{source.name}]" >> ReadCorpus(source, config.max_document_bytes)
        read_docs.append(read.documents)
        read_dead.append(read.dead_letter)
    docs = read_docs | "MergeSources" >> beam.Flatten()
    reading_dead = read_dead | "MergeReadDeadLetters" >> beam.Flatten()

    normalized = docs | "Normalize" >> DocumentStage("normalize", normalize_document)
    filtered = normalized.documents | "Filter" >> DocumentStage("filter", SourceFilterChains.from_config(config))
    drops = [normalized.drops, filtered.drops]
    kept = filtered.documents
    priorities = {s.name: s.priority for s in config.sources}
    if config.dedup.exact:
        deduped = kept | "ExactDedup" >> ExactDedup(priorities)
        drops.append(deduped.drops)
        kept = deduped.documents
    if config.dedup.minhash.enabled:
        near = kept | "NearDedup" >> NearDedup(config.dedup.minhash, priorities, {s.name: s.kind for s in config.sources}, config.seed)
        drops.append(near["drops"])
        kept = near["documents"]
        _ = (
            near["stats"]
            | "CountNearDedupStats" >> beam.combiners.Count.PerElement()
            | "NearStatRows" >> beam.MapTuple(lambda key, n: [list(key), n])
            | "WriteNearDedupStats" >> WriteCollectedJson(layout.counts_path(config, "near_dedup"))
        )
        _ = near["samples"] | "WriteClusterSamples" >> WriteCollectedJson(layout.out(config, "report", "near_duplicate_samples.json"))
    upsampled = None
    if config.mix:
        mixed = kept | "Mix" >> Mix(config.mix, config.sources, config.seed)
        drops.append(mixed["drops"])
        kept = mixed["documents"]
        upsampled = kept | "Repeats" >> beam.Filter(lambda d: "repeat_of" in d.meta)
        _ = mixed["rates"] | "WriteMixRates" >> WriteCollectedJson(layout.counts_path(config, "mix_rates"))
    all_drops = drops | "MergeDrops" >> beam.Flatten()
    _ = (
        (normalized.samples, filtered.samples)
        | "MergeDropSamples" >> beam.Flatten()
        | "SampleDrops" >> SampleDrops()
        | "WriteDropSamples" >> WriteCollectedJson(layout.out(config, "report", "drop_samples.json"))
    )
    all_dead = [reading_dead, normalized.dead_letter, filtered.dead_letter] | "MergeDeadLetters" >> beam.Flatten()

    shards = config.output.curated_shards
    _ = kept | "WriteCurated" >> WriteShards(
        layout.out(config, "curated"), "part", ".parquet", shards, lambda d: d.id, document_order, write_curated_shard, config.seed
    )
    _ = all_drops | "WriteDrops" >> WriteShards(
        layout.out(config, "drops"), "part", ".parquet", shards, lambda d: d.id, lambda d: tuple(d), write_drops_shard, config.seed
    )
    _ = all_dead | "WriteDeadLetters" >> WriteShards(
        layout.out(config, "dead_letter"), "part", ".jsonl", 1, lambda d: d.file, lambda d: (d.source, d.file, d.line or 0, d.row or 0, d.stage, d.error), write_dead_letter_shard
    )
    count_keys = [
        docs | "KeyRead" >> beam.Map(lambda d: (read_key(d), 1)),
        reading_dead | "KeyReadDead" >> beam.Map(lambda d: (read_key(d), 1)),
        kept | "KeyKept" >> beam.Map(lambda d: (kept_key(d), 1)),
        kept | "KeyPii" >> beam.FlatMap(pii_keys),
        all_drops | "KeyDropped" >> beam.Map(lambda d: (drop_key(d), 1)),
        all_dead | "KeyDeadLetter" >> beam.Map(lambda d: (dead_letter_key(d), 1)),
    ]
    count_keys += [
        docs | "KeyReadLength" >> beam.Map(lambda d: (("length_read", d.source, length_bin(d.text), ""), 1)),
        kept | "KeyKeptLength" >> beam.Map(lambda d: (("length_kept", d.source, length_bin(d.text), ""), 1)),
        kept | "KeyLanguage" >> beam.Map(lambda d: (("language", d.source, str(d.meta.get("language", "unknown")), ""), 1)),
    ]
    if upsampled is not None:
        count_keys.append(upsampled | "KeyUpsampled" >> beam.Map(lambda d: (("upsampled", d.source, "", ""), 1)))
    _ = count_keys | "MergeCountKeys" >> beam.Flatten() | "Count" >> CountAndWrite(layout.counts_path(config, JOB))


def run_curate(config: Config, extra_beam_args: Sequence[str] = (), force: bool = False) -> dict[str, Any]:
    """Runs the job, checks the invariant and error budget, and returns the per-source summary.

    A complete ``curated/`` from the same config is kept as it is unless ``force``.
    """
    configure_filesystems(config.beam, extra_beam_args)
    if not force and completed_with(layout.curated_dir(config), config.config_hash()) and FileSystems.exists(layout.out(config, "report", "report.json")):
        return {**read_json(layout.out(config, "report", "report.json"))[JOB], "skipped": True}
    for name in (*OUTPUT_DIRS, "report"):  # a new curate starts a new run report
        reset_dir(layout.out(config, name))
    started = time.monotonic()
    with create_pipeline(config.beam, extra_beam_args) as p:
        build_curate_pipeline(p, config)
    remove_temp_dirs(*(layout.out(config, name) for name in OUTPUT_DIRS), layout.out(config, "report", "_counts"))
    summary = summarize_counts(read_json(layout.counts_path(config, JOB)), [s.name for s in config.sources])
    report = {"job": JOB, "seconds": round(time.monotonic() - started, 2), "config_hash": config.config_hash(), "sources": summary}
    if config.mix:
        (rates,) = read_json(layout.counts_path(config, "mix_rates"))
        report["mix"] = {"rates": rates, "estimated_bytes_per_token": BYTES_PER_TOKEN}
    if config.dedup.minhash.enabled:
        report["near_dedup"] = summarize_near_dedup(read_json(layout.counts_path(config, "near_dedup")))
    update_run_report(layout.report_dir(config), JOB, report, mix_targets(config))
    remove_temp_dirs(layout.report_dir(config))
    check_reconciliation(summary)
    if report.get("near_dedup", {}).get("unconverged_nodes"):
        raise RuntimeError(
            f"near-duplicate components did not converge in {config.dedup.minhash.component_rounds} rounds "
            f"({report['near_dedup']['unconverged_nodes']} nodes); raise dedup.minhash.component_rounds"
        )
    check_error_budget(summary, config.max_dead_letter_fraction, layout.out(config, "dead_letter"))
    write_success(layout.curated_dir(config), {"config_hash": config.config_hash(), "documents": sum(e["kept"] for e in summary.values())})
    return report
