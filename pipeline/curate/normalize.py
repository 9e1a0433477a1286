"""Text normalization that never changes meaning: NFC, one newline style, no control characters."""
from __future__ import annotations

import re
import unicodedata

from pipeline.records import Document, Drop

STAGE = "normalize"
# C0/C1 control characters except \t and \n (\r is folded into \n first), and DEL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Kana, Han (with extension A and compatibility ideographs) and Hangul: scripts written without
# spaces, where every character counts as a word (filters, shingling).


def normalize_text(text: str) -> str:
    """NFC, ``\\r\\n``/``\\r`` → ``\\n``, control characters and a leading BOM removed, lone surrogates → U+FFFD."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
        text = unicodedata.normalize("NFC", text.removeprefix("\ufeff"))
    return text


def normalize_document(doc: Document) -> Document | Drop:
    """A new document with normalized text; one that normalizes to blank is dropped as ``empty``."""
    text = normalize_text(doc.text)
    if not text.strip():
        return Drop(doc.id, doc.source, STAGE, "empty", str(len(doc.text)))
    return doc._replace(text=text)
