"""The life of every job, written once: skip when complete → run → report → checks → ``_SUCCESS``.

A job's output directory holds ``_SUCCESS`` (with the config hash) only when it is complete, so
a rerun with the same config skips it (unless ``force``) and a killed run is redone. The run
report section is written before the checks, so a failed check leaves its numbers readable.
"""
from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple, Optional, Sequence

from pipeline import layout
from pipeline.config import Config
from pipeline.engine.runner import configure_filesystems
from pipeline.io.files import completed_with, remove_temp_dirs, write_success
from pipeline.report.accounting import update_run_report


class JobResult(NamedTuple):
    report: dict[str, Any]  # the job's section of report.json ("job" and "seconds" are added)
    success: dict[str, Any]  # what _SUCCESS records besides the config hash
    returned: Optional[dict[str, Any]] = None  # what the caller gets, when not the report section


def run_job(
    config: Config,
    job: str,
    output_dir: str,
    extra_beam_args: Sequence[str],
    force: bool,
    up_to_date: Callable[[], Optional[dict[str, Any]]],
    work: Callable[[], JobResult],
    checks: Callable[[dict[str, Any]], None] = lambda report: None,
) -> dict[str, Any]:
    """Runs ``work`` unless ``output_dir`` is complete with this config and ``up_to_date()`` gives
    its earlier result (returned with ``skipped``); records the report section, runs ``checks`` on
    it, then marks the output complete."""
    configure_filesystems(config.beam, extra_beam_args)
    if not force and completed_with(output_dir, config.config_hash()) and (previous := up_to_date()) is not None:
        return {**previous, "skipped": True}
    started = time.monotonic()
    result = work()
    report = {"job": job, "seconds": round(time.monotonic() - started, 2), **result.report}
    update_run_report(layout.report_dir(config), job, report)
    remove_temp_dirs(output_dir, layout.report_dir(config))
    checks(report)
    write_success(output_dir, {"config_hash": config.config_hash(), **result.success})
    return report if result.returned is None else result.returned
