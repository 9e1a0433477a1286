"""A standalone Flink cluster on loopback running a corpusmill run, output on S3 (a moto server).

Everything is a separate process on 127.0.0.1: a Flink 1.19 JobManager and TaskManager (Flink's
own jars, started with ``java`` as Flink's scripts would), Beam's Python worker pool (the
``EXTERNAL`` environment: the TaskManager asks it for SDK workers), and Beam's Flink job server
submitting to the JobManager's REST port; plus an S3 server. ``corpusmill run`` then runs
against it with ``--runner=PortableRunner``, reading and writing ``s3://``; the dataset shards
are compared with a local FnApiRunner run of the same config. Prints each step's time.

    bash jobs/fetch_runner_jars.sh && python bench/flink_cluster.py [--docs 400]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.engine.runner_jars import flink_distribution, job_server_jar  # noqa: E402
from bench.environment import print_installed_set  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not open port {port} in {seconds:.0f}s")


def flink_conf(directory: Path, rpc_port: int, rest_port: int, slots: int) -> Path:
    conf = directory / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "flink-conf.yaml").write_text("\n".join([
        "jobmanager.rpc.address: 127.0.0.1", f"jobmanager.rpc.port: {rpc_port}", "jobmanager.bind-host: 127.0.0.1",
        "rest.address: 127.0.0.1", "rest.bind-address: 127.0.0.1", f"rest.port: {rest_port}",
        "taskmanager.host: 127.0.0.1", "taskmanager.bind-host: 127.0.0.1",
        "jobmanager.memory.process.size: 1024m", "taskmanager.memory.process.size: 3072m",
        # Beam's graphs have many exchanges: Flink's default network memory (10%) runs out of buffers at job start
        "taskmanager.memory.network.fraction: 0.25",
        f"taskmanager.numberOfTaskSlots: {slots}", f"parallelism.default: {slots}", "",
    ]))
    return conf


def taskmanager_command(home: Path, conf: Path) -> list[str]:
    """What Flink's taskmanager.sh runs: JVM memory flags and dynamic properties from BashJavaUtils."""
    out = subprocess.run(["java", "-cp", f"{home}/lib/*:{home}/bin/bash-java-utils.jar", "org.apache.flink.runtime.util.bash.BashJavaUtils",
                          "GET_TM_RESOURCE_PARAMS", "--configDir", str(conf)], check=True, capture_output=True, text=True).stdout
    results = [line.split(":", 1)[1] for line in out.splitlines() if line.startswith("BASH_JAVA_UTILS_EXEC_RESULT:")]
    jvm, dynamic = results[0].split(), results[1].split()
    return ["java", *jvm, "-cp", f"{home}/lib/*", "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", "--configDir", str(conf), *dynamic]


@contextlib.contextmanager
def standalone_cluster(work: Path, slots: int = 2) -> Iterator[list[str]]:
    """JobManager, TaskManager, worker pool and job server as processes; yields the runner flags."""
    home = flink_distribution()
    rpc, rest, pool, job = free_port(), free_port(), free_port(), free_port()
    conf = flink_conf(work, rpc, rest, slots)
    commands = {
        "jobmanager": ["java", "-Xmx768m", "-cp", f"{home}/lib/*", "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint", "--configDir", str(conf)],
        "taskmanager": taskmanager_command(home, conf),
        "worker_pool": [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={pool}"],
        "job_server": ["java", "-jar", job_server_jar("flink"), f"--flink-master=127.0.0.1:{rest}", f"--job-port={job}", "--artifact-port=0", "--expansion-port=0"],
    }
    processes = []
    try:
        for name, command in commands.items():
            processes.append(subprocess.Popen(command, stdout=open(work / f"{name}.log", "wb"), stderr=subprocess.STDOUT, cwd=work))
            if name == "jobmanager":
                wait_for_port(rest, "JobManager")
        wait_for_port(pool, "worker pool")
        wait_for_port(job, "job server")
        yield ["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{job}", "--environment_type=EXTERNAL", f"--environment_config=127.0.0.1:{pool}",
               f"--parallelism={slots}"]
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """An S3 server on loopback; yields its endpoint."""
    import requests
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=10)  # moto keeps buckets process-wide, across servers
        server.stop()


def s3_client(endpoint: str):
    """A boto3 client of the loopback S3 server."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")


def s3_options(endpoint: str) -> dict:
    """The Beam pipeline options that point its S3 filesystem at the loopback server."""
    return {"s3_endpoint_url": endpoint, "s3_access_key_id": "test", "s3_secret_access_key": "test", "s3_region_name": "us-east-1", "s3_disable_ssl": True}


def s3_config(work: Path, endpoint: str, docs: int) -> tuple[dict, dict]:
    """(config reading and writing s3://, the same config on local files), with the corpus uploaded."""
    from tests.conftest import base_config, paragraph_docs

    s3 = s3_client(endpoint)
    s3.create_bucket(Bucket="corpus")
    body = "".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(paragraph_docs(docs)))
    s3.put_object(Bucket="corpus", Key="in/part-0.jsonl", Body=body.encode())
    (work / "part-0.jsonl").write_text(body)
    options = s3_options(endpoint)
    remote = base_config(work, [{"name": "web", "paths": ["s3://corpus/in/*.jsonl"], "id_field": "id"}], output_dir="s3://corpus/out",
                         beam={"runner": "PortableRunner", **options}, mix={"web": {"epochs": 1.5}})
    local = base_config(work, [{"name": "web", "paths": [str(work / "part-0.jsonl")], "id_field": "id"}], mix={"web": {"epochs": 1.5}})
    return remote, local


def s3_manifest(endpoint: str) -> dict:
    s3 = s3_client(endpoint)
    return json.loads(s3.get_object(Bucket="corpus", Key="out/dataset/manifest.json")["Body"].read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=400, help="documents in the generated corpus")
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()
    from pipeline.cli import main as corpusmill

    work = Path(tempfile.mkdtemp(prefix="corpusmill-flink-cluster-"))
    with s3_server() as endpoint:
        remote, local = s3_config(work, endpoint, args.docs)
        for name, config in (("cluster", remote), ("local", local)):
            (work / f"{name}.yaml").write_text(yaml.safe_dump(config))
        started = time.monotonic()
        with standalone_cluster(work, args.slots) as flags:
            print(f"cluster up (JobManager, TaskManager, worker pool, job server): {time.monotonic() - started:.1f}s", flush=True)
            started = time.monotonic()
            if corpusmill(["run", str(work / "cluster.yaml"), "--quiet", *flags]) != 0:
                raise RuntimeError(f"the cluster run failed; logs in {work}")
            print(f"corpusmill run on the Flink cluster (s3:// in and out): {time.monotonic() - started:.1f}s", flush=True)
        started = time.monotonic()
        if corpusmill(["run", str(work / "local.yaml"), "--quiet"]) != 0:
            raise RuntimeError("the local run failed")
        print(f"corpusmill run on FnApiRunner (local files): {time.monotonic() - started:.1f}s")
        remote_shards = [s["sha256"] for s in s3_manifest(endpoint)["shards"]]
        local_shards = [s["sha256"] for s in json.loads((Path(local["output_dir"]) / "dataset" / "manifest.json").read_text())["shards"]]
        print(f"dataset shards: {len(remote_shards)}; sha256 identical to the local run: {remote_shards == local_shards}; logs in {work}")
        if remote_shards != local_shards:
            sys.exit(1)


if __name__ == "__main__":
    print_installed_set()
    main()
