"""The cost of every stage, per core, next to the primitive it rests on (docs/scaling.md).

One process, one core, the same documents through each stage alone (prose: docstrings of this
machine; code: the standard library's sources), timed in isolation so a stage's figure is its own
work, without Beam. Stages: read+parse (JSONL), normalize, each default filter, exact hashing,
shingling + MinHash signatures, LSH band keys, curated Parquet write, tokenizer training, encode,
FIM + split, pack, Arrow write. Primitives: ``json.loads``, a ``\\w+`` regex scan, xxh64,
numpy sort. The curate share column is each curate stage's part of their summed time: what to
optimise first.

    python bench/profile_stages.py [--text-docs 20000]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import prose_documents, write_jsonl_shards  # noqa: E402
from bench.filters_speed import code_records  # noqa: E402
from pipeline.assemble.pack import pack_best_fit  # noqa: E402
from pipeline.assemble.tokenize import LoadedTokenizer, encode_documents  # noqa: E402
from pipeline.config import FimConfig, config_from_dict  # noqa: E402
from pipeline.curate.analyze import SIGNATURE_BATCH  # noqa: E402
from pipeline.curate.dedup import exact  # noqa: E402
from pipeline.curate.dedup.minhash import band_keys, batch_shingle_hashes, choose_bands, signatures  # noqa: E402
from pipeline.curate.filters.chain import filters_for_source  # noqa: E402
from pipeline.curate.normalize import normalize_document  # noqa: E402
from pipeline.io.curated import CURATED_SCHEMA, ParquetRowWriter, curated_row  # noqa: E402
from pipeline.io.write_arrow import ArrowShardWriter  # noqa: E402
from pipeline.read.formats import read_jsonl  # noqa: E402
from pipeline.records import Document  # noqa: E402
from tokenizer.train import save_tokenizer, train_tokenizer  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402

MINHASH_BATCH = 256


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text-docs", type=int, default=20000)
    args = parser.parse_args()
    config = config_from_dict({"sources": [{"name": "text", "paths": ["unused"], "id_field": "id"},
                                           {"name": "code", "paths": ["unused"], "id_field": "id", "kind": "code"}]})
    records = {"text": [{"id": f"t{i}", "text": t} for i, t in enumerate(prose_documents(args.text_docs))], "code": code_records()}
    rows: list[tuple[str, str, float, float]] = []  # (stage, kind, MB, seconds)

    def add(stage: str, kind: str, mb: float, seconds: float) -> None:
        rows.append((stage, kind, mb, seconds))
        print(f"{stage:<34} {kind:<5} {mb / seconds:>8.2f} MB/s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        for source in config.sources:
            kind = source.kind
            raw = records[kind]
            mb = write_jsonl_shards(raw, Path(tmp) / kind, shards=1) / 1e6
            (path,) = sorted((Path(tmp) / kind).glob("*.jsonl*"))
            lines = path.read_bytes().splitlines()
            texts = [r["text"] for r in raw]
            add("primitive: json.loads", kind, mb, timed(lambda: [json.loads(line) for line in lines]))
            add("primitive: regex \\w+ scan", kind, mb, timed(lambda: [re.findall(r"\w+", t) for t in texts]))
            add("primitive: UTF-8 encode + xxh64", kind, mb, timed(lambda: [xxhash.xxh64_intdigest(t.encode("utf-8", "surrogatepass")) for t in texts]))
            docs: list[Document] = []
            add("read+parse", kind, mb, timed(lambda: docs.extend(d for d in read_jsonl(source, str(path)) if isinstance(d, Document))))
            normalized: list[Any] = []
            add("normalize", kind, mb, timed(lambda: normalized.extend(normalize_document(d) for d in docs)))
            checks = filters_for_source(config, source)
            for check in checks:
                check(docs[0])  # models load and kernels compile on first use, once per worker: not part of the rate
            spent = [0.0] * len(checks)
            for d in docs:  # in chain order, so words measured once serve every filter after the first, as in a run
                for k, check in enumerate(checks):
                    started = time.perf_counter()
                    check(d)
                    spent[k] += time.perf_counter() - started
            for check, seconds in zip(checks, spent, strict=True):
                add(f"filter {type(check).__name__}", kind, mb, seconds)
            add("exact hash", kind, mb, timed(lambda: [exact.text_hash(d.text) for d in docs]))
            minhash = config.dedup.minhash
            ngram = minhash.code_ngram if kind == "code" else minhash.ngram
            shingles: list[np.ndarray] = []
            texts = [d.text for d in docs]
            batch_shingle_hashes(texts[:2], ngram, kind)  # compiled on first use
            add("shingling", kind, mb, timed(lambda: [shingles.extend(batch_shingle_hashes(texts[i : i + SIGNATURE_BATCH], ngram, kind))
                                                      for i in range(0, len(texts), SIGNATURE_BATCH)]))
            sigs: list[np.ndarray] = []
            nonempty = [s for s in shingles if len(s)]
            signatures(nonempty[:2], minhash.num_perm, config.seed)
            add("MinHash signatures", kind, mb, timed(lambda: sigs.extend(signatures(nonempty[i : i + MINHASH_BATCH], minhash.num_perm, config.seed)
                                                                      for i in range(0, len(nonempty), MINHASH_BATCH))))
            bands, band_rows = choose_bands(minhash.threshold, minhash.num_perm, minhash.bands, minhash.rows, minhash.verify)
            add("LSH band keys", kind, mb, timed(lambda: [band_keys(s, bands, band_rows) for s in sigs]))
            keys = np.concatenate([band_keys(s, bands, band_rows).ravel() for s in sigs])
            add("primitive: numpy sort of band keys", kind, mb, timed(lambda: np.sort(keys)))

            def write_curated() -> None:
                writer = ParquetRowWriter(f"{tmp}/curated-{kind}.parquet", CURATED_SCHEMA)
                for d in docs:
                    writer.write(curated_row(d))
                writer.close()

            add("curated Parquet write", kind, mb, timed(write_curated))

        all_docs = [Document(r["id"], r["text"], kind, {}) for kind, rs in records.items() for r in rs]
        mb = sum(len(d.text.encode("utf-8", "surrogatepass")) for d in all_docs) / 1e6
        tok_dir = f"{tmp}/tokenizer"
        add("tokenizer training (8k vocab)", "both", mb, timed(lambda: save_tokenizer(train_tokenizer((d.text for d in all_docs), 8192), tok_dir)))
        loaded = LoadedTokenizer(tok_dir)
        plain, fim = FimConfig(rate=0.0), config.fim
        tokenized: list[Any] = []
        add("encode", "both", mb, timed(lambda: encode_documents(loaded.encoder, loaded.combined, all_docs, plain, 0.0, config.seed)))
        fim_seconds = timed(lambda: tokenized.extend(encode_documents(loaded.encoder, loaded.combined, all_docs, fim, config.split_combined_tokens.rate, config.seed)[0]))
        add("encode + FIM + split", "both", mb, fim_seconds)
        packed: list[Any] = []
        seq_len = config.pack.seq_len
        add("pack (best fit)", "both", mb, timed(lambda: packed.extend(pack_best_fit(0, sorted(tokenized, key=lambda t: t.id), seq_len, 0)[0])))

        def write_arrow() -> None:
            writer = ArrowShardWriter(f"{tmp}/data-00000.arrow")
            writer.write(packed)
            writer.close()

        add("Arrow write", "both", mb, timed(write_arrow))

    curate = [r for r in rows if not r[0].startswith("primitive") and r[1] != "both"]
    print("\n| stage | kind | MB/s per core | share of curate time |\n|---|---|---|---|")
    for stage, kind, mb, seconds in rows:
        share = seconds / sum(r[3] for r in curate if r[1] == kind) if (stage, kind, mb, seconds) in curate else None
        print(f"| {stage} | {kind} | {mb / seconds:,.2f} | {'' if share is None else f'{share:.0%}'} |")
    for kind in ("text", "code"):
        stages = [r for r in curate if r[1] == kind]
        print(f"| **curate, summed** | {kind} | **{stages[0][2] / sum(r[3] for r in stages):,.2f}** | |")


if __name__ == "__main__":
    print_installed_set()
    main()
