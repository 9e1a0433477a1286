"""Language identification, offline: CLD2 (pycld2, the default: compiled, ~100× faster than
py3langid at the same accuracy in ``bench/langid_accuracy.py``), py3langid, or a user's fastText
lid.176 file.

Writes ``meta.language`` (ISO 639-1) and ``meta.language_score``; drops documents outside
``allowed`` or below ``min_score``. Only the first ``max_chars`` characters are classified.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from pipeline.curate.filters.base import Rejection
from pipeline.records import Document


class _Py3LangId:
    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def classify(self, text: str) -> tuple[str, float]:
        language, score = self._identifier.classify(text)
        return language, float(score)


_CLD2_REJECTS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufdd0-\ufdef\ufffe\uffff]|[\U000f0000-\U0010ffff]")


class _Cld2:
    """CLD2's first identified language; the score is its share of the text CLD2 could attribute."""

    def __init__(self) -> None:
        import pycld2

        self._detect, self._error = pycld2.detect, pycld2.error

    def classify(self, text: str) -> tuple[str, float]:
        try:
            _, _, details = self._detect(text, bestEffort=True)
        except self._error:  # CLD2 calls control and some private-use characters invalid UTF-8
            try:
                _, _, details = self._detect(_CLD2_REJECTS.sub(" ", text), bestEffort=True)
            except self._error:
                return "un", 0.0
        known = [(code.split("-")[0].lower(), percent) for _, code, percent, _ in details if code not in ("un", "xx")]
        total = sum(percent for _, percent in known)
        if not total:
            return "un", 0.0
        return known[0][0], known[0][1] / total


class _FastText:
    def __init__(self, model_path: str) -> None:
        import fasttext  # optional: only for users who bring a lid.176 model

        self._model = fasttext.load_model(model_path)

    def classify(self, text: str) -> tuple[str, float]:
        labels, scores = self._model.predict(text.replace("\n", " "))
        return labels[0].removeprefix("__label__"), float(scores[0])


BACKENDS = {"cld2": _Cld2, "py3langid": _Py3LangId}


@dataclass
class LanguageFilter:
    """Language ID on the first ``max_chars``: annotates ``meta.language``; drops languages not
    ``allowed`` (ISO 639-1; None keeps all) and scores under ``min_score``. Offline backends; a
    local fastText ``lid.176.bin`` replaces the backend when given."""

    allowed: Optional[list[str]] = None  # None: annotate only
    min_score: float = 0.5
    max_chars: int = 2000
    backend: Literal["cld2", "py3langid"] = "cld2"
    fasttext_model: Optional[str] = None
    _backend: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_backend": None}  # workers load the model themselves

    def classify(self, text: str) -> tuple[str, float]:
        if self._backend is None:
            self._backend = _FastText(self.fasttext_model) if self.fasttext_model else BACKENDS[self.backend]()
        return self._backend.classify(text[: self.max_chars])

    def measure(self, doc: Document) -> dict[str, Any]:
        language, score = self.classify(doc.text)
        return {"language": language, "language_score": round(score, 4)}

    def __call__(self, doc: Document) -> Union[Rejection, Document]:
        language, score = self.classify(doc.text)
        if self.allowed is not None and language not in self.allowed:
            return Rejection("language_not_allowed", f"{language} {score:.2f}")
        if score < self.min_score:
            return Rejection("language_low_score", f"{language} {score:.2f}")
        return doc._replace(meta={**doc.meta, "language": language, "language_score": round(score, 4)})
