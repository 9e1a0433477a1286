"""Where each job reads and writes under ``output_dir``."""
from __future__ import annotations

from apache_beam.io.filesystems import FileSystems

from pipeline.config import Config
from pipeline.io.files import list_files


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


def curated_shards(config: Config) -> list[str]:
    """The curated shards, in order; fails when there are none (curate has not run)."""
    shards = list_files(out(config, "curated", "part-*.parquet"))
    if not shards:
        raise FileNotFoundError(f"no curated shards in {curated_dir(config)}: run `corpusmill curate` first")
    return shards


def build_work_dir(config: Config) -> str:
    """The build's token spills, removed when it ends."""
    return out(config, "dataset", "_work")


def mix_drops_path(config: Config, shard: int) -> str:
    return out(config, "drops", f"mix-part-{shard:05d}.parquet")


def dataset_shard_name(index: int) -> str:
    return f"data-{index:05d}.arrow"
