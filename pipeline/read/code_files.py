"""Which files of a repository are source code: the language table and the reasons to skip a file.

A linguist-style table: a language per file extension, per exact file name (``Makefile``) and per
shebang interpreter, and the skip rules of The Stack / StarCoder / DeepSeek-Coder: vendored
directories, version-control stores, binary and non-UTF-8 files, generated files, data files, files over a size limit and
files of no known language. Each rule returns a named reason, which the report counts.
"""
from __future__ import annotations

import posixpath
import re

EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyx": "cython",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".groovy": "groovy", ".gradle": "groovy",
    ".go": "go", ".rs": "rust", ".swift": "swift", ".dart": "dart",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".cs": "csharp", ".fs": "fsharp", ".vb": "visual-basic", ".m": "objective-c", ".mm": "objective-c",
    ".rb": "ruby", ".php": "php", ".pl": "perl", ".pm": "perl", ".lua": "lua", ".r": "r", ".jl": "julia",
    ".hs": "haskell", ".ml": "ocaml", ".mli": "ocaml", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ps1": "powershell", ".bat": "batchfile",
    ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss", ".less": "less", ".vue": "vue",
    ".md": "markdown", ".rst": "restructuredtext", ".tex": "tex",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini", ".cfg": "ini",
    ".cmake": "cmake", ".mk": "makefile", ".proto": "protobuf", ".graphql": "graphql", ".tf": "hcl",
    ".v": "verilog", ".sv": "systemverilog", ".vhd": "vhdl", ".asm": "assembly", ".s": "assembly",
    ".f90": "fortran", ".f": "fortran", ".zig": "zig", ".nim": "nim", ".sol": "solidity",
}
FILENAMES = {
    "Makefile": "makefile", "GNUmakefile": "makefile", "CMakeLists.txt": "cmake", "Dockerfile": "dockerfile",
    "Rakefile": "ruby", "Gemfile": "ruby", "BUILD": "starlark", "BUILD.bazel": "starlark", "WORKSPACE": "starlark",
    "go.mod": "go-module", "Cargo.toml": "toml",
}
SHEBANGS = {
    "python": "python", "python2": "python", "python3": "python", "node": "javascript", "deno": "typescript",
    "sh": "shell", "bash": "shell", "zsh": "shell", "dash": "shell", "ruby": "ruby", "perl": "perl", "php": "php", "lua": "lua", "Rscript": "r",
}
VENDORED_DIRS = frozenset({
    "node_modules", "vendor", "vendors", "_vendor", "_vendored", "third_party", "third-party", "thirdparty",
    "bower_components", "site-packages", "dist-packages", "__pycache__", ".tox", ".venv", "venv",
    ".mypy_cache", ".pytest_cache", ".idea", ".vscode", "dist", "target", ".next", "Pods",
})
VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})  # a working tree's version-control store
GENERATED_NAMES = re.compile(
    r"(\.min\.(js|css)|\.bundle\.js|_pb2(_grpc)?\.pyi?|\.pb\.(go|cc|h)|\.generated\.\w+|\.g\.dart|\.designer\.cs)$"
    r"|^(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|Cargo\.lock|go\.sum|composer\.lock|Gemfile\.lock|Pipfile\.lock|uv\.lock)$"
)
DATA_EXTENSIONS = frozenset({".csv", ".tsv", ".jsonl", ".ndjson", ".dat", ".log", ".txt", ".xml", ".svg", ".geojson", ".ipynb", ".pem", ".map"})
MAX_FILE_BYTES = 1_000_000  # The Stack: larger files are mostly data or generated
SHEBANG = re.compile(rb"^#!\s*(?:\S*/)?(?:env\s+(?:-\S+\s+)*)?([\w.+-]+)")
BINARY_SNIFF_BYTES = 8192


def language_of(path: str, head: bytes = b"") -> str | None:
    """The language of a file by its name, extension, then the shebang of its first line."""
    name = posixpath.basename(path)
    if name in FILENAMES:
        return FILENAMES[name]
    language = EXTENSIONS.get(posixpath.splitext(name)[1].lower())
    if language is None and (m := SHEBANG.match(head)):
        interpreter = m.group(1).decode("ascii", "replace")
        language = SHEBANGS.get(interpreter) or SHEBANGS.get(interpreter.rstrip("0123456789."))
    return language


def path_skip_reason(path: str, size: int, max_file_bytes: int = MAX_FILE_BYTES) -> str | None:
    """A reason to skip a file known from its path and size alone (no need to read it)."""
    directories = path.split("/")[:-1]
    if any(part in VCS_DIRS for part in directories):
        return "vcs_metadata"
    if any(part in VENDORED_DIRS for part in directories):
        return "vendored"
    if GENERATED_NAMES.search(posixpath.basename(path)):
        return "generated"
    if posixpath.splitext(path)[1].lower() in DATA_EXTENSIONS:
        return "data_file"
    if size > max_file_bytes:
        return "too_large"
    return None


def content_skip_reason(path: str, data: bytes) -> str | None:
    """A reason to skip a file once read: binary, not UTF-8, or of no known language."""
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8"
    if language_of(path, data[:256]) is None:
        return "unknown_language"
    return None
