"""Job 3, build: ``curated/`` + ``tokenizer/`` → tokenize → mix in tokens → pack → ``dataset/`` (docs/architecture.md, "Tokenizer and build").

One Beam pipeline in five steps, none of which moves tokens through a shuffle:

1. ``TokenizeShard`` encodes each curated shard (FIM and splits from ``(seed, id)``), spills the
   ids under ``dataset/_work/`` and emits a histogram of tokens over mixing draws per source.
2. ``PlanMix`` sums the histograms into exact tokens per source and each source's target
   (``pipeline.assemble.mix``): whole copies, and the draw bin in which the remainder is crossed.
3. ``ResolveBoundaries`` sorts only that bin's documents and picks the last one to take.
4. ``PackShard`` writes dataset shard j from the spills: copy k of a document of shard i goes to
   shard ``(i + k) mod S``, so repeats land in other shards' rows; documents without a copy go
   to ``drops/mix-part-j.parquet``. Packing is local to a shard, in groups of ``pack.group_size``;
   with ``best_fit``, rows padded by more than 1/64 of ``seq_len`` are held back under ``_work/``.
5. ``RepackTails`` packs the held-back rows' pieces of all shards together into one last shard
   (demo padding 0.67% → 0.21%; 1 GB 0.71% → 0.54%, 12% of the rows held back).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from jobs.lifecycle import JobResult, files_fingerprint, run_job, upstream_fingerprint
from pipeline import __version__, layout
from pipeline.assemble.manifest import build_manifest, verify_build
from pipeline.assemble.tokenize import load_encoder
from pipeline.assemble.transforms import (
    HISTOGRAM,
    STATS,
    BoundaryDocuments,
    PackShard,
    RepackTails,
    SumHistograms,
    TokenizeShard,
    final_plans,
    plan_mix,
    resolve_boundary,
)
from pipeline.config import Config
from pipeline.config_checks import CLUSTER_SIZE, size_buckets
from pipeline.engine.runner import create_pipeline
from pipeline.io.curated import WriteJsonFiles, curated_stats
from pipeline.io.files import delete_tree, list_files, read_json, remove_temp_dirs, write_json
from pipeline.io.write_arrow import write_dataset_metadata
from tokenizer.encode import ENCODER_FILES

JOB = "build"
RESUME = "resume.json"  # under dataset/_work/: the config hash, upstream fingerprints and version the tokenized shards were made with


def build_build_pipeline(p: beam.Pipeline, config: Config, shards_in: list[str], pad_id: int) -> None:
    work = layout.build_work_dir(config)
    tokenizer_dir = layout.tokenizer_dir(config)
    tokenized = (
        p
        | "ListShards" >> beam.Create(list(enumerate(shards_in)), reshuffle=False)
        | "SpreadShards" >> beam.Reshuffle()
        | "TokenizeShards" >> beam.ParDo(TokenizeShard(tokenizer_dir, work, config.fim, config.split_combined_tokens.rate, config.seed, config.tokenizer.check_rate,
                                                                 config.mix_by, size_buckets(config.mix) if config.mix_by == CLUSTER_SIZE else ())).with_outputs(
            HISTOGRAM, STATS, main="shards")
    )
    mix = config.mix
    plans = (
        tokenized[HISTOGRAM]
        | "SumHistograms" >> beam.CombinePerKey(SumHistograms())
        | "HistogramsBySource" >> beam.combiners.ToDict()
        | "PlanMix" >> beam.Map(plan_mix, mix)
    )
    last_keys = (
        tokenized.shards
        | "BoundaryDocuments" >> beam.ParDo(BoundaryDocuments(work), beam.pvalue.AsSingleton(plans))
        | "GroupBoundaries" >> beam.GroupByKey()
        | "ResolveBoundaries" >> beam.Map(resolve_boundary, beam.pvalue.AsSingleton(plans))
    )
    resolved = plans | "FinalPlans" >> beam.Map(final_plans, beam.pvalue.AsDict(last_keys))
    packed = (
        tokenized.shards
        | "ShardIndex" >> beam.Map(lambda s: s["shard"])
        | "PackShards" >> beam.ParDo(PackShard(tokenizer_dir, work, layout.dataset_dir(config), layout.out(config, "drops"), len(shards_in), config.pack, dict(mix)),
                                     beam.pvalue.AsSingleton(resolved)).with_outputs(STATS, main="shards")
    )
    tail = (
        packed.shards
        | "CountPackedShards" >> beam.combiners.Count.Globally()
        | "RepackTails" >> beam.ParDo(RepackTails(work, layout.dataset_dir(config), config.pack, pad_id)).with_outputs(STATS, main="shards")
    )
    _ = {
        layout.counts_path(config, "build_tokenized"): tokenized.shards,
        layout.counts_path(config, "mix_plan"): resolved | "MixPlanRows" >> beam.Map(lambda plans: {s: p.__dict__ for s, p in plans.items()}),
        layout.counts_path(config, "build_shards"): (packed.shards, tail.shards) | "AllShards" >> beam.Flatten(),
        layout.counts_path(config, JOB): (tokenized[STATS], packed[STATS], tail[STATS]) | "MergeBuildStats" >> beam.Flatten() | "SumBuildStats" >> beam.CombinePerKey(sum),
    } | "WriteReportFiles" >> WriteJsonFiles()


def run_build(config: Config, extra_beam_args: Sequence[str] = (), force: bool = False) -> dict[str, Any]:
    """Runs the job and writes ``dataset/`` metadata and ``manifest.json``; returns the manifest.

    Order of writes: shards, manifest, dataset_info.json, state.json (what ``load_from_disk``
    needs), then ``_SUCCESS``: a killed build leaves no loadable dataset. A complete dataset
    from the same config, curated/ and tokenizer is kept unless ``force``; an incomplete
    curated/ or tokenizer is refused.
    """
    dataset = layout.dataset_dir(config)
    resume_marker = FileSystems.join(layout.build_work_dir(config), RESUME)
    sources: dict[str, str] = {}

    def resume_key() -> dict[str, Any]:
        return {"config_hash": config.config_hash(), "upstream": sources, "version": __version__}

    def resumable(upstream_sources: dict[str, str]) -> list[str]:
        """An interrupted build of this config, version, curated/ and tokenizer: its tokenized shards are reused, unless ``force``."""
        sources.update(upstream_sources)
        if not force and FileSystems.exists(resume_marker) and read_json(resume_marker) == resume_key():
            return [layout.build_work_dir(config)]
        return []

    def work() -> JobResult:
        resumed = len(list_files(FileSystems.join(layout.build_work_dir(config), "tokenized-*.json")))
        write_json(resume_marker, resume_key())
        shards_in = layout.curated_shards(config)
        num_docs, _ = curated_stats(shards_in)
        encoder = load_encoder(layout.tokenizer_dir(config))
        with create_pipeline(config.beam, extra_beam_args) as p:
            build_build_pipeline(p, config, shards_in, encoder.pad_id)
        delete_tree(layout.build_work_dir(config))
        remove_temp_dirs(dataset, layout.out(config, "drops"), layout.out(config, "report", "_counts"))
        shard_stats = sorted(read_json(layout.counts_path(config, "build_shards")), key=lambda s: s["file"])
        stats = dict(read_json(layout.counts_path(config, JOB)))
        expected = [layout.dataset_shard_name(i) for i in range(len(shards_in) + bool(stats.get("tail_rows")))]
        if [s["file"] for s in shard_stats] != expected:
            raise RuntimeError(f"built dataset shards {[s['file'] for s in shard_stats]}, expected {expected}")
        tokenized = read_json(layout.counts_path(config, "build_tokenized"))
        (plan,) = read_json(layout.counts_path(config, "mix_plan"))
        verify_build(config, shard_stats, stats, tokenized, num_docs)
        manifest = build_manifest(config, encoder, shard_stats, stats, plan)
        write_json(FileSystems.join(dataset, "manifest.json"), manifest)
        write_dataset_metadata(dataset, [s["file"] for s in shard_stats], config.config_hash()[:16])
        report = {k: manifest[k] for k in ("rows", "tokens", "tokens_per_source", "mix", "packing", "fim", "split_tokens")} | {"shards_resumed": resumed}
        files = {s["file"]: s["sha256"] for s in manifest["shards"]}
        return JobResult(report, {"shards": list(files.values())}, files, manifest)

    def upstream() -> dict[str, str]:
        tokenizer = layout.tokenizer_dir(config)
        return {"curated": upstream_fingerprint(layout.curated_dir(config), "curate"),
                "tokenizer": files_fingerprint(tokenizer, ENCODER_FILES) if config.tokenizer.path else upstream_fingerprint(tokenizer, "train-tokenizer")}

    return run_job(config, JOB, dataset, extra_beam_args, force, upstream, work, lambda: read_json(FileSystems.join(dataset, "manifest.json")),
                   resumable=resumable)
