"""Datasets on disk: a folder of Parquet (or JSONL, or bAbI text) files plus ``memtasks.json``.

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

``format="babi"`` writes the story tasks (babi, world families) as one text file in the
released bAbI format, named as the release names it (``qa1_single-supporting-fact_train.txt``),
next to ``memtasks.json``; ``shuffled=True`` writes it under memtasks' letter cipher. The
manifest's ``babi`` entry says how to read it back: ``read_dataset`` re-reads the text with the
task's vocabulary and gives the same episodes except ``meta.question_template``, which text does
not record (-1); ``verify`` checks the re-read episodes against ``babi.read_back_hash``.

``dedup_against=N`` (``memtasks.dedup``) leaves out held-out episodes whose story is one of
training episodes ``0 .. N-1``; the kept ones keep their stream indices.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import queue
import re
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import _fs
from .episode import POSITION_FIELDS, EpisodeBatch
from .errors import LoaderError, MemtasksError, StorageError
from .hashing import ContentHasher, episode_hashes
from .registry import TaskSpec, check_count, check_range, check_seed, check_split, get_spec

MANIFEST = "memtasks.json"
FORMAT_VERSION = 1
FORMATS = ("parquet", "jsonl", "babi")
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
    skip: np.ndarray | None = None  # stream indices in [start, stop) left out (dedup)
    shuffled: bool = False  # babi text under memtasks' cipher


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
        batch = spec.generate(min(job.chunk, job.stop - lo), job.seed, job.split, start=lo,
                              knobs=knobs)  # fmt: skip
        if job.skip is not None and len(job.skip):
            keep = ~np.isin(batch.index, job.skip)
            if not keep.all():
                batch = batch[keep]
        if len(batch):
            yield batch


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


def _write_babi(job: _ShardJob, on_chunk: Callable[[EpisodeBatch], None]) -> None:
    from .loaders.babi import task_space_before_tab, to_text

    spec = get_spec(job.task)
    vocab = spec.layout(spec.knobs.from_values(job.knobs)).vocab
    gap = task_space_before_tab(job.task)
    with open(job.path, "w", encoding="utf-8", newline="\n") as out:
        for batch in _chunks(job):
            out.write(to_text(batch, vocab, space_before_tab=gap, shuffled=job.shuffled))
            on_chunk(batch)


_WRITERS = {"parquet": _write_parquet, "jsonl": _write_jsonl, "babi": _write_babi}


def _run_job(job: _ShardJob, on_chunk: Callable[[EpisodeBatch], None]) -> int:
    positions = 0

    def seen(batch: EpisodeBatch) -> None:
        nonlocal positions
        positions += batch.num_positions
        on_chunk(batch)

    _WRITERS[job.fmt](job, seen)
    return positions


def as_read_back(batch: EpisodeBatch) -> EpisodeBatch:
    """The episodes as bAbI text gives them back: every ``question_template`` unknown (-1)."""
    if "question_template" not in batch.meta:
        return batch
    meta = dict(batch.meta)
    meta["question_template"] = np.full_like(meta["question_template"], -1)
    return EpisodeBatch.trusted(**{**batch.__dict__, "meta": meta})


def _hashes(batch: EpisodeBatch, fmt: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(indices, episode hashes, hashes of the episodes as read back from babi text)."""
    read_back = episode_hashes(as_read_back(batch)) if fmt == "babi" else None
    return batch.index, episode_hashes(batch), read_back


_done_episodes = None  # in a worker process: the queue its finished pieces are counted on


def _worker_init(threads: int, done, parent: int) -> None:
    # a worker must never outlive the run that started it: orphans would go on writing into a
    # temporary folder nobody will move into place, then wait forever on a dead parent
    _fs.die_with_parent(parent)
    # Ctrl-C reaches the whole process group; the parent alone decides what happens (it kills
    # the workers), so workers do not print tracebacks of their own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import numba

    global _done_episodes
    numba.set_num_threads(threads)
    _done_episodes = done


def _worker(job: _ShardJob) -> tuple[int, list]:
    """Runs in a worker process: write one shard, return its positions and, per piece, the
    episodes' indices and hashes (``_hashes``)."""
    pieces: list = []

    def on_chunk(batch: EpisodeBatch) -> None:
        pieces.append(_hashes(batch, job.fmt))
        _done_episodes.put(len(batch))  # so the progress bar moves within a shard

    positions = _run_job(job, on_chunk)
    return positions, pieces


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
    dedup_against: int = 0,
    shuffled: bool = False,
    force_size: bool = False,
    planning: Callable[[int, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Generate episodes ``start .. start + n - 1`` of a task into the folder ``out``.

    Everything is validated before anything is written. ``shards`` defaults to one per about
    500 MB. ``workers > 1`` writes shards in that many processes. ``progress`` is called with
    the number of episodes finished since its last call. Returns the manifest.

    Failures: a write that cannot fit in the free disk space (estimated from a sample) is
    refused unless ``force_size``; file-system errors become one-line ``StorageError``s; in
    every case the temporary folder is removed and an existing dataset is left as it was.
    Writers of one ``out`` exclude each other (a lock file ``.NAME.lock`` beside it, removed
    after). Before writing, what killed runs left beside ``out`` is cleaned up (``recover``),
    and each thing done is passed to ``notice`` (default: a logging warning).
    ``planning(episodes, total)`` reports dedup planning's progress (episodes hashed since its
    last call, of about ``total``).

    ``format="babi"``: one release-format text file (story tasks only; ``shards`` must be 1,
    ``workers`` write pieces of it in parallel); ``shuffled`` ciphers it (``loaders.babi``).
    ``dedup_against=N``: leave out episodes whose story is one of training episodes
    ``0 .. N-1`` (same task, knobs and seed) and draw on until ``n`` are kept; not for split
    train (``memtasks.dedup``).
    """
    from . import dedup

    spec = get_spec(task)
    knob_values = spec.make_knobs(preset, **(knobs or {}))
    seed, split = check_seed(seed), check_split(split)
    n, start = check_count("n", n), check_range(start, n)
    if n == 0:
        raise MemtasksError("n must be at least 1")
    if format not in FORMATS:
        raise MemtasksError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise MemtasksError(f"workers must be an integer >= 1, got {workers!r}")
    layout = spec.layout(knob_values)
    if format == "babi":
        from .loaders.babi import check_text_task

        check_text_task(spec, layout)
        if shards not in (None, 1):
            raise MemtasksError(
                f"format 'babi' writes one text file, as the release does; shards must be 1, "
                f"got {shards!r}"
            )
    elif shuffled:
        raise MemtasksError(f"shuffled applies to format 'babi' only, not {format!r}")
    against = dedup.check_dedup(dedup_against, split)
    shown = out  # as the caller wrote it, for messages
    out = _target(Path(out))
    created = _make_parents(out.parent)
    lock = _fs.OutputLock(out)
    tmp = None
    try:
        try:
            lock.acquire()
        except _fs.Busy:
            raise StorageError(_busy(shown, lock)) from None
        # what killed runs left: only now, under the lock, can nobody be writing it
        for note in _recover(out):
            (notice or _log.warning)(note)
        if os.path.lexists(out):
            if not (out / MANIFEST).is_file():  # never replace what memtasks did not write
                raise StorageError(
                    f"{shown} exists and is not a memtasks dataset folder; choose another output "
                    "path"
                )
            if not overwrite:
                raise StorageError(
                    f"{shown} already exists; use --overwrite (overwrite=True) to replace it"
                )

        chunk, bytes_per_episode, feature_types = _plan(spec, knob_values, seed, split, start, n)
        if format == "babi":
            shards = min(workers, n)  # pieces written in parallel, then joined
        elif shards is None:
            shards = max(1, min(n, -(-n * bytes_per_episode // (500 << 20))))
        if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= n:
            raise MemtasksError(f"shards must be an integer in [1, n={n}], got {shards!r}")
        if not force_size:
            _check_disk(out.parent, n * bytes_per_episode * _SIZE_FACTOR[format], n, shown)
        # which stream indices each shard holds: start .. start + n - 1, or with dedup the
        # first n whose story is not a training story (this may raise: still nothing written)
        kept = None
        if against:
            counted = _Counting(spec, planning, against + n)
            kept = dedup.plan(counted, knob_values, seed, split, start, n, against, chunk)
        cut = [(s * n) // shards for s in range(shards + 1)]
        if kept is None:
            spans = [(start + cut[s], start + cut[s + 1], None) for s in range(shards)]
        else:
            spans = []
            for s in range(shards):
                lo, hi = int(kept.kept[cut[s]]), int(kept.kept[cut[s + 1] - 1]) + 1
                spans.append((lo, hi, kept.skipped_in(lo, hi)))

        tmp = out.parent / f".{out.name}.{_TMP}-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()
        _fs.write_owner(tmp)  # a later run deletes it only once this process is gone
        if progress:
            progress(0)  # every check has passed: a progress display may start now
        if format == "babi":
            from .loaders.babi import text_file_name

            paths = [f".piece-{s:05d}.txt" for s in range(shards)]
        else:
            (tmp / "data").mkdir()
            paths = [shard_name(split, s, shards, format) for s in range(shards)]
        jobs = [
            _ShardJob(spec.id, knob_values.to_dict(), seed, split, lo, hi, chunk,
                      str(tmp / paths[s]), format, skip, shuffled)
            for s, (lo, hi, skip) in enumerate(spans)
        ]  # fmt: skip
        hasher = ContentHasher()
        read_back = ContentHasher() if format == "babi" else None
        positions = _write_all(jobs, workers, hasher, read_back, progress)
        files = [
            {"path": paths[s], "episodes": [j.start, j.stop], "positions": int(p)}
            for s, (j, p) in enumerate(zip(jobs, positions, strict=True))
        ]
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
            "layout": layout.to_dict(),
            "features": feature_types,
            "metric": spec.metric.name,
            "dedup_against": against,
            "dedup_dropped": kept.dropped if kept is not None else 0,
            "files": files,
            "content_hash": hasher.hexdigest(),
        }
        if format == "babi":
            name = text_file_name(spec.id, split)
            _join(tmp, [f["path"] for f in files], name)
            manifest["files"] = [
                {"path": name, "episodes": [spans[0][0], spans[-1][1]],
                 "positions": manifest["num_positions"]}
            ]  # fmt: skip
            manifest["babi"] = _babi_entry(spec.id, shuffled, start, n, kept, read_back)
        # the manifest is written last: a folder without it is never a finished dataset;
        # the owner file goes first, so the dataset moved into place holds only its own files
        (tmp / _fs.OWNER).unlink()
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _move_into_place(tmp, out, overwrite)
        tmp = None
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        lock.release()
        for folder in created:  # deepest first; only those this call made, only if empty
            _remove_quietly(folder)
        if isinstance(exc, OSError) and not isinstance(exc, MemtasksError):
            # disk full, read-only, /proc...: one line naming the place, not a traceback
            raise StorageError(_os_error(exc, shown)) from None
        raise
    lock.release()
    return manifest


_log = logging.getLogger(__name__)

# bytes on disk per byte of episodes in memory, to estimate a dataset's size before writing:
# Parquet (zstd) and bAbI text are smaller than the arrays, JSONL spells each number out
_SIZE_FACTOR = {"parquet": 1.0, "babi": 1.0, "jsonl": 3.0}


def _check_disk(folder: Path, estimate: float, n: int, shown) -> None:
    """Refuse a write that cannot fit in the free space of ``folder``'s file system."""
    free = _fs.free_disk(folder)
    if estimate > free:
        raise StorageError(
            f"{shown}: {n:,} episodes need about {_fs.human_bytes(estimate)} (an estimate from "
            f"a sample), more than the {_fs.human_bytes(free)} free in {folder}; write fewer "
            "episodes, choose another output path, or pass --force-size (force_size=True) to "
            "write anyway"
        )


class _Counting:
    """A task spec whose ``generate`` reports the episodes it makes: dedup planning hashes
    training and held-out episodes for as long as a minute, and a silent minute looks hung."""

    def __init__(self, spec: TaskSpec, planning: Callable[[int, int], None] | None, total: int):
        self._spec, self._planning, self._total = spec, planning, total

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spec, name)

    def generate(self, n: int, *args: Any, **kwargs: Any) -> EpisodeBatch:
        batch = self._spec.generate(n, *args, **kwargs)
        if self._planning:
            self._planning(len(batch), self._total)
        return batch


def _join(folder: Path, parts: list[str], name: str) -> None:
    """Concatenate the text pieces into ``name``, in order, and remove them."""
    with open(folder / name, "wb") as out:
        for part in parts:
            with open(folder / part, "rb") as piece:
                shutil.copyfileobj(piece, out, 1 << 20)
            (folder / part).unlink()


def _babi_entry(task: str, shuffled: bool, start: int, n: int, kept, read_back) -> dict:
    """The manifest's account of a babi text folder: what reading it back needs."""
    from .loaders.babi import CIPHER_LOWER, CIPHER_UPPER, task_space_before_tab

    return {
        "read_back": (
            "memtasks.storage.read_dataset(DIR): memtasks.loaders.babi.read_file(FILE, "
            "vocab=layout.vocab, memtasks_cipher=babi.shuffled), stories numbered by "
            "babi.indices, meta widths as in features; meta.question_template is -1 (text "
            "does not record templates). verify compares those episodes with read_back_hash"
        ),
        "space_before_tab": task_space_before_tab(task),
        "shuffled": shuffled,
        "cipher": {"lower": CIPHER_LOWER, "upper": CIPHER_UPPER} if shuffled else None,
        "indices": kept.ranges() if kept is not None else [[start, start + n]],
        "read_back_hash": read_back.hexdigest(),
    }


def _write_all(jobs, workers, hasher: ContentHasher, read_back: ContentHasher | None,
               progress) -> list[int]:  # fmt: skip
    """Write every shard; feed the hashers in episode order whatever order shards finish in
    (``read_back``: the episodes as babi text gives them back, see ``as_read_back``)."""

    def record(index: np.ndarray, hashes: np.ndarray, back: np.ndarray | None) -> None:
        hasher.update_hashes(index, hashes)
        if read_back is not None:
            read_back.update_hashes(index, back)

    if workers == 1 or len(jobs) == 1:
        fmt = jobs[0].fmt

        def on_chunk(batch: EpisodeBatch) -> None:
            record(*_hashes(batch, fmt))
            if progress:
                progress(len(batch))

        return [_run_job(job, on_chunk) for job in jobs]

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

    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_init,
        initargs=(threads, done, os.getpid()),
    )  # fmt: skip
    try:
        futures = [pool.submit(_worker, job) for job in jobs]
        for s, future in enumerate(futures):
            while not future.done():
                report(block=True)
            positions[s], pieces = future.result()
            for piece in pieces:
                record(*piece)
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    report(block=False)
    return positions


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """End the workers now. ``shutdown(wait=True)`` (what ``with`` does) lets every running
    shard finish first: after Ctrl-C or a failed shard that is minutes of writing to a folder
    that is about to be deleted."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):  # already gone, or already closed
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(timeout=10)


def _move_into_place(tmp: Path, out: Path, overwrite: bool = False) -> None:
    """Make the finished ``tmp`` the dataset at ``out``; the caller holds the output lock.

    A new ``out``: one rename that refuses to replace anything (another writer's dataset that
    appeared meanwhile is kept, and this write fails). Replacing: one atomic exchange of the
    two names, so ``out`` is always a complete dataset, the old one or the new one; the old one
    (now at ``tmp``'s name) is deleted after. Where the exchange is unsupported: two renames with
    the old one kept aside as ``.NAME.old-*``; a run killed between them leaves no ``out``, and
    the next write (or ``recover``) moves the old one back."""
    if not overwrite or not os.path.lexists(out):
        try:
            _fs.rename_noreplace(tmp, out)
        except FileExistsError:
            raise StorageError(
                f"{out} appeared while this dataset was being written (another process wrote "
                "it); it was left as it is; choose another output path or use --overwrite"
            ) from None
        return
    if not (out / MANIFEST).is_file():  # replaced by something else while this one was written
        raise StorageError(
            f"{out} is no longer a memtasks dataset folder; it was left as it is; choose "
            "another output path"
        )
    try:
        _fs.exchange(tmp, out)
    except _fs.Unsupported:
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
        os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old, out)  # put the old dataset back before reporting the failure
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    shutil.rmtree(tmp, ignore_errors=True)  # the old dataset, now under the temporary name


_TMP, _OLD = "tmp", "old"


def _beside(out: Path, kind: str) -> re.Pattern:
    """Names of the hidden temporary (``tmp``) or moved-aside (``old``) folders of ``out``."""
    return re.compile(rf"^\.{re.escape(out.name)}\.{kind}-[0-9a-f]{{12}}$")


def _recover(out: Path) -> list[str]:
    """Clean up after killed writes of ``out`` (the caller holds the output lock): put back a
    dataset an ``--overwrite`` moved aside and died before replacing, delete moved-aside copies
    whose replacement is in place, and delete temporary folders whose writer is gone. Returns
    one line per thing done."""
    notes = []
    names = os.listdir(out.parent)
    olds = [out.parent / n for n in names if _beside(out, _OLD).match(n)]
    olds.sort(key=lambda p: p.lstat().st_ctime, reverse=True)  # the newest first
    if olds and not os.path.lexists(out) and (olds[0] / MANIFEST).is_file():
        _fs.rename_noreplace(olds[0], out)
        notes.append(
            f"restored {out} from {olds[0].name}, where an interrupted --overwrite had moved it"
        )
        olds = olds[1:]
    # an old copy is deleted only once a dataset is in place; otherwise (no manifest in it:
    # not something this code left) it is left for a person to look at
    for old in olds if os.path.lexists(out) else []:
        shutil.rmtree(old)
        notes.append(f"removed {old}, an old copy of {out.name} left by an interrupted --overwrite")
    for name in names:
        tmp = out.parent / name
        if _beside(out, _TMP).match(name) and not _fs.owner_alive(tmp):
            shutil.rmtree(tmp)
            notes.append(f"removed {tmp}, left by a memtasks write that did not finish")
    return notes


def recover(out: str | os.PathLike) -> list[str]:
    """Repair what killed writes of the dataset folder ``out`` left beside it (``write_dataset``
    does this itself before writing); returns one line per thing done, [] if nothing was."""
    shown = out
    out = _target(Path(out))
    if not out.parent.is_dir():  # nothing can have been left beside it
        return []
    lock = _fs.OutputLock(out)
    try:
        try:
            lock.acquire()
        except _fs.Busy:
            raise StorageError(_busy(shown, lock)) from None
        return _recover(out)
    except OSError as exc:
        if isinstance(exc, MemtasksError):
            raise
        raise StorageError(_os_error(exc, shown)) from None
    finally:
        lock.release()


def _busy(shown, lock: _fs.OutputLock) -> str:
    return (
        f"{shown} is being written by another memtasks process (it holds {lock.path}); wait "
        "for it to finish or choose another output path"
    )


_HINTS = {
    errno.ENOSPC: "free some space or choose another output path",
    errno.EDQUOT: "free some space or choose another output path",
    errno.EROFS: "the file system is read-only; choose another output path",
    errno.EACCES: "choose an output path you may write to",
    errno.EPERM: "choose an output path you may write to",
    errno.EBUSY: "it is in use (a mount point, or a folder in use); choose another output path",
}


def _os_error(exc: OSError, shown) -> str:
    """One line for an OSError met while writing ``shown``: what failed, where, what to do."""
    what = (exc.strerror or str(exc) or type(exc).__name__).replace("\n", " ").strip()
    where = f" ({exc.filename})" if exc.filename else ""
    hint = _HINTS.get(exc.errno, "choose another output path")
    return f"cannot write {shown}: {what}{where}; nothing existing was changed; {hint}"


def _target(out: Path) -> Path:
    """The real folder a dataset at ``out`` lives in, refusing places no dataset can go.

    A symbolic link to a dataset folder stands for that folder: it is replaced in place (with
    overwrite) and the link is kept. The working folder or a folder above it cannot be moved
    aside (the process stands in it), nor can the root."""
    if out.is_symlink() and not out.exists():
        raise StorageError(
            f"{out} is a symbolic link to {os.readlink(out)}, which does not exist; remove the "
            "link or choose another output path"
        )
    real = Path(os.path.realpath(out))
    if real.parent == real:
        raise StorageError(f"{out} is the root folder; choose a folder below it for the dataset")
    cwd = Path(os.path.realpath(os.getcwd()))
    if real == cwd or real in cwd.parents:
        raise StorageError(
            f"{out} is the working folder or a folder above it ({cwd}); a dataset cannot "
            "replace the folder a process runs in: choose another output path"
        )
    return real


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing folders above it; returns those created, deepest first,
    so that a write that fails can remove them again."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(exist_ok=True)  # another process may have made it meanwhile
        except OSError as exc:
            for made in missing[missing.index(path) + 1 :]:
                _remove_quietly(made)
            raise StorageError(
                f"cannot create the folder {path}: {exc.strerror}; choose another output path"
            ) from None
    return missing


def _remove_quietly(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or gone: leave it
        folder.rmdir()


# -- reading ----------------------------------------------------------------------------------
# Readers meet folders memtasks did not write, or that changed since: a flipped bit, a truncated
# or empty file, a foreign Parquet file, an edited manifest. pyarrow, numpy and json report
# those as any of these; each becomes one StorageError line naming the file.
_READ_ERRORS = (
    pa.ArrowException, OSError, ValueError, KeyError, IndexError, TypeError, OverflowError,
    RecursionError, MemoryError, EOFError, NotImplementedError,
)  # fmt: skip
# every field write_dataset writes that a reader or verify relies on
_REQUIRED = (
    "format_version", "task", "task_version", "knobs", "seed", "split", "start", "num_episodes",
    "format", "features", "files", "content_hash",
)  # fmt: skip
_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
     "float32", "float64"]
)  # fmt: skip
_MAX_WIDTH = 1 << 20  # the widest row a feature may declare: bounds what a reader allocates
_INDEX_STOP = 2**63 - 1  # episode indices are int64, and so is the stop of a range of them
_SAMPLE = 16  # episodes verify regenerates: the first, the last and others at random
# question rows a bAbI text reader pads meta to (the story tasks' knobs allow up to 1,000
# questions per story): a manifest cannot make it allocate more
_MAX_QUESTIONS = 4096
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               int: "a number", float: "a number", type(None): "null"}  # fmt: skip


def _show(value: Any, limit: int = 60) -> str:
    """A manifest's value for a message: its repr cut to ``limit`` characters (an int of
    thousands of digits has no repr and is shown by its size)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of {abs(value).bit_length()} bits"
    try:
        text = repr(value)
    except ValueError:  # such an int inside a list or object
        return f"{_JSON_TYPES.get(type(value), 'a value')} holding a huge integer"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(str(text).splitlines())


def _reason(exc: BaseException) -> str:
    """A library's exception as one short line (pyarrow's span several)."""
    if isinstance(exc, MemoryError):
        return "reading it would need more memory than there is"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, KeyError):
        text = f"missing {text}"
    return text if len(text) <= 200 else text[:197] + "..."


def _is_int(value: Any, lo: int = 0, hi: int = _INDEX_STOP) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= set("0123456789abcdef")


def _canonical(value: Any) -> str:
    """JSON text that two equal manifest values share (1 and 1.0 and True stay apart)."""
    return json.dumps(value, sort_keys=True)


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The ``memtasks.json`` of a dataset folder, with a clear error if it is not one.

    Its structure is checked (``_check_manifest``): every reader relies on the types of its
    fields, and the counts must agree with each other. A file path that leads outside the
    folder (absolute, ``..``, or a symbolic link) is refused."""
    path = Path(path)
    file = path / MANIFEST
    if not path.is_dir():
        raise StorageError(
            f"{path} is not a folder; a memtasks dataset is a folder with {MANIFEST}"
        )
    if not file.is_file():
        raise StorageError(f"{path} has no {MANIFEST}: not a complete memtasks dataset")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise StorageError(f"{file} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise StorageError(f"{file} cannot be read ({exc.strerror or exc})") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StorageError(f"{file} is not valid JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # an int of over 4,300 digits; deep nesting
        raise StorageError(f"{file} is not valid JSON: {_reason(exc)}") from None
    _check_manifest(manifest, path)
    return manifest


def _check_manifest(m: Any, folder: Path) -> None:
    """Refuse, in one line naming the field, a manifest unlike what ``write_dataset`` writes."""
    from .registry import _ID

    file = folder / MANIFEST

    def bad(what: str) -> None:
        raise StorageError(f"{file}: {what}")

    if not isinstance(m, dict):
        bad(f"must be a JSON object, got {_JSON_TYPES.get(type(m), 'a value')}")
    missing = [k for k in _REQUIRED if k not in m]
    if missing:
        bad(f"lacks {', '.join(missing)}")
    if not _is_int(m["format_version"]) or m["format_version"] != FORMAT_VERSION:
        bad(f"format_version must be {FORMAT_VERSION}, got {_show(m['format_version'])}")
    task, version = m["task"], m["task_version"]
    match = _ID.match(task) if isinstance(task, str) else None
    if match is None:
        bad(f"task must be a versioned task id like 'ntm/copy-v1', got {_show(task)}")
    if not _is_int(version) or version != int(match.group("version")):
        bad(f"task_version must be {match.group('version')} (task {task}), got {_show(version)}")
    if not isinstance(m["knobs"], dict):
        bad(f"knobs must be an object of knob values, got {_show(m['knobs'])}")
    if not _is_int(m["seed"], 0, 2**64 - 1):
        bad(f"seed must be an integer in [0, 2**64), got {_show(m['seed'])}")
    try:
        check_split(m["split"])
    except MemtasksError:
        bad(f"split must be a name of letters, digits and '_', got {_show(m['split'])}")
    for name in ("start", "num_episodes"):
        if not _is_int(m[name]):
            bad(f"{name} must be an integer in [0, 2**63 - 1], got {_show(m[name])}")
    for name in ("num_positions", "dedup_against", "dedup_dropped"):
        if name in m and not _is_int(m[name]):
            bad(f"{name} must be a non-negative integer, got {_show(m[name])}")
    for name in ("memtasks_version", "metric"):
        if name in m and not isinstance(m[name], str):
            bad(f"{name} must be a string, got {_show(m[name])}")
    if m.get("preset") is not None and not isinstance(m["preset"], str):
        bad(f"preset must be a preset name or null, got {_show(m['preset'])}")
    if "layout" in m and not isinstance(m["layout"], dict):
        bad(f"layout must be an object, got {_show(m['layout'])}")
    if not isinstance(m["format"], str) or m["format"] not in FORMATS:
        bad(f"format must be one of {', '.join(FORMATS)}, got {_show(m['format'])}")
    if not _is_hash(m["content_hash"]):
        bad(f"content_hash must be 64 lowercase hex digits, got {_show(m['content_hash'])}")
    _check_features(m["features"], bad)
    _check_files(m, folder, bad)
    if m["format"] == "babi":
        _babi_manifest(m, folder)


def _check_features(types: Any, bad: Callable[[str], None]) -> None:
    """``features``: [dtype, width or null] for every per-position field and meta value; the
    readers restore types from it and allocate rows of its widths."""

    def check(name: str, value: Any) -> None:
        if not (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and value[0] in _DTYPES
            and (value[1] is None or _is_int(value[1], 0, _MAX_WIDTH))
        ):
            bad(
                f"features.{name} must be [dtype, width or null] with a numeric dtype and a "
                f"width up to {_MAX_WIDTH}, got {_show(value)}"
            )

    if not isinstance(types, dict) or set(types) != {*POSITION_FIELDS, "meta"}:
        bad(f"features must be an object of {', '.join(POSITION_FIELDS)} and meta")
    for name in POSITION_FIELDS:
        check(name, types[name])
    if not isinstance(types["meta"], dict):
        bad(f"features.meta must be an object, got {_show(types['meta'])}")
    for name, value in types["meta"].items():
        check(f"meta.{name}", value)


def _check_files(m: dict[str, Any], folder: Path, bad: Callable[[str], None]) -> None:
    """``files``: a list of {path, episodes: [lo, hi), positions}, ranges in order after
    ``start``, covering exactly ``num_episodes + dedup_dropped`` stream indices from ``start``
    (the kept episodes and those dedup left out), each path inside the folder."""
    files, start, n = m["files"], m["start"], m["num_episodes"]
    dropped = m.get("dedup_dropped", 0)
    if not isinstance(files, list) or not files:
        bad(f"files must be a non-empty list of {{path, episodes, positions}}, got {_show(files)}")
    if m["format"] == "babi" and len(files) != 1:
        bad(f"format babi keeps its episodes in one text file; files lists {len(files)}")
    stop, covered, paths = start, 0, set()
    for k, entry in enumerate(files):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("episodes"), list)
            and len(entry["episodes"]) == 2
            and all(_is_int(i) for i in entry["episodes"])
            and _is_int(entry.get("positions"), 0, 2**64)
        ):
            bad(
                f"files[{k}] must be {{path: string, episodes: [lo, hi], positions: integer "
                f">= 0}}, got {_show(entry)}"
            )
        lo, hi = entry["episodes"]
        if not stop <= lo < hi:
            after = f"files[{k - 1}]'s end" if k else "start"
            bad(
                f"files[{k}].episodes {[lo, hi]} must be a range [lo, hi) with lo < hi, "
                f"from {after} {stop} on"
            )
        _data_file(folder, entry["path"])
        if entry["path"] in paths:
            bad(f"files lists {entry['path']!r} twice")
        paths.add(entry["path"])
        stop, covered = hi, covered + hi - lo
    if stop - start != n + dropped:
        bad(
            f"files end at stream index {stop}, {stop - start} indices after start {start}, "
            f"but num_episodes {n} + dedup_dropped {dropped} = {n + dropped}"
        )
    if covered < n:
        bad(f"files' episodes ranges cover {covered} indices, fewer than num_episodes {n}")
    if dropped and not m.get("dedup_against"):
        bad(f"dedup_dropped is {dropped} but dedup_against is 0: only dedup leaves episodes out")
    total = sum(entry["positions"] for entry in files)
    if "num_positions" in m and m["num_positions"] != total:
        bad(f"num_positions is {m['num_positions']}, but the files' positions add up to {total}")


def _data_file(folder: Path, name: Any) -> Path:
    """The file a manifest's ``path`` names, refused unless it lies inside the dataset folder:
    a manifest must not make a reader open (or report on) a file elsewhere."""
    from pathlib import PurePosixPath

    file = folder / MANIFEST
    parts = PurePosixPath(name).parts if isinstance(name, str) else ()
    if not parts or name.startswith("/") or ".." in parts or "\\" in name or "\0" in name:
        raise StorageError(
            f"{file}: file path {_show(name)} must be a relative path inside the dataset "
            "folder (not absolute, no '..')"
        )
    try:
        root = os.path.realpath(folder)
        real = os.path.realpath(os.path.join(root, name))
    except (OSError, ValueError) as exc:  # a name longer than the file system allows...
        raise StorageError(
            f"{file}: file path {_show(name)} cannot be used ({_reason(exc)})"
        ) from None
    if real == root or os.path.commonpath([root, real]) != root:
        raise StorageError(
            f"{file}: file path {name!r} leads outside the dataset folder, to {real} "
            "(through a symbolic link)"
        )
    return folder / name


def _listed_file(folder: Path, name: str) -> Path:
    """A file the manifest lists: inside the folder (``_data_file``) and present."""
    file = _data_file(folder, name)
    try:
        present = file.is_file()
    except OSError as exc:  # a name too long for the file system, a folder not readable
        raise StorageError(
            f"{folder / MANIFEST}: file path {_show(name)} cannot be opened "
            f"({exc.strerror or _reason(exc)})"
        ) from None
    if not present:
        raise StorageError(f"{file} is listed in {MANIFEST} but missing (or not a file)")
    return file


def _stored_pieces(path: Path, manifest: dict[str, Any]) -> Iterator[tuple[int, EpisodeBatch]]:
    """(number of the file in ``files``, episodes) of every stored piece, in order, each checked
    against the manifest's features: what the content hash is then computed over is numbers of
    the types the manifest states."""
    task, fmt, types = manifest["task"], manifest["format"], manifest["features"]
    for k, entry in enumerate(manifest["files"]):
        file = _listed_file(path, entry["path"])
        if fmt == "babi":
            pieces: Iterator[EpisodeBatch] = iter([_read_babi(file, manifest)])
        elif fmt == "parquet":
            pieces = _read_parquet(file, task)
        else:
            pieces = iter([_read_jsonl(file, task, types)])
        for batch in pieces:
            _check_piece(batch, types, file)
            yield k, batch


def _read_parquet(file: Path, task: str) -> Iterator[EpisodeBatch]:
    try:
        parquet = pq.ParquetFile(file)
        groups = parquet.num_row_groups
    except _READ_ERRORS as exc:
        raise StorageError(f"{file} is not a readable Parquet file ({_reason(exc)})") from None
    try:
        for g in range(groups):
            try:
                batch = EpisodeBatch.from_arrow(parquet.read_row_group(g), task=task)
            except _READ_ERRORS as exc:
                raise StorageError(
                    f"{file}: row group {g} cannot be read as episodes ({_reason(exc)})"
                ) from None
            yield batch
    finally:
        parquet.close()


def _check_piece(batch: EpisodeBatch, types: dict[str, Any], file: Path) -> None:
    """Refuse episodes whose arrays are not of the dtypes and widths ``features`` states."""

    def described(a: np.ndarray) -> list:
        return [a.dtype.name, int(a.shape[1]) if a.ndim == 2 else None]

    if set(batch.meta) != set(types["meta"]):
        raise StorageError(
            f"{file}: its meta fields {_show(sorted(batch.meta))} are not the ones features.meta "
            f"in {MANIFEST} lists, {_show(sorted(types['meta']))}"
        )
    arrays = {f: getattr(batch, f) for f in POSITION_FIELDS}
    arrays.update({f"meta.{k}": v for k, v in batch.meta.items()})
    for name, values in arrays.items():
        stated = types["meta"][name[5:]] if name.startswith("meta.") else types[name]
        if described(values) != stated:
            raise StorageError(
                f"{file}: {name} is [dtype, width] {_show(described(values))}; features.{name} "
                f"in {MANIFEST} says {_show(stated)}"
            )


def iter_batches(path: str | os.PathLike) -> Iterator[EpisodeBatch]:
    """The episodes of a dataset folder, in index order, one stored piece at a time."""
    path = Path(path)
    for _, batch in _stored_pieces(path, read_manifest(path)):
        yield batch


def read_dataset(
    path: str | os.PathLike, verify: bool = False, *, regenerate: bool = True
) -> EpisodeBatch:
    """All episodes of a dataset folder in one batch; ``verify`` checks them as
    ``verify_dataset`` does (``regenerate`` as there)."""
    path = Path(path)
    batches = [batch for _, batch in _stored_pieces(path, read_manifest(path))]
    batch = EpisodeBatch.concat(batches) if len(batches) != 1 else batches[0]
    if verify:
        check_dataset(path, batch, regenerate=regenerate)
    return batch


@dataclass(frozen=True)
class Verification:
    """What ``check_dataset`` checked; it returns one only when every check passed."""

    manifest: dict[str, Any]
    digest: str  # the content hash recomputed (bAbI text: of the episodes as read back)
    episodes: int
    regenerated: int  # episodes regenerated from the manifest and found equal (0: not asked)
    left_out: int = 0  # dedup: episodes left out between stored ones, found training stories


def verify_dataset(
    path: str | os.PathLike, batch: EpisodeBatch | None = None, *, regenerate: bool = True
) -> str:
    """Check a dataset folder (``check_dataset``); raise ``StorageError`` naming the first thing
    that is wrong, else return the recomputed content hash.

    A babi text folder is checked against ``babi.read_back_hash``, the hash of the episodes
    as the text gives them back (see ``as_read_back``); the digest returned is that one."""
    return check_dataset(path, batch, regenerate=regenerate).digest


def check_dataset(
    path: str | os.PathLike, batch: EpisodeBatch | None = None, *, regenerate: bool = True
) -> Verification:
    """Everything ``verify`` proves about a dataset folder, or a ``StorageError`` of one line:

    - the manifest has the structure ``write_dataset`` writes, its counts agree, and every file
      it lists lies inside the folder;
    - every stored piece reads, with the dtypes and widths of ``features``, and the content hash
      of all episodes (babi text: ``babi.read_back_hash``) and their number are the manifest's;
    - the stored indices rise strictly, each file's lie in its ``episodes`` range, from its
      first to its last, and each file holds the ``positions`` recorded;
    - ``regenerate`` (default): the task is registered at the manifest's version, knobs,
      layout, metric and features are what that generator has for them, and a sample of
      episodes (the first, the last and up to 14 others, chosen by the content hash) is
      regenerated from task, knobs, seed and split and equals the stored ones. A manifest whose
      task, knobs, seed, split, start or files were edited therefore fails.

    ``batch``: the folder's episodes already read (``read_dataset(verify=True)``)."""
    path = Path(path)
    try:
        return _check(path, batch, regenerate)
    except StorageError as exc:
        if "\n" in str(exc) or "\r" in str(exc):  # a message must stay one line
            raise StorageError(_one_line(str(exc))) from None
        raise


def _check(path: Path, batch: EpisodeBatch | None, regenerate: bool) -> Verification:
    manifest = read_manifest(path)
    file = path / MANIFEST
    babi = manifest["format"] == "babi"
    expected = manifest["babi"]["read_back_hash"] if babi else manifest["content_hash"]
    generator = _generator(manifest, file) if regenerate else None  # before reading it all
    n = manifest["num_episodes"]
    wanted = _sample(n, manifest["content_hash"])
    sampled: dict[int, int] = {}  # stream index -> stored episode hash
    hasher = ContentHasher()
    ranges = _IndexCheck(manifest, path)
    if batch is not None:
        _check_piece(batch, manifest["features"], path)
        pieces: Iterator[tuple[int | None, EpisodeBatch]] = iter([(None, batch)])
    else:
        pieces = _stored_pieces(path, manifest)
    seen = 0
    for k, piece in pieces:
        hashes = episode_hashes(piece)
        hasher.update_hashes(piece.index, hashes)
        ranges.add(k, piece)
        for i in wanted[(wanted >= seen) & (wanted < seen + len(piece))] - seen:
            sampled[int(piece.index[i])] = int(hashes[i])
        seen += len(piece)
    digest = hasher.hexdigest()
    if digest != expected or hasher.episodes != n:
        raise StorageError(
            f"{path}: content hash {digest[:16]}... of {hasher.episodes} episodes does not match "
            f"the manifest's {expected[:16]}... of {n}"
        )
    ranges.finish()
    regenerated = left_out = 0
    if generator:
        regenerated = _regenerate(generator, manifest, sampled, file)
        if manifest.get("dedup_against"):
            left_out = _check_dedup(generator, manifest, sorted(sampled), ranges.left_out, file)
    return Verification(manifest, digest, n, regenerated, left_out)


def _sample(n: int, content_hash: str) -> np.ndarray:
    """Ordinals (0 .. n-1, in stored order) of the episodes verify regenerates: the first, the
    last and others drawn by the content hash, so that a run can be repeated exactly."""
    if n <= _SAMPLE:
        return np.arange(n)
    rng = np.random.default_rng(int(content_hash[:16], 16))
    middle = rng.integers(1, n - 1, size=_SAMPLE - 2)
    return np.unique(np.concatenate([[0, n - 1], middle]))


class _IndexCheck:
    """The stored indices against the manifest's ``files``: they rise strictly from ``start``;
    each file's lie in its ``episodes`` range [lo, hi) and run from lo to hi - 1 (a shard starts
    and ends with a kept episode; only dedup leaves indices out between); each file holds its
    ``positions``. Keeps the first ``_SAMPLE`` indices left out (``left_out``) for dedup's check."""

    def __init__(self, manifest: dict[str, Any], folder: Path) -> None:
        self.files = manifest["files"]
        self.folder = folder
        self.lo = np.array([f["episodes"][0] for f in self.files], dtype=np.int64)
        self.hi = np.array([f["episodes"][1] for f in self.files], dtype=np.int64)
        self.first = np.full(len(self.files), -1, dtype=np.int64)
        self.last = np.full(len(self.files), -1, dtype=np.int64)
        self.positions = np.zeros(len(self.files), dtype=np.int64)
        self.start = manifest["start"]
        self.previous = self.start - 1
        self.left_out: list[int] = []

    def _name(self, k: int | None) -> str:
        return str(self.folder / self.files[k]["path"]) if k is not None else str(self.folder)

    def add(self, k: int | None, batch: EpisodeBatch) -> None:
        index = batch.index
        if not len(index):
            return
        steps = np.diff(index, prepend=self.previous)
        if not (steps > 0).all():
            at = int(np.argmin(steps > 0))
            before = (
                f"follows {int(index[at - 1]) if at else self.previous}"
                if at or self.previous >= self.start
                else f"is before start {self.start}"
            )
            raise StorageError(
                f"{self._name(k)}: stored episode indices must rise strictly from start; "
                f"{int(index[at])} {before}"
            )
        for at in np.flatnonzero(steps > 1):  # indices left out before index[at]
            if len(self.left_out) >= _SAMPLE:
                break
            gap = range(int(index[at] - steps[at] + 1), int(index[at]))
            self.left_out.extend(gap[: _SAMPLE - len(self.left_out)])
        owner = np.searchsorted(self.lo, index, side="right") - 1
        inside = (owner >= 0) & (index < self.hi[np.maximum(owner, 0)])
        if k is not None:
            inside &= owner == k
        if not inside.all():
            where = f"files[{k}]'s episodes range" if k is not None else "any file's range"
            raise StorageError(
                f"{self._name(k)}: stored episode index {int(index[~inside][0])} is outside "
                f"{where} in {MANIFEST}"
            )
        for f in np.unique(owner):
            mine = owner == f
            if self.first[f] < 0:
                self.first[f] = index[mine][0]
            self.last[f] = index[mine][-1]
            self.positions[f] += int(batch.lengths[mine].sum())
        self.previous = int(index[-1])

    def finish(self) -> None:
        for k, entry in enumerate(self.files):
            lo, hi = entry["episodes"]
            if self.first[k] != lo or self.last[k] != hi - 1:
                held = "no episodes" if self.first[k] < 0 else (
                    f"episodes {self.first[k]}..{self.last[k]}"
                )  # fmt: skip
                raise StorageError(
                    f"{self._name(k)} holds {held}; files[{k}].episodes in {MANIFEST} says "
                    f"{lo}..{hi - 1}"
                )
            if self.positions[k] != entry["positions"]:
                raise StorageError(
                    f"{self._name(k)} holds {self.positions[k]} positions; files[{k}].positions "
                    f"in {MANIFEST} says {entry['positions']}"
                )


def _generator(manifest: dict[str, Any], file: Path) -> tuple[TaskSpec, Any]:
    """The installed generator of the manifest's task and its knobs, with the manifest's
    descriptions of them (layout, metric, preset, bAbI text options) checked against it."""
    from . import dedup
    from .registry import list_tasks

    task = manifest["task"]

    def bad(what: str) -> StorageError:
        return StorageError(f"{file}: {what}")

    if task not in list_tasks():
        name = task.rsplit("-v", 1)[0]
        others = [t for t in list_tasks() if t.rsplit("-v", 1)[0] == name]
        if others:
            made_by = (
                f"the data was made by version {manifest['task_version']} of the {name} "
                f"generator ({task}) and this memtasks has {', '.join(others)}"
            )
        else:
            made_by = f"task {task!r} is not registered in this memtasks (`memtasks list`)"
        raise bad(
            f"{made_by}, so its episodes cannot be regenerated to check the manifest; "
            "`memtasks verify --no-regenerate` (regenerate=False) checks the stored data alone"
        )
    spec = get_spec(task)
    try:
        knobs = spec.knobs.from_values(manifest["knobs"])
    except (MemtasksError, TypeError, ValueError) as exc:
        raise bad(f"knobs {_show(manifest['knobs'])} are not knobs of {task}: {exc}") from None
    if _canonical(knobs.to_dict()) != _canonical(manifest["knobs"]):
        raise bad(
            f"knobs {_show(manifest['knobs'])} are not the full knob values of {task} "
            f"({_show(knobs.to_dict())})"
        )
    preset = manifest.get("preset")
    if preset is not None and preset not in spec.presets:
        raise bad(f"preset {_show(preset)} is not one of {task}'s: {', '.join(spec.presets)}")
    if "layout" in manifest and _canonical(spec.layout(knobs).to_dict()) != _canonical(
        manifest["layout"]
    ):
        raise bad(f"layout is not the one {task} has for these knobs")
    if "metric" in manifest and manifest["metric"] != spec.metric.name:
        raise bad(f"metric {_show(manifest['metric'])} is not {task}'s ({spec.metric.name})")
    try:
        dedup.check_dedup(manifest.get("dedup_against", 0), manifest["split"])
    except MemtasksError as exc:
        raise bad(str(exc)) from None
    if manifest["format"] == "babi":
        from .loaders.babi import check_text_task, task_space_before_tab

        try:
            check_text_task(spec, spec.layout(knobs))
        except MemtasksError as exc:
            raise bad(str(exc)) from None
        gap = manifest["babi"].get("space_before_tab", task_space_before_tab(task))
        if gap != task_space_before_tab(task):
            raise bad(f"babi.space_before_tab is {_show(gap)}; {task}'s text has the other")
    return spec, knobs


def _regenerate(generator, manifest: dict[str, Any], sampled: dict[int, int], file: Path) -> int:
    """Regenerate the sampled episodes from the manifest's task, knobs, seed and split and
    compare their hashes with the stored ones; returns how many were compared."""
    spec, knobs = generator
    task, seed, split = manifest["task"], manifest["seed"], manifest["split"]
    babi = manifest["format"] == "babi"
    for number, (index, stored) in enumerate(sorted(sampled.items())):
        try:
            fresh = spec.generate(1, seed, split, start=index, knobs=knobs)
        except MemtasksError as exc:
            raise StorageError(f"{file}: episode {index} cannot be regenerated: {exc}") from None
        if number == 0 and _canonical(features(fresh)) != _canonical(manifest["features"]):
            raise StorageError(f"{file}: features are not the ones {task} makes with these knobs")
        if episode_hashes(as_read_back(fresh) if babi else fresh)[0] != stored:
            raise StorageError(
                f"{file}: stored episode {index} is not episode {index} of {task} regenerated "
                f"with the manifest's knobs, seed {seed} and split {split!r}: the manifest does "
                "not describe this data"
            )
    return len(sampled)


def _check_dedup(generator, manifest: dict[str, Any], kept: list[int], left_out: list[int],
                 file: Path) -> int:  # fmt: skip
    """``dedup_against=N``: the sampled stored episodes tell no story of training episodes
    ``0 .. N-1``, and the indices left out between stored ones (up to ``_SAMPLE``) do; returns
    how many left-out ones were checked. Costs generating those N training episodes."""
    from . import dedup
    from .hashing import story_hashes

    spec, knobs = generator
    against, seed, split = manifest["dedup_against"], manifest["seed"], manifest["split"]
    train = dedup.train_story_hashes(spec, knobs, seed, against)
    for indices, training in ((kept, False), (left_out, True)):
        for index in indices:
            fresh = spec.generate(1, seed, split, start=index, knobs=knobs)
            if bool(dedup.in_set(story_hashes(fresh), train)[0]) != training:
                what = (
                    f"left out, yet its story is not one of training episodes 0..{against - 1}"
                    if training
                    else f"stored, yet its story is one of training episodes 0..{against - 1}"
                )
                raise StorageError(
                    f"{file}: episode {index} is {what}: dedup_against {against} and the files' "
                    "ranges do not describe this data"
                )
    return len(left_out)


def hf_dataset(path: str | os.PathLike):
    """The Parquet shards as a ``datasets.Dataset`` (via ``datasets.load_dataset``)."""
    import datasets

    path = Path(path)
    manifest = read_manifest(path)  # refuses files outside the folder
    if manifest["format"] != "parquet":
        raise StorageError(f"{path} holds {manifest['format']}; Hugging Face loading needs parquet")
    files = [str(_listed_file(path, f["path"])) for f in manifest["files"]]
    return datasets.load_dataset("parquet", data_files=files, split="train")


def _babi_manifest(manifest: dict[str, Any], where: Path) -> dict[str, Any]:
    """The manifest's ``babi`` entry, checked: what reading the text back relies on."""
    from .loaders.babi import CIPHER_LOWER, CIPHER_UPPER

    file = where / MANIFEST
    babi = manifest.get("babi")
    layout = manifest.get("layout")
    vocab = layout.get("vocab") if isinstance(layout, dict) else None
    needed = {"read_back_hash", "indices", "shuffled"}
    if (
        not isinstance(babi, dict)
        or needed - set(babi)
        or not isinstance(vocab, list)
        or not vocab
        or not all(isinstance(word, str) for word in vocab)
    ):
        raise StorageError(
            f"{where}: a babi text dataset's {MANIFEST} needs layout.vocab and babi."
            f"{{{', '.join(sorted(needed))}}} to be read back"
        )
    if not _is_hash(babi["read_back_hash"]):
        raise StorageError(
            f"{file}: babi.read_back_hash must be 64 lowercase hex digits, "
            f"got {_show(babi['read_back_hash'])}"
        )
    if not isinstance(babi["shuffled"], bool):
        raise StorageError(
            f"{file}: babi.shuffled must be true or false, got {_show(babi['shuffled'])}"
        )
    cipher = {"lower": CIPHER_LOWER, "upper": CIPHER_UPPER} if babi["shuffled"] else None
    if "cipher" in babi and babi["cipher"] != cipher:
        raise StorageError(
            f"{file}: babi.cipher is not memtasks' cipher for shuffled={babi['shuffled']}"
        )
    if "space_before_tab" in babi and not isinstance(babi["space_before_tab"], bool):
        raise StorageError(f"{file}: babi.space_before_tab must be true or false")
    # the stories' stream indices: ranges in order, from the file's first to its last index,
    # as many as num_episodes (checked before any index array is made of them)
    indices, span = babi["indices"], manifest["files"][0]["episodes"]
    stop, count = span[0], 0
    ranges_ok = isinstance(indices, list) and bool(indices)
    for pair in indices if ranges_ok else ():
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(_is_int(i) for i in pair)
            and stop <= pair[0] < pair[1]
        ):  # fmt: skip
            ranges_ok = False
            break
        stop, count = pair[1], count + pair[1] - pair[0]
    if not ranges_ok or indices[0][0] != span[0] or stop != span[1]:
        raise StorageError(
            f"{file}: babi.indices must be ranges [lo, hi) in order from {span[0]} to "
            f"{span[1]} (files[0].episodes), got {_show(indices)}"
        )
    if count != manifest["num_episodes"]:
        raise StorageError(
            f"{file}: babi.indices hold {count} indices, num_episodes says "
            f"{manifest['num_episodes']}"
        )
    return babi


def _read_babi(file: Path, manifest: dict[str, Any]) -> EpisodeBatch:
    """A babi text file as the episodes it was written from (question_template unknown)."""
    from .loaders.babi import read_file, task_number

    babi = _babi_manifest(manifest, file.parent)
    try:
        batch, _ = read_file(
            file,
            vocab=manifest["layout"]["vocab"],
            memtasks_cipher=bool(babi["shuffled"]),
            task=task_number(manifest["task"]) or 0,
        )
    except LoaderError as exc:
        raise StorageError(_one_line(str(exc))) from None
    except MemtasksError:
        raise
    except _READ_ERRORS as exc:
        raise StorageError(f"{file} cannot be read as bAbI text ({_reason(exc)})") from None
    count = sum(hi - lo for lo, hi in babi["indices"])
    if count != len(batch):
        raise StorageError(
            f"{file} holds {len(batch)} stories; {MANIFEST} lists {count} episode indices"
        )
    index = np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in babi["indices"]])
    meta = dict(batch.meta)
    widths = {k: w for k, (_, w) in manifest["features"]["meta"].items()}
    for k in ("question_template", "support_distance"):
        width = widths.get(k)
        if width is not None and width > _MAX_QUESTIONS:
            raise StorageError(
                f"{file.parent / MANIFEST}: features.meta.{k} has width {width}; a story task "
                f"records at most {_MAX_QUESTIONS} questions per story"
            )
        if width is not None and k in meta and meta[k].ndim == 2 and meta[k].shape[1] != width:
            # the generator's width is its knobs' question bound; the text's is its longest story
            fitted = np.full((len(batch), width), -1, np.int32)
            keep = min(width, meta[k].shape[1])
            fitted[:, :keep] = meta[k][:, :keep]
            meta[k] = fitted
    try:
        for k, (dtype, _) in manifest["features"]["meta"].items():
            if k in meta:
                meta[k] = meta[k].astype(dtype, copy=False)
    except (TypeError, ValueError, OverflowError) as exc:
        raise StorageError(f"{file}: meta does not fit features.meta ({_reason(exc)})") from None
    if widths.get("question_template") is not None and "questions" in meta:
        # the generator counts the questions it records a template for
        meta["questions"] = np.minimum(meta["questions"], widths["question_template"])
    return EpisodeBatch.trusted(**{**batch.__dict__, "index": index, "meta": meta,
                                   "task": manifest["task"]})  # fmt: skip


def _read_jsonl(file: Path, task: str, feature_types: dict | None) -> EpisodeBatch:
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
                        f"{file}:{number}: not a JSON object ({_reason(exc)})"
                    ) from None
                if not isinstance(record, dict):
                    raise StorageError(
                        f"{file}:{number}: not a JSON object (got "
                        f"{_JSON_TYPES.get(type(record), 'a value')})"
                    )
                records.append(record)
    except UnicodeDecodeError as exc:
        raise StorageError(f"{file}: not UTF-8 text ({exc.reason})") from None
    if not records:
        raise StorageError(f"{file} holds no episodes")
    try:
        return _from_records(records, task, feature_types)
    except MemtasksError:
        raise
    except _READ_ERRORS as exc:
        raise StorageError(
            f"{file}: records do not match the dataset's features ({_reason(exc)})"
        ) from None


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
