"""The local runner's worker command while a zygote runs (``pipeline.engine.zygote``).

Beam starts this process with the worker's environment; it hands that environment to the
zygote, which forks a warm worker, and ends with the worker's exit code. Without a zygote to
reach it becomes the usual worker (``pipeline.engine.worker``), in this process.
"""
from __future__ import annotations

import json
import os
import socket
import sys

ACCEPTED = b"+"  # a forked worker's first byte; its exit code follows when it ends


def main(path: str) -> int:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(path)
        client.sendall(json.dumps(dict(os.environ)).encode() + b"\n")
        accepted = client.recv(1) == ACCEPTED
    except OSError:
        accepted = False
    if not accepted:  # no zygote, or it ended before taking this worker: start the worker here
        client.close()
        os.execv(sys.executable, [sys.executable, "-m", "pipeline.engine.worker"])
    code = client.recv(1)
    return code[0] if code else 1  # no code: the worker died before it could send one


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
