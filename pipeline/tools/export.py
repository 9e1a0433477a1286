"""``corpusmill export megatron``: a built dataset as Megatron-LM indexed datasets (``.bin``/``.idx``).

One pair per dataset shard (``<prefix>_00007``), or one merged pair; the manifest records each
pair's sha256s under ``exports.megatron``. Reads and writes through Beam's file systems.
"""
from __future__ import annotations

import time
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline import layout
from pipeline.config import load_config
from pipeline.io.files import read_json, write_json
from pipeline.io.megatron import export_shards, token_dtype


def dataset_directory(config_or_dataset: str) -> str:
    """A dataset directory, given itself or the YAML config that built it."""
    if config_or_dataset.endswith((".yaml", ".yml")):
        return layout.dataset_dir(load_config(config_or_dataset))
    return config_or_dataset.rstrip("/")


def export_megatron(config_or_dataset: str, out_prefix: str, merge: bool = False) -> dict[str, Any]:
    """Exports every shard of a complete dataset; returns the manifest's ``exports.megatron`` entry."""
    directory = dataset_directory(config_or_dataset)
    if not FileSystems.exists(FileSystems.join(directory, "_SUCCESS")):
        raise FileNotFoundError(f"{directory} is no complete dataset (no _SUCCESS): run `corpusmill build` first")
    manifest_path = FileSystems.join(directory, "manifest.json")
    manifest = read_json(manifest_path)
    shards = [FileSystems.join(directory, s["file"]) for s in manifest["shards"]]
    groups = [(out_prefix, shards)] if merge else [(f"{out_prefix}_{i:05d}", [path]) for i, path in enumerate(shards)]
    dtype = token_dtype(manifest["tokenizer"]["vocab_size"])
    started = time.monotonic()
    pairs = export_shards(groups, dtype)
    seconds = time.monotonic() - started
    input_bytes = sum(s["bytes"] for s in manifest["shards"])
    entry = {"prefixes": pairs, "dtype": dtype.name, "seconds": round(seconds, 3), "input_bytes": input_bytes,
             "mb_per_s": round(input_bytes / 1e6 / max(seconds, 1e-9), 1), "tokens": sum(p["tokens"] for p in pairs)}
    if entry["tokens"] != manifest["tokens"]:
        raise RuntimeError(f"exported {entry['tokens']:,} tokens of the dataset's {manifest['tokens']:,}")
    manifest.setdefault("exports", {})["megatron"] = entry
    write_json(manifest_path, manifest)
    return entry
