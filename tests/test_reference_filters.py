"""``filters.compat: datatrove`` against datatrove's own verdicts, recorded by
``bench/datatrove_reference.py`` (datatrove and spaCy in their own virtualenv) on English prose:
Python docstrings, licence texts and generated web-like pages."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pipeline.curate.filters.reference import ReferenceFineWebQuality, ReferenceGopherQuality, ReferenceGopherRepetition
from pipeline.records import Document

FIXTURE = Path(__file__).parent / "data" / "datatrove_verdicts.jsonl.gz"
# datatrove's reason → corpusmill's drop reason
REASONS = {
    "gopher_short_doc": "gopher_short_doc", "gopher_long_doc": "gopher_long_doc",
    "gopher_below_avg_threshold": "gopher_below_avg_word_length", "gopher_above_avg_threshold": "gopher_above_avg_word_length",
    "gopher_too_many_hashes": "gopher_hash_word_ratio", "gopher_too_many_ellipsis": "gopher_ellipsis_word_ratio",
    "gopher_too_many_bullets": "gopher_bullet_lines", "gopher_too_many_end_ellipsis": "gopher_ellipsis_lines",
    "gopher_below_alpha_threshold": "gopher_alpha_words", "gopher_enough_stop_words": "gopher_stop_words",
    "dup_para_frac": "gopher_dup_para_frac", "dup_para_char_frac": "gopher_dup_para_char_frac",
    "dup_line_frac": "gopher_dup_line_frac", "dup_line_char_frac": "gopher_dup_line_char_frac",
    **{f"top_{n}_gram": f"gopher_top_{n}_gram" for n in (2, 3, 4)}, **{f"duplicated_{n}_n_grams": f"gopher_dup_{n}_gram" for n in range(5, 11)},
    "line_punct_ratio": "fineweb_line_punct_ratio", "short_line_ratio": "fineweb_short_line_ratio",
    "char_dup_ratio": "fineweb_dup_line_char_ratio", "list_ratio": "fineweb_newline_word_ratio",
}
FILTERS = {"gopher_quality": ReferenceGopherQuality(), "gopher_repetition": ReferenceGopherRepetition(), "fineweb": ReferenceFineWebQuality()}


def rows() -> list[dict]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def verdict(name: str, text: str) -> str | None:
    rejection = FILTERS[name](Document("t/0", text, "t", {"language": "en"}))
    return None if rejection is None else rejection.reason


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("split", ["dev", "test"])
def test_reference_mode_agrees_with_datatrove(name, split):
    """Keep/drop agreement ≥ 99% per filter, on the tuning rows and on held-out rows alike; a
    disagreement would show here with its text."""
    chosen = [r for r in rows() if r["split"] == split]
    assert len(chosen) >= 250 and {r["kind"] for r in chosen} == {"docstring", "licence", "web"}
    verdicts = [(r, verdict(name, r["text"])) for r in chosen]
    agree = [(r[name] is None) == (mine is None) for r, mine in verdicts]
    assert sum(agree) / len(agree) >= 0.99, [(r[name], mine, r["text"][:200]) for (r, mine), ok in zip(verdicts, agree) if not ok][:5]
    same_reason = [REASONS[r[name]] == mine for r, mine in verdicts if r[name] is not None and mine is not None]
    assert sum(same_reason) / max(len(same_reason), 1) >= 0.99
    kept = sum(r[name] is None for r in chosen)
    assert 0 < kept < len(chosen)  # the fixture has both verdicts for every filter
