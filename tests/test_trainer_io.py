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

from pipeline.build.pack import unpack_row
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
                         output={"shard_mb": 0.05}, dedup={"exact": True, "minhash": {"enabled": False}})
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
    entry = json.loads((directory / "manifest.json").read_text())["exports"]["megatron"]
    (pair,) = entry["prefixes"]
    assert pair["bin_sha256"] == hashlib.sha256((tmp_path / "merged" / "corpus.bin").read_bytes()).hexdigest()
    assert pair["idx_sha256"] == hashlib.sha256((tmp_path / "merged" / "corpus.idx").read_bytes()).hexdigest()
    assert not (tmp_path / "merged" / "_tmp").exists()


def test_megatron_cores_own_reader_reads_the_export(dataset_dir, tmp_path):
    indexed = pytest.importorskip("megatron.core.datasets.indexed_dataset", reason="megatron-core needs torch, not installed here")
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


def test_the_reader_feeds_a_torch_dataloader(dataset_dir):
    torch = pytest.importorskip("torch", reason="torch is not installed here")
    _, directory = dataset_dir
    reader = RankReader(str(directory), rank=0, world_size=2, seed=3)
    loader = torch.utils.data.DataLoader(reader, batch_size=8, collate_fn=lambda rows: torch.as_tensor(np.stack([r["input_ids"] for r in rows])))
    batches = list(loader)
    assert sum(len(b) for b in batches) == len(reader) and reader.state_dict()["consumed"] == len(reader)



def test_unfilled_rows_of_small_shards_are_repacked_together(tmp_path):
    """Small shards of documents of very different lengths: every shard but the last holds
    only full rows, the last packs what they left unfilled, and padding falls under 0.5%."""
    rng = random.Random(3)
    for part in range(6):
        write_jsonl(tmp_path / "in" / f"part-{part}.jsonl",
                    [{"text": f"Doc {part}-{i}. " + " ".join(sentence(rng, rng.randint(5, 12)) for _ in range(int(rng.lognormvariate(1.5, 1.0)) + 1))}
                     for i in range(250)])
    config = base_config(tmp_path, [{"name": "prose", "paths": [f"{tmp_path}/in/*.jsonl"]}], pack={"seq_len": 512, "group_size": 5000},
                         output={"shard_mb": 0.05}, dedup={"exact": True, "minhash": {"enabled": False}}, fim={"rate": 0.0})
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
    assert len(fills) == len(curated) + 1 > 5 and all(fill == seq_len for shard in fills[:-1] for fill in shard)
    padding = sum(seq_len - fill for shard in fills for fill in shard)
    assert padding == packing["padding_tokens"] and padding / (manifest["rows"] * seq_len) <= 0.005
    assert packing["padding_tokens_before_repack"] / (manifest["rows"] * seq_len) > 0.01  # what per-shard packing alone left
    assert packing["repacked_into_rows"] == len(fills[-1]) < packing["unfilled_rows_repacked"]
    assert manifest["tokens"] == sum(map(sum, fills))
