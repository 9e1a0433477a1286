"""The CI driver's own logic (``tests/ci.py``): what it reads from the README, the lock and pytest."""
from __future__ import annotations

from collections import Counter

import ci
import pytest


def test_a_failing_newest_set_names_every_package_that_differs_from_the_lock():
    lock = {"apache-beam": "2.78.0", "numpy": "2.4.6", "colorama": "0.4.6"}
    newest = {"apache-beam": "2.79.0", "numpy": "2.4.6", "grpcio": "1.90.0"}
    assert ci.differing(lock, newest) == ["apache-beam 2.78.0 -> 2.79.0", "colorama 0.4.6 -> -", "grpcio - -> 1.90.0"]


def test_the_locked_versions_and_the_readme_command_are_read_from_the_files():
    locked = ci.locked_versions()
    assert locked["apache-beam"].startswith("2.") and "torch" in locked
    assert ci.readme_demo_command().endswith("corpusmill demo") and "requirements.lock" in ci.readme_demo_command()


def test_pytest_counts_add_up_and_a_skip_fails_the_phase(monkeypatch):
    outputs = iter([(0, "...\n3 passed, 2 deselected in 1.0s\n"), (0, "..s\n2 passed, 1 skipped in 1.0s\n"), (1, "F.\n1 failed, 1 passed, 1 error in 1.0s\n")])
    monkeypatch.setattr(ci, "run", lambda *args, **kwargs: next(outputs))
    counts: Counter = Counter()
    ci.pytest({}, counts)
    with pytest.raises(ci.PhaseFailed, match="skipped"):
        ci.pytest({}, counts)
    with pytest.raises(ci.PhaseFailed, match="exited 1"):
        ci.pytest({}, counts)
    assert (counts["passed"], counts["failed"], counts["error"], counts["skipped"]) == (6, 1, 1, 1)
