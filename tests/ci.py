"""The whole test run, in virtualenvs it builds itself (never the machine's site-packages): what
``.ci/run`` runs and the README's test command. Phases, each timed:

1. ``readme``: the README's install-and-demo command exactly as written (pip, ``requirements.lock``
   with its hashes), in a fresh virtualenv.
2. ``lock``: ``requirements-test.lock`` exactly (hashes checked): the full test suite, after the
   system tools the tests use (chromium, Beam's Flink and Spark job servers).
3. ``lowest``: every direct dependency at the lowest version its range in ``pyproject.toml`` allows
   (uv's ``lowest-direct``): the demo (a curate with exact and near dedup, a tokenizer, a build)
   and the fast tests (``-m "not slow"``).
4. ``newest``: today's newest versions in range: the same checks; when they fail, every package
   whose version differs from the lock is named.

The last line sums the test counts of every phase. A skipped test fails the run (CI skips none).

    python3 tests/ci.py [--phases readme,lock,lowest,newest] [--keep]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.environment import normalized, pinned  # noqa: E402  (stdlib only, like this script)

PYTHON = "3.11"  # the interpreter the locks hold (pyproject.toml's [tool.uv] environments)
PHASES = ("readme", "lock", "lowest", "newest")
SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


class PhaseFailed(RuntimeError):
    pass


def run(command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, capture: bool = False, check: bool = True) -> tuple[int, str]:
    """Runs ``command`` with its output streamed; returns its exit code and (when ``capture``) its
    output. A non-zero exit fails the phase when ``check``."""
    print("$", " ".join(command), flush=True)
    lines = []
    with subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None, text=True) as proc:
        for line in proc.stdout or ():
            sys.stdout.write(line)
            lines.append(line)
    if check and proc.returncode:
        raise PhaseFailed(f"{' '.join(command[:3])} exited {proc.returncode}")
    return proc.returncode, "".join(lines)


def activated(venv: Path) -> dict[str, str]:
    """The environment variables that put virtualenv ``venv`` first, as its ``activate`` does, and
    keep the machine's Python paths and user site out."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


class Environments:
    """Fresh virtualenvs under one temporary folder, made and filled by uv (itself in a virtualenv there)."""

    def __init__(self, root: Path):
        self.root = root
        run([sys.executable, "-m", "venv", str(root / "uv")])
        run([str(root / "uv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "uv"])
        self.uv = str(root / "uv" / "bin" / "uv")

    def create(self, name: str, *install: list[str]) -> dict[str, str]:
        """A new virtualenv ``name``, each of ``install`` (``uv pip install`` arguments) run in it; returns the
        environment variables that put it first (as ``activate`` does)."""
        path = self.root / name
        run([self.uv, "venv", "-q", "--python", PYTHON, str(path)])
        for args in install:
            run([self.uv, "pip", "install", "-q", "--python", str(path / "bin" / "python"), *args])
        return activated(path)

    def versions(self, name: str) -> dict[str, str]:
        """Installed package (normalized name) → version in virtualenv ``name`` (the editable corpusmill left out)."""
        _, frozen = run([self.uv, "pip", "freeze", "-q", "--python", str(self.root / name / "bin" / "python")], capture=True)
        return {normalized(name): version for name, version in (line.split("==", 1) for line in frozen.splitlines() if "==" in line)}


def pytest(env: dict[str, str], counts: Counter, *args: str) -> None:
    """Runs the tests in ``env`` and adds its closing counts to ``counts``; a failure or a skip fails the phase."""
    code, output = run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], env=env, capture=True, check=False)
    closing = [line for line in output.splitlines() if SUMMARY.search(line)]
    found = Counter({("error" if kind.startswith("error") else kind): int(n) for n, kind in SUMMARY.findall(closing[-1])}) if closing else Counter()
    counts.update(found)
    if code:
        raise PhaseFailed(f"pytest exited {code}")
    if found["skipped"]:
        raise PhaseFailed(f"{found['skipped']} test(s) skipped: CI skips none")


def demo(env: dict[str, str], where: Path) -> None:
    """``corpusmill demo`` in an empty folder: a curate with exact and near dedup, a tokenizer and a build."""
    where.mkdir(parents=True, exist_ok=True)
    run(["corpusmill", "demo", "--quiet"], env=env, cwd=where)
    if not (where / "out" / "demo" / "dataset" / "_SUCCESS").exists():
        raise PhaseFailed("the demo wrote no complete dataset")


def readme_demo_command() -> str:
    """The README's install-and-demo command (the ``bash`` block with ``pip install`` and ``corpusmill demo``)."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    (command,) = [b.strip() for b in blocks if "corpusmill demo" in b and "pip install" in b]
    return command


def phase_readme(envs: Environments, counts: Counter) -> None:
    """The README's command as a user pastes it, with pip in a plain virtualenv."""
    venv = envs.root / "readme"
    run([sys.executable, "-m", "venv", str(venv)])
    run(["bash", "-c", f"set -e; rm -rf out/demo; {readme_demo_command()}"], env=activated(venv))


def phase_lock(envs: Environments, counts: Counter) -> None:
    env = envs.create("lock", ["--require-hashes", "-r", "requirements-test.lock"], ["--no-deps", "-e", "."])
    run(["bash", "tests/setup_system.sh"], env=env)
    run(["bash", "jobs/fetch_runner_jars.sh"], env=env)
    pytest(env, counts)


def check_range(envs: Environments, counts: Counter, name: str, resolution: str) -> None:
    env = envs.create(name, ["--resolution", resolution, "-e", ".[test]"])
    print(f"[{name}] direct dependencies: {direct_versions(envs.versions(name))}", flush=True)
    demo(env, envs.root / f"{name}-demo")
    pytest(env, counts, "-m", "not slow")


def direct_versions(installed: dict[str, str]) -> str:
    """The installed versions of pyproject.toml's direct dependencies and its extras'."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    wanted = {normalized(m.group(0)) for r in requirements if (m := re.match(r"[A-Za-z0-9_.\-]+", r))}
    return ", ".join(f"{k} {v}" for k, v in sorted(installed.items()) if normalized(k) in wanted)


def phase_lowest(envs: Environments, counts: Counter) -> None:
    check_range(envs, counts, "lowest", "lowest-direct")


def phase_newest(envs: Environments, counts: Counter) -> None:
    try:
        check_range(envs, counts, "newest", "highest")
    except PhaseFailed:
        lock = envs.versions("lock") if (envs.root / "lock").exists() else locked_versions()
        print("[newest] failed on today's newest versions; these differ from the lock: " + ("; ".join(differing(lock, envs.versions("newest"))) or "none"), flush=True)
        raise


def differing(lock: dict[str, str], newest: dict[str, str]) -> list[str]:
    """``name lock -> newest`` for every package whose version differs (``-``: not installed there)."""
    return [f"{k} {lock.get(k, '-')} -> {newest.get(k, '-')}" for k in sorted(set(lock) | set(newest)) if lock.get(k) != newest.get(k)]


def locked_versions() -> dict[str, str]:
    """Package → version pinned in ``requirements-test.lock`` (every platform's lines)."""
    return pinned(ROOT / "requirements-test.lock")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated, of {', '.join(PHASES)} (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the virtualenvs' folder (default: removed after a passing run)")
    args = parser.parse_args(argv)
    phases = args.phases.split(",")
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(unknown)}: choose from {', '.join(PHASES)}")
    root = Path(tempfile.mkdtemp(prefix="corpusmill-ci-"))
    counts: Counter = Counter()
    times: dict[str, float] = {}
    failed = None
    start = time.monotonic()
    try:
        envs = Environments(root)
        for name in PHASES:
            if name not in phases:
                continue
            print(f"[ci] phase {name}", flush=True)
            began = time.monotonic()
            try:
                globals()[f"phase_{name}"](envs, counts)
            except PhaseFailed as e:
                failed = f"phase {name}: {e}"
                break
            finally:
                times[name] = time.monotonic() - began
                print(f"[ci] phase {name}: {times[name]:.0f} s", flush=True)
    finally:
        if failed or args.keep:
            print(f"[ci] virtualenvs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"[ci] {', '.join(f'{k} {v:.0f} s' for k, v in times.items())}; total {time.monotonic() - start:.0f} s" + (f"; FAILED at {failed}" if failed else ""))
    print(f"ci: {counts['passed']} passed, {counts['failed'] + counts['error']} failed" + (f", {counts['skipped']} skipped" if counts["skipped"] else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
