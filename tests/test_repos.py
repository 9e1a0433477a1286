"""Repository sources: directories, archives, bare git and file rows become repository documents
whose files follow their dependencies, with every file accounted for."""
from __future__ import annotations

import io
import json
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from dulwich import porcelain

from pipeline.assemble.fim import document_text, fim_cuts
from pipeline.assemble.pack import unpack_row
from pipeline.cli import main
from pipeline.config import SourceConfig
from pipeline.curate.repo_order import FILE_MARKER, reaches, repository_documents, resolve_imports, split_repositories
from pipeline.read.code_files import content_skip_reason, language_of, path_skip_reason
from pipeline.read.formats import read_piece
from pipeline.read.repos import read_repository
from pipeline.read.units import Piece
from pipeline.records import Document, Repository
from tests.conftest import base_config
from tokenizer import load_directory

PYTHON_REPO = {
    "pkg/__init__.py": "from pkg.core import run\n\n__all__ = ['run']\n",
    "pkg/core.py": "from .util import helper\n\n\ndef run(values):\n    return [helper(v) for v in values]\n",
    "pkg/util.py": "def helper(value):\n    # doubles a value for the demo repository\n    return value * 2\n",
    "tests/test_core.py": "from pkg.core import run\n\n\ndef test_run():\n    assert run([1, 2]) == [2, 4]\n",
    "node_modules/left-pad/index.js": "module.exports = function leftPad(s) { return s; };\n",
    "data/points.csv": "x,y\n1,2\n3,4\n",
    "package-lock.json": '{"lockfileVersion": 3}\n',
    "LICENSE": "Permission is hereby granted, free of charge, to any person obtaining a copy.\n",
    "assets/logo.png": "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "big.py": "# " + "padding line for size\n# " * 400 + "\n",
    "minified.js": "var a=1;" * 200 + "\n",
}
JS_REPO = {
    "src/app.js": "import { total } from './lib/math.js';\nconsole.log(total([1, 2, 3]));\n",
    "src/lib/math.js": "import { add } from './add.js';\nexport const total = (xs) => xs.reduce(add, 0);\n",
    "src/lib/add.js": "export function add(a, b) {\n  return a + b;\n}\n",
}
GO_REPO = {
    "go.mod": "module example.com/calc\n\ngo 1.21\n",
    "main.go": 'package main\n\nimport (\n\t"fmt"\n\t"example.com/calc/ops"\n)\n\nfunc main() {\n\tfmt.Println(ops.Sum(1, 2))\n}\n',
    "ops/ops.go": "package ops\n\n// Sum adds two integers together.\nfunc Sum(a, b int) int {\n\treturn a + b\n}\n",
}
RUST_REPO = {
    "src/main.rs": "mod parser;\nuse crate::parser::parse;\n\nfn main() {\n    println!(\"{:?}\", parse(\"1 2\"));\n}\n",
    "src/parser.rs": "pub fn parse(s: &str) -> Vec<i64> {\n    s.split(' ').map(|x| x.parse().unwrap()).collect()\n}\n",
}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(text.encode("latin-1") if path.endswith(".png") else text.encode("utf-8"))


def make_repositories(root: Path) -> None:
    """A directory, its copy, a .tar.gz, a .zip, a bare git repository and a corrupt archive."""
    write_tree(root / "alpha", PYTHON_REPO)
    (root / "alpha" / "bad.py").write_bytes(b"name = '\xff\xfe'\n")
    write_tree(root / "alpha_copy", PYTHON_REPO)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as t:
        for path, text in JS_REPO.items():
            data = text.encode()
            info = tarfile.TarInfo(f"beta/{path}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    (root / "beta.tar.gz").write_bytes(buffer.getvalue())
    with zipfile.ZipFile(root / "gamma.zip", "w") as z:
        for path, text in GO_REPO.items():
            z.writestr(path, text)
    work = root.parent / "delta-work"
    write_tree(work, RUST_REPO)
    porcelain.init(str(work))
    porcelain.add(str(work), [str(work / p) for p in RUST_REPO])
    porcelain.commit(str(work), message=b"init", author=b"a <a@b.c>", committer=b"a <a@b.c>")
    porcelain.clone(str(work), str(root / "delta.git"), bare=True, errstream=io.BytesIO())
    (root / "broken.tar.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")


def test_files_are_classified_by_name_extension_shebang_and_content():
    assert language_of("a/b.tsx") == "typescript" and language_of("Makefile") == "makefile"
    assert language_of("bin/tool", b"#!/usr/bin/env python3\nprint(1)\n") == "python" and language_of("run", b"#!/bin/bash\n") == "shell"
    assert path_skip_reason(".git/objects/ab/cdef", 10) == "vcs_metadata"
    assert path_skip_reason("web/node_modules/x/index.js", 10) == "vendored" and path_skip_reason("pip/_vendor/six.py", 10) == "vendored"
    assert path_skip_reason("static/app.min.js", 10) == "generated" and path_skip_reason("api_pb2.py", 10) == "generated"
    assert path_skip_reason("yarn.lock", 10) == "generated" and path_skip_reason("data/train.csv", 10) == "data_file"
    assert path_skip_reason("src/main.py", 2_000_000) == "too_large" and path_skip_reason("src/main.py", 2_000) is None
    assert content_skip_reason("a.py", b"x\x00y") == "binary" and content_skip_reason("a.py", b"\xff") == "not_utf8"
    assert content_skip_reason("NOTICE", b"text") == "unknown_language" and content_skip_reason("a.py", b"x = 1\n") is None


def test_every_kind_of_repository_reads_into_files_and_skips(tmp_path):
    root = tmp_path / "repos"
    root.mkdir()
    make_repositories(root)
    source = SourceConfig("code", [f"{root}/*"], format="repos", kind="code", max_file_bytes=4000)
    records = {location.name: list(read_repository(source, str(location), f"{root}/")) for location in sorted(root.iterdir())}
    repos = {name: r[-1] for name, r in records.items() if isinstance(r[-1], Repository)}
    assert {name: [f.meta["file"] for f in repo.files] for name, repo in repos.items() if name != "alpha_copy"} == {
        "alpha": ["minified.js", "pkg/__init__.py", "pkg/core.py", "pkg/util.py", "tests/test_core.py"],
        "beta.tar.gz": sorted(f"beta/{p}" for p in JS_REPO),
        "gamma.zip": sorted(GO_REPO),
        "delta.git": sorted(RUST_REPO),
    }
    assert repos["delta.git"].name == "delta" and repos["beta.tar.gz"].name == "beta" and repos["gamma.zip"].files[1].meta["language"] == "go"
    skips = {d.id: d.reason for d in records["alpha"] if not isinstance(d, Repository)}
    assert skips == {
        "code/alpha/node_modules/left-pad/index.js": "vendored", "code/alpha/data/points.csv": "data_file",
        "code/alpha/package-lock.json": "generated", "code/alpha/LICENSE": "unknown_language",
        "code/alpha/assets/logo.png": "binary", "code/alpha/big.py": "too_large", "code/alpha/bad.py": "not_utf8",
    }
    (broken,) = records["broken.tar.gz"]
    assert broken.stage == "repo" and broken.file.endswith("broken.tar.gz") and "unreadable repository" in broken.error


def test_file_rows_are_grouped_into_repositories(tmp_path):
    rows = [
        {"repo": "org/a", "path": "m.py", "content": "import n\nprint(n.X)\n"},
        {"repo": "org/b", "path": "x.js", "content": "export const x = 1;\n"},
        {"repo": "org/a", "path": "n.py", "content": "X = 1\n"},
        {"repo": "org/a", "path": "n.py", "content": "X = 2\n"},
        {"repo": "org/a", "content": "no path\n"},
    ]
    path = tmp_path / "files.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = SourceConfig("stack", [str(path)], text_field="content", kind="code", repo_field="repo", path_field="path")
    records = list(read_piece(source, Piece(str(path), f"{tmp_path}/", path.stat().st_size)))
    duplicate, dead, a, b = records
    assert dead.line == 5 and "'path'" in dead.error and duplicate.reason == "duplicate_path" and duplicate.id == "stack/org/a/n.py"
    assert [f.text for f in a.files] == ["import n\nprint(n.X)\n", "X = 1\n"] and a.name == "org/a" and b.files[0].meta["language"] == "javascript"
    (doc,) = repository_documents("stack", a.name, a.location, a.files, 1 << 20)
    assert doc.id == "stack/org/a" and doc.text == FILE_MARKER.format(path="n.py") + "X = 1\n" + FILE_MARKER.format(path="m.py") + "import n\nprint(n.X)\n"


def test_long_repositories_split_into_parts_at_file_boundaries_and_fim_stays_in_one_file():
    files = [Document(f"s/r/f{i}.py", f"import f{i - 1}\n" * (i > 0) + "x = 1\n" * 40, "s", {"file": f"f{i}.py", "language": "python"}) for i in range(6)]
    parts = repository_documents("s", "r", "/repos/r", files, 700)
    assert [d.id for d in parts] == [f"s/r#{k}" for k in range(1, len(parts) + 1)] and len(parts) > 2
    assert [s["path"] for d in parts for s in d.meta["files"]] == [f"f{i}.py" for i in range(6)]  # each after the file it imports
    for doc in parts:
        spans = [(s["start"], s["end"]) for s in doc.meta["files"]]
        for s in doc.meta["files"]:
            assert doc.text[s["start"] - len(FILE_MARKER.format(path=s["path"])) : s["start"]] == FILE_MARKER.format(path=s["path"])
        for n in range(200):
            a, b = fim_cuts(n, doc.id, len(doc.text), spans)
            assert any(start <= a <= b <= end for start, end in spans)


def test_a_repos_source_runs_to_arrow_shards_with_every_file_accounted_for(tmp_path):
    root = tmp_path / "repos"
    root.mkdir()
    make_repositories(root)
    source = {"name": "code", "paths": [f"{root}/*"], "format": "repos", "kind": "code", "max_file_bytes": 4000, "max_repo_bytes": 400}
    config = base_config(tmp_path, [source], fim={"rate": 1.0}, pack={"seq_len": 2048, "group_size": 50},
                         filters={**base_config(tmp_path, [])["filters"], "min_length": {"min_chars": 1}, "code": {"max_line_length": 1000}})
    path = tmp_path / "repos.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--quiet"]) == 0
    out = Path(config["output_dir"])
    report = json.loads((out / "report" / "report.json").read_text())["curate"]["sources"]["code"]
    assert report["reconciles"] and report["dead_lettered"] == 1  # the corrupt archive
    repos = report["repositories"]
    files_made = 2 * len(PYTHON_REPO) + 1 + len(JS_REPO) + len(GO_REPO) + len(RUST_REPO)
    file_drops = sum(n for key, n in report["dropped"].items() if key.split("/")[0] in ("repo", "filter"))
    assert repos["repositories"] == 5 and repos["files"] == files_made == repos["files_in_documents"] + file_drops
    assert repos["files_skipped"]["vendored"] == 2 and report["dropped"]["filter/code_max_line_length"] == 2  # minified.js, named per file
    drops = [r for f in (out / "drops").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert {d["id"] for d in drops if d["reason"] == "code_max_line_length"} == {"code/alpha/minified.js", "code/alpha_copy/minified.js"}
    duplicates = {d["id"] for d in drops if d["stage"] in ("exact_dedup", "near_dedup")}
    assert duplicates and all(d.startswith("code/alpha") for d in duplicates)  # the copy of alpha, as repository documents
    kept = [r for f in sorted((out / "curated").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    order = {r["id"]: [s["path"] for s in json.loads(r["meta"])["files"]] for r in kept}
    files_kept = sum(len(v) for v in order.values())
    files_in_duplicates = repos["files_in_documents"] - files_kept
    assert files_in_duplicates == len(PYTHON_REPO) - 7  # the copy's files that were not skipped nor dropped
    beta = [p for k in sorted(order) if k.startswith("code/beta") for p in order[k]]
    assert beta.index("beta/src/lib/add.js") < beta.index("beta/src/lib/math.js") < beta.index("beta/src/app.js")
    gamma = [p for k in sorted(order) if k.startswith("code/gamma") for p in order[k]]
    assert gamma.index("ops/ops.go") < gamma.index("main.go")
    manifest = json.loads((out / "dataset" / "manifest.json").read_text())
    assert manifest["packing"]["documents"] == len(kept) > 0 and manifest["packing"]["documents_split"] == 0
    spans = {r["text"]: [(f["start"], f["end"]) for f in json.loads(r["meta"])["files"]] for r in kept}
    encoder = load_directory(str(out / "tokenizer"))
    fim_begin, fim_hole, fim_end = (encoder.special_ids[k] for k in ("fim_begin", "fim_hole", "fim_end"))
    decoded = []
    for row in datasets.load_from_disk(str(out / "dataset")):
        for piece in unpack_row(row):
            ids = piece.tolist()
            text = document_text(encoder, ids)
            decoded.append(text)
            assert ids[0] == fim_begin  # fim.rate 1: every repository document is FIM, its hole inside one file
            middle_start = len(encoder.decode(ids[1 : ids.index(fim_hole)]))
            middle_end = middle_start + len(encoder.decode(ids[ids.index(fim_end) + 1 : -1]))
            assert any(start <= middle_start <= middle_end <= end for start, end in spans[text])
    assert sorted(decoded) == sorted(spans)


def package_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*.py"))


@pytest.mark.slow
def test_installed_packages_as_repositories_keep_every_import_before_its_user(tmp_path):
    """Packages installed on this machine, each a repository: for every resolved import edge A → B
    outside a cycle, B precedes A in the repository's documents."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    packages = sorted(p.name for p in purelib.iterdir() if (p / "__init__.py").exists() and package_bytes(p) < 5_000_000)[:40]
    assert len(packages) >= 10
    checked = 0
    source = SourceConfig("site", [f"{tmp_path}/*.tar"], format="repos", kind="code")
    for name in packages:
        with tarfile.open(tmp_path / f"{name}.tar", "w") as t:  # the package inside its repository, as in a source tree
            t.add(purelib / name, arcname=name, filter=lambda m: None if "__pycache__" in m.name else m)
        repo = list(read_repository(source, str(tmp_path / f"{name}.tar"), f"{tmp_path}/"))[-1]
        assert isinstance(repo, Repository)
        documents = repository_documents("site", repo.name, repo.location, repo.files, 256 * 1024)
        position = {s["path"]: i for i, s in enumerate(s for d in documents for s in d.meta["files"])}
        assert sorted(position) == sorted(f.meta["file"] for f in repo.files)
        edges = resolve_imports({f.meta["file"]: f.text for f in repo.files})
        for user, used in ((a, b) for a, targets in edges.items() for b in targets):
            if not reaches(edges, used, user):
                assert position[used] < position[user], (name, user, used)
                checked += 1
    assert checked > 100


def test_a_repository_whose_rows_lie_in_two_files_is_reported(tmp_path):
    assert split_repositories(["s/a", "s/b#1", "s/b#2", "s/a", "s/c#1", "s/c", "s/d#2"]) == ["s/a", "s/c"]
    for part, rows in enumerate([[("org/one", "a.py"), ("org/two", "x.py")], [("org/one", "b.py")]]):
        write_jsonl_rows(tmp_path / "stack" / f"part-{part}.jsonl", [{"repo": r, "path": p, "content": f"def {p[0]}():\n    return {part}\n"} for r, p in rows])
    source = {"name": "stack", "paths": [f"{tmp_path}/stack/*.jsonl"], "text_field": "content", "kind": "code", "repo_field": "repo", "path_field": "path"}
    config = base_config(tmp_path, [source], filters={**base_config(tmp_path, [])["filters"], "min_length": {"min_chars": 1}})
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["curate", str(path), "--quiet"]) == 0
    report = json.loads((Path(config["output_dir"]) / "report" / "report.json").read_text())["curate"]["sources"]["stack"]
    assert report["repositories"]["split_across_files"] == {"repositories": 1, "examples": ["stack/org/one"]} and report["reconciles"]


def write_jsonl_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
