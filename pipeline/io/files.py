"""Small file helpers over Beam ``FileSystems``: atomic writes, JSON, the output folder's lock, special files."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

TMP_DIR = "_tmp"
GLOB_CHARS = "*?["
_run_options: dict[str, Any] = {}


def use_run_options(options: PipelineOptions) -> None:
    """Gives the driver's ``FileSystems`` the run's options (S3 endpoint and keys, GCS project, ...)
    and keeps them for the ``FileDoFn``s built after, which carry them to the workers."""
    FileSystems.set_options(options)
    _run_options.clear()
    _run_options.update(options.get_all_options(drop_default=True))


class FileDoFn(beam.DoFn):
    """A DoFn that reads or writes through ``FileSystems``: it installs the run's options on its
    worker at setup, because not every runner hands them to workers (Beam's worker pool does
    not, so an ``s3://`` path would find no endpoint and no keys there)."""

    def __init__(self) -> None:
        super().__init__()
        self._run_options = dict(_run_options)

    def setup(self) -> None:
        if self._run_options:
            FileSystems.set_options(PipelineOptions.from_dictionary(self._run_options))


class HashingWriter:
    """A write-only file object that counts bytes and computes sha256 as it forwards them."""

    def __init__(self, raw: Any, temp_path: str = ""):
        self._raw = raw
        self.temp_path = temp_path
        self._sha = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._sha.update(view)
        self.size += len(view)
        self._raw.write(view.tobytes())
        return len(view)

    def flush(self) -> None:
        self._raw.flush()

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
            self.closed = True

    def sha256(self) -> str:
        return self._sha.hexdigest()


def absolute_path(path: str) -> str:
    """A local path made absolute (a remote one, ``scheme://``, as it is), without a trailing slash."""
    return (path if "://" in path else os.path.abspath(path)).rstrip("/")


def ensure_dir(directory: str) -> None:
    """Creates ``directory``; safe when another worker creates it at the same moment."""
    try:
        FileSystems.mkdirs(directory)
    except OSError:
        if not FileSystems.exists(directory):
            raise


def create_atomic(path: str) -> HashingWriter:
    """Opens a uniquely named temp file beside ``path``; ``commit`` moves it into place once complete.

    A retried or duplicated worker writes its own temp file, so two attempts never interleave.
    """
    directory, name = FileSystems.split(path)
    temp_dir = FileSystems.join(directory, TMP_DIR)
    ensure_dir(temp_dir)
    temp = FileSystems.join(temp_dir, f"{uuid.uuid4().hex}-{name}")
    raw = FileSystems.create(temp, mime_type="application/octet-stream", compression_type=CompressionTypes.UNCOMPRESSED)
    return HashingWriter(raw, temp)


def commit(writer: HashingWriter, path: str) -> None:
    writer.close()
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([writer.temp_path], [path])


def write_bytes(path: str, data: bytes) -> str:
    """Writes ``data`` atomically; returns its sha256."""
    writer = create_atomic(path)
    writer.write(data)
    commit(writer, path)
    return writer.sha256()


def write_json(path: str, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))


def read_bytes(path: str, limit: int = -1) -> bytes:
    """The file's bytes (at most ``limit`` of them when given)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read(limit)


def read_json(path: str) -> Any:
    return json.loads(read_bytes(path))


def list_files(pattern: str) -> list[str]:
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def files_under(directory: str) -> list[str]:
    """Every file below ``directory``, sorted; none when there is no such folder. Object stores
    (s3://, gs://) have no folders, only key prefixes, so this lists rather than asks ``exists``."""
    return list_files(directory.rstrip("/") + "/**")


def delete_tree(directory: str) -> None:
    """Deletes ``directory`` and everything below it; nothing when there is none. On an object
    store, where ``exists`` is False for a prefix, the files under the prefix are deleted."""
    if FileSystems.exists(directory):
        FileSystems.delete([directory])
        return
    files = files_under(directory)
    if files:
        FileSystems.delete(files)


def remove_temp_dirs(*directories: str) -> None:
    """Removes the temp folders the atomic writes used, with any leftovers of failed attempts."""
    for directory in directories:
        delete_tree(FileSystems.join(directory, TMP_DIR))


SUCCESS = "_SUCCESS"
LOCK = "_LOCK"
_held_locks: dict[str, int] = {}  # output folders this process holds, with their nesting depth


class OutputLockedError(RuntimeError):
    """Another run holds the output folder."""


def _lock_holder_alive(holder: dict[str, Any]) -> bool:
    """False only when the holder ran on this host and its process is gone (a killed run)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


@contextmanager
def output_lock(output_dir: str, job: str) -> Iterator[None]:
    """Holds ``output_dir/_LOCK`` while a run writes there; a second run on the folder is refused at
    once, naming the holder. A lock left by a killed process on this host is taken over. Local
    folders are locked atomically (O_EXCL); on object stores two runs starting in the same second
    can still race."""
    key = output_dir.rstrip("/")
    if key in _held_locks:
        _held_locks[key] += 1
        try:
            yield
        finally:
            _held_locks[key] -= 1
        return
    path = FileSystems.join(output_dir, LOCK)
    me = {"host": socket.gethostname(), "pid": os.getpid(), "job": job, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    ensure_dir(output_dir)
    for _ in range(2):
        if _create_exclusive(path, (json.dumps(me) + "\n").encode("utf-8")):
            break
        try:
            holder = read_json(path)
        except (OSError, ValueError):
            holder = {}
        if _lock_holder_alive(holder):
            raise OutputLockedError(
                f"{output_dir} is in use by another run ({holder.get('job', '?')} on {holder.get('host', '?')}, pid {holder.get('pid', '?')}, "
                f"since {holder.get('since', '?')}); wait for it, or delete {path} if that run is gone")
        FileSystems.delete([path])  # its process is gone: the lock is stale
    else:
        raise OutputLockedError(f"{output_dir}: could not take {path}")
    _held_locks[key] = 1
    try:
        yield
    finally:
        del _held_locks[key]
        if FileSystems.exists(path):
            FileSystems.delete([path])


def _create_exclusive(path: str, data: bytes) -> bool:
    """Creates ``path`` holding ``data`` unless it exists (atomic on local disks)."""
    if "://" not in path:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return True
    if FileSystems.exists(path):
        return False
    write_bytes(path, data)
    return True


def write_success(directory: str, info: dict[str, Any]) -> None:
    """Marks a job's output complete; written last, so its absence means "partial, redo"."""
    write_json(FileSystems.join(directory, SUCCESS), info)


def special_file_kind(path: str) -> str | None:
    """``fifo``, ``device``, ``socket`` for a local path that is no regular file (reading could
    block forever or never end); None for regular files, directories and remote paths."""
    if "://" in path:
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "socket" if stat.S_ISSOCK(mode) else None


class InputNotFoundError(FileNotFoundError):
    """A source path or glob that matches no file."""


def glob_base(pattern: str) -> str:
    """The directory part of a glob before its first wildcard."""
    cut = min((pattern.find(c) for c in GLOB_CHARS if c in pattern), default=len(pattern))
    return pattern[: pattern.rfind("/", 0, cut) + 1]


def common_base(bases: list[str]) -> str:
    """The longest directory prefix shared by all ``bases`` (each ends with '/' or is empty)."""
    common = bases[0]
    for base in bases[1:]:
        while not base.startswith(common):
            common = common[: common.rstrip("/").rfind("/") + 1]
    return common
