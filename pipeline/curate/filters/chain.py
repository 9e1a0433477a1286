"""A source's filter chain, built from the config: each filter constructed from its config block, the
rule filters (``registry``) in ``filters.order``."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.config import Config, FiltersConfig, SourceConfig, filters_for
from pipeline.curate.filters.base import DocumentFilter, Rejection, RuleFilter, apply_filters
from pipeline.curate.filters.classifier import ClassifierFilter
from pipeline.curate.filters.decontam import Decontaminate, DecontaminationIndex
from pipeline.curate.filters.pii import PiiRedactor
from pipeline.curate.filters.registry import filter_class, rule_filters
from pipeline.curate.filters.text import is_unspaced
from pipeline.curate.filters.url import UrlFilter, rules_from_files
from pipeline.records import Document, Drop


def _params(block: Any) -> dict[str, Any]:
    """A config block's fields but ``enabled``: the filter's constructor parameters."""
    return {k: v for k, v in dataclasses.asdict(block).items() if k != "enabled"}


@dataclass(frozen=True)
class EnglishOnly:
    """Runs an English-centric filter (C4) only on documents identified as English (or unlabelled)."""

    inner: DocumentFilter

    def measure(self, doc: Document) -> dict[str, Any]:
        return self.inner.measure(doc)  # type: ignore[attr-defined]

    def __call__(self, doc: Document) -> Any:
        language = doc.meta.get("language")
        return None if language not in (None, "en") or is_unspaced(language) else self.inner(doc)


def url_filter(f: FiltersConfig) -> UrlFilter | None:
    """The source's URL blocklists (files read here, on the driver), or None when it has none."""
    u = f.url
    if not u.enabled:
        return None
    built = UrlFilter.build([*u.domains, *rules_from_files(u.domain_files)], [*u.urls, *rules_from_files(u.url_files)],
                            [*u.words, *rules_from_files(u.word_files)])
    return built or None


def filters_for_source(config: Config, source: SourceConfig, decontamination: DecontaminationIndex | None = None) -> list[DocumentFilter]:
    """The enabled filters, in order, for one source (by its kind, with its overrides)."""
    f = filters_for(config, source)
    chain: list[DocumentFilter] = []
    urls = url_filter(f)
    if urls is not None:
        chain.append(urls)
    specs = {spec.name: spec for spec in rule_filters()}
    for name in f.order:
        spec, block = specs[name], getattr(f, name)
        if block.enabled and source.kind in spec.kinds:
            check = filter_class(name, f.compat)(**_params(block))
            chain.append(EnglishOnly(check) if spec.english_only else check)
    chain += [ClassifierFilter(c.name, c.model, c.min_score, c.action) for c in f.classifiers if c.enabled]
    if f.decontaminate.enabled and decontamination is not None and len(decontamination.hashes):
        chain.append(Decontaminate(decontamination))
    if f.pii.enabled and f.pii.redact:
        chain.append(PiiRedactor(tuple(f.pii.redact)))
    return chain


def build_decontamination_index(config: Config) -> DecontaminationIndex | None:
    """One index for every eval path any source names (built on the driver, once)."""
    paths = sorted({p for s in config.sources for p in filters_for(config, s).decontaminate.paths if filters_for(config, s).decontaminate.enabled})
    if not paths:
        return None
    return DecontaminationIndex.build(paths, config.filters.decontaminate.ngram)


@dataclass(frozen=True)
class SourceFilterChains:
    """Applies each document's own source chain; a plain picklable callable the analyze step runs."""

    chains: dict[str, list[DocumentFilter]]

    @classmethod
    def from_config(cls, config: Config) -> SourceFilterChains:
        index = build_decontamination_index(config)
        return cls({s.name: filters_for_source(config, s, index) for s in config.sources})

    def __call__(self, doc: Document, signals: dict[str, Any] | None = None) -> Document | Drop:
        return apply_filters(self.chains[doc.source], doc, signals)

    def signal_types(self, source: str) -> dict[str, type]:
        """The signal columns the source's chain fills (``<filter>_<value>`` → type), in chain order."""
        return {f"{check.name}_{key}": kind for check in self.chains[source] if isinstance(check, RuleFilter) for key, kind in check.signal_types().items()}

    def classifiers(self, source: str) -> list[str]:
        return [check.name for check in self.chains[source] if isinstance(check, ClassifierFilter)]


def with_compat(config: Config, mode: str) -> Config:
    """The config with ``filters.compat`` set to ``mode`` globally and in every source's overrides."""
    sources = [dataclasses.replace(s, filters=dataclasses.replace(s.filters, compat=mode)) if s.filters is not None else s for s in config.sources]
    return dataclasses.replace(config, filters=dataclasses.replace(config.filters, compat=mode), sources=sources)


def _thresholds(check: Any) -> dict[str, Any]:
    if not dataclasses.is_dataclass(check) or isinstance(check, EnglishOnly):
        return {}
    return {f.name: getattr(check, f.name) for f in dataclasses.fields(check) if isinstance(getattr(check, f.name), (int, float)) and not f.name.startswith("_")}


def explain(chain: list[DocumentFilter], doc: Document) -> list[dict[str, Any]]:
    """Every filter's measured values, thresholds and verdict for one document, as ``filters explain`` prints them."""
    rows = []
    for check in chain:
        measured = check.measure(doc) if hasattr(check, "measure") else {}
        result = check(doc)
        verdict = f"DROP {result.reason} ({result.detail})" if isinstance(result, Rejection) else ("keep (changed)" if isinstance(result, Document) else "keep")
        name = type(check).__name__ if not isinstance(check, EnglishOnly) else f"EnglishOnly({type(check.inner).__name__})"
        rows.append({"filter": name, "measured": measured, "thresholds": _thresholds(check), "verdict": verdict})
        if isinstance(result, Document):
            doc = result
    return rows
