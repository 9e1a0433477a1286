"""Job 3, build: ``curated/`` + ``tokenizer/`` → tokenize → mix in tokens → pack → ``dataset/`` (DESIGN.md §3).

One Beam pipeline in four steps, none of which moves tokens through a shuffle:

1. ``TokenizeShard`` encodes each curated shard (FIM and splits from ``(seed, id)``), spills the
   ids under ``dataset/_work/`` and emits a histogram of tokens over mixing draws per source.
2. ``PlanMix`` sums the histograms into exact tokens per source and each source's target
   (``pipeline.build.mix``): whole copies, and the draw bin in which the remainder is crossed.
3. ``ResolveBoundaries`` sorts only that bin's documents and picks the last one to take.
4. ``PackShard`` writes dataset shard j from the spills: copy k of a document of shard i goes to
   shard ``(i + k) mod S``, so repeats land in other shards' rows; documents without a copy go
   to ``drops/mix-part-j.parquet``. Packing is local to a shard, in groups of ``pack.group_size``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import time
from typing import Any, Iterable, Iterator, Mapping, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils import shared

from jobs.train_tokenizer import curated_shards
from pipeline import __version__, layout
from pipeline.build.mix import (
    BINS,
    SourceMix,
    boundary_choice,
    describe,
    draw_bins,
    draws,
    mix_group,
    plan_source,
    target_tokens,
)
from pipeline.build.mix import REASON as MIX_REASON
from pipeline.build.mix import STAGE as MIX_STAGE
from pipeline.build.pack import PACKERS
from pipeline.build.tokenize import LoadedTokenizer, encode_documents, load_encoder
from pipeline.config import Config, FimConfig, MixConfig, PackConfig
from pipeline.engine.runner import configure_filesystems, create_pipeline
from pipeline.io.files import (
    FileDoFn,
    completed_with,
    list_files,
    read_bytes,
    read_json,
    remove_temp_dirs,
    reset_dir,
    write_json,
    write_success,
)
from pipeline.io.token_spill import TokenSpillWriter, read_doc_table, read_token_spill
from pipeline.io.write import WriteCollectedJson, write_drops
from pipeline.io.write_arrow import ArrowShardWriter, write_dataset_metadata
from pipeline.read.formats import curated_stats, read_curated_file
from pipeline.records import Drop, TokenizedDocument
from pipeline.report.accounting import (
    ReconciliationError,
    update_run_report,
    verify_parquet_rows,
)
from tokenizer.encode import MODEL_FILES

JOB = "build"
ENCODE_BATCH = 256
HISTOGRAM = "histogram"
STATS = "stats"


def work_dir(config: Config) -> str:
    return layout.out(config, "dataset", "_work")


def mix_drops_path(config: Config, shard: int) -> str:
    return layout.out(config, "drops", f"mix-part-{shard:05d}.parquet")


class TokenizeShard(FileDoFn):
    """(index, curated shard path) → ``{"shard", "documents", "tokens"}``; spills the tokens, and
    emits ``histogram`` (mixing group, (bins, tokens)) and ``stats`` (name, count) pairs."""

    def __init__(self, tokenizer_dir: str, work: str, fim: FimConfig, split_rate: float, seed: int, check_rate: float, mix_by: str):
        super().__init__()
        self._tokenizer_dir, self._work, self._mix_by = tokenizer_dir, work, mix_by
        self._fim, self._split_rate, self._seed, self._check_rate = fim, split_rate, seed, check_rate
        self._shared = shared.Shared()

    def setup(self) -> None:
        super().setup()
        self._tokenizer = self._shared.acquire(lambda: LoadedTokenizer(self._tokenizer_dir))

    def process(self, indexed: tuple[int, str]) -> Iterator[Any]:
        index, path = indexed
        spill = TokenSpillWriter(self._work, index)
        counts: dict[str, int] = {}
        histograms: dict[str, np.ndarray] = {}
        documents = tokens = 0
        batch = []
        for doc in itertools.chain(read_curated_file(path), [None]):  # None: flush the last batch
            if doc is not None:
                batch.append(doc)
            if batch and (doc is None or len(batch) == ENCODE_BATCH):
                tokenized, stats = encode_documents(self._tokenizer.encoder, self._tokenizer.parts, batch, self._fim, self._split_rate, self._seed, self._check_rate)
                doc_draws = draws(self._seed, [d.id for d in tokenized])
                groups = [mix_group(d.source, d.meta, self._mix_by) for d in batch]
                spill.write(tokenized, groups, doc_draws)
                for key, n in stats.items():
                    counts[key] = counts.get(key, 0) + n
                lengths = np.fromiter((len(d.ids) for d in tokenized), np.int64, len(tokenized))
                bins = draw_bins(doc_draws)
                group_array = np.asarray(groups, dtype=object)
                for group in sorted(set(groups)):
                    mask = group_array == group
                    histogram = histograms.setdefault(group, np.zeros(0, np.int64))
                    histograms[group] = _add_sparse(histogram, bins[mask], lengths[mask])
                documents += len(tokenized)
                tokens += int(lengths.sum())
                batch = []
        spill.close()
        for group, histogram in sorted(histograms.items()):
            nonzero = np.flatnonzero(histogram)
            yield beam.pvalue.TaggedOutput(HISTOGRAM, (group, (nonzero, histogram[nonzero])))
        for key, n in sorted(counts.items()):
            yield beam.pvalue.TaggedOutput(STATS, (key, n))
        yield {"shard": index, "documents": documents, "tokens": tokens}


def _add_sparse(histogram: np.ndarray, bins: np.ndarray, weights: np.ndarray) -> np.ndarray:
    counts = np.bincount(bins, weights=weights, minlength=BINS).astype(np.int64)
    return counts if histogram.size == 0 else histogram + counts


class SumHistograms(beam.CombineFn):
    """Sparse (bins, tokens) parts → one dense histogram of ``pipeline.build.mix.BINS`` bins."""

    def create_accumulator(self) -> np.ndarray:
        return np.zeros(BINS, np.int64)

    def add_input(self, acc: np.ndarray, part: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        np.add.at(acc, part[0], part[1])
        return acc

    def merge_accumulators(self, accs: Iterable[np.ndarray]) -> np.ndarray:
        return np.sum(list(accs), axis=0)

    def extract_output(self, acc: np.ndarray) -> np.ndarray:
        return acc


def plan_mix(histograms: Mapping[str, np.ndarray], mix: Mapping[str, MixConfig]) -> dict[str, tuple[SourceMix, int]]:
    """Each source's plan and the tokens its boundary bin must add."""
    targets = target_tokens(mix, {source: int(h.sum()) for source, h in histograms.items()})
    return {source: plan_source(h, targets[source]) for source, h in sorted(histograms.items())}


class BoundaryDocuments(FileDoFn):
    """Tokenized shard → (source, (key, tokens)) of its documents in their source's boundary bin."""

    def __init__(self, work: str):
        super().__init__()
        self._work = work

    def process(self, shard: dict[str, Any], plans: Mapping[str, tuple[SourceMix, int]]) -> Iterator[tuple[str, tuple[tuple[int, int, int], int]]]:
        if not any(needed > 0 for _, needed in plans.values()):
            return
        table = read_doc_table(self._work, shard["shard"])
        bins = draw_bins(table.column("draw").to_numpy()).tolist()
        columns = table.to_pydict()
        for position, (group, draw, tokens, b) in enumerate(zip(columns["group"], columns["draw"], columns["tokens"], bins)):
            plan, needed = plans[group]
            if needed > 0 and b == plan.boundary_bin:
                yield group, ((draw, shard["shard"], position), tokens)


def resolve_boundary(grouped: tuple[str, Iterable[tuple[tuple[int, int, int], int]]], plans: Mapping[str, tuple[SourceMix, int]]) -> tuple[str, Any]:
    """(source, the last boundary document to take) from the boundary bin's documents."""
    source, docs = grouped
    return source, boundary_choice(list(docs), plans[source][1])


def final_plans(plans: Mapping[str, tuple[SourceMix, int]], last_keys: Mapping[str, tuple[int, int, int]]) -> dict[str, SourceMix]:
    return {source: dataclasses.replace(plan, last_key=last_keys.get(source)) for source, (plan, _) in plans.items()}


class PackShard(FileDoFn):
    """Dataset shard index → its stats (main) and ``stats`` (name, count) pairs; writes
    ``dataset/data-j.arrow`` and the shard's sampled-out documents to ``drops/``."""

    def __init__(self, tokenizer_dir: str, work: str, dataset_dir: str, drops_dir: str, shards: int, pack: PackConfig, mix: dict[str, MixConfig]):
        super().__init__()
        self._tokenizer_dir, self._work, self._dataset_dir, self._drops_dir = tokenizer_dir, work, dataset_dir.rstrip("/"), drops_dir.rstrip("/")
        self._shards, self._pack, self._mix = shards, pack, mix
        self._shared = shared.Shared()

    def setup(self) -> None:
        super().setup()
        self._tokenizer = self._shared.acquire(lambda: LoadedTokenizer(self._tokenizer_dir))

    def process(self, index: int, plans: Mapping[str, SourceMix]) -> Iterator[Any]:
        name = dataset_shard_name(index)
        writer = ArrowShardWriter(f"{self._dataset_dir}/{name}")
        pack = PACKERS[self._pack.strategy]
        counts: dict[str, int] = {}
        group: list[TokenizedDocument] = []
        groups = 0
        drops: list[Drop] = []
        planned: dict[str, int] = {}  # per mixing group: the tokens its copies should bring
        packed: dict[str, int] = {}  # per mixing group: the tokens handed to packing
        sampled_out: dict[str, int] = {}

        def flush() -> None:
            nonlocal group, groups
            rows, stats = pack(groups, group, self._pack.seq_len, self._tokenizer.encoder.pad_id)
            writer.write(rows)
            for key in ("documents", "documents_split", "padding"):
                counts[key] = counts.get(key, 0) + getattr(stats, key)
            group, groups = [], groups + 1

        most = max((p.whole_copies + (p.last_key is not None or p.boundary_bin > 0) for p in plans.values()), default=1)
        for k in range(max(most, 1)):
            origin = (index - k) % self._shards
            position = 0
            for batch in read_token_spill(self._work, origin):
                n = len(batch.ids)
                copies = shard_copies(plans, batch.groups, batch.draws, origin, np.arange(position, position + n))
                position += n
                for i in range(n):
                    source, mixing = batch.sources[i], batch.groups[i]
                    if k == 0:
                        planned[mixing] = planned.get(mixing, 0) + int(copies[i]) * len(batch.tokens[i])
                        if copies[i] == 0:
                            drops.append(Drop(batch.ids[i], source, MIX_STAGE, MIX_REASON, describe(self._mix, mixing)))
                            sampled_out[mixing] = sampled_out.get(mixing, 0) + 1
                    if copies[i] > k:
                        packed[mixing] = packed.get(mixing, 0) + len(batch.tokens[i])
                        group.append(TokenizedDocument(batch.ids[i], source, batch.tokens[i]))
                        counts[f"copies_{k}"] = counts.get(f"copies_{k}", 0) + 1
                        if len(group) >= self._pack.group_size:
                            flush()
        if group:
            flush()
        drops_file = write_drops(f"{self._drops_dir}/mix-part-{index:05d}.parquet", drops)
        for key, n in sorted(counts.items()):
            yield beam.pvalue.TaggedOutput(STATS, (key, n))
        yield {"file": name, **writer.close(), "sampled_out": dict(sorted(sampled_out.items())), "sampled_out_file": {k: drops_file[k] for k in ("rows", "bytes", "sha256")},
               "planned_tokens_per_group": dict(sorted(planned.items())), "packed_tokens_per_group": dict(sorted(packed.items()))}


def shard_copies(plans: Mapping[str, SourceMix], groups: Sequence[str], draw: np.ndarray, shard: int, positions: np.ndarray) -> np.ndarray:
    """Copies of each document of a batch, by its mixing group's plan."""
    copies = np.ones(len(groups), np.int64)
    group_array = np.asarray(groups, dtype=object)
    for group in set(groups):
        mask = group_array == group
        copies[mask] = plans[group].copies(draw[mask], shard, positions[mask])
    return copies


def dataset_shard_name(index: int) -> str:
    return f"data-{index:05d}.arrow"


def build_build_pipeline(p: beam.Pipeline, config: Config, shards_in: list[str]) -> None:
    work = work_dir(config)
    tokenizer_dir = layout.tokenizer_dir(config)
    tokenized = (
        p
        | "ListShards" >> beam.Create(list(enumerate(shards_in)))
        | "SpreadShards" >> beam.Reshuffle()
        | "TokenizeShards" >> beam.ParDo(TokenizeShard(tokenizer_dir, work, config.fim, config.split_combined_tokens.rate, config.seed, config.tokenizer.check_rate,
                                                                 config.mix_by)).with_outputs(
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
    _ = tokenized.shards | "WriteTokenizeStats" >> WriteCollectedJson(layout.counts_path(config, "build_tokenized"))
    _ = resolved | "MixPlanRows" >> beam.Map(lambda plans: {s: p.__dict__ for s, p in plans.items()}) | "WriteMixPlan" >> WriteCollectedJson(layout.counts_path(config, "mix_plan"))
    _ = packed.shards | "WriteShardStats" >> WriteCollectedJson(layout.counts_path(config, "build_shards"))
    _ = (
        (tokenized[STATS], packed[STATS])
        | "MergeBuildStats" >> beam.Flatten()
        | "SumBuildStats" >> beam.CombinePerKey(sum)
        | "WriteBuildStats" >> WriteCollectedJson(layout.counts_path(config, JOB))
    )


def run_build(config: Config, extra_beam_args: Sequence[str] = (), force: bool = False) -> dict[str, Any]:
    """Runs the job and writes ``dataset/`` metadata and ``manifest.json``; returns the manifest.

    Order of writes: shards, manifest, dataset_info.json, state.json (what ``load_from_disk``
    needs), then ``_SUCCESS``: a killed build leaves no loadable dataset. A complete dataset
    from the same config is kept unless ``force``.
    """
    configure_filesystems(config.beam, extra_beam_args)
    if not force and completed_with(layout.dataset_dir(config), config.config_hash()):
        return {**read_json(FileSystems.join(layout.dataset_dir(config), "manifest.json")), "skipped": True}
    shards_in = curated_shards(config)
    num_docs, _ = curated_stats(shards_in)
    encoder = load_encoder(layout.tokenizer_dir(config))
    dataset = layout.dataset_dir(config)
    reset_dir(dataset)
    stale = list_files(layout.out(config, "drops", "mix-part-*.parquet"))
    if stale:
        FileSystems.delete(stale)
    started = time.monotonic()
    with create_pipeline(config.beam, extra_beam_args) as p:
        build_build_pipeline(p, config, shards_in)
    FileSystems.delete([work_dir(config)])
    remove_temp_dirs(dataset, layout.out(config, "drops"), layout.out(config, "report", "_counts"))
    shard_stats = sorted(read_json(layout.counts_path(config, "build_shards")), key=lambda s: s["file"])
    if [s["file"] for s in shard_stats] != [dataset_shard_name(i) for i in range(len(shards_in))]:
        raise RuntimeError(f"built {len(shard_stats)} dataset shards for {len(shards_in)} curated shards")
    stats = dict(read_json(layout.counts_path(config, JOB)))
    tokenized = read_json(layout.counts_path(config, "build_tokenized"))
    (plan,) = read_json(layout.counts_path(config, "mix_plan"))
    verify_build(config, shard_stats, stats, tokenized, num_docs)
    manifest = build_manifest(config, encoder, shard_stats, stats, plan)
    write_json(FileSystems.join(dataset, "manifest.json"), manifest)
    write_dataset_metadata(dataset, [s["file"] for s in shard_stats], config.config_hash()[:16])
    report = {"job": JOB, "seconds": round(time.monotonic() - started, 2),
              **{k: manifest[k] for k in ("rows", "tokens", "tokens_per_source", "mix", "packing", "fim", "split_tokens")}}
    update_run_report(layout.report_dir(config), JOB, report)
    remove_temp_dirs(dataset, layout.report_dir(config))
    write_success(dataset, {"config_hash": config.config_hash(), "shards": [s["sha256"] for s in manifest["shards"]]})
    return manifest


def verify_build(config: Config, shard_stats: list[dict[str, Any]], stats: dict[str, int], tokenized: list[dict[str, Any]], num_docs: int) -> None:
    """Every curated document was tokenized once and ended in the dataset or in the mix drops,
    the dataset holds the copies and tokens the plan gave, and the drops files hold what was reported."""
    problems = []
    documents = sum(t["documents"] for t in tokenized)
    if documents != num_docs or len(tokenized) != len(shard_stats):
        problems.append(f"tokenized {documents} documents in {len(tokenized)} shards; curated/ holds {num_docs} in {len(shard_stats)}")
    sampled_out = sum(sum(s["sampled_out"].values()) for s in shard_stats)
    if stats.get("copies_0", 0) + sampled_out != num_docs:
        problems.append(f"{stats.get('copies_0', 0)} documents kept + {sampled_out} sampled out != {num_docs} curated")
    copies = sum(n for key, n in stats.items() if key.startswith("copies_"))
    if stats.get("documents", 0) != copies:
        problems.append(f"packed {stats.get('documents', 0)} documents, the mixture has {copies} copies")
    planned, packed = _sum_per_key(shard_stats, "planned_tokens_per_group"), _sum_per_key(shard_stats, "packed_tokens_per_group")
    if {k: v for k, v in planned.items() if v} != packed:
        problems.append(f"tokens per mixing group packed {packed} != planned {planned}")
    written = sum(_tokens_per_source(shard_stats).values())
    if written != sum(packed.values()):
        problems.append(f"{written} tokens written != {sum(packed.values())} packed")
    problems += verify_parquet_rows({mix_drops_path(config, i): sum(s["sampled_out"].values()) for i, s in enumerate(shard_stats)})
    if problems:
        raise ReconciliationError("build output does not match the counts: " + "; ".join(problems[:20]))


def _sum_per_key(shard_stats: list[dict[str, Any]], field: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for s in shard_stats:
        for key, n in s[field].items():
            total[key] = total.get(key, 0) + n
    return dict(sorted(total.items()))


def _tokens_per_source(shard_stats: list[dict[str, Any]]) -> dict[str, int]:
    return _sum_per_key(shard_stats, "tokens_per_source")


def mixture_report(config: Config, plan: dict[str, dict[str, Any]], shard_stats: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per mixing group (source, or meta value with ``mix_by``): the rule, curated tokens, target
    vs achieved tokens and shares, copies."""
    written = _sum_per_key(shard_stats, "packed_tokens_per_group")
    sampled_out = _sum_per_key(shard_stats, "sampled_out")
    target_total = sum(p["target_tokens"] for p in plan.values()) or 1
    achieved_total = sum(written.values()) or 1
    return {
        source: {
            "rule": describe(config.mix, source),
            "curated_tokens": p["total_tokens"],
            "target_tokens": p["target_tokens"],
            "achieved_tokens": written.get(source, 0),
            "target_share": round(p["target_tokens"] / target_total, 6),
            "achieved_share": round(written.get(source, 0) / achieved_total, 6),
            "whole_copies": p["whole_copies"],
            "sampled_out": sampled_out.get(source, 0),
        }
        for source, p in sorted(plan.items())
    }


def build_manifest(config: Config, encoder: Any, shard_stats: list[dict[str, Any]], pack_stats: dict[str, int], plan: dict[str, dict[str, Any]]) -> dict[str, Any]:
    directory = layout.tokenizer_dir(config)
    model_file = next(name for name in MODEL_FILES if FileSystems.exists(FileSystems.join(directory, name)))
    tokenizer_bytes = read_bytes(FileSystems.join(directory, model_file))
    rows = sum(s["rows"] for s in shard_stats)
    tokens = sum(s["tokens"] for s in shard_stats)
    return {
        "corpusmill_version": __version__,
        "config_hash": config.config_hash(),
        "config": config.to_dict(),
        "tokenizer": {
            "path": layout.tokenizer_dir(config),
            "file": model_file,
            "sha256": hashlib.sha256(tokenizer_bytes).hexdigest(),
            "vocab_size": encoder.vocab_size,
            "special_token_ids": encoder.special_ids,
        },
        "seq_len": config.pack.seq_len,
        "rows": rows,
        "tokens": tokens,
        "tokens_per_source": _tokens_per_source(shard_stats),
        "mix": mixture_report(config, plan, shard_stats),
        "packing": {
            "strategy": config.pack.strategy,
            "documents": pack_stats.get("documents", 0),
            "documents_split": pack_stats.get("documents_split", 0),
            "padding_tokens": pack_stats.get("padding", 0),
            "padding_share": round(pack_stats.get("padding", 0) / max(rows * config.pack.seq_len, 1), 6),
        },
        "fim": {k: pack_stats.get(f"fim_{k}", 0) for k in ("psm", "spm", "too_short")},
        "split_tokens": pack_stats.get("split_tokens", 0),
        "fast_path_checked_documents": pack_stats.get("encode_checked", 0),
        "shards": [{k: s[k] for k in ("file", "rows", "tokens", "bytes", "sha256")} for s in shard_stats],
    }
