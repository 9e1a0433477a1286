"""The build's checks and ``manifest.json``: every curated document tokenized, every token packed
or sampled out, the mixture achieved per group, and the shards' sha256s."""
from __future__ import annotations

import hashlib
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline import __version__, layout
from pipeline.assemble.mix import describe
from pipeline.config import Config
from pipeline.io.curated import ReconciliationError, verify_parquet_rows
from pipeline.io.files import read_bytes
from tokenizer.encode import MODEL_FILES


def verify_build(config: Config, shard_stats: list[dict[str, Any]], stats: dict[str, int], tokenized: list[dict[str, Any]], num_docs: int) -> None:
    """Every curated document was tokenized once and ended in the dataset or in the mix drops,
    the dataset holds the copies and tokens the plan gave, and the drops files hold what was reported."""
    problems = []
    documents = sum(t["documents"] for t in tokenized)
    packed_shards = [s for s in shard_stats if s["sampled_out_file"] is not None]  # all but the repacked tail shard
    if documents != num_docs or len(tokenized) != len(packed_shards):
        problems.append(f"tokenized {documents} documents in {len(tokenized)} shards; curated/ holds {num_docs} in {len(packed_shards)}")
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
    problems += verify_parquet_rows({layout.mix_drops_path(config, i): sum(s["sampled_out"].values()) for i, s in enumerate(packed_shards)})
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
    padding = sum(s["padding"] for s in shard_stats)  # as written
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
            "padding_tokens": padding,
            "padding_share": round(padding / max(rows * config.pack.seq_len, 1), 6),
            "padding_tokens_before_repack": padding - sum(s["padding"] for s in shard_stats if s["sampled_out_file"] is None) + pack_stats.get("tail_padding", 0),
            "unfilled_rows_repacked": pack_stats.get("tail_rows", 0),
            "repacked_into_rows": pack_stats.get("tail_rows_repacked", 0),
        },
        "fim": {k: pack_stats.get(f"fim_{k}", 0) for k in ("psm", "spm", "too_short")},
        "split_tokens": pack_stats.get("split_tokens", 0),
        "fast_path_checked_documents": pack_stats.get("encode_checked", 0),
        "shards": [{k: s[k] for k in ("file", "rows", "tokens", "bytes", "sha256")} for s in shard_stats],
    }
