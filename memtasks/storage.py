"""Datasets on disk: a folder of Parquet (or JSONL) shards plus ``memtasks.json``.

::

    DIR/
      memtasks.json                          what the data is (task, knobs, seed, split, layout,
                                             counts, package version, content hash, files)
      data/train-00000-of-00008.parquet      episodes, one row each, in index order
      ...

Shards are named as Hugging Face names them, so ``datasets.load_dataset("parquet",
data_files="DIR/data/*.parquet")`` and ``datasets.load_dataset("DIR")`` both read the folder.

Writes are atomic: everything is written under a hidden temporary folder next to ``DIR`` and
renamed into place only when complete, so an interrupted run leaves no folder that looks like a
dataset. An existing ``DIR`` is replaced only with ``overwrite=True``, and even then the old one
is moved aside before the new one moves in and deleted only after.

The content hash (``memtasks.hashing``) covers the episodes and their indices and nothing else:
the same episodes written in 1 shard or 8, by 1 worker or 4, have the same hash.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from .episode import POSITION_FIELDS, EpisodeBatch
from .errors import MemtasksError, StorageError
from .hashing import ContentHasher, episode_hashes
from .registry import TaskSpec, check_count, check_seed, check_split, get_spec

MANIFEST = "memtasks.json"
FORMAT_VERSION = 1
FORMATS = ("parquet", "jsonl")
_CHUNK_BYTES = 64 << 20  # episodes are generated and written in pieces of about this size


@dataclass(frozen=True)
class _ShardJob:
    """Everything a worker needs to write one shard (picklable)."""

    task: str
    knobs: dict[str, Any]
    seed: int
    split: str
    start: int
    stop: int
    chunk: int
    path: str
    fmt: str


def _package_version() -> str:
    from . import __version__

    return __version__


def shard_name(split: str, shard: int, shards: int, fmt: str) -> str:
    return f"data/{split}-{shard:05d}-of-{shards:05d}.{fmt}"


def features(batch: EpisodeBatch) -> dict[str, Any]:
    """dtype and row width of every array of a batch: what the JSONL reader needs to restore
    the exact types (JSON has only one kind of number)."""

    def describe(a: np.ndarray) -> list:
        return [a.dtype.name, int(a.shape[1]) if a.ndim == 2 else None]

    out = {f: describe(getattr(batch, f)) for f in POSITION_FIELDS}
    out["meta"] = {k: describe(v) for k, v in sorted(batch.meta.items())}
    return out


def _plan(spec: TaskSpec, knobs, seed: int, split: str, start: int, n: int):
    """(episodes per generated piece, bytes per episode, features), from a small sample."""
    sample = spec.generate(min(n, 256), seed, split, start=start, knobs=knobs)
    per_episode = max(1, sample.nbytes // max(1, len(sample)))
    chunk = int(np.clip(_CHUNK_BYTES // per_episode, 256, 1 << 20))
    return chunk, per_episode, features(sample)


# -- writing ----------------------------------------------------------------------------------
def _chunks(job: _ShardJob) -> Iterator[EpisodeBatch]:
    spec = get_spec(job.task)
    knobs = spec.knobs.from_values(job.knobs)
    for lo in range(job.start, job.stop, job.chunk):
        yield spec.generate(min(job.chunk, job.stop - lo), job.seed, job.split, start=lo,
                            knobs=knobs)  # fmt: skip


def _write_parquet(job: _ShardJob, on_chunk: Callable[[EpisodeBatch], None]) -> None:
    writer = None
    try:
        for batch in _chunks(job):
            table = batch.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(
                    job.path, table.schema, compression="zstd", compression_level=1,
                    use_dictionary=False, write_statistics=["index"],
                )  # fmt: skip
            writer.write_table(table, row_group_size=len(batch))
            on_chunk(batch)
    finally:
        if writer is not None:
            writer.close()


def _json_value(v: Any) -> Any:
    return v.tolist() if isinstance(v, np.ndarray) else v


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


def _write_jsonl(job: _ShardJob, on_chunk: Callable[[EpisodeBatch], None]) -> None:
    with open(job.path, "w", encoding="utf-8") as out:
        for batch in _chunks(job):
            for record in episode_records(batch):
                out.write(json.dumps(record, separators=(",", ":")))
                out.write("\n")
            on_chunk(batch)


def _run_job(job: _ShardJob, on_chunk: Callable[[EpisodeBatch], None]) -> int:
    positions = 0

    def seen(batch: EpisodeBatch) -> None:
        nonlocal positions
        positions += batch.num_positions
        on_chunk(batch)

    (_write_parquet if job.fmt == "parquet" else _write_jsonl)(job, seen)
    return positions


_done_episodes = None  # in a worker process: the queue its finished pieces are counted on


def _worker_init(threads: int, done) -> None:
    import numba

    global _done_episodes
    numba.set_num_threads(threads)
    _done_episodes = done


def _worker(job: _ShardJob) -> tuple[int, np.ndarray]:
    """Runs in a worker process: write one shard, return its positions and episode hashes."""
    hashes: list[np.ndarray] = []

    def on_chunk(batch: EpisodeBatch) -> None:
        hashes.append(episode_hashes(batch))
        _done_episodes.put(len(batch))  # so the progress bar moves within a shard

    positions = _run_job(job, on_chunk)
    return positions, np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)


def write_dataset(
    out: str | os.PathLike,
    task: str,
    n: int,
    seed: int = 0,
    split: str = "train",
    *,
    start: int = 0,
    preset: str | None = None,
    knobs: dict[str, Any] | None = None,
    shards: int | None = None,
    workers: int = 1,
    format: str = "parquet",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Generate episodes ``start .. start + n - 1`` of a task into the folder ``out``.

    Everything is validated before anything is written. ``shards`` defaults to one per about
    500 MB. ``workers > 1`` writes shards in that many processes. ``progress`` is called with
    the number of episodes finished since its last call. Returns the manifest.
    """
    spec = get_spec(task)
    knob_values = spec.make_knobs(preset, **(knobs or {}))
    seed, split = check_seed(seed), check_split(split)
    n, start = check_count("n", n), check_count("start", start)
    if n == 0:
        raise MemtasksError("n must be at least 1")
    if format not in FORMATS:
        raise MemtasksError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise MemtasksError(f"workers must be an integer >= 1, got {workers!r}")
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not (out / MANIFEST).is_file():  # never replace what memtasks did not write
            raise StorageError(
                f"{out} exists and is not a memtasks dataset folder; choose another output path"
            )
        if not overwrite:
            raise StorageError(
                f"{out} already exists; use --overwrite (overwrite=True) to replace it"
            )

    chunk, bytes_per_episode, feature_types = _plan(spec, knob_values, seed, split, start, n)
    if shards is None:
        shards = max(1, min(n, -(-n * bytes_per_episode // (500 << 20))))
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= n:
        raise MemtasksError(f"shards must be an integer in [1, n={n}], got {shards!r}")

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the folder {out.parent}: {exc.strerror}") from None
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        (tmp / "data").mkdir(parents=True)
        if progress:
            progress(0)  # every check has passed: a progress display may start now
        bounds = [start + (s * n) // shards for s in range(shards + 1)]
        jobs = [
            _ShardJob(spec.id, knob_values.to_dict(), seed, split, bounds[s], bounds[s + 1],
                      chunk, str(tmp / shard_name(split, s, shards, format)), format)
            for s in range(shards)
        ]  # fmt: skip
        hasher = ContentHasher()
        positions = _write_all(jobs, workers, hasher, progress)
        manifest = {
            "format_version": FORMAT_VERSION,
            "memtasks_version": _package_version(),
            "task": spec.id,
            "task_version": spec.version,
            "preset": preset,
            "knobs": knob_values.to_dict(),
            "seed": seed,
            "split": split,
            "start": start,
            "num_episodes": n,
            "num_positions": int(sum(positions)),
            "format": format,
            "layout": spec.layout(knob_values).to_dict(),
            "features": feature_types,
            "metric": spec.metric.name,
            "files": [
                {
                    "path": shard_name(split, s, shards, format),
                    "episodes": [j.start, j.stop],
                    "positions": int(p),
                }
                for s, (j, p) in enumerate(zip(jobs, positions, strict=True))
            ],  # fmt: skip
            "content_hash": hasher.hexdigest(),
        }
        # the manifest is written last: a folder without it is never a finished dataset
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _write_all(jobs, workers, hasher: ContentHasher, progress) -> list[int]:
    """Write every shard; feed the hasher in episode order whatever order shards finish in."""
    if workers == 1 or len(jobs) == 1:
        positions = []
        for job in jobs:

            def on_chunk(batch: EpisodeBatch) -> None:
                hasher.update(batch)
                if progress:
                    progress(len(batch))

            positions.append(_run_job(job, on_chunk))
        return positions

    import multiprocessing

    workers = min(workers, len(jobs))
    threads = max(1, (os.cpu_count() or 1) // workers)
    positions = [0] * len(jobs)
    context = multiprocessing.get_context("spawn")  # fork after Numba threads started is unsafe
    done = context.Queue()

    def report(block: bool) -> None:
        while True:
            try:
                count = done.get(timeout=0.1) if block else done.get_nowait()
            except queue.Empty:
                return
            if progress:
                progress(count)
            block = False

    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_init,
        initargs=(threads, done),
    ) as pool:  # fmt: skip
        futures = [pool.submit(_worker, job) for job in jobs]
        for s, (job, future) in enumerate(zip(jobs, futures, strict=True)):
            while not future.done():
                report(block=True)
            positions[s], hashes = future.result()
            hasher.update_hashes(np.arange(job.start, job.stop, dtype=np.int64), hashes)
    report(block=False)
    return positions


def _move_into_place(tmp: Path, out: Path) -> None:
    if out.exists() or out.is_symlink():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(out, old)  # the old dataset survives under `old` until the new one is in
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


# -- reading ----------------------------------------------------------------------------------
def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The ``memtasks.json`` of a dataset folder, with a clear error if it is not one."""
    path = Path(path)
    file = path / MANIFEST
    if not path.is_dir():
        raise StorageError(
            f"{path} is not a folder; a memtasks dataset is a folder with {MANIFEST}"
        )
    if not file.is_file():
        raise StorageError(f"{path} has no {MANIFEST}: not a complete memtasks dataset")
    try:
        manifest = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StorageError(f"{file} is not valid JSON: {exc}") from None
    missing = {"task", "files", "format", "content_hash", "num_episodes"} - set(manifest)
    if missing:
        raise StorageError(f"{file} lacks {', '.join(sorted(missing))}")
    return manifest


def iter_batches(path: str | os.PathLike) -> Iterator[EpisodeBatch]:
    """The episodes of a dataset folder, in index order, one stored piece at a time."""
    path = Path(path)
    manifest = read_manifest(path)
    task = manifest["task"]
    for entry in manifest["files"]:
        file = path / entry["path"]
        if not file.is_file():
            raise StorageError(f"{file} is listed in {MANIFEST} but missing")
        if manifest["format"] == "parquet":
            parquet = pq.ParquetFile(file)
            for g in range(parquet.num_row_groups):
                yield EpisodeBatch.from_arrow(parquet.read_row_group(g), task=task)
        else:
            yield _read_jsonl(file, task, manifest.get("features"))


def read_dataset(path: str | os.PathLike, verify: bool = False) -> EpisodeBatch:
    """All episodes of a dataset folder in one batch; ``verify`` rechecks the content hash."""
    batches = list(iter_batches(path))
    batch = EpisodeBatch.concat(batches) if len(batches) != 1 else batches[0]
    if verify:
        verify_dataset(path, batch)
    return batch


def verify_dataset(path: str | os.PathLike, batch: EpisodeBatch | None = None) -> str:
    """Recompute the content hash; raise ``StorageError`` if it differs from the manifest."""
    manifest = read_manifest(path)
    hasher = ContentHasher()
    for piece in [batch] if batch is not None else iter_batches(path):
        hasher.update(piece)
    digest = hasher.hexdigest()
    if digest != manifest["content_hash"] or hasher.episodes != manifest["num_episodes"]:
        raise StorageError(
            f"{path}: content hash {digest[:16]}... of {hasher.episodes} episodes does not match "
            f"the manifest's {manifest['content_hash'][:16]}... of {manifest['num_episodes']}"
        )
    return digest


def hf_dataset(path: str | os.PathLike):
    """The Parquet shards as a ``datasets.Dataset`` (via ``datasets.load_dataset``)."""
    import datasets

    manifest = read_manifest(path)
    if manifest["format"] != "parquet":
        raise StorageError(f"{path} holds {manifest['format']}; Hugging Face loading needs parquet")
    files = [str(Path(path) / f["path"]) for f in manifest["files"]]
    return datasets.load_dataset("parquet", data_files=files, split="train")


def _read_jsonl(file: Path, task: str, feature_types: dict | None) -> EpisodeBatch:
    records = []
    with open(file, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise StorageError(f"{file}:{number}: not a JSON object ({exc.msg})") from None
    if not records:
        raise StorageError(f"{file} holds no episodes")
    try:
        return _from_records(records, task, feature_types)
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"{file}: records do not match the dataset's features ({exc})") from None


def _from_records(records: list[dict[str, Any]], task: str, types: dict | None) -> EpisodeBatch:
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
