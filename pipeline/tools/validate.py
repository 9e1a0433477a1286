"""Checks before any work starts, one clear line each: inputs, output, tokenizer, sizes.

Run by the CLI before a job touches its output, so a typo in a path never wipes a finished run.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence

from apache_beam.io.filesystems import FileSystems

from pipeline import layout
from pipeline.config import Config, filters_for
from pipeline.io.files import ensure_dir
from pipeline.read.formats import match_source_files
from tokenizer.encode import MODEL_FILES


class PreflightError(ValueError):
    """A run that cannot succeed; the message says which input or setting and why."""


def check_output_writable(directory: str) -> None:
    probe = FileSystems.join(directory, f".corpusmill-write-probe-{uuid.uuid4().hex}")
    try:
        ensure_dir(directory)
        with FileSystems.create(probe) as f:
            f.write(b"ok")
        FileSystems.delete([probe])
    except Exception as e:
        raise PreflightError(f"output_dir {directory} is not writable: {e}") from e


def check_tokenizer(directory: str) -> None:
    """The directory loads as a tokenizer with all the special tokens the build needs."""
    from pipeline.assemble.tokenize import load_encoder

    try:
        load_encoder(directory)
    except Exception as e:
        raise PreflightError(f"tokenizer.path {directory} is not a usable tokenizer directory: {e}") from e


def preflight(config: Config, jobs: Sequence[str]) -> None:
    """Fails fast on anything the given jobs will trip over."""
    check_output_writable(config.output_dir)
    overlap = layout.input_output_overlap(config)
    if overlap is not None:
        raise PreflightError(overlap)
    if "curate" in jobs:
        for source in config.sources:
            match_source_files(source)
            for classifier in filters_for(config, source).classifiers:
                missing = [name for name in ("model.bin", "card.json") if not FileSystems.exists(FileSystems.join(classifier.model, name))]
                if classifier.enabled and missing:
                    raise PreflightError(f"sources[{source.name}] classifier {classifier.name!r}: {classifier.model} lacks {', '.join(missing)} "
                                         "(train one with `corpusmill classifier train`)")
    if config.tokenizer.path:
        check_tokenizer(config.tokenizer.path)
    if "build" in jobs and "train_tokenizer" not in jobs and not config.tokenizer.path:
        directory = layout.tokenizer_dir(config)
        if not any(FileSystems.exists(FileSystems.join(directory, name)) for name in MODEL_FILES):
            raise PreflightError(f"build needs a tokenizer in {directory}: run `corpusmill train-tokenizer` or set tokenizer.path")
