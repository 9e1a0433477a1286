"""Input and output on s3:// through Beam's own S3 filesystem, against an S3 server on loopback.

Proves no step uses local-only file access: the same config with s3:// paths gives shards
byte-identical to a local run.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from tests.conftest import base_config, paragraph_docs

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


@pytest.fixture
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_curate_and_build_on_s3_match_a_local_run(tmp_path, s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    s3.create_bucket(Bucket="corpus")
    body = "".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(paragraph_docs(40)))
    s3.put_object(Bucket="corpus", Key="in/part-0.jsonl", Body=body.encode())
    local_input = tmp_path / "in" / "part-0.jsonl"
    local_input.parent.mkdir()
    local_input.write_text(body)

    s3_options = {"s3_endpoint_url": s3_endpoint, "s3_access_key_id": "test", "s3_secret_access_key": "test", "s3_region_name": "us-east-1", "s3_disable_ssl": True}
    in_memory = {"runner": "FnApiRunner", "direct_running_mode": "in_memory", "direct_num_workers": 1}
    remote = base_config(tmp_path, [{"name": "web", "paths": ["s3://corpus/in/*.jsonl"], "id_field": "id"}],
                         output_dir="s3://corpus/out", beam={**in_memory, **s3_options})
    local = base_config(tmp_path, [{"name": "web", "paths": [str(local_input)], "id_field": "id"}], beam=in_memory)
    for name, config in (("remote", remote), ("local", local)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        assert main(["run", str(path), "--quiet"]) == 0, name

    def s3_json(key: str) -> dict:
        return json.loads(s3.get_object(Bucket="corpus", Key=key)["Body"].read())

    remote_report, local_report = s3_json("out/report/report.json"), json.loads((Path(local["output_dir"]) / "report" / "report.json").read_text())
    assert remote_report["curate"]["sources"] == local_report["curate"]["sources"]  # the same documents read, kept and dropped, before any bytes
    remote_manifest = s3_json("out/dataset/manifest.json")
    local_manifest = json.loads((Path(local["output_dir"]) / "dataset" / "manifest.json").read_text())
    assert remote_manifest["tokenizer"]["sha256"] == local_manifest["tokenizer"]["sha256"] and remote_manifest["packing"] == local_manifest["packing"]
    assert [s["sha256"] for s in remote_manifest["shards"]] == [s["sha256"] for s in local_manifest["shards"]]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="corpus", Prefix="out/")["Contents"]}
    assert {"out/curated/_SUCCESS", "out/tokenizer/tokenizer.json", "out/dataset/_SUCCESS", "out/dataset/state.json", "out/report/index.html"} <= keys
    assert s3_json("out/report/report.json")["curate"]["sources"]["web"]["reconciles"]
