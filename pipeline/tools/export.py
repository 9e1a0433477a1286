"""``corpusmill export megatron``: a built dataset as Megatron-LM indexed datasets (``.bin``/``.idx``).

One pair per dataset shard (``<prefix>_00007``), or one merged pair; the manifest records each
pair's sha256s under ``exports.megatron[<prefix>]`` (or the export's own ``<prefix>.export.json``
for a read-only dataset). Reads and writes through Beam's file systems.
"""
from __future__ import annotations

import os
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


def export_record_path(out_prefix: str) -> str:
    """Where ``--record-in-output`` writes the export's record: beside its files."""
    return f"{out_prefix}.export.json"


def export_megatron(config_or_dataset: str, out_prefix: str, merge: bool = False, record_in_output: bool = False) -> dict[str, Any]:
    """Exports every shard of a complete dataset; returns the export's entry (pairs, sha256s, speed).

    The entry is recorded under ``exports.megatron[out_prefix]`` in the dataset's ``manifest.json``
    (several exports coexist), or, with ``record_in_output`` (a read-only dataset), in
    ``<out_prefix>.export.json`` together with the dataset's identity."""
    directory = dataset_directory(config_or_dataset)
    if not FileSystems.exists(FileSystems.join(directory, "_SUCCESS")):
        raise FileNotFoundError(f"{directory} is no complete dataset (no _SUCCESS): run `corpusmill build` first")
    manifest_path = FileSystems.join(directory, "manifest.json")
    if not record_in_output and "://" not in directory and not os.access(manifest_path, os.W_OK):
        raise PermissionError(f"{manifest_path} is not writable: pass --record-in-output to record the export in {export_record_path(out_prefix)}")
    manifest = read_json(manifest_path)
    shards = [FileSystems.join(directory, s["file"]) for s in manifest["shards"]]
    groups = [(out_prefix, shards)] if merge else [(f"{out_prefix}_{i:05d}", [path]) for i, path in enumerate(shards)]
    dtype = token_dtype(manifest["tokenizer"]["vocab_size"])
    started = time.monotonic()
    pairs = export_shards(groups, dtype)
    seconds = time.monotonic() - started
    input_bytes = sum(s["bytes"] for s in manifest["shards"])
    entry = {"prefixes": pairs, "merged": merge, "dtype": dtype.name, "seconds": round(seconds, 3), "input_bytes": input_bytes,
             "mb_per_s": round(input_bytes / 1e6 / max(seconds, 1e-9), 1), "tokens": sum(p["tokens"] for p in pairs)}
    if entry["tokens"] != manifest["tokens"]:
        raise RuntimeError(f"exported {entry['tokens']:,} tokens of the dataset's {manifest['tokens']:,}")
    if record_in_output:
        dataset = {"path": directory, "config_hash": manifest["config_hash"], "shards": {s["file"]: s["sha256"] for s in manifest["shards"]}}
        write_json(export_record_path(out_prefix), {"dataset": dataset, "megatron": entry})
    else:
        manifest.setdefault("exports", {}).setdefault("megatron", {})[out_prefix] = entry
        write_json(manifest_path, manifest)
    return entry
