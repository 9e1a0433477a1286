"""Torture inputs, kill-and-resume, skipping up-to-date jobs, preflight checks, determinism across runners."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.cli import main
from pipeline.dataset import IncompleteDatasetError, load
from tests.conftest import base_config
from tests.torture import write_torture_corpus


def write_config(tmp_path: Path, config: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def torture(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("torture")
    paths = write_torture_corpus(tmp_path / "in")
    sources = [
        {"name": "messy", "paths": paths["messy"], "id_field": "id"},
        {"name": "files", "paths": paths["files"], "format": "text"},
        {"name": "columnar", "paths": paths["columnar"], "format": "parquet"},
    ]
    config = base_config(tmp_path, sources, max_dead_letter_fraction=1.0, max_document_bytes=1_000_000, dedup={"exact": True, "minhash": {"enabled": False}})
    assert main(["curate", str(write_config(tmp_path, config)), "--quiet"]) == 0
    return Path(config["output_dir"])


def test_every_torture_record_ends_in_exactly_one_place(torture):
    report = json.loads((torture / "report" / "report.json").read_text())["curate"]["sources"]
    assert all(e["reconciles"] for e in report.values())
    dead = [json.loads(line) for f in sorted((torture / "dead_letter").glob("*.jsonl")) for line in f.read_text().splitlines()]
    messy = {(Path(d["file"]).name, d.get("line")): d["error"] for d in dead if d["source"] == "messy"}
    assert "invalid JSON" in messy[("messy.jsonl", 2)]
    assert "invalid UTF-8" in messy[("messy.jsonl", 3)]
    assert "invalid JSON" in messy[("messy.jsonl", 4)]  # a raw NUL inside a JSON string
    assert "missing text field" in messy[("messy.jsonl", 7)]
    assert "not a string" in messy[("messy.jsonl", 8)]
    assert "missing text field" in messy[("messy.jsonl", 9)]  # null counts as missing
    assert "exceeds max_document_bytes" in messy[("messy.jsonl", 13)]
    assert "expected a JSON object" in messy[("messy.jsonl", 14)]
    truncated = {name: error for (name, _), error in messy.items() if name.startswith("trunc")}
    assert set(truncated) == {"trunc.jsonl.gz", "trunc.jsonl.zst"} and all("unreadable after line" in e for e in truncated.values())
    files = {Path(d["file"]).name: d for d in dead if d["source"] == "files"}
    assert set(files) == {"bad.txt"} and files["bad.txt"]["line"] == 2
    (columnar,) = [d for d in dead if d["source"] == "columnar"]
    assert "no column 'text'" in columnar["error"]

    curated = {r["id"]: r["text"] for f in (torture / "curated").glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    assert curated["messy/bom"].endswith(" bom")
    assert "\x00" not in curated["messy/escnul"] and "\ufffd" in curated["messy/surrogate"]
    assert "\r" not in curated["messy/crlf"] and "\nwindows\n" in curated["messy/crlf"]
    assert curated["files/bom_crlf.txt"].startswith("A perfectly") and "\r" not in curated["files/bom_crlf.txt"]
    assert "messy/shared" in curated and "files/shared" in curated  # the same original id in two sources
    drops = {r["id"]: r["reason"] for f in (torture / "drops").glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    assert drops["messy/empty"] == "empty"
    assert sum(1 for i, reason in drops.items() if i.startswith("messy/tiny") and reason == "too_short") == 100_000
    messy_report = report["messy"]
    assert messy_report["read"] == messy_report["kept"] + sum(messy_report["dropped"].values()) + messy_report["dead_lettered"]
    assert messy_report["kept"] > 6  # the good rows of messy.jsonl and the readable halves of the truncated files


def test_error_budget_and_preflight_fail_with_one_clear_line(tmp_path, corpus, capsys):
    previous = base_config(tmp_path, corpus["sources"])
    assert main(["curate", str(write_config(tmp_path, previous)), "--quiet"]) == 0
    missing = dict(previous, sources=[*corpus["sources"], {"name": "typo", "paths": [str(tmp_path / "nope" / "*.jsonl")]}])
    assert main(["curate", str(write_config(tmp_path, missing, "missing.yaml")), "--quiet"]) == 1
    assert "InputNotFoundError: source 'typo': no file matches" in capsys.readouterr().err
    assert (tmp_path / "out" / "curated" / "_SUCCESS").exists()  # the finished output was not touched
    blocked = tmp_path / "a_file"
    blocked.write_text("not a directory")
    unwritable = dict(previous, output_dir=str(blocked / "out"))
    assert main(["curate", str(write_config(tmp_path, unwritable, "unwritable.yaml")), "--quiet"]) == 1
    assert "is not writable" in capsys.readouterr().err
    no_tokenizer = dict(previous, tokenizer={"path": str(tmp_path / "no_tokenizer")})
    assert main(["build", str(write_config(tmp_path, no_tokenizer, "tok.yaml")), "--quiet"]) == 1
    assert "is not a usable tokenizer directory" in capsys.readouterr().err
    tiny_seq = dict(previous, pack={"seq_len": 8})
    assert main(["run", str(write_config(tmp_path, tiny_seq, "seq.yaml")), "--quiet"]) == 2
    assert "pack.seq_len: must be at least" in capsys.readouterr().err


@pytest.mark.slow
def test_up_to_date_jobs_are_skipped_and_force_redoes_them(tmp_path, corpus, capsys):
    path = write_config(tmp_path, base_config(tmp_path, corpus["sources"], dedup={"minhash": {"enabled": False}}))
    assert main(["run", str(path)]) == 0
    first = json.loads((tmp_path / "out" / "dataset" / "manifest.json").read_text())
    capsys.readouterr()
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[curate] up to date" in out and "[build] up to date" in out
    assert main(["build", str(path), "--force"]) == 0
    assert "[build] up to date" not in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "dataset" / "manifest.json").read_text())["shards"] == first["shards"]


@pytest.mark.slow
def test_a_killed_build_leaves_nothing_loadable_and_resumes(tmp_path, corpus):
    config = base_config(tmp_path, corpus["sources"], dedup={"minhash": {"enabled": False}})
    path = write_config(tmp_path, config)
    assert main(["run", str(path), "--quiet"]) == 0
    reference = json.loads((tmp_path / "out" / "dataset" / "manifest.json").read_text())["shards"]
    dataset = tmp_path / "out" / "dataset"
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "build", str(path), "--force", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while (dataset / "_SUCCESS").exists() and time.monotonic() < deadline:  # the rerun first clears the old output
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (dataset / "_SUCCESS").exists()
    with pytest.raises(IncompleteDatasetError):
        load(str(dataset))
    with pytest.raises(Exception):
        datasets.load_from_disk(str(dataset))  # state.json is written last, just before _SUCCESS
    assert main(["build", str(path), "--quiet"]) == 0  # no marker: redone from scratch
    assert json.loads((dataset / "manifest.json").read_text())["shards"] == reference
    assert len(load(str(dataset))) > 0


@pytest.mark.slow
def test_portable_runner_gives_the_same_shards(tmp_path, corpus):
    config = base_config(tmp_path, corpus["sources"], dedup={"minhash": {"enabled": False}})
    local = write_config(tmp_path, config, "local.yaml")
    assert main(["run", str(local), "--quiet"]) == 0
    portable = write_config(tmp_path, dict(config, output_dir=str(tmp_path / "portable")), "portable.yaml")
    assert main(["run", str(portable), "--quiet", "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]) == 0
    shards = lambda d: [s["sha256"] for s in json.loads((d / "dataset" / "manifest.json").read_text())["shards"]]  # noqa: E731
    assert shards(tmp_path / "out") == shards(tmp_path / "portable")
