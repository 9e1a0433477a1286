"""The build's transforms: tokenize a curated shard, sum token histograms, plan the mix, resolve
boundary documents, pack a dataset shard, and repack the rows the shards left well short of
full into one last shard (the job in ``jobs/build.py`` wires them together).

None moves tokens through a shuffle: ``TokenizeShard`` spills ids under ``dataset/_work/`` and
emits histograms; ``PackShard`` reads the spills where they lie.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils import shared

from pipeline import layout
from pipeline.assemble.mix import BINS, GroupMix, ShuffledDocKey, boundary_choice, describe, draw_bins, draws, mix_group, plan_group, target_tokens
from pipeline.assemble.mix import REASON as MIX_REASON
from pipeline.assemble.pack import PACKERS
from pipeline.assemble.tokenize import LoadedTokenizer, encode_documents
from pipeline.config import FimConfig, MixConfig, PackConfig
from pipeline.io.curated import read_curated_file, write_drops
from pipeline.io.files import FileDoFn, read_json, write_json
from pipeline.io.megatron import arrow_batches, row_pieces
from pipeline.io.token_spill import TokenSpillWriter, read_doc_table, read_token_spill
from pipeline.io.write_arrow import ArrowShardWriter
from pipeline.records import Drop, Stage, TokenizedDocument

ENCODE_BATCH = 256
HISTOGRAM = "histogram"
STATS = "stats"


class TokenizeShard(FileDoFn):
    """(index, curated shard path) → ``{"shard", "documents", "tokens"}``; spills the tokens, and
    emits ``histogram`` (mixing group, (bins, tokens)) and ``stats`` (name, count) pairs."""

    def __init__(self, tokenizer_dir: str, work: str, fim: FimConfig, split_rate: float, seed: int, check_rate: float, mix_by: str,
                 size_buckets: Sequence[tuple[int, float, str]] = ()):
        super().__init__()
        self._tokenizer_dir, self._work, self._mix_by, self._size_buckets = tokenizer_dir, work, mix_by, size_buckets
        self._fim, self._split_rate, self._seed, self._check_rate = fim, split_rate, seed, check_rate
        self._shared = shared.Shared()

    def setup(self) -> None:
        super().setup()
        self._tokenizer = self._shared.acquire(lambda: LoadedTokenizer(self._tokenizer_dir))

    def process(self, indexed: tuple[int, str]) -> Iterator[Any]:
        index, path = indexed
        saved = tokenized_path(self._work, index)
        outputs = read_json(saved) if FileSystems.exists(saved) else self._tokenize(index, path)
        for group, (nonzero, values) in outputs["histograms"]:
            yield beam.pvalue.TaggedOutput(HISTOGRAM, (group, (np.asarray(nonzero, np.int64), np.asarray(values, np.int64))))
        for key, n in outputs["stats"]:
            yield beam.pvalue.TaggedOutput(STATS, (key, n))
        yield outputs["report"]

    def _tokenize(self, index: int, path: str) -> dict[str, Any]:
        """Tokenizes one curated shard into its spill; saves what the shard emits (written last,
        so a build started again after a kill reuses the shard: ``tokenized_path``)."""
        spill = TokenSpillWriter(self._work, index)
        counts: dict[str, int] = {}
        histograms: dict[str, np.ndarray] = {}
        documents = tokens = 0
        batch = []
        for doc in itertools.chain(read_curated_file(path), [None]):  # None: flush the last batch
            if doc is not None:
                batch.append(doc)
            if batch and (doc is None or len(batch) == ENCODE_BATCH):
                tokenized, stats = encode_documents(self._tokenizer.encoder, self._tokenizer.combined, batch, self._fim, self._split_rate, self._seed, self._check_rate)
                doc_draws = draws(self._seed, [d.id for d in tokenized])
                groups = [mix_group(d.source, d.meta, self._mix_by, self._size_buckets) for d in batch]
                spill.write(tokenized, groups, doc_draws)
                for key, n in stats.items():
                    counts[key] = counts.get(key, 0) + n
                lengths = np.fromiter((len(d.ids) for d in tokenized), np.int64, len(tokenized))
                bins = draw_bins(doc_draws)
                group_array = np.asarray(groups, dtype=object)
                for group in sorted(set(groups)):
                    mask = group_array == group
                    histogram = histograms.setdefault(group, np.zeros(0, np.int64))
                    histograms[group] = _add_sparse(histogram, bins[mask], lengths[mask])
                documents += len(tokenized)
                tokens += int(lengths.sum())
                batch = []
        spill.close()
        outputs = {
            "histograms": [(group, (np.flatnonzero(h).tolist(), h[np.flatnonzero(h)].tolist())) for group, h in sorted(histograms.items())],
            "stats": sorted(counts.items()),
            "report": {"shard": index, "documents": documents, "tokens": tokens},
        }
        write_json(tokenized_path(self._work, index), outputs)
        return outputs


def tokenized_path(work: str, index: int) -> str:
    """What a tokenized shard emitted (histograms, stats, its report), committed after its spill."""
    return f"{work}/tokenized-{index:05d}.json"


def _add_sparse(histogram: np.ndarray, bins: np.ndarray, weights: np.ndarray) -> np.ndarray:
    counts = np.bincount(bins, weights=weights, minlength=BINS).astype(np.int64)
    return counts if histogram.size == 0 else histogram + counts


class SumHistograms(beam.CombineFn):
    """Sparse (bins, tokens) parts → one dense histogram of ``pipeline.assemble.mix.BINS`` bins."""

    def create_accumulator(self) -> np.ndarray:
        return np.zeros(BINS, np.int64)

    def add_input(self, acc: np.ndarray, part: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        np.add.at(acc, part[0], part[1])
        return acc

    def merge_accumulators(self, accs: Iterable[np.ndarray]) -> np.ndarray:
        return np.sum(list(accs), axis=0)

    def extract_output(self, acc: np.ndarray) -> np.ndarray:
        return acc


def plan_mix(histograms: Mapping[str, np.ndarray], mix: Mapping[str, MixConfig]) -> dict[str, tuple[GroupMix, int]]:
    """Each mixing group's plan and the tokens its boundary bin must add."""
    targets = target_tokens(mix, {group: int(h.sum()) for group, h in histograms.items()})
    return {group: plan_group(h, targets[group]) for group, h in sorted(histograms.items())}


class BoundaryDocuments(FileDoFn):
    """Tokenized shard → (group, (key, tokens)) of its documents in their mixing group's boundary bin."""

    def __init__(self, work: str):
        super().__init__()
        self._work = work

    def process(self, shard: dict[str, Any], plans: Mapping[str, tuple[GroupMix, int]]) -> Iterator[tuple[str, tuple[ShuffledDocKey, int]]]:
        if not any(needed > 0 for _, needed in plans.values()):
            return
        table = read_doc_table(self._work, shard["shard"])
        bins = draw_bins(table.column("draw").to_numpy()).tolist()
        columns = table.to_pydict()
        for position, (group, draw, tokens, b) in enumerate(zip(columns["group"], columns["draw"], columns["tokens"], bins, strict=True)):
            plan, needed = plans[group]
            if needed > 0 and b == plan.boundary_bin:
                yield group, ((draw, shard["shard"], position), tokens)


def resolve_boundary(grouped: tuple[str, Iterable[tuple[ShuffledDocKey, int]]], plans: Mapping[str, tuple[GroupMix, int]]) -> tuple[str, Any]:
    """(group, the last boundary document to take) from the boundary bin's documents."""
    group, docs = grouped
    return group, boundary_choice(list(docs), plans[group][1])


def final_plans(plans: Mapping[str, tuple[GroupMix, int]], last_keys: Mapping[str, ShuffledDocKey]) -> dict[str, GroupMix]:
    return {group: dataclasses.replace(plan, last_key=last_keys.get(group)) for group, (plan, _) in plans.items()}


class PackShard(FileDoFn):
    """Dataset shard index → its stats (main) and ``stats`` (name, count) pairs; writes
    ``dataset/data-j.arrow`` and the shard's sampled-out documents to ``drops/``."""

    def __init__(self, tokenizer_dir: str, work: str, dataset_dir: str, drops_dir: str, shards: int, pack: PackConfig, mix: dict[str, MixConfig]):
        super().__init__()
        self._tokenizer_dir, self._work, self._dataset_dir, self._drops_dir = tokenizer_dir, work, dataset_dir.rstrip("/"), drops_dir.rstrip("/")
        self._shards, self._pack, self._mix = shards, pack, mix
        self._shared = shared.Shared()

    def setup(self) -> None:
        super().setup()
        self._tokenizer = self._shared.acquire(lambda: LoadedTokenizer(self._tokenizer_dir))

    def process(self, index: int, plans: Mapping[str, GroupMix]) -> Iterator[Any]:
        name = layout.dataset_shard_name(index)
        writer = ArrowShardWriter(f"{self._dataset_dir}/{name}")
        pack = PACKERS[self._pack.strategy]
        counts: dict[str, int] = {}
        group: list[TokenizedDocument] = []
        groups = 0
        drops: list[Drop] = []
        planned: dict[str, int] = {}  # per mixing group: the tokens its copies should bring
        packed: dict[str, int] = {}  # per mixing group: the tokens handed to packing
        sampled_out: dict[str, int] = {}

        tails = ArrowShardWriter(tail_path(self._work, index))
        # rows shorter than this are held back for RepackTails (none with concat)
        least_fill = self._pack.seq_len * (1 - HOLD_BACK_PADDING) if self._pack.strategy == REPACKED_STRATEGY else 0

        def flush() -> None:
            nonlocal group, groups
            rows, stats = pack(groups, group, self._pack.seq_len, self._tokenizer.encoder.pad_id)
            held_back = [sum(r.document_lengths) < least_fill for r in rows]
            writer.write([r for r, held in zip(rows, held_back, strict=True) if not held])
            tails.write([r for r, held in zip(rows, held_back, strict=True) if held])
            for key in ("documents", "documents_split"):
                counts[key] = counts.get(key, 0) + getattr(stats, key)
            group, groups = [], groups + 1

        most = max((p.whole_copies + (p.last_key is not None or p.boundary_bin > 0) for p in plans.values()), default=1)
        for k in range(max(most, 1)):
            origin = (index - k) % self._shards
            position = 0
            for batch in read_token_spill(self._work, origin):
                n = len(batch.ids)
                copies = shard_copies(plans, batch.groups, batch.draws, origin, np.arange(position, position + n))
                position += n
                for i in range(n):
                    source, mixing = batch.sources[i], batch.groups[i]
                    if k == 0:
                        planned[mixing] = planned.get(mixing, 0) + int(copies[i]) * len(batch.tokens[i])
                        if copies[i] == 0:
                            drops.append(Drop(batch.ids[i], source, Stage.MIX, MIX_REASON, describe(self._mix, mixing)))
                            sampled_out[mixing] = sampled_out.get(mixing, 0) + 1
                    if copies[i] > k:
                        packed[mixing] = packed.get(mixing, 0) + len(batch.tokens[i])
                        group.append(TokenizedDocument(batch.ids[i], source, batch.tokens[i]))
                        counts[f"copies_{k}"] = counts.get(f"copies_{k}", 0) + 1
                        if len(group) >= self._pack.group_size:
                            flush()
        if group:
            flush()
        drops_file = write_drops(f"{self._drops_dir}/mix-part-{index:05d}.parquet", drops)
        tail_stats = tails.close()
        counts["tail_rows"], counts["tail_padding"] = tail_stats["rows"], tail_stats["padding"]
        for key, n in sorted(counts.items()):
            yield beam.pvalue.TaggedOutput(STATS, (key, n))
        yield {"file": name, **writer.close(), "sampled_out": dict(sorted(sampled_out.items())), "sampled_out_file": {k: drops_file[k] for k in ("rows", "bytes", "sha256")},
               "planned_tokens_per_group": dict(sorted(planned.items())), "packed_tokens_per_group": dict(sorted(packed.items()))}


REPACKED_STRATEGY = "best_fit"  # concat keeps the documents' order in its rows, so its last rows stay where they are
# Rows padded by more than this share of seq_len are held back for RepackTails. Best fit leaves most
# rows within a few tokens of full: holding back every unfilled row moved 39% of a 1 GB run's rows
# through the one RepackTails worker (build 123 s, padding 0.27%); above 1/64 it is 12% (90 s, 0.54%).
HOLD_BACK_PADDING = 1 / 64


def tail_path(work: str, index: int) -> str:
    """The rows dataset shard ``index`` held back, waiting for ``RepackTails``."""
    return f"{work}/tail-{index:05d}.arrow"


class RepackTails(FileDoFn):
    """Number of dataset shards → the stats of one last shard ``data-S.arrow``, packed from the
    pieces of the rows every ``PackShard`` held back (padded by more than ``HOLD_BACK_PADDING``), in
    shard order, so small shards' short last rows fill each other; writes nothing when none was held back.
    Pieces are packed in groups of ``pack.group_size``, as ``PackShard`` packs, so memory stays flat."""

    def __init__(self, work: str, dataset_dir: str, pack: PackConfig, pad_id: int):
        super().__init__()
        self._work, self._dataset_dir, self._pack, self._pad_id = work, dataset_dir.rstrip("/"), pack, pad_id

    def _tail_groups(self, shards: int) -> Iterator[list[TokenizedDocument]]:
        """The held-back rows' pieces of every shard, in shard order, ``pack.group_size`` at a time."""
        group: list[TokenizedDocument] = []
        pieces = 0
        for index in range(shards):
            for batch in arrow_batches(tail_path(self._work, index)):
                tokens, lengths = row_pieces(batch)
                sources = batch.column("sources").values.to_pylist()
                for start, length, source in zip(np.cumsum(lengths) - lengths, lengths, sources, strict=True):
                    group.append(TokenizedDocument(f"{index}/{pieces}", source, tokens[start : start + length]))
                    pieces += 1
                    if len(group) == self._pack.group_size:
                        yield group
                        group = []
        if group:
            yield group

    def process(self, shards: int) -> Iterator[Any]:
        writer = None
        repacked = 0
        for number, group in enumerate(self._tail_groups(shards)):
            rows, _ = PACKERS[self._pack.strategy](shards + number, group, self._pack.seq_len, self._pad_id)
            writer = writer or ArrowShardWriter(f"{self._dataset_dir}/{layout.dataset_shard_name(shards)}")
            writer.write(rows)
            repacked += len(rows)
        if writer is None:
            return
        yield beam.pvalue.TaggedOutput(STATS, ("tail_rows_repacked", repacked))
        yield {"file": layout.dataset_shard_name(shards), **writer.close(), "sampled_out": {}, "sampled_out_file": None,
               "planned_tokens_per_group": {}, "packed_tokens_per_group": {}}


def shard_copies(plans: Mapping[str, GroupMix], groups: Sequence[str], draw: np.ndarray, shard: int, positions: np.ndarray) -> np.ndarray:
    """Copies of each document of a batch, by its mixing group's plan."""
    copies = np.ones(len(groups), np.int64)
    group_array = np.asarray(groups, dtype=object)
    for group in set(groups):
        mask = group_array == group
        copies[mask] = plans[group].copies(draw[mask], shard, positions[mask])
    return copies


