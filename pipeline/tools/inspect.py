"""``corpusmill inspect DIR``: what is in a ``dataset/`` or ``curated/`` directory.

For a dataset: the manifest summary and decoded rows, with document boundaries (``║``), padding
and FIM sentinels made visible. For curated Parquet: documents per source and a few previews.
"""
from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from pipeline.assemble.pack import unpack_row
from pipeline.io.curated import read_curated_file
from pipeline.io.files import list_files, read_json

BOUNDARY = " ║ "


def render_row(encoder, row: dict) -> str:
    """One packed row as text: pieces joined by ║, padding summarised at the end."""
    pieces = [encoder.decode(piece.tolist()) for piece in unpack_row(row)]
    padding = len(row["input_ids"]) - sum(row["document_lengths"])
    sources = ",".join(dict.fromkeys(row["sources"]))
    tail = f" [+{padding} pad]" if padding else ""
    return f"({len(pieces)} pieces from {sources}) " + BOUNDARY.join(p.replace("\n", "⏎") for p in pieces) + tail


def inspect_dataset(directory: str, rows: int = 3, row: int | None = None, width: int = 600) -> str:
    import datasets

    from pipeline.assemble.tokenize import load_encoder

    manifest = read_json(FileSystems.join(directory, "manifest.json"))
    ds = datasets.load_from_disk(directory)
    encoder = load_encoder(manifest["tokenizer"]["path"])
    lines = [
        f"dataset {directory}: {manifest['rows']:,} rows × {manifest['seq_len']} tokens, {manifest['tokens']:,} tokens, {len(manifest['shards'])} shards",
        f"tokens per source: {json.dumps(manifest['tokens_per_source'])}",
        f"packing: {json.dumps(manifest['packing'])}",
        f"fim: {json.dumps(manifest.get('fim', {}))}, split tokens: {manifest.get('split_tokens', 0):,}",
        f"tokenizer: {manifest['tokenizer']['path']} (vocab {manifest['tokenizer']['vocab_size']:,}, sha256 {manifest['tokenizer']['sha256'][:12]})",
    ]
    for i in [row] if row is not None else range(min(rows, len(ds))):
        text = render_row(encoder, ds[i])
        lines.append(f"row {i}: {text if row is not None else text[:width] + ('…' if len(text) > width else '')}")
    return "\n".join(lines)


def inspect_curated(directory: str, documents: int = 3, width: int = 200) -> str:
    counts: dict[str, int] = {}
    previews: list[str] = []
    for path in list_files(FileSystems.join(directory, "*.parquet")):
        for doc in read_curated_file(path):
            counts[doc.source] = counts.get(doc.source, 0) + 1
            if len(previews) < documents:
                previews.append(f"{doc.id} [{doc.meta.get('language', '-')}]: {doc.text[:width]!r}")
    return "\n".join([f"curated {directory}: {sum(counts.values()):,} documents; per source: {json.dumps(counts)}", *previews])


def inspect(directory: str, rows: int = 3, row: int | None = None) -> str:
    if FileSystems.exists(FileSystems.join(directory, "manifest.json")):
        return inspect_dataset(directory, rows, row)
    if list_files(FileSystems.join(directory, "*.parquet")):
        return inspect_curated(directory, rows)
    raise FileNotFoundError(f"{directory} is neither a dataset/ (no manifest.json) nor a curated/ directory (no .parquet)")
