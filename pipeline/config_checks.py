"""Rules across config keys that types alone cannot state (positive sizes, rates within [0, 1],
LSH shape, mix entries, repository sources); each error names its key path."""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from pipeline.curate.filters.registry import rule_filters

if TYPE_CHECKING:
    from pipeline.config import Config

MIN_SEQ_LEN = 16
MAX_SEED = 2**32 - 1  # numpy and the tokenizer trainers take 32-bit seeds
SAFE_NAME = re.compile(r"^\w[\w.\-]*$")  # a name that is one safe path part: no '/', no '..', no spaces or newlines
_SHARE = re.compile(r"(ratio|frac|fraction|score)$")  # filter thresholds that are shares


class ConfigError(ValueError):
    """A config that cannot be run; the message starts with the offending key path."""


CLUSTER_SIZE = "cluster_size"  # mix_by: rehydration, groups by near-duplicate cluster size (meta.cluster_size; 1 when absent)
_SIZE_BUCKET = re.compile(r"(\d+)(?:-(\d+)|(\+))?")


def size_buckets(keys: Iterable[str]) -> list[tuple[int, float, str]]:
    """``mix`` keys naming cluster sizes (``1``, ``2-4``, ``101+``) → sorted (low, high, key);
    a ValueError names a key that is no size range, or two that overlap."""
    buckets = []
    for key in keys:
        match = _SIZE_BUCKET.fullmatch(key)
        if match is None:
            raise ValueError(f"mix.{key}: with mix_by: cluster_size a key is a size (3), a range (2-4) or an open range (101+)")
        low = int(match.group(1))
        high = float("inf") if match.group(3) else int(match.group(2) or low)
        if high < low:
            raise ValueError(f"mix.{key}: the range is empty")
        buckets.append((low, high, key))
    buckets.sort()
    for (_, high, key), (low, _, other) in pairwise(buckets):
        if low <= high:
            raise ValueError(f"mix.{key} and mix.{other} overlap")
    return buckets


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """``(key path, value)`` of every scalar under ``value`` (dataclasses, lists, mappings)."""
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from _leaves(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    else:
        yield path, value


def check_filter_order(where: str, order: list[str], registered: list[str]) -> None:
    """``filters.order`` names every registered rule filter once, and nothing else."""
    unknown = [name for name in order if name not in registered]
    if unknown:
        raise ConfigError(f"{where}: unknown filter {unknown[0]!r} (the rule filters are {', '.join(registered)})")
    repeated = sorted({name for name in order if order.count(name) > 1})
    if repeated:
        raise ConfigError(f"{where}: {repeated[0]!r} is listed twice")
    missing = [name for name in registered if name not in order]
    if missing:
        raise ConfigError(f"{where}: {', '.join(missing)} missing; list every rule filter (disable one with its `enabled: false`)")


def check_bounds(config: Config) -> None:
    """Every number finite; filter thresholds not negative, shares within [0, 1]; the seed 32-bit;
    Beam's worker count not negative."""
    for path, value in _leaves(config, ""):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{path}: must be a finite number, got {value}")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and ".filters." in f".{path}" and "classifiers[" not in path:
            name = path.rsplit(".", 1)[-1]
            if value < 0:
                raise ConfigError(f"{path}: must not be negative, got {value}")
            if _SHARE.search(name) and value > 1:
                raise ConfigError(f"{path}: is a share, must be within [0, 1], got {value}")
    if not 0 <= config.seed <= MAX_SEED:
        raise ConfigError(f"seed: must be within 0..{MAX_SEED}, got {config.seed}")
    workers = config.beam.get("direct_num_workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 0):
        raise ConfigError(f"beam.direct_num_workers: must be a whole number >= 0 (0: one per core), got {workers!r}")


def check_semantics(config: Config) -> None:
    names = [s.name for s in config.sources]
    if not names:
        raise ConfigError("sources: at least one source is required")
    check_bounds(config)
    for i, s in enumerate(config.sources):
        if not SAFE_NAME.fullmatch(s.name):
            raise ConfigError(f"sources[{i}].name: must be letters, digits, '_', '-' or '.', not starting with '.' or '-' (it names files), got {s.name!r}")
        if s.name in names[:i]:
            raise ConfigError(f"sources[{i}].name: duplicate source name {s.name!r}")
        if not s.paths:
            raise ConfigError(f"sources[{i}].paths: at least one path is required")
        if (s.repo_field is None) != (s.path_field is None):
            raise ConfigError(f"sources[{i}].repo_field: give repo_field and path_field together, or neither")
        if s.repo_field is not None and s.format not in ("jsonl", "parquet"):
            raise ConfigError(f"sources[{i}].repo_field: rows are grouped into repositories for jsonl and parquet sources, not {s.format}")
        if s.repositories and s.kind != "code":
            raise ConfigError(f"sources[{i}].kind: a repository source is code; set kind: code")
        if s.max_repo_bytes <= 0 or s.max_file_bytes <= 0:
            raise ConfigError(f"sources[{i}].max_repo_bytes: max_repo_bytes and max_file_bytes must be positive")
    positive = {
        "tokenizer.vocab_size": config.tokenizer.vocab_size,
        "tokenizer.sample_bytes": config.tokenizer.sample_bytes,
        "pack.seq_len": config.pack.seq_len,
        "pack.group_size": config.pack.group_size,
        "output.unit_mb": config.output.unit_mb,
        "max_document_bytes": config.max_document_bytes,
        "tokenizer.max_token_length": 1 if config.tokenizer.max_token_length is None else config.tokenizer.max_token_length,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be positive, got {value}")
    if config.tokenizer.vocab_size < 512:
        raise ConfigError(f"tokenizer.vocab_size: must be at least 512 (256 bytes + merges), got {config.tokenizer.vocab_size}")
    mh = config.dedup.minhash
    if not 0.0 < mh.threshold <= 1.0:
        raise ConfigError(f"dedup.minhash.threshold: must be within (0, 1], got {mh.threshold}")
    if not 0.0 < mh.max_cluster_share <= 1.0:
        raise ConfigError(f"dedup.minhash.max_cluster_share: must be within (0, 1], got {mh.max_cluster_share}")
    if (mh.bands is None) != (mh.rows is None):
        raise ConfigError("dedup.minhash.bands: give bands and rows together, or neither")
    if mh.bands is not None and mh.rows is not None and mh.bands * mh.rows > mh.num_perm:
        raise ConfigError(f"dedup.minhash.bands: bands × rows = {mh.bands * mh.rows} exceeds num_perm {mh.num_perm}")
    for key in ("num_perm", "ngram", "code_ngram", "component_rounds", "max_bucket_pairs", "large_bucket_neighbours"):
        if getattr(mh, key) <= 0:
            raise ConfigError(f"dedup.minhash.{key}: must be positive, got {getattr(mh, key)}")
    source_names = {s.name for s in config.sources}
    if config.mix_by not in ("source", CLUSTER_SIZE) and not config.mix_by.startswith("meta."):
        raise ConfigError(f"mix_by: expected source, cluster_size or meta.<key>, got {config.mix_by!r}")
    if config.mix_by == CLUSTER_SIZE:
        if not config.dedup.minhash.enabled:
            raise ConfigError("mix_by: cluster_size needs dedup.minhash.enabled (the cluster sizes come from near-dedup)")
        try:
            size_buckets(config.mix)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    for name, m in config.mix.items():
        given = [k for k in ("weight", "epochs", "max_tokens") if getattr(m, k) is not None]
        if config.mix_by == "source" and name not in source_names:
            raise ConfigError(f"mix.{name}: no source named {name!r} (sources: {', '.join(sorted(source_names))}; or set mix_by: meta.<key>)")
        if len(given) != 1:
            raise ConfigError(f"mix.{name}: give exactly one of weight, epochs, max_tokens (got {', '.join(given) or 'none'})")
        if getattr(m, given[0]) < 0:
            raise ConfigError(f"mix.{name}.{given[0]}: must not be negative")
    weighted = [m.weight for m in config.mix.values() if m.weight is not None]
    if weighted and not any(w > 0 for w in weighted):
        raise ConfigError("mix: the weights are all zero; give at least one source a positive weight")
    if config.dedup.lines.min_documents < 2:
        raise ConfigError(f"dedup.lines.min_documents: must be at least 2 (a line in one document is every line), got {config.dedup.lines.min_documents}")
    if config.max_compression_ratio <= 1:
        raise ConfigError(f"max_compression_ratio: must be above 1, got {config.max_compression_ratio}")
    blocks = [("filters", config.filters)] + [(f"sources[{i}].filters", s.filters) for i, s in enumerate(config.sources) if s.filters is not None]
    registered = [spec.name for spec in rule_filters()]
    for where, block in blocks:
        check_filter_order(f"{where}.order", block.order, registered)
        for j, c in enumerate(block.classifiers):
            if not SAFE_NAME.fullmatch(c.name):
                raise ConfigError(f"{where}.classifiers[{j}].name: must be letters, digits, '_', '-' or '.', got {c.name!r}")
    rates = {"tokenizer.check_rate": config.tokenizer.check_rate, "fim.rate": config.fim.rate, "fim.spm_rate": config.fim.spm_rate, "split_combined_tokens.rate": config.split_combined_tokens.rate}
    for key, value in rates.items():
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{key}: must be within [0, 1], got {value}")
    if config.pack.seq_len < MIN_SEQ_LEN:
        raise ConfigError(f"pack.seq_len: must be at least {MIN_SEQ_LEN} (room for the FIM sentinels and EOS), got {config.pack.seq_len}")
    if not 0.0 <= config.max_dead_letter_fraction <= 1.0:
        raise ConfigError(f"max_dead_letter_fraction: must be within [0, 1], got {config.max_dead_letter_fraction}")
