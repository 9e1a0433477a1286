"""Logging set-up shared by the CLI and the local worker processes."""
from __future__ import annotations

import logging
import os
import tempfile
import time

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
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(min(root.level or level, level))
    for handler in root.handlers:
        handler.setLevel(level)
        handler.addFilter(QuietBeamLogs())


class NotBeam(logging.Filter):
    """Keeps Beam's own records (a failing worker logs hundreds of lines) off the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("apache_beam") or record.levelno >= logging.CRITICAL


def log_file(output_dir: str, command: str) -> str:
    """Sends every log record (INFO and up, Beam's included) to a new file under ``output_dir/_logs``
    (a local temp folder when the output is remote) and keeps Beam's records off the terminal;
    returns the file's path."""
    directory = os.path.join(output_dir, "_logs") if "://" not in output_dir else os.path.join(tempfile.gettempdir(), "corpusmill-logs")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        directory = tempfile.gettempdir()
    path = os.path.join(directory, f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log")
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in root.handlers:
        existing.addFilter(NotBeam())
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    return path
