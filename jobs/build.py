"""Job 3, build: ``curated/`` + ``tokenizer/`` → tokenize → pack → ``dataset/`` (DESIGN.md §3).

Packing groups documents by ``hash(seed, id)`` into groups of about ``pack.group_size``
documents, so no worker ever holds the corpus; rows are spread over shards by a hash of their
key and sorted inside each shard, so the shard bytes are the same on every runner.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from typing import Any, Iterable, Iterator, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import __version__, layout
from pipeline.config import Config
from pipeline.documents import stable_hash
from pipeline.io.files import completed_with, read_bytes, read_json, remove_temp_dirs, reset_dir, write_json, write_success
from pipeline.io.read import ReadCurated, curated_stats
from pipeline.io.write import WriteCollectedJson, WriteShards
from pipeline.io.write_arrow import write_arrow_shard, write_dataset_metadata
from pipeline.pack import PACKERS, TokenizedDocument
from pipeline.report import mix_targets, update_run_report
from pipeline.runner import configure_filesystems, create_pipeline
from pipeline.tokenize import TokenizeDocuments, load_encoder
from jobs.train_tokenizer import curated_shards

JOB = "build"


class _PackGroup(beam.DoFn):
    def __init__(self, strategy: str, seq_len: int, pad_id: int):
        self._strategy, self._seq_len, self._pad_id = strategy, seq_len, pad_id

    def process(self, keyed: tuple[int, Iterable[TokenizedDocument]]) -> Iterator[Any]:
        group, docs = keyed
        pack = PACKERS[self._strategy]
        rows, stats = pack(group, sorted(docs, key=lambda d: (d.id, d.ids.tobytes())), self._seq_len, self._pad_id)
        yield from rows
        for key, value in dataclasses.asdict(stats).items():
            if isinstance(value, int):
                yield beam.pvalue.TaggedOutput("stats", (key, value))


class PackDocuments(beam.PTransform):
    """TokenizedDocuments → PackedRows (main) and per-group ``stats`` dicts."""

    def __init__(self, strategy: str, seq_len: int, pad_id: int, num_groups: int, seed: int):
        super().__init__()
        self._strategy, self._seq_len, self._pad_id, self._num_groups, self._seed = strategy, seq_len, pad_id, num_groups, seed

    def expand(self, docs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        n, seed = self._num_groups, self._seed
        return (
            docs
            | "AssignGroup" >> beam.Map(lambda d: (stable_hash(seed, "pack-group", d.id) % n, d))
            | "GroupForPacking" >> beam.GroupByKey()
            | "PackGroup" >> beam.ParDo(_PackGroup(self._strategy, self._seq_len, self._pad_id)).with_outputs("stats", main="rows")
        )


def build_build_pipeline(p: beam.Pipeline, config: Config, shards_in: list[str], num_groups: int, pad_id: int) -> None:
    docs = p | "ReadCurated" >> ReadCurated(shards_in)
    tokenized = docs | "Tokenize" >> TokenizeDocuments(layout.tokenizer_dir(config), config.fim, config.split_combined_tokens.rate, config.seed)
    packed = tokenized.documents | "Pack" >> PackDocuments(config.pack.strategy, config.pack.seq_len, pad_id, num_groups, config.seed)
    shard_stats = packed.rows | "WriteArrowShards" >> WriteShards(
        layout.dataset_dir(config), "data", ".arrow", config.output.shards, lambda r: r.key, lambda r: r.key, write_arrow_shard, config.seed
    )
    _ = shard_stats | "WriteShardStats" >> WriteCollectedJson(layout.counts_path(config, "build_shards"))
    _ = (
        (tokenized.stats, packed.stats)
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
    num_groups = max(1, math.ceil(num_docs / config.pack.group_size))
    dataset = layout.dataset_dir(config)
    reset_dir(dataset)
    started = time.monotonic()
    with create_pipeline(config.beam, extra_beam_args) as p:
        build_build_pipeline(p, config, shards_in, num_groups, encoder.pad_id)
    remove_temp_dirs(dataset, layout.out(config, "report", "_counts"))
    shard_stats = sorted(read_json(layout.counts_path(config, "build_shards")), key=lambda s: s["file"])
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
        "shards": [{k: s[k] for k in ("file", "rows", "tokens", "bytes", "sha256")} for s in shard_stats],
    }
