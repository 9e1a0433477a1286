"""DeepSeek-V3's token-boundary fix: randomly split tokens that join punctuation with line breaks.

A model that only ever sees ``.\\n`` as one token is biased on prompts that end without the line
break; replacing a share of such tokens by the tokens of their parts removes the bias. The
decoded text never changes: the parts decode to the same bytes.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import regex

from pipeline.records import stable_fractions, stable_hash
from tokenizer.encode import Encoder

_COMBINED = regex.compile(r"^( ?[\p{P}\p{S}]+)([\r\n]+)$")


class CombinedTokens(NamedTuple):
    """A vocabulary's combined tokens: token id → ids of its parts, and per token id whether it is one."""

    parts: dict[int, np.ndarray]
    is_combined: np.ndarray


def combined_token_parts(encoder: Encoder) -> CombinedTokens:
    """Every vocabulary token whose bytes are valid UTF-8 punctuation or symbols then line
    breaks, and whose parts' bytes are exactly its bytes, with its parts."""
    parts: dict[int, np.ndarray] = {}
    special = set(encoder.special_ids.values())
    for token_id in range(encoder.vocab_size):
        if token_id in special:
            continue
        raw = encoder.token_bytes(token_id)
        try:
            match = _COMBINED.match(raw.decode("utf-8"))
        except UnicodeDecodeError:  # part of a multi-byte character: never a candidate
            continue
        if match:
            replacement = np.concatenate(encoder.encode_batch([match.group(1), match.group(2)])).astype(np.int32)
            if len(replacement) > 1 and b"".join(encoder.token_bytes(t) for t in replacement.tolist()) == raw:
                parts[token_id] = replacement
    is_combined = np.zeros(encoder.vocab_size, bool)
    is_combined[list(parts)] = True
    return CombinedTokens(parts, is_combined)


def split_combined_tokens(ids: np.ndarray, combined: CombinedTokens, rate: float, seed: int, doc_id: str) -> tuple[np.ndarray, int]:
    """Replaces each combined token with probability ``rate`` (from seed, id and position)."""
    if rate <= 0 or not combined.parts:
        return ids, 0
    positions = np.flatnonzero(combined.is_combined[ids])
    if not len(positions):
        return ids, 0
    chosen = positions[stable_fractions(stable_hash(seed, "split-token", doc_id), positions) < rate].tolist()
    if not chosen:
        return ids, 0
    pieces, start = [], 0
    for i in chosen:
        pieces += [ids[start:i], combined.parts[int(ids[i])]]
        start = i + 1
    pieces.append(ids[start:])
    return np.concatenate(pieces).astype(np.int32, copy=False), len(chosen)
