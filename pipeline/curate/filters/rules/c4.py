"""C4's quality rules (Raffel et al. 2020) in the order the reference implementation (TFDS
``c4_utils.clean_page``, and datatrove's ``C4QualityFilter`` after it) applies them, line by line:
a line with a word over 1,000 characters goes; citations are cut; a line goes without a terminal
mark (``. ? ! " '``, not an ellipsis), with fewer than 3 words, mentioning JavaScript or a cookie
or policy phrase; a kept line with "lorem ipsum" or a curly bracket drops the whole document, and
so does a document whose kept lines hold fewer than 5 sentences.

Sentences are counted as datatrove counts them, by spaCy's sentencizer on spaCy's tokens
(``spacy_english.py``; TFDS used NLTK's punkt), so this is datatrove's filter in both
``filters.compat`` modes: its verdicts and kept text equal datatrove's on every fixture document
(``tests/test_reference_filters.py``). English-centric, so off by default and never applied to
code or non-English text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.curate.filters.base import Rejection
from pipeline.curate.filters.registry import rule_filter
from pipeline.curate.filters.spacy_english import spacy_sentence_count
from pipeline.records import Document

POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
END_PUNCTUATION = (".", "?", "!", '"', "'")
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
LINE_REASONS = ("too_long_word", "no_terminal_punctuation", "too_few_words", "javascript", "policy")


@dataclass(frozen=True)
class C4Verdict:
    """One pass of the C4 rules over a document: the lines kept, the lines removed per reason,
    the sentences counted in the kept lines, and the document-level reason if the document goes."""

    kept: list[str]
    removed: dict[str, int]
    sentences: int
    dropped_for: str | None


@rule_filter(position=60, enabled=False, english_only=True)
@dataclass(frozen=True)
class C4Quality:
    """C4 line and document rules with their published thresholds."""

    name: ClassVar[str] = "c4"
    min_words_per_line: int = 3
    min_sentences: int = 5
    max_word_length: int = 1000

    def verdict(self, text: str) -> C4Verdict:
        kept: list[str] = []
        removed = dict.fromkeys(LINE_REASONS, 0)
        sentences = 0
        for line in text.splitlines():
            line = line.strip()
            words = line.split()
            if any(len(word) > self.max_word_length for word in words):
                removed["too_long_word"] += 1
                continue
            line = CITATION.sub("", line)
            if not line.endswith(END_PUNCTUATION) or line.endswith("..."):
                removed["no_terminal_punctuation"] += 1
                continue
            if len(words) < self.min_words_per_line:
                removed["too_few_words"] += 1
                continue
            lower = line.lower()
            if "lorem ipsum" in lower:
                return C4Verdict(kept, removed, sentences, "c4_lorem_ipsum")
            if "javascript" in lower:
                removed["javascript"] += 1
                continue
            if "{" in line:
                return C4Verdict(kept, removed, sentences, "c4_curly_bracket")
            if any(p in lower for p in POLICY_PHRASES):
                removed["policy"] += 1
                continue
            sentences += spacy_sentence_count(line)
            kept.append(line)
        return C4Verdict(kept, removed, sentences, "c4_too_few_sentences" if sentences < self.min_sentences else None)

    def measure(self, doc: Document) -> dict[str, Any]:
        v = self.verdict(doc.text)
        return {"lines_kept": len(v.kept), **{f"lines_removed_{k}": n for k, n in v.removed.items()},
                "sentences": v.sentences, "document_rule": v.dropped_for or "-"}

    def __call__(self, doc: Document) -> Rejection | Document | None:
        v = self.verdict(doc.text)
        if v.dropped_for is not None:
            return Rejection(v.dropped_for, str(v.sentences) if v.dropped_for == "c4_too_few_sentences" else "in a kept line")
        text = "\n".join(v.kept).strip()
        return doc._replace(text=text) if text != doc.text else None
