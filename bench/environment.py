"""Which tested set a bench ran on: every figure in docs/ names the lock it was measured with."""
from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements-test.lock", "requirements.lock")


def pinned(lock: Path) -> dict[str, str]:
    """Package (normalized name) → version, from a lock's ``name==version`` lines."""
    return {normalized(name): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", lock.read_text(), re.M)}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_set() -> str:
    """``installed set: LOCK (sha256 …)`` when every package the lock pins and this interpreter has
    is at the locked version (platform-only lines aside), else the packages that differ from the
    first lock."""
    installed = {normalized(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for name in LOCKS:
        lock = ROOT / name
        differ = {k: (v, installed[k]) for k, v in pinned(lock).items() if k in installed and installed[k] != v}
        if not differ:
            return f"installed set: {name} (sha256 {hashlib.sha256(lock.read_bytes()).hexdigest()[:12]})"
    first = pinned(ROOT / LOCKS[0])
    return "installed set: no lock; differs from " + LOCKS[0] + " in " + ", ".join(
        f"{k} {installed[k]} (lock {v})" for k, v in sorted(first.items()) if k in installed and installed[k] != v)


def print_installed_set() -> None:
    print(installed_set(), flush=True)
