"""Datasets on disk: a folder of Parquet (or JSONL, or a family's text) files plus
``memtasks.json``.

::

    DIR/
      memtasks.json                          what the data is (task, knobs, seed, split, layout,
                                             counts, package version, content hash, files; a
                                             loaded dataset: its id and source files instead of
                                             task and seed)
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

Formats are plug-ins (``memtasks.formats``): Parquet and JSONL in the core; a family registers
its own text format (a single file next to ``memtasks.json``, whose manifest entry under the
format's name says how to read it back) and its options (``write_dataset(..., option=value)``).

One writer, ``write_batches``, makes every folder: ``write_dataset`` feeds it generated episodes
(in worker processes when asked), ``load_dataset`` the episodes a real dataset's reader makes of
its original files (``memtasks.datasets``); the manifest of a loaded dataset names the dataset
and the source files with their SHA-256 instead of a task and seed.

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
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _fs
from .episode import POSITION_FIELDS, EpisodeBatch
from .errors import MemtasksError, StorageError
from .formats import JSON_TYPES as _JSON_TYPES
from .formats import Format, WriteContext, check_options, get_format
from .formats import reason as _reason
from .formats.parquet import source_id
from .hashing import ContentHasher, episode_hashes
from .registry import (
    TaskSpec,
    check_count,
    check_range,
    check_seed,
    check_split,
    get_spec,
    get_task,
)

MANIFEST = "memtasks.json"
FORMAT_VERSION = 1
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
    options: tuple = ()  # the format's options, (name, value) pairs


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


def _run_job(job: _ShardJob, on_chunk: Callable[[EpisodeBatch], None]) -> int:
    positions = 0

    def seen(batch: EpisodeBatch) -> None:
        nonlocal positions
        positions += batch.num_positions
        on_chunk(batch)

    spec = get_task(job.task)
    layout = spec.layout(spec.knobs.from_values(job.knobs))
    context = WriteContext(job.task, layout, job.split, dict(job.options))
    get_format(job.fmt).write(job.path, _chunks(job), context, seen)
    return positions


def _hashes(batch: EpisodeBatch, fmt: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(indices, episode hashes, hashes of the episodes as the format reads them back: None
    where it stores them exactly)."""
    form = get_format(fmt)
    read_back = episode_hashes(form.read_back(batch)) if form.lossy else None
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
    force_size: bool = False,
    planning: Callable[[int, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
    **format_options: Any,
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

    ``format``: a registered format (``memtasks.formats``); ``format_options`` are its options
    (``Format.options``). A single-file format (a family's text format) takes ``shards`` 1;
    ``workers`` then write pieces of the file in parallel, joined after.
    ``dedup_against=N``: leave out episodes whose story is one of training episodes
    ``0 .. N-1`` (same task, knobs and seed) and draw on until ``n`` are kept; not for split
    train (``memtasks.dedup``).
    """
    from . import dedup

    spec = get_task(task)
    knob_values = spec.make_knobs(preset, **(knobs or {}))
    seed, split = check_seed(seed), check_split(split)
    n, start = check_count("n", n), check_range(start, n)
    if n == 0:
        raise MemtasksError("n must be at least 1")
    fmt = get_format(format)
    options = check_options(fmt, format_options)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise MemtasksError(f"workers must be an integer >= 1, got {workers!r}")
    layout = spec.layout(knob_values)
    fmt.check(spec, layout, options)
    if fmt.single_file and shards not in (None, 1):
        raise MemtasksError(fmt.shards_error(shards))
    against = dedup.check_dedup(dedup_against, split)
    context = WriteContext(spec.id, layout, split, options)

    def fill(make_tmp: Callable[[], Path], shown: Any, out: Path) -> dict[str, Any]:
        nonlocal shards
        chunk, bytes_per_episode, feature_types = _plan(spec, knob_values, seed, split, start, n)
        if fmt.single_file:
            shards = min(workers, n)  # pieces written in parallel, then joined
        elif shards is None:
            shards = max(1, min(n, -(-n * bytes_per_episode // (500 << 20))))
        if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= n:
            raise MemtasksError(f"shards must be an integer in [1, n={n}], got {shards!r}")
        if not force_size:
            _check_disk(out.parent, n * bytes_per_episode * fmt.size_factor, n, shown)
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

        tmp = make_tmp()
        if progress:
            progress(0)  # every check has passed: a progress display may start now
        paths = _data_paths(tmp, fmt, split, shards)
        jobs = [
            _ShardJob(spec.id, knob_values.to_dict(), seed, split, lo, hi, chunk,
                      str(tmp / paths[s]), fmt.name, skip, tuple(sorted(options.items())))
            for s, (lo, hi, skip) in enumerate(spans)
        ]  # fmt: skip
        hasher = ContentHasher()
        read_back = ContentHasher() if fmt.lossy else None
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
            "format": fmt.name,
            "layout": layout.to_dict(),
            "features": feature_types,
            "metric": spec.metric.name,
            "dedup_against": against,
            "dedup_dropped": kept.dropped if kept is not None else 0,
            "files": files,
            "content_hash": hasher.hexdigest(),
        }
        indices = kept.ranges() if kept is not None else [[start, start + n]]
        _finish_format(tmp, fmt, context, manifest, indices, read_back)
        return manifest

    return _into_folder(out, overwrite=overwrite, notice=notice, fill=fill)


def _data_paths(tmp: Path, fmt: Format, split: str, shards: int) -> list[str]:
    """The files the shards are written to, relative to the temporary folder."""
    if fmt.single_file:  # pieces, joined into the one file at the end (_finish_format)
        return [f".piece-{s:05d}.{fmt.suffix}" for s in range(shards)]
    (tmp / "data").mkdir()
    return [shard_name(split, s, shards, fmt.suffix) for s in range(shards)]


def _finish_format(tmp: Path, fmt: Format, context: WriteContext, manifest: dict[str, Any],
                   indices: list[list[int]], read_back: ContentHasher | None) -> None:  # fmt: skip
    """A single-file format's pieces joined into its file; the format's manifest entry."""
    files = manifest["files"]
    if fmt.single_file:
        name = fmt.file_name(context.task, context.split)
        _join(tmp, [f["path"] for f in files], name)
        manifest["files"] = [
            {"path": name, "episodes": [files[0]["episodes"][0], files[-1]["episodes"][1]],
             "positions": manifest["num_positions"]}
        ]  # fmt: skip
    entry = fmt.manifest_entry(
        context, indices, read_back.hexdigest() if read_back is not None else None
    )
    if entry is not None:
        manifest[fmt.name] = entry


def _into_folder(out: str | os.PathLike, *, overwrite: bool,
                 notice: Callable[[str], None] | None, fill) -> dict[str, Any]:  # fmt: skip
    """The one way a dataset folder is made (DESIGN.md section 10): ``out`` checked, its parent
    folders made, the output lock taken, what killed runs left cleaned up, an existing ``out``
    refused unless ``overwrite``; then ``fill(make_tmp, shown, out)`` writes the data files into
    the temporary folder ``make_tmp()`` makes and returns the manifest, which is written last
    before the folder is moved into place. Any failure removes the temporary folder, the lock
    and the parent folders this call made, and leaves ``out`` as it was."""
    shown = out  # as the caller wrote it, for messages
    out = _target(Path(out))
    created = _make_parents(out.parent)
    lock = _fs.OutputLock(out)
    tmp = None

    def make_tmp() -> Path:
        nonlocal tmp
        tmp = out.parent / f".{out.name}.{_TMP}-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()
        _fs.write_owner(tmp)  # a later run deletes it only once this process is gone
        return tmp

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
        manifest = fill(make_tmp, shown, out)
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


def write_batches(
    out: str | os.PathLike,
    batches: Iterable[EpisodeBatch],
    *,
    manifest: dict[str, Any],
    fmt: str = "parquet",
    shards: int = 1,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    notice: Callable[[str], None] | None = None,
    **format_options: Any,
) -> dict[str, Any]:
    """Write episodes made elsewhere (a real dataset's reader, your own code) as a dataset
    folder at ``out``: the same layout, atomicity, locking and hashes as ``write_dataset``.

    ``batches`` yield the episodes in index order, indices rising by one from the first.
    ``manifest`` describes them: ``task`` or ``dataset`` (an id), ``knobs``, ``split``,
    ``layout`` (a ``Layout.to_dict()``) and anything else to record (``sources``, ``metric``);
    it may still change while the batches are read (a reader records the files it read), and
    the counts, features, files and content hash are added. ``shards > 1`` holds the episodes
    in memory to cut them into equal files. Returns the manifest written."""
    from .registry import _ID, Layout

    described = source_id(manifest)
    if not isinstance(described, str) or not described:
        raise MemtasksError("write_batches: manifest must name its 'task' or 'dataset' id")
    split = check_split(manifest.get("split"))
    form = get_format(fmt)
    options = check_options(form, format_options)
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise MemtasksError(f"shards must be an integer >= 1, got {shards!r}")
    if form.single_file and shards != 1:
        raise MemtasksError(form.shards_error(shards))
    spec_layout = manifest.get("layout") or {}
    layout = Layout(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec_layout.items()})
    context = WriteContext(described, layout, split, options)

    def fill(make_tmp: Callable[[], Path], shown: Any, out: Path) -> dict[str, Any]:
        stream: Iterable[EpisodeBatch] = batches
        if shards > 1:  # the count is needed to cut the files: hold them
            held = [b for b in batches if len(b)]
            stream = held
            total = sum(len(b) for b in held)
            if total < shards:
                raise MemtasksError(f"shards must be at most the {total} episodes, got {shards}")
        tmp = make_tmp()
        if progress:
            progress(0)
        paths = _data_paths(tmp, form, split, shards)
        hasher = ContentHasher()
        read_back = ContentHasher() if form.lossy else None
        state = {"types": None, "next": None, "first": None, "n": 0}
        files: list[dict[str, Any]] = []

        def checked(pieces: Iterable[EpisodeBatch]) -> Iterator[EpisodeBatch]:
            for batch in pieces:
                if not len(batch):
                    continue
                types = features(batch)
                if state["types"] is None:
                    state["types"], state["first"] = types, int(batch.index[0])
                    state["next"] = state["first"]
                elif _canonical(types) != _canonical(state["types"]):
                    raise MemtasksError(
                        f"{described}: a batch's dtypes or meta fields differ from the first's "
                        "(every batch of a dataset has the same features)"
                    )
                expected = np.arange(state["next"], state["next"] + len(batch))
                if not np.array_equal(batch.index, expected):
                    raise MemtasksError(
                        f"{described}: episode indices must rise by one from the first "
                        f"({state['first']}); a batch holds {_show(batch.index[:5].tolist())} "
                        f"where {state['next']} was next"
                    )
                state["next"] += len(batch)
                state["n"] += len(batch)
                yield batch

        def record(batch: EpisodeBatch) -> None:
            index, hashes, back = _hashes(batch, form.name)
            hasher.update_hashes(index, hashes)
            if read_back is not None:
                read_back.update_hashes(index, back)
            if progress:
                progress(len(batch))

        if shards == 1:
            groups: list[Iterable[EpisodeBatch]] = [checked(stream)]
        else:
            every = EpisodeBatch.concat(list(checked(stream)))
            cut = [(s * len(every)) // shards for s in range(shards + 1)]
            groups = [[every[cut[s] : cut[s + 1]]] for s in range(shards)]
        for s, group in enumerate(groups):
            positions = 0
            lo = state["next"]

            def counted(pieces: Iterable[EpisodeBatch]) -> Iterator[EpisodeBatch]:
                nonlocal positions, lo
                for batch in pieces:
                    if lo is None:
                        lo = int(batch.index[0])
                    positions += batch.num_positions
                    yield batch

            if shards > 1:
                lo = int(group[0].index[0])
            form.write(str(tmp / paths[s]), counted(group), context, record)
            if state["n"] == 0:
                raise MemtasksError(f"{described}: no episodes to write")
            hi = int(group[0].index[-1]) + 1 if shards > 1 else state["next"]
            files.append({"path": paths[s], "episodes": [lo, hi], "positions": positions})
        # read now: the caller's manifest may have changed while the batches were read
        final = {"format_version": FORMAT_VERSION, "memtasks_version": _package_version()}
        final.update(manifest)
        kind = "task" if "task" in manifest else "dataset"
        match = _ID.match(described)
        if match is not None:
            final.setdefault(f"{kind}_version", int(match.group("version")))
        if kind == "dataset":
            final.setdefault("sources", [])
        final.update(
            {
                "start": state["first"],
                "num_episodes": state["n"],
                "num_positions": int(sum(f["positions"] for f in files)),
                "format": form.name,
                "layout": layout.to_dict(),
                "features": state["types"],
                "files": files,
                "content_hash": hasher.hexdigest(),
            }
        )
        _finish_format(tmp, form, context, final, [[state["first"], state["next"]]], read_back)
        return final

    return _into_folder(out, overwrite=overwrite, notice=notice, fill=fill)


def load_dataset(
    out: str | os.PathLike,
    dataset: str,
    split: str = "train",
    path: str | os.PathLike | None = None,
    knobs: dict[str, Any] | None = None,
    *,
    preset: str | None = None,
    format: str = "parquet",
    shards: int = 1,
    overwrite: bool = False,
    hub: bool = False,
    checksums: bool = True,
    progress: Callable[[int], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Read a split of a real dataset from its original files (``path``, a folder or archive;
    else ``$MEMTASKS_DATA``; the Hub only with ``hub=True``) and write it as a dataset folder at
    ``out`` (``write_batches``). The manifest names the dataset, its knobs and split, and the
    source files read with their SHA-256 and sizes. A missing or malformed source file, or one
    whose SHA-256 is not the release's (unless ``checksums=False``), is one ``LoaderError`` line
    naming the file (and line), and nothing is written."""
    from .datasets import open_source
    from .registry import get_dataset

    spec = get_dataset(dataset)
    values = spec.make_knobs(preset, **(knobs or {}))
    split = spec.check_split(split)
    form = get_format(format)
    with open_source(spec, path, hub=hub, checksums=checksums) as source:
        layout = spec.layout_of(values, source)  # may read files: errors come before writing
        form.check(spec, layout, {})
        manifest: dict[str, Any] = {
            "dataset": spec.id,
            "dataset_version": spec.version,
            "preset": preset,
            "knobs": values.to_dict(),
            "split": split,
            "layout": layout.to_dict(),
            "metric": getattr(spec.metric, "name", str(spec.metric)),
            "sources": [],
        }

        def batches() -> Iterator[EpisodeBatch]:
            for batch in spec.read(source, values, split):
                batch.task = spec.id
                yield batch
            manifest["sources"] = source.sources()  # every file read, in order

        return write_batches(
            out, batches(), manifest=manifest, fmt=form.name, shards=shards,
            overwrite=overwrite, progress=progress, notice=notice,
        )  # fmt: skip


_log = logging.getLogger(__name__)


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


def _write_all(jobs, workers, hasher: ContentHasher, read_back: ContentHasher | None,
               progress) -> list[int]:  # fmt: skip
    """Write every shard; feed the hashers in episode order whatever order shards finish in
    (``read_back``: the episodes as the format reads them back, ``Format.read_back``)."""

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
        with _signals_deferred() as check:
            futures = [pool.submit(_worker, job) for job in jobs]
            for s, future in enumerate(futures):
                while not future.done():
                    check()  # a safe point: this thread holds no future's lock here
                    report(block=True)
                check()
                positions[s], pieces = future.result()
                for piece in pieces:
                    record(*piece)
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    report(block=False)
    return positions


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM held back while the main thread polls the pool, and handed to the
    handler that was in place at a safe point: the ``check()`` this yields.

    A handler that raises (Ctrl-C's KeyboardInterrupt, the command line's SIGTERM) can land
    between a lock's acquire and the ``with`` that would release it: ``Future.done()`` then
    keeps the future's lock, and the pool's manager thread, cancelling that future at
    shutdown, waits for it forever (a generate that hung after SIGTERM). ``check()`` is called
    where this thread holds no lock. Only Python-level handlers are deferred; SIG_DFL and
    SIG_IGN act as they would."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None  # handlers can be set only there; an embedding program keeps its own
        return
    noted: list[tuple[int, object]] = []
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    deferred = {sig: h for sig, h in old.items() if callable(h)}
    for sig in deferred:
        signal.signal(sig, lambda signum, frame: noted.append((signum, frame)))

    def check() -> None:
        while noted:
            signum, frame = noted.pop(0)
            deferred[signum](signum, frame)

    try:
        yield check
    finally:
        for sig, handler in deferred.items():
            signal.signal(sig, handler)
        check()  # one that came after the last check


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
# every field write_dataset writes that a reader or verify relies on
_REQUIRED = (
    "format_version", "task", "task_version", "knobs", "seed", "split", "start", "num_episodes",
    "format", "features", "files", "content_hash",
)  # fmt: skip
# ... and load_dataset: the dataset and its source files instead of a task and seed
_REQUIRED_LOADED = (
    "format_version", "dataset", "dataset_version", "knobs", "split", "start", "num_episodes",
    "format", "features", "files", "content_hash", "sources",
)  # fmt: skip
_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
     "float32", "float64"]
)  # fmt: skip
_MAX_WIDTH = 1 << 20  # the widest row a feature may declare: bounds what a reader allocates
_INDEX_STOP = 2**63 - 1  # episode indices are int64, and so is the stop of a range of them
_SAMPLE = 16  # episodes verify regenerates: the first, the last and others at random


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
    loaded = "task" not in m and "dataset" in m  # written by load_dataset
    missing = [k for k in (_REQUIRED_LOADED if loaded else _REQUIRED) if k not in m]
    if missing:
        bad(f"lacks {', '.join(missing)}")
    if not _is_int(m["format_version"]) or m["format_version"] != FORMAT_VERSION:
        bad(f"format_version must be {FORMAT_VERSION}, got {_show(m['format_version'])}")
    kind = "dataset" if loaded else "task"
    task, version = m[kind], m[f"{kind}_version"]
    match = _ID.match(task) if isinstance(task, str) else None
    if match is None:
        bad(f"{kind} must be a versioned {kind} id like 'family/name-v1', got {_show(task)}")
    if not _is_int(version) or version != int(match.group("version")):
        got = _show(version)
        bad(f"{kind}_version must be {match.group('version')} ({kind} {task}), got {got}")
    if not isinstance(m["knobs"], dict):
        bad(f"knobs must be an object of knob values, got {_show(m['knobs'])}")
    if loaded:
        _check_sources(m["sources"], bad)
    elif not _is_int(m["seed"], 0, 2**64 - 1):
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
    try:
        fmt = get_format(m["format"])
    except MemtasksError as exc:
        bad(str(exc))
    if not _is_hash(m["content_hash"]):
        bad(f"content_hash must be 64 lowercase hex digits, got {_show(m['content_hash'])}")
    _check_features(m["features"], bad)
    _check_files(m, folder, bad)
    fmt.check_manifest(m, folder)


def _check_sources(sources: Any, bad: Callable[[str], None]) -> None:
    """``sources``: the original files a loaded dataset was read from, {name, sha256, bytes}."""
    if not isinstance(sources, list):
        bad(f"sources must be a list of {{name, sha256, bytes}}, got {_show(sources)}")
    for k, entry in enumerate(sources):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and _is_hash(entry.get("sha256"))
            and _is_int(entry.get("bytes"))
        ):
            bad(
                f"sources[{k}] must be {{name: string, sha256: 64 hex digits, bytes: integer}}, "
                f"got {_show(entry)}"
            )


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
    if get_format(m["format"]).single_file and isinstance(files, list) and len(files) != 1:
        bad(f"format {m['format']} keeps its episodes in one file; files lists {len(files)}")
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
    fmt, types = get_format(manifest["format"]), manifest["features"]
    for k, entry in enumerate(manifest["files"]):
        file = _listed_file(path, entry["path"])
        for batch in fmt.read(file, manifest):
            _check_piece(batch, types, file)
            yield k, batch


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
    digest: str  # the content hash recomputed (a lossy format: of the episodes read back)
    episodes: int
    regenerated: int  # episodes regenerated from the manifest and found equal (0: not asked)
    left_out: int = 0  # dedup: episodes left out between stored ones, found training stories


def verify_dataset(
    path: str | os.PathLike, batch: EpisodeBatch | None = None, *, regenerate: bool = True
) -> str:
    """Check a dataset folder (``check_dataset``); raise ``StorageError`` naming the first thing
    that is wrong, else return the recomputed content hash.

    A folder in a format that does not store episodes exactly (a family's text) is checked
    against the hash the format recorded of the episodes as read back (``Format.read_back``,
    ``Format.expected_hash``); the digest returned is that one."""
    return check_dataset(path, batch, regenerate=regenerate).digest


def check_dataset(
    path: str | os.PathLike, batch: EpisodeBatch | None = None, *, regenerate: bool = True
) -> Verification:
    """Everything ``verify`` proves about a dataset folder, or a ``StorageError`` of one line:

    - the manifest has the structure ``write_dataset`` writes, its counts agree, and every file
      it lists lies inside the folder;
    - every stored piece reads, with the dtypes and widths of ``features``, and the content hash
      of all episodes (``Format.expected_hash``) and their number are the manifest's;
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
    expected = get_format(manifest["format"]).expected_hash(manifest)
    loaded = "task" not in manifest  # from source files (load_dataset): nothing to regenerate
    if loaded:
        _loaded_checks(manifest, file)
    generator = _generator(manifest, file) if regenerate and not loaded else None
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
    descriptions of them (layout, metric, preset, the format's entry) checked against it."""
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
    get_format(manifest["format"]).check_generator(spec, knobs, manifest, bad)
    return spec, knobs


def _loaded_checks(manifest: dict[str, Any], file: Path) -> None:
    """A loaded dataset's manifest against the installed dataset spec, where there is one:
    knobs it takes, its metric (its episodes came from files and are not regenerated)."""
    from .registry import _DATASETS, _ensure_loaded

    _ensure_loaded()
    spec = _DATASETS.get(manifest["dataset"])
    if spec is None:
        return  # data of a dataset this install does not know: the stored data is checked
    try:
        knobs = spec.knobs.from_values(manifest["knobs"])
    except (MemtasksError, TypeError, ValueError) as exc:
        raise StorageError(
            f"{file}: knobs {_show(manifest['knobs'])} are not knobs of {spec.id}: {exc}"
        ) from None
    if _canonical(knobs.to_dict()) != _canonical(manifest["knobs"]):
        raise StorageError(
            f"{file}: knobs {_show(manifest['knobs'])} are not the full knob values of "
            f"{spec.id} ({_show(knobs.to_dict())})"
        )
    if manifest.get("split") not in spec.splits:
        raise StorageError(
            f"{file}: split {_show(manifest.get('split'))} is not one of {spec.id}'s: "
            f"{', '.join(spec.splits)}"
        )
    if "metric" in manifest and manifest["metric"] != spec.metric.name:
        raise StorageError(
            f"{file}: metric {_show(manifest['metric'])} is not {spec.id}'s ({spec.metric.name})"
        )


def _regenerate(generator, manifest: dict[str, Any], sampled: dict[int, int], file: Path) -> int:
    """Regenerate the sampled episodes from the manifest's task, knobs, seed and split and
    compare their hashes with the stored ones; returns how many were compared."""
    spec, knobs = generator
    task, seed, split = manifest["task"], manifest["seed"], manifest["split"]
    fmt = get_format(manifest["format"])
    for number, (index, stored) in enumerate(sorted(sampled.items())):
        try:
            fresh = spec.generate(1, seed, split, start=index, knobs=knobs)
        except MemtasksError as exc:
            raise StorageError(f"{file}: episode {index} cannot be regenerated: {exc}") from None
        if number == 0 and _canonical(features(fresh)) != _canonical(manifest["features"]):
            raise StorageError(f"{file}: features are not the ones {task} makes with these knobs")
        if episode_hashes(fmt.read_back(fresh) if fmt.lossy else fresh)[0] != stored:
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
    """The Parquet shards as a ``datasets.Dataset`` (via ``datasets.load_dataset``), vector
    columns as nested lists of numbers (``[T, D]`` arrays under ``with_format("numpy")``)
    whichever layout the files store them in: the byte rows of the default layout are given
    the type of the nested one over the same memory (``formats.parquet.as_lists``)."""
    import datasets

    from .formats.parquet import as_lists

    path = Path(path)
    manifest = read_manifest(path)  # refuses files outside the folder
    if manifest["format"] != "parquet":
        raise StorageError(f"{path} holds {manifest['format']}; Hugging Face loading needs parquet")
    files = [str(_listed_file(path, f["path"])) for f in manifest["files"]]
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    table = ds.data.table
    nested = as_lists(table, manifest)
    if nested is table:
        return ds
    return datasets.Dataset(nested, split=ds.split)  # features inferred from the nested types
