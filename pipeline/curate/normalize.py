"""Text normalization that never changes meaning: NFC, one newline style, no control characters."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, TypeVar

from pipeline.records import DeadLetter, Document, Drop, Repository, Stage

R = TypeVar("R", bound=Document | Drop | DeadLetter | Repository)

# C0/C1 control characters except \t and \n (\r is folded into \n first), and DEL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def normalize_text(text: str) -> str:
    """NFC, ``\\r\\n``/``\\r`` → ``\\n``, control characters and a leading BOM removed, lone surrogates → U+FFFD."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
        text = unicodedata.normalize("NFC", text.removeprefix("\ufeff"))
    return text


def _without_surrogates(value: Any) -> Any:
    """``value`` with lone surrogates in every string (nested in dicts and lists) replaced by U+FFFD."""
    if isinstance(value, str):
        return value if value.isascii() else _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_surrogates(v) for v in value)
    return value


def repair_fields(record: R) -> tuple[R, bool]:
    """A record whose id, meta values, paths and messages hold no lone surrogate (they cannot be
    written as UTF-8), and whether anything was replaced; a document's text is ``normalize_text``'s."""
    if isinstance(record, Document):
        repaired: Any = record._replace(id=_without_surrogates(record.id), meta=_without_surrogates(record.meta))
    elif isinstance(record, Repository):
        files = tuple(repair_fields(f)[0] for f in record.files)
        repaired = record._replace(name=_without_surrogates(record.name), location=_without_surrogates(record.location), files=files)
    else:
        repaired = type(record)(*_without_surrogates(tuple(record)))
    return repaired, repaired != record


def normalize_document(doc: Document) -> Document | Drop:
    """A new document with normalized text; one that normalizes to blank is dropped as ``empty``."""
    text = normalize_text(doc.text)
    if not text.strip():
        return Drop(doc.id, doc.source, Stage.NORMALIZE, "empty", str(len(doc.text)))
    return doc._replace(text=text)
