"""Shared helpers: small generated corpora and configs (nothing is fetched)."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

WORDS = (
    "data pipeline token corpus model training shard arrow beam filter language text quality "
    "document window sequence packing merge vocabulary byte encoder decoder attention layer "
    "river mountain cloud forest garden library museum station harbor village bridge market"
).split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def paragraph_docs(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct prose documents of a few sentences each."""
    rng = random.Random(seed)
    return [f"Doc {i}. " + " ".join(sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(3, 8))) for i in range(n)]


def write_jsonl(path: Path, records: list[Any]) -> Path:
    """Writes records (dicts as JSON, bytes/str verbatim) one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for r in records:
            line = r if isinstance(r, bytes) else (r.encode() if isinstance(r, str) else json.dumps(r).encode())
            f.write(line + b"\n")
    return path


def base_config(tmp_path: Path, sources: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    config = {
        "output_dir": str(tmp_path / "out"),
        "seed": 7,
        "beam": {"runner": "FnApiRunner", "direct_running_mode": "in_memory", "direct_num_workers": 1},
        "sources": sources,
        # Random-word documents are no prose: the pipeline mechanics are under test here, the
        # heuristic filters have their own tests.
        "filters": {
            "min_length": {"min_chars": 20},
            "language": {"enabled": False},
            "gopher_quality": {"enabled": False},
            "gopher_repetition": {"enabled": False},
            "fineweb": {"enabled": False},
        },
        "tokenizer": {"vocab_size": 600, "sample_bytes": 1_000_000, "min_frequency": 2},
        "pack": {"seq_len": 128, "group_size": 50},
        "output": {"unit_mb": 1},
        "max_dead_letter_fraction": 0.5,
    }
    config.update(overrides)
    return config


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Any]:
    """A JSONL source with three broken lines, and a text source of code-like files."""
    docs = paragraph_docs(60)
    docs[5] += " Write to jane.doe@example.com for details."  # redacted in place, counted in the report
    records: list[Any] = [{"id": f"d{i}", "text": t} for i, t in enumerate(docs)]
    records.insert(10, '{"id": "broken", "text": ')  # invalid JSON: line 11
    records.insert(20, {"id": "notext", "body": "no text field"})  # line 21
    records.insert(30, b'{"id": "badutf8", "text": "caf\xe9"}')  # line 31
    records.append({"id": "dup", "text": docs[0]})  # exact duplicate of d0
    records.append({"id": "tiny", "text": "too short"})
    for i in (1, 2):  # near duplicates: the last word changed
        records.append({"id": f"near{i}", "text": docs[i].rsplit(" ", 1)[0] + " changed."})
    jsonl = write_jsonl(tmp_path / "in" / "web" / "part.jsonl", records)
    code_dir = tmp_path / "in" / "code"
    for pkg in ("alpha", "beta"):
        (code_dir / pkg).mkdir(parents=True)
        for j in range(4):
            body = "\n".join(f"def {pkg}_{j}_{k}(x):\n    return x * {k} + {j}  # {pkg}" for k in range(6))
            (code_dir / pkg / "__init__.py" if j == 0 else code_dir / pkg / f"m{j}.py").write_text(body + "\n")
    sources = [
        {"name": "web", "paths": [str(jsonl)], "format": "jsonl", "id_field": "id"},
        {"name": "code", "paths": [str(code_dir / "alpha" / "*.py"), str(code_dir / "beta" / "*.py")], "format": "text", "kind": "code", "priority": 1},
    ]
    return {"docs": docs, "jsonl": jsonl, "sources": sources}
