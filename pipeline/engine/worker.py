"""The SDK worker process the local runner starts in ``multi_processing`` mode.

Beam's own worker logs every start-up step at INFO to the user's terminal; this entry point
keeps warnings and errors only, returns freed memory promptly (``pipeline.engine.memory``), then
runs the stock worker.
"""
from __future__ import annotations

import os
import sys

from pipeline.engine.logs import quiet_root_logging
from pipeline.engine.memory import release_freed_memory


def main() -> None:
    quiet_root_logging()
    release_freed_memory()
    from apache_beam.runners.worker import sdk_worker_main

    quiet_root_logging()  # importing Beam may have added its own handler
    sdk_worker_main.main([])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # Beam has shut the harness down; skip the interpreter teardown (0.5 s a worker, and the runner stops workers one by one)


if __name__ == "__main__":
    main()
