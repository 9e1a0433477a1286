"""Fill-in-the-middle at the document level, before packing (DeepSeek-V3; Bavarian et al. 2022).

With probability ``rate`` (from ``hash(seed, id)``) a document is cut at two uniform random
character positions into prefix/middle/suffix and laid out as
PSM ``<fim_begin> prefix <fim_hole> suffix <fim_end> middle <eos>`` or, with probability
``spm_rate`` among those, SPM ``<fim_begin> <fim_hole> suffix <fim_end> prefix middle <eos>``.
Cuts are between characters (code points), so no UTF-8 sequence is ever split. In a repository
document both cuts fall inside one file (``fim.within_files``), so a hole never spans two files.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from pipeline.records import stable_fraction, stable_hash
from tokenizer.encode import Encoder

FimKind = Literal["psm", "spm", "plain", "too_short"]
MIN_CHARS = 2


def fim_cuts(seed: int, doc_id: str, length: int, spans: Sequence[tuple[int, int]] = ()) -> tuple[int, int]:
    """Two uniform cut positions in ``[0, length]``, sorted. With ``spans`` (the files of a
    repository document) both fall inside one span, picked with probability proportional to its
    length, so the middle never crosses a file marker."""
    start, end = 0, length
    if spans:
        total = sum(e - s for s, e in spans)
        position = stable_hash(seed, "fim-file", doc_id) % max(total, 1)
        for start, end in spans:
            if position < end - start:
                break
            position -= end - start
    a = start + stable_hash(seed, "fim-cut-a", doc_id) % (end - start + 1)
    b = start + stable_hash(seed, "fim-cut-b", doc_id) % (end - start + 1)
    return (a, b) if a <= b else (b, a)


def fim_kind(seed: int, doc_id: str, text: str, rate: float, spm_rate: float) -> FimKind:
    if stable_fraction(seed, "fim", doc_id) >= rate:
        return "plain"
    if len(text) < MIN_CHARS:
        return "too_short"
    return "spm" if stable_fraction(seed, "fim-spm", doc_id) < spm_rate else "psm"


def fim_ids(encoder: Encoder, kind: Literal["psm", "spm"], text: str, cuts: tuple[int, int]) -> np.ndarray:
    """The FIM token layout of ``text`` (EOS included)."""
    a, b = cuts
    prefix, middle, suffix = encoder.encode_batch([text[:a], text[a:b], text[b:]])
    special = encoder.special_ids
    tok = lambda name: np.asarray([special[name]], dtype=np.int32)  # noqa: E731
    if kind == "psm":
        parts = [tok("fim_begin"), prefix, tok("fim_hole"), suffix, tok("fim_end"), middle, tok("eos")]
    else:
        parts = [tok("fim_begin"), tok("fim_hole"), suffix, tok("fim_end"), prefix, middle, tok("eos")]
    return np.concatenate(parts).astype(np.int32, copy=False)


def document_text(encoder: Encoder, ids: Sequence[int]) -> str:
    """The original text of one document's ids (EOS last), undoing a PSM or SPM layout."""
    ids = list(ids)
    special = encoder.special_ids
    if ids and ids[-1] == special["eos"]:
        ids = ids[:-1]
    if not ids or ids[0] != special["fim_begin"]:
        return encoder.decode(ids)
    hole, end = ids.index(special["fim_hole"]), ids.index(special["fim_end"])
    if hole == 1:  # SPM: <begin><hole> suffix <end> prefix middle
        return encoder.decode(ids[end + 1 :]) + encoder.decode(ids[2:end])
    return encoder.decode(ids[1:hole]) + encoder.decode(ids[end + 1 :]) + encoder.decode(ids[hole + 1 : end])
