"""C4 rules (Raffel et al. 2020, as in datatrove): line removals, then document-level drops.

English-centric, so off by default and never applied to code or CJK text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Union

from pipeline.curate.filters.base import Rejection
from pipeline.curate.filters.text import TERMINAL_PUNCTUATION, words
from pipeline.records import Document

POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_CITATION = re.compile(r"\[\d+\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


@dataclass(frozen=True)
class C4Quality:
    """C4 line and document rules with their published thresholds."""

    min_words_per_line: int = 3
    min_sentences: int = 5

    def kept_lines(self, text: str) -> tuple[list[str], dict[str, int]]:
        kept, removed = [], {"no_terminal_punctuation": 0, "too_few_words": 0, "javascript": 0, "policy": 0}
        for line in text.split("\n"):
            line = _CITATION.sub("", line).strip()
            if not line:
                continue
            lower = line.lower()
            if not line.endswith(TERMINAL_PUNCTUATION) or line.endswith("..."):
                removed["no_terminal_punctuation"] += 1
            elif len(words(line)) < self.min_words_per_line:
                removed["too_few_words"] += 1
            elif "javascript" in lower:
                removed["javascript"] += 1
            elif any(p in lower for p in POLICY_PHRASES):
                removed["policy"] += 1
            else:
                kept.append(line)
        return kept, removed

    def measure(self, doc: Document) -> dict[str, Any]:
        kept, removed = self.kept_lines(doc.text)
        text = "\n".join(kept)
        return {"lines_kept": len(kept), **{f"lines_removed_{k}": v for k, v in removed.items()},
                "lorem_ipsum": "lorem ipsum" in doc.text.lower(), "curly_bracket": "{" in doc.text,
                "sentences": len(_SENTENCE_END.findall(text))}

    def __call__(self, doc: Document) -> Optional[Union[Rejection, Document]]:
        lower = doc.text.lower()
        if "lorem ipsum" in lower:
            return Rejection("c4_lorem_ipsum", "lorem ipsum")
        if "{" in doc.text:
            return Rejection("c4_curly_bracket", "{")
        kept, _ = self.kept_lines(doc.text)
        text = "\n".join(kept)
        sentences = len(_SENTENCE_END.findall(text))
        if sentences < self.min_sentences:
            return Rejection("c4_too_few_sentences", str(sentences))
        return doc._replace(text=text) if text != doc.text else None
