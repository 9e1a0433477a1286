"""How corpusmill's two filter modes compare with datatrove's verdicts, filter by filter.

    python bench/filter_modes.py                                  # the test fixture
    python bench/filter_modes.py --verdicts /tmp/heldout.jsonl.gz  # a held-out corpus, recorded by
                                                                   # bench/datatrove_reference.py --files

Prints, per filter, the keep/drop agreement of ``filters.compat: datatrove`` with datatrove (and of
the default mode), then the verdicts the default mode changes, by the rule that decided: "default
only" counts documents the default keeps and datatrove drops (under datatrove's reason), "datatrove
only" the reverse (under the default's reason). These are the figures of the README's
filter-definitions table.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.curate.filters.base import Rejection
from pipeline.curate.filters.registry import compat_modes, filter_class
from pipeline.curate.filters.rules.c4 import C4Quality
from pipeline.curate.filters.spacy_english import spacy_sentence_count, spacy_words
from pipeline.records import Document
from bench.environment import print_installed_set  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "datatrove_verdicts.jsonl.gz"
FILTER_NAMES = ("gopher_quality", "gopher_repetition", "fineweb")


def filters_of(mode: str) -> dict:
    return {**{name: filter_class(name, mode)() for name in FILTER_NAMES}, "c4": C4Quality()}


def reason(check, text: str) -> str | None:
    result = check(Document("t/0", text, "t", {"language": "en"}))
    return result.reason if isinstance(result, Rejection) else None


def c4_text(text: str) -> str:
    result = C4Quality()(Document("t/0", text, "t", {"language": "en"}))
    return text if result is None else result.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verdicts", default=str(FIXTURE), help="datatrove's verdicts (jsonl.gz from bench/datatrove_reference.py)")
    args = parser.parse_args()
    with gzip.open(args.verdicts, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    modes = {mode: filters_of(mode) for mode in compat_modes()}
    print(f"{len(rows)} documents ({', '.join(f'{k} {n}' for k, n in sorted(Counter(r['kind'] for r in rows).items()))})")
    print(f"{'filter':<18} {'datatrove keeps':>15} " + " ".join(f"{'agree, ' + m:>18}" for m in modes))
    changes: dict[str, Counter] = {}
    for name in FILTER_NAMES + ("c4",):
        theirs = [r[name] for r in rows]
        mine = {m: [reason(checks[name], r["text"]) for r in rows] for m, checks in modes.items()}
        agree = {m: sum((a is None) == (b is None) for a, b in zip(theirs, v)) for m, v in mine.items()}
        print(f"{name:<18} {sum(t is None for t in theirs):>15} " + " ".join(f"{agree[m]:>12} ({agree[m] / len(rows):.1%})" for m in modes))
        for t, d in zip(theirs, mine["none"]):
            if (t is None) != (d is None):
                changes.setdefault(name, Counter())[("default only", t) if d is None else ("datatrove only", d)] += 1
    kept_by_c4 = [r for r in rows if r["c4"] is None]
    same_text = sum(c4_text(r["text"]) == r["c4_text"] for r in kept_by_c4)
    print(f"C4's kept text equals datatrove's on {same_text} of the {len(kept_by_c4)} documents datatrove keeps")
    words = sum(hashlib.sha1("\0".join(spacy_words(r["text"])).encode()).hexdigest() == r["spacy_words_sha1"] for r in rows)
    sentences = sum(spacy_sentence_count(r["text"]) == r["spacy_sentences"] for r in rows)
    print(f"spaCy's words equal on {words} of {len(rows)} documents, its sentence counts on {sentences}")
    print("\nverdicts the default mode changes, by the rule that decided:")
    for name, counts in changes.items():
        for (side, rule), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            print(f"  {name:<18} {rule:<32} kept by {side}: {n}")


if __name__ == "__main__":
    print_installed_set()
    main()
