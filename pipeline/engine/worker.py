"""The SDK worker process the local runner starts in ``multi_processing`` mode.

Beam's own worker logs every start-up step at INFO to the user's terminal; this entry point
keeps warnings and errors only, returns freed memory promptly (``pipeline.engine.memory``), then
runs the stock worker. A zygote (``pipeline.engine.zygote``) prepares once and runs the harness
in each worker it forks.
"""
from __future__ import annotations

import os
import sys

from pipeline.engine.logs import quiet_root_logging
from pipeline.engine.memory import release_freed_memory


def prepare() -> None:
    """Quiet logs, freed memory returned, Beam's worker imported."""
    quiet_root_logging()
    release_freed_memory()
    from apache_beam.runners.worker import sdk_worker_main  # noqa: F401

    quiet_root_logging()  # importing Beam may have added its own handler


def run_harness() -> None:
    """Beam's stock worker, with the environment Beam gave this process, until Beam shuts it down."""
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main([])


def end(code: int) -> None:
    """Ends the process once the harness has shut down, without the interpreter's teardown (0.5 s
    a worker, and the runner stops workers one by one)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    prepare()
    run_harness()
    end(0)


if __name__ == "__main__":
    main()
