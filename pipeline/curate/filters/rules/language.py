"""Language identification, offline: ``auto`` (the default: CLD2 where it is sure, else a vote of
CLD2, fastText's lid.176 and py3langid on the text without its code; macro accuracy 0.99 on 26
languages at ~10 MB/s in ``bench/langid_accuracy.py``), or one of CLD2, fastText (the shipped
lid.176.ftz, or a user's model file) and py3langid alone.

Writes ``meta.language`` (ISO 639-1) and ``meta.language_score`` (calibrated: the measured share
of that backend's answers with that raw score that were right); drops documents outside
``allowed`` or below ``min_score``. Only the first ``max_chars`` characters are classified.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pipeline.curate.filters.base import Rejection, RuleFilter
from pipeline.curate.filters.registry import rule_filter
from pipeline.records import Document


class _Py3LangId:
    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def classify(self, text: str) -> tuple[str, float]:
        language, score = self._identifier.classify(text)
        return language, float(score)


_CLD2_REJECTS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufdd0-\ufdef\ufffe\uffff]|[\U000f0000-\U0010ffff]")
# CLD2 still answers with ISO 639-1 codes withdrawn in 1989: Hebrew, Javanese, Indonesian, Yiddish
_CLD2_WITHDRAWN = {"iw": "he", "jw": "jv", "in": "id", "ji": "yi"}


class _Cld2:
    """CLD2's first identified language; the score is its share of the text CLD2 could attribute."""

    def __init__(self) -> None:
        import pycld2

        self._detect, self._error = pycld2.detect, pycld2.error

    def detect(self, text: str) -> tuple[str, float, bool]:
        """(language, share, CLD2's own "reliable" flag)."""
        try:
            reliable, _, details = self._detect(text, bestEffort=True)
        except self._error:  # CLD2 calls control and some private-use characters invalid UTF-8
            try:
                reliable, _, details = self._detect(_CLD2_REJECTS.sub(" ", text), bestEffort=True)
            except self._error:
                return "un", 0.0, False
        known = [(code.split("-")[0].lower(), percent) for _, code, percent, _ in details if code not in ("un", "xx")]
        total = sum(percent for _, percent in known)
        if not total:
            return "un", 0.0, False
        language = known[0][0]
        return _CLD2_WITHDRAWN.get(language, language), known[0][1] / total, reliable

    def classify(self, text: str) -> tuple[str, float]:
        language, share, _ = self.detect(text)
        return language, share


LID_176 = Path(__file__).parent.parent / "models" / "lid.176.ftz"  # fastText's 176-language model, shipped (models/NOTICE.md)


class _FastText:
    """fastText language ID: lid.176.ftz as shipped, or the user's own model file."""

    def __init__(self, model_path: str | None = None) -> None:
        import fasttext

        self._model = fasttext.load_model(str(model_path or LID_176))

    def classify(self, text: str) -> tuple[str, float]:
        labels, scores = self._model.predict(text.replace("\n", " "))
        return labels[0].removeprefix("__label__"), min(float(scores[0]), 1.0)


# what reads as English to a language identifier but is no language: code spans, URLs, options,
# paths and assignments (cut before the second opinion)
_CODE = re.compile(r"`[^`\n]*`|\bhttps?://\S+|(?<!\S)(?:[-$]\S*|\S*[/=_{}\[\]<>|\\]\S*)")
# scripts written by one language each: text with enough of their letters is that language, however
# much English-looking code surrounds them
_SCRIPTS = [("ko", re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")), ("ja", re.compile("[\u3040-\u30ff]")),
            ("th", re.compile("[\u0e00-\u0e7f]")), ("zh", re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")),
            ("he", re.compile("[\u0590-\u05ff]")), ("el", re.compile("[\u0370-\u03ff]"))]
_ANY_SCRIPT = re.compile("|".join(script.pattern for _, script in _SCRIPTS))
_LETTER = re.compile(r"[^\W\d_]")


def script_language(text: str, min_share: float = 0.15) -> str | None:
    """The language of a one-language script holding at least ``min_share`` of the text's letters (Kana before Han)."""
    letters = len(_LETTER.findall(text)) or 1
    return next((language for language, script in _SCRIPTS if len(script.findall(text)) / letters >= min_share), None)


class _Auto:
    """CLD2 where it is sure; elsewhere a vote. Sure: at least ``SURE_CHARS`` characters and a top
    language holding ``SURE_SHARE`` of what CLD2 attributed, or a non-English answer CLD2 calls
    reliable. Otherwise code is cut out and CLD2, fastText (lid.176) and, when those two disagree,
    py3langid vote; an English answer on text whose letters are largely Hangul, Kana, Han, Thai,
    Hebrew or Greek goes to that script's language."""

    SURE_CHARS = 300
    SURE_SHARE = 0.8

    def __init__(self) -> None:
        self._cld2, self._fasttext, self._py3langid = _Cld2(), _FastText(), _Py3LangId()

    def classify(self, text: str) -> tuple[str, float]:
        language, share, reliable = self._cld2.detect(text)
        if len(text) >= self.SURE_CHARS and (share >= self.SURE_SHARE or (reliable and language != "en")):
            if language != "en" or text.isascii() or not _ANY_SCRIPT.search(text):
                return language, share
            return script_language(_CODE.sub(" ", text)) or language, share
        prose = _CODE.sub(" ", text)
        cld2_language, _, _ = self._cld2.detect(prose)
        language, score = self._fasttext.classify(prose)
        if language != cld2_language:
            third, third_score = self._py3langid.classify(prose)
            if third == cld2_language:
                language, score = third, third_score
        if language == "en":
            language = script_language(prose) or language
        return language, score


BACKENDS = {"auto": _Auto, "cld2": _Cld2, "fasttext": _FastText, "py3langid": _Py3LangId}
# per backend, the measured accuracy of its answers by tenth of raw score (bench/langid_accuracy.py --calibrate)
CALIBRATION = Path(__file__).parent.parent / "models" / "langid_calibration.json"


@lru_cache(maxsize=1)
def _calibration_tables() -> dict[str, list[float]]:
    return json.loads(CALIBRATION.read_text(encoding="utf-8"))["accuracy_by_tenth"]


def calibrated(backend: str, raw: float) -> float:
    """The backend's raw score as the share of its answers with that score that were right, so
    ``min_score`` means the same for every backend; a user's own fastText model stays raw."""
    table = _calibration_tables().get(backend)
    return raw if table is None else table[min(int(raw * 10), 9)]


@rule_filter(position=20)
@dataclass
class LanguageFilter(RuleFilter):
    """Language ID on the first ``max_chars``: annotates ``meta.language``; drops languages not
    ``allowed`` (ISO 639-1; None keeps all) and scores under ``min_score``. Offline backends; a
    local fastText ``lid.176.bin`` replaces the backend when given."""

    name: ClassVar[str] = "language"
    SIGNALS: ClassVar[dict[str, type]] = {"detected": str, "score": float}
    MEASURE_PARAMS: ClassVar[frozenset[str]] = frozenset({"max_chars", "backend", "fasttext_model"})
    allowed: list[str] | None = None  # None: annotate only
    min_score: float = 0.5
    max_chars: int = 2000
    backend: Literal["auto", "cld2", "fasttext", "py3langid"] = "auto"
    fasttext_model: str | None = None
    _backend: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_backend": None}  # workers load the model themselves

    def classify(self, text: str) -> tuple[str, float]:
        """(language, calibrated score)."""
        if self._backend is None:
            self._backend = _FastText(self.fasttext_model) if self.fasttext_model else BACKENDS[self.backend]()
        language, raw = self._backend.classify(text[: self.max_chars])
        return language, calibrated("" if self.fasttext_model else self.backend, raw)

    def measure(self, doc: Document) -> dict[str, Any]:
        language, score = self.classify(doc.text)
        return {"detected": language, "score": score}

    def verdict(self, m: dict[str, Any]) -> Rejection | None:
        language, score = m["detected"], m["score"]
        if self.allowed is not None and language not in self.allowed:
            return Rejection("language_not_allowed", f"{language} {score:.2f}", language)
        if score < self.min_score:
            return Rejection("language_low_score", f"{language} {score:.2f}", language)
        return None

    def annotate(self, doc: Document, m: dict[str, Any]) -> Document:
        return doc._replace(meta={**doc.meta, "language": m["detected"], "language_score": round(m["score"], 4)})
