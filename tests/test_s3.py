"""Input and output on s3:// through Beam's own S3 filesystem, against an S3 server on loopback.

Proves no step uses local-only file access: the same config with s3:// paths gives shards
byte-identical to a local run.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.flink_cluster import s3_client, s3_options, s3_server
from pipeline.cli import main
from tests.conftest import base_config, paragraph_docs


@pytest.fixture
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


@pytest.mark.slow
def test_curate_and_build_on_s3_match_a_local_run(tmp_path, s3_endpoint):
    s3 = s3_client(s3_endpoint)
    s3.create_bucket(Bucket="corpus")
    body = "".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(paragraph_docs(40)))
    s3.put_object(Bucket="corpus", Key="in/part-0.jsonl", Body=body.encode())
    local_input = tmp_path / "in" / "part-0.jsonl"
    local_input.parent.mkdir()
    local_input.write_text(body)

    in_memory = {"runner": "FnApiRunner", "direct_running_mode": "in_memory", "direct_num_workers": 1}
    remote = base_config(tmp_path, [{"name": "web", "paths": ["s3://corpus/in/*.jsonl"], "id_field": "id"}],
                         output_dir="s3://corpus/out", beam={**in_memory, **s3_options(s3_endpoint)})
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


@pytest.mark.slow
def test_a_rerun_on_s3_with_changed_input_clears_the_earlier_runs_files(tmp_path, s3_endpoint):
    """Object stores have no folders (``exists`` is False for a prefix): the files a job owns,
    its work files and temp files are found by listing, so nothing of an earlier run is reused."""
    s3 = s3_client(s3_endpoint)
    s3.create_bucket(Bucket="corpus")
    config = base_config(tmp_path, [{"name": "web", "paths": ["s3://corpus/in/*.jsonl"], "id_field": "id"}],
                         output_dir="s3://corpus/out", beam={"runner": "FnApiRunner", "direct_running_mode": "in_memory", **s3_options(s3_endpoint)})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    for docs in (60, 40):
        body = "".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(paragraph_docs(docs, seed=docs)))
        s3.put_object(Bucket="corpus", Key="in/part-0.jsonl", Body=body.encode())
        assert main(["curate", str(path), "--quiet"]) == 0
        report = json.loads(s3.get_object(Bucket="corpus", Key="out/report/report.json")["Body"].read())
        assert report["curate"]["sources"]["web"]["read"] == docs and report["curate"]["units_resumed"] == 0
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="corpus", Prefix="out/")["Contents"]}
        assert not any("/_work/" in k or "/_tmp/" in k for k in keys), sorted(keys)
