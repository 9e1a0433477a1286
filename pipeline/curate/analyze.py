"""Curate, step 1, per work unit where its files lie: read → normalize → filter → spill.

Everything that needs a document's text happens here, in one worker, streaming: the unit's
survivors go to its spill file in read order, and only compact keys leave the worker: exact
text hashes and LSH bucket keys as numpy blocks of ``(key, node)`` in partition order, written
to the work directory and referenced by partition (``pipeline.curate.dedup.partitions``), one
report of counts, count keys and a bounded sample of drops: only ids and hashes are shuffled
(docs/architecture.md, "What crosses a shuffle").
"""
from __future__ import annotations

import dataclasses
import heapq
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline.config import Config, MinHashConfig, SourceConfig
from pipeline.curate.dedup import exact, ids, lines
from pipeline.curate.dedup.minhash import band_keys, batch_shingle_hashes, choose_bands, signatures
from pipeline.curate.dedup.near import BAND_ENTRY, BANDS
from pipeline.curate.dedup.nodes import make_node, priority_ranks
from pipeline.curate.dedup.partitions import key_file, key_slices, read_keys, sorted_by_partition, write_keys
from pipeline.curate.filters.chain import SourceFilterChains
from pipeline.curate.normalize import normalize_document, repair_fields
from pipeline.curate.repo_order import repository_documents
from pipeline.curate.stages import COUNTS, SAMPLE_CHARS, SAMPLES, dead_letter_for
from pipeline.io.curated import CURATED_SCHEMA, SPILL_COMPRESSION, ParquetRowWriter, curated_row, write_dead_letters
from pipeline.io.files import FileDoFn, read_json, write_json
from pipeline.io.signals import signals_row, signals_schema, spill_schema
from pipeline.io.spill import ANALYZED, ShingleSets, UnitIndex, unit_file, write_filter_drops, write_index, write_shingle_sets, write_signatures
from pipeline.read.formats import read_piece
from pipeline.read.units import WorkUnit, piece_bytes, unit_name
from pipeline.records import AnalyzedUnit, DeadLetter, Document, Drop, Repository, Stage, stable_hash
from pipeline.report.counts import CountKey, Kind, count_key, length_bin

if TYPE_CHECKING:
    from pipeline.curate.reselect import Reselect

EXACT = "exact"
IDS = "ids"
KEY_DTYPES = {EXACT: exact.ENTRY, IDS: exact.ENTRY, BANDS: BAND_ENTRY}
SIGNATURE_BATCH = 512
SAMPLES_PER_REASON = 5
NO_LINES = np.zeros(0, np.uint64)  # no boilerplate lines known


def curate_document(doc: Document, filters: SourceFilterChains, boilerplate: np.ndarray = NO_LINES,
                    signals: dict[str, Any] | None = None) -> tuple[Document | Drop | DeadLetter, int]:
    """Normalize, remove boilerplate lines, then filter one document (the rule filters' values
    into ``signals`` when given); returns the result and the lines removed. An exception becomes a
    dead letter naming the stage."""
    stage, removed = Stage.NORMALIZE, 0
    try:
        result = normalize_document(doc)
        if isinstance(result, Document):
            stage = Stage.BOILERPLATE_LINES
            result, removed = lines.remove_lines(result, boilerplate)
            stage = Stage.FILTER
            result = filters(result, signals)
        return result, removed
    except Exception as e:
        return dead_letter_for(doc, stage, e), removed


Outcome = tuple[Document | None, Document | Drop | DeadLetter, int]  # (record read, its result, lines removed)


def curate_repository(repo: Repository, filters: SourceFilterChains, boilerplate: np.ndarray, max_repo_bytes: int) -> list[Outcome]:
    """Curates each file of a repository (a drop names the file), then lays the survivors out as
    repository documents (``repository_documents``), which are kept as they are."""
    outcomes: list[Outcome] = []
    survivors: list[Document] = []
    removed_lines = 0
    for file in repo.files:
        result, removed = curate_document(file, filters, boilerplate)
        removed_lines += removed
        if isinstance(result, Document):
            survivors.append(result)
        else:
            outcomes.append((file, result, removed))
    documents = repository_documents(repo.source, repo.name, repo.location, survivors, max_repo_bytes)
    outcomes += [(doc, doc, removed_lines if i == 0 else 0) for i, doc in enumerate(documents)]
    return outcomes


def repository_counts(repo: Repository, outcomes: list[Outcome]) -> Counter:
    """Count keys of one repository: repositories, documents, files (read and in documents) and the
    files per language in its documents."""
    documents = [result for _, result, _ in outcomes if isinstance(result, Document)]
    counts: Counter = Counter()
    counts[count_key(Kind.REPOS, repo.source, "repositories")] += 1
    counts[count_key(Kind.REPOS, repo.source, "documents")] += len(documents)
    counts[count_key(Kind.REPOS, repo.source, "files_curated")] += len(repo.files)
    for doc in documents:
        for span in doc.meta["files"]:
            counts[count_key(Kind.REPOS, repo.source, "files_in_documents")] += 1
            counts[count_key(Kind.REPO_LANGUAGE, repo.source, span["language"])] += 1
    return counts


class UnitSigner:
    """Accumulates a unit's survivors and computes MinHash signatures and band keys per batch.

    A document without words has no shingles: it gets no band keys (it never clusters; it can
    still be an exact duplicate)."""

    def __init__(self, config: MinHashConfig, kind: str, seed: int):
        self._config, self._seed = config, seed
        self._ngram = config.code_ngram if kind == "code" else config.ngram
        self._kind = kind
        self._bands, self._rows = choose_bands(config.threshold, config.num_perm, config.bands, config.rows, config.verify)
        self._pending: list[str] = []
        self._done = 0
        self.shingle_sets: list[np.ndarray] = []  # sorted distinct hashes per document, for exact checks
        self.signatures: list[np.ndarray] = []  # uint32 (documents, num_perm) per batch; zeros without shingles
        self.band_keys: list[np.ndarray] = []  # (documents with shingles, bands) per batch
        self.positions: list[np.ndarray] = []  # the unit positions of those documents

    def add(self, text: str) -> None:
        self._pending.append(text)
        if len(self._pending) >= SIGNATURE_BATCH:
            self.flush()

    def flush(self) -> None:
        shingles = batch_shingle_hashes(self._pending, self._ngram, self._kind)
        with_shingles = [i for i, s in enumerate(shingles) if len(s)]
        batch = np.zeros((len(shingles), self._config.num_perm), dtype=np.uint32)
        if with_shingles:
            sigs = signatures([shingles[i] for i in with_shingles], self._config.num_perm, self._seed)
            self.band_keys.append(band_keys(sigs, self._bands, self._rows))
            self.positions.append(np.asarray(with_shingles, dtype=np.uint64) + np.uint64(self._done))
            batch[with_shingles] = sigs.astype(np.uint32)
        if self._config.verify:
            self.shingle_sets += [np.unique(s) for s in shingles]
            self.signatures.append(batch)
        self._done += len(shingles)
        self._pending = []


class AnalyzeUnit(FileDoFn):
    """WorkUnit → its report (main output); ``exact`` and ``bands`` blocks; ``counts`` keys;
    ``samples`` of drops; and the unit's spill and dead-letter files."""

    def __init__(self, config: Config, filters: SourceFilterChains, work_dir: str, dead_letter_dir: str, reselect: Reselect | None = None):
        super().__init__()
        self._config, self._filters = config, filters
        self._work_dir, self._dead_letter_dir = work_dir, dead_letter_dir.rstrip("/")
        self._reselect = reselect  # re-decide the units of an earlier run from their stored values

    def setup(self) -> None:
        super().setup()
        self._ranks = priority_ranks({s.name: s.priority for s in self._config.sources})

    def process(self, unit: WorkUnit, boilerplate: np.ndarray = NO_LINES) -> Iterator[Any]:
        outputs = UnitOutputs.load(self._work_dir, unit.index)
        if outputs is None and self._reselect is not None:
            outputs = self._reselect_unit(unit)
        yield from (outputs or self._analyze(unit, boilerplate)).emit(self._work_dir)

    def _reselect_unit(self, unit: WorkUnit) -> UnitOutputs:
        from pipeline.curate.reselect import copy_file, reselect_unit  # here: reselect builds on this module's UnitOutputs

        assert self._reselect is not None
        old = self._reselect.run_dir
        name = unit_name("part", unit.index, ".jsonl")
        copy_file(FileSystems.join(old, "dead_letter", name), f"{self._dead_letter_dir}/{name}")
        return reselect_unit(FileSystems.join(old, "curated", "_work"), self._work_dir, unit.index, unit.source, self._filters.chains[unit.source],
                             self._reselect.changed.get(unit.source, []), make_node(self._ranks[unit.source], unit.index, 0))

    def _analyze(self, unit: WorkUnit, boilerplate: np.ndarray) -> UnitOutputs:
        """Reads and curates the unit's records, then writes its spill files and saves its outputs."""
        source = self._config.source(unit.source)
        analysis = UnitAnalysis(self._config, source, self._filters, self._work_dir, unit.index)
        for original, result, removed, values in self._curated_records(unit, source, boilerplate, analysis.counts):
            analysis.add(original, result, removed, values)
        return analysis.finish(unit, self._dead_letter_dir, make_node(self._ranks[source.name], unit.index, 0))

    def _curated_records(self, unit: WorkUnit, source: SourceConfig, boilerplate: np.ndarray, counts: Counter) -> Iterator[tuple[Document | None, Any, int, dict[str, Any]]]:
        """(record read, its result, lines removed, its signal values) for every record of the unit, in
        read order; repaired fields and repository counts go to ``counts``."""
        config = self._config
        for piece in unit.pieces:
            for record in read_piece(source, piece, config.max_document_bytes, config.max_compression_ratio):
                record, repaired = repair_fields(record)
                if repaired:
                    counts[count_key(Kind.REPAIRED, source.name)] += 1
                values: dict[str, Any] = {}
                outcomes: list[Outcome]
                if isinstance(record, Repository):
                    outcomes = curate_repository(record, self._filters, boilerplate, source.max_repo_bytes)
                    counts.update(repository_counts(record, outcomes))
                elif isinstance(record, Document):
                    outcomes = [(record, *curate_document(record, self._filters, boilerplate, values if config.output.signals else None))]
                else:
                    outcomes = [(None, record, 0)]
                for original, result, removed in outcomes:
                    yield original, result, removed, values


class UnitAnalysis:
    """One unit's analysis as its records come: counts, drop samples, dead letters, the survivors'
    spill and dedup keys (exact hashes, MinHash signatures), and the signals spill."""

    def __init__(self, config: Config, source: SourceConfig, filters: SourceFilterChains, work_dir: str, unit: int):
        self._config, self._source, self._work_dir, self._unit = config, source, work_dir, unit
        self.counts: Counter = Counter()
        self._samples: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        self._drops: list[Drop] = []
        self._dead: list[DeadLetter] = []
        self._read = 0
        self._index = UnitIndex([], [], [])
        self._hashes: list[tuple[int, int]] = []
        self._id_hashes: list[tuple[int, int]] = []
        self._check_ids = config.on_duplicate_id != "keep" and ids.given_ids(source)
        self._minhash = UnitSigner(config.dedup.minhash, source.kind, config.seed) if config.dedup.minhash.enabled else None
        self._spill = ParquetRowWriter(unit_file(work_dir, unit, "docs.parquet"), CURATED_SCHEMA, compression=SPILL_COMPRESSION)
        self._signals = None
        if config.output.signals:
            schema = signals_schema(filters.signal_types(source.name), filters.classifiers(source.name))
            self._signals = ParquetRowWriter(unit_file(work_dir, unit, "signals.parquet"), spill_schema(schema), row_group=16384, compression=SPILL_COMPRESSION)

    def add(self, original: Document | None, result: Document | Drop | DeadLetter, removed: int, values: dict[str, Any]) -> None:
        """One record's outcome: counted, spilled, sampled or dead-lettered."""
        name = self._source.name
        self._read += 1
        if original is not None:
            self.counts[count_key(Kind.LENGTH_READ, name, length_bin(original.text))] += 1
        if removed:
            self.counts[count_key(Kind.BOILERPLATE_LINES, name)] += removed
        for key in score_keys(name, result):
            self.counts[key] += 1
        if self._signals is not None and not isinstance(result, DeadLetter):
            survivor = len(self._index.ids) if isinstance(result, Document) else None
            self._signals.write(signals_row(original.id if original is not None else result.id, name, result, values, survivor))
        if isinstance(result, DeadLetter):
            self._dead.append(result)
        elif isinstance(result, Drop):  # web records without main text have no original
            self._drops.append(result)
            keep_sample(self._samples, result, original.text if original is not None else "")
        else:
            self._survivor(result)

    def _survivor(self, doc: Document) -> None:
        for classifier, label in doc.meta.get("labels", {}).items():
            if label != "other":  # kept by the classifier: the lowest scores are its borderline above
                score = doc.meta["scores"][classifier]
                keep_sample(self._samples, Drop(doc.id, self._source.name, Stage.KEPT_BORDERLINE, f"classifier_{classifier}", f"{score:.4f} kept"), doc.text)
        self._spill.write(curated_row(doc))
        self._index.ids.append(doc.id)
        self._index.sources.append(doc.source)
        self._index.sizes.append(len(doc.text.encode("utf-8", "surrogatepass")))
        if self._config.dedup.exact or self._minhash is not None:  # near dedup pairs a group of equal texts once
            self._hashes.append(exact.text_hash(doc.text))
        if self._check_ids:
            self._id_hashes.append(exact.text_hash(doc.id))
        if self._minhash is not None:
            self._minhash.add(doc.text)

    def finish(self, unit: WorkUnit, dead_letter_dir: str, base: int) -> UnitOutputs:
        """Closes and writes the unit's files, builds its dedup keys and report, and saves its outputs."""
        self._spill.close()
        if self._signals is not None:
            self._signals.close()
        write_index(self._work_dir, self._unit, self._index)
        write_filter_drops(self._work_dir, self._unit, self._drops)
        write_dead_letters(f"{dead_letter_dir}/{unit_name('part', self._unit, '.jsonl')}", self._dead)
        keyed = self._dedup_keys(base)
        dead_by_stage = Counter(d.stage for d in self._dead)
        report = AnalyzedUnit(self._unit, self._source.name, self._read, dict(sorted(dead_by_stage.items())), len(self._index.ids), sum(self._index.sizes),
                              sum(piece_bytes(p) for p in unit.pieces), sum(entries.nbytes for entries in keyed.values()))
        sampled = [(reason, (-row[0], *row[1:])) for reason, rows in sorted(self._samples.items()) for row in rows]
        outputs = UnitOutputs(keyed, sorted(self.counts.items()), sampled, report)
        outputs.save(self._work_dir, self._unit)
        return outputs

    def _dedup_keys(self, base: int) -> dict[str, np.ndarray]:
        """Exact, id and LSH band entries of the survivors (nodes from ``base``), each in partition order."""
        nodes = np.uint64(base) + np.arange(len(self._index.ids), dtype=np.uint64)
        keyed = {tag: hash_entries(keys, nodes) for tag, keys in ((EXACT, self._hashes), (IDS, self._id_hashes))}
        keyed[BANDS] = self._band_entries(base) if self._minhash is not None else np.zeros(0, BAND_ENTRY)
        return {tag: sorted_by_partition(entries, partition_key(tag, entries)) for tag, entries in keyed.items()}

    def _band_entries(self, base: int) -> np.ndarray:
        """The survivors' LSH band entries; writes the signatures and shingle sets verification reads back."""
        minhash = self._minhash
        assert minhash is not None
        minhash.flush()
        if self._config.dedup.minhash.verify:
            write_shingle_sets(self._work_dir, self._unit, ShingleSets.from_sets(minhash.shingle_sets))
            signed = np.concatenate(minhash.signatures) if minhash.signatures else np.zeros((0, self._config.dedup.minhash.num_perm), np.uint32)
            write_signatures(self._work_dir, self._unit, signed)
        if not minhash.band_keys:
            return np.zeros(0, BAND_ENTRY)
        keys = np.concatenate(minhash.band_keys)
        entries = np.zeros(keys.size, BAND_ENTRY)
        positions = np.concatenate(minhash.positions)
        entries["key"] = keys.ravel()
        entries["node"] = np.repeat(np.uint64(base) + positions, keys.shape[1])
        entries["text"] = np.repeat(np.array([h1 for h1, _ in self._hashes], dtype=np.uint64)[positions.astype(np.int64)], keys.shape[1])
        return entries


class UnitOutputs(NamedTuple):
    """What one unit's analysis emits besides its files: dedup keys, counts, drop samples and the
    unit report. Saved under ``_work/`` with the report last (``unit-U.analyzed.json``), so an
    interrupted run resumed with the same config and input replays an analyzed unit instead of
    redoing it, emitting exactly what the analysis did."""

    keyed: dict[str, np.ndarray]  # EXACT / IDS: exact.ENTRY; BANDS: BAND_ENTRY; each in partition order
    counts: list[tuple[CountKey, int]]
    samples: list[tuple[tuple[str, str], tuple[Any, ...]]]
    report: AnalyzedUnit

    def emit(self, work_dir: str) -> Iterator[Any]:
        """The unit's outputs; its dedup entries as references to their partitions' slices of its key files."""
        for tag, entries in self.keyed.items():
            for partition, piece in key_slices(key_file(work_dir, self.report.unit, tag), entries, partition_key(tag, entries)):
                yield beam.pvalue.TaggedOutput(tag, (partition, piece))
        for counted, n in self.counts:
            yield beam.pvalue.TaggedOutput(COUNTS, (counted, n))
        for reason, row in self.samples:
            yield beam.pvalue.TaggedOutput(SAMPLES, (reason, row))
        yield self.report

    def save(self, work_dir: str, unit: int) -> None:
        for tag, entries in self.keyed.items():
            write_keys(work_dir, unit, tag, entries)
        write_json(unit_file(work_dir, unit, "outputs.json"), {"counts": self.counts, "samples": self.samples})
        write_json(unit_file(work_dir, unit, ANALYZED), dataclasses.asdict(self.report))  # last: the unit counts as analyzed

    @classmethod
    def load(cls, work_dir: str, unit: int) -> UnitOutputs | None:
        """The saved outputs of an analyzed unit, else None."""
        if not FileSystems.exists(unit_file(work_dir, unit, ANALYZED)):
            return None
        keyed = {tag: read_keys(work_dir, unit, tag, dtype) for tag, dtype in KEY_DTYPES.items()}
        outputs = read_json(unit_file(work_dir, unit, "outputs.json"))
        counts = [(tuple(key), n) for key, n in outputs["counts"]]
        samples = [(tuple(reason), tuple(row)) for reason, row in outputs["samples"]]
        return cls(keyed, counts, samples, AnalyzedUnit(**read_json(unit_file(work_dir, unit, ANALYZED))))


def hash_entries(keys: list[tuple[int, int]], nodes: np.ndarray) -> np.ndarray:
    """Exact-dedup entries ``(h1, h2, node)`` of a unit's survivors (none when ``keys`` is empty)."""
    entries = np.zeros(len(keys), exact.ENTRY)
    if keys:
        entries["h1"], entries["h2"] = np.array(keys, dtype=np.uint64).T
        entries["node"] = nodes
    return entries


def partition_key(tag: str, entries: np.ndarray) -> np.ndarray:
    """The key that places dedup entries of kind ``tag`` in a partition: the band key or the hash's first half."""
    return entries["key"] if tag == BANDS else entries["h1"]


def classifier_score(drop: Drop) -> float | None:
    """The score a classifier drop carries (its detail starts with it), else None."""
    return float(drop.detail.split(" ", 1)[0]) if drop.reason.startswith("classifier_") else None


def score_keys(source: str, result: Document | Drop | DeadLetter) -> list[tuple[str, str, str, str]]:
    """Count keys of the classifier scores of a kept document or a classifier drop, in tenths."""
    if isinstance(result, Document):
        scores = result.meta.get("scores", {}).items()
    elif isinstance(result, Drop) and (score := classifier_score(result)) is not None:
        scores = [(result.reason.removeprefix("classifier_"), score)]
    else:
        return []
    return [count_key(Kind.SCORE, source, f"{name}/{min(int(score * 10), 9) / 10:.1f}") for name, score in scores]


def keep_sample(samples: dict[tuple[str, str], list[tuple[Any, str, str, str]]], drop: Drop, text: str) -> None:
    """Keeps ``SAMPLES_PER_REASON`` drops per (stage, reason): those with the smallest id hash, or
    for a classifier the borderline ones (the highest scores under its threshold; for
    ``kept_borderline``, the lowest scores it kept)."""
    heap = samples.setdefault((drop.stage, drop.reason), [])
    score = classifier_score(drop)
    rank = -stable_hash(0, drop.id) if score is None else (-score if drop.stage == Stage.KEPT_BORDERLINE else score)
    entry = (rank, drop.id, drop.detail, text[:SAMPLE_CHARS])
    if len(heap) < SAMPLES_PER_REASON:
        heapq.heappush(heap, entry)
    elif entry > heap[0]:
        heapq.heapreplace(heap, entry)
