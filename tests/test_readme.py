"""The README's trainer path as a user pastes it: ``corpusmill demo`` from a directory outside the
checkout, every ``python`` block in order in one interpreter, and the ``corpusmill export`` block."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def demo_directory(tmp_path_factory) -> Path:
    """``corpusmill demo`` run where a user might: an empty directory, not the repository."""
    where = tmp_path_factory.mktemp("user")
    (first,) = [b for b in blocks("bash") if "corpusmill demo" in b and "pip install" in b]
    command = first.strip().split("&&")[-1].strip()
    assert command == "corpusmill demo"
    done = subprocess.run(command.split() + ["--quiet"], cwd=where, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (where / "out" / "demo" / "dataset" / "_SUCCESS").exists()
    return where


@pytest.mark.slow
def test_the_python_blocks_run_as_written_on_the_demo(demo_directory):
    script = "\n\n".join(blocks("python"))
    assert "reader.batches(" in script and "labels=batch[\"labels\"]" in script
    done = subprocess.run([sys.executable, "-c", script], cwd=demo_directory, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", done.stdout)]
    assert losses and all(0 < x < 20 for x in losses)
    assert "'consumed': 96" in done.stdout  # 12 steps of 8 rows, counted in the main process with 2 DataLoader workers
    assert (demo_directory / "checkpoint.pt").exists()


@pytest.mark.slow
def test_the_export_block_runs_as_written_and_both_exports_are_recorded(demo_directory):
    import json

    (block,) = [b for b in blocks("bash") if "corpusmill export megatron" in b]
    for line in block.strip().splitlines():
        command = line.split("#")[0].split()
        done = subprocess.run(command + ["--quiet"], cwd=demo_directory, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    exports = json.loads((demo_directory / "out" / "demo" / "dataset" / "manifest.json").read_text())["exports"]["megatron"]
    assert set(exports) == {"out/megatron/demo", "out/megatron/demo_all"} and not exports["out/megatron/demo"]["merged"]
