"""Normalize, the minimum-length filter and exact-dedup keeper choice, without Beam."""
from pipeline.dedup.exact import split_duplicates
from pipeline.documents import Document, Drop
from pipeline.filters.base import apply_filters
from pipeline.filters.length import MinLength
from pipeline.normalize import normalize_document, normalize_text


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


def test_exact_dedup_keeper_is_priority_then_id():
    group = [doc("web/b", "t", "web"), doc("code/z", "t", "code"), doc("web/a", "t", "web")]
    keeper, drops = split_duplicates({"web": 1, "code": 0}, group)
    assert keeper.id == "code/z"
    assert sorted((d.id, d.detail, d.reason) for d in drops) == [("web/a", "code/z", "exact_duplicate"), ("web/b", "code/z", "exact_duplicate")]
    keeper, _ = split_duplicates({}, list(reversed(group)))
    assert keeper.id == "code/z"  # same priority: smallest id
