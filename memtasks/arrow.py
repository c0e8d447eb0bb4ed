"""EpisodeBatch <-> Arrow, sharing buffers.

Arrow stores a list column as (int32 offsets, flat values) and a fixed-width vector column as a
fixed-size list over flat values: the same layout as ``EpisodeBatch``. So the value buffers are
wrapped, not copied (``pa.py_buffer`` over the NumPy memory), and read back the same way
(``to_numpy(zero_copy_only=True)``). The mask is the one exception: Arrow stores booleans as bits.

Schema, one row per episode::

    index    int64
    inputs   list<int32> | list<fixed_size_list<uint8|float32, D_in>>
    targets  list<int32> | list<fixed_size_list<..., D_out>>
    mask     list<bool>
    role     list<int8>
    segment  list<int32>
    support  list<int32>
    support_answer list<int32>   (same lengths as support)
    meta     struct<name: scalar | fixed_size_list<scalar, k>, ...>
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .episode import POSITION_FIELDS, EpisodeBatch

_INT32_MAX = 2**31 - 1


def _primitive(values: np.ndarray) -> pa.Array:
    """A flat NumPy array as an Arrow array over the same memory (bool is bit-packed)."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        return pa.array(values, type=pa.bool_())
    arrow_type = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(values)])


def _values(arr: np.ndarray) -> pa.Array:
    """Per-position values: scalars, or rows of a 2-D array as fixed-size lists."""
    if arr.ndim == 1:
        return _primitive(arr)
    return pa.FixedSizeListArray.from_arrays(_primitive(arr.reshape(-1)), arr.shape[1])


def _list(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    if offsets[-1] > _INT32_MAX:
        raise ValueError(
            f"{offsets[-1]} positions in one Arrow chunk exceed int32 offsets; "
            "write the batch in smaller pieces"
        )
    off = pa.py_buffer(offsets.astype(np.int32))
    return pa.Array.from_buffers(
        pa.list_(values.type), len(offsets) - 1, [None, off], children=[values]
    )


def batch_to_arrow(batch: EpisodeBatch) -> pa.Table:
    columns = {"index": _primitive(batch.index)}
    for name in POSITION_FIELDS:
        columns[name] = _list(batch.offsets, _values(getattr(batch, name)))
    columns["support"] = _list(batch.support_offsets, _primitive(batch.support))
    columns["support_answer"] = _list(batch.support_offsets, _primitive(batch.support_answer))
    if batch.meta:
        names = sorted(batch.meta)
        columns["meta"] = pa.StructArray.from_arrays(
            [_values(batch.meta[k]) for k in names], names=names
        )
    return pa.table(columns)


def _to_numpy(arr: pa.Array) -> np.ndarray:
    """Flat Arrow values (no nulls) as NumPy, without a copy unless they are booleans."""
    if pa.types.is_fixed_size_list(arr.type):
        width = arr.type.list_size
        flat = _to_numpy(arr.flatten())
        return flat.reshape(len(arr), width)
    if pa.types.is_boolean(arr.type):
        return arr.to_numpy(zero_copy_only=False)
    return arr.to_numpy(zero_copy_only=True)


def _unlist(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets starting at 0, values) of a list array, honouring slices."""
    offsets = arr.offsets.to_numpy(zero_copy_only=True).astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    values = _to_numpy(arr.values.slice(lo, hi - lo))
    return offsets - lo, values


def arrow_to_batch(table: pa.Table | pa.RecordBatch, task: str = "") -> EpisodeBatch:
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    missing = {"index", *POSITION_FIELDS, "support"} - set(table.column_names)
    if missing:
        raise ValueError(f"not a memtasks episode table: missing columns {sorted(missing)}")

    def column(name: str) -> pa.Array:
        col = table.column(name)
        if col.null_count:
            raise ValueError(f"column {name!r} has nulls; episode tables have none")
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()

    fields = {}
    offsets = None
    for name in POSITION_FIELDS:
        off, fields[name] = _unlist(column(name))
        if offsets is None:
            offsets = off
        elif not np.array_equal(off, offsets):
            raise ValueError(f"column {name!r} has different episode lengths than 'inputs'")
    support_offsets, support = _unlist(column("support"))
    support_answer = None
    if "support_answer" in table.column_names:
        answer_offsets, support_answer = _unlist(column("support_answer"))
        if not np.array_equal(answer_offsets, support_offsets):
            raise ValueError("column 'support_answer' has different lengths than 'support'")
    meta = {}
    if "meta" in table.column_names:
        struct = column("meta")
        for i in range(struct.type.num_fields):
            meta[struct.type.field(i).name] = _to_numpy(struct.field(i))
    if len(table) == 0 and offsets is None:
        offsets = np.zeros(1, dtype=np.int64)
    return EpisodeBatch(
        offsets=offsets,
        **fields,
        support_offsets=support_offsets,
        support=support,
        support_answer=support_answer,
        index=_to_numpy(column("index")),
        meta=meta,
        task=task,
    )
