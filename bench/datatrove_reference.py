"""Records datatrove's verdicts on English prose, as the reference for ``filters.compat: datatrove``.

Run once in a virtualenv that has datatrove and spaCy (datatrove is no dependency of corpusmill):

    python -m venv /tmp/dt && /tmp/dt/bin/pip install datatrove spacy
    /tmp/dt/bin/python bench/datatrove_reference.py --out tests/data/datatrove_verdicts.jsonl.gz \
        --rules pipeline/curate/filters/reference_en.json

``--rules`` writes the data the reference mode runs on: spaCy's English tokenizer rules (the
prefix, suffix, infix and URL patterns and the special cases, as ``spacy.blank("en")`` has them;
datatrove splits English words with it), the characters spaCy's sentencizer ends sentences on
(datatrove's C4 filter counts sentences with it) and datatrove's punctuation sets and stop words.

The corpus is built here from what any Debian + Python machine has, in four kinds: Python
standard-library docstrings (documentation), licence texts (/usr/share/common-licenses and
/usr/share/doc/*/copyright), generated web-like pages (menus, lists, repeated lines, hashtags,
ellipses) that sit near the rules' thresholds, and generated news-like pages with what C4's line
rules look for (citations, quoted endings, abbreviations, cookie and JavaScript notices, braces,
lorem ipsum). Each row holds the text, its kind, a split (``dev`` for tuning, ``test`` held out)
and, per filter, datatrove's verdict: null (kept) or its reason; ``c4_text`` is the text C4 keeps;
``spacy_words_sha1`` and ``spacy_sentences`` are spaCy's words (as datatrove splits them) and sentences.
"""
from __future__ import annotations

import argparse
import ast
import glob
import gzip
import hashlib
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


NEWS_WORDS = ("council budget school season report minister harbor museum storm election tunnel festival "
              "the of and to with that have be in for on is are was it this said").split()
NEWS_EXTRAS = [
    "This site uses cookies to improve your experience.", "Please enable JavaScript to view the comments.",
    "Read our Privacy Policy and Terms of Use.", "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "The config was {\"debug\": true} at the time.", "Share this:", "Advertisement", "Related articles",
    "Mr. Smith of the U.S. team said it was fine.", "Prices rose 3.5% in Jan. and fell again.",
    "He wrote: \"We will be back.\"", "It was, she said, 'the best year yet.'", "And then...",
    "Wait — what? Really?! Yes.", "See the notes [1] and [citation needed] above [edit].",
]


def news_pages(n: int, rng: random.Random) -> list[str]:
    def sentence() -> str:
        text = " ".join(rng.choice(NEWS_WORDS) for _ in range(rng.randint(2, 14))).capitalize()
        return text + rng.choice([".", ".", ".", "!", "?", ".\"", "?'", "...", ":", "", ". [1]", " [2]."])

    pages = []
    for _ in range(n):
        lines = []
        for _ in range(rng.randint(2, 14)):
            if rng.random() < 0.25:
                lines.append(rng.choice(NEWS_EXTRAS))
            else:
                lines.append(("  " if rng.random() < 0.1 else " ").join(sentence() for _ in range(rng.randint(1, 4))))
        pages.append("\n".join(lines)[:MAX_CHARS])
    return pages


def file_texts(patterns: list[str]) -> list[str]:
    """The files' first characters: gzip files inflated, files that are no UTF-8 text left out."""
    texts = []
    for path in sorted({p for pattern in patterns for p in glob.glob(pattern, recursive=True) if Path(p).is_file()}):
        data = gzip.decompress(Path(path).read_bytes()) if path.endswith(".gz") else Path(path).read_bytes()
        try:
            texts.append(data.decode("utf-8")[:MAX_CHARS])
        except UnicodeDecodeError:
            continue
    return [t for t in texts if len(t) > 200]


def write_rules(path: str) -> None:
    from importlib.metadata import version

    import spacy
    from datatrove.pipeline.filters.gopher_quality_filter import STOP_WORDS
    from spacy.pipeline import Sentencizer
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
        "sentence_punctuation": "".join(sorted(Sentencizer.default_punct_chars)),
        "stop_words": list(STOP_WORDS),
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, sort_keys=True, indent=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tests/data/datatrove_verdicts.jsonl.gz")
    parser.add_argument("--rules", help="also write the tokenizer rules and punctuation sets to this JSON file")
    parser.add_argument("--per-kind", type=int, default=300)
    parser.add_argument("--files", nargs="+", metavar="GLOB",
                        help="record verdicts on these files instead (a held-out corpus: each file's first 3,000 characters, split 'heldout')")
    args = parser.parse_args()
    if args.rules:
        write_rules(args.rules)
    from datatrove.data import Document
    from datatrove.utils.text import split_into_sentences, split_into_words
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    if args.files:
        corpus = [("file", text) for text in file_texts(args.files)]
    else:
        corpus = [("docstring", t) for t in docstrings(args.per_kind)] + [("licence", t) for t in licences(args.per_kind)]
        corpus += [("web", t) for t in web_pages(args.per_kind, random.Random(20261203))]
        corpus += [("news", t) for t in news_pages(args.per_kind, random.Random(20261204))]
    filters = {"gopher_quality": GopherQualityFilter(), "gopher_repetition": GopherRepetitionFilter(),
               "fineweb": FineWebQualityFilter(), "c4": C4QualityFilter()}
    rows = []
    for i, (kind, text) in enumerate(corpus):
        row = {"kind": kind, "split": "heldout" if args.files else ("test" if i % 3 == 2 else "dev"), "text": text,
               "spacy_words_sha1": hashlib.sha1("\0".join(split_into_words(text)).encode()).hexdigest(),
               "spacy_sentences": len(split_into_sentences(text))}
        for name, f in filters.items():
            doc = Document(text=text, id=str(i))
            verdict = f.filter(doc)
            row[name] = None if verdict is True else (verdict[1] if isinstance(verdict, tuple) else "dropped")
            if name == "c4" and verdict is True:
                row["c4_text"] = doc.text  # C4 keeps a document with its failing lines removed
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
