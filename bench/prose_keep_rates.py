"""How much clean prose the default text chain keeps, per language.

Documents of ~1,500 characters are joined from the translated messages of the gettext catalogs
(the same text as ``bench/langid_accuracy.py``, without code mixed in: clean prose by human
translators), one message a line. Good prose in every language should pass; a language with a low
rate is being starved by a rule written for another.

    python bench/prose_keep_rates.py [--per-language 100] [--split test]
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.langid_accuracy import LOCALES, translated_messages  # noqa: E402
from pipeline.config import config_from_dict  # noqa: E402
from pipeline.curate.filters.base import apply_filters  # noqa: E402
from pipeline.curate.filters.chain import filters_for_source  # noqa: E402
from pipeline.records import Document, Drop  # noqa: E402


def documents(locale: str, split: str, count: int, chars: int = 1500) -> list[str]:
    docs, lines = [], []
    for message in translated_messages(locale, split):
        lines.append(message)
        if sum(map(len, lines)) >= chars:
            docs.append("\n".join(lines))
            lines = []
            if len(docs) == count:
                break
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=100)
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    args = parser.parse_args()
    config = config_from_dict({"sources": [{"name": "docs", "paths": ["unused"]}]})
    chain = filters_for_source(config, config.sources[0])
    print(f"default text chain: {' → '.join(type(f).__name__ for f in chain)}")
    rates = {}
    for lang, locale in LOCALES.items():
        docs = documents(locale, args.split, args.per_language)
        results = [apply_filters(chain, Document(f"{lang}/{i}", text, "docs", {})) for i, text in enumerate(docs)]
        reasons = Counter(r.reason for r in results if isinstance(r, Drop))
        rates[lang] = sum(not isinstance(r, Drop) for r in results) / len(results)
        print(f"  {lang:<3} {len(docs):>4} documents  kept {rates[lang]:6.1%}  drop reasons: {dict(reasons.most_common(3))}")
    print(f"lowest: {min(rates, key=rates.get)} {min(rates.values()):.1%}; languages under 95%: {sorted(k for k, v in rates.items() if v < 0.95)}")


if __name__ == "__main__":
    main()
