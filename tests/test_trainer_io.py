"""Trainer I/O: Megatron indexed-dataset export read back by an independent reader of the published
layout, and the rank-sharded, resumable reader of the Arrow shards."""
from __future__ import annotations

import hashlib
import json
import random
import struct
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml

from pipeline.assemble.pack import unpack_row
from pipeline.assemble.transforms import HOLD_BACK_PADDING
from pipeline.cli import main
from pipeline.dataset import RankReader
from tests.conftest import base_config, paragraph_docs, sentence, write_jsonl

MEGATRON_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("trainer")
    for part in range(5):  # five files of distinct prose: five work units, five shards
        write_jsonl(tmp_path / "in" / f"part-{part}.jsonl", [{"text": t} for t in paragraph_docs(120, seed=part)])
    config = base_config(tmp_path, [{"name": "prose", "paths": [f"{tmp_path}/in/*.jsonl"]}], pack={"seq_len": 128, "group_size": 40},
                         output={"unit_mb": 0.05}, dedup={"exact": True, "minhash": {"enabled": False}})
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--quiet"]) == 0
    out = Path(config["output_dir"]) / "dataset"
    assert len(json.loads((out / "manifest.json").read_text())["shards"]) >= 3
    return path, out


def read_megatron(prefix: Path) -> list[np.ndarray]:
    """An independent reader of MMIDIDX v1: header, version, dtype code, counts, lengths, pointers, documents."""
    index = (prefix.parent / f"{prefix.name}.idx").read_bytes()
    assert index[:9] == b"MMIDIDX\x00\x00" and struct.unpack("<Q", index[9:17]) == (1,)
    (code,) = struct.unpack("<B", index[17:18])
    sequences, documents = struct.unpack("<QQ", index[18:34])
    lengths = np.frombuffer(index, np.int32, sequences, 34)
    pointers = np.frombuffer(index, np.int64, sequences, 34 + 4 * sequences)
    doc_index = np.frombuffer(index, np.int64, documents, 34 + 12 * sequences)
    assert len(index) == 34 + 12 * sequences + 8 * documents
    assert doc_index[0] == 0 and doc_index[-1] == sequences and np.all(np.diff(doc_index) > 0)
    dtype = np.dtype(MEGATRON_DTYPES[code])
    data = np.fromfile(prefix.parent / f"{prefix.name}.bin", dtype)
    return [data[p // dtype.itemsize : p // dtype.itemsize + n] for p, n in zip(pointers, lengths)]


def arrow_pieces(directory: Path) -> list[list[np.ndarray]]:
    """Per shard, the pieces of its rows in order (EOS kept, padding dropped)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    rows = iter(datasets.load_from_disk(str(directory)))
    return [[piece for _ in range(shard["rows"]) for piece in unpack_row(next(rows))] for shard in manifest["shards"]]


def test_megatron_export_reads_back_token_for_token(dataset_dir, tmp_path):
    config_path, directory = dataset_dir
    assert main(["export", "megatron", str(config_path), str(tmp_path / "per_shard" / "corpus"), "--quiet"]) == 0
    assert main(["export", "megatron", str(directory), str(tmp_path / "merged" / "corpus"), "--merge", "--quiet"]) == 0
    expected = arrow_pieces(directory)
    for i, pieces in enumerate(expected):
        exported = read_megatron(tmp_path / "per_shard" / f"corpus_{i:05d}")
        assert len(exported) == len(pieces) and all(np.array_equal(a, b) for a, b in zip(exported, pieces))
    merged = read_megatron(tmp_path / "merged" / "corpus")
    flat = [piece for pieces in expected for piece in pieces]
    assert len(merged) == len(flat) and all(np.array_equal(a, b) for a, b in zip(merged, flat))
    assert merged[0].dtype == np.uint16  # a 600-token vocabulary
    exports = json.loads((directory / "manifest.json").read_text())["exports"]["megatron"]
    (pair,) = exports[str(tmp_path / "merged" / "corpus")]["prefixes"]
    assert pair["bin_sha256"] == hashlib.sha256((tmp_path / "merged" / "corpus.bin").read_bytes()).hexdigest()
    assert pair["idx_sha256"] == hashlib.sha256((tmp_path / "merged" / "corpus.idx").read_bytes()).hexdigest()
    per_shard = exports[str(tmp_path / "per_shard" / "corpus")]["prefixes"]  # the merged export did not replace it
    assert [p["bin_sha256"] for p in per_shard] == [hashlib.sha256((tmp_path / "per_shard" / f"corpus_{i:05d}.bin").read_bytes()).hexdigest()
                                                    for i in range(len(expected))]
    assert not (tmp_path / "merged" / "_tmp").exists()


def test_export_of_a_read_only_dataset_records_in_its_own_folder(dataset_dir, tmp_path, monkeypatch):
    import pipeline.tools.export as export

    _, directory = dataset_dir
    before = (directory / "manifest.json").read_bytes()
    monkeypatch.setattr(export.os, "access", lambda path, mode: False)  # as the tests run as root, permissions cannot say it
    with pytest.raises(PermissionError, match="--record-in-output"):
        export.export_megatron(str(directory), str(tmp_path / "ro" / "corpus"), merge=True)
    assert main(["export", "megatron", str(directory), str(tmp_path / "ro" / "corpus"), "--merge", "--record-in-output", "--quiet"]) == 0
    assert (directory / "manifest.json").read_bytes() == before
    record = json.loads((tmp_path / "ro" / "corpus.export.json").read_text())
    assert record["dataset"]["config_hash"] == json.loads(before)["config_hash"] and record["megatron"]["tokens"] == json.loads(before)["tokens"]
    (pair,) = record["megatron"]["prefixes"]
    assert pair["bin_sha256"] == hashlib.sha256((tmp_path / "ro" / "corpus.bin").read_bytes()).hexdigest()


@pytest.mark.slow
def test_megatron_cores_own_reader_reads_the_export(dataset_dir, tmp_path):
    from megatron.core.datasets import indexed_dataset as indexed
    _, directory = dataset_dir
    assert main(["export", "megatron", str(directory), str(tmp_path / "corpus"), "--merge", "--quiet"]) == 0
    dataset = indexed.IndexedDataset(str(tmp_path / "corpus"))
    flat = [piece for pieces in arrow_pieces(directory) for piece in pieces]
    assert len(dataset) == len(flat) and all(np.array_equal(dataset[i], p) for i, p in enumerate(flat))


def test_ranks_see_disjoint_rows_that_together_are_the_dataset(dataset_dir):
    _, directory = dataset_dir
    ranks = [list(RankReader(str(directory), rank=r, world_size=4, seed=5)) for r in range(4)]
    addresses = [[(row["shard"], row["row"]) for row in rows] for rows in ranks]
    everything = [a for rank in addresses for a in rank]
    total = RankReader(str(directory)).total_rows
    assert len(everything) == len(set(everything)) == total and max(map(len, addresses)) - min(map(len, addresses)) <= 1
    assert [len(RankReader(str(directory), rank=r, world_size=4)) for r in range(4)] == list(map(len, addresses))
    manifest = json.loads((directory / "manifest.json").read_text())
    starts = np.cumsum([0] + [s["rows"] for s in manifest["shards"]])
    table = datasets.load_from_disk(str(directory))
    for row in ranks[2][:20]:  # each row is the dataset's row at its address, with its views
        original = table[int(starts[row["shard"]]) + row["row"]]
        assert row["input_ids"].tolist() == original["input_ids"] and row["document_lengths"] == original["document_lengths"]
        assert row["cu_seqlens"][-1] == len(row["input_ids"]) and row["position_ids"][0] == 0


def test_stopping_after_k_batches_and_resuming_gives_the_uninterrupted_sequence(dataset_dir):
    _, directory = dataset_dir
    uninterrupted = [(row["shard"], row["row"]) for row in RankReader(str(directory), rank=1, world_size=3, seed=9, epoch=2)]
    first = RankReader(str(directory), rank=1, world_size=3, seed=9, epoch=2)
    stream, batch, k = iter(first), 4, 5
    before = [(row["shard"], row["row"]) for row in (next(stream) for _ in range(batch * k))]
    state = json.loads(json.dumps(first.state_dict()))  # checkpoints are JSON
    assert state["consumed"] == batch * k
    resumed = RankReader(str(directory), rank=1, world_size=3, seed=9)
    resumed.load_state_dict(state)
    after = [(row["shard"], row["row"]) for row in resumed]
    assert before + after == uninterrupted
    with pytest.raises(ValueError, match="world_size"):
        RankReader(str(directory), rank=1, world_size=2, seed=9).load_state_dict(state)


def test_each_epoch_has_its_own_order_and_the_same_epoch_the_same(dataset_dir):
    _, directory = dataset_dir
    order = lambda epoch, seed=1: [(r["shard"], r["row"]) for r in RankReader(str(directory), seed=seed, epoch=epoch)]  # noqa: E731
    assert order(0) == order(0) and order(0) != order(1) and sorted(order(0)) == sorted(order(1)) and order(0, seed=2) != order(0)
    reader = RankReader(str(directory), seed=1)
    list(reader)
    reader.set_epoch(1)
    assert reader.state_dict()["consumed"] == 0 and [(r["shard"], r["row"]) for r in reader] == order(1)


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_dataloader_workers_checkpoint_mid_epoch_and_resume_without_replay_or_skip(dataset_dir, workers):
    """A real DataLoader with 0, 1 and 2 worker processes: the main process's state_dict() follows
    the batches delivered, so resuming from a mid-epoch checkpoint (with any worker count) replays
    no row and skips none."""
    import torch
    _, directory = dataset_dir
    reader = lambda: RankReader(str(directory), rank=1, world_size=2, seed=4, epoch=1)  # noqa: E731
    uninterrupted = [(row["shard"], row["row"]) for row in reader()]
    first = reader()
    seen, state = [], None
    for k, batch in enumerate(first.batches(batch_size=7, num_workers=workers)):
        assert isinstance(batch["input_ids"], torch.Tensor) and batch["input_ids"].dtype == torch.int64 and batch["labels"].dtype == torch.int64
        seen += list(zip(batch["shard"].tolist(), batch["row"].tolist()))
        if k == 4:
            state = json.loads(json.dumps(first.state_dict()))  # checkpoints are JSON
            break
    assert state["consumed"] == len(seen) == 35
    resumed = reader()
    resumed.load_state_dict(state)
    for batch in resumed.batches(batch_size=5, num_workers=(workers + 1) % 3):
        seen += list(zip(batch["shard"].tolist(), batch["row"].tolist()))
    assert seen == uninterrupted and resumed.state_dict()["consumed"] == len(resumed)


def test_rows_cannot_be_read_in_dataloader_workers_where_progress_is_lost(dataset_dir):
    import torch
    _, directory = dataset_dir
    loader = torch.utils.data.DataLoader(RankReader(str(directory)), batch_size=4, num_workers=1, collate_fn=lambda rows: rows)
    with pytest.raises(RuntimeError, match=r"reader.batches\(batch_size, num_workers=N\)"):
        next(iter(loader))


def test_labels_skip_padding_and_every_documents_first_token():
    from pipeline.dataset import IGNORE_INDEX, labels

    ids = np.arange(10, 20, dtype=np.int32)
    out = labels(ids, [3, 4])
    assert out.dtype == np.int64
    assert out.tolist() == [IGNORE_INDEX, 11, 12, IGNORE_INDEX, 14, 15, 16] + [IGNORE_INDEX] * 3


@pytest.mark.slow
def test_unfilled_rows_of_small_shards_are_repacked_together(tmp_path):
    """Small shards of documents of very different lengths: every shard but the last holds only
    (nearly) full rows, the last packs the rows they left well short of full, and padding falls under 0.5%."""
    rng = random.Random(3)
    for part in range(6):
        write_jsonl(tmp_path / "in" / f"part-{part}.jsonl",
                    [{"text": f"Doc {part}-{i}. " + " ".join(sentence(rng, rng.randint(5, 12)) for _ in range(int(rng.lognormvariate(1.5, 1.0)) + 1))}
                     for i in range(800)])
    config = base_config(tmp_path, [{"name": "prose", "paths": [f"{tmp_path}/in/*.jsonl"]}], pack={"seq_len": 512, "group_size": 5000},
                         output={"unit_mb": 0.05}, dedup={"exact": True, "minhash": {"enabled": False}}, fim={"rate": 0.0})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(tmp_path / "run.yaml"), "--quiet"]) == 0
    directory = Path(config["output_dir"]) / "dataset"
    manifest = json.loads((directory / "manifest.json").read_text())
    table = datasets.load_from_disk(str(directory))
    fills, start = [], 0
    for shard in manifest["shards"]:
        fills.append([sum(lengths) for lengths in table[start : start + shard["rows"]]["document_lengths"]])
        start += shard["rows"]
    seq_len, packing = manifest["seq_len"], manifest["packing"]
    curated = list((directory.parent / "curated").glob("*.parquet"))
    assert len(fills) == len(curated) + 1 > 5 and all(seq_len - fill <= seq_len * HOLD_BACK_PADDING for shard in fills[:-1] for fill in shard)
    padding = sum(seq_len - fill for shard in fills for fill in shard)
    assert padding == packing["padding_tokens"] and padding / (manifest["rows"] * seq_len) <= 0.005
    assert packing["padding_tokens_before_repack"] / (manifest["rows"] * seq_len) > 0.01  # what per-shard packing alone left
    assert packing["repacked_into_rows"] == len(fills[-1]) < packing["unfilled_rows_repacked"]
    assert manifest["tokens"] == sum(map(sum, fills))


@pytest.mark.slow
def test_a_documents_logits_inside_a_packed_row_equal_its_logits_alone(dataset_dir):
    """With the README's flags (position_ids from the reader, use_cache=False), a small Hugging Face
    Llama restarts attention at every document of a packed row; the int64 labels give a loss."""
    import torch
    import transformers
    _, directory = dataset_dir
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=600, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                      num_key_value_heads=2, max_position_embeddings=128)
    model = transformers.LlamaForCausalLM(config).eval()
    batch = next(RankReader(str(directory), seed=2).batches(batch_size=4))
    checked = 0
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        for i, lengths in enumerate(batch["document_lengths"]):
            start = 0
            for n in lengths:
                alone = model(input_ids=batch["input_ids"][i : i + 1, start : start + n], use_cache=False).logits[0]
                assert torch.allclose(packed[i, start : start + n], alone, atol=1e-4)
                start, checked = start + n, checked + 1
        loss = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], labels=batch["labels"], use_cache=False).loss
    assert checked > 4 and torch.isfinite(loss)


def test_held_back_rows_are_repacked_a_group_at_a_time_each_piece_once(tmp_path):
    """``RepackTails`` reads the held-back rows of every shard in shard order and packs their pieces
    ``pack.group_size`` at a time (its memory stays flat at any size): each piece lands in the last
    shard exactly once, whole; with one group the rows are those of packing every piece at once."""
    import pyarrow as pa

    from pipeline.assemble.pack import pack_best_fit
    from pipeline.assemble.transforms import RepackTails, tail_path
    from pipeline.config import PackConfig
    from pipeline.io.write_arrow import ArrowShardWriter
    from pipeline.records import PackedRow, TokenizedDocument

    rng = np.random.default_rng(5)
    seq_len, pieces = 64, []
    for shard in range(3):
        writer = ArrowShardWriter(tail_path(str(tmp_path), shard))
        for row in range(7):
            lengths = [int(n) for n in rng.integers(3, 30, size=2)]
            ids = rng.integers(10, 500, size=sum(lengths)).astype(np.int32)
            pieces += [ids[: lengths[0]], ids[lengths[0]:]]
            writer.write([PackedRow(f"{row}", np.concatenate([ids, np.zeros(seq_len - len(ids), np.int32)]), lengths, ["web", "web"])])
        writer.close()

    def repacked(group_size: int) -> list[dict]:
        out = tmp_path / f"dataset-{group_size}"
        out.mkdir()
        outputs = list(RepackTails(str(tmp_path), str(out), PackConfig(seq_len=seq_len, group_size=group_size, strategy="best_fit"), 0).process(3))
        rows = pa.ipc.open_stream(str(out / "data-00003.arrow")).read_all().to_pylist()
        assert outputs[0].value == ("tail_rows_repacked", len(rows)) and outputs[1]["rows"] == len(rows)
        return rows

    def piece_bytes(rows: list) -> list[bytes]:
        return sorted(np.asarray(p, np.int32).tobytes() for row in rows for p in unpack_row(row))

    grouped, single = repacked(5), repacked(1000)
    assert piece_bytes(grouped) == piece_bytes(single) == sorted(p.tobytes() for p in pieces)
    assert len(grouped) > len(single)  # groups of 5 pieces fill rows less well
    whole, _ = pack_best_fit(3, [TokenizedDocument(str(i), "web", p) for i, p in enumerate(pieces)], seq_len, 0)
    assert [r["input_ids"] for r in single] == [r.input_ids.tolist() for r in whole]
