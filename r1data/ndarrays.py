"""Numeric columns given as numpy arrays, turned into Arrow arrays without a Python object per
number (``RecordSchema.to_batch``): a row's 1,024-point cloud as nested lists costs about a
millisecond to convert; as one float32 array, microseconds. The values stored are the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def ndarray_columns(rows: list[dict], schema: pa.Schema) -> tuple[dict[str, pa.Array], set[str]]:
    """The list-of-numbers fields that every row gives as a numpy array, built as Arrow arrays
    straight from the arrays (the same values ``from_pylist`` would store from nested lists),
    and the fields where some rows give numpy arrays but not all fit: those are converted to
    lists for ``from_pylist`` (which then names what is wrong with a row)."""
    out: dict[str, pa.Array] = {}
    as_lists: set[str] = set()
    if not rows:
        return out, as_lists
    for f in schema:
        values = [row.get(f.name) for row in rows]
        arrays = [isinstance(v, np.ndarray) for v in values]
        if not any(arrays):
            continue
        as_lists.add(f.name)
        if not pa.types.is_list(f.type) or not all(arrays) or any(v.ndim < 1 for v in values):
            continue
        try:
            lengths = np.array([len(v) for v in values], dtype=np.int64)
            offsets = np.zeros(len(values) + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:])
            child = _flat_array(np.concatenate(values), f.type.value_type)
            out[f.name] = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), child, type=f.type)
            as_lists.discard(f.name)
        except (TypeError, ValueError, pa.ArrowException):
            continue
    return out, as_lists


def _flat_array(arr: Any, typ: pa.DataType) -> pa.Array:
    """An (m, ...) numpy array as m Arrow values of ``typ`` (fixed-size lists of numbers)."""
    if pa.types.is_fixed_size_list(typ):
        if arr.ndim < 2 or arr.shape[1] != typ.list_size:
            raise ValueError(f"expected rows of {typ.list_size}, got shape {arr.shape}")
        return pa.FixedSizeListArray.from_arrays(_flat_array(arr.reshape(-1, *arr.shape[2:]), typ.value_type),
                                                 type=typ)
    if arr.ndim != 1:
        raise ValueError(f"expected numbers, got shape {arr.shape}")
    if pa.types.is_floating(typ) and arr.dtype.kind == "f":
        return pa.array(arr.astype(typ.to_pandas_dtype(), copy=False), type=typ)
    if pa.types.is_integer(typ) and arr.dtype.kind in "iu" and np.can_cast(arr.dtype, typ.to_pandas_dtype()):
        return pa.array(arr.astype(typ.to_pandas_dtype(), copy=False), type=typ)
    raise TypeError(f"cannot store {arr.dtype} as {typ}")
