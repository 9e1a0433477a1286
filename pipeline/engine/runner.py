"""Beam pipeline options: an explicit offline-safe local runner unless told otherwise.

Beam's default DirectRunner may try to download the Prism binary; corpusmill never leaves the
runner implicit. The config's ``beam:`` section comes first, then command-line flags (last wins).
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
import apache_beam.pipeline
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.transforms.environments import SubprocessSDKEnvironment
from apache_beam.utils import interactive_utils

from pipeline.engine import zygote
from pipeline.engine.flags import beam_args, flag_value
from pipeline.engine.memory import release_freed_memory
from pipeline.engine.runner_jars import job_server_jar
from pipeline.io.files import use_run_options

JOB_SERVER_FLAGS = {"FlinkRunner": ("flink", "flink_job_server_jar"), "SparkRunner": ("spark", "spark_job_server_jar")}


def sdk_worker_processes(runner: str, args: Sequence[str]) -> int:
    """Python worker processes per node for a Flink or Spark run. Beam starts one unless told
    otherwise, so a node's Python work shares one interpreter (measured: curate on Flink local
    cost 1.8x the local runner per byte); corpusmill asks for one per core, at most the
    parallelism given (``--parallelism`` for Flink, ``local[N]`` for Spark)."""
    cores = os.cpu_count() or 1
    if runner == "FlinkRunner":
        given = flag_value(args, "parallelism")
    else:
        match = re.fullmatch(r"local\[(\d+)\]", flag_value(args, "spark_master_url") or "")
        given = match.group(1) if match else None
    return min(cores, int(given)) if given and int(given) > 0 else cores


def pipeline_options(beam_config: dict[str, Any], extra_args: Sequence[str] = ()) -> PipelineOptions:
    """Options of the run. A Flink or Spark run without a job server jar gets the one
    ``jobs/fetch_runner_jars.sh`` fetched (Beam would otherwise download one), and one Python
    worker process per core unless ``--sdk_worker_parallelism`` is given (``sdk_worker_processes``)."""
    args = beam_args(beam_config, extra_args)
    runner = PipelineOptions(args).view_as(StandardOptions).runner
    if runner in (None, "DirectRunner", "SwitchingDirectRunner"):
        raise ValueError(f"runner {runner!r} may download a binary at run time; use FnApiRunner locally or name a cluster runner")
    if runner in JOB_SERVER_FLAGS:
        engine, flag = JOB_SERVER_FLAGS[runner]
        if flag_value(args, flag) is None:
            args.append(f"--{flag}={job_server_jar(engine)}")
        if flag_value(args, "sdk_worker_parallelism") is None:
            args.append(f"--sdk_worker_parallelism={sdk_worker_processes(runner, args)}")
    return PipelineOptions(args)


def configure_filesystems(beam_config: dict[str, Any], extra_args: Sequence[str] = ()) -> None:
    """Gives the driver's ``FileSystems`` and the workers' ``FileDoFn``s the run's options, so every
    read and write reaches the same storage."""
    use_run_options(pipeline_options(beam_config, extra_args))


def _not_in_ipython() -> bool:
    return False


def skip_ipython_probe() -> None:
    """Beam learns whether it runs in IPython by importing IPython (0.3 s where it is installed);
    a process that IPython did not start has not imported it, so the answer is known."""
    if "IPython" not in sys.modules:
        interactive_utils.is_in_ipython = _not_in_ipython
        apache_beam.pipeline.is_in_ipython = _not_in_ipython  # type: ignore[attr-defined]


def create_pipeline(beam_config: dict[str, Any], extra_args: Sequence[str] = ()) -> beam.Pipeline:
    """A ``beam.Pipeline``; local multi-process runs use corpusmill's quiet worker entry point."""
    skip_ipython_probe()
    release_freed_memory()  # the driver holds the local runner's shuffles, and LOOPBACK workers run in it
    options = pipeline_options(beam_config, extra_args)
    if zygote.local_worker_processes(beam_args(beam_config, extra_args)):
        options.view_as(DirectOptions).direct_running_mode = None  # our environment below replaces Beam's stock worker command
        command = zygote.worker_command() or f"{sys.executable} -m pipeline.engine.worker"
        environment = SubprocessSDKEnvironment.from_command_string(command)
        return beam.Pipeline(runner=FnApiRunner(default_environment=environment), options=options)
    return beam.Pipeline(options=options)
