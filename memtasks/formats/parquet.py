"""Parquet: one row per episode, list columns (DESIGN.md section 2); what ``datasets`` reads.

Vector columns (``inputs``/``targets`` of ``[N, D]`` bits or floats) are stored by default as
``list<fixed_size_binary[D * itemsize]>``: each position's row as its bytes (little-endian, one
byte per bit channel). Arrow's own layout, ``list<fixed_size_list<uint8|float32, D>>``, is a
Parquet column of D leaf values per position, each with its own repetition and definition
level: encoding those levels made writing copy episodes 7-9 times slower than generating them
(``benchmarks/bench_write.py``). A row of bytes is one leaf value per position: 5.5x less
encoding time, and smaller files. ``datasets.load_dataset("parquet", ...)`` reads them as
lists of ``bytes`` (``np.frombuffer(b"".join(row), dtype).reshape(T, D)``, the dtype in the
manifest's ``features``); ``storage.hf_dataset`` gives them to ``datasets`` as the nested lists
of numbers of Arrow's layout, over the same memory. Each stored vector column's field carries
its dtype and width in its metadata, so a file describes itself. Folders written before (the
nested lists: their manifest has no ``parquet`` entry) read back as before; that layout is
still written with ``--format-option vectors=lists`` (``write_dataset(..., vectors="lists")``).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..episode import EpisodeBatch
from ..errors import MemtasksError, StorageError

# imported by memtasks.formats after it defined these
from . import READ_ERRORS, Format, FormatOption, WriteContext, reason

VECTOR_FIELDS = ("inputs", "targets")
VECTOR_LAYOUTS = ("bytes", "lists")
_DTYPE_KEY, _WIDTH_KEY = b"memtasks.dtype", b"memtasks.width"


def source_id(manifest: dict[str, Any]) -> str:
    """The task or dataset a folder holds."""
    return manifest.get("task") or manifest.get("dataset") or ""


def stored(table: pa.Table, vectors: str = "bytes") -> pa.Table:
    """``table`` (``EpisodeBatch.to_arrow``) as written: with ``vectors="bytes"``, vector
    columns as lists of fixed-size binary rows over the same memory (no copy), their field
    metadata naming the dtype and width."""
    if vectors == "lists":
        return table
    for name in VECTOR_FIELDS:
        column = table.column(name)
        if not pa.types.is_fixed_size_list(column.type.value_type):
            continue  # token ids: one value per position already
        chunks = [_as_bytes(chunk) for chunk in column.chunks]
        values = column.type.value_type
        dtype = np.dtype(values.value_type.to_pandas_dtype()).name
        metadata = {_DTYPE_KEY: dtype.encode(), _WIDTH_KEY: str(values.list_size).encode()}
        field = pa.field(
            name, chunks[0].type if chunks else pa.list_(pa.binary(1)), metadata=metadata
        )
        table = table.set_column(table.schema.get_field_index(name), field, chunks)
    return table


def _as_bytes(chunk: pa.ListArray) -> pa.ListArray:
    """``list<fixed_size_list<T, D>>`` as ``list<fixed_size_binary[D * sizeof T]>``, sharing
    the value buffer."""
    rows = chunk.values  # the fixed-size lists, one per position
    width, itemsize = rows.type.list_size, rows.type.value_type.byte_width
    leaves = rows.values
    if rows.offset or leaves.offset or rows.null_count:
        rows = pa.concat_arrays([rows])  # a slice or nulls: rebase (not what to_arrow makes)
        leaves = rows.values
    data = leaves.buffers()[1]
    start = leaves.offset * itemsize
    binary = pa.Array.from_buffers(
        pa.binary(width * itemsize),
        len(rows),
        [None, data.slice(start, len(rows) * width * itemsize)],
    )
    offsets = chunk.offsets
    return (
        pa.ListArray.from_arrays(offsets, binary)
        if chunk.null_count == 0
        else pa.ListArray.from_arrays(offsets, binary, mask=chunk.is_null())
    )


def as_lists(table: pa.Table, manifest: dict[str, Any] | None = None) -> pa.Table:
    """The inverse of ``stored``: byte-row vector columns back as ``list<fixed_size_list<T,
    D>>`` over the same memory, the dtype and width from the field's metadata (or the
    manifest's ``features``). Other tables are returned as they are."""
    for name in VECTOR_FIELDS:
        if name not in table.column_names:
            continue
        field = table.schema.field(name)
        if not (
            pa.types.is_list(field.type) and pa.types.is_fixed_size_binary(field.type.value_type)
        ):
            continue
        dtype, width = _vector_type(field, manifest)
        chunks = [_from_bytes(chunk, dtype, width) for chunk in table.column(name).chunks]
        value_type = pa.list_(pa.from_numpy_dtype(dtype), width)
        column = pa.field(name, pa.list_(value_type))
        table = table.set_column(table.schema.get_field_index(name), column, chunks)
    return table


def _vector_type(field: pa.Field, manifest: dict[str, Any] | None) -> tuple[np.dtype, int]:
    meta = field.metadata or {}
    if _DTYPE_KEY in meta and _WIDTH_KEY in meta:
        dtype, width = np.dtype(meta[_DTYPE_KEY].decode()), int(meta[_WIDTH_KEY])
    else:
        described = ((manifest or {}).get("features") or {}).get(field.name)
        if not (isinstance(described, list) and len(described) == 2):
            raise ValueError(f"column {field.name!r} stores bytes but names no dtype and width")
        dtype, width = np.dtype(described[0]), int(described[1])
    if dtype.type not in (np.uint8, np.float32) or width < 1:
        raise ValueError(
            f"column {field.name!r}: vectors are uint8 or float32, got {dtype}[{width}]"
        )
    if field.type.value_type.byte_width != width * dtype.itemsize:
        raise ValueError(
            f"column {field.name!r} stores rows of {field.type.value_type.byte_width} bytes, not "
            f"{width} x {dtype}"
        )
    return dtype, width


def _from_bytes(chunk: pa.ListArray, dtype: np.dtype, width: int) -> pa.ListArray:
    rows = chunk.values
    if rows.null_count:
        raise ValueError("a vector column has null rows; episode tables have none")
    data = rows.buffers()[1].slice(
        rows.offset * rows.type.byte_width, len(rows) * rows.type.byte_width
    )
    leaves = pa.Array.from_buffers(pa.from_numpy_dtype(dtype), len(rows) * width, [None, data])
    vectors = pa.FixedSizeListArray.from_arrays(leaves, width)
    if chunk.null_count:
        return pa.ListArray.from_arrays(chunk.offsets, vectors, mask=chunk.is_null())
    return pa.ListArray.from_arrays(chunk.offsets, vectors)


class _Writer:
    """A Parquet file written by a thread of its own, one table at a time, while the caller
    makes and hashes the next batch (pyarrow encodes without the GIL). At most one table waits,
    so memory stays bounded by about three batches; an error of the thread is raised in the
    caller, at its next ``put`` or at ``close``."""

    def __init__(self, path: str, options: dict[str, Any]):
        self.path, self.options = path, options
        self.writer: pq.ParquetWriter | None = None
        self.tables: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="memtasks-parquet", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            table = self.tables.get()
            if table is None:
                return
            if self.error is not None:
                continue  # drain: the caller stops at its next put
            try:
                if self.writer is None:
                    dictionary = ParquetFormat.dictionary_columns(table)
                    self.writer = pq.ParquetWriter(
                        self.path, table.schema, use_dictionary=dictionary, **self.options
                    )
                self.writer.write_table(table, row_group_size=len(table))
            except BaseException as exc:  # raised again in the caller
                self.error = exc

    def put(self, table: pa.Table) -> None:
        self._raise()
        self.tables.put(table)

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self, failed: bool = False) -> None:
        """Finish (or, after a failure of the caller, abandon) the file; the thread ends
        before this returns, so nothing is written after it."""
        if failed:  # drop what waits: the file is about to be deleted
            with contextlib.suppress(queue.Empty):
                while True:
                    self.tables.get_nowait()
        self.tables.put(None)
        self.thread.join()
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            if not failed:
                self._raise()


class ParquetFormat(Format):
    """Parquet shards (zstd), one row per episode: what Hugging Face datasets reads as is."""

    name = "parquet"
    suffix = "parquet"
    size_factor = 1.0  # an upper bound: zstd files are a fifth to a tenth of the arrays
    # how vector columns are written: "bytes" (see the module's docstring); "lists", Arrow's
    # nested lists, is what folders written before issue 14 hold (read as well as these), and
    # what a plain `datasets.load_dataset("parquet")` shows as numbers
    vectors = "bytes"
    options = {
        "vectors": FormatOption(
            "vectors", str, "bytes", "how vector columns are stored: bytes (one binary row "
            "per position, fast) or lists (Arrow's nested lists of numbers)"
        ),
    }  # fmt: skip

    def check(self, spec: Any, layout: Any, options) -> None:
        layout_name = options.get("vectors", self.vectors)
        if layout_name not in VECTOR_LAYOUTS:
            raise MemtasksError(
                f"format 'parquet' option vectors must be one of {', '.join(VECTOR_LAYOUTS)}, "
                f"got {layout_name!r}"
            )

    def _vectors(self, context: WriteContext) -> str:
        # the option where one was given; else the class setting (Python callers may set it)
        given = context.options.get("vectors")
        return given if given and given != "bytes" else self.vectors

    # zstd at its fastest level: half the size of lz4's files for 15% more time; statistics for
    # the index only (readers select episodes by index). Dictionaries only for inputs and
    # targets of bits or token ids: rows of a few bits and token ids take few distinct values,
    # so their dictionary indices are a third smaller and quicker to compress (measured: 20%
    # less time on those columns); floats would overflow the dictionary and only cost time
    writer_options = {"compression": "zstd", "compression_level": 1, "write_statistics": ["index"]}

    @staticmethod
    def dictionary_columns(table: pa.Table) -> list[str]:
        """The columns written with dictionary encoding (see ``writer_options``)."""
        out = []
        for name in VECTOR_FIELDS:
            field = table.schema.field(name)
            values = field.type.value_type
            small = pa.types.is_int32(values) or (
                (field.metadata or {}).get(_DTYPE_KEY) == b"uint8"
            )
            if small:
                out.append(name)
        return out

    def write(self, path: str, batches: Iterable[EpisodeBatch], context: WriteContext,
              on_batch: Callable[[EpisodeBatch], None]) -> None:  # fmt: skip
        vectors = self._vectors(context)
        writer = _Writer(path, dict(self.writer_options))
        try:
            for batch in batches:
                writer.put(stored(batch.to_arrow(), vectors))
                on_batch(batch)  # hashed here while the thread writes it
        except BaseException:
            writer.close(failed=True)
            raise
        writer.close()

    def manifest_entry(self, context: WriteContext, indices: list[list[int]],
                       read_back_hash: str | None) -> dict[str, Any] | None:  # fmt: skip
        return {"vectors": self._vectors(context)}

    def check_manifest(self, manifest: dict[str, Any], folder: Path) -> None:
        entry = manifest.get(self.name, {"vectors": "lists"})  # written before the option
        if not isinstance(entry, dict) or entry.get("vectors") not in VECTOR_LAYOUTS:
            raise StorageError(
                f"{folder / 'memtasks.json'}: parquet must be an object with vectors one of "
                f"{', '.join(VECTOR_LAYOUTS)}, got {entry!r}"
            )

    def read(self, file: Path, manifest: dict[str, Any]) -> Iterator[EpisodeBatch]:
        task = source_id(manifest)
        try:
            parquet = pq.ParquetFile(file)
            groups = parquet.num_row_groups
        except READ_ERRORS as exc:
            raise StorageError(f"{file} is not a readable Parquet file ({reason(exc)})") from None
        try:
            for g in range(groups):
                try:
                    table = as_lists(parquet.read_row_group(g), manifest)
                    batch = EpisodeBatch.from_arrow(table, task=task)
                except READ_ERRORS as exc:
                    raise StorageError(
                        f"{file}: row group {g} cannot be read as episodes ({reason(exc)})"
                    ) from None
                yield batch
        finally:
            parquet.close()
