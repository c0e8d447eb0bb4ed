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
from .errors import LoaderError, MemtasksError, StorageError
from .hashing import ContentHasher, episode_hashes
from .registry import TaskSpec, check_count, check_seed, check_split, get_spec

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


def _worker_init(threads: int, done) -> None:
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
) -> dict[str, Any]:
    """Generate episodes ``start .. start + n - 1`` of a task into the folder ``out``.

    Everything is validated before anything is written. ``shards`` defaults to one per about
    500 MB. ``workers > 1`` writes shards in that many processes. ``progress`` is called with
    the number of episodes finished since its last call. Returns the manifest.

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
    n, start = check_count("n", n), check_count("start", start)
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
    if format == "babi":
        shards = min(workers, n)  # pieces written in parallel, then joined
    elif shards is None:
        shards = max(1, min(n, -(-n * bytes_per_episode // (500 << 20))))
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= n:
        raise MemtasksError(f"shards must be an integer in [1, n={n}], got {shards!r}")
    # which stream indices each shard holds: start .. start + n - 1, or with dedup the first
    # n whose story is not a training story (this may raise: still nothing is written)
    kept = dedup.plan(spec, knob_values, seed, split, start, n, against, chunk) if against else None
    cut = [(s * n) // shards for s in range(shards + 1)]
    if kept is None:
        spans = [(start + cut[s], start + cut[s + 1], None) for s in range(shards)]
    else:
        spans = []
        for s in range(shards):
            lo, hi = int(kept.kept[cut[s]]), int(kept.kept[cut[s + 1] - 1]) + 1
            spans.append((lo, hi, kept.skipped_in(lo, hi)))

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the folder {out.parent}: {exc.strerror}") from None
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        tmp.mkdir(parents=True)
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
        # the manifest is written last: a folder without it is never a finished dataset
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


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

    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_init,
        initargs=(threads, done),
    ) as pool:  # fmt: skip
        futures = [pool.submit(_worker, job) for job in jobs]
        for s, future in enumerate(futures):
            while not future.done():
                report(block=True)
            positions[s], pieces = future.result()
            for piece in pieces:
                record(*piece)
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
        if manifest["format"] == "babi":
            yield _read_babi(file, manifest)
        elif manifest["format"] == "parquet":
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
    """Recompute the content hash; raise ``StorageError`` if it differs from the manifest.

    A babi text folder is checked against ``babi.read_back_hash``, the hash of the episodes
    as the text gives them back (see ``as_read_back``); the digest returned is that one."""
    manifest = read_manifest(path)
    expected = manifest["content_hash"]
    if manifest["format"] == "babi":
        expected = _babi_manifest(manifest, Path(path))["read_back_hash"]
    hasher = ContentHasher()
    for piece in [batch] if batch is not None else iter_batches(path):
        hasher.update(piece)
    digest = hasher.hexdigest()
    if digest != expected or hasher.episodes != manifest["num_episodes"]:
        raise StorageError(
            f"{path}: content hash {digest[:16]}... of {hasher.episodes} episodes does not match "
            f"the manifest's {expected[:16]}... of {manifest['num_episodes']}"
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


def _babi_manifest(manifest: dict[str, Any], where: Path) -> dict[str, Any]:
    babi = manifest.get("babi")
    needed = {"read_back_hash", "indices", "shuffled"}
    if (
        not isinstance(babi, dict)
        or needed - set(babi)
        or "vocab" not in manifest.get("layout", {})
    ):
        raise StorageError(
            f"{where}: a babi text dataset's {MANIFEST} needs layout.vocab and babi."
            f"{{{', '.join(sorted(needed))}}} to be read back"
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
        raise StorageError(str(exc)) from None
    index = np.concatenate(
        [np.arange(lo, hi, dtype=np.int64) for lo, hi in babi["indices"]] or [np.zeros(0, int)]
    )
    if len(index) != len(batch):
        raise StorageError(
            f"{file} holds {len(batch)} stories; {MANIFEST} lists {len(index)} episode indices"
        )
    meta = dict(batch.meta)
    widths = {k: w for k, (_, w) in manifest.get("features", {}).get("meta", {}).items()}
    for k in ("question_template", "support_distance"):
        width = widths.get(k)
        if width is not None and k in meta and meta[k].shape[1] != width:
            # the generator's width is its knobs' question bound; the text's is its longest story
            fitted = np.full((len(batch), width), -1, np.int32)
            keep = min(width, meta[k].shape[1])
            fitted[:, :keep] = meta[k][:, :keep]
            meta[k] = fitted
    for k, (dtype, _) in manifest.get("features", {}).get("meta", {}).items():
        if k in meta:
            meta[k] = meta[k].astype(dtype, copy=False)
    if widths.get("question_template") is not None:
        # the generator counts the questions it records a template for
        meta["questions"] = np.minimum(meta["questions"], widths["question_template"])
    return EpisodeBatch.trusted(**{**batch.__dict__, "index": index, "meta": meta,
                                   "task": manifest["task"]})  # fmt: skip


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
