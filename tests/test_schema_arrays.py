"""Rows may carry numeric lists as numpy arrays (scene30k's point clouds): the shards hold the
same values as from nested lists, and a wrong array is a reject with a reason, not a crash."""

from __future__ import annotations

import numpy as np

from r1data.schema import Field, RecordSchema, parse_type


def schema() -> RecordSchema:
    return RecordSchema("t", (Field("id", parse_type("string")), Field("cloud", parse_type("list<list<float32>[6]>")),
                              Field("ids", parse_type("list<int32>"), required=False)))


def test_arrays_and_nested_lists_store_the_same_values() -> None:
    rng = np.random.default_rng(0)
    clouds = [np.round(rng.random((n, 6)).astype(np.float32), 4) for n in (5, 0, 3)]
    ids = [np.array([1, 2], np.int64), np.array([], np.int64), np.array([7], np.int32)]
    as_arrays, bad1 = schema().to_batch([{"id": str(i), "cloud": c, "ids": d} for i, (c, d) in enumerate(zip(clouds, ids))])
    as_lists, bad2 = schema().to_batch([{"id": str(i), "cloud": c.tolist(), "ids": d.tolist()}
                                        for i, (c, d) in enumerate(zip(clouds, ids))])
    assert bad1 == bad2 == [] and as_arrays.equals(as_lists)
    assert as_arrays.column("cloud").to_pylist()[2] == clouds[2].tolist()


def test_a_wrong_array_is_a_reject_and_the_rest_is_kept() -> None:
    good = np.zeros((4, 6), np.float32)
    rows = [{"id": "a", "cloud": good}, {"id": "b", "cloud": np.zeros((4, 5), np.float32)},
            {"id": "c", "cloud": np.zeros(6, np.float32)}, {"id": "d", "cloud": good.tolist()}]
    batch, bad = schema().to_batch(rows)
    assert [i for i, _ in bad] == [1, 2] and batch.column("id").to_pylist() == ["a", "d"]
    assert batch.column("cloud").to_pylist()[1] == good.tolist()
