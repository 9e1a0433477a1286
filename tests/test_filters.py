"""Each heuristic filter's published thresholds, pinned just inside and just outside."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import config_from_dict
from pipeline.config_checks import ConfigError
from pipeline.curate.filters.base import Rejection, apply_filters
from pipeline.curate.filters.chain import SourceFilterChains, explain, filters_for_source
from pipeline.curate.filters.decontam import Decontaminate, DecontaminationIndex
from pipeline.curate.filters.pii import PiiRedactor
from pipeline.curate.filters.registry import rule_filters
from pipeline.curate.filters.rules.c4 import C4Quality
from pipeline.curate.filters.rules.code import CodeQuality
from pipeline.curate.filters.rules.fineweb import FineWebQuality
from pipeline.curate.filters.rules.gopher import GopherQuality, GopherRepetition
from pipeline.curate.filters.rules.language import LanguageFilter
from pipeline.records import Document, Drop

VOCAB = ("the river runs with quiet water and the mountain holds snow that melts to feed valleys of green farms "
         "where people have built homes with stone walls and wooden roofs beside old roads").split()


def doc(text: str, language: str | None = None) -> Document:
    return Document("t/1", text, "t", {"language": language} if language else {})


def prose(n_words: int, start: int = 0) -> str:
    """English-like prose: sentences of ten words from a fixed vocabulary; ``start`` picks another stretch."""
    out = [VOCAB[(i * 7 + i // len(VOCAB)) % len(VOCAB)] for i in range(start, start + n_words)]
    return " ".join(w + ("." if i % 10 == 9 else "") for i, w in enumerate(out))


def reason(result) -> str | None:
    return result.reason if isinstance(result, Rejection) else None


def test_gopher_word_count_bounds():
    check = GopherQuality()
    assert reason(check(doc(prose(50)))) is None
    assert reason(check(doc(prose(49)))) == "gopher_short_doc"
    assert reason(GopherQuality(max_doc_words=60)(doc(prose(61)))) == "gopher_long_doc"


def test_gopher_average_word_length():
    base = ["the", "and"] + ["abc"] * 58
    assert reason(GopherQuality()(doc(" ".join(base)))) is None  # mean exactly 3.0
    assert reason(GopherQuality()(doc(" ".join(base[:-1] + ["ab"])))) == "gopher_below_avg_word_length"
    long_words = ["the", "and"] + ["abcdefghij"] * 56 + ["abcdefghijklmnopq"] * 2  # mean exactly 10.0
    assert reason(GopherQuality()(doc(" ".join(long_words)))) is None
    assert reason(GopherQuality()(doc(" ".join(long_words[:-1] + ["abcdefghijklmnopqr"])))) == "gopher_above_avg_word_length"


def test_gopher_symbols_bullets_ellipsis_alpha_stop_words():
    words = prose(90).split()
    assert reason(GopherQuality()(doc(" ".join(words + ["#"] * 10)))) is None  # 10/100 = 0.1
    assert reason(GopherQuality()(doc(" ".join(words + ["#"] * 11)))) == "gopher_hash_word_ratio"
    lines = [prose(12, 12 * i) for i in range(10)]
    bulleted = ["- " + l for l in lines[:9]] + [lines[9]]
    assert reason(GopherQuality()(doc("\n".join(bulleted)))) is None  # 9/10 bullets
    assert reason(GopherQuality()(doc("\n".join("- " + l for l in lines)))) == "gopher_bullet_lines"
    ellipsis = [l + "..." if i < 3 else l for i, l in enumerate(lines)]
    assert reason(GopherQuality(max_symbol_word_ratio=1)(doc("\n".join(ellipsis)))) is None  # 3/10
    ellipsis = [l + "..." if i < 4 else l for i, l in enumerate(lines)]
    assert reason(GopherQuality(max_symbol_word_ratio=1)(doc("\n".join(ellipsis)))) == "gopher_ellipsis_lines"
    numbers = prose(80).split() + ["123"] * 20
    assert reason(GopherQuality()(doc(" ".join(numbers)))) is None  # 80% alphabetic
    assert reason(GopherQuality()(doc(" ".join(numbers[1:] + ["456"])))) == "gopher_alpha_words"
    no_stop = " ".join(["river", "water", "stone"] * 20)
    assert reason(GopherQuality()(doc(no_stop + " the"))) == "gopher_stop_words"
    assert reason(GopherQuality()(doc(no_stop + " the and"))) is None
    assert reason(GopherQuality()(doc(no_stop + " the the"))) == "gopher_stop_words"  # two of the words, not one twice
    hashes_and_ellipses = " ".join(["..."] * 6 + words + ["#"] * 6)  # each 6/102 under 0.1: separate rules, as in the paper
    assert reason(GopherQuality()(doc(hashes_and_ellipses))) is None
    assert reason(GopherQuality()(doc(" ".join(["..."] * 11 + words)))) == "gopher_ellipsis_word_ratio"


def test_gopher_repetition_lines_and_ngrams():
    unique = [" ".join(f"w{i}x{j}" for j in range(12)) + "." for i in range(10)]
    assert reason(GopherRepetition()(doc("\n".join(unique)))) is None
    repeated = unique[:7] + [unique[0]] * 3  # 3/10 duplicate lines: at the limit
    measured = GopherRepetition().measure(doc("\n".join(repeated)))
    assert measured["dup_line_frac"] == pytest.approx(0.3)
    assert reason(GopherRepetition(dup_line_char_frac=1)(doc("\n".join(unique[:6] + [unique[0]] * 4)))) == "gopher_dup_line_frac"
    spam = " ".join(["buy cheap watches now"] * 30)
    assert reason(GopherRepetition(dup_line_frac=1, dup_line_char_frac=1)(doc(spam))).startswith("gopher_top_")


def test_fineweb_rules():
    good = "\n".join(f"{i}: " + prose(12, 12 * i) + " and more words here." for i in range(10))
    assert reason(FineWebQuality()(doc(good))) is None
    no_punct = "\n".join(f"{i}: " + prose(12, 12 * i).replace(".", "") + " words" for i in range(10))
    assert reason(FineWebQuality()(doc(no_punct))) == "fineweb_line_punct_ratio"
    short = "\n".join(["Short line here."] * 1 + [prose(3).rstrip(".") + f" {i}." for i in range(9)])
    assert reason(FineWebQuality(max_dup_line_char_ratio=1)(doc(short))) == "fineweb_short_line_ratio"
    dup = "\n".join([prose(12) + f" unique {i}." for i in range(9)] + [prose(12) + " unique 0."])  # one repeated line
    assert reason(FineWebQuality()(doc(dup))) == "fineweb_dup_line_char_ratio"


def test_c4_line_and_document_rules():
    sentences = [f"This is sentence number {n} of the page." for n in ("one", "two", "three", "four", "five")]
    text = "\n".join(sentences + ["Menu", "Please enable javascript to continue.", "Read our privacy policy today.", "Cited fact here [1] ok."])
    result = C4Quality()(doc(text))
    assert isinstance(result, Document)
    assert result.text == "\n".join(sentences + ["Cited fact here  ok."])
    assert reason(C4Quality()(doc(text + "\nlorem ipsum in a menu"))) is None  # only a kept line's lorem ipsum or brace drops the page
    assert reason(C4Quality()(doc("\n".join(sentences[:4])))) == "c4_too_few_sentences"
    assert reason(C4Quality()(doc(text + "\nLorem ipsum dolor sit amet."))) == "c4_lorem_ipsum"
    assert reason(C4Quality()(doc(text + "\nThe setting was {a: 1} then."))) == "c4_curly_bracket"
    assert reason(C4Quality()(doc(text + "\nvar x = {a: 1};"))) is None  # a line without a terminal mark goes first


def test_code_rules():
    good = "def f(x):\n    return x + 1\n" * 5
    assert reason(CodeQuality()(doc(good))) is None
    at_limit = "\n".join(["x = 1"] * 20 + ["a" * 1000])  # longest line at the limit, mean under 100
    assert reason(CodeQuality()(doc(at_limit))) is None
    assert reason(CodeQuality()(doc(at_limit + "a"))) == "code_max_line_length"
    assert reason(CodeQuality()(doc("\n".join(["b" * 101] * 3)))) == "code_mean_line_length"
    assert reason(CodeQuality()(doc("# Code generated by protoc. DO NOT EDIT.\nx = 1\n"))) == "code_auto_generated"
    assert reason(CodeQuality()(doc("\n".join(["value = compute(items[index]) + offset;"] * 20)))) is None
    assert reason(CodeQuality()(doc("\n".join(["((( ))) + [[ ]] -> {{ }};"] * 20)))) == "code_alnum_fraction"
    assert reason(CodeQuality()(doc("\n".join("1.5, 2.25, 3.125, 4.0, 5e3" for _ in range(50))))) == "code_data_file"


def test_language_filter_annotates_and_keeps_good_cjk_prose():
    english = LanguageFilter(allowed=["en", "zh", "ja"])(doc(prose(60)))
    assert isinstance(english, Document) and english.meta["language"] == "en" and english.meta["language_score"] > 0.9
    chinese_text = "\n".join([
        "数据处理流水线首先读取语料库中的文档，并记录每一条记录的来源。",
        "然后它对文本进行规范化处理，统一换行符并去掉控制字符。",
        "接下来的过滤步骤会检查语言、长度以及重复内容的比例。",
        "去重阶段使用最小哈希和局部敏感哈希来发现相似的文档。",
        "最后，分词器在清洗后的文本样本上进行训练，并把文档打包成固定长度的序列。",
        "每一个被删除的文档都有明确的原因，运行报告会核对所有的数量。",
    ])
    chinese = LanguageFilter(allowed=["en", "zh"])(doc(chinese_text))
    assert isinstance(chinese, Document) and chinese.meta["language"] == "zh"
    assert reason(LanguageFilter(allowed=["en"])(doc(chinese_text))) == "language_not_allowed"
    config = config_from_dict({"sources": [{"name": "t", "paths": ["x"]}]})
    chain = filters_for_source(config, config.sources[0])
    japanese = "\n".join([
        "このパイプラインはまずコーパスの文書を読み込み、それぞれの出所を記録します。",
        "次に、改行の形式をそろえて制御文字を取り除き、テキストを正規化します。",
        "フィルターの段階では、言語や長さ、繰り返しの割合を確認します。",
        "重複の除去には、ミンハッシュと局所性鋭敏型ハッシュを使って似た文書を見つけます。",
        "最後に、きれいになったテキストでトークナイザーを学習し、文書を固定長の列に詰めます。",
        "削除されたすべての文書には理由があり、実行レポートは件数を正確に照合します。",
    ])
    for text in (chinese_text, japanese):
        kept = apply_filters(chain, doc(text))
        assert isinstance(kept, Document), kept  # English-only rules do not destroy CJK prose


def test_pii_redacted_in_place():
    text = "Mail jane.doe@example.com or ops@corp.io, servers 192.168.0.1 and 2001:db8::1; version 1.2.3.4.5 stays."
    result = PiiRedactor(("email", "ip_address"))(doc(text))
    assert result.text == "Mail <EMAIL> or <EMAIL>, servers <IP_ADDRESS> and <IP_ADDRESS>; version 1.2.3.4.5 stays."
    assert result.meta["pii"] == {"email": 2, "ip_address": 2}
    assert PiiRedactor()(doc("nothing to hide here")) is None
    assert PiiRedactor()(doc("not an ip 999.999.1.1 at all")) is None
    assert PiiRedactor()(doc('grammar: stmt ::= "assert" expr; std::vector<int> and a::b')) is None


@pytest.mark.slow
@given(st.lists(st.sampled_from(["a", "F", "0", "9", ".", ":", "@", "x.io", "::", " ", "\n", "192", "db8", "fe80", "-", "_", "com", "g"]), max_size=40).map("".join))
@settings(max_examples=5000, deadline=None)
def test_pii_scans_skipped_by_their_hint_change_nothing(text):
    """A text without a pattern's hint (a character of each side around ``@``; digit.digit.digit.digit; a run of ≥ 6 hex digits and colons with two colons and a digit)
    has no match of that pattern, so skipping the scan gives what the scan would."""
    from pipeline.curate.filters.pii import PATTERNS, PLACEHOLDERS, _is_ip

    expected, counts = text, {}
    for kind in ("email", "ip_address"):
        found = [m for m in PATTERNS[kind].findall(expected) if kind == "email" or _is_ip(m)]
        if found:
            counts[kind] = len(found)
        expected = PATTERNS[kind].sub(lambda m, kind=kind: PLACEHOLDERS[kind] if kind == "email" or _is_ip(m.group(0)) else m.group(0), expected)
    assert PiiRedactor(("email", "ip_address")).redact_text(text) == (expected, counts)


@given(st.text(max_size=60) | st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
@settings(max_examples=2000, deadline=None)
def test_code_character_counts_equal_the_rules_definition(text):
    """The compiled pass counts what the rules define: the longest line, ``str.isalnum`` and ``_DATA_CHARS``, character by character."""
    from pipeline.curate.filters.rules.code import _DATA_CHARS, line_and_character_counts

    longest = max(len(line) for line in text.split("\n"))
    assert line_and_character_counts(text) == (longest, sum(c.isalnum() for c in text), len(_DATA_CHARS.findall(text)))


def test_decontamination_removes_and_attributes(tmp_path):
    question = "what is the capital city of the country that borders france to the north east and speaks german"
    (tmp_path / "geoqa.jsonl").write_text(json.dumps({"question": question, "answer": "Berlin"}) + "\n")
    (tmp_path / "other.txt").write_text("a completely different benchmark line with more than thirteen words in it for sure\n")
    index = DecontaminationIndex.build([str(tmp_path / "*.jsonl"), str(tmp_path / "*.txt")], ngram=13)
    assert set(index.benchmarks) == {"geoqa", "other"}
    leaked = doc("Some intro text. " + question.upper() + "? The answer follows.")
    assert reason(Decontaminate(index)(leaked)) == "decontaminated_geoqa"
    assert Decontaminate(index)(doc(prose(100))) is None
    shifted = doc(" ".join(question.split()[:12]) + " different ending words here")
    assert Decontaminate(index)(shifted) is None  # 12 shared words are not a 13-gram


def test_per_source_overrides_and_explain():
    config = config_from_dict({
        "sources": [{"name": "web", "paths": ["x"]}, {"name": "lax", "paths": ["y"], "filters": {"gopher_quality": {"min_doc_words": 5}, "gopher_repetition": {"enabled": False}}},
                    {"name": "code", "paths": ["z"], "kind": "code"}],
    })
    chains = SourceFilterChains.from_config(config)
    short = prose(20)
    assert isinstance(chains(Document("web/1", short, "web", {})), Drop)
    assert isinstance(chains(Document("lax/1", short, "lax", {})), Document)
    assert [type(f).__name__ for f in chains.chains["code"]] == ["MinLength", "CodeQuality", "PiiRedactor"]
    rows = explain(chains.chains["web"], Document("web/1", short, "web", {}))
    assert [r["filter"] for r in rows][:3] == ["MinLength", "LanguageFilter", "GopherQuality"]
    assert rows[2]["measured"]["words"] == 20 and rows[2]["verdict"].startswith("DROP gopher_short_doc")


def test_filters_order_is_config_data_with_the_registered_default():
    sources = [{"name": "web", "paths": ["x"]}]
    default = config_from_dict({"sources": sources})
    assert default.filters.order == [spec.name for spec in rule_filters()] and default.filters.order[:3] == ["min_length", "replacement_chars", "language"]
    swapped = list(default.filters.order)
    i, j = swapped.index("gopher_quality"), swapped.index("fineweb")
    swapped[i], swapped[j] = swapped[j], swapped[i]
    config = config_from_dict({"sources": sources, "filters": {"order": swapped}})
    names = [type(f).__name__ for f in filters_for_source(config, config.sources[0])]
    assert names.index("FineWebQuality") < names.index("GopherRepetition") < names.index("GopherQuality")
    for order, message in ((swapped + ["nope"], "unknown filter 'nope'"), (swapped + ["c4"], "'c4' is listed twice"),
                           ([n for n in swapped if n != "c4"], "c4 missing")):
        with pytest.raises(ConfigError, match=f"filters.order: {message}"):
            config_from_dict({"sources": sources, "filters": {"order": order}})


def test_filters_list_prints_the_registered_filters_in_their_default_order(capsys):
    from pipeline.cli import main

    assert main(["filters", "list"]) == 0
    out = capsys.readouterr().out
    names = [spec.name for spec in rule_filters()]
    assert [out.index(f"  {name} ") for name in names] == sorted(out.index(f"  {name} ") for name in names)
    assert "replacement_chars    text/code  off  max_fraction=0.001" in out and "C4Quality (English only)" in out


def test_filters_explain_cli_prints_measures_and_verdicts(tmp_path, capsys):
    from pipeline.cli import main

    config = tmp_path / "c.yaml"
    config.write_text("sources:\n  - name: web\n    paths: [x.jsonl]\n")
    text = tmp_path / "doc.txt"
    text.write_text(prose(30))
    assert main(["filters", "explain", str(config), "--text", str(text)]) == 0
    out = capsys.readouterr().out
    assert "GopherQuality" in out and "DROP gopher_short_doc (30)" in out and "words=30" in out


def test_compiled_ngram_measures_match_a_plain_reference():
    from collections import Counter as C

    from pipeline.curate.filters.ngrams import NgramIndex

    def top_ref(tokens, n):
        counts = C(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        gram, count = counts.most_common(1)[0]
        return sum(len(w) for w in gram) * count / sum(len(w) for w in tokens)

    def dup_ref(tokens, n):
        seen, covered = set(), [False] * len(tokens)
        for i in range(len(tokens) - n + 1):
            gram = tuple(tokens[i : i + n])
            if gram in seen:
                covered[i : i + n] = [True] * n
            seen.add(gram)
        return sum(len(w) for w, c in zip(tokens, covered) if c) / sum(len(w) for w in tokens)

    import random

    rng = random.Random(4)
    for _ in range(20):
        tokens = [rng.choice(["a", "bb", "ccc", "dddd", "e"]) for _ in range(rng.randint(12, 80))]
        index = NgramIndex.of_tokens(tokens)
        for n, (chars, count) in zip((2, 3, 4), index.top_ngrams((2, 3, 4)), strict=True):
            assert chars * count / index.total_chars == pytest.approx(top_ref(tokens, n))
        for n, chars in zip((5, 7, 10), index.duplicated_chars((5, 7, 10)), strict=True):
            assert chars / index.total_chars == pytest.approx(dup_ref(tokens, n))


def test_greedy_repeated_chars_is_datatroves_walk():
    """datatrove's find_all_duplicate, verbatim in spirit: n-grams as joined strings, skip n after a repeat.
    Tokens of two characters each, so a joined string spells exactly one token sequence."""
    import random

    from pipeline.curate.filters.ngrams import NgramIndex

    def walk(words, n):
        seen, repeated, i = set(), 0, 0
        while i < len(words) - n + 1:
            gram = "".join(words[i : i + n])
            if gram in seen:
                repeated, i = repeated + len(gram), i + n
            else:
                seen.add(gram)
                i += 1
        return repeated

    rng = random.Random(7)
    for _ in range(300):
        words = [rng.choice(["ab", "cd", "ef", "gh"][: rng.randint(1, 4)]) for _ in range(rng.randint(0, 60))]
        for n in range(5, 11):
            assert NgramIndex.of_tokens(words).greedy_repeated_chars([n]) == [walk(words, n)], (words, n)
        expected = [walk(words, n) for n in range(5, 11)]
        assert NgramIndex.of_tokens(words).greedy_repeated_chars(range(5, 11)) == expected  # zeros after the first zero


@pytest.mark.parametrize("backend", ["auto", "cld2", "fasttext", "py3langid"])
def test_every_language_backend_runs_offline_and_names_hebrew_he(backend):
    """Every backend loads from what is installed (lid.176.ftz ships in the package) and answers in
    current ISO 639-1 codes: CLD2 says "iw" for Hebrew, corpusmill "he"."""
    hebrew = "כבר נעשה שימוש בססמה הזאת. נא לבחור ססמה אחרת ולהקליד אותה שוב כדי להמשיך בהתקנה של החבילה."
    assert LanguageFilter(backend=backend).classify(hebrew)[0] == "he"
    assert LanguageFilter(backend=backend).classify(prose(40))[0] == "en"


def test_auto_language_id_reads_the_language_around_code():
    """Short text with code spans and command lines: the code is cut before the second opinion, and
    English-looking code around Hangul or Han does not make the text English."""
    from pipeline.curate.filters.rules.language import script_language

    identify = LanguageFilter(backend="auto").classify
    spanish = "Para instalar el paquete ejecute `apt-get install -y libfoo-dev` y después reinicie el servicio con `systemctl restart foo`."
    assert identify(spanish)[0] == "es"
    korean = "설정 파일을 `--output-dir=/tmp/out` 옵션으로 지정하세요 $ ls -la /usr/share/doc 그리고 다시 시작하세요"
    assert identify(korean)[0] == "ko"
    assert script_language("選項 --verbose 顯示詳細資訊") == "zh" and script_language("ひらがなと漢字") == "ja"
    assert script_language("An English sentence that quotes one word, 漢字, among many others.") is None


THAI = "\n\n".join([
    "ระบบนี้อ่านเอกสารจากคลังข้อมูลและบันทึกแหล่งที่มาของแต่ละรายการ จากนั้นจึงปรับข้อความให้อยู่ในรูปแบบเดียวกัน และลบอักขระควบคุมที่ไม่จำเป็นออก",
    "ขั้นตอนการกรองจะตรวจสอบภาษา ความยาว และสัดส่วนของเนื้อหาที่ซ้ำกัน เอกสารที่ถูกลบทุกฉบับจะมีเหตุผลที่ชัดเจนบันทึกไว้ในรายงาน",
    "การลบข้อมูลซ้ำใช้วิธีมินแฮชเพื่อค้นหาเอกสารที่คล้ายกัน หลังจากนั้นตัวตัดคำจะได้รับการฝึกจากตัวอย่างข้อความที่สะอาดแล้ว",
    "สุดท้ายเอกสารจะถูกจัดเรียงเป็นลำดับที่มีความยาวคงที่ เพื่อให้โปรแกรมฝึกโมเดลสามารถอ่านได้โดยตรงโดยไม่ต้องแปลงข้อมูลเพิ่มเติม",
])


def test_thai_prose_passes_the_default_chain_with_its_own_segmentation():
    """Thai has no spaces between words and marks no sentence end: each letter (with its vowel and
    tone marks) is a word, and the terminal-punctuation rule is skipped; before, the word count
    (space-separated phrases) dropped every Thai document."""
    from pipeline.curate.filters.text import words

    assert words("ที่นี่ ok 中文") == ("ที่", "นี่", "ok", "中", "文")
    config = config_from_dict({"sources": [{"name": "t", "paths": ["x"]}]})
    kept = apply_filters(filters_for_source(config, config.sources[0]), doc(THAI))
    assert isinstance(kept, Document) and kept.meta["language"] == "th"
    assert FineWebQuality().measure(doc(THAI, "th"))["line_punct_ratio"] is None
    assert reason(FineWebQuality()(doc(THAI.replace(" ", "\n"), "en"))) == "fineweb_line_punct_ratio"  # the rule still holds elsewhere


def test_stop_words_follow_the_detected_language():
    german = " ".join(["Die Daten werden von der Pipeline gelesen und mit einem Filter geprüft."] * 6)
    assert reason(GopherQuality()(doc(german, "de"))) is None
    assert reason(GopherQuality()(doc(german))) == "gopher_stop_words"  # unlabelled: English list
    assert GopherQuality().measure(doc(german, "xx"))["stop_words"] is None  # no list: rule skipped


_TEXT_ALPHABET = list("ab Z_9١ \n\t\x0b\u2028.,#…'İΣσς中文ทยไ\u0e31\u0e48ก\u17b6\u1031ကö\u0301😀\ud800") + ["x" * 250, "ΑΣ.Β "]


@given(st.lists(st.sampled_from(_TEXT_ALPHABET), max_size=80).map("".join))
@settings(max_examples=500, deadline=None)
def test_text_words_measures_the_regex_words(text):
    """The compiled word pass equals the regex definition: count, code points, words with a letter,
    and the lowercased text's words (hashes and lengths), across scripts, marks and case rules."""
    import re

    import xxhash

    from pipeline.curate.filters.text import text_words, words

    original, lower = words(text), words(text.lower())
    measured = text_words(text)
    assert (measured.word_count, measured.chars) == (len(original), sum(map(len, original)))
    assert measured.with_letter == sum(bool(re.search(r"[^\W\d_]", w)) for w in original)
    assert measured.lower.hashes.tolist() == [xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass")) for w in lower]
    assert measured.lower.lengths.tolist() == [len(w) for w in lower]


def plain_text_lines(text: str) -> tuple:
    """``TextLines`` by the definitions it states: split lines and paragraphs, strip, compare
    strings; bullet and ellipsis lines as regexes over the whole text."""
    import re

    from pipeline.curate.filters.lines import BULLETS, ELLIPSES
    from pipeline.curate.filters.rules.gopher import duplicate_counts
    from pipeline.curate.filters.text import TERMINAL_PUNCTUATION

    bullet_lines = re.compile(f"^[^\\S\n]*[{re.escape(''.join(BULLETS))}]", re.MULTILINE)
    ellipsis_lines = re.compile(f"(?:{'|'.join(map(re.escape, ELLIPSES))})[^\\S\n]*$", re.MULTILINE)

    lines = [line for line in text.split("\n") if line.strip()]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    stripped = [line.strip() for line in lines]
    return (len(lines), sum(map(len, lines)), *duplicate_counts(lines), len(paragraphs), sum(map(len, paragraphs)), *duplicate_counts(paragraphs),
            [len(s) for s in stripped], duplicate_counts(stripped)[1], sum(s.endswith(TERMINAL_PUNCTUATION) for s in stripped),
            len(bullet_lines.findall(text)), len(ellipsis_lines.findall(text)))


_LINE_ALPHABET = ["a", "b", " ", "\t", "\n", "\n\n", "\u3000", "\x85", "\u2028", "\x1c", ".", "..", "…", "。", "!", "中", "\ud800", "ab. ", "\n  ab. \n",
                  "•", "-", "*", "—", "※"]


@given(st.lists(st.sampled_from(_LINE_ALPHABET), max_size=60).map("".join))
@settings(max_examples=2000, deadline=None)
def test_text_lines_counts_what_split_and_strip_give(text):
    """The compiled line pass equals splitting on "\\n" and "\\n\\n", ``str.strip`` (every Unicode
    space, not line breaks alone), exact string comparison (repeats of repeats included), and
    Gopher's bullet and ellipsis line patterns."""
    from pipeline.curate.filters.lines import text_lines

    measured = text_lines(text)
    assert (*measured[:8], measured.stripped_lengths.tolist(), *measured[9:]) == plain_text_lines(text)
