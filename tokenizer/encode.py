"""The encoder API the build job uses: batches of texts to int32 id arrays, and back."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Tokenizer

from tokenizer.fast import FAST_PATTERN, build_fast_encoding, byte_decoder
from tokenizer.special_tokens import DEEPSEEK_V3, SpecialTokens

if TYPE_CHECKING:  # imported where it is used: sentencepiece loads only for a tokenizer.model
    import tiktoken

    from tokenizer.sentencepiece_backend import SentencePieceEncoder

HF_FILE = "tokenizer.json"  # the byte-level BPE (HF tokenizers)
SENTENCEPIECE_FILE = "tokenizer.model"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
MODEL_FILES = (HF_FILE, SENTENCEPIECE_FILE)  # a tokenizer directory holds one of these
ENCODER_FILES = (*MODEL_FILES, CONFIG_FILE)  # what loading an encoder reads


LOG = logging.getLogger(__name__)


_BYTE_OF_SYMBOL = byte_decoder()


class Encoder:
    """Wraps a trained ``tokenizers.Tokenizer`` with the special token ids the pipeline needs.

    Text is always text: special-token strings inside a document encode as ordinary characters,
    so no document can inject a control token. Encoding uses the tiktoken fast path when it
    reproduces ``tokenizer.json`` exactly on the probe set (``fast_pattern=None`` turns it off).
    """

    def __init__(self, tok: Tokenizer, special_tokens: SpecialTokens = DEEPSEEK_V3, fast_pattern: str | None = FAST_PATTERN):
        tok.encode_special_tokens = True
        self.tokenizer = tok
        self._added_ids = set(tok.get_added_tokens_decoder())
        self.special_tokens = special_tokens
        self.fast = None
        if fast_pattern is not None:
            self.fast, why = build_fast_encoding(tok, fast_pattern)
            if self.fast is None:
                LOG.warning("fast tokenizer path disabled, using HF tokenizers: %s", why)
        ids = {name: tok.token_to_id(token) for name, token in special_tokens.as_dict().items()}
        missing = [special_tokens.as_dict()[name] for name, i in ids.items() if i is None]
        if missing:
            raise ValueError(f"tokenizer lacks special tokens: {', '.join(missing)}")
        self.special_ids = {name: i for name, i in ids.items() if i is not None}
        self.eos_id = self.special_ids["eos"]
        self.pad_id = self.special_ids["pad"]
        self.vocab_size = tok.get_vocab_size()

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text (no special tokens added), as int32 arrays."""
        if self.fast is not None:
            return [_fast_ids(self.fast, text) for text in texts]
        encodings = self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int32) for e in encodings]

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([text])[0]

    def reference_ids(self, text: str) -> list[int]:
        """``tokenizer.json``'s own ids for ``text``: what the fast path must reproduce."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a token stands for: byte-level BPE symbols mapped back to bytes (an added
        token, such as a special token, is its text)."""
        token = self.tokenizer.id_to_token(int(token_id))
        if token is None:
            raise ValueError(f"token id {token_id} is not in the vocabulary")
        if int(token_id) in self._added_ids:
            return token.encode("utf-8")
        return bytes(_BYTE_OF_SYMBOL[c] for c in token)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``, special tokens included, so document boundaries stay visible."""
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)


def _fast_ids(encoding: tiktoken.Encoding, text: str) -> np.ndarray:
    """tiktoken's ids of ``text`` with special-token strings as ordinary text, straight into numpy
    (no Python int per token: 1.9× tiktoken's ``encode_ordinary_batch`` here); lone surrogates are
    replaced as ``encode_ordinary`` replaces them."""
    try:
        ids = encoding.encode_to_numpy(text, disallowed_special=())
    except UnicodeEncodeError:
        ids = encoding.encode_to_numpy(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"), disallowed_special=())
    return ids.astype(np.int32)


def load_directory(directory: str) -> Encoder | SentencePieceEncoder:
    """The encoder of a local tokenizer directory."""
    import os

    files = {}
    for name in ENCODER_FILES:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                files[name] = f.read()
    return load_encoder_files(files)


def load_encoder_files(files: dict[str, bytes]) -> Encoder | SentencePieceEncoder:
    """The encoder of a tokenizer directory's files: ``tokenizer.json`` (HF) or ``tokenizer.model`` (SentencePiece)."""
    from tokenizer.sentencepiece_backend import SentencePieceEncoder

    config = files.get(CONFIG_FILE)
    names = json.loads(config).get("corpusmill_special_tokens") if config else None
    special = SpecialTokens(**names) if names else DEEPSEEK_V3
    if HF_FILE in files:
        return Encoder(Tokenizer.from_str(files[HF_FILE].decode("utf-8")), special)
    if SENTENCEPIECE_FILE in files:
        return SentencePieceEncoder(files[SENTENCEPIECE_FILE], special)
    raise FileNotFoundError("a tokenizer directory needs tokenizer.json or tokenizer.model")
