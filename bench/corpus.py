"""Benchmark corpora made from text every Python install has (no downloads).

Prose comes from the standard library's docstrings (modules, classes, functions) and the pydoc
topic pages, cut into documents of a few hundred words; near-duplicates are injected with
known edits so their true Jaccard similarity spans the interesting range.
"""
from __future__ import annotations

import ast
import gettext
import gzip
import glob
import json
import os
import pydoc_data.topics
import random
import subprocess
import sysconfig
from pathlib import Path
from typing import Any, Iterator


def _docstrings() -> Iterator[str]:
    """pydoc topics, then docstrings of the standard library, then of installed packages."""
    for _, text in sorted(pydoc_data.topics.topics.items()):
        yield text
    paths = sysconfig.get_paths()
    for top in (paths["stdlib"], paths["purelib"]):
        yield from _tree_docstrings(top)


def _tree_docstrings(top: str) -> Iterator[str]:
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "__pycache__", "test", "tests"))
        for name in sorted(f for f in files if f.endswith(".py")):
            try:
                tree = ast.parse(Path(root, name).read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc and len(doc) > 80:
                        yield doc


CACHE = Path(__file__).parent / ".cache"


def prose_documents(limit: int, words_per_doc: int = 250) -> list[str]:
    """Up to ``limit`` distinct documents of about ``words_per_doc`` words, in a fixed order.

    Extracting docstrings takes a minute or two, so the full list is cached under bench/.cache/.
    """
    cache = CACHE / f"prose-{sysconfig.get_python_version()}-{words_per_doc}.json"
    if not cache.exists():
        CACHE.mkdir(exist_ok=True)
        cache.write_text(json.dumps(_extract(words_per_doc)), encoding="utf-8")
    return json.loads(cache.read_text(encoding="utf-8"))[:limit]


def _extract(words_per_doc: int) -> list[str]:
    docs, current, seen = [], [], set()
    for text in _docstrings():
        current.extend(text.split())
        while len(current) >= words_per_doc:
            doc = " ".join(current[:words_per_doc])
            current = current[words_per_doc:]
            if doc not in seen:
                seen.add(doc)
                docs.append(doc)
    return docs


def docstring_documents(limit: int, min_chars: int = 1500) -> list[str]:
    """Up to ``limit`` documents of whole docstrings joined by blank lines (line structure kept),
    each at least ``min_chars`` long: prose the line-based filters can judge. Cached like the above."""
    cache = CACHE / f"docstrings-{sysconfig.get_python_version()}.json"
    if not cache.exists():
        CACHE.mkdir(exist_ok=True)
        cache.write_text(json.dumps(list(dict.fromkeys(_docstrings()))), encoding="utf-8")
    docs, current = [], []
    for text in json.loads(cache.read_text(encoding="utf-8")):
        current.append(text)
        if sum(len(t) for t in current) >= min_chars:
            docs.append("\n\n".join(current))
            current = []
            if len(docs) == limit:
                break
    return docs


def near_variant(text: str, rng: random.Random, vocabulary: list[str]) -> tuple[str, str]:
    """A near-duplicate of ``text`` made by one edit kind at a random strength; returns (kind, text)."""
    words = text.split(" ")
    kind = rng.choice(["substitute", "insert", "truncate", "reorder"])
    strength = rng.uniform(0.0, 0.12)
    if kind == "substitute":
        for _ in range(max(1, int(len(words) * strength))):
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
    elif kind == "insert":
        for _ in range(max(1, int(len(words) * strength))):
            words.insert(rng.randrange(len(words) + 1), rng.choice(vocabulary))
    elif kind == "truncate":
        words = words[: max(10, int(len(words) * (1 - 2 * strength)))]
    else:
        cut_a, cut_b = sorted(rng.sample(range(1, len(words)), 2))
        words = words[cut_b:] + words[cut_a:cut_b] + words[:cut_a] if strength > 0.06 else words[cut_a:] + words[:cut_a]
    return kind, " ".join(words)


def corpus_with_duplicates(base_docs: int, duplicates: int, seed: int = 0, structured: bool = False) -> list[dict[str, str]]:
    """``base_docs`` originals plus ``duplicates`` injected variants, as ``{"id", "text", "edit"}``.

    ``structured`` takes whole docstrings with their lines (for filters) instead of 250-word chunks."""
    rng = random.Random(seed)
    base = docstring_documents(base_docs) if structured else prose_documents(base_docs)
    vocabulary = sorted({w for d in base[:200] for w in d.split()})
    records = [{"id": f"base{i:06d}", "text": t, "edit": "original"} for i, t in enumerate(base)]
    for j in range(duplicates):
        kind, text = near_variant(base[rng.randrange(len(base))], rng, vocabulary)
        records.append({"id": f"dup{j:06d}", "text": text, "edit": kind})
    return records


def write_jsonl_shards(records: list[dict[str, str]], directory: Path, shards: int = 8) -> int:
    """Writes records round-robin into ``shards`` JSONL files; returns the bytes written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = [open(directory / f"part-{i:03d}.jsonl", "w", encoding="utf-8") for i in range(shards)]
    total = 0
    for i, record in enumerate(records):
        line = json.dumps(record, ensure_ascii=False) + "\n"
        files[i % shards].write(line)
        total += len(line.encode("utf-8"))
    for f in files:
        f.close()
    return total


def catalog_paths(locale: str) -> list[str]:
    """The machine's gettext catalogs of one locale (/usr/share/locale), in path order."""
    return sorted(glob.glob(f"/usr/share/locale/{locale}/LC_MESSAGES/*.mo"))


def catalog_entries(paths: list[str]) -> Iterator[tuple[Any, Any]]:
    """(msgid, msgstr) pairs of these catalogs, each catalog's in msgid order; unreadable ones skipped."""
    for path in paths:
        try:
            with open(path, "rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
        except Exception:
            continue
        yield from sorted(catalog.items(), key=lambda kv: str(kv[0]))


def catalog_messages(locale: str) -> list[str]:
    """Translated messages of one locale from the machine's gettext catalogs (/usr/share/locale):
    real sentences by human translators, in a fixed order."""
    return [m.strip() for k, m in catalog_entries(catalog_paths(locale)) if k and isinstance(m, str) and m.strip()]


# the Debian Reference's translations: language → the package suffix (debian-reference-XX)
DEBIAN_REFERENCE_BOOKS = {"en": "en", "de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt", "id": "id", "ja": "ja", "zh": "zh-cn"}


def download_debian_reference(books: list[str], directory: str) -> None:
    """``apt-get download`` the packages of these books into ``directory``."""
    subprocess.run(["apt-get", "download", *(f"debian-reference-{b}" for b in books)], cwd=directory, check=True, capture_output=True)


def unpack_debian_reference(debs: Path, book: str, work: Path) -> tuple[Path, str]:
    """(the unpacked book's directory, its plain-text rendering) from ``debs``/debian-reference-``book``_*.deb."""
    (deb,) = debs.glob(f"debian-reference-{book}_*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / book)], check=True)
    root = work / book / "usr" / "share" / "debian-reference"
    return root, gzip.decompress((root / f"debian-reference.{book}.txt.gz").read_bytes()).decode("utf-8")


def join_into_documents(messages: list[str], chars: int, separator: str = " ", limit: int | None = None) -> list[str]:
    """Consecutive messages joined until each document reaches ``chars`` characters."""
    docs, current = [], []
    for message in messages:
        current.append(message)
        if sum(len(m) for m in current) >= chars:
            docs.append(separator.join(current))
            current = []
            if limit is not None and len(docs) == limit:
                break
    return docs


def straddling_cluster(documents: int, seed: int = 0, words: int = 400, families: int = 40, family_edit: float = 0.02, document_edit: float = 0.02) -> list[str]:
    """One big near-duplicate cluster whose pairwise Jaccard straddles ~0.8 (5-word shingles): a
    base text of random words; ``families`` variants of it with ``family_edit`` of the words
    replaced; each document a family variant with up to ``document_edit`` more replaced. Pairs
    within a family are mostly above 0.8, pairs across families mostly below, so most pairs
    similar to each other are not similar to any one member."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(50_000)]
    base = [rng.choice(vocabulary) for _ in range(words)]

    def edited(text: list[str], share: float) -> list[str]:
        out = list(text)
        for i in rng.sample(range(len(out)), int(len(out) * share)):
            out[i] = rng.choice(vocabulary)
        return out

    variants = [edited(base, family_edit) for _ in range(families)]
    return [" ".join(edited(variants[i % families], rng.uniform(0, document_edit))) for i in range(documents)]
