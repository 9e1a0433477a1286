"""The DeepSeek-V3 pre-tokenizer: three isolating regex splits, then byte-level mapping."""
from __future__ import annotations

from tokenizers import Regex, pre_tokenizers

from tokenizer.cjk import PRETOKENIZER_RANGES, escaped_class

DIGITS = r"\p{N}{1,3}"
CJK = f"[{escaped_class(PRETOKENIZER_RANGES, 'u')}]+"
WORDS_AND_PUNCTUATION = (
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"
    r"|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
    r"| ?[\p{P}\p{S}]+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+"
)
PATTERNS = (DIGITS, CJK, WORDS_AND_PUNCTUATION)


def deepseek_v3_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Splits digits in runs of ≤3, isolates CJK runs, splits words/punctuation, then maps bytes."""
    splits = [pre_tokenizers.Split(Regex(p), behavior="isolated", invert=False) for p in PATTERNS]
    return pre_tokenizers.Sequence([*splits, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
