"""``corpusmill tokenizer``: train, encode, decode, stats, compare.

Inputs are local files: ``.jsonl`` (one document per line, ``--text-field``) or anything else
(one file = one document). ``stats`` and ``compare`` report bytes per token (compression) and
tokens per word (fertility) per input file, or per detected language with ``--by language``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from tokenizer.cjk import WORD_CHARS
from tokenizer.encode import load_directory


def read_documents(paths: Sequence[str], text_field: str = "text") -> Iterator[tuple[str, str]]:
    """``(file, text)`` for every document of the given files."""
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            if path.endswith(".jsonl"):
                for line in f:
                    if line.strip():
                        text = json.loads(line).get(text_field)
                        if isinstance(text, str):
                            yield path, text
            else:
                yield path, f.read()


@lru_cache(maxsize=1)
def _words_pattern() -> Any:
    import regex

    return regex.compile(f"[{WORD_CHARS}]|[^\\s{WORD_CHARS}]+")


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _word_count(text: str) -> int:
    """Words for fertility: whitespace words, with every CJK character a word of its own."""
    return len(_words_pattern().findall(text))


def _language_of(text: str) -> str:
    return _language_identifier().classify(text[:2000])[0]


def compression_stats(directory: str, docs: list[tuple[str, str]], by: str) -> dict[str, dict[str, float]]:
    """Per group: documents, bytes, tokens, bytes/token and tokens/word."""
    encoder = load_directory(directory)
    groups: dict[str, dict[str, float]] = {}
    ids = encoder.encode_batch([t for _, t in docs])
    for (path, text), tokens in zip(docs, ids, strict=True):
        key = _language_of(text) if by == "language" else os.path.basename(path)
        g = groups.setdefault(key, {"documents": 0, "bytes": 0, "tokens": 0, "words": 0})
        g["documents"] += 1
        g["bytes"] += len(text.encode("utf-8"))
        g["tokens"] += len(tokens)
        g["words"] += _word_count(text)
    for g in groups.values():
        g["bytes_per_token"] = g["bytes"] / max(g["tokens"], 1)
        g["tokens_per_word"] = g["tokens"] / max(g["words"], 1)
    return dict(sorted(groups.items()))


def _train(args: argparse.Namespace) -> None:
    from tokenizer.train import (
        artifact_files,
        sentencepiece_artifact_files,
        train_tokenizer,
    )

    def sample() -> Iterator[str]:
        taken = 0
        for _, text in read_documents(args.input, args.text_field):
            size = len(text.encode("utf-8"))
            if taken + size > args.sample_bytes:
                return
            taken += size
            yield text

    if args.backend == "sentencepiece":
        from tokenizer.sentencepiece_backend import train_sentencepiece

        files = sentencepiece_artifact_files(train_sentencepiece(sample(), args.vocab_size), model_max_length=args.model_max_length)
    else:
        tok = train_tokenizer(sample(), vocab_size=args.vocab_size, min_frequency=args.min_frequency)
        files = artifact_files(tok, model_max_length=args.model_max_length)
    os.makedirs(args.output, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(args.output, name), "wb") as f:
            f.write(data)
    print(f"wrote {', '.join(sorted(files))} to {args.output} (vocab {load_directory(args.output).vocab_size:,})")


def _print_table(rows: dict[str, dict[str, float]], label: str) -> None:
    print(f"{label:<24} {'docs':>6} {'MB':>8} {'tokens':>10} {'bytes/token':>11} {'tokens/word':>11}")
    for key, g in rows.items():
        print(f"{key:<24} {int(g['documents']):>6} {g['bytes'] / 1e6:>8.2f} {int(g['tokens']):>10,} {g['bytes_per_token']:>11.3f} {g['tokens_per_word']:>11.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="corpusmill tokenizer", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a tokenizer on files")
    train.add_argument("--input", nargs="+", required=True, help="text or .jsonl files")
    train.add_argument("--output", required=True, help="directory for tokenizer.json (or tokenizer.model) and configs")
    train.add_argument("--vocab-size", type=int, default=128000)
    train.add_argument("--backend", choices=["hf", "sentencepiece"], default="hf")
    train.add_argument("--min-frequency", type=int, default=2)
    train.add_argument("--sample-bytes", type=int, default=200_000_000, help="stop reading input after this many bytes")
    train.add_argument("--model-max-length", type=int, default=4096)
    train.add_argument("--text-field", default="text")
    for name, text in (("encode", "stdin text → token ids, space-separated"), ("decode", "stdin token ids → text (special tokens shown)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--tokenizer", required=True, help="tokenizer directory")
    stats = sub.add_parser("stats", help="bytes/token and tokens/word per file or language")
    compare = sub.add_parser("compare", help="stats for two tokenizers side by side")
    stats.add_argument("--tokenizer", required=True)
    compare.add_argument("--tokenizer", required=True, action="append", help="give twice")
    for p in (stats, compare):
        p.add_argument("files", nargs="+")
        p.add_argument("--by", choices=["file", "language"], default="file")
        p.add_argument("--text-field", default="text")
    args = parser.parse_args(argv)
    if args.command == "train":
        _train(args)
    elif args.command == "encode":
        print(" ".join(map(str, load_directory(args.tokenizer).encode(sys.stdin.read()).tolist())))
    elif args.command == "decode":
        sys.stdout.write(load_directory(args.tokenizer).decode([int(t) for t in sys.stdin.read().split()]))
    elif args.command == "stats":
        _print_table(compression_stats(args.tokenizer, list(read_documents(args.files, args.text_field)), args.by), args.by)
    else:
        if len(args.tokenizer) != 2:
            parser.error("compare needs --tokenizer twice")
        docs = list(read_documents(args.files, args.text_field))
        a, b = (compression_stats(t, docs, args.by) for t in args.tokenizer)
        print(f"{args.by:<24} {'bytes/token A':>13} {'bytes/token B':>13} {'tokens/word A':>13} {'tokens/word B':>13}")
        for key in a:
            print(f"{key:<24} {a[key]['bytes_per_token']:>13.3f} {b[key]['bytes_per_token']:>13.3f} {a[key]['tokens_per_word']:>13.3f} {b[key]['tokens_per_word']:>13.3f}")
        print(f"A = {args.tokenizer[0]}, B = {args.tokenizer[1]}")
    return 0
