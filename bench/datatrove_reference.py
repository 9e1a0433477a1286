"""Records datatrove's verdicts on English prose, as the reference for ``filters.compat: datatrove``.

Run once in a virtualenv that has datatrove and spaCy (datatrove is no dependency of corpusmill):

    python -m venv /tmp/dt && /tmp/dt/bin/pip install datatrove spacy
    /tmp/dt/bin/python bench/datatrove_reference.py --out tests/data/datatrove_verdicts.jsonl.gz \
        --rules pipeline/curate/filters/reference_en.json

``--rules`` writes the data the reference mode runs on: spaCy's English tokenizer rules (the
prefix, suffix, infix and URL patterns and the special cases, as ``spacy.blank("en")`` has them;
datatrove splits English words with it) and datatrove's punctuation sets and stop words.

The corpus is built here from what any Debian + Python machine has, in four kinds: Python
standard-library docstrings (documentation), licence texts (/usr/share/common-licenses and
/usr/share/doc/*/copyright), and generated web-like pages (menus, lists, repeated lines, hashtags,
ellipses) that sit near the rules' thresholds. Each row holds the text, its kind, a split
(``dev`` for tuning, ``test`` held out) and, per filter, datatrove's verdict: null (kept) or its reason.
"""
from __future__ import annotations

import argparse
import ast
import gzip
import json
import random
import sysconfig
from pathlib import Path

MAX_CHARS = 3000
WORDS = ("data pipeline shard token model river garden station market library bridge village harbor cloud forest museum "
         "the of and to with that have be in for on is are was it this").split()


def docstrings(limit: int) -> list[str]:
    out = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if "test" in path.parts or "idlelib" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 200:
                    out.append(doc[:MAX_CHARS])
    return out[:limit]


def licences(limit: int) -> list[str]:
    paths = sorted(Path("/usr/share/common-licenses").glob("*")) + sorted(Path("/usr/share/doc").glob("*/copyright"))
    out = []
    for path in paths:
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            out += [text[i:i + MAX_CHARS] for i in range(0, min(len(text), 4 * MAX_CHARS), MAX_CHARS) if len(text[i:i + MAX_CHARS]) > 200]
    return out[:limit]


def web_pages(n: int, rng: random.Random) -> list[str]:
    def sentence(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + rng.choice([".", ".", "!", "?", "...", ":", ""])

    pages = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(3, 25)):
            kind = rng.random()
            if kind < 0.4:
                parts.append(" ".join(sentence(rng.randint(4, 16)) for _ in range(rng.randint(1, 5))))
            elif kind < 0.55:
                parts.append(rng.choice(["Home", "About us", "Contact", "Login", "Share on Twitter", "Read more..."]))
            elif kind < 0.7:
                parts.append("\n".join(f"{rng.choice(['-', '•', '*'])} {sentence(rng.randint(2, 8))}" for _ in range(rng.randint(2, 8))))
            elif kind < 0.8:
                parts.append(" ".join(f"#{rng.choice(WORDS)}" for _ in range(rng.randint(1, 12))))
            elif kind < 0.9 and parts:
                parts.append(rng.choice(parts))
            else:
                parts.append(f"Copyright (c) 20{rng.randint(10, 25)} {rng.choice(WORDS).title()} Inc. All rights reserved.")
        pages.append(("\n\n" if rng.random() < 0.5 else "\n").join(parts)[:MAX_CHARS])
    return pages


def write_rules(path: str) -> None:
    from importlib.metadata import version

    import spacy
    from datatrove.pipeline.filters.gopher_quality_filter import STOP_WORDS
    from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

    tokenizer = spacy.blank("en").tokenizer
    data = {
        "provenance": f"spaCy {spacy.__version__} (MIT licence) English tokenizer rules; datatrove {version('datatrove')} "
                      "(Apache-2.0) punctuation sets and Gopher stop words. Written by bench/datatrove_reference.py --rules.",
        "prefix": tokenizer.prefix_search.__self__.pattern,
        "suffix": tokenizer.suffix_search.__self__.pattern,
        "infix": tokenizer.infix_finditer.__self__.pattern,
        "url": tokenizer.url_match.__self__.pattern,
        "special_cases": {k: [piece[65] for piece in v] for k, v in tokenizer.rules.items()},  # 65: spaCy's ORTH attribute id
        "punctuation": "".join(sorted(PUNCTUATION_SET)),
        "terminal_punctuation": "".join(sorted(TERMINAL_PUNCTUATION)),
        "stop_words": list(STOP_WORDS),
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, sort_keys=True, indent=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tests/data/datatrove_verdicts.jsonl.gz")
    parser.add_argument("--rules", help="also write the tokenizer rules and punctuation sets to this JSON file")
    parser.add_argument("--per-kind", type=int, default=300)
    args = parser.parse_args()
    if args.rules:
        write_rules(args.rules)
    from datatrove.data import Document
    from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    rng = random.Random(20261203)
    corpus = [("docstring", t) for t in docstrings(args.per_kind)] + [("licence", t) for t in licences(args.per_kind)]
    corpus += [("web", t) for t in web_pages(args.per_kind, rng)]
    filters = {"gopher_quality": GopherQualityFilter(), "gopher_repetition": GopherRepetitionFilter(), "fineweb": FineWebQualityFilter()}
    rows = []
    for i, (kind, text) in enumerate(corpus):
        row = {"kind": kind, "split": "test" if i % 3 == 2 else "dev", "text": text}
        for name, f in filters.items():
            verdict = f.filter(Document(text=text, id=str(i)))
            row[name] = None if verdict is True else (verdict[1] if isinstance(verdict, tuple) else "dropped")
        rows.append(row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    for name in filters:
        kept = sum(r[name] is None for r in rows)
        print(f"{name}: datatrove keeps {kept} of {len(rows)}")


if __name__ == "__main__":
    main()
