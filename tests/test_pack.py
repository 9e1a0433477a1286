import numpy as np

from pipeline.assemble.pack import pack_concat, unpack_row
from pipeline.records import TokenizedDocument

PAD = 2


def docs(lengths):
    return [TokenizedDocument(f"d{i}", "s" if i % 2 else "t", np.arange(1, n + 1, dtype=np.int32) + 1000 * i) for i, n in enumerate(lengths)]


def test_concat_rows_are_full_and_keep_every_token_in_order():
    items = docs([5, 30, 7, 1, 64, 12])
    rows, stats = pack_concat(3, items, seq_len=16, pad_id=PAD)
    assert all(len(r.input_ids) == 16 and r.input_ids.dtype == np.int32 for r in rows)
    assert [r.key for r in rows] == [f"000000003/{i:09d}" for i in range(len(rows))]
    stream = np.concatenate([p for r in rows for p in unpack_row(r)])
    assert np.array_equal(stream, np.concatenate([d.ids for d in items]))
    assert stats.tokens == 119 and stats.rows == 8 and stats.padding == 8 * 16 - 119
    assert rows[-1].input_ids[-stats.padding:].tolist() == [PAD] * stats.padding
    assert stats.documents == 6 and stats.documents_split == 3  # 30, 64 and 12 cross row boundaries
    assert stats.tokens_per_source == {"t": 5 + 7 + 64, "s": 30 + 1 + 12}


def test_document_lengths_and_sources_describe_pieces():
    rows, _ = pack_concat(0, docs([10, 10]), seq_len=16, pad_id=PAD)
    assert rows[0].document_lengths == [10, 6] and rows[0].sources == ["t", "s"]
    assert rows[1].document_lengths == [4] and rows[1].sources == ["s"]


def test_empty_group_makes_no_rows():
    rows, stats = pack_concat(0, [], seq_len=16, pad_id=PAD)
    assert rows == [] and stats.rows == 0
