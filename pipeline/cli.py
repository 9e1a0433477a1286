"""``corpusmill``: run the pipeline's jobs from a YAML config.

Flags the CLI does not know are passed to Beam (``--runner=FlinkRunner``, ``--direct_num_workers=2``, ...).
The config is validated before Beam is even imported, so a bad config fails in well under a second.
"""
from __future__ import annotations

import argparse
import atexit
import difflib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext

from pipeline.config import Config, ConfigError, load_config
from pipeline.engine.logs import quiet_root_logging

DEMO_CONFIG = os.path.join(os.path.dirname(__file__), "tools", "demo.yaml")  # ships with the package; configs/demo.yaml links to it
EPILOG = """\
examples:
  corpusmill run configs/demo.yaml
  corpusmill run my.yaml --output-dir gs://bucket/run1 --runner=DataflowRunner --project=p --region=r
  corpusmill curate my.yaml --direct_running_mode=multi_processing --direct_num_workers=2

Unknown --flags are Beam pipeline options; they override the config's `beam:` section.
"""


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, flush=True)


@contextmanager
def _progress(args: argparse.Namespace, job: str, config: Config) -> Iterator[None]:
    """Live progress of ``job`` (``pipeline.report.progress``) unless ``--quiet``."""
    if args.quiet:
        yield
        return
    from pipeline.report.progress import Progress

    with Progress(job, config.output_dir):
        yield


def _run_curate(config: Config, beam_args: Sequence[str], args: argparse.Namespace) -> None:
    from jobs.curate import run_curate
    from pipeline.io.files import absolute_path

    reselect_from = getattr(args, "from_run", None)
    if reselect_from is not None:  # the new run's work refers to the earlier run's spill by this path
        reselect_from = absolute_path(reselect_from)
    _say(args, f"[curate] {f're-deciding from {reselect_from}' if reselect_from else f'reading {len(config.sources)} source(s)'} → {config.output_dir}/curated")
    with _progress(args, "curate", config):
        report = run_curate(config, beam_args, args.force, reselect_from)
    if report.get("skipped"):
        _say(args, "[curate] up to date (same config, complete output): skipped; --force redoes it")
        return
    for name, s in report["sources"].items():
        dropped = sum(s["dropped"].values())
        _say(args, f"[curate] {name}: read {s['read']:,}  kept {s['kept']:,}  dropped {dropped:,}  dead-lettered {s['dead_lettered']:,}")
        if "repositories" in s:
            r = s["repositories"]
            _say(args, f"[curate] {name}: {r['repositories']:,} repositories → {r['documents']:,} documents; files {r['files']:,}: "
                       f"{r['files_in_documents']:,} in documents, {sum(r['files_skipped'].values()):,} skipped")
            split = r.get("split_across_files", {})
            if split.get("repositories"):
                _say(args, f"[curate] {name}: warning: {split['repositories']:,} repositories have rows in more than one input file, so each "
                           f"file made its own documents with the same id (e.g. {split['examples'][0]}); store a repository's rows in one file")
    for name, s in report["sources"].items():
        if s["kept"] == 0:
            top = ", ".join(f"{reason} {n:,}" for reason, n in sorted(s["dropped"].items(), key=lambda kv: -kv[1])[:3]) or "nothing was dropped"
            print(f"corpusmill: warning: source {name} kept no documents of {s['read']:,} read ({top}; dead-lettered {s['dead_lettered']:,}); "
                  f"see {config.output_dir}/report/index.html", file=sys.stderr)
        if s.get("repaired_fields"):
            _say(args, f"[curate] {name}: {s['repaired_fields']:,} records had lone surrogates in their id, meta or path (replaced by U+FFFD)")
    read = sum(s["read"] for s in report["sources"].values())
    _say(args, f"[curate] done in {report['seconds']:.1f}s ({read / max(report['seconds'], 1e-9):,.0f} documents/s)")


def _run_train_tokenizer(config: Config, beam_args: Sequence[str], args: argparse.Namespace) -> None:
    from jobs.train_tokenizer import run_train_tokenizer

    _say(args, f"[train_tokenizer] sampling up to {config.tokenizer.sample_bytes:,} bytes of curated text")
    with _progress(args, "train_tokenizer", config):
        report = run_train_tokenizer(config, args.force, beam_args)
    if report.get("skipped"):
        _say(args, f"[train_tokenizer] skipped: using {report['tokenizer']}")
    else:
        _say(args, f"[train_tokenizer] vocab {report['vocab_size']:,} from {report['sample_documents']:,} documents "
                   f"({report['sample_bytes'] / 1e6:.1f} MB) in {report['seconds']:.1f}s → {report['tokenizer']}")


def _run_build(config: Config, beam_args: Sequence[str], args: argparse.Namespace) -> None:
    from jobs.build import run_build

    _say(args, f"[build] tokenizing and packing into seq_len {config.pack.seq_len}")
    started = time.monotonic()
    with _progress(args, "build", config):
        manifest = run_build(config, beam_args, args.force)
    seconds = time.monotonic() - started
    if manifest.get("skipped"):
        _say(args, "[build] up to date (same config, complete output): skipped; --force redoes it")
        return
    for name, m in manifest["mix"].items():
        _say(args, f"[build] {name} ({m['rule']}): {m['achieved_tokens']:,} tokens, {m['achieved_share']:.2%} of the dataset (target {m['target_share']:.2%}); "
                   f"{m['sampled_out']:,} documents sampled out")
    packing = manifest["packing"]
    _say(args, f"[build] {packing['documents']:,} documents → {manifest['tokens']:,} tokens in {manifest['rows']:,} rows, "
               f"{len(manifest['shards'])} shards (padding {packing['padding_share']:.2%}) in {seconds:.1f}s, "
               f"{manifest['tokens'] / seconds:,.0f} tokens/s")


def _list_filters() -> None:
    """Prints the registered rule filters in their default order: kinds, on or off, config keys with their defaults, module."""
    import dataclasses

    from pipeline.config import FiltersConfig
    from pipeline.curate.filters.registry import compat_modes, rule_filters

    print(f"rule filters in their default filters.order (filters.compat modes: {', '.join(compat_modes())}):")
    for spec in rule_filters():
        block = dataclasses.asdict(getattr(FiltersConfig(), spec.name))  # the config block: the keys a config sets, with their defaults
        params = ", ".join(f"{key}={value!r}" for key, value in block.items() if key != "enabled")
        state = "on" if spec.enabled else "off"
        print(f"  {spec.name:<20} {'/'.join(spec.kinds):<10} {state:<4} {params}")
        print(f"  {'':<20} {spec.filter_class.__module__}.{spec.filter_class.__name__}{' (English only)' if spec.english_only else ''}")


def _explain(config: Config, args: argparse.Namespace) -> None:
    """Prints, filter by filter, what was measured, the thresholds and the verdict for one document,
    in the config's ``filters.compat`` mode and, for the rules that differ, in the other mode too."""
    from pipeline.curate.filters.chain import build_decontamination_index, explain, filters_for_source, with_compat
    from pipeline.curate.normalize import normalize_text
    from pipeline.records import Document

    source = config.source(args.source) if args.source else config.sources[0]
    with open(args.text, encoding="utf-8", errors="replace") as f:
        doc = Document(f"{source.name}/explain", normalize_text(f.read()), source.name, {"path": args.text})
    index = build_decontamination_index(config)
    mode = (source.filters or config.filters).compat
    other = "datatrove" if mode == "none" else "none"
    rows = explain(filters_for_source(config, source, index), doc)
    others = explain(filters_for_source(with_compat(config, other), source, index), doc)
    print(f"source {source.name} (kind {source.kind}), {len(doc.text):,} characters; filters.compat: {mode}")

    def values(measured: dict) -> str:
        return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in measured.items())

    for row, alt in zip(rows, others, strict=True):
        print(f"  {row['filter']:<26} {row['verdict']:<40} {values(row['measured'])}")
        if row["thresholds"]:
            print(f"  {'':<26} thresholds: {values(row['thresholds'])}")
        if alt["filter"] != row["filter"]:
            print(f"  {'  compat: ' + other:<26} {alt['verdict']:<40} {values(alt['measured'])}")


JOBS: dict[str, list[Callable[[Config, Sequence[str], argparse.Namespace], None]]] = {
    "run": [_run_curate, _run_train_tokenizer, _run_build],
    "curate": [_run_curate],
    "reselect": [_run_curate],
    "train-tokenizer": [_run_train_tokenizer],
    "build": [_run_build],
}


WORKER_MODULES = {_run_curate: "jobs.curate", _run_build: "jobs.build"}  # what a job's local workers import


class UsageError(Exception):
    """A command line corpusmill refuses (exit code 2)."""


def _run_jobs(command: str, config: Config, beam_args: Sequence[str], args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Runs the command's jobs; the Beam flags are checked here, after a zygote is forked (checking
    them imports Beam, which must come after: see ``pipeline.engine.zygote``)."""
    from pipeline.engine.flags import beam_args as all_beam_args
    from pipeline.engine.zygote import local_worker_processes, zygote

    preload = [WORKER_MODULES[job] for job in JOBS[command] if job in WORKER_MODULES]
    warm_workers = bool(preload) and local_worker_processes(all_beam_args(config.beam, beam_args)) > 1
    with zygote(preload) if warm_workers else nullcontext():
        problem = unknown_flag(parser, args.command, beam_args)
        if problem:
            raise UsageError(problem)
        _run_jobs_here(command, config, beam_args, args)


def _run_jobs_here(command: str, config: Config, beam_args: Sequence[str], args: argparse.Namespace) -> None:
    from pipeline.engine.logs import log_file
    from pipeline.engine.runner import configure_filesystems
    from pipeline.io.files import output_lock
    from pipeline.tools.validate import preflight

    configure_filesystems(config.beam, beam_args)
    preflight(config, [job.__name__.removeprefix("_run_") for job in JOBS[command]])
    args.log_file = log_file(config.output_dir, command)
    started = time.monotonic()
    with output_lock(config.output_dir, command):
        for job in JOBS[command]:
            job(config, beam_args, args)
    if command in ("run", "build"):
        _say(args, f"dataset: {config.output_dir}/dataset   (datasets.load_from_disk)   report: {config.output_dir}/report")
    _say(args, f"total {time.monotonic() - started:.1f}s")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corpusmill", description=__doc__.split("\n\n")[0], epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {
        "run": "curate, train the tokenizer, then build the dataset",
        "curate": "read → normalize → filter → dedup → curated/",
        "train-tokenizer": "train the byte-level BPE tokenizer on a sample of curated/",
        "build": "tokenize → pack → dataset/ (Arrow shards)",
        "validate": "check a config and its input paths, run nothing",
        "reselect": "curate with changed filter thresholds from an earlier run's stored signals (--from RUN_DIR), without reading the input",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("config", help="YAML config file (see README 'Config reference')")
        p.add_argument("--output-dir", help="override the config's output_dir (local path or gs:// s3:// hdfs://)")
        p.add_argument("--quiet", action="store_true", help="print nothing but errors")
        p.add_argument("--force", action="store_true", help="redo jobs whose complete output from the same config exists")
        if name == "reselect":
            p.add_argument("--from", dest="from_run", required=True, metavar="RUN_DIR",
                           help="the earlier run's output_dir (curated with output.keep_work: true); the config's output_dir must be another")
    filters = sub.add_parser("filters", help="inspect the filter chain", description="inspect the filter chain")
    filters_sub = filters.add_subparsers(dest="filters_command", required=True)
    listing = filters_sub.add_parser("list", help="the registered rule filters in their default order, with their config keys and defaults")
    listing.add_argument("--output-dir", help=argparse.SUPPRESS)
    listing.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    explain = filters_sub.add_parser("explain", help="every filter's measured values, thresholds and verdict for one document (both compat modes)")
    explain.add_argument("config", help="YAML config file")
    explain.add_argument("--text", required=True, help="a file holding the document's text")
    explain.add_argument("--source", help="the source whose chain to use (default: the first)")
    explain.add_argument("--output-dir", help=argparse.SUPPRESS)
    explain.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    inspect = sub.add_parser("inspect", help="counts, manifest and decoded rows of a dataset/ or curated/ directory")
    inspect.add_argument("directory")
    inspect.add_argument("--rows", type=int, default=3, help="how many rows (or documents) to show")
    inspect.add_argument("--row", type=int, help="decode this one row in full")
    inspect.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    status = sub.add_parser("status", help="what a run has done: each job done, in progress (units committed so far) or not started",
                            description="What a run has done, read from its output folder (also while it runs, from any machine that can read it).")
    status.add_argument("run_dir", help="the run's output_dir (local path or gs:// s3:// hdfs://)")
    status.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    sub.add_parser("tokenizer", help="train | encode | decode | stats | compare (see corpusmill tokenizer --help)", add_help=False)
    classifier = sub.add_parser("classifier", help="train a fastText quality/domain classifier", description="train a fastText quality/domain classifier")
    classifier_sub = classifier.add_subparsers(dest="classifier_command", required=True)
    train = classifier_sub.add_parser("train", help="positives vs negatives → DIR/model.bin + DIR/card.json (held-out metrics)")
    train.add_argument("--positive", nargs="+", required=True, help="files, globs or curated/ directories (jsonl, parquet, arrow, text)")
    train.add_argument("--negative", nargs="+", required=True, help="the same, for the other class")
    train.add_argument("--output", required=True, help="the classifier directory (any Beam file system)")
    train.add_argument("--label", default="positive", help="the positive class's name (the score is its probability)")
    train.add_argument("--text-field", default="text")
    train.add_argument("--holdout", type=float, default=0.1, help="share of documents held out for the card's metrics")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true")
    recall = classifier_sub.add_parser("recall", help="iterative recall over a config's sources (its recall: section), DeepSeekMath-style")
    recall.add_argument("config", help="YAML config file with a recall: section")
    recall.add_argument("--output-dir", help="override the config's output_dir")
    recall.add_argument("--quiet", action="store_true")
    export = sub.add_parser("export", help="write a built dataset in another trainer's format", description="write a built dataset in another trainer's format")
    formats = export.add_subparsers(dest="export_format", required=True)
    megatron = formats.add_parser(
        "megatron", help="Megatron-LM / NeMo / GPT-NeoX indexed datasets (.bin/.idx, MMIDIDX v1)",
        description="One .bin/.idx pair per dataset shard (PREFIX_00000 ...) or, with --merge, one (PREFIX). Each packed piece is a "
                    "sequence and a document (EOS kept, padding dropped); uint16 ids when the vocabulary fits.")
    megatron.add_argument("source", metavar="CONFIG_OR_DATASET", help="the run's YAML config, or a dataset/ directory")
    megatron.add_argument("out_prefix", metavar="OUT_PREFIX", help="output path prefix (local or gs:// s3:// hdfs://)")
    megatron.add_argument("--merge", action="store_true", help="one pair for the whole dataset instead of one per shard")
    megatron.add_argument("--record-in-output", action="store_true",
                          help="record the export in OUT_PREFIX.export.json instead of the dataset's manifest.json (for a read-only dataset)")
    megatron.add_argument("--quiet", action="store_true")
    demo = sub.add_parser("demo", help="write the demo corpus (Python's own docs) and run the demo config (configs/demo.yaml), from any directory")
    demo.add_argument("--config", default=DEMO_CONFIG, help="demo config (default: the one installed with corpusmill, the same as configs/demo.yaml)")
    demo.add_argument("--output-dir", help="override the config's output_dir")
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument("--force", action="store_true", help="redo jobs that are up to date")
    return parser


def unknown_flag(parser: argparse.ArgumentParser, command: str, extra: Sequence[str]) -> str | None:
    """Why the arguments left over by corpusmill's parser are not Beam pipeline options (which are
    passed on to the runner), naming the closest valid flag; None when they all are."""
    if not extra:
        return None
    from apache_beam.options.pipeline_options import PipelineOptions

    beam_flags: set[str] = set()  # every option string of Beam's parser, --no_pipeline_type_check and the like included
    PipelineOptions([]).get_all_options(add_extra_args_fn=lambda beam: beam_flags.update(f for a in beam._actions for f in a.option_strings))

    def flags(p: argparse.ArgumentParser) -> set[str]:
        nested = [c for a in p._actions if isinstance(a, argparse._SubParsersAction) for c in a.choices.values()]
        return {f for a in p._actions for f in a.option_strings} | {f for c in nested for f in flags(c)}

    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    own_flags = flags(subparsers.choices[command])
    for arg in extra:
        if not arg.startswith("--"):
            return f"unexpected argument {arg!r}"
        flag = arg.split("=", 1)[0]
        if flag not in beam_flags:
            close = difflib.get_close_matches(flag, sorted(own_flags | beam_flags), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return f"unknown option {flag}{hint}: neither a corpusmill option of '{command}' nor a Beam pipeline option"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["tokenizer"]:  # the tokenizer library's own CLI; no Beam involved
        from tokenizer.cli import main as tokenizer_main

        return tokenizer_main(argv[1:])
    parser = _parser()
    args, beam_args = parser.parse_known_args(argv)
    problem = None if args.command in JOBS or args.command == "demo" else unknown_flag(parser, args.command, beam_args)
    if problem:
        print(f"corpusmill: error: {problem}", file=sys.stderr)
        return 2
    quiet_root_logging()
    try:
        if args.command == "inspect":
            from pipeline.tools.inspect import inspect

            print(inspect(args.directory, args.rows, args.row))
            return 0
        if args.command == "status":
            from pipeline.report.progress import status_lines

            print("\n".join(status_lines(args.run_dir)))
            return 0
        if args.command == "export":
            from pipeline.tools.export import export_megatron, export_record_path

            entry = export_megatron(args.source, args.out_prefix, args.merge, args.record_in_output)
            record = export_record_path(args.out_prefix) if args.record_in_output else "the dataset's manifest.json"
            _say(args, f"[export] {len(entry['prefixes'])} pair(s), {entry['tokens']:,} tokens as {entry['dtype']} in {entry['seconds']:.1f}s "
                       f"({entry['mb_per_s']:,.0f} MB/s of Arrow shards); sha256s in {record}")
            _say(args, "Megatron-LM: --data-path " + " ".join(p["prefix"] for p in entry["prefixes"]))
            return 0
        if args.command == "classifier":
            from pipeline.curate.classify import iterative_recall, train_classifier, weakness

            command = " ".join(["corpusmill", *argv])
            if args.classifier_command == "recall":
                report = iterative_recall(load_config(args.config, args.output_dir), command)
                for r in report["rounds"]:
                    _say(args, f"[recall] round {r['round']}: recalled {r['recalled']:,} of {r['pool']:,}; {r['groups_marked']} groups marked, "
                               f"{r['documents_added']:,} documents join the positives; held-out {r['classifier']}")
                    if r["warning"]:
                        print(f"corpusmill: warning: round {r['round']}: {r['warning']}", file=sys.stderr)
                _say(args, f"[recall] final classifier: {report['classifier']}")
                return 0
            result = train_classifier(args.positive, args.negative, args.output, args.label, args.text_field, args.holdout, args.seed, command=command)
            _say(args, json.dumps(result.card, indent=2))
            if warning := weakness(result.card):
                print(f"corpusmill: warning: {warning}", file=sys.stderr)
            return 0
        if args.command == "demo":
            config = load_config(args.config, args.output_dir)
            from pipeline.tools.demo import write_demo_corpus

            prose = next(p for s in config.sources if s.format == "jsonl" for p in s.paths)
            _say(args, f"[demo] wrote {write_demo_corpus(prose):,} documents of Python documentation to {prose}")
            _run_jobs("run", config, beam_args, args, parser)
            return 0
        if args.command == "filters" and args.filters_command == "list":
            _list_filters()
            return 0
        config = load_config(args.config, args.output_dir)
        if args.command == "filters":
            _explain(config, args)
            return 0
        if args.command == "validate":
            from pipeline.read.formats import match_source_files
            from pipeline.tools.validate import preflight

            preflight(config, ["curate"])
            for s in config.sources:
                _say(args, f"{s.name}: {len(match_source_files(s)):,} {'repositories' if s.format == 'repos' else 'file(s)'}")
            _say(args, "config OK")
            return 0
        _run_jobs(args.command, config, beam_args, args, parser)
        return 0
    except ConfigError as e:
        print(f"corpusmill: config error: {e}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"corpusmill: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # one line on the terminal; the whole traceback in the run's log file
        if os.environ.get("CORPUSMILL_DEBUG"):
            raise
        log = getattr(args, "log_file", None)
        if log is not None:
            logging.getLogger("corpusmill").error("%s failed", args.command, exc_info=e)
        where = f" (traceback: {log})" if log is not None else ""
        print(f"corpusmill: {fault_line(e)}{where}", file=sys.stderr)
        return 1


_EXCEPTION_LINE = re.compile(r"^\s*[A-Za-z_][\w.]*(Error|Exception|Interrupt)\b:?")


def fault_line(error: BaseException) -> str:
    """One line naming a failure's cause: for a worker's exception that a runner re-raises inside its
    own (Beam's RuntimeError, with or without the traceback in the message), the original one."""
    text = str(error).strip()
    lines = text.splitlines()
    if "Traceback (most recent call last)" in text:
        causes = [line.strip() for line in lines if _EXCEPTION_LINE.match(line)]
        if causes:
            return causes[-1]
    if lines and type(error) is RuntimeError and _EXCEPTION_LINE.match(lines[0]):
        return lines[0]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def run() -> None:
    """The ``corpusmill`` command: ``main``, then the exit handlers and the standard streams,
    then the process ends without Python's module teardown (0.5–0.7 s after a Beam job, spent
    freeing what the process is about to give back anyway). Under a profiler or tracer
    (cProfile, coverage) it exits the usual way, so they can write their results."""
    code = main()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
