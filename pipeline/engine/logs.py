"""Logging set-up shared by the CLI and the local worker processes."""
from __future__ import annotations

import logging

# Beam's routine start-up warnings that say nothing actionable to a corpusmill user.
NOISE = ("semi_persistent_directory", "apitools not found")


class QuietBeamLogs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(n in message for n in NOISE)


def quiet_root_logging(level: int = logging.WARNING) -> None:
    """Root handlers print ``level`` and above, without Beam's start-up noise."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    for handler in root.handlers:
        handler.setLevel(level)
        handler.addFilter(QuietBeamLogs())
