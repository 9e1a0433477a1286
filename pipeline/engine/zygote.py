"""Local worker processes forked from a warm parent instead of started cold (Linux).

A local ``multi_processing`` run starts its worker processes when its first stage runs, and each
then spends ~1.7 s importing Beam and its own modules and loading compiled kernels, while the
driver waits. The zygote is forked from the driver before the driver imports Beam: it does that
importing once, on the core the driver leaves idle while it imports Beam and builds the graph,
then forks each worker the runner asks for, already warm. The runner's worker command is
``pipeline.engine.handoff``, a small process that passes its environment (Beam's control and
logging addresses) to the zygote over a Unix socket and ends with the forked worker's exit code.

Forking is safe only from a process without other threads or gRPC state, so the zygote is
started only from one (the ``corpusmill`` command before any job); elsewhere, and where it cannot
be reached, workers start the usual way (``pipeline.engine.worker``).
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from pipeline.engine import worker
from pipeline.engine.flags import flag_value
from pipeline.engine.handoff import ACCEPTED

SOCKET_NAME = "zygote.sock"
_worker_command: str | None = None


def local_worker_processes(args: Sequence[str]) -> int:
    """How many worker processes a run with these Beam flags starts locally (0: none, or not the
    local runner's ``multi_processing`` mode); ``--direct_num_workers=0`` is one per core, as in Beam."""
    if flag_value(args, "runner") != "FnApiRunner" or flag_value(args, "direct_running_mode") != "multi_processing":
        return 0
    return int(flag_value(args, "direct_num_workers") or 1) or os.cpu_count() or 1


def can_fork() -> bool:
    """True where forking this process is safe: Linux, one thread, gRPC never imported."""
    return sys.platform.startswith("linux") and threading.active_count() == 1 and "grpc" not in sys.modules


def worker_command() -> str | None:
    """The command that gets a worker from the running zygote, if one runs."""
    return _worker_command


@contextmanager
def zygote(preload: Sequence[str]) -> Iterator[None]:
    """Runs a zygote for the duration, where forking is safe. It imports the ``preload`` modules
    and calls their ``warm_up_worker()`` where they have one. It stays the parent of the workers
    it forks, so they stay in the driver's process tree (where tools look for a run's memory)."""
    global _worker_command
    if not can_fork() or _worker_command is not None:
        yield
        return
    try:
        folder = tempfile.mkdtemp(prefix="corpusmill-zygote-")
    except OSError:  # no writable temporary folder
        yield
        return
    path = os.path.join(folder, SOCKET_NAME)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(64)
    except OSError:  # e.g. a path too long for a Unix socket
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)
        yield
        return
    parent_alive, keep_alive = os.pipe()
    sys.stdout.flush()  # or the workers would write what was buffered here again
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(keep_alive)
        _serve(listener, parent_alive, preload, folder)
    os.close(parent_alive)
    listener.close()
    _worker_command = f"{sys.executable} -m pipeline.engine.handoff {path}"
    try:
        yield
    finally:
        _worker_command = None
        os.close(keep_alive)  # the zygote ends when it sees this end close
        with suppress(ChildProcessError):  # already reaped by someone waiting for any child
            os.waitpid(pid, 0)


def _serve(listener: socket.socket, parent_alive: int, preload: Sequence[str], folder: str) -> None:
    """The zygote: import, then fork a worker per connection until the driver's end of the pipe
    closes (also when the driver is killed); then remove the socket's folder."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the driver, which then closes the pipe
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked workers are reaped by the kernel
        _warm_up(preload)
        while True:
            ready, _, _ = select.select([listener.fileno(), parent_alive], [], [])
            if parent_alive in ready:
                break
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                os.close(parent_alive)
                _run_worker(connection)
            connection.close()
    except BaseException:  # a zygote that fails leaves the workers to start cold
        code = 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(code)


def _warm_up(preload: Sequence[str]) -> None:
    import importlib

    worker.prepare()
    for name in preload:
        module = importlib.import_module(name)
        if hasattr(module, "warm_up_worker"):
            module.warm_up_worker()


def _run_worker(connection: socket.socket) -> None:
    """A forked worker: takes the environment Beam gave the handoff process, runs the stock
    worker, and sends back its exit code."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        with connection.makefile("rb") as reader:
            environment = json.loads(reader.readline())
        connection.sendall(ACCEPTED)
        os.environ.clear()
        os.environ.update(environment)
        worker.run_harness()
        code = 0
    finally:
        try:
            connection.sendall(bytes([code]))
        finally:
            worker.end(code)
