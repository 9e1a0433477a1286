"""Real engines: the whole run (curate with exact + near dedup, tokenizer training, build with
mixing, FIM, token splits and packing) on Flink's embedded cluster and on Spark in local mode
gives byte-identical files and the same counts as the local FnApiRunner.

The job servers come from ``jobs/fetch_runner_jars.sh`` (run by ``.ci/run``); without them these
tests fail, they never skip."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from tests.conftest import base_config

ENGINES = {
    "flink": ["--runner=FlinkRunner", "--flink_master=[local]", "--environment_type=LOOPBACK", "--parallelism=2"],
    "spark": ["--runner=SparkRunner", "--spark_master_url=local[2]", "--environment_type=LOOPBACK"],
}


def file_hashes(out: Path) -> dict[str, str]:
    """sha256 of every output file a user or trainer reads."""
    paths = [*out.glob("curated/*.parquet"), *out.glob("drops/*.parquet"), *out.glob("dead_letter/*.jsonl"), *out.glob("dataset/*.arrow"),
             out / "tokenizer" / "tokenizer.json"]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(paths)}


def counts(out: Path) -> dict:
    report = json.loads((out / "report" / "report.json").read_text())
    manifest = json.loads((out / "dataset" / "manifest.json").read_text())
    return {"curate": report["curate"]["sources"], "near_dedup": report["curate"]["near_dedup"],
            **{k: manifest[k] for k in ("rows", "tokens", "mix", "packing", "fim", "split_tokens")}}


def run_on(tmp_path: Path, corpus: dict, name: str, *runner_args: str) -> Path:
    out = tmp_path / name
    config = base_config(tmp_path, corpus["sources"], output_dir=str(out), fim={"rate": 0.5, "spm_rate": 0.5},
                         split_combined_tokens={"rate": 0.5}, mix={"web": {"weight": 0.5}, "code": {"weight": 0.5}})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--quiet", *runner_args]) == 0
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from tests.conftest import corpus as make_corpus

    tmp_path = tmp_path_factory.mktemp("engines")
    corpus = make_corpus.__wrapped__(tmp_path)
    return tmp_path, corpus, run_on(tmp_path, corpus, "fnapi")


@pytest.mark.slow
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_real_engine_gives_identical_files_and_counts(reference, engine):
    tmp_path, corpus, local = reference
    out = run_on(tmp_path, corpus, engine, *ENGINES[engine])
    expected = file_hashes(local)
    assert any(name.startswith("dataset/") for name in expected) and any("mix-part" in name for name in expected)
    assert file_hashes(out) == expected
    assert counts(out) == counts(local)
    assert all(s["reconciles"] for s in counts(out)["curate"].values())


def test_flink_and_spark_runs_get_the_fetched_job_server_and_never_a_download(tmp_path, monkeypatch):
    from pipeline.engine import runner_jars
    from pipeline.engine.runner import pipeline_options

    options = pipeline_options({"runner": "FlinkRunner"}, ["--flink_master=[local]"]).get_all_options()
    assert options["flink_job_server_jar"] == runner_jars.job_server_jar("flink")
    given = pipeline_options({}, ["--runner=SparkRunner", "--spark_job_server_jar=/opt/js.jar"]).get_all_options()
    assert given["spark_job_server_jar"] == "/opt/js.jar"
    monkeypatch.setattr(runner_jars, "cache_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="run jobs/fetch_runner_jars.sh"):
        pipeline_options({"runner": "SparkRunner"})


def test_flink_and_spark_runs_get_one_python_worker_process_per_core_unless_told(monkeypatch):
    """Beam's default is one Python process per node, whose interpreter then runs all its Python work."""
    import os

    from pipeline.engine.runner import pipeline_options

    monkeypatch.setattr(os, "cpu_count", lambda: 8)

    def workers(*args: str) -> int:
        return int(pipeline_options({}, [*args, "--flink_job_server_jar=/j.jar", "--spark_job_server_jar=/j.jar"]).get_all_options()["sdk_worker_parallelism"])

    assert workers("--runner=FlinkRunner", "--flink_master=[local]", "--parallelism=2") == 2
    assert workers("--runner=FlinkRunner", "--flink_master=host:8081", "--parallelism=64") == 8
    assert workers("--runner=FlinkRunner", "--flink_master=host:8081") == 8
    assert workers("--runner=SparkRunner", "--spark_master_url=local[3]") == 3
    assert workers("--runner=SparkRunner", "--spark_master_url=local[*]") == 8
    assert workers("--runner=FlinkRunner", "--parallelism=4", "--sdk_worker_parallelism=1") == 1
    assert workers("--runner=FnApiRunner") == 1  # Beam's default: no Fn API job server is involved


def test_launcher_manifest_lines_are_wrapped_as_the_jar_spec_requires(tmp_path):
    import zipfile

    from pipeline.engine.runner_jars import JOB_SERVERS, write_launcher

    lib = tmp_path / "some-lib"
    lib.mkdir()
    for i in range(40):
        (lib / f"dependency-number-{i:03d}-with-a-long-name.jar").write_bytes(b"")
    write_launcher(JOB_SERVERS["spark"], lib, tmp_path / "launcher.jar")
    manifest = zipfile.ZipFile(tmp_path / "launcher.jar").read("META-INF/MANIFEST.MF").decode()
    lines = manifest.split("\r\n")
    assert all(len(line.encode()) <= 72 for line in lines)
    unfolded = manifest.replace("\r\n ", "")
    assert "Main-Class: org.apache.beam.runners.spark.SparkJobServerDriver" in unfolded
    assert "some-lib/dependency-number-039-with-a-long-name.jar" in unfolded and "Add-Opens: java.base/java.lang" in unfolded


@pytest.mark.slow
def test_a_standalone_flink_cluster_with_the_worker_pool_writes_the_same_shards_to_s3(tmp_path):
    """JobManager, TaskManager, Beam's worker pool (EXTERNAL) and the job server as separate
    processes on loopback; input and output on an S3 server (``bench/flink_cluster.py``)."""
    from bench.flink_cluster import (
        s3_config,
        s3_manifest,
        s3_server,
        standalone_cluster,
    )

    with s3_server() as endpoint:
        remote, local = s3_config(tmp_path, endpoint, docs=120)
        for name, config in (("cluster", remote), ("local", local)):
            (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
        with standalone_cluster(tmp_path) as flags:
            assert main(["run", str(tmp_path / "cluster.yaml"), "--quiet", *flags]) == 0
        assert main(["run", str(tmp_path / "local.yaml"), "--quiet"]) == 0
        remote_manifest = s3_manifest(endpoint)
    local_manifest = json.loads((Path(local["output_dir"]) / "dataset" / "manifest.json").read_text())
    assert [s["sha256"] for s in remote_manifest["shards"]] == [s["sha256"] for s in local_manifest["shards"]]
    assert remote_manifest["mix"] == local_manifest["mix"]


def test_a_local_pipeline_runs_without_importing_ipython():
    probe = (
        "import sys, apache_beam as beam\nfrom pipeline.engine.runner import create_pipeline\n"
        "with create_pipeline({'direct_running_mode': 'in_memory'}) as p:\n"
        "    p | beam.Create([1, 2]) | beam.Map(lambda x: x + 1)\n"
        "print('IPython' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False"]


def record_worker_command_line(element: int, folder: str) -> int:
    """Writes the command line of the worker process that handles ``element``, and whether it has imported curate's job module."""
    argv = Path("/proc/self/cmdline").read_bytes().decode().split("\0")
    Path(folder, str(os.getpid())).write_text(json.dumps([*argv[1:3], "jobs.curate" in sys.modules]))
    return element


@pytest.mark.slow
def test_local_workers_are_forked_warm_from_the_zygote_and_start_cold_without_it(tmp_path):
    """With a zygote, a worker is a fork of the driver (its command line) that has imported the
    preloaded job module and does not write the driver's buffered output again; where the zygote cannot be reached, and without one, a worker starts
    cold as ``pipeline.engine.worker``."""
    probe = (
        "import os, sys\nfrom contextlib import nullcontext\nfrom pipeline.engine import zygote\nprint('buffered before the fork')\n"
        "with (zygote.zygote(['jobs.curate']) if sys.argv[2] != 'none' else nullcontext()):\n"
        "    if sys.argv[2] == 'unreachable':\n        os.remove(zygote.worker_command().split()[-1])\n"
        "    import apache_beam as beam\n    from pipeline.engine.runner import create_pipeline\n"
        "    from tests.test_engines import record_worker_command_line\n"
        "    with create_pipeline({'direct_running_mode': 'multi_processing', 'direct_num_workers': 2}) as p:\n"
        "        p | beam.Create(range(64)) | beam.Reshuffle() | beam.Map(record_worker_command_line, sys.argv[1])\n"
    )
    forked, cold = ("-c", probe, True), ("-m", "pipeline.engine.worker", False)
    sockets = lambda: set(Path(tempfile.gettempdir()).glob("corpusmill-zygote-*"))  # noqa: E731
    before = sockets()
    for mode, expected in (("zygote", {forked}), ("unreachable", {cold}), ("none", {cold})):
        folder = tmp_path / mode
        folder.mkdir()
        done = subprocess.run([sys.executable, "-c", probe, str(folder), mode], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert {tuple(json.loads(f.read_text())) for f in folder.iterdir()} == expected
        assert done.stdout == "buffered before the fork\n"  # written once: not again by the forked processes
    assert sockets() <= before, "the zygote removes its socket's folder"


def test_without_a_place_for_its_socket_there_is_no_zygote_and_the_run_goes_on(tmp_path, monkeypatch):
    from pipeline.engine import zygote

    monkeypatch.setattr(zygote, "can_fork", lambda: True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / ("x" * 120)))  # longer than a Unix socket path may be
    (tmp_path / ("x" * 120)).mkdir()
    with zygote.zygote([]):
        assert zygote.worker_command() is None
    assert list((tmp_path / ("x" * 120)).iterdir()) == []


def test_beam_flags_are_read_in_both_spellings_and_decide_the_local_worker_count():
    """``--key=value`` and ``--key value`` are one flag to Beam's parser, so to corpusmill's lookups
    too (a space-separated job-server jar was overridden by the fetched one, and such a
    ``multi_processing`` run got cold workers); the last value wins; 0 workers is one per core."""
    from pipeline.engine.flags import beam_args, flag_value
    from pipeline.engine.zygote import local_worker_processes

    args = ["--parallelism", "3", "--flink_job_server_jar=/a.jar", "--flink_job_server_jar", "/b.jar", "--save_main_session"]
    assert flag_value(args, "parallelism") == "3" and flag_value(args, "flink_job_server_jar") == "/b.jar"
    assert flag_value(args, "save_main_session") is None and flag_value(args, "runner") is None
    assert flag_value(["--parallelism"], "parallelism") is None
    assert local_worker_processes(beam_args({}, ["--direct_running_mode", "multi_processing", "--direct_num_workers", "4"])) == 4
    assert local_worker_processes(beam_args({"direct_running_mode": "multi_processing"})) == 1
    assert local_worker_processes(beam_args({"direct_running_mode": "multi_processing", "direct_num_workers": 0})) == os.cpu_count()
    assert local_worker_processes(beam_args({"direct_num_workers": 2})) == 0  # in_memory: no worker processes
    assert local_worker_processes(beam_args({"runner": "FlinkRunner", "direct_running_mode": "multi_processing"})) == 0
