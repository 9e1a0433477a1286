"""Language-ID accuracy per language on real translated text from this machine.

Documents are built from the gettext catalogs under /usr/share/locale (Debian packages' own
translations: real sentences by human translators), ~300 characters each; the catalog's locale
is the ground truth. Backends: CLD2 (corpusmill's default), py3langid and, when installed in the bench
environment, lingua (``pip install lingua-language-detector``); never a dependency of the package.

    python bench/langid_accuracy.py [--per-language 200]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import catalog_messages, join_into_documents  # noqa: E402
from pipeline.curate.filters.language import LanguageFilter  # noqa: E402

LOCALES = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt_BR", "nl": "nl", "pl": "pl", "sv": "sv", "ru": "ru", "uk": "uk",
           "zh": "zh_CN", "ja": "ja", "ko": "ko", "tr": "tr", "cs": "cs", "vi": "vi"}


def documents(locale: str, count: int, chars: int = 300) -> list[str]:
    """Translated sentences of one locale (no format strings), joined into ~``chars``-character documents."""
    sentences = [m for m in catalog_messages(locale) if len(m) > 20 and "%" not in m]
    return join_into_documents(sentences, chars, limit=count)


def lingua_backend():
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        return None
    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def classify(text: str) -> str:
        language = detector.detect_language_of(text)
        return language.iso_code_639_1.name.lower() if language else "??"
    return classify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=200)
    args = parser.parse_args()
    corpus = {lang: documents(locale, args.per_language) for lang, locale in LOCALES.items()}
    corpus = {lang: docs for lang, docs in corpus.items() if docs}
    backends = {name: LanguageFilter(backend=name).classify for name in ("cld2", "py3langid")}
    backends = {name: (lambda t, classify=classify: classify(t)[0]) for name, classify in backends.items()}
    lingua = lingua_backend()
    if lingua:
        backends["lingua"] = lingua
    else:
        print("(lingua not installed: pip install lingua-language-detector to compare)")
    results = {name: {} for name in backends}
    speeds = {}
    for name, classify in backends.items():
        total_chars, started = 0, time.perf_counter()
        for lang, docs in corpus.items():
            results[name][lang] = sum(classify(d) == lang for d in docs) / len(docs)
            total_chars += sum(len(d.encode()) for d in docs)
        speeds[name] = total_chars / (time.perf_counter() - started) / 1e6
    print(f"{'lang':<5} {'docs':>5} " + " ".join(f"{n:>10}" for n in backends))
    for lang, docs in corpus.items():
        print(f"{lang:<5} {len(docs):>5} " + " ".join(f"{results[n][lang]:>10.3f}" for n in backends))
    print(f"{'mean':<5} {'':>5} " + " ".join(f"{sum(results[n].values()) / len(results[n]):>10.3f}" for n in backends))
    print(f"{'MB/s':<5} {'':>5} " + " ".join(f"{speeds[n]:>10.2f}" for n in backends))
    print_default_chain_keep_rates(corpus)


def print_default_chain_keep_rates(corpus: dict[str, list[str]]) -> None:
    """Share of each language's translated text that corpusmill's default text chain keeps (good prose
    in every language should pass; English-only rules must not destroy CJK)."""
    from collections import Counter

    from pipeline.config import config_from_dict
    from pipeline.curate.filters.base import apply_filters
    from pipeline.curate.filters.chain import filters_for_source
    from pipeline.records import Document, Drop

    config = config_from_dict({"sources": [{"name": "docs", "paths": ["unused"]}]})
    chain = filters_for_source(config, config.sources[0])
    print("default text chain on the same translated text (documents joined in fives, ~1500 chars):")
    for lang, docs in corpus.items():
        joined = ["\n".join(docs[i : i + 5]) for i in range(0, len(docs) - 4, 5)]
        results = [apply_filters(chain, Document(f"{lang}/{i}", t, "docs", {})) for i, t in enumerate(joined)]
        reasons = Counter(r.reason for r in results if isinstance(r, Drop))
        kept = sum(not isinstance(r, Drop) for r in results) / len(results)
        print(f"  {lang:<3} kept {kept:6.1%}  top drop reasons: {dict(reasons.most_common(2))}")


if __name__ == "__main__":
    main()
