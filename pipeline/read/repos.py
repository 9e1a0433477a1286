"""Repository sources: each repository read whole, its files classified, as one ``Repository`` record.

A repository is a directory tree, a ``.tar``/``.tar.gz``/``.tgz``/``.zip`` archive, a bare git
repository (the tree at HEAD), or the rows of a JSONL/Parquet source that share ``repo_field``
(The Stack style, a file per row). Everything is read through Beam's file systems except git
object stores, which ``dulwich`` reads from a local path. Every file ends as a skip (a ``Drop``
of stage ``repo`` with the reason from ``pipeline.read.code_files``), a dead letter, or a file of the
``Repository`` record.
"""
from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from apache_beam.io.filesystems import FileSystems

from pipeline.config import SourceConfig
from pipeline.io.files import InputNotFoundError, common_base, glob_base, read_bytes
from pipeline.read.code_files import content_skip_reason, language_of, path_skip_reason
from pipeline.records import DeadLetter, Document, Drop, Repository, Stage, preview

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


RepoRecord = Repository | Document | Drop | DeadLetter
# (relative path, declared size, a loader reading at most N bytes — or the skip reason of an entry that is no regular file)
FileEntry = tuple[str, int, Callable[[int], bytes] | str]
SYMLINK = "symlink"  # never followed: it could point outside the repository
NOT_REGULAR = "not_a_regular_file"  # a FIFO, device, socket or submodule


def repository_name(location: str, base: str) -> str:
    """A repository's name: its location relative to the source's base, without archive suffix."""
    relative = location[len(base):] if location.startswith(base) else posixpath.basename(location)
    relative = relative.strip("/")
    for suffix in ARCHIVE_SUFFIXES:
        if relative.endswith(suffix):
            return relative[: -len(suffix)]
    return relative.removesuffix(".git")


def _directory_entries(location: str) -> list[FileEntry]:
    """The entries under a directory, sorted. Local trees are walked without following links: a
    symlink (to a file or a directory, broken or looping) is a ``symlink`` skip, a FIFO or device a
    ``not_a_regular_file`` skip; object stores have neither."""
    if "://" not in location:
        return _local_entries(location)
    root = location.rstrip("/") + "/"
    matched = FileSystems.match([root + "**"])[0].metadata_list
    return sorted((m.path[len(root):], m.size_in_bytes, partial(read_bytes, m.path)) for m in matched)


def _local_entries(location: str) -> list[FileEntry]:
    root = location.rstrip("/")
    entries: list[FileEntry] = []
    for directory, subdirs, files in os.walk(root, followlinks=False):
        for name in [*subdirs, *files]:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                entries.append((relative, 0, SYMLINK))
            elif stat.S_ISREG(mode):
                entries.append((relative, os.lstat(path).st_size, partial(read_bytes, path)))
            elif not stat.S_ISDIR(mode):
                entries.append((relative, 0, NOT_REGULAR))
    return sorted(entries, key=lambda e: e[0])


def _archive_entries(location: str) -> Iterator[FileEntry]:
    """Archive members; a zip member is read through its stream, so one lying about its size
    inflates no further than the limit."""
    data = read_bytes(location)
    if location.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in sorted(z.infolist(), key=lambda i: i.filename):
                if info.is_dir():
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    yield info.filename, 0, SYMLINK
                    continue
                yield info.filename, info.file_size, partial(_zip_member, z, info)
        return
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
        for member in sorted(t.getmembers(), key=lambda m: m.name):
            if member.isdir():
                continue
            name = member.name.removeprefix("./")
            if member.issym() or member.islnk():
                yield name, 0, SYMLINK
            elif member.isfile():
                yield name, member.size, partial(_tar_member, t, member)
            else:
                yield name, 0, NOT_REGULAR


def _zip_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with z.open(info) as f:
        return f.read(limit)


def _tar_member(t: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    f = t.extractfile(member)
    return f.read(limit) if f is not None else b""


def _git_entries(location: str) -> Iterator[FileEntry]:
    from dulwich.object_store import iter_tree_contents
    from dulwich.repo import Repo

    if "://" in location:
        raise ValueError("bare git repositories are read from a local path only (use an archive for remote storage)")
    repo = Repo(location)
    try:
        store = repo.object_store
        tree = repo[repo.head()].tree  # type: ignore[attr-defined]  # HEAD names a commit
        entries = sorted(iter_tree_contents(store, tree), key=lambda e: e.path)
        for e in entries:
            path = e.path.decode("utf-8", "surrogateescape")
            if (e.mode & 0o170000) != 0o100000:
                yield path, 0, SYMLINK if stat.S_ISLNK(e.mode) else NOT_REGULAR  # a symlink, or a submodule
                continue
            data = store[e.sha].as_raw_string()
            yield path, len(data), partial(_prefix, data)
    finally:
        repo.close()


def _prefix(data: bytes, limit: int) -> bytes:
    return data[:limit]


def is_bare_git(files: Iterable[str]) -> bool:
    """Whether the relative file names of a directory are those of a bare git repository."""
    names = set(files)
    has_refs = "packed-refs" in names or any(f.startswith("refs/") for f in names)
    return "HEAD" in names and has_refs and any(f.startswith("objects/") for f in names)


def _entries(location: str) -> Iterator[FileEntry]:
    """The files of a repository at ``location``, whatever its kind, in path order."""
    if location.endswith(ARCHIVE_SUFFIXES):
        return _archive_entries(location)
    listed = _directory_entries(location)
    if not listed:
        raise ValueError("not a repository: expected a directory, a .tar/.tar.gz/.tgz/.zip archive or a bare git repository")
    if is_bare_git(relative for relative, _, loader in listed if not isinstance(loader, str)):
        return _git_entries(location)
    return iter(listed)


def match_repositories(source: SourceConfig) -> list[tuple[str, str, int]]:
    """``(location, base, size in bytes)`` of every repository the source's patterns match, sorted.

    A pattern matches archives directly, and directories (any file system, object stores
    included) through the files under them: ``repos/*`` makes each ``repos/<name>/`` one repository."""
    found: dict[str, int] = {}
    for pattern in source.paths:
        pattern = pattern.rstrip("/")
        depth = pattern.count("/")
        matched = 0
        for m in FileSystems.match([pattern])[0].metadata_list:
            found[m.path] = m.size_in_bytes
            matched += 1
        for m in FileSystems.match([pattern + "/**"])[0].metadata_list:
            if m.path.count("/") > depth:
                root = "/".join(m.path.split("/")[: depth + 1])
                found[root] = found.get(root, 0) + m.size_in_bytes
                matched += 1
        if not matched:
            raise InputNotFoundError(f"source {source.name!r}: no repository matches {pattern}")
    base = common_base([glob_base(p.rstrip("/")) for p in source.paths])
    return [(location, base, found[location]) for location in sorted(found)]


def read_repository(source: SourceConfig, location: str, base: str) -> Iterator[RepoRecord]:
    """The skips and dead letters of one repository's files, then its ``Repository`` record.

    An archive or git store that cannot be opened is one dead letter for the repository."""
    name = repository_name(location, base)
    files: list[Document] = []
    try:
        for relative, size, loader in _entries(location):
            where = f"{location}/{relative}"
            if isinstance(loader, str):
                yield _skip(source, name, relative, loader, "not followed" if loader == SYMLINK else "FIFO, device, socket or submodule")
                continue
            reason = path_skip_reason(relative, size, source.max_file_bytes)
            if reason is not None:
                yield _skip(source, name, relative, reason, f"{size:,} bytes")
                continue
            try:
                data = loader(source.max_file_bytes + 1)
            except Exception as e:
                yield DeadLetter(source.name, Stage.REPO, where, None, None, f"unreadable file: {type(e).__name__}: {e}", "")
                continue
            if len(data) > source.max_file_bytes:  # an archive member larger than it declared
                yield _skip(source, name, relative, "too_large", f"over {source.max_file_bytes:,} bytes (declared {size:,})")
                continue
            yield from _classified(source, name, relative, where, data, files)
    except Exception as e:
        yield DeadLetter(source.name, Stage.REPO, location, None, None, f"unreadable repository: {type(e).__name__}: {e}", "")
        return
    yield Repository(source.name, name, location, tuple(files))


def _classified(source: SourceConfig, repo: str, relative: str, where: str, data: bytes, files: list[Document]) -> Iterator[Drop]:
    """Skips the file with a reason, or adds it to ``files``."""
    reason = content_skip_reason(relative, data)
    if reason is not None:
        yield _skip(source, repo, relative, reason, preview(data[:80]) if reason != "binary" else f"{len(data):,} bytes")
        return
    language = language_of(relative, data[:256])
    files.append(Document(f"{source.name}/{repo}/{relative}", data.decode("utf-8"), source.name, {"path": where, "repo": repo, "file": relative, "language": language}))


def _skip(source: SourceConfig, repo: str, relative: str, reason: str, detail: str) -> Drop:
    return Drop(f"{source.name}/{repo}/{relative}", source.name, Stage.REPO, reason, detail)


def repositories_from_rows(source: SourceConfig, records: Iterable[Document | DeadLetter | Drop]) -> Iterator[RepoRecord]:
    """Groups the file rows of one input file into repositories by ``meta['repo']`` (``repo_field``),
    in order of each repository's first row; rows without a repository or path are dead letters,
    a second row with the same path in a repository is skipped (``duplicate_path``)."""
    grouped: dict[str, dict[str, Document]] = {}
    where: dict[str, str] = {}
    for record in records:
        if not isinstance(record, Document):
            yield record
            continue
        repo, relative = record.meta.get("repo"), record.meta.get("file")
        if not isinstance(repo, str) or not repo or not isinstance(relative, str) or not relative:
            missing = source.repo_field if not isinstance(repo, str) or not repo else source.path_field
            yield DeadLetter(source.name, "read", record.meta["path"], record.meta.get("line"), record.meta.get("row"), f"missing or non-string field {missing!r}", preview(record.text))
            continue
        files = grouped.setdefault(repo, {})
        where.setdefault(repo, record.meta["path"])
        data = record.text.encode("utf-8", "surrogatepass")
        reason = "duplicate_path" if relative in files else path_skip_reason(relative, len(data), source.max_file_bytes) or content_skip_reason(relative, data)
        if reason is not None:
            yield _skip(source, repo, relative, reason, f"{len(data):,} bytes")
            continue
        meta = {**record.meta, "repo": repo, "file": relative, "language": language_of(relative, data[:256])}
        files[relative] = Document(f"{source.name}/{repo}/{relative}", record.text, source.name, meta)
    for repo, files in grouped.items():
        yield Repository(source.name, repo, where[repo], tuple(files[p] for p in sorted(files)))
