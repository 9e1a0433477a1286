"""Job 2, train_tokenizer: a bounded deterministic sample of ``curated/`` → ``tokenizer/``.

The sample keeps documents whose ``hash(seed, id)`` falls under ``sample_bytes / total bytes``,
read in shard order and capped at ``sample_bytes``: the same sample on every machine. HF's BPE
trainer is single-process, so this job runs on the driver; the sample bound keeps it in memory.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from apache_beam.io.filesystems import FileSystems

from jobs.lifecycle import JobResult, run_job, upstream_fingerprint
from pipeline import layout
from pipeline.assemble.tokenize import load_encoder
from pipeline.config import Config
from pipeline.io.curated import curated_stats, read_curated_file
from pipeline.io.files import write_bytes
from pipeline.records import stable_fraction
from tokenizer.sentencepiece_backend import train_sentencepiece
from tokenizer.train import artifact_files, sentencepiece_artifact_files, train_tokenizer

JOB = "train_tokenizer"


def sample_texts(config: Config, shards: list[str], stats: dict[str, int]) -> Iterator[str]:
    """Yields the sample; fills ``stats`` with its document and byte counts as it goes."""
    _, total_bytes = curated_stats(shards)
    rate = min(1.0, config.tokenizer.sample_bytes / max(total_bytes, 1))
    taken = 0
    for path in shards:
        for doc in read_curated_file(path):
            if stable_fraction(config.seed, "tokenizer-sample", doc.id) >= rate:
                continue
            size = len(doc.text.encode("utf-8"))
            if taken + size > config.tokenizer.sample_bytes:
                return
            taken += size
            stats["documents"] = stats.get("documents", 0) + 1
            stats["bytes"] = taken
            yield doc.text


def run_train_tokenizer(config: Config, force: bool = False, extra_beam_args: Sequence[str] = ()) -> dict[str, Any]:
    """Trains and writes the tokenizer; skipped when the config names one, or when a complete
    tokenizer from the same config and the same complete ``curated/`` exists (unless ``force``)."""
    if config.tokenizer.path:
        return {"job": JOB, "skipped": True, "tokenizer": config.tokenizer.path}
    directory = layout.tokenizer_dir(config)

    def work() -> JobResult:
        sample: dict[str, int] = {}
        texts = sample_texts(config, layout.curated_shards(config), sample)
        cfg = config.tokenizer
        if cfg.backend == "sentencepiece":
            model = train_sentencepiece(texts, cfg.vocab_size, max_token_length=cfg.max_token_length or 16)
            files = sentencepiece_artifact_files(model, model_max_length=config.pack.seq_len)
        else:
            tok = train_tokenizer(texts, vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency, max_token_length=cfg.max_token_length)
            files = artifact_files(tok, model_max_length=config.pack.seq_len)
        written = {name: write_bytes(FileSystems.join(directory, name), data) for name, data in files.items()}
        report = {"tokenizer": directory, "backend": cfg.backend, "vocab_size": load_encoder(directory).vocab_size,
                  "sample_documents": sample.get("documents", 0), "sample_bytes": sample.get("bytes", 0)}
        return JobResult(report, {}, written)

    return run_job(config, JOB, directory, extra_beam_args, force, lambda: {"curated": upstream_fingerprint(layout.curated_dir(config), "curate")},
                   work, lambda: {"job": JOB, "tokenizer": directory})
