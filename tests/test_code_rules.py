"""Rules of the code itself: the import rules of docs/architecture.md ("Layout"), checked on every
import statement (module level and inside functions alike) of pipeline/, tokenizer/ and jobs/;
and ruff's and mypy's rules from pyproject.toml."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ("pipeline.records", "pipeline.config", "pipeline.config_checks", "pipeline.layout", "pipeline.io")
COUNT_KEYS = "pipeline.report.counts"  # the count-key contract every step emits with
STAGES = ("pipeline.read", "pipeline.curate", "pipeline.assemble", "pipeline.report", "pipeline.engine", "pipeline.tools", "pipeline.dataset", "pipeline.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) for every import of a project module."""
    found = []
    for package in ("pipeline", "tokenizer", "jobs"):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = module_name(path)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                else:
                    continue
                found += [(module, name, node.lineno) for name in names if name.split(".")[0] in ("pipeline", "tokenizer", "jobs")]
    return found


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def broken_rule(importer: str, imported: str) -> str | None:
    """The rule an import breaks, or None."""
    if within(importer, "tokenizer") and not within(imported, "tokenizer"):
        return "tokenizer imports nothing of pipeline or jobs"
    if within(imported, "jobs") and not within(importer, "jobs", "pipeline.cli", "pipeline.tools"):
        return "only the CLI (and its tools) import jobs"
    if within(importer, "pipeline.io", "pipeline.records") and within(imported, *STAGES):
        return "the core (records, io) imports no stage"
    if within(importer, "pipeline.config", "pipeline.config_checks") and within(imported, *STAGES) and not within(imported, "pipeline.curate.filters"):
        return "config imports no stage but the heuristic filter classes"
    if within(importer, "pipeline.read") and within(imported, "pipeline.curate", "pipeline.assemble", "pipeline.report", "pipeline.tools", "pipeline.cli"):
        return "read imports no later stage"
    if within(importer, "pipeline.curate") and within(imported, "pipeline.assemble", "pipeline.report", "pipeline.tools", "pipeline.cli") and imported != COUNT_KEYS:
        return "curate imports no later stage, and of report only its count keys"
    if within(importer, "pipeline.assemble") and within(imported, "pipeline.report", "pipeline.tools", "pipeline.cli") and imported != COUNT_KEYS:
        return "build imports no tool or CLI, and of report only its count keys"
    if within(importer, "pipeline.report") and within(imported, *STAGES) and not within(imported, "pipeline.report", "pipeline.read.units"):
        return "report reads counts, records and unit contracts only"
    return None


def test_imports_follow_the_layering_rules():
    violations = [f"{a}:{line} imports {b}: {rule}" for a, b, line in imports() if (rule := broken_rule(a, b))]
    assert not violations, "\n".join(violations)


def test_the_rules_catch_what_they_name():
    assert broken_rule("tokenizer.encode", "pipeline.records")
    assert broken_rule("pipeline.curate.apply", "pipeline.report.accounting")
    assert broken_rule("pipeline.io.spill", "pipeline.curate.dedup.nodes")
    assert broken_rule("pipeline.read.formats", "pipeline.curate.normalize")
    assert broken_rule("pipeline.curate.analyze", "jobs.curate")
    assert broken_rule("pipeline.config", "pipeline.curate.filters.rules.gopher") is None
    assert broken_rule("pipeline.assemble.tokenize", "pipeline.curate.filters.text") is None
    assert broken_rule("pipeline.curate.apply", "pipeline.report.counts") is None


def test_ruff_finds_nothing_in_the_package_code():
    """The lint rules of pyproject.toml (E, F, W, B, UP, SIM, I) hold on pipeline/, tokenizer/ and jobs/."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ruff", "check", "pipeline", "tokenizer", "jobs", "--output-format", "concise"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_finds_nothing_in_the_package_code():
    """The type hints of pipeline/, tokenizer/ and jobs/ check ([tool.mypy] in pyproject.toml)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_bench_compiles_and_names_the_installed_set_first():
    """Each bench script parses, and its figures start with the set they ran on (bench/environment.py)."""
    import sys

    sys.path.insert(0, str(ROOT))
    from bench.environment import installed_set

    runs_in_datatrove_venv = {"datatrove_reference.py"}  # records a reference in datatrove's own virtualenv, no figures
    scripts = [p for p in sorted((ROOT / "bench").glob("*.py")) if "def main(" in p.read_text() and p.name not in runs_in_datatrove_venv]
    assert len(scripts) > 20
    for path in scripts:
        compile(path.read_text(), str(path), "exec")
        assert 'if __name__ == "__main__":\n    print_installed_set()\n    main()\n' in path.read_text(), path.name
    assert installed_set().startswith("installed set: ")
