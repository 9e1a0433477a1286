"""Repository-level ordering on the machine's installed packages, each one a repository.

Every top-level package in site-packages (and the standard library's packages) is archived as
``<name>.tar`` with the package inside, as in a source tree; then each archive is read
(``read_repository``: listing, skip rules, languages), its imports resolved and its files laid out
as repository documents. It prints repositories, files, resolved import edges, order violations
(an edge A → B outside a cycle where B does not precede A: must be 0) and MB/s of source read.
With ``--pipeline`` it then runs ``corpusmill curate`` on the same archives as a ``repos`` source
(filters, exact and near dedup on repository documents, 2 worker processes) and prints its MB/s
and report counts.

    python bench/repo_order.py [--max-package-mb 50] [--pipeline]
"""
from __future__ import annotations

import argparse
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import SourceConfig  # noqa: E402
from pipeline.curate.repo_order import reaches, repository_documents, resolve_imports  # noqa: E402
from pipeline.read.repos import read_repository  # noqa: E402
from pipeline.records import Repository
from bench.environment import print_installed_set  # noqa: E402


def package_dirs(max_bytes: int) -> list[Path]:
    roots = {Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib", "stdlib")}
    found = {}
    for root in sorted(roots):
        for p in sorted(root.iterdir()):
            if (p / "__init__.py").exists() and p.name not in found and sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) <= max_bytes:
                found[p.name] = p
    return [found[n] for n in sorted(found)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-package-mb", type=float, default=50.0, help="skip larger packages (default 50)")
    parser.add_argument("--pipeline", action="store_true", help="also run corpusmill curate on them as a repos source")
    args = parser.parse_args()
    packages = package_dirs(int(args.max_package_mb * (1 << 20)))
    with tempfile.TemporaryDirectory() as tmp:
        for p in packages:
            with tarfile.open(f"{tmp}/{p.name}.tar", "w") as t:
                t.add(p, arcname=p.name, filter=lambda m: None if "__pycache__" in m.name else m)
        source = SourceConfig("installed", [f"{tmp}/*.tar"], format="repos", kind="code")
        repos = files = skipped = edges_total = violations = cyclic = 0
        source_bytes = 0
        seconds = 0.0
        archive_bytes = sum(Path(f"{tmp}/{p.name}.tar").stat().st_size for p in packages)
        for p in packages:
            start = time.perf_counter()
            records = list(read_repository(source, f"{tmp}/{p.name}.tar", f"{tmp}/"))
            repo = records[-1]
            if not isinstance(repo, Repository):
                print(f"  {p.name}: {repo.error}")
                continue
            documents = repository_documents(source.name, repo.name, repo.location, repo.files, source.max_repo_bytes)
            seconds += time.perf_counter() - start
            repos += 1
            files += len(repo.files)
            skipped += len(records) - 1
            source_bytes += sum(len(f.text.encode("utf-8", "surrogatepass")) for f in repo.files)
            position = {s["path"]: i for i, s in enumerate(s for d in documents for s in d.meta["files"])}
            edges = resolve_imports({f.meta["file"]: f.text for f in repo.files})
            for user, targets in edges.items():
                for used in targets:
                    edges_total += 1
                    if reaches(edges, used, user):
                        cyclic += 1
                    elif position[used] > position[user]:
                        violations += 1
        print(f"repositories {repos:,}  files {files:,} (+{skipped:,} skipped)  source {source_bytes / 1e6:.1f} MB")
        print(f"import edges resolved {edges_total:,}  (in cycles {cyclic:,})  order violations {violations}")
        print(f"read + classify + resolve + order + assemble: {seconds:.1f} s, {source_bytes / 1e6 / seconds:.1f} MB/s of kept source")
        if args.pipeline:
            curate_archives(tmp, archive_bytes)


def curate_archives(tmp: str, archive_bytes: int) -> None:
    """``corpusmill curate`` on the archives as one repos source; prints MB/s and the report's counts."""
    from jobs.curate import run_curate
    from pipeline.config import config_from_dict

    config = config_from_dict({
        "output_dir": f"{tmp}/out",
        "beam": {"runner": "FnApiRunner", "direct_running_mode": "multi_processing", "direct_num_workers": 2},
        "sources": [{"name": "installed", "paths": [f"{tmp}/*.tar"], "format": "repos", "kind": "code"}],
        "output": {"unit_mb": 16},
    })
    started = time.perf_counter()
    report = run_curate(config)
    seconds = time.perf_counter() - started
    entry = report["sources"]["installed"]
    r = entry["repositories"]
    print(f"corpusmill curate (2 workers): {seconds:.1f} s, {archive_bytes / 1e6 / seconds:.1f} MB/s of archives; "
          f"{r['repositories']:,} repositories → {r['documents']:,} documents ({entry['kept']:,} kept), files {r['files']:,}: "
          f"{r['files_in_documents']:,} in documents, {sum(r['files_skipped'].values()):,} skipped; reconciles {entry['reconciles']}")


if __name__ == "__main__":
    print_installed_set()
    main()
