"""Where each job reads and writes under ``output_dir``."""
from __future__ import annotations

import fnmatch

from apache_beam.io.filesystem import FileSystem
from apache_beam.io.filesystems import FileSystems

from pipeline.config import Config
from pipeline.io.files import GLOB_CHARS, files_under, glob_base, list_files

# What each job writes under output_dir, by folder: the only files a rerun deletes there.
OWNED_BY_JOB: dict[str, dict[str, tuple[str, ...]]] = {
    "curate": {
        "curated": ("part-*.parquet", "_SUCCESS", "_work/*", "_tmp/*"),
        "drops": ("part-*.parquet", "_tmp/*"),
        "dead_letter": ("part-*.jsonl", "_tmp/*"),
        "signals": ("part-*.parquet", "_tmp/*"),
        "report": ("*.json", "*.html", "_counts/*", "_tmp/*"),
    },
    "train_tokenizer": {"tokenizer": ("*.json", "*.model", "_SUCCESS", "_tmp/*")},
    "build": {
        "dataset": ("data-*.arrow", "manifest.json", "dataset_info.json", "state.json", "_SUCCESS", "_work/*", "_tmp/*"),
        "drops": ("mix-part-*.parquet",),
    },
}


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


def folder_dir(config: Config, folder: str) -> str:
    return tokenizer_dir(config) if folder == "tokenizer" else out(config, folder)


def owned_files(config: Config, job: str) -> list[str]:
    """The files ``job`` made in its folders (``OWNED_BY_JOB``); anything else there is left alone."""
    found = []
    for folder, patterns in OWNED_BY_JOB[job].items():
        root = folder_dir(config, folder).rstrip("/") + "/"
        found += [path for path in files_under(root) if any(fnmatch.fnmatch(path[len(root):], pattern) for pattern in patterns)]
    return found


def output_dirs(config: Config) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every folder the jobs write: name → (directory, the patterns of what is written there).
    The tokenizer's only when the run trains it."""
    dirs: dict[str, tuple[str, tuple[str, ...]]] = {}
    for job, folders in OWNED_BY_JOB.items():
        for folder, patterns in folders.items():
            if job == "train_tokenizer" and config.tokenizer.path:
                continue
            directory, known = dirs.get(folder, (folder_dir(config, folder), ()))
            dirs[folder] = (directory, known + patterns)
    return dirs


class OverlapError(ValueError):
    """A source path inside an output folder, or an output folder matched by a source's glob."""


def _inside(path: str, directory: str) -> bool:
    return path.rstrip("/") == directory.rstrip("/") or path.startswith(directory.rstrip("/") + "/")


def input_output_overlap(config: Config) -> str | None:
    """Why a source path and an output folder overlap, or None: an input inside an output folder
    would be deleted when the job clears it; an output inside an input glob would be read back."""
    outputs = output_dirs(config)
    for source in config.sources:
        for pattern in source.paths:
            base = glob_base(pattern) if any(c in pattern for c in GLOB_CHARS) else pattern
            for name, (directory, patterns) in outputs.items():
                if _inside(base, directory) or _inside(pattern, directory):
                    return (f"sources[{source.name}]: {pattern} lies inside the output folder {directory}, which {name} clears; "
                            "copy the input elsewhere or choose another output_dir")
                examples = [FileSystems.join(directory, p.replace("*", "00000").removesuffix("/00000")) for p in patterns]
                if _inside(directory, base.rstrip("/") or "/") and any(_matches(pattern, e) for e in examples):
                    return (f"sources[{source.name}]: {pattern} matches the output folder {directory}, so a rerun would read its own output; "
                            "narrow the pattern or choose another output_dir")
    return None


def _matches(pattern: str, path: str) -> bool:
    """Beam's glob semantics (``*`` within a folder, ``**`` across folders)."""
    import re

    return re.fullmatch(FileSystem.translate_pattern(pattern), path) is not None
