"""URL blocklists: drop web documents by domain (and its subdomains), full URL or URL substring.

Rules come from the config and from files (one rule per line, ``#`` comments), read once on the
driver through ``FileSystems``; UT1's category lists (``domains``, ``urls`` files) load as they
are. The matched rule is the drop detail.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.curate.filters.base import Rejection
from pipeline.records import Document


def rules_from_files(patterns: Iterable[str]) -> list[str]:
    """The non-empty, non-comment lines of every file the patterns match (gzip etc. decompressed)."""
    rules = []
    for pattern in patterns:
        matched = FileSystems.match([pattern])[0].metadata_list
        if not matched:
            raise FileNotFoundError(f"filters.url: no file matches {pattern}")
        for metadata in matched:
            with FileSystems.open(metadata.path, compression_type=CompressionTypes.AUTO) as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    rule = line.split("#", 1)[0].strip()
                    if rule:
                        rules.append(rule)
    return rules


def url_key(url: str) -> str:
    """A URL without scheme, ``www.``, default port or trailing slash, host lowercased: how blocklists write them."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").removeprefix("www.")
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class UrlFilter:
    """Drops documents whose ``meta["url"]`` is on a blocklist; documents without a URL pass."""

    domains: frozenset[str] = frozenset()
    urls: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()

    @classmethod
    def build(cls, domains: Iterable[str] = (), urls: Iterable[str] = (), words: Iterable[str] = ()) -> UrlFilter:
        return cls(frozenset(d.lower().removeprefix("www.").strip(".") for d in domains), frozenset(url_key(u) for u in urls),
                   tuple(sorted({w.lower() for w in words})))

    def __bool__(self) -> bool:
        return bool(self.domains or self.urls or self.words)

    def measure(self, doc: Document) -> dict[str, str]:
        return {"url": doc.meta.get("url", "")}

    def __call__(self, doc: Document) -> Rejection | None:
        url = doc.meta.get("url")
        if not url:
            return None
        host = (urlsplit(url).hostname or "").lower()
        labels = host.split(".")
        for i in range(len(labels)):
            if ".".join(labels[i:]) in self.domains:
                return Rejection("url_domain", ".".join(labels[i:]))
        key = url_key(url)
        if key in self.urls:
            return Rejection("url_blocked", key)
        lowered = url.lower()
        for word in self.words:
            if word in lowered:
                return Rejection("url_word", word)
        return None
