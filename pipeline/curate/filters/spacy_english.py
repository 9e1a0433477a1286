"""spaCy's English tokenizer and sentencizer, as datatrove uses them for English, without spaCy.

``spacy_words`` runs spaCy's tokenizer algorithm (special cases, then prefixes and suffixes
stripped in turn, URLs kept whole, infixes split) on spaCy's own English rules, stored in
``reference_en.json`` (written by ``bench/datatrove_reference.py --rules``); ``spacy_sentence_count``
runs spaCy's rule-based sentencizer on those tokens. Both equal spaCy's output on every document of
``tests/data/datatrove_verdicts.jsonl.gz`` (``tests/test_reference_filters.py``).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import chain

from pipeline.curate.filters.text import REFERENCE_RULES as _RULES

_PREFIX = re.compile(_RULES["prefix"]).search
_SUFFIX_SEARCH = re.compile(_RULES["suffix"]).search
# Every suffix rule but one matches at most 5 characters; the other, r"\.\.+$", also matches at the
# window's start whenever it matches earlier (tests/test_reference_filters.py checks both)
SUFFIX_WINDOW = 5
_INFIX = re.compile(_RULES["infix"]).finditer
_URL = re.compile(_RULES["url"]).match
_SPECIAL: dict[str, list[str]] = _RULES["special_cases"]
_SPECIAL_PREFIXES = frozenset(key[:i] for key in _SPECIAL for i in range(1, len(key) + 1))
SENTENCE_MARKS = frozenset(_RULES["sentence_punctuation"])
_WHITESPACE_RUNS = re.compile(r"(\s+)")


def _affix_length(match: re.Match | None) -> int:
    return match.end() - match.start() if match else 0


def _suffix_match(string: str) -> re.Match | None:
    """The suffix rules' leftmost match, searched in the last characters only (a ``$``-anchored
    search otherwise tries every start); a match at the window's start may extend further left."""
    start = max(len(string) - SUFFIX_WINDOW, 0)
    match = _SUFFIX_SEARCH(string, start)
    if start and match and match.start() == start:
        return _SUFFIX_SEARCH(string)
    return match


@lru_cache(maxsize=1 << 18)  # ~80 MB at most: distinct chunks follow the vocabulary, most repeat
def _split_chunk(chunk: str) -> tuple[str, ...]:
    """spaCy's tokenization of one whitespace-free chunk."""
    if chunk in _SPECIAL:
        return tuple(_SPECIAL[chunk])
    prefixes: list[str] = []
    suffixes: list[str] = []
    string, last = chunk, -1
    while string and len(string) != last:
        if string in _SPECIAL:
            break
        last = len(string)
        pre = _affix_length(_PREFIX(string))
        if pre and string[pre:] in _SPECIAL:
            prefixes.append(string[:pre])
            string = string[pre:]
            break
        suf = _affix_length(_suffix_match(string[pre:]))
        if suf and string[:-suf] in _SPECIAL:
            suffixes.append(string[-suf:])
            string = string[:-suf]
            break
        if pre and suf and pre + suf <= len(string):
            prefixes.append(string[:pre])
            suffixes.append(string[-suf:])
            string = string[pre:-suf]
        elif pre:
            prefixes.append(string[:pre])
            string = string[pre:]
        elif suf:
            suffixes.append(string[-suf:])
            string = string[:-suf]
    middle: list[str] = []
    if string in _SPECIAL:
        middle = list(_SPECIAL[string])
    elif string and _URL(string):
        middle = [string]
    elif string:
        start = 0
        for match in _INFIX(string):
            if match.start() == 0:
                continue
            if match.start() != start:
                middle.append(string[start:match.start()])
            if match.start() != match.end():
                middle.append(string[match.start():match.end()])
            start = match.end()
        if string[start:]:
            middle.append(string[start:])
    return _merge_special_spans(prefixes + middle + suffixes[::-1])


def _merge_special_spans(tokens: list[str]) -> tuple[str, ...]:
    """spaCy's last pass: consecutive tokens that together spell a special case (``):``, ``:-)``)
    become that special case's tokens; the longest match from the left wins."""
    if len(tokens) < 2:
        return tuple(tokens)
    merged: list[str] = []
    i = 0
    while i < len(tokens):
        span, end = "", 0
        for j in range(i, len(tokens)):
            span += tokens[j]
            if span not in _SPECIAL_PREFIXES:  # no longer span can spell a special case either
                break
            if j > i and span in _SPECIAL:
                end = j + 1
        if end:
            merged += _SPECIAL["".join(tokens[i:end])]
            i = end
        else:
            merged.append(tokens[i])
            i += 1
    return tuple(merged)


@lru_cache(maxsize=4)
def spacy_words(text: str) -> tuple[str, ...]:
    """The words datatrove's English ``split_into_words`` gives: spaCy's tokens without the whitespace
    ones (tokens of whitespace-free chunks hold no whitespace, so datatrove's strip changes none)."""
    return tuple(chain.from_iterable(map(_split_chunk, text.split())))


def _is_punct(token: str) -> bool:
    """spaCy's ``is_punct``: every character is in a Unicode punctuation category."""
    return all(unicodedata.category(ch).startswith("P") for ch in token)


def spacy_sentence_count(text: str) -> int:
    """Sentences spaCy's sentencizer finds in a text, as datatrove's C4 filter counts them: a new one
    starts at the first token after a sentence mark that is neither punctuation nor a mark. Runs of
    whitespace other than one space are tokens too (spaCy keeps them), so they can start one."""
    tokens: list[str] = []
    for i, piece in enumerate(_WHITESPACE_RUNS.split(text)):
        if i % 2 == 0:
            tokens += _split_chunk(piece) if piece else ()
        elif piece != " ":
            tokens.append(piece[1:] if piece.startswith(" ") else piece)
    if not tokens:
        return 0
    sentences, after_mark = 1, False
    for token in tokens:
        is_mark = token in SENTENCE_MARKS
        if after_mark and not is_mark and not _is_punct(token):
            sentences += 1
            after_mark = False
        elif is_mark:
            after_mark = True
    return sentences
