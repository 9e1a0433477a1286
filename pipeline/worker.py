"""The SDK worker process the local runner starts in ``multi_processing`` mode.

Beam's own worker logs every start-up step at INFO to the user's terminal; this entry point
keeps warnings and errors only, then runs the stock worker.
"""
from __future__ import annotations

import logging

from apache_beam.runners.worker import sdk_worker_main

NOISE = ("semi_persistent_directory",)


class QuietBeamLogs(logging.Filter):
    """Drops Beam's routine start-up warnings that say nothing to a corpusmill user."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(n in record.getMessage() for n in NOISE)


def main() -> None:
    root = logging.getLogger()
    if not root.handlers:  # importing Beam usually installs one already
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setLevel(logging.WARNING)
        handler.addFilter(QuietBeamLogs())
    sdk_worker_main.main([])


if __name__ == "__main__":
    main()
