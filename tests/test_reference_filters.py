"""``filters.compat: datatrove`` (and C4, datatrove's in both modes) against datatrove's own
verdicts, recorded by ``bench/datatrove_reference.py`` (datatrove and spaCy in their own
virtualenv) on English prose: Python docstrings, licence texts, generated web-like and news-like pages."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.curate.filters.base import Rejection
from pipeline.curate.filters.rules.c4 import C4Quality
from pipeline.curate.filters.rules.reference import _WORD_TOKEN, PUNCTUATION, ReferenceFineWebQuality, ReferenceGopherQuality, ReferenceGopherRepetition, tokens_with_letter
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
    "lorem_ipsum": "c4_lorem_ipsum", "curly_bracket": "c4_curly_bracket", "too_few_sentences": "c4_too_few_sentences",
}
FILTERS = {"gopher_quality": ReferenceGopherQuality(), "gopher_repetition": ReferenceGopherRepetition(), "fineweb": ReferenceFineWebQuality(),
           "c4": C4Quality()}


def rows() -> list[dict]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def verdict(name: str, text: str) -> str | None:
    result = FILTERS[name](Document("t/0", text, "t", {"language": "en"}))
    return result.reason if isinstance(result, Rejection) else None


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("split", ["dev", "test"])
def test_reference_mode_agrees_with_datatrove(name, split):
    """Keep/drop agreement ≥ 99% per filter, on the tuning rows and on held-out rows alike; a
    disagreement would show here with its text."""
    chosen = [r for r in rows() if r["split"] == split]
    assert len(chosen) >= 250 and {r["kind"] for r in chosen} == {"docstring", "licence", "web", "news"}
    verdicts = [(r, verdict(name, r["text"])) for r in chosen]
    agree = [(r[name] is None) == (mine is None) for r, mine in verdicts]
    assert sum(agree) / len(agree) >= 0.99, [(r[name], mine, r["text"][:200]) for (r, mine), ok in zip(verdicts, agree) if not ok][:5]
    same_reason = [REASONS[r[name]] == mine for r, mine in verdicts if r[name] is not None and mine is not None]
    assert sum(same_reason) / max(len(same_reason), 1) >= 0.99
    kept = sum(r[name] is None for r in chosen)
    assert 0 < kept < len(chosen)  # the fixture has both verdicts for every filter


def test_c4_keeps_the_lines_datatrove_keeps():
    """C4 rewrites what it keeps: the kept text equals datatrove's, character for character."""
    kept = [r for r in rows() if r["c4"] is None]
    assert len(kept) > 500 and sum(r["c4_text"] != r["text"] for r in kept) > 100
    for r in kept:
        result = C4Quality()(Document("t/0", r["text"], "t", {"language": "en"}))
        assert (r["text"] if result is None else result.text) == r["c4_text"]


def test_words_and_sentences_are_spacys_on_every_fixture_document():
    """spaCy's words (their SHA-1, as datatrove splits them) and sentence counts, recorded from spaCy
    itself, equal ours on every document."""
    from pipeline.curate.filters.spacy_english import spacy_sentence_count, spacy_words

    for r in rows():
        assert hashlib.sha1("\0".join(spacy_words(r["text"])).encode()).hexdigest() == r["spacy_words_sha1"], r["text"][:200]
        assert spacy_sentence_count(r["text"]) == r["spacy_sentences"], r["text"][:200]


def test_sentences_are_spacys_sentences():
    """Sentence counts spaCy 3.8's sentencizer gives (recorded through datatrove's split_into_sentences):
    abbreviations end none, dotted names split, whitespace runs start one, ellipses end none."""
    from pipeline.curate.filters.spacy_english import spacy_sentence_count

    assert spacy_sentence_count('Mr. Smith went to Washington. He said "hi." Then left!  Really?! Yes... maybe') == 5
    assert spacy_sentence_count("Use asyncio.Future here. (E.g. this) ok") == 3
    assert spacy_sentence_count("One.\tTwo . \t Three") == 3
    assert spacy_sentence_count("Wait — what? Really?! Yes.") == 3
    assert spacy_sentence_count("") == 0


def test_reference_words_are_spacys_tokens():
    """Tokens spaCy 3.8's blank English pipeline gives for this text (recorded from spaCy itself):
    contractions, abbreviations, URLs, hyphen and slash infixes, emoticon-like special cases."""
    from pipeline.curate.filters.spacy_english import spacy_words

    text = "Don't stop-believing, e.g. U.S. Mr. Smith's $5.00 (see https://x.org/a?b=1) ... well--known \"quotes\" 3.14 A/B tests; end.\n\nNew  para"
    assert list(spacy_words(text)) == [
        "Do", "n't", "stop", "-", "believing", ",", "e.g.", "U.S.", "Mr.", "Smith", "'s", "$", "5.00", "(", "see", "https://x.org/a?b=1", ")",
        "...", "well", "--", "known", '"', "quotes", '"', "3.14", "A", "/", "B", "tests", ";", "end", ".", "New", "para"]
    assert list(spacy_words("Traceback (most recent call last):")) == ["Traceback", "(", "most", "recent", "call", "last", "):"]


def test_compat_selects_the_reference_rules_and_explain_shows_both_modes(tmp_path, capsys):
    import yaml

    from pipeline.cli import main
    from pipeline.config import config_from_dict
    from pipeline.curate.filters.chain import filters_for_source

    data = {"sources": [{"name": "s", "paths": ["x.jsonl"]}], "filters": {"compat": "datatrove"}}
    config = config_from_dict(data)
    names = [type(f).__name__ for f in filters_for_source(config, config.sources[0])]
    assert {"ReferenceGopherQuality", "ReferenceGopherRepetition", "ReferenceFineWebQuality"} <= set(names)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**data, "filters": {"compat": "none"}}))
    text = tmp_path / "doc.txt"
    prose = "The river and the valley, with its old stone bridge, have seen many travellers pass. " * 8
    text.write_text(prose)
    assert main(["filters", "explain", str(tmp_path / "c.yaml"), "--text", str(text)]) == 0
    out = capsys.readouterr().out
    assert "filters.compat: none" in out and out.count("compat: datatrove") == 3 and "thresholds: min_doc_words=50" in out
    default_alpha = next(line for line in out.splitlines() if line.strip().startswith("GopherQuality"))
    reference_alpha = next(line for line in out.splitlines() if "compat: datatrove" in line and "hash_word_ratio" in line)
    assert "alpha_words_ratio=1," in default_alpha and "alpha_words_ratio=0.8" in reference_alpha  # punctuation tokens count in datatrove


@given(st.lists(st.text(alphabet=st.sampled_from(sorted(PUNCTUATION) + list("abXY09²½Ⅻ一_é’")), min_size=1, max_size=5), min_size=1, max_size=8))
def test_word_and_letter_patterns_are_datatroves_definitions(tokens):
    """The regexes over one token a line equal datatrove's per-token loops: a word has a character
    outside its punctuation set; a token with a letter has one that ``str.isalpha``."""
    one_per_line = "\n".join(tokens)
    assert _WORD_TOKEN.findall(one_per_line) == [w for w in tokens if any(c not in PUNCTUATION for c in w)]
    assert tokens_with_letter(one_per_line) == sum(any(c.isalpha() for c in w) for w in tokens)


def test_suffix_window_finds_the_leftmost_suffix():
    """The suffix search looks at the last SUFFIX_WINDOW characters: every suffix rule but r"\\.\\.+$"
    is at most that wide (checked on the rules' parse), and the searches agree on tricky endings."""
    import random
    import re
    from re import _parser

    from pipeline.curate.filters import spacy_english
    from pipeline.curate.filters.text import REFERENCE_RULES

    branches = _parser.parse(REFERENCE_RULES["suffix"]).data[0][1][1]
    wide = [b for b in branches if b.getwidth()[1] > spacy_english.SUFFIX_WINDOW]
    assert [str(list(b)) for b in wide] == [str(list(_parser.parse(r"\.\.+$")))]
    full = re.compile(REFERENCE_RULES["suffix"]).search
    rng = random.Random(3)
    alphabet = list("aZ9.…'\")%°Fkm-+$€s") + ["km", "'s", "..."]
    for _ in range(20000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        mine, theirs = spacy_english._suffix_match(s), full(s)
        assert (mine and mine.span()) == (theirs and theirs.span()), s


@pytest.mark.slow
def test_filter_modes_bench_prints_the_readme_figures():
    """``python bench/filter_modes.py`` (the README's agreement table and per-rule changes) runs as written."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "bench/filter_modes.py"], cwd=Path(__file__).parent.parent, capture_output=True, text=True, check=True).stdout
    assert "1200 (100.0%)" in out and "spaCy's words equal on 1200 of 1200 documents, its sentence counts on 1200" in out
    assert "gopher_below_alpha_threshold     kept by default only: 326" in out
