"""Beam's flags from a config's ``beam:`` section and the command line, without importing Beam."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULTS = {"runner": "FnApiRunner", "default_sdk_harness_log_level": "WARN"}  # WARN: a level Java job servers parse too


def _flag(key: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return [f"--{key}"] if value else []
    if isinstance(value, list):
        return [f"--{key}={v}" for v in value]
    return [f"--{key}={value}"]


def beam_args(beam_config: dict[str, Any], extra_args: Sequence[str] = ()) -> list[str]:
    """The flag list for ``PipelineOptions``; adds ``--runner=FnApiRunner`` (and quiet workers) unless given."""
    args = [f for key, value in beam_config.items() for f in _flag(key, value)]
    args += list(extra_args)
    for key, value in DEFAULTS.items():
        if not any(a == f"--{key}" or a.startswith(f"--{key}=") for a in args):
            args.insert(0, f"--{key}={value}")
    return args


def flag_value(args: Sequence[str], key: str) -> str | None:
    """The last value ``args`` give ``--key`` (as ``--key=value`` or ``--key value``), else None."""
    value = None
    for i, arg in enumerate(args):
        if arg.startswith(f"--{key}="):
            value = arg.split("=", 1)[1]
        elif arg == f"--{key}" and i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
    return value
