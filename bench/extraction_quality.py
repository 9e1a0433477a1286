"""Main-text extraction quality and speed: each extractor on HTML pages whose clean text is known.

The pages are the Debian Reference's chapters, in English and its eight translations (Debian
packages ``debian-reference-XX``: one HTML page per chapter, with navigation headers and footers,
and the whole book's own plain-text rendering). Ground truth is that text. Tables are left out on both sides (the text renders them
as ASCII boxes whose cells wrap across lines, so no extractor's rows could match). Paragraphs are
compared on their words (lowercased, letters and digits only; every Han, Kana or Hangul character
a word, as Chinese and Japanese have no spaces): one is found when 80% of its word 3-grams occur
in the other side, so line wrapping and bullets do not count. Precision is the
share of extracted paragraphs (lines) found in the book, recall the share of the book's
paragraphs (blank-line blocks) found in the extracted text. Also prints MB/s of HTML on one core.

    python bench/extraction_quality.py [--debs DIR] [--languages en ja zh]
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import DEBIAN_REFERENCE_BOOKS, download_debian_reference, unpack_debian_reference  # noqa: E402
from pipeline.read.web import EXTRACTORS  # noqa: E402
from tokenizer.cjk import WORD_CHARS  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402

MIN_WORDS = 4  # shorter "paragraphs" (single words, labels) say little about extraction
MATCH = 0.8  # share of a paragraph's word 3-grams that must occur on the other side


def trigrams(text: str) -> set[str]:
    tokens = text.split()
    return {" ".join(tokens[i : i + 3]) for i in range(len(tokens) - 2)}


def found_in(paragraph: str, grams: set[str]) -> bool:
    own = trigrams(paragraph)
    return bool(own) and len(own & grams) >= MATCH * len(own)


_WORDS = re.compile(f"[{WORD_CHARS}]|[^\\W_{WORD_CHARS}]+")
BOOKS = DEBIAN_REFERENCE_BOOKS


def words(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def paragraphs(text: str, separator: str = r"\n\s*\n") -> list[str]:
    """Blocks between separators (the book: blank lines; extracted text: line breaks, as
    extractors put one paragraph on a line), each as its word string, long enough to judge."""
    blocks = [words(b) for b in re.split(separator, text)]
    return [b for b in blocks if len(b.split()) >= MIN_WORDS]


def debian_reference(debs: Path, book: str, work: Path) -> tuple[list[Path], str]:
    """(chapter HTML pages, the book's plain text) of one translation's package."""
    root, text = unpack_debian_reference(debs, book, work)
    pages = sorted(p for p in root.glob(f"*.{book}.html") if not p.name.startswith("index"))
    return pages, "\n".join(line for line in text.split("\n") if not re.match(r"\s*[|+]", line))  # table boxes out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debs", type=Path, default=None, help="a directory with debian-reference-XX_*.deb files (default: apt-get download them)")
    parser.add_argument("--languages", nargs="+", default=list(BOOKS), choices=list(BOOKS))
    args = parser.parse_args()
    print(f"{'language':<8} {'extractor':<12} {'pages':>5} {'paragraphs':>10} {'precision':>9} {'recall':>7} {'F1':>6} {'MB/s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        debs = args.debs or Path(tmp)
        if args.debs is None:
            download_debian_reference([BOOKS[lang] for lang in args.languages], tmp)
        for lang in args.languages:
            pages, book = debian_reference(debs, BOOKS[lang], Path(tmp))
            htmls = [re.sub(r"(?is)<table\b.*?</table>", "", p.read_text(encoding="utf-8")) for p in pages]
            evaluate(lang, htmls, book)


def evaluate(lang: str, htmls: list[str], book: str) -> None:
    truth_grams = trigrams(words(book))
    truth = paragraphs(book)
    size = sum(len(h.encode()) for h in htmls) / 1e6
    for name, extract in EXTRACTORS.items():
        try:
            started = time.perf_counter()
            extracted = [extract(h) for h in htmls]
            seconds = time.perf_counter() - started
        except ImportError:
            print(f"{lang:<8} {name:<12} not installed (pip install 'corpusmill[web]')")
            continue
        found = [p for text in extracted for p in paragraphs(text, r"\n")]
        extracted_grams = trigrams(" ".join(words(t) for t in extracted))
        precision = sum(found_in(p, truth_grams) for p in found) / max(len(found), 1)
        recall = sum(found_in(p, extracted_grams) for p in truth) / max(len(truth), 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        print(f"{lang:<8} {name:<12} {len(htmls):>5} {len(truth):>10,} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f} {size / seconds:>7.2f}", flush=True)


if __name__ == "__main__":
    print_installed_set()
    main()
