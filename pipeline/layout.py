"""Where each job reads and writes under ``output_dir``."""
from __future__ import annotations

from apache_beam.io.filesystems import FileSystems

from pipeline.config import Config


def out(config: Config, *parts: str) -> str:
    return FileSystems.join(config.output_dir, *parts)


def curated_dir(config: Config) -> str:
    return out(config, "curated")


def tokenizer_dir(config: Config) -> str:
    """The configured tokenizer, or the one ``train_tokenizer`` writes."""
    return config.tokenizer.path or out(config, "tokenizer")


def dataset_dir(config: Config) -> str:
    return out(config, "dataset")


def report_dir(config: Config) -> str:
    return out(config, "report")


def counts_path(config: Config, job: str) -> str:
    return out(config, "report", "_counts", f"{job}.json")
