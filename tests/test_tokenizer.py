import json

import numpy as np
import pytest
from tokenizers import Tokenizer

from tests.conftest import paragraph_docs
from tokenizer import Encoder, load_directory, train_tokenizer
from tokenizer.fast import unicode_strings
from tokenizer.pretokenize import deepseek_v3_pre_tokenizer
from tokenizer.special_tokens import DEEPSEEK_V3
from tokenizer.train import save_tokenizer

SAMPLES = [
    "Hello, world!\nThe year 2024 had 366 days.",
    "数据管道处理中文文本。日本語のテキスト、カタカナ。",
    "def f(x):\n    return x.append(1)  # call\n",
    "emoji 🙂👍🏽 and combining e\u0301 marks, tabs\tand \x01 controls",
    "  leading spaces,\r\n windows newlines\r\n",
]


@pytest.fixture(scope="module")
def trained():
    return train_tokenizer(paragraph_docs(200) + SAMPLES * 20, vocab_size=700)


def test_special_tokens_take_the_first_ids(trained):
    encoder = Encoder(trained)
    assert encoder.special_ids == {"bos": 0, "eos": 1, "pad": 2, "fim_hole": 3, "fim_begin": 4, "fim_end": 5}
    assert 262 < trained.get_vocab_size() <= 700  # 6 special + 256 bytes + merges the data supports


@pytest.mark.parametrize("text", SAMPLES + ["", "x" * 100_000, "\x00\x7f\u2028\ufeff", "a" + "\U0001F600" * 50])
def test_round_trip(trained, text):
    encoder = Encoder(trained)
    assert encoder.decode(encoder.encode(text)) == text


def test_pre_tokenizer_splits_digits_and_isolates_cjk():
    pieces = [p for p, _ in deepseek_v3_pre_tokenizer().pre_tokenize_str("1234567 中文abc x.append")]
    assert pieces[:3] == ["123", "456", "7"]
    assert "ä¸Ńæĸĩ" in pieces  # the CJK run, byte-mapped, alone
    assert ".append" in pieces


def test_punctuation_newline_tokens_are_learned():
    tok = train_tokenizer(["x = f(a);\n" * 50, "end.\n" * 50, "ok!\n\n" * 50], vocab_size=300)
    assert any("Ċ" in t and t.strip("Ċ") and not t.strip("Ċ").isalnum() for t in tok.get_vocab())


def test_artifacts_load_with_tokenizers_and_keep_special_names(tmp_path, trained):
    save_tokenizer(trained, str(tmp_path))
    loaded = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert loaded.token_to_id(DEEPSEEK_V3.eos) == 1
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["eos_token"] == DEEPSEEK_V3.eos and config["tokenizer_class"] == "PreTrainedTokenizerFast"
    encoder = load_directory(str(tmp_path))
    assert encoder.encode(SAMPLES[0]).tolist() == Encoder(trained).encode(SAMPLES[0]).tolist()


def test_transformers_loads_the_directory_when_installed(tmp_path, trained):
    import transformers
    save_tokenizer(trained, str(tmp_path))
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert tok.eos_token == DEEPSEEK_V3.eos
    assert tok.decode(tok.encode(SAMPLES[2], add_special_tokens=False)) == SAMPLES[2]


def mixed_corpus() -> list[str]:
    """Code, prose and every script the pre-tokenizer treats specially, plus random code points."""
    import random
    import sysconfig
    from pathlib import Path

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(stdlib.glob("*.py"))[:60]]
    rng = random.Random(1)
    texts += SAMPLES * 3 + ["".join(chr(rng.randrange(0x20, 0x3100)) for _ in range(3000)) for _ in range(20)]
    return texts


def test_fast_path_gives_identical_ids_on_a_mixed_corpus(trained):
    encoder = Encoder(trained)
    assert encoder.fast is not None
    texts = mixed_corpus()
    fast = encoder.encode_batch(texts)
    slow = [e.ids for e in trained.encode_batch_fast(texts, add_special_tokens=False)]
    assert [f.tolist() for f in fast] == slow


def test_a_mismatched_pattern_is_detected_and_falls_back(trained, caplog):
    from tokenizer.fast import FAST_PATTERN, build_fast_encoding

    wrong = FAST_PATTERN.replace(r"[\r\n]*|", "|", 1)  # punctuation no longer takes its line breaks
    encoding, why = build_fast_encoding(trained, wrong)
    assert encoding is None and "differs from tokenizer.json" in why
    with caplog.at_level("WARNING"):
        encoder = Encoder(trained, fast_pattern=wrong)
    assert encoder.fast is None and "fast tokenizer path disabled" in caplog.text
    assert encoder.encode(SAMPLES[2]).tolist() == trained.encode(SAMPLES[2], add_special_tokens=False).ids


def test_a_lone_surrogate_encodes_as_the_replacement_character_like_tiktoken_does(trained):
    encoder = Encoder(trained)
    text = "a lone \ud800 surrogate"
    assert encoder.encode(text).tolist() == encoder.fast.encode_ordinary(text) == encoder.reference_ids("a lone \ufffd surrogate")


def test_special_token_text_in_documents_stays_text(trained):
    encoder = Encoder(trained)
    ids = encoder.encode(f"before {DEEPSEEK_V3.eos} after").tolist()
    assert encoder.eos_id not in ids
    assert encoder.decode(ids) == f"before {DEEPSEEK_V3.eos} after"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_round_trip_property(trained_for_property, text):
    encoder = trained_for_property
    ids = encoder.encode(text)
    assert encoder.decode(ids) == text
    assert ids.tolist() == encoder.tokenizer.encode(text, add_special_tokens=False).ids  # fast == HF


@pytest.fixture(scope="module")
def trained_for_property(trained):
    return Encoder(trained)


@pytest.fixture(scope="module")
def trained_on_all_of_unicode():
    return Encoder(train_tokenizer([s * 3 for s in unicode_strings(4000, seed=1)] + SAMPLES * 20, vocab_size=3000))


def test_fast_path_is_exact_over_the_whole_of_unicode(trained_on_all_of_unicode):
    encoder = trained_on_all_of_unicode
    assert encoder.fast is not None
    texts = unicode_strings(3000, seed=2) + ["a \u200b\u200b b", "x\u2060\ufeff\u202e\u2066y 12\ue000\U0010fffd", "\u0378\u0301\u0301 1",
        "\n\U000f1c76⓿1𒑓❮\U00104eab౬˃𝑈﮶.ー゜𑻵", "カタカナ・ひらがなー゛゜\u3040\u3097あ゠ア"]  # CJK runs re-split
    for text, fast in zip(texts, encoder.encode_batch(texts)):
        assert fast.tolist() == encoder.reference_ids(text), text


def test_fast_pattern_cuts_the_pieces_of_the_three_split_pre_tokenizer():
    """Vocabulary-independent: the single regex's pieces are HF's pieces, not just its ids. Run with
    the ``regex`` module; assigned code points only, as its Unicode tables are newer than HF's."""
    import re
    import unicodedata

    import regex

    from tokenizer.fast import FAST_PATTERN, byte_decoder
    from tokenizer.pretokenize import deepseek_v3_pre_tokenizer

    pattern = regex.compile("(?V1)" + re.sub(r"\\x\{([0-9A-F]+)\}", lambda m: "\\U%08X" % int(m.group(1), 16), FAST_PATTERN))
    pre_tokenizer, to_byte = deepseek_v3_pre_tokenizer(), byte_decoder()
    texts = ["".join(c for c in text if unicodedata.category(c) != "Cn") for text in unicode_strings(3000, seed=4)]
    for text in texts + ["ー゜ カタカナ・ひらがなー゛゜ あ゠ア", "a \u200b\u200b b ⓿1𒑓"]:
        expected = [bytes(to_byte[c] for c in piece).decode() for piece, _ in pre_tokenizer.pre_tokenize_str(text)]
        assert pattern.findall(text) == expected, text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_fast_path_property_on_a_unicode_vocabulary(trained_on_all_of_unicode, text):
    assert trained_on_all_of_unicode.encode(text).tolist() == trained_on_all_of_unicode.reference_ids(text)


def test_the_build_guard_names_a_document_the_fast_path_gets_wrong(trained):
    from pipeline.assemble.tokenize import FastPathMismatch, check_fast_path
    from pipeline.records import Document

    encoder = Encoder(trained)
    docs = [Document(f"s/{i}", f"text number {i}", "s", {}) for i in range(50)]
    assert check_fast_path(encoder, docs, 1.0, seed=3) == 50

    class OffByOne:
        def encode_to_numpy(self, text, disallowed_special=()):
            return np.asarray(encoder.reference_ids(text), np.uint32) + 1

    encoder.fast = OffByOne()
    with pytest.raises(FastPathMismatch, match=r"document s/\d+: the fast encoder differs from tokenizer.json at token 0"):
        check_fast_path(encoder, docs, 0.2, seed=3)


def test_sentencepiece_backend_round_trips_and_keeps_special_ids(tmp_path):
    from tokenizer.sentencepiece_backend import (
        SentencePieceEncoder,
        train_sentencepiece,
    )
    from tokenizer.train import sentencepiece_artifact_files

    model = train_sentencepiece(paragraph_docs(200) + SAMPLES * 20, vocab_size=600)
    assert train_sentencepiece(paragraph_docs(200) + SAMPLES * 20, vocab_size=600) == model  # deterministic
    encoder = SentencePieceEncoder(model)
    assert encoder.special_ids == {"bos": 1, "eos": 2, "pad": 3, "fim_hole": 4, "fim_begin": 5, "fim_end": 6}
    for text in SAMPLES + ["1234567", "new\n\nlines\r\n"]:
        assert encoder.decode(encoder.encode(text)) == text
    assert encoder.decode([encoder.eos_id, *encoder.encode("ab").tolist()]) == DEEPSEEK_V3.eos + "ab"
    for name, data in sentencepiece_artifact_files(model).items():
        (tmp_path / name).write_bytes(data)
    assert load_directory(str(tmp_path)).encode(SAMPLES[0]).tolist() == encoder.encode(SAMPLES[0]).tolist()


def test_tokenizer_cli_train_encode_decode_stats_compare(tmp_path, capsys, monkeypatch):
    import io

    from pipeline.cli import main

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"text": t}) for t in paragraph_docs(150) + SAMPLES * 10))
    for backend, name in (("hf", "a"), ("sentencepiece", "b")):
        assert main(["tokenizer", "train", "--input", str(corpus), "--output", str(tmp_path / name), "--vocab-size", "500", "--backend", backend]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(SAMPLES[0]))
    assert main(["tokenizer", "encode", "--tokenizer", str(tmp_path / "a")]) == 0
    ids = capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(ids))
    assert main(["tokenizer", "decode", "--tokenizer", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().out == SAMPLES[0]
    assert main(["tokenizer", "stats", "--tokenizer", str(tmp_path / "a"), str(corpus)]) == 0
    assert "corpus.jsonl" in capsys.readouterr().out
    assert main(["tokenizer", "compare", "--tokenizer", str(tmp_path / "a"), "--tokenizer", str(tmp_path / "b"), str(corpus), "--by", "language"]) == 0
    out = capsys.readouterr().out
    assert "bytes/token A" in out and "\nen " in out
