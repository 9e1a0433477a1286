"""numba's ``njit`` with its on-disk cache where there is a writable place for it.

numba caches a compiled kernel next to its module (``__pycache__``), else in the user's cache
folder or where ``NUMBA_CACHE_DIR`` points. Where none is writable (a read-only install run by a
user without a home, as on some cluster workers) ``cache=True`` raises at import; there each
process compiles its kernels on first use instead (~1-3 s).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from numba import njit

Function = TypeVar("Function", bound=Callable[..., Any])


def compiled(**options: Any) -> Callable[[Function], Function]:
    """``njit(cache=True, **options)``, or ``njit(**options)`` where numba has nowhere to cache."""
    def decorate(function: Function) -> Function:
        try:
            return njit(cache=True, **options)(function)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return njit(**options)(function)
    return decorate
