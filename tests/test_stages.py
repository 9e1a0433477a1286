"""Normalize, the minimum-length filter and the per-document curate step, without Beam."""
from pipeline.curate.analyze import curate_document
from pipeline.curate.filters.base import apply_filters
from pipeline.curate.filters.rules.length import MinLength
from pipeline.curate.normalize import normalize_document, normalize_text
from pipeline.records import DeadLetter, Document, Drop


def doc(doc_id: str, text: str, source: str = "web") -> Document:
    return Document(doc_id, text, source, {})


def test_normalize_newlines_controls_bom_nfc_and_surrogates():
    assert normalize_text("\ufeffa\r\nb\rc\x00d\x1be\tf\x7f") == "a\nb\ncde\tf"
    assert normalize_text("cafe\u0301") == "caf\u00e9"
    assert normalize_text("x\ud800y") == "x\ufffdy"
    assert normalize_text("plain ascii\n") == "plain ascii\n"


def test_normalize_never_mutates_and_drops_blank():
    original = doc("web/1", "a\r\nb")
    assert normalize_document(original).text == "a\nb" and original.text == "a\r\nb"
    drop = normalize_document(doc("web/2", " \x00\r\n "))
    assert isinstance(drop, Drop) and drop.reason == "empty" and drop.stage == "normalize"


def test_min_length_just_inside_and_outside():
    check = MinLength(min_chars=10)
    assert check(doc("a", "x" * 10)) is None
    rejection = check(doc("b", "  " + "x" * 9 + "  "))
    assert rejection.reason == "too_short" and rejection.detail == "9 chars < 10"


def test_apply_filters_first_rejection_wins():
    result = apply_filters([MinLength(100), MinLength(5)], doc("a", "short text"))
    assert isinstance(result, Drop) and result.detail.endswith("< 100")
    assert apply_filters([MinLength(5)], doc("a", "long enough")) == doc("a", "long enough")


def test_curate_document_normalizes_filters_and_dead_letters_exceptions():
    def broken(_: Document, signals: object = None):
        raise ValueError("boom")

    assert curate_document(doc("web/1", "a\r\nlong enough"), lambda d, _=None: apply_filters([MinLength(5)], d)) == (doc("web/1", "a\nlong enough"), 0)
    assert curate_document(doc("web/2", "\x00 "), broken)[0].reason == "empty"  # normalize drops before the filters run
    dead, _ = curate_document(doc("web/3", "fine text"), broken)
    assert isinstance(dead, DeadLetter) and dead.stage == "filter" and dead.error.startswith("ValueError: boom")
