"""Byte-level BPE training with HF ``tokenizers`` and the tokenizer artifact files."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from tokenizer.encode import CONFIG_FILE, HF_FILE, SENTENCEPIECE_FILE, SPECIAL_TOKENS_FILE
from tokenizer.pretokenize import deepseek_v3_pre_tokenizer
from tokenizer.special_tokens import DEEPSEEK_V3, SpecialTokens


def new_tokenizer() -> Tokenizer:
    """An untrained DeepSeek-V3-style tokenizer: byte-level BPE, no normalizer."""
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = deepseek_v3_pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    return tok


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    min_frequency: int = 2,
    max_token_length: int | None = 32,
    special_tokens: SpecialTokens = DEEPSEEK_V3,
    length: int | None = None,
) -> Tokenizer:
    """Trains on ``texts``; special tokens take the first ids, then all 256 byte symbols."""
    tok = new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        max_token_length=max_token_length,
        special_tokens=special_tokens.as_list(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=length)
    return tok


def _config_files(special_tokens: SpecialTokens, model_max_length: int, tokenizer_class: str | None) -> dict[str, bytes]:
    special_map = {"bos_token": special_tokens.bos, "eos_token": special_tokens.eos, "pad_token": special_tokens.pad}
    config = {
        **({"tokenizer_class": tokenizer_class} if tokenizer_class else {}),
        "model_max_length": model_max_length,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "legacy": False,
        **special_map,
        "additional_special_tokens": [special_tokens.fim_hole, special_tokens.fim_begin, special_tokens.fim_end],
        "corpusmill_special_tokens": special_tokens.as_dict(),
    }
    as_json = lambda obj: (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")  # noqa: E731
    return {
        CONFIG_FILE: as_json(config),
        SPECIAL_TOKENS_FILE: as_json({**special_map, "additional_special_tokens": config["additional_special_tokens"]}),
    }


def artifact_files(tok: Tokenizer, special_tokens: SpecialTokens = DEEPSEEK_V3, model_max_length: int = 4096) -> dict[str, bytes]:
    """The files of a tokenizer directory that ``tokenizers`` and ``transformers`` both load."""
    return {HF_FILE: tok.to_str(pretty=True).encode("utf-8"), **_config_files(special_tokens, model_max_length, "PreTrainedTokenizerFast")}


def sentencepiece_artifact_files(model: bytes, special_tokens: SpecialTokens = DEEPSEEK_V3, model_max_length: int = 4096) -> dict[str, bytes]:
    """``tokenizer.model`` and the config files (no ``tokenizer.json``: see sentencepiece_backend)."""
    return {SENTENCEPIECE_FILE: model, **_config_files(special_tokens, model_max_length, None)}


def save_tokenizer(tok: Tokenizer, directory: str, special_tokens: SpecialTokens = DEEPSEEK_V3, model_max_length: int = 4096) -> None:
    """Writes the artifact files to a local directory."""
    os.makedirs(directory, exist_ok=True)
    for name, data in artifact_files(tok, special_tokens, model_max_length).items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
