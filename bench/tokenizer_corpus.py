"""A mixed training sample for tokenizer benchmarks: prose, code and many languages from this machine."""
from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import catalog_messages, join_into_documents, prose_documents  # noqa: E402

LANGUAGES = {"zh": "zh_CN", "ja": "ja", "ko": "ko", "ru": "ru", "de": "de", "fr": "fr", "es": "es", "ar": "ar", "hi": "hi", "vi": "vi"}


def translated_text(locale: str, limit_bytes: int) -> list[str]:
    """Translated UI messages of one locale (gettext catalogs), as ~2 KB documents up to ``limit_bytes``."""
    docs, total = [], 0
    for doc in join_into_documents(catalog_messages(locale), 2000, separator="\n"):
        if total >= limit_bytes:
            break
        docs.append(doc)
        total += len(doc.encode())
    return docs


def code_documents(limit_bytes: int) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    docs, total = [], 0
    for path in sorted(stdlib.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        docs.append(text)
        total += len(text.encode())
        if total >= limit_bytes:
            break
    return docs


def mixed_sample(total_mb: float) -> dict[str, list[str]]:
    """About ``total_mb`` MB: up to 45% English prose, 2% for each of ten other languages (as far as
    the machine's catalogs go), and code for the rest."""
    budget = int(total_mb * 1e6)
    prose, used = [], 0
    for doc in prose_documents(10**9):
        if used >= budget * 0.45:
            break
        prose.append(doc)
        used += len(doc.encode())
    parts: dict[str, list[str]] = {"en": prose}
    for lang, locale in LANGUAGES.items():
        parts[lang] = translated_text(locale, int(budget * 0.02))
        used += sum(len(d.encode()) for d in parts[lang])
    parts["code"] = code_documents(max(budget - used, 0))
    return {k: v for k, v in parts.items() if v}
