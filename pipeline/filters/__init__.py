"""Document filters: each a small function returning ``None`` (keep) or a ``Rejection``."""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import Config
from pipeline.documents import Document, Drop
from pipeline.filters.base import DocumentFilter, apply_filters
from pipeline.filters.length import MinLength


def filters_for_source(config: Config, source_name: str) -> list[DocumentFilter]:
    """The enabled filters, in order, for one source."""
    chain: list[DocumentFilter] = []
    if config.filters.min_length.enabled:
        chain.append(MinLength(config.filters.min_length.min_chars))
    return chain


@dataclass(frozen=True)
class SourceFilterChains:
    """Applies each document's own source chain; a plain picklable callable for ``DocumentStage``."""

    chains: dict[str, list[DocumentFilter]]

    @classmethod
    def from_config(cls, config: Config) -> "SourceFilterChains":
        return cls({s.name: filters_for_source(config, s.name) for s in config.sources})

    def __call__(self, doc: Document) -> Document | Drop:
        return apply_filters(self.chains[doc.source], doc)
