"""Repository-level code: imports resolved per language, files in dependency order, cycles broken deterministically."""
from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from pipeline.curate.repo_order import dependency_order, reaches, resolve_imports
from pipeline.read.code_files import language_of


def ordered(files: dict[str, str]) -> list[str]:
    return dependency_order(sorted(files), resolve_imports(files))


def test_every_language_puts_a_file_after_what_it_imports():
    repos = {
        "python": {"pkg/__init__.py": "", "pkg/a.py": "from .b import helper\nimport pkg.c\n", "pkg/b.py": "x = 1\n", "pkg/c.py": "from . import b\n"},
        "javascript": {"src/app.js": "import { f } from './util';\nconst g = require('./lib/g');\n", "src/util.js": "export const f = 1;\n",
                       "src/lib/g.js": "import x from '../util.js';\n"},
        "typescript": {"a.ts": "import { b } from './b';\nexport * from './c';\n", "b.ts": "export const b = 1;\n", "c/index.ts": "import './../b';\n"},
        "java": {"src/main/java/org/x/App.java": "package org.x;\nimport org.x.util.Helper;\n", "src/main/java/org/x/util/Helper.java": "package org.x.util;\n"},
        "go": {"go.mod": "module example.com/m\n", "main.go": 'package main\nimport (\n  "fmt"\n  "example.com/m/util"\n)\n', "util/util.go": "package util\n"},
        "rust": {"src/lib.rs": "mod parser;\npub mod ast;\nuse crate::ast::Node;\n", "src/parser.rs": "use crate::ast;\n", "src/ast/mod.rs": "pub struct Node;\n"},
        "c": {"main.c": '#include <stdio.h>\n#include "lib/util.h"\n', "lib/util.h": '#include "types.h"\n', "lib/types.h": "typedef int t;\n"},
    }
    expected = {
        "python": [("pkg/a.py", "pkg/b.py"), ("pkg/a.py", "pkg/c.py"), ("pkg/c.py", "pkg/b.py")],
        "javascript": [("src/app.js", "src/util.js"), ("src/app.js", "src/lib/g.js"), ("src/lib/g.js", "src/util.js")],
        "typescript": [("a.ts", "b.ts"), ("a.ts", "c/index.ts"), ("c/index.ts", "b.ts")],
        "java": [("src/main/java/org/x/App.java", "src/main/java/org/x/util/Helper.java")],
        "go": [("main.go", "util/util.go")],
        "rust": [("src/lib.rs", "src/parser.rs"), ("src/lib.rs", "src/ast/mod.rs"), ("src/parser.rs", "src/ast/mod.rs")],
        "c": [("main.c", "lib/util.h"), ("lib/util.h", "lib/types.h")],
    }
    for language, files in repos.items():
        edges = resolve_imports(files)
        order = ordered(files)
        for user, used in expected[language]:
            assert used in edges[user], (language, user, used, edges[user])
            assert order.index(used) < order.index(user), (language, order)


def test_cycles_and_files_that_import_nothing_keep_a_deterministic_order():
    files = {"z.py": "", "a.py": "import b\n", "b.py": "import a\n", "c.py": "import a\n", "m.py": "import z\n"}
    order = ordered(files)
    assert order == ordered(dict(reversed(list(files.items()))))  # the order depends on contents, not listing order
    assert order.index("a.py") < order.index("c.py") and order.index("b.py") < order.index("c.py")  # c waits for the whole cycle
    assert order.index("z.py") < order.index("m.py") and sorted(order) == sorted(files)
    assert language_of("x/Y.java") == "java" and language_of("README.md") == "markdown" and language_of("LICENSE") is None


def test_installed_packages_as_repositories_have_no_order_violations():
    """Standard-library packages as repositories: every resolved import edge outside a cycle points backwards."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    edges_checked = 0
    for package in ("email", "json", "asyncio", "importlib", "unittest", "xml", "http", "logging", "concurrent"):
        root = stdlib / package
        files = {f"{package}/{p.relative_to(root).as_posix()}": p.read_text(encoding="utf-8", errors="replace") for p in sorted(root.rglob("*.py"))}
        edges = resolve_imports(files)
        order = dependency_order(sorted(files), edges)
        position = {p: i for i, p in enumerate(order)}
        for user, used in ((u, d) for u, ds in edges.items() for d in ds):
            if not reaches(edges, used, user):  # not on a cycle with its user
                assert position[used] < position[user], (user, used)
                edges_checked += 1
    assert edges_checked > 200


def reader_edges(files: dict[str, str]) -> dict[str, set[str]]:
    """An independent resolver, from the syntax tree, the way a reader of the code would: a file
    depends on the module it imports; a name imported from a package is its submodule if there is
    one, else the module the package's ``__init__.py`` takes it from (followed), else that ``__init__.py``."""
    import ast

    modules = {p.removesuffix(".py").removesuffix("/__init__").replace("/", "."): p for p in files}
    trees = {}
    for p, text in files.items():
        try:
            trees[p] = ast.parse(text)
        except SyntaxError:
            trees[p] = ast.Module(body=[], type_ignores=[])

    def absolute(path: str, module: str | None, level: int) -> str:
        if not level:
            return module or ""
        package = modules_of[path].split(".")
        package = package if path.endswith("__init__.py") else package[:-1]
        base = package[: len(package) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    modules_of = {p: m for m, p in modules.items()}

    def defining(module: str, name: str, depth: int = 0) -> str | None:
        if f"{module}.{name}" in modules:
            return modules[f"{module}.{name}"]
        path = modules.get(module)
        if path is None or not path.endswith("__init__.py") or depth > 8:
            return path
        body = trees[path].body
        defined = {n.name for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        defined |= {t.id for n in body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        if name in defined:
            return path
        for node in ast.walk(trees[path]):  # re-exports under "if" (platform branches) count too
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        found = defining(absolute(path, node.module, node.level), alias.name, depth + 1)
                        return found or path
        return path

    edges: dict[str, set[str]] = {p: set() for p in files}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    targets += [next((modules[".".join(parts[:i])] for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in modules), None)]
            elif isinstance(node, ast.ImportFrom):
                module = absolute(path, node.module, node.level)
                targets += [defining(module, alias.name) for alias in node.names if alias.name != "*"] or [modules.get(module)]
            edges[path].update(t for t in targets if t and t != path)
    return edges


@pytest.mark.slow
def test_package_init_files_come_after_the_submodules_they_gather():
    """Installed packages that re-export their submodules from __init__.py, and standard-library ones:
    every import edge the independent reader finds, outside a genuine cycle, points backwards in
    corpusmill's order. Also a repository whose root is the package: ``import pkg.sub`` is sub.py."""
    import importlib.util

    from pipeline.curate.repo_order import repository_documents
    from pipeline.records import Document

    checked = violations = 0
    for name in ("datasketch", "tqdm", "filelock", "requests", "fsspec", "email", "json", "asyncio", "importlib", "xml", "http", "logging"):
        spec = importlib.util.find_spec(name)
        root = Path(spec.origin).parent
        files = {f"{name}/{p.relative_to(root).as_posix()}": p.read_text(encoding="utf-8", errors="replace") for p in sorted(root.rglob("*.py"))}
        docs = repository_documents("s", name, "x", [Document(f"s/{name}/{p}", t, "s", {"file": p, "language": "python"}) for p, t in files.items()], 1 << 30)
        position = {s["path"]: i for i, s in enumerate(s for d in docs for s in d.meta["files"])}
        edges = reader_edges(files)
        for user, used in ((u, d) for u, ds in edges.items() for d in ds):
            if not reaches(edges, used, user):
                checked += 1
                violations += position[used] > position[user]
    assert checked > 500 and violations == 0
    flat = {"__init__.py": "from pkg.sub import helper\n", "sub.py": "import pkg.util\n", "util.py": "x = 1\n"}
    assert resolve_imports(flat, package="pkg") == {"__init__.py": {"sub.py"}, "sub.py": {"util.py"}, "util.py": set()}


def test_python_import_forms_that_named_the_wrong_file():
    """Held-out packages showed each of these: a package importing itself by name (tokenizers), a
    backslash-continued re-export (jedi), ``import a.b.c`` of a native module (resiliparse), a name
    re-exported twice under try/except (apache_beam), and ``from pkg import sub`` where sub/__init__.py
    re-exports a function of the same name (scipy.fft)."""
    files = {
        "p/__init__.py": "from .api.env import find, \\\n    Environment\ntry:\n    from p.fast import counter\nexcept ImportError:\n    from p.slow import counter\n",
        "p/api/__init__.py": "", "p/api/env.py": "def find(): pass\nclass Environment: pass\n",
        "p/slow.py": "def counter(): pass\n",
        "p/trainers/__init__.py": "from .. import trainers\n",
        "p/fft/__init__.py": "from ._basic import fft\n", "p/fft/_basic.py": "def fft(): pass\n",
        "p/native/__init__.py": "",
        "p/user.py": "from p import Environment, counter, fft\nimport p.native.lang as lang\n",
    }
    edges = resolve_imports(files)
    assert edges["p/trainers/__init__.py"] == set()
    assert edges["p/__init__.py"] == {"p/api/env.py", "p/slow.py"}
    assert edges["p/user.py"] == {"p/api/env.py", "p/__init__.py", "p/fft/__init__.py", "p/native/__init__.py"}
