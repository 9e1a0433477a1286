"""Job 3, build: ``curated/`` + ``tokenizer/`` → tokenize → pack → ``dataset/`` (DESIGN.md §3).

Each curated shard becomes one dataset shard in one worker: its documents are tokenized in
batches, packed in groups of ``pack.group_size`` documents in shard order, and streamed to
``data-00007.arrow``. Packing is local to a shard (a trainer's sampler shuffles rows), so
tokens never cross a shuffle and the shard bytes are the same on every runner.
"""
from __future__ import annotations

import hashlib
import time
from typing import Any, Iterator, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils import shared

from pipeline import __version__, layout
from pipeline.config import Config, FimConfig, PackConfig
from pipeline.io.files import completed_with, read_bytes, read_json, remove_temp_dirs, reset_dir, write_json, write_success
from pipeline.io.read import curated_stats, read_curated_file
from pipeline.io.write import WriteCollectedJson
from pipeline.io.write_arrow import ArrowShardWriter, write_dataset_metadata
from pipeline.pack import PACKERS, TokenizedDocument
from pipeline.report import mix_targets, update_run_report
from pipeline.runner import configure_filesystems, create_pipeline
from pipeline.tokenize import LoadedTokenizer, encode_documents, load_encoder
from jobs.train_tokenizer import curated_shards

JOB = "build"
ENCODE_BATCH = 256


class BuildShard(beam.DoFn):
    """(index, curated shard path) → the dataset shard's stats (main) and ``stats`` ``(name, count)`` pairs."""

    def __init__(self, tokenizer_dir: str, dataset_dir: str, fim: FimConfig, split_rate: float, pack: PackConfig, seed: int, check_rate: float):
        self._tokenizer_dir, self._dataset_dir = tokenizer_dir, dataset_dir.rstrip("/")
        self._fim, self._split_rate, self._pack, self._seed, self._check_rate = fim, split_rate, pack, seed, check_rate
        self._shared = shared.Shared()

    def setup(self) -> None:
        self._tokenizer = self._shared.acquire(lambda: LoadedTokenizer(self._tokenizer_dir))

    def process(self, indexed: tuple[int, str]) -> Iterator[Any]:
        index, path = indexed
        name = dataset_shard_name(index)
        writer = ArrowShardWriter(f"{self._dataset_dir}/{name}")
        pack = PACKERS[self._pack.strategy]
        counts: dict[str, int] = {}
        group: list[TokenizedDocument] = []
        groups = 0

        def flush() -> None:
            nonlocal group, groups
            rows, stats = pack(groups, group, self._pack.seq_len, self._tokenizer.encoder.pad_id)
            writer.write(rows)
            for key in ("documents", "documents_split", "padding"):
                counts[key] = counts.get(key, 0) + getattr(stats, key)
            group, groups = [], groups + 1

        batch = []
        for doc in read_curated_file(path):
            batch.append(doc)
            if len(batch) == ENCODE_BATCH:
                group += self._encode(batch, counts)
                batch = []
            if len(group) >= self._pack.group_size:
                flush()
        group += self._encode(batch, counts)
        if group:
            flush()
        for key, n in sorted(counts.items()):
            yield beam.pvalue.TaggedOutput("stats", (key, n))
        yield {"file": name, **writer.close()}

    def _encode(self, batch: list[Any], counts: dict[str, int]) -> list[TokenizedDocument]:
        if not batch:
            return []
        tokenized, stats = encode_documents(self._tokenizer.encoder, self._tokenizer.parts, batch, self._fim, self._split_rate, self._seed, self._check_rate)
        for key, n in stats.items():
            counts[key] = counts.get(key, 0) + n
        return tokenized


def dataset_shard_name(index: int) -> str:
    return f"data-{index:05d}.arrow"


def build_build_pipeline(p: beam.Pipeline, config: Config, shards_in: list[str]) -> None:
    built = (
        p
        | "ListShards" >> beam.Create(list(enumerate(shards_in)))
        | "SpreadShards" >> beam.Reshuffle()
        | "BuildShards" >> beam.ParDo(BuildShard(layout.tokenizer_dir(config), layout.dataset_dir(config), config.fim, config.split_combined_tokens.rate, config.pack, config.seed,
                                         config.tokenizer.check_rate)).with_outputs("stats", main="shards")
    )
    _ = built.shards | "WriteShardStats" >> WriteCollectedJson(layout.counts_path(config, "build_shards"))
    _ = built.stats | "SumBuildStats" >> beam.CombinePerKey(sum) | "WriteBuildStats" >> WriteCollectedJson(layout.counts_path(config, JOB))


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
    started = time.monotonic()
    with create_pipeline(config.beam, extra_beam_args) as p:
        build_build_pipeline(p, config, shards_in)
    remove_temp_dirs(dataset, layout.out(config, "report", "_counts"))
    shard_stats = sorted(read_json(layout.counts_path(config, "build_shards")), key=lambda s: s["file"])
    if [s["file"] for s in shard_stats] != [dataset_shard_name(i) for i in range(len(shards_in))]:
        raise RuntimeError(f"built {len(shard_stats)} dataset shards for {len(shards_in)} curated shards")
    pack_stats = dict(read_json(layout.counts_path(config, JOB)))
    manifest = build_manifest(config, encoder, shard_stats, pack_stats, num_docs)
    write_json(FileSystems.join(dataset, "manifest.json"), manifest)
    write_dataset_metadata(dataset, [s["file"] for s in shard_stats], config.config_hash()[:16])
    report = {"job": JOB, "seconds": round(time.monotonic() - started, 2), **{k: manifest[k] for k in ("rows", "tokens", "tokens_per_source", "packing", "fim", "split_tokens")}}
    update_run_report(layout.report_dir(config), JOB, report, mix_targets(config))
    remove_temp_dirs(dataset, layout.report_dir(config))
    write_success(dataset, {"config_hash": config.config_hash(), "shards": [s["sha256"] for s in manifest["shards"]]})
    return manifest


def build_manifest(config: Config, encoder: Any, shard_stats: list[dict[str, Any]], pack_stats: dict[str, int], num_docs: int) -> dict[str, Any]:
    directory = layout.tokenizer_dir(config)
    model_file = "tokenizer.json" if FileSystems.exists(FileSystems.join(directory, "tokenizer.json")) else "tokenizer.model"
    tokenizer_bytes = read_bytes(FileSystems.join(directory, model_file))
    tokens_per_source: dict[str, int] = {}
    for s in shard_stats:
        for source, n in s["tokens_per_source"].items():
            tokens_per_source[source] = tokens_per_source.get(source, 0) + n
    rows = sum(s["rows"] for s in shard_stats)
    tokens = sum(s["tokens"] for s in shard_stats)
    if pack_stats.get("documents", 0) != num_docs:
        raise RuntimeError(f"packed {pack_stats.get('documents', 0)} documents but curated/ holds {num_docs}")
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
        "tokens_per_source": dict(sorted(tokens_per_source.items())),
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
