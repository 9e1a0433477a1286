"""The SentencePiece backend: BPE over Unicode characters with byte fallback.

Trade-off against the default byte-level BPE: SentencePiece merges characters and falls back to
byte tokens only for characters outside its vocabulary, so rare scripts cost several tokens per
character; byte-level BPE starts from all 256 bytes and never needs a fallback. Choose it for
compatibility with SentencePiece-based stacks; the artifact is ``tokenizer.model``.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import numpy as np
import sentencepiece as spm

from tokenizer.special_tokens import DEEPSEEK_V3, SpecialTokens

MAX_PIECE_BYTES = 4096  # SentencePiece skips longer "sentences": documents are fed line by line


def _lines(texts: Iterable[str]) -> Iterable[str]:
    for text in texts:
        for line in text.split("\n"):
            if line.strip():
                yield line[:MAX_PIECE_BYTES]


def train_sentencepiece(texts: Iterable[str], vocab_size: int, special_tokens: SpecialTokens = DEEPSEEK_V3, max_token_length: int = 16) -> bytes:
    """A BPE ``.model`` (bytes): identity normalization, split digits, byte fallback; specials take ids 1..6."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_lines(texts)),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        max_sentencepiece_length=max_token_length,
        input_sentence_size=0,  # the caller's sample is already bounded and deterministic
        shuffle_input_sentence=False,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        control_symbols=special_tokens.as_list(),
        hard_vocab_limit=False,
        num_threads=2,
        minloglevel=2,
    )
    return model.getvalue()


class SentencePieceEncoder:
    """The ``Encoder`` API over a SentencePiece model."""

    def __init__(self, model_proto: bytes, special_tokens: SpecialTokens = DEEPSEEK_V3):
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        self.special_tokens = special_tokens
        self.special_ids = {name: self.processor.piece_to_id(token) for name, token in special_tokens.as_dict().items()}
        self.eos_id = self.special_ids["eos"]
        self.pad_id = self.special_ids["pad"]
        self.vocab_size = self.processor.get_piece_size()
        self.fast = None

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [np.asarray(ids, dtype=np.int32) for ids in self.processor.encode(list(texts))]

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([text])[0]

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a piece stands for: ``<0xNN>`` byte-fallback pieces are that byte, ``▁`` is a space."""
        piece = self.processor.id_to_piece(int(token_id))
        if self.processor.is_byte(int(token_id)):
            return bytes([int(piece[3:5], 16)])
        return piece.replace("\u2581", " ").encode("utf-8")

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; special tokens (control symbols, which SentencePiece drops) are written out."""
        special = {i: self.processor.id_to_piece(i) for i in self.special_ids.values()}
        out: list[str] = []
        run: list[int] = []
        for i in (int(x) for x in ids):
            if i in special:
                out += [self.processor.decode(run), special[i]]
                run = []
            else:
                run.append(i)
        return "".join(out) + self.processor.decode(run)
