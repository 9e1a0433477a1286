"""Language identification, offline: py3langid (ships its model), or a user's fastText lid.176 file.

Writes ``meta.language`` (ISO 639-1) and ``meta.language_score``; drops documents outside
``allowed`` or below ``min_score``. Only the first ``max_chars`` characters are classified.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from pipeline.documents import Document
from pipeline.filters.base import Rejection


class _Py3LangId:
    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def classify(self, text: str) -> tuple[str, float]:
        language, score = self._identifier.classify(text)
        return language, float(score)


class _FastText:
    def __init__(self, model_path: str) -> None:
        import fasttext  # optional: only for users who bring a lid.176 model

        self._model = fasttext.load_model(model_path)

    def classify(self, text: str) -> tuple[str, float]:
        labels, scores = self._model.predict(text.replace("\n", " "))
        return labels[0].removeprefix("__label__"), float(scores[0])


@dataclass
class LanguageFilter:
    allowed: Optional[list[str]] = None  # None: annotate only
    min_score: float = 0.5
    max_chars: int = 2000
    fasttext_model: Optional[str] = None
    _backend: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_backend": None}  # workers load the model themselves

    def classify(self, text: str) -> tuple[str, float]:
        if self._backend is None:
            self._backend = _FastText(self.fasttext_model) if self.fasttext_model else _Py3LangId()
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
