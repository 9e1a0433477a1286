"""The bundled demo corpus: real text every Python install has.

Prose: the pydoc topic pages and the docstrings of the standard library's modules (read with
``ast``, never imported). Code: the standard library's own sources, read by the config directly.
"""
from __future__ import annotations

import ast
import json
import os
import pydoc_data.topics
import sysconfig
from collections.abc import Iterator


def python_docs() -> Iterator[dict[str, str]]:
    """Yields ``{"id", "text", "url"}`` records, sorted by id, so the corpus is the same every time."""
    for topic, text in sorted(pydoc_data.topics.topics.items()):
        yield {"id": f"topic/{topic}", "text": text, "url": f"pydoc:{topic}"}
    stdlib = sysconfig.get_paths()["stdlib"]
    for root, dirs, files in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "idle_test", "site-packages", "__pycache__"))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            try:
                with open(path, encoding="utf-8") as f:
                    docstring = ast.get_docstring(ast.parse(f.read()))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            if docstring:
                module = os.path.relpath(path, stdlib)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                yield {"id": f"module/{module}", "text": docstring, "url": f"pydoc:{module}"}


def write_demo_corpus(path: str) -> int:
    """Writes the prose corpus as JSONL; returns the number of documents."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for record in python_docs():
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
