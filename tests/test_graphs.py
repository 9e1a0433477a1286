"""Every job's Beam graph built with Beam's pipeline type check on (its default), for each
combination of steps a config can switch: a type hint that lies fails here, at construction,
not at a user's first run. The graphs are built and serialized, not run (the end-to-end tests
run them). Beam reads postponed annotations (``from __future__ import annotations``, as every
module of the package has) from 2.78 on; older releases check only the hints of lambdas and of
modules without it, such as this one."""
import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, TypeOptions
from conftest import base_config, paragraph_docs, write_jsonl

from jobs.build import build_build_pipeline
from jobs.curate import build_curate_pipeline, plan
from pipeline.config import config_from_dict
from pipeline.curate.classify import train_classifier
from pipeline.curate.dedup import components
from pipeline.curate.reselect import Reselect


def built(add_graph) -> beam.Pipeline:
    """A pipeline with ``add_graph(p)`` applied under Beam's default type checks, then turned into
    its portable form (where coders are inferred from the same hints). A hint Beam says it ignores
    fails too: it checks nothing and puts a warning in every user's log."""
    options = PipelineOptions(["--runner=FnApiRunner"])
    assert options.view_as(TypeOptions).pipeline_type_check  # Beam's default, never turned off here
    p = beam.Pipeline(options=options)
    with warnings_logged() as logged:
        add_graph(p)
        assert p.to_runner_api().components.transforms
    assert not [m for m in logged if "type hint will be ignored" in m]
    return p


@contextlib.contextmanager
def warnings_logged() -> Iterator[list[str]]:
    """The messages logged at WARNING or above while the block runs (Beam warns through ``logging``)."""
    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    try:
        yield messages
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("graph-inputs")
    web = write_jsonl(root / "web.jsonl", [{"id": f"d{i}", "text": t, "language": "en"} for i, t in enumerate(paragraph_docs(20))])
    warc = root / "crawl.warc.gz"
    warc.write_bytes(b"")  # planning reads sizes only; the graph is not run
    repo = root / "repos" / "alpha"
    repo.mkdir(parents=True)
    (repo / "main.py").write_text("def f(x):\n    return x + 1\n")
    math = [{"text": f"The integral of x to the power {i} is a polynomial of degree {i + 1}."} for i in range(40)]
    cooking = [{"text": f"Simmer {i} onions in butter until golden, then add the stock."} for i in range(40)]
    classifier = root / "clf"
    train_classifier([str(write_jsonl(root / "math.jsonl", math))], [str(write_jsonl(root / "cooking.jsonl", cooking))], str(classifier), label="math")
    return {"root": root, "web": str(web), "warc": str(warc), "repos": str(root / "repos" / "*"), "classifier": str(classifier)}


def curate_config(inputs: dict[str, Any], tmp_path: Path, sources: list[dict[str, Any]] | None = None, **overrides: Any):
    sources = sources or [{"name": "web", "paths": [inputs["web"]], "id_field": "id"}]
    return config_from_dict(base_config(tmp_path, sources, **overrides))


DEDUP = {
    "exact_only": {"exact": True, "minhash": {"enabled": False}},
    "minhash_only": {"exact": False, "minhash": {"enabled": True}},
    "both": {"exact": True, "minhash": {"enabled": True}},
    "neither": {"exact": False, "minhash": {"enabled": False}},
    "minhash_unverified": {"exact": True, "minhash": {"enabled": True, "verify": False}},
    "boilerplate_lines": {"exact": True, "minhash": {"enabled": True}, "lines": {"enabled": True}},
}


@pytest.mark.parametrize("dedup", sorted(DEDUP))
@pytest.mark.parametrize("duplicate_ids", ["drop", "keep"])
def test_curate_graphs_type_check_for_every_dedup_combination(inputs, tmp_path, dedup, duplicate_ids):
    config = curate_config(inputs, tmp_path, dedup=DEDUP[dedup], on_duplicate_id=duplicate_ids)
    built(lambda p: build_curate_pipeline(p, config, plan(config)))


def test_curate_graph_with_star_rounds_type_checks(inputs, tmp_path, monkeypatch):
    """Runs over ``WHOLE_GRAPH_MAX_INPUT_BYTES`` find components in unrolled star rounds."""
    monkeypatch.setattr(components, "WHOLE_GRAPH_MAX_INPUT_BYTES", 0)
    config = curate_config(inputs, tmp_path)
    p = built(lambda p: build_curate_pipeline(p, config, plan(config)))
    assert any("Round8" in t.unique_name for t in p.to_runner_api().components.transforms.values())


def test_curate_graphs_type_check_with_compat_classifiers_repositories_and_warc(inputs, tmp_path):
    filters = {**base_config(tmp_path, [])["filters"], "compat": "datatrove",
               "classifiers": [{"name": "math", "model": inputs["classifier"], "action": "tag"}]}
    sources = [
        {"name": "web", "paths": [inputs["web"]], "id_field": "id"},
        {"name": "crawl", "paths": [inputs["warc"]], "format": "warc"},
        {"name": "code", "paths": [inputs["repos"]], "format": "repos", "kind": "code"},
    ]
    for overrides in ({"filters": filters}, {}):
        config = curate_config(inputs, tmp_path, sources, **overrides)
        built(lambda p, config=config: build_curate_pipeline(p, config, plan(config)))


def test_reselect_graph_type_checks(inputs, tmp_path):
    config = curate_config(inputs, tmp_path)
    built(lambda p: build_curate_pipeline(p, config, plan(config), Reselect(str(tmp_path / "earlier"), {"web": ["min_length"]})))


BUILDS = {
    "best_fit_fim": {"pack": {"seq_len": 128, "group_size": 50, "strategy": "best_fit"}, "fim": {"rate": 0.5, "spm_rate": 0.5}},
    "concat_no_fim": {"pack": {"seq_len": 128, "group_size": 50, "strategy": "concat"}, "fim": {"rate": 0.0}},
    "mix_by_tokens_and_epochs": {"mix": {"web": {"max_tokens": 1000}, "code": {"epochs": 2}}},
    "mix_by_weight": {"mix": {"web": {"weight": 0.7}, "code": {"weight": 0.3}}},
    "mix_by_meta_key": {"mix_by": "meta.language", "mix": {"en": {"weight": 1.0}}},
    "mix_by_cluster_size": {"mix_by": "cluster_size", "mix": {"1": {"epochs": 1}, "2-10": {"epochs": 2}}},
}


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_build_graphs_type_check_for_every_packing_fim_and_mix(inputs, tmp_path, build):
    sources = [{"name": "web", "paths": [inputs["web"]], "id_field": "id"}, {"name": "code", "paths": [inputs["web"]], "kind": "code"}]
    config = curate_config(inputs, tmp_path, sources, **BUILDS[build])
    shards = [str(tmp_path / "out" / "curated" / f"part-{i:05d}.parquet") for i in range(3)]
    built(lambda p: build_build_pipeline(p, config, shards, pad_id=0))


def test_a_lying_hint_fails_here(tmp_path):
    """The check this file relies on: Beam refuses, at construction, a consumer whose input hint
    the producer's output hint contradicts."""

    class Emits(beam.DoFn):
        def process(self, element: int) -> list[tuple[int, str]]:
            return [(element, json.dumps(element))]

    class Wants(beam.DoFn):
        def process(self, element: tuple[int, int]) -> list[int]:
            return [element[1]]

    with pytest.raises(beam.typehints.TypeCheckError, match="Wants"):
        built(lambda p: p | beam.Create([1]) | beam.ParDo(Emits()) | beam.ParDo(Wants()))

    class Ignored(beam.PTransform):
        def expand(self, pcoll: beam.PCollection) -> dict[str, beam.PCollection]:
            return {"same": pcoll}

    with pytest.raises(AssertionError):
        built(lambda p: p | beam.Create([1]) | Ignored())
