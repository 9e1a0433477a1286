"""Resume at unit granularity: a curate interrupted after some units were analyzed reuses them,
a build interrupted after tokenizing reuses its tokenized shards, and runs killed at random moments across curate, tokenizer training and build end, when started
again with the same command, byte-identical to an uninterrupted run."""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from pipeline.curate import apply
from tests.conftest import base_config, paragraph_docs, write_jsonl


def many_units(tmp_path: Path, files: int = 10) -> list[dict]:
    """A text source of ``files`` JSONL files (about 40 KB each), about one work unit each with output.unit_mb 0.05."""
    docs = paragraph_docs(files * 60, seed=3)
    for f in range(files):
        write_jsonl(tmp_path / "in" / f"part-{f:02d}.jsonl", [{"id": f"d{f}-{i}", "text": t} for i, t in enumerate(docs[f * 60 : (f + 1) * 60])])
    docs[5] = docs[70]  # an exact duplicate across units
    return [{"name": "web", "paths": [str(tmp_path / "in" / "*.jsonl")], "format": "jsonl", "id_field": "id"}]


def digests(out: Path) -> dict[str, str]:
    """sha256 of every curated, drops, signals and dataset file."""
    files = [*out.glob("curated/part-*.parquet"), *out.glob("drops/*.parquet"), *out.glob("signals/*.parquet"), *out.glob("dataset/data-*.arrow")]
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files)}


def write_config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_an_interrupted_curate_reuses_its_analyzed_units(tmp_path, monkeypatch):
    sources = many_units(tmp_path)
    (tmp_path / "reference").mkdir()
    reference = write_config(tmp_path / "reference", base_config(tmp_path / "reference", sources, output={"unit_mb": 0.05}))
    assert main(["curate", str(reference), "--quiet"]) == 0
    config = write_config(tmp_path, base_config(tmp_path, sources, output={"unit_mb": 0.05}))

    def crash(*_):
        raise RuntimeError("killed after every unit was analyzed")

    monkeypatch.setattr(apply.ApplyUnit, "process", crash)
    assert main(["curate", str(config), "--quiet"]) != 0
    monkeypatch.undo()
    assert main(["curate", str(config), "--quiet"]) == 0
    report = json.loads((tmp_path / "out" / "report" / "report.json").read_text())["curate"]
    assert report["units"] >= 5 and report["units_resumed"] == report["units"]
    assert digests(tmp_path / "out") == digests(tmp_path / "reference" / "out")
    assert main(["curate", str(config), "--quiet", "--force"]) == 0  # --force redoes every unit
    assert json.loads((tmp_path / "out" / "report" / "report.json").read_text())["curate"]["units_resumed"] == 0


@pytest.mark.slow
def test_an_interrupted_build_reuses_its_tokenized_shards(tmp_path, monkeypatch):
    from pipeline.assemble import transforms

    sources = many_units(tmp_path)
    config = write_config(tmp_path, base_config(tmp_path, sources, output={"unit_mb": 0.05}))
    assert main(["run", str(config), "--quiet"]) == 0
    expected = digests(tmp_path / "out")

    def crash(*_):
        raise RuntimeError("killed after every shard was tokenized")

    monkeypatch.setattr(transforms.PackShard, "process", crash)
    assert main(["build", str(config), "--quiet", "--force"]) != 0
    monkeypatch.undo()
    assert main(["build", str(config), "--quiet"]) == 0
    build = json.loads((tmp_path / "out" / "report" / "report.json").read_text())["build"]
    curated = len(list((tmp_path / "out" / "curated").glob("part-*.parquet")))
    assert build["shards_resumed"] == curated >= 5
    assert digests(tmp_path / "out") == expected


@pytest.mark.slow
@pytest.mark.parametrize("mode, kills", [("in_memory", 12), ("multi_processing", 8)])
def test_runs_killed_at_random_moments_resume_to_identical_output(tmp_path, mode, kills):
    sources = many_units(tmp_path)
    beam = {"runner": "FnApiRunner", "direct_running_mode": mode, "direct_num_workers": 2}
    reference = tmp_path / "reference"
    reference.mkdir()
    started = time.monotonic()
    assert main(["run", str(write_config(reference, base_config(reference, sources, beam=beam, output={"unit_mb": 0.05}))), "--quiet"]) == 0
    seconds = time.monotonic() - started
    expected = digests(reference / "out")
    config = write_config(tmp_path, base_config(tmp_path, sources, beam=beam, output={"unit_mb": 0.05}))
    rng = random.Random(f"kills-{mode}")
    for k in range(kills):
        process = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(config), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        moment = rng.uniform(0.5, seconds + 2)  # process start-up included: some kills land in curate, some in training, some in the build
        try:
            process.wait(moment)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        assert main(["run", str(config), "--quiet"]) == 0, f"kill {k} at {moment:.1f}s"
        assert digests(tmp_path / "out") == expected, f"kill {k} at {moment:.1f}s"
        for job in ("dataset", "tokenizer", "curated"):  # the next kill starts from nothing complete
            (tmp_path / "out" / job / "_SUCCESS").unlink()
