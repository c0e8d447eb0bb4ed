"""JSONL: one JSON object per episode and line, numbers as lists (the human export)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..episode import POSITION_FIELDS, EpisodeBatch
from ..errors import MemtasksError, StorageError

# imported by memtasks.formats after it defined these
from . import JSON_TYPES, READ_ERRORS, Format, WriteContext, reason
from .parquet import source_id


def episode_records(batch: EpisodeBatch) -> Iterator[dict[str, Any]]:
    """Episodes as plain Python dicts (lists of numbers), as the JSONL export writes them."""
    off = batch.offsets.tolist()
    soff = batch.support_offsets.tolist()
    fields = {f: getattr(batch, f).tolist() for f in POSITION_FIELDS}
    support, support_answer = batch.support.tolist(), batch.support_answer.tolist()
    meta = {k: v.tolist() for k, v in batch.meta.items()}
    for b, index in enumerate(batch.index.tolist()):
        lo, hi = off[b], off[b + 1]
        record = {"index": index}
        record.update({f: values[lo:hi] for f, values in fields.items()})
        record["support"] = support[soff[b] : soff[b + 1]]
        record["support_answer"] = support_answer[soff[b] : soff[b + 1]]
        record["meta"] = {k: v[b] for k, v in meta.items()}
        yield record


class JsonlFormat(Format):
    """JSON lines, one episode per line with every field as a list of numbers."""

    name = "jsonl"
    suffix = "jsonl"
    size_factor = 3.0  # every number spelled out

    def write(self, path: str, batches: Iterable[EpisodeBatch], context: WriteContext,
              on_batch: Callable[[EpisodeBatch], None]) -> None:  # fmt: skip
        with open(path, "w", encoding="utf-8") as out:
            for batch in batches:
                for record in episode_records(batch):
                    out.write(json.dumps(record, separators=(",", ":")))
                    out.write("\n")
                on_batch(batch)

    def read(self, file: Path, manifest: dict[str, Any]) -> Iterator[EpisodeBatch]:
        yield read_jsonl(file, source_id(manifest), manifest.get("features"))


def read_jsonl(file: Path, task: str, feature_types: dict | None) -> EpisodeBatch:
    records = []
    try:
        with open(file, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise StorageError(f"{file}:{number}: not a JSON object ({exc.msg})") from None
                except (ValueError, RecursionError) as exc:  # a huge int; deep nesting
                    raise StorageError(
                        f"{file}:{number}: not a JSON object ({reason(exc)})"
                    ) from None
                if not isinstance(record, dict):
                    raise StorageError(
                        f"{file}:{number}: not a JSON object (got "
                        f"{JSON_TYPES.get(type(record), 'a value')})"
                    )
                records.append(record)
    except UnicodeDecodeError as exc:
        raise StorageError(f"{file}: not UTF-8 text ({exc.reason})") from None
    if not records:
        raise StorageError(f"{file} holds no episodes")
    try:
        return from_records(records, task, feature_types)
    except MemtasksError:
        raise
    except READ_ERRORS as exc:
        raise StorageError(
            f"{file}: records do not match the dataset's features ({reason(exc)})"
        ) from None


def from_records(records: list[dict[str, Any]], task: str, types: dict | None) -> EpisodeBatch:
    """The inverse of ``episode_records``; ``types`` is the manifest's ``features``."""
    if types is None:
        raise StorageError("the manifest has no 'features': cannot restore JSONL types")

    def flat(name: str, dtype: str) -> np.ndarray:
        return np.asarray([v for r in records for v in r[name]], dtype=dtype)

    def sized(name: str) -> np.ndarray:
        return np.asarray([len(r[name]) for r in records], dtype=np.int64)

    arrays = {f: flat(f, types[f][0]) for f in ("inputs", "targets")}
    meta = {
        k: np.asarray([r["meta"][k] for r in records], dtype=dtype)
        for k, (dtype, _) in types["meta"].items()
    }
    return EpisodeBatch.from_lengths(
        sized("mask"),
        inputs=arrays["inputs"],
        targets=arrays["targets"],
        mask=flat("mask", "bool"),
        role=flat("role", "int8"),
        segment=flat("segment", "int32"),
        index=np.asarray([r["index"] for r in records], dtype=np.int64),
        meta=meta,
        support_lengths=sized("support"),
        support=flat("support", "int32"),
        support_answer=flat("support_answer", "int32"),
        task=task,
    )
