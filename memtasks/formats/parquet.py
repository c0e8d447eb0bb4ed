"""Parquet: one row per episode, list columns (DESIGN.md section 2); what ``datasets`` reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..episode import EpisodeBatch
from ..errors import StorageError

# imported by memtasks.formats after it defined these
from . import READ_ERRORS, Format, WriteContext, reason


def source_id(manifest: dict[str, Any]) -> str:
    """The task or dataset a folder holds."""
    return manifest.get("task") or manifest.get("dataset") or ""


class ParquetFormat(Format):
    """Parquet shards (zstd), one row per episode: what Hugging Face datasets reads as is."""

    name = "parquet"
    suffix = "parquet"
    size_factor = 1.0  # zstd: about the size of the arrays

    def write(self, path: str, batches: Iterable[EpisodeBatch], context: WriteContext,
              on_batch: Callable[[EpisodeBatch], None]) -> None:  # fmt: skip
        writer = None
        try:
            for batch in batches:
                table = batch.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(
                        path, table.schema, compression="zstd", compression_level=1,
                        use_dictionary=False, write_statistics=["index"],
                    )  # fmt: skip
                writer.write_table(table, row_group_size=len(batch))
                on_batch(batch)
        finally:
            if writer is not None:
                writer.close()

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
                    batch = EpisodeBatch.from_arrow(parquet.read_row_group(g), task=task)
                except READ_ERRORS as exc:
                    raise StorageError(
                        f"{file}: row group {g} cannot be read as episodes ({reason(exc)})"
                    ) from None
                yield batch
        finally:
            parquet.close()
