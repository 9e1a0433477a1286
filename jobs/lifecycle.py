"""The life of every job, written once: lock → check inputs → skip when current → clear → run →
report → checks → ``_SUCCESS``.

A job's output directory holds ``_SUCCESS`` only when it is complete. It records the config
hash, the **upstream fingerprints** the job was made from (curate: the input files; the
tokenizer: curated/; the build: curated/ and the tokenizer) and the job's own fingerprint (its
config, its upstream and the sha256 of every file it wrote). A downstream job refuses an
upstream without ``_SUCCESS`` (interrupted, or failed its checks), and counts as up to date only
with the same config **and** the same upstream fingerprints, so a dataset is never built from
partial or stale data. Only the files a job owns (``layout.OWNED_BY_JOB``) are cleared, and only after
its inputs were checked. The run report section is written before the checks, so a failed
check leaves its numbers readable.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from apache_beam.io.filesystems import FileSystems

from pipeline import layout
from pipeline.config import Config
from pipeline.engine.runner import configure_filesystems
from pipeline.io.files import SUCCESS, output_lock, read_bytes, read_json, remove_temp_dirs, write_success
from pipeline.report.accounting import update_run_report


class IncompleteInputError(RuntimeError):
    """An upstream output without ``_SUCCESS``: interrupted, failed its checks, or never made."""


class JobResult(NamedTuple):
    report: dict[str, Any]  # the job's section of report.json ("job" and "seconds" are added)
    success: dict[str, Any]  # what _SUCCESS records besides the config hash and fingerprints
    files: dict[str, str]  # every file the job wrote (name → sha256): its fingerprint's content
    returned: dict[str, Any] | None = None  # what the caller gets, when not the report section


def fingerprint(content: Any) -> str:
    """sha256 of a JSON-able value, keys sorted: the same content gives the same fingerprint anywhere."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def files_fingerprint(directory: str, names: Sequence[str]) -> str:
    """The fingerprint of the named files that exist in ``directory`` (a tokenizer given by path)."""
    digests = {}
    for name in names:
        path = FileSystems.join(directory, name)
        if FileSystems.exists(path):
            digests[name] = hashlib.sha256(read_bytes(path)).hexdigest()
    return fingerprint(digests)


def completion(directory: str) -> dict[str, Any] | None:
    """The ``_SUCCESS`` record of a complete output, else None."""
    marker = FileSystems.join(directory, SUCCESS)
    return read_json(marker) if FileSystems.exists(marker) else None


def upstream_fingerprint(directory: str, job: str) -> str:
    """The fingerprint of a complete upstream output; refuses a partial or failed one."""
    done = completion(directory)
    if done is None or "fingerprint" not in done:
        raise IncompleteInputError(f"{directory} is not complete (no {SUCCESS}: `corpusmill {job}` was interrupted, failed its checks "
                                   f"or has not run); run `corpusmill {job}` (or `run`) first")
    return done["fingerprint"]


def run_job(
    config: Config,
    job: str,
    output_dir: str,
    extra_beam_args: Sequence[str],
    force: bool,
    upstream: Callable[[], dict[str, str]],
    work: Callable[[], JobResult],
    previous: Callable[[], dict[str, Any] | None],
    checks: Callable[[dict[str, Any]], None] = lambda report: None,
    resumable: Callable[[dict[str, str]], Sequence[str]] = lambda sources: (),
) -> dict[str, Any]:
    """Runs ``work`` under the output folder's lock, unless ``output_dir`` is complete with this
    config and these ``upstream()`` fingerprints (then ``previous()``, with ``skipped``). Clears the
    files the job owns first (``layout.OWNED_BY_JOB``) but those under the folders ``resumable(upstream)``
    names (an interrupted run's finished work, when the job can reuse it); records the report
    section, runs ``checks`` on it, then marks the output complete."""
    configure_filesystems(config.beam, extra_beam_args)
    with output_lock(config.output_dir, job):
        sources = upstream()
        done = completion(output_dir)
        if not force and done is not None and done.get("config_hash") == config.config_hash() and done.get("upstream") == sources:
            earlier = previous()
            if earlier is not None:
                return {**earlier, "skipped": True}
        kept = tuple(folder.rstrip("/") + "/" for folder in resumable(sources))
        stale = [path for path in layout.owned_files(config, job) if not path.startswith(kept)]
        if stale:
            FileSystems.delete(stale)
        started = time.monotonic()
        result = work()
        report = {"job": job, "seconds": round(time.monotonic() - started, 2), **result.report}
        update_run_report(layout.report_dir(config), job, report)
        checks(report)
        own = fingerprint({"config_hash": config.config_hash(), "upstream": sources, "files": result.files})
        write_success(output_dir, {"config_hash": config.config_hash(), "upstream": sources, "fingerprint": own, **result.success})
        remove_temp_dirs(output_dir, layout.report_dir(config))  # after the last atomic write, whose temp folder it is
        return report if result.returned is None else result.returned
