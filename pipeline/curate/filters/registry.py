"""The rule filters, found by module: each module of ``pipeline.curate.filters.rules`` declares its
filters with ``@rule_filter``, and nothing else is edited to add one.

A registered filter gets a config block ``filters.<name>`` (its constructor parameters with their
defaults, plus ``enabled``), a place in the chain (``filters.order``, by default the filters'
declared ``position``), its signal columns and its line in ``corpusmill filters explain``.
``@compat_variant`` registers the class a ``filters.compat`` mode runs instead (datatrove's rules).
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache
from typing import NamedTuple, TypeVar

RULES_PACKAGE = "pipeline.curate.filters.rules"
SOURCE_KINDS = ("text", "code")


class FilterSpec(NamedTuple):
    """How a rule filter is configured and placed."""

    name: str  # its config block and signal column prefix
    filter_class: type
    position: int  # its place in the default order (smaller runs first)
    kinds: tuple[str, ...]  # the source kinds whose documents it judges
    enabled: bool  # on by default
    exclude: tuple[str, ...]  # constructor parameters not offered in the config block
    english_only: bool  # judges only documents identified as English (or unlabelled)


_specs: dict[str, FilterSpec] = {}
_variants: dict[tuple[str, str], type] = {}
F = TypeVar("F", bound=type)


def rule_filter(position: int, kinds: tuple[str, ...] = ("text",), enabled: bool = True, exclude: tuple[str, ...] = (),
                english_only: bool = False) -> Callable[[F], F]:
    """Registers a filter class under its ``name``; it is built with the config block's values as keyword arguments."""
    unknown = set(kinds) - set(SOURCE_KINDS)
    if unknown:
        raise ValueError(f"kinds: unknown source kinds {sorted(unknown)} (expected {', '.join(SOURCE_KINDS)})")

    def register(cls: F) -> F:
        name = getattr(cls, "name", None)
        if not isinstance(name, str):
            raise TypeError(f"{cls.__name__}: a rule filter names its config block in a class attribute `name`")
        if name in _specs and _specs[name].filter_class is not cls:
            raise ValueError(f"rule filter {name!r} is registered twice: {_specs[name].filter_class.__name__} and {cls.__name__}")
        _specs[name] = FilterSpec(name, cls, position, tuple(kinds), enabled, tuple(exclude), english_only)
        return cls

    return register


def compat_variant(mode: str, name: str) -> Callable[[F], F]:
    """Registers the class ``filters.compat: <mode>`` runs in place of the rule filter ``name`` (same parameters)."""

    def register(cls: F) -> F:
        _variants[(mode, name)] = cls
        return cls

    return register


@cache
def _discover() -> None:
    package = importlib.import_module(RULES_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{RULES_PACKAGE}.{module.name}")


def rule_filters() -> list[FilterSpec]:
    """Every registered rule filter, in the default chain order."""
    _discover()
    return sorted(_specs.values(), key=lambda spec: (spec.position, spec.name))


def compat_modes() -> tuple[str, ...]:
    """``none`` (corpusmill's own rules) and every mode a variant is registered for."""
    _discover()
    return ("none", *sorted({mode for mode, _ in _variants}))


def filter_class(name: str, compat: str) -> type:
    """The class that runs the rule filter ``name`` in ``compat`` mode (its own class where the mode has no variant)."""
    _discover()
    return _variants.get((compat, name), _specs[name].filter_class)
