"""The run configuration (docs/architecture.md, "Config"): typed dataclasses loaded from YAML.

Validation is pydantic's, strict (no coercion; unknown keys forbidden), and happens before any
work; errors name the key path (``sources[1].format: expected one of jsonl, parquet, ...``). The
heuristic filters' blocks are made from the filters' own constructor parameters (``filter_block``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sysconfig
import types
import typing
import warnings
from dataclasses import field
from typing import Annotated, Any, Literal, Union

import pydantic
import yaml
from pydantic.dataclasses import dataclass

from pipeline.config_checks import ConfigError, check_semantics
from pipeline.curate.filters.registry import compat_modes, rule_filters

DEFAULT_MAX_RATIO = 100.0  # real JSONL/WARC inflates 3-20x; a bomb, thousands
_SCALARS = (int, float, bool, str)
T = typing.TypeVar("T")


def _strict(tp: Any) -> Any:
    """``tp`` with its scalars strict (no "1" for 1, no 1 for true; an int is a valid float)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in _SCALARS:
        return Annotated[tp, pydantic.Strict()]
    if origin in (Union, types.UnionType):
        return Union[tuple(_strict(a) for a in args)]  # type: ignore[misc]  # noqa: UP007 (a union built from a tuple at run time)
    if origin is list:
        return list[_strict(args[0])]  # type: ignore[misc]
    if origin is dict:
        return dict[args[0], _strict(args[1])]  # type: ignore[misc,valid-type]
    return tp


@typing.dataclass_transform(frozen_default=True)
def config_block(cls: type[T]) -> type[T]:
    """A frozen pydantic dataclass whose scalars are strict and whose unknown keys are errors."""
    hints = typing.get_type_hints(cls)
    cls.__annotations__ = {name: _strict(hints[name]) for name in cls.__annotations__}
    return dataclass(cls, frozen=True, config=pydantic.ConfigDict(extra="forbid"))  # type: ignore[return-value]


def filter_block(name: str, filter_class: type, enabled: bool = True, exclude: tuple[str, ...] = ()) -> type:
    """The config block ``name`` of a filter: its constructor parameters with their defaults, plus ``enabled``."""
    hints = typing.get_type_hints(filter_class)
    params = [f for f in dataclasses.fields(filter_class) if not f.name.startswith("_") and f.name not in exclude]
    annotations = {"enabled": bool, **{f.name: hints[f.name] for f in params}}
    defaults = {"enabled": enabled, **{f.name: f.default for f in params}}
    return config_block(type(name, (), {"__annotations__": annotations, **defaults, "__module__": __name__}))


@config_block
class PiiConfig:
    enabled: bool = True
    redact: list[Literal["email", "ip_address", "secret"]] = field(default_factory=lambda: ["email", "ip_address"])


@config_block
class DecontaminateConfig:
    enabled: bool = True
    paths: list[str] = field(default_factory=list)  # eval files (JSONL or text); none: nothing to do
    ngram: int = 13


@config_block
class UrlConfig:
    """Blocklists for web documents (``meta["url"]``): rules inline and in files (one per line)."""

    enabled: bool = True
    domains: list[str] = field(default_factory=list)  # a domain blocks its subdomains too
    urls: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # substrings of the URL
    domain_files: list[str] = field(default_factory=list)  # e.g. UT1's <category>/domains
    url_files: list[str] = field(default_factory=list)
    word_files: list[str] = field(default_factory=list)


@config_block
class ClassifierConfig:
    """A trained classifier (``corpusmill classifier train``) in the chain."""

    name: str
    model: str  # its directory
    min_score: float = 0.5
    action: Literal["drop", "tag"] = "drop"  # tag: score into meta["scores"][name] only
    enabled: bool = True


@config_block
class RecallConfig:
    """DeepSeekMath-style iterative recall over the config's sources (``corpusmill classifier recall``)."""

    positive: list[str] = field(default_factory=list)  # the seed positives (files, globs, curated/ dirs)
    negative: list[str] = field(default_factory=list)  # e.g. random crawl pages
    label: str = "positive"
    rounds: int = 4
    min_score: float = 0.5  # a pool document at or above it is recalled
    group_by: str = "url_domain"  # or source, or meta.<key>
    group_share: float = 0.1  # a group with this share of its documents recalled is marked related
    output: str = "classifiers/recall"  # round-N/ classifiers, recall.json, recalled.jsonl; under output_dir unless absolute


def filters_block() -> type:
    """``filters:``: the registered rule filters' blocks (``pipeline.curate.filters.registry``), in their
    default order, between the URL blocklists and the filters built from files (classifiers, decontamination, PII).

    A source runs ``url``, then the rule filters of its kind in ``order``, then ``classifiers``,
    ``decontaminate`` and ``pii`` (``url`` only judges documents with a URL; PII redaction is last
    because it changes the text)."""
    specs = rule_filters()
    default_order = [spec.name for spec in specs]
    blocks: dict[str, type] = {
        "url": UrlConfig,
        **{spec.name: filter_block(f"{spec.filter_class.__name__}Config", spec.filter_class, spec.enabled, spec.exclude) for spec in specs},
        "pii": PiiConfig, "decontaminate": DecontaminateConfig,
    }
    annotations: dict[str, Any] = {
        "compat": Literal[compat_modes()],  # datatrove: Gopher and FineWeb rules exactly as datatrove defines them (C4 is in both)
        "order": list[str],  # the rule filters' order in the chain (each registered filter once)
        **blocks, "classifiers": list[ClassifierConfig],
    }
    defaults = {"compat": "none", "order": field(default_factory=lambda: list(default_order)), "classifiers": field(default_factory=list),
                **{name: field(default_factory=block) for name, block in blocks.items()}}
    return config_block(type("FiltersConfig", (), {"__annotations__": annotations, "__doc__": filters_block.__doc__, "__module__": __name__, **defaults}))


if typing.TYPE_CHECKING:
    FiltersConfig = Any  # made at import from the registered filters: its rule blocks are known at run time only
else:
    FiltersConfig = filters_block()


@config_block
class SourceConfig:
    name: str
    paths: list[str]
    format: Literal["jsonl", "parquet", "arrow", "hf", "text", "warc", "html", "repos"] = "jsonl"
    text_field: str = "text"
    id_field: str | None = None
    kind: Literal["text", "code"] = "text"
    priority: int = 0
    extractor: Literal["resiliparse", "trafilatura"] = "resiliparse"  # warc/html: main-text extraction
    filters: FiltersConfig | None = None  # the global filters with this source's overrides merged in
    repo_field: str | None = None  # jsonl/parquet rows that are files: the column naming their repository
    path_field: str | None = None  # ... and the column with the file's path in it
    max_repo_bytes: int = 1_048_576  # a longer repository document is split at file boundaries into parts
    max_file_bytes: int = 1_000_000  # larger repository files are skipped (too_large)

    @property
    def repositories(self) -> bool:
        """Whether the source's documents are whole repositories assembled from their files."""
        return self.format == "repos" or self.repo_field is not None


@config_block
class MinHashConfig:
    enabled: bool = True
    threshold: float = 0.8
    num_perm: int = 128
    ngram: int = 5
    code_ngram: int = 5
    bands: int | None = None  # with rows: explicit LSH shape; otherwise optimal for threshold
    rows: int | None = None
    verify: bool = True  # exact Jaccard on candidate pairs removes LSH false positives
    max_bucket_pairs: int = 32  # buckets up to this size compare all pairs; in larger ones ...
    large_bucket_neighbours: int = 2  # ... each member meets the next this many in an order drawn per bucket (band)
    component_rounds: int = 8
    max_cluster: int = 1000  # a larger cluster removes only members near its keeper (exact Jaccard; needs verify)
    max_cluster_share: float = 0.05  # ... as does one of over 10 documents holding more than this share of a source's documents


@config_block
class LinesConfig:
    """Corpus-wide boilerplate-line removal (C4/CCNet): off by default."""

    enabled: bool = False
    min_documents: int = 3  # a line in at least this many documents is removed from all of them


@config_block
class DedupConfig:
    exact: bool = True
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    lines: LinesConfig = field(default_factory=LinesConfig)


@config_block
class MixConfig:
    """One of: ``weight`` (share of the dataset tokens among weighted sources), ``epochs`` (copies
    of every document; a fraction takes whole documents in draw order), ``max_tokens`` (budget).
    The build meets each in real tokens, to the nearest document (``pipeline.assemble.mix``)."""

    weight: float | None = None
    epochs: float | None = None
    max_tokens: float | None = None


@config_block
class TokenizerConfig:
    path: str | None = None
    backend: Literal["hf", "sentencepiece"] = "hf"
    vocab_size: int = 128000
    min_frequency: int = 2
    max_token_length: int | None = 32
    sample_bytes: int = 200_000_000
    check_rate: float = 0.001  # share of documents the build re-encodes with tokenizer.json to prove the fast path exact


@config_block
class FimConfig:
    rate: float = 0.1  # DeepSeek-V3
    spm_rate: float = 0.0  # share of FIM documents laid out SPM instead of PSM
    within_files: bool = True  # repository documents: the middle lies inside one file, never across a file marker


@config_block
class SplitCombinedTokensConfig:
    rate: float = 0.1


@config_block
class PackConfig:
    seq_len: int = 4096
    strategy: Literal["best_fit", "concat"] = "best_fit"
    group_size: int = 20000


@config_block
class OutputConfig:
    """The input is processed in work units of at most ``unit_mb`` MB of input (once ``shard_mb``; a large
    uncompressed JSONL file is cut into byte ranges; a small input into ~64 units of at least
    1 MB); each unit becomes one curated shard and one dataset shard."""

    unit_mb: float = 64.0
    signals: bool = True  # signals/part-U.parquet: every document's measured values, kept and dropped
    keep_work: bool = False  # keep curated/_work/ (survivors' spill, dedup keys) after a run: `corpusmill reselect` starts from it


@config_block
class Config:
    sources: list[SourceConfig]
    output_dir: str = "out"
    seed: int = 1234
    beam: dict[str, Any] = field(default_factory=dict)
    filters: FiltersConfig = field(default_factory=FiltersConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    mix: dict[str, MixConfig] = field(default_factory=dict)
    mix_by: str = "source"  # or meta.<key> (e.g. meta.language, meta.host), or cluster_size (rehydration): what the mix keys name
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    fim: FimConfig = field(default_factory=FimConfig)
    split_combined_tokens: SplitCombinedTokensConfig = field(default_factory=SplitCombinedTokensConfig)
    pack: PackConfig = field(default_factory=PackConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    max_dead_letter_fraction: float = 0.01
    max_document_bytes: int = 64 * 1024 * 1024  # larger records are dead-lettered unread (bounds decompression bombs)
    max_compression_ratio: float = DEFAULT_MAX_RATIO  # a compressed file inflating more (past 16 MB) is cut: its rest is a dead letter
    on_duplicate_id: Literal["drop", "fail", "keep"] = "drop"  # a second document with an id already read: dropped as duplicate_id, fail the run, or kept
    recall: RecallConfig = field(default_factory=RecallConfig)

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """sha256 of the resolved config, minus the Beam options (they never change output)."""
        data = {k: v for k, v in self.to_dict().items() if k != "beam"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


_EXPECTED = {
    "int_type": "an integer", "float_type": "a number", "bool_type": "true or false", "string_type": "a string",
    "list_type": "a list", "dict_type": "a mapping", "dataclass_type": "a mapping", "dataclass_exact_type": "a mapping",
}


def _error_message(error: Any) -> str:
    """One pydantic error as ``key.path[i]: what was expected, got what``."""
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    where = path or "config"
    kind, given = error["type"], error.get("input")
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return f"{where}: unknown key"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "literal_error":
        choices = error["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
        return f"{where}: expected one of {choices}, got {given!r}"
    if kind in _EXPECTED:
        return f"{where}: expected {_EXPECTED[kind]}, got {given!r}"
    return f"{where}: {error['msg']}"


def _validate(data: Any) -> Config:
    if data is None or not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping, got {data!r}")
    try:
        return pydantic.TypeAdapter(Config).validate_python(data)
    except pydantic.ValidationError as e:
        errors = sorted(e.errors(), key=lambda err: (err["type"] not in ("extra_forbidden", "unexpected_keyword_argument"), [str(p) for p in err["loc"]]))
        raise ConfigError(_error_message(errors[0])) from None


def _expand_placeholders(path: str, output_dir: str) -> str:
    """``{stdlib}`` is this interpreter's standard library (so the demo runs anywhere); ``{output_dir}`` the run's."""
    return path.replace("{stdlib}", sysconfig.get_paths()["stdlib"]).replace("{output_dir}", output_dir.rstrip("/"))


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _deep_merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def _merge_source_filters(data: Any) -> Any:
    """Each source's ``filters:`` overrides are merged over the global ``filters:`` block."""
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        return data
    global_filters = data.get("filters") or {}
    sources = []
    for source in data["sources"]:
        if isinstance(source, dict) and isinstance(source.get("filters"), dict) and isinstance(global_filters, dict):
            source = {**source, "filters": _deep_merge(global_filters, source["filters"])}
        sources.append(source)
    return {**data, "sources": sources}


def filters_for(config: Config, source: SourceConfig) -> FiltersConfig:
    """The filter settings one source runs with."""
    return source.filters or config.filters


RENAMED_KEYS = {("output", "shard_mb"): "unit_mb"}  # old key → new name: accepted with a deprecation message


def _renamed_keys(data: Any) -> Any:
    """``data`` with renamed keys under their new names; warns once per old key, and refuses both given."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for (block, old), new in RENAMED_KEYS.items():
        section = data.get(block)
        if isinstance(section, dict) and old in section:
            if new in section:
                raise ConfigError(f"{block}.{old}: renamed {block}.{new}; give only {block}.{new}")
            warnings.warn(f"config key {block}.{old} is deprecated: it is now {block}.{new} (same meaning)", FutureWarning, stacklevel=3)
            data[block] = {(new if k == old else k): v for k, v in section.items()}
    return data


def config_from_dict(data: Any, output_dir: str | None = None) -> Config:
    """A validated config; ``output_dir`` (e.g. from the command line) overrides the file's."""
    config = _validate(_merge_source_filters(_renamed_keys(data)))
    if output_dir is not None:
        config = dataclasses.replace(config, output_dir=output_dir)
    sources = [dataclasses.replace(s, paths=[_expand_placeholders(p, config.output_dir) for p in s.paths]) for s in config.sources]
    recall = dataclasses.replace(config.recall, positive=[_expand_placeholders(p, config.output_dir) for p in config.recall.positive],
                                 negative=[_expand_placeholders(p, config.output_dir) for p in config.recall.negative])
    config = dataclasses.replace(config, sources=sources, recall=recall)
    check_semantics(config)
    return config


def load_config(path: str, output_dir: str | None = None) -> Config:
    """Reads and validates a YAML config file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from e
    try:
        return config_from_dict(data, output_dir)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e
