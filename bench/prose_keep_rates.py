"""How much clean prose the default text chain keeps, per language.

The prose is the Debian Reference in its translations (Debian packages ``debian-reference-XX``,
human translations of one book; fetched with ``apt-get download`` unless ``--debs`` names a
directory holding them): the books' plain-text renderings, cut into paragraphs (blank-line
blocks), of which the prose ones are kept: indented as the books indent prose (not as code, tables
and headings), at least 80 characters,
ending in a sentence mark. Hard-wrapped lines are unwrapped (joined by a space, or by nothing in
Chinese and Japanese). Consecutive paragraphs make documents of ~1,500 characters. Good prose in
every language should pass; a language with a low rate is being starved by a rule written for
another.

    python bench/prose_keep_rates.py [--debs DIR]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import DEBIAN_REFERENCE_BOOKS, download_debian_reference, unpack_debian_reference  # noqa: E402
from pipeline.config import config_from_dict  # noqa: E402
from pipeline.curate.filters.base import apply_filters  # noqa: E402
from pipeline.curate.filters.chain import filters_for_source  # noqa: E402
from pipeline.curate.filters.text import TERMINAL_PUNCTUATION  # noqa: E402
from pipeline.records import Document, Drop  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402

def prose_documents(text: str, language: str, chars: int = 1500) -> list[str]:
    joiner = "" if language in ("zh", "ja") else " "
    paragraphs = []
    for block in text.replace("\xa0", " ").split("\n\n"):  # paragraphs open with non-breaking spaces
        lines = block.strip("\n").split("\n")
        # the books indent prose by four spaces; code, tables and headings are indented otherwise
        if not block.strip() or any(not line.startswith("    ") or line[4:5].isspace() or "|" in line or "+--" in line for line in lines):
            continue
        paragraph = joiner.join(line.strip() for line in lines)
        if len(paragraph) >= 80 and paragraph.endswith(TERMINAL_PUNCTUATION):
            paragraphs.append(paragraph)
    docs, current = [], []
    for paragraph in paragraphs:
        current.append(paragraph)
        if sum(map(len, current)) >= chars:
            docs.append("\n\n".join(current))
            current = []
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debs", help="a directory with debian-reference-XX_*.deb files (default: apt-get download them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        debs = Path(args.debs or tmp)
        if not args.debs:
            download_debian_reference(list(DEBIAN_REFERENCE_BOOKS.values()), tmp)
        corpus = {lang: prose_documents(unpack_debian_reference(debs, book, Path(tmp))[1], lang) for lang, book in DEBIAN_REFERENCE_BOOKS.items()}
    config = config_from_dict({"sources": [{"name": "docs", "paths": ["unused"]}]})
    chain = filters_for_source(config, config.sources[0])
    print(f"default text chain: {' → '.join(type(f).__name__ for f in chain)}")
    rates = {}
    for lang, docs in corpus.items():
        results = [apply_filters(chain, Document(f"{lang}/{i}", text, "docs", {})) for i, text in enumerate(docs)]
        reasons = Counter(r.reason for r in results if isinstance(r, Drop))
        rates[lang] = sum(not isinstance(r, Drop) for r in results) / len(results)
        print(f"  {lang:<3} {len(docs):>4} documents  kept {rates[lang]:6.1%}  drop reasons: {dict(reasons.most_common(3))}")
    print(f"lowest: {min(rates, key=rates.get)} {min(rates.values()):.1%}; languages under 95%: {sorted(k for k, v in rates.items() if v < 0.95)}")


if __name__ == "__main__":
    print_installed_set()
    main()
