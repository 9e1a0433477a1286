"""Repository-level code: the files of a repository in dependency order, DeepSeek-Coder style.

``import_targets`` finds what a file imports (Python, JavaScript/TypeScript, Java, Go, Rust,
C/C++ ``#include "..."``), ``resolve_imports`` maps those names to files of the same repository,
and ``dependency_order`` sorts the files so that every file comes after the files it uses: a
topological sort of the groups of files that import each other, ties taken in path order and
cycles broken at the smallest path, so the order depends on the repository's contents alone and
every import outside a cycle points backwards. ``repository_documents`` lays
the ordered files out as one document (or parts) with a path marker before each file.
"""
from __future__ import annotations

import heapq
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pipeline.read.code_files import language_of
from pipeline.records import Document

_PY_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+(\([^)]*\)|[\w*, ]+)|import\s+([\w., ]+))", re.MULTILINE)
_PY_COMMENT = re.compile(r"#[^\n]*")
_PY_LONG_STRING = re.compile(r'("""|\'\'\')[\s\S]*?\1')  # docstrings: their example imports are no dependencies
_JS_IMPORT = re.compile(r"""(?:import\s[^'"]*?from\s*|import\s*|require\s*\(\s*|export\s[^'"]*?from\s*)['"]([^'"]+)['"]""")
_JAVA_IMPORT = re.compile(r"^\s*import\s+(?:static\s+)?([\w.]+)(?:\.\*)?\s*;", re.MULTILINE)
_JAVA_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.MULTILINE)
_GO_IMPORT = re.compile(r"""^\s*import\s*(?:\(([^)]*)\)|(?:\w+\s+)?"([^"]+)")""", re.MULTILINE)
_GO_MODULE = re.compile(r"^module\s+(\S+)", re.MULTILINE)
_RUST_MOD = re.compile(r"^\s*(?:pub\s+)?mod\s+(\w+)\s*;", re.MULTILINE)
_RUST_USE = re.compile(r"^\s*(?:pub\s+)?use\s+(?:crate|super|self)::(\w+)", re.MULTILINE)
FROM_IMPORT = ":"  # joins "from R import a" into one name, R:a
_PY_DEFINED = re.compile(r"^(?:(?:async\s+)?def|class)\s+(\w+)|^(\w+)\s*(?::[^=\n]*)?=(?!=)", re.MULTILINE)
REEXPORT_DEPTH = 8  # how many package __init__.py re-exports an import is followed through
_C_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def _python_imports(text: str) -> list[tuple[str, list[tuple[str, str]], str]]:
    """Per import statement outside docstrings: the module ``R`` of ``from R import ...`` with its
    ``(name, bound name)`` pairs (``*`` left out), or the names of a plain ``import``."""
    statements = []
    joined = _PY_LONG_STRING.sub("", text).replace("\\\n", " ")  # backslash-continued lines are one statement
    for relative, items, plain in _PY_IMPORT.findall(joined):
        members = []
        for item in _PY_COMMENT.sub("", items).strip("() \n").split(",") if items else []:
            original, _, alias = item.strip().partition(" as ")
            if original.strip() and original.strip() != "*":
                members.append((original.strip(), (alias or original).strip()))
        statements.append((relative, members, plain))
    return statements


def import_targets(path: str, text: str) -> list[str]:
    """The raw names ``path`` imports (module names, relative paths, packages), in file order."""
    language = language_of(path)
    if language == "python":
        names = []
        for relative, members, plain in _python_imports(text):
            if plain:
                names += [n.split(" as ")[0].strip() for n in plain.split(",")]
            else:  # "from R import a": the module R.a if there is one, else R (see _python_candidates)
                names += [f"{relative}{FROM_IMPORT}{original}" for original, _ in members] or [relative]
        return names
    if language in ("javascript", "typescript"):
        return _JS_IMPORT.findall(text)
    if language == "java":
        return _JAVA_IMPORT.findall(text)
    if language == "go":
        return [n for block, single in _GO_IMPORT.findall(text) for n in (re.findall(r'"([^"]+)"', block) if block else [single])]
    if language == "rust":
        return [f"mod:{m}" for m in _RUST_MOD.findall(text)] + [f"use:{u}" for u in _RUST_USE.findall(text)]
    if language in ("c", "cpp"):
        return _C_INCLUDE.findall(text)
    return []


def python_reexports(text: str) -> dict[str, str]:
    """Names a Python module takes from another without defining them itself (``from R import a as b``:
    ``b`` → ``R:a``): what a package's ``__init__.py`` merely re-exports. A name imported twice
    (``try: from .fast import f`` / ``except ImportError: from .slow import f``) is the first one."""
    defined = {a or b for a, b in _PY_DEFINED.findall(text)}
    reexports: dict[str, str] = {}
    for relative, members, _ in _python_imports(text):
        for original, alias in members:
            if alias not in defined:
                reexports.setdefault(alias, f"{relative}{FROM_IMPORT}{original}")
    return reexports


def _python_candidates(path: str, name: str) -> list[tuple[str, bool]]:
    """Files a Python import may name, in order, each with whether it is the package ``R`` whose
    ``__init__.py`` may re-export the member: ``R:a`` (``from R import a``) is module ``R.a``, else
    ``R``; ``a.b.c`` is module ``a.b.c``, else ``a.b``, else ``a``."""
    module, _, member = name.partition(FROM_IMPORT)
    dots = len(module) - len(module.lstrip("."))
    parts = [p for p in module.lstrip(".").split(".") if p]
    if dots:
        base = posixpath.dirname(path)
        for _ in range(dots - 1):
            base = posixpath.dirname(base)
        stem = posixpath.join(base, *parts) if parts else base
    else:
        stem = posixpath.join(*parts) if parts else ""
    if member:
        stems = [(posixpath.join(stem, member), False), (stem, True)]
    elif dots:
        stems = [(stem, False)]
    else:  # "import a.b.c" runs a/b/c.py, else the deepest package of the path that is in the repository
        stems = [(posixpath.join(*parts[:i]), False) for i in range(len(parts), 0, -1)]
    return [(c, holds_member) for s, holds_member in stems if s for c in (f"{s}.py", f"{s}/__init__.py")]


def resolve_imports(files: Mapping[str, str], package: str | None = None) -> dict[str, set[str]]:
    """For every file, the files of the same repository it imports (paths relative to the root).

    Python: ``from pkg import a`` names the module that defines ``a``: ``pkg/a.py`` when it is a
    module, else the module ``pkg/__init__.py`` re-exports it from (followed through re-exports),
    else ``pkg/__init__.py``; so a package's ``__init__.py`` comes after the submodules it gathers.
    ``package``: the repository's own package name when its ``__init__.py`` sits at the root
    (``import package.sub`` is then ``sub.py``)."""
    paths = set(files)
    root_package = package if package and "__init__.py" in paths else None
    by_suffix: dict[str, list[str]] = {}
    for p in sorted(paths):  # a Python module or Java class may sit under a source root (src/, lib/...)
        segments = p.split("/")
        for i in range(len(segments)):
            by_suffix.setdefault("/".join(segments[i:]), []).append(p)
    go_module = next((m.group(1) for p, t in sorted(files.items()) if p.endswith("go.mod") for m in [_GO_MODULE.search(t)] if m), None)

    def found(candidate: str) -> str | None:
        candidate = posixpath.normpath(candidate)
        if root_package and (candidate == f"{root_package}.py" or candidate.startswith(f"{root_package}/")):
            candidate = "__init__.py" if candidate == f"{root_package}.py" else candidate[len(root_package) + 1 :]
        if candidate in paths:
            return candidate
        # under a source root (src/, lib/), never inside a package: filelock/asyncio.py is no "asyncio"
        matches = [m for m in by_suffix.get(candidate, []) if f"{m[: len(m) - len(candidate)]}__init__.py" not in paths]
        return matches[0] if matches else None

    reexports: dict[str, dict[str, str]] = {}

    def python_target(path: str, name: str, depth: int = 0) -> str | None:
        """The file a Python import names, through the re-exports of package ``__init__.py`` files."""
        target, holds_member = next(((t, h) for c, h in _python_candidates(path, name) if (t := found(c)) is not None), (None, False))
        if target == path:  # the module imports itself (``from .. import trainers`` in trainers/__init__.py)
            return None
        if target is None or not holds_member or posixpath.basename(target) != "__init__.py" or depth >= REEXPORT_DEPTH:
            return target
        member = name.partition(FROM_IMPORT)[2]
        if target not in reexports:
            reexports[target] = python_reexports(files[target])
        origin = reexports[target].get(member)
        followed = python_target(target, origin, depth + 1) if origin else None
        if followed == path:  # the package re-exports this very module's name: no dependency
            return None
        return followed or target

    edges: dict[str, set[str]] = {p: set() for p in paths}
    for path, text in files.items():
        language, folder = language_of(path), posixpath.dirname(path)
        for name in import_targets(path, text):
            candidates: list[str] = []
            if language == "python":
                target = python_target(path, name)
                if target is not None:
                    edges[path].add(target)
                continue
            elif language in ("javascript", "typescript") and name.startswith("."):
                stem = posixpath.join(folder, name)
                candidates = [stem] + [stem + e for e in (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")] + [f"{stem}/index{e}" for e in (".ts", ".tsx", ".js", ".jsx")]
            elif language == "java":
                candidates = [name.replace(".", "/") + ".java"]
            elif language == "go" and go_module and (name == go_module or name.startswith(go_module + "/")):
                directory = name[len(go_module):].lstrip("/")
                candidates = sorted(p for p in paths if posixpath.dirname(p) == directory and p.endswith(".go") and not p.endswith("_test.go"))
            elif language == "rust":
                kind, module = name.split(":", 1)
                base = folder if posixpath.basename(path) in ("mod.rs", "lib.rs", "main.rs") else posixpath.splitext(path)[0]
                roots = [base] if kind == "mod" else [folder, posixpath.dirname(folder)]
                candidates = [c for r in roots for c in (posixpath.join(r, f"{module}.rs"), posixpath.join(r, module, "mod.rs"))]
            elif language in ("c", "cpp"):
                candidates = [posixpath.join(folder, name), name]
            targets = [t for c in candidates if (t := found(c)) is not None and t != path]
            if language == "go":
                edges[path].update(targets)
            elif targets:
                edges[path].add(targets[0])
    return edges


def dependency_order(paths: Iterable[str], edges: Mapping[str, Iterable[str]]) -> list[str]:
    """Every file after the files it imports: the groups of files that import each other (strongly
    connected components) in topological order, the group with the smallest path first among those
    free to go; inside a group, the same order with each cycle broken at its smallest waiting file."""
    known = set(paths)
    nodes = sorted(known)
    graph = {p: sorted(known.intersection(edges.get(p, ())) - {p}) for p in nodes}
    components = strongly_connected_components(graph)
    component_of = {p: i for i, members in enumerate(components) for p in members}
    depends = [{component_of[d] for p in members for d in graph[p]} - {i} for i, members in enumerate(components)]
    order: list[str] = []
    for i in _kahn(list(range(len(components))), depends, key=lambda i: components[i][0]):
        members = components[i]
        inside = {p: {d for d in graph[p] if component_of[d] == i} for p in members}
        order += _kahn(members, inside, key=lambda p: p)
    return order


def _kahn(nodes: list, depends: Mapping | Sequence, key: Callable[[Any], Any]) -> list:
    """Kahn's topological sort taking the smallest ``key`` among the free nodes; when nothing is
    free (a cycle), the smallest waiting node goes next."""
    waiting = {n: set(depends[n]) for n in nodes}
    users: dict = {n: [] for n in nodes}
    for n in nodes:
        for d in waiting[n]:
            users[d].append(n)
    ready = [(key(n), n) for n in nodes if not waiting[n]]
    heapq.heapify(ready)
    order: list = []
    placed: set = set()
    while len(order) < len(nodes):
        if not ready:
            heapq.heappush(ready, min((key(n), n) for n in nodes if n not in placed))
        _, node = heapq.heappop(ready)
        if node in placed:
            continue
        placed.add(node)
        order.append(node)
        for user in users[node]:
            waiting[user].discard(node)
            if not waiting[user] and user not in placed:
                heapq.heappush(ready, (key(user), user))
    return order


def strongly_connected_components(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted by path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                components.append(sorted(members))
    return components


def reaches(edges: Mapping[str, Iterable[str]], start: str, goal: str) -> bool:
    """Whether ``goal`` is reachable from ``start`` along ``edges`` (file → files it imports)."""
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(edges[node])
    return False


FILE_MARKER = "# {path}\n"  # the line before each file of a repository document, DeepSeek-Coder style


def repository_documents(source: str, repo: str, location: str, files: Sequence[Document], max_repo_bytes: int) -> list[Document]:
    """The repository's files in dependency order, each after a ``FILE_MARKER`` line, as one document
    ``source/repo`` or, over ``max_repo_bytes``, parts ``source/repo#1``, ``#2``... split at file
    boundaries. ``meta['files']`` gives each file's path, language and ``[start, end)`` character
    span (FIM keeps its hole inside one span); ``meta['language']`` is the language of most bytes."""
    by_path = {f.meta["file"]: f for f in files}
    order = dependency_order(sorted(by_path), resolve_imports({p: f.text for p, f in by_path.items()}, package=posixpath.basename(repo.rstrip("/"))))
    parts: list[list[str]] = []
    size = 0
    for path in order:
        body = by_path[path].text
        piece_bytes = len(FILE_MARKER.format(path=path).encode("utf-8", "surrogatepass")) + len(body.encode("utf-8", "surrogatepass")) + 1
        if not parts or (size + piece_bytes > max_repo_bytes and parts[-1]):
            parts.append([])
            size = 0
        parts[-1].append(path)
        size += piece_bytes
    documents = []
    for k, paths in enumerate(parts, 1):
        chunks: list[str] = []
        spans = []
        offset = 0
        language_bytes: Counter = Counter()
        for path in paths:
            marker, body = FILE_MARKER.format(path=path), by_path[path].text
            start = offset + len(marker)
            chunks += [marker, body] if body.endswith("\n") else [marker, body, "\n"]
            language = by_path[path].meta["language"]
            spans.append({"path": path, "language": language, "start": start, "end": start + len(body)})
            language_bytes[language] += len(body)
            offset = start + len(body) + (0 if body.endswith("\n") else 1)
        meta = {"path": location, "repo": repo, "files": spans, "language": min(language_bytes, key=lambda language: (-language_bytes[language], language))}
        if len(parts) > 1:
            meta["part"] = k
        doc_id = f"{source}/{repo}" if len(parts) == 1 else f"{source}/{repo}#{k}"
        documents.append(Document(doc_id, "".join(chunks), source, meta))
    return documents


def split_repositories(doc_ids: Iterable[str]) -> list[str]:
    """Repository ids with more than one first document (``source/repo`` or ``source/repo#1``):
    their rows lay in more than one input file, and each file made its own documents."""
    firsts = Counter(doc_id.removesuffix("#1") for doc_id in doc_ids if not re.search(r"#\d+$", doc_id) or doc_id.endswith("#1"))
    return sorted(doc_id for doc_id, n in firsts.items() if n > 1)
