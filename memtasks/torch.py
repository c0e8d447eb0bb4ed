"""PyTorch adapters: collate episodes into tensors, and datasets over stored or generated episodes.

Needs the optional extra ``memtasks[torch]``. Three pieces:

``collate(batch_or_list)``
    ``views.padded`` as tensors: the batch every reference model takes (DESIGN.md section 6).
    It accepts an ``EpisodeBatch`` or a list of them, so it is also a DataLoader ``collate_fn``.

``EpisodeDataset(batch)``
    A map-style dataset over episodes in memory (for example a dataset read from disk)::

        loader = DataLoader(EpisodeDataset(batch), batch_size=32, shuffle=True, collate_fn=collate)

``EpisodeStream(task, batch_size, seed)``
    An iterable dataset that generates batches on the fly, so training needs no dataset on
    disk. It yields ready collated batches, so the DataLoader must not batch again::

        stream = EpisodeStream("ntm/copy-v1", batch_size=32, seed=0, num_batches=1000)
        loader = DataLoader(stream, batch_size=None, num_workers=4, pin_memory=True)

    Batch ``k`` holds episodes ``start + k * batch_size`` onwards. Workers (and
    ``torch.distributed`` ranks) take disjoint batches, and the DataLoader hands them out in
    the order k = 0, 1, 2, ... whatever the number of workers: the data a model sees does not
    depend on how it was loaded.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from .episode import EpisodeBatch
from .errors import KnobError, MemtasksError
from .knobs import Knobs
from .registry import TaskSpec, check_count, check_range, get_spec
from .views import PaddedBatches, pad_batches, padded, padded_batches, qa, value_dtype

__all__ = ["EpisodeDataset", "EpisodeStream", "collate", "collate_qa"]


def _as_batch(batch_or_list: EpisodeBatch | Sequence[EpisodeBatch]) -> EpisodeBatch:
    if isinstance(batch_or_list, EpisodeBatch):
        return batch_or_list
    batches = list(batch_or_list)
    if not batches or not all(isinstance(b, EpisodeBatch) for b in batches):
        raise TypeError("collate takes an EpisodeBatch or a non-empty list of EpisodeBatch")
    return batches[0] if len(batches) == 1 else EpisodeBatch.concat(batches)


def _to_tensor(array: np.ndarray) -> torch.Tensor | np.ndarray:
    """A tensor sharing the array's memory; arrays torch cannot hold (strings) stay NumPy."""
    if array.dtype.kind not in "biuf":
        return array
    if not array.flags.writeable:  # torch warns on read-only memory (Arrow buffers): copy once
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array))


_COLLATE_DTYPES = {
    vector: {"inputs": value_dtype(vector), "targets": value_dtype(vector), "segment": np.int64}
    for vector in (False, True)
}


def _tensors(chunk: PaddedBatches, g: int) -> dict[str, Any]:
    """Batch ``g`` of a padded chunk as CPU tensors sharing its memory (``collate``'s keys).

    ``chunk.arrays(g)`` and ``torch.from_numpy`` of each, in one pass without the dict in
    between: a training loop asks for every batch, and this Python work costs about as much
    as generating 64 copy episodes."""
    first, stop = chunk.span(g)
    b, t, lo, hi = stop - first, chunk._steps[g], chunk._starts[g], chunk._starts[g + 1]
    from_numpy = torch.from_numpy
    tensors: dict[str, Any] = {
        name: from_numpy(flat[lo * width : hi * width].reshape((b, t, width) if vector else (b, t)))
        for name, flat, width, vector in chunk._columns
    }
    tensors["lengths"] = from_numpy(chunk.lengths[first:stop])
    tensors["index"] = from_numpy(chunk.index[first:stop])
    tensors["meta"] = {
        k: from_numpy(v[first:stop]) if plain else _to_tensor(v[first:stop])
        for k, v, plain in _meta_columns(chunk)
    }
    return tensors


def _meta_columns(chunk: PaddedBatches) -> list:
    """(name, array, whether ``torch.from_numpy`` takes its slices as they are), once a chunk."""
    columns = getattr(chunk, "_meta_columns", None)
    if columns is None:
        columns = chunk._meta_columns = [
            (k, v, v.dtype.kind in "biuf" and v.flags.writeable and v.flags.c_contiguous)
            for k, v in chunk.meta.items()
        ]
    return columns


def _place(tensors: dict[str, Any], device, pin_memory: bool) -> dict[str, Any]:
    """Pin and/or move every tensor (nested one level for ``meta``)."""
    if pin_memory and not torch.cuda.is_available():
        warnings.warn("pin_memory=True but no CUDA device is available: not pinning", stacklevel=3)
        pin_memory = False
    if not pin_memory and device is None:
        return tensors

    def place(t):
        if not isinstance(t, torch.Tensor):
            return t
        if pin_memory:
            t = t.pin_memory()
        return t if device is None else t.to(device, non_blocking=pin_memory)

    return {
        k: {m: place(v) for m, v in t.items()} if isinstance(t, dict) else place(t)
        for k, t in tensors.items()
    }


def collate(
    batch_or_list: EpisodeBatch | Sequence[EpisodeBatch],
    device: torch.device | str | None = None,
    pin_memory: bool = False,
) -> dict[str, Any]:
    """Padded tensors of a batch (or of a list of batches, concatenated in order).

    =========== ================================================================================
    key         tensor
    =========== ================================================================================
    inputs      ``float32[B, T, D_in]`` (vector tasks) or ``int64[B, T]`` token ids (token tasks)
    targets     ``float32[B, T, D_out]`` or ``int64[B, T]``; padding 0
    mask        ``bool[B, T]``, False on padding: the positions to score
    role        ``int8[B, T]``, -1 on padding
    segment     ``int64[B, T]``, -1 on padding
    lengths     ``int64[B]``
    index       ``int64[B]``, each episode's index in its stream
    meta        ``{name: tensor [B] or [B, k]}`` (a field torch cannot hold stays a NumPy array)
    =========== ================================================================================

    The tensors are made with ``torch.from_numpy`` from the padded arrays, so the padding (and
    the cast to float32 / int64, done in the same pass: ``views.pad_batches``) is the only
    copy. ``pin_memory`` pins them for an asynchronous copy to ``device``; inside a DataLoader
    prefer its own ``pin_memory=True`` and move the batch in the training loop.
    """
    batch = _as_batch(batch_or_list)
    chunk = pad_batches(batch, max(1, len(batch)))
    if not len(chunk):  # no episodes: one empty batch all the same
        arrays = padded(batch, dtypes=_COLLATE_DTYPES[batch.is_vector])
        tensors: dict[str, Any] = {k: torch.from_numpy(v) for k, v in arrays.items()}
        tensors["meta"] = {k: _to_tensor(v) for k, v in batch.meta.items()}
        return _place(tensors, device, pin_memory)
    return _place(_tensors(chunk, 0), device, pin_memory)


def collate_qa(
    batch_or_list: EpisodeBatch | Sequence[EpisodeBatch],
    device: torch.device | str | None = None,
    pin_memory: bool = False,
    *,
    max_sentences: int | None = None,
) -> dict[str, Any]:
    """``views.qa`` as tensors (int64 token ids and indices): the batch memory networks take.

    Keys are the fields of ``views.QABatch``: ``sentences [S, n_sentences, sentence_len]``,
    ``sentence_counts``, ``sentence_segment``, ``query``, ``answer``, ``support``,
    ``support_rows``, ``episode``, ``index``, ``answer_ordinal``. ``S`` is the number of answer
    spans, so a batch of B stories with several questions each gives more than B samples.
    """
    view = qa(_as_batch(batch_or_list), max_sentences=max_sentences)
    tensors = {
        k: torch.from_numpy(v.astype(np.int64, copy=False)) for k, v in view.arrays().items()
    }
    return _place(tensors, device, pin_memory)


class EpisodeDataset(Dataset):
    """Map-style dataset over an in-memory ``EpisodeBatch``; item ``i`` is ``batch[i]``.

    Items are one-episode batches (views, no copy); ``collate`` joins a list of them. A list of
    indices gives one batch of those episodes, so a ``BatchSampler`` with ``batch_size=None`` on
    the DataLoader fetches a whole batch in one gather instead of B single episodes.
    """

    def __init__(self, batch: EpisodeBatch):
        if not isinstance(batch, EpisodeBatch):
            raise TypeError(f"EpisodeDataset takes an EpisodeBatch, got {type(batch).__name__}")
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch)

    def __getitem__(self, i) -> EpisodeBatch:
        return self.batch[i]


def _shard() -> tuple[int, int]:
    """This process's shard ``(s, S)`` over DataLoader workers and distributed ranks.

    Rank r of R takes batches k with k % R == r; its worker w of W takes every W-th of those,
    so shard ``r + R * w`` of ``R * W``. Within a rank, the DataLoader asks workers in turn, so
    it yields the rank's batches in increasing k.
    """
    rank, world = 0, 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    info = get_worker_info()
    worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
    return rank + world * worker, world * workers


def _ahead(units: Iterator[Any], make: Callable[[Any], Any], ahead: int) -> Iterator[Any]:
    """``make(u)`` for every unit ``u`` of ``units``, in order; a background thread makes up to
    ``ahead`` of them ahead of the one wanted.

    The kernels release the GIL (``nogil``), so the thread's generation overlaps whatever this
    thread does meanwhile (the training step; wrapping batches in tensors), and pauses while
    this one generates. This thread never waits long for the thread: a unit nobody has begun it
    makes itself, and one the thread began but has not finished in ``_LATE`` times the time
    units take (a machine busy with other work left it no core) it makes again, keeping
    whichever copy is done first. Units are made independently
    and the same whoever makes them, so nothing yielded depends on it. The thread runs Numba on
    one thread: its kernels never start the thread pool, so it cannot collide with parallel
    generation elsewhere in the process.
    """
    import threading
    import time

    lock = threading.Condition()
    made: dict[int, Any] = {}  # unit number -> item (or _Failed)
    begun: dict[int, tuple[Any, float]] = {}  # units the thread is making: (unit, when begun)
    taken = 0  # units taken from ``units`` so far (unit j is the j-th)
    wanted = 0  # the unit this thread yields next
    end: int | None = None  # how many units there are, once ``units`` is exhausted
    stopped = False
    consuming = False  # this thread is making a unit itself
    typical = [1e-3]  # seconds a unit takes (a running average; a guess to begin with)

    def take() -> tuple[int, Any] | None:
        """The next unit, numbered (under the lock); None when there are no more."""
        nonlocal taken, end
        if end is not None:
            return None
        try:
            unit = next(units)
        except StopIteration:
            end = taken
            return None
        taken += 1
        return taken - 1, unit

    def timed(unit: Any) -> Any:
        began = time.perf_counter()
        try:
            item = make(unit)
        except Exception as exc:  # raised in the consumer, in order
            item = _Failed(exc)
        typical[0] = 0.8 * typical[0] + 0.2 * (time.perf_counter() - began)
        return item

    def keep(j: int, item: Any) -> None:
        """Under the lock: the first copy of unit ``j`` made is the one yielded."""
        if j >= wanted and j not in made:
            made[j] = item
        begun.pop(j, None)
        lock.notify_all()

    def produce() -> None:
        nonlocal end
        import numba

        numba.set_num_threads(1)  # per thread: this thread's kernels stay serial
        while True:
            with lock:
                # not while this thread's consumer makes one itself: two threads generating
                # at once only fight over the cores where none is free; the thread is for
                # the time the consumer spends elsewhere (its training step, the tensors)
                while not stopped and end is None and (taken - wanted >= ahead or consuming):
                    lock.wait(0.1)
                if stopped:
                    return
                try:
                    got = take()
                except BaseException as exc:  # ``units`` itself failed: raised in order
                    made[taken], end = _Failed(exc), taken + 1
                    lock.notify_all()
                    return
                if got is None:
                    return
                begun[got[0]] = (got[1], time.perf_counter())
            item = timed(got[1])
            with lock:
                keep(got[0], item)

    thread = threading.Thread(target=produce, name="memtasks-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            with lock:
                while wanted not in made:
                    if end is not None and wanted >= end:
                        return
                    if wanted in begun:  # the thread is making it: wait, but not for long
                        unit, began = begun[wanted]
                        late = began + _LATE * typical[0] - time.perf_counter()
                        if late > 0:
                            lock.wait(late)
                            continue
                        mine = (wanted, unit)  # the thread has no core: make it here too
                    else:  # nobody has begun it: make it here
                        mine = take()
                        if mine is None:
                            continue
                    consuming = True
                    lock.release()
                    try:
                        item = timed(mine[1])
                    finally:
                        lock.acquire()
                        consuming = False
                    keep(mine[0], item)
                item = made.pop(wanted)
                wanted += 1
                lock.notify_all()  # room for the thread to make one more
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:  # the consumer stopped early, finished or failed: let the thread end
        with lock:
            stopped = True
            lock.notify_all()


# a unit the thread began this many times as long ago as units take is made here as well (the
# thread has no core: the machine is busy with other work)
_LATE = 1.5


class _Failed:
    """An exception raised while making a unit in the background, raised again in order."""

    def __init__(self, exc: BaseException):
        self.exc = exc


# Batches are made in chunks of consecutive batches, one generator call and one padding pass
# per chunk, so that the fixed cost of a call (tens of microseconds of Python and Numba
# dispatch, as much as generating 64 copy episodes) is paid once per chunk. A chunk holds up to
# this many bytes of padded tensors (and at least one batch), and at most MAX_CHUNK batches:
# measured on the copy task, 2 MB chunks beat 0.5, 1 and 4 MB ones (larger ones leave the
# caches before their tensors are read; smaller ones pay the calls more often)
CHUNK_BYTES = 2 << 20
MAX_CHUNK = 16


class _BufferPool:
    """Host memory for chunks of padded batches, reused once nothing refers to it.

    The tensors handed out are views of a chunk's buffer (``torch.from_numpy`` keeps a
    reference to it), so a buffer is free again exactly when no tensor of its batches is alive:
    its reference count says so. A training loop that drops each batch after its step reuses
    two or three buffers that stay in the cache, instead of asking the allocator (and the page
    faults of fresh memory) for every batch; a caller that keeps batches keeps their buffers,
    and the pool allocates others. Buffers are only ever written while free, so a batch never
    changes under its holder.
    """

    def __init__(self, keep: int):
        import threading

        self.keep = keep
        self.buffers: list[np.ndarray] = []
        # a prefetching stream makes chunks in two threads: a buffer found free is handed to
        # one of them, whose reference marks it taken before the other may look
        self.lock = threading.Lock()

    def __call__(self, nbytes: int) -> np.ndarray:
        with self.lock:
            for i in range(len(self.buffers)):
                # references: the list's, and getrefcount's argument; any more are views of it
                if sys.getrefcount(self.buffers[i]) == 2:
                    if self.buffers[i].nbytes >= nbytes:
                        buffer = self.buffers[i]
                        return buffer
                    del self.buffers[i]  # free but too small: replace it
                    break
            if len(self.buffers) >= self.keep:
                del self.buffers[0]  # in use: its holders keep it alive, the pool forgets it
            # some room, so that the next chunk (whose longest episodes differ) fits as well
            buffer = np.empty(nbytes + nbytes // 4 + 4096, np.uint8)
            self.buffers.append(buffer)
            return buffer


def _pinned(nbytes: int) -> np.ndarray:
    """Pinned host memory from torch's caching host allocator, as NumPy bytes. The allocator
    reuses a block only once the asynchronous copies from it recorded have completed, which a
    pool of our own could not see; its blocks are reused across chunks all the same."""
    return torch.empty(nbytes, dtype=torch.uint8, pin_memory=True).numpy()


class _Chunks:
    """Makes a stream's batches as padded chunks (``views.padded_batches``) and hands them out
    as ``collate``'s tensors; what ``EpisodeStream`` runs unless a ``collate_fn`` or an
    overridden ``batch`` asks for the general path."""

    def __init__(self, stream: EpisodeStream, contiguous: bool):
        self.spec = stream.spec
        self.knobs, self.batch_size, self.start = stream.knobs, stream.batch_size, stream.start
        self.key = self.spec.key(stream.knobs, stream.seed, stream.split)
        self.device = None if stream.device is None else torch.device(stream.device)
        self.cuda = self.device is not None and self.device.type == "cuda"
        self.allocate = _pinned if self.cuda else _BufferPool(keep=3 + stream.prefetch)
        self.contiguous = contiguous
        self.size = 1  # batches per chunk

    def make(self, group: tuple[int, int]) -> PaddedBatches:
        """Batches ``k .. k + count - 1`` as one padded chunk, for ``group = (k, count)``."""
        k, count = group
        first = self.start + k * self.batch_size
        n = count * self.batch_size
        check_range(first, n)  # an endless stream reaching the last int64 index
        chunk = padded_batches(
            self.spec, self.knobs, self.key, first, n, self.batch_size, self.allocate
        )
        if self.contiguous:  # how many batches the next chunks hold
            per_batch = sum(a.nbytes for a in chunk.fields.values()) // max(1, len(chunk))
            self.size = max(1, min(MAX_CHUNK, CHUNK_BYTES // max(1, per_batch)))
        return chunk

    def groups(self, ks: Iterator[int]) -> Iterator[tuple[int, int]]:
        """``(k, count)`` of the chunks of the batches ``ks``, in order: consecutive batches
        together when ``ks`` counts up by one (this process takes every batch), else one
        batch each. The first chunk holds one batch; its size sets the others' (``make``)."""
        while True:
            group = list(itertools.islice(ks, self.size))
            if not group:
                return
            yield group[0], len(group)

    def tensors(self, chunk: PaddedBatches, g: int) -> dict[str, Any]:
        """Batch ``g`` of ``chunk`` as tensors on the stream's device."""
        if not self.cuda:
            return _place(_tensors(chunk, g), self.device, False)
        return {  # from pinned memory: an asynchronous copy the allocator keeps track of
            k: {m: t.to(self.device, non_blocking=True) for m, t in v.items()}
            if isinstance(v, dict)
            else v.to(self.device, non_blocking=True)
            for k, v in _pinned_tensors(chunk, g).items()
        }

    def placed(self, group: tuple[int, int]) -> list[dict[str, Any]]:
        """The batches of ``group`` on the (CUDA) device, copies under way."""
        chunk = self.make(group)
        return [self.tensors(chunk, g) for g in range(len(chunk))]


def _pinned_tensors(chunk: PaddedBatches, g: int) -> dict[str, Any]:
    """Batch ``g`` of a chunk in pinned memory as views of the pinned tensor itself
    (``torch.from_numpy`` would make tensors whose memory the caching host allocator does not
    know, and it could hand the block to the next chunk before an asynchronous copy from it
    ran). Arrays outside the block (the index, meta) become tensors as ``_tensors`` makes them."""
    owner = chunk.fields["inputs"]
    while not isinstance(owner, torch.Tensor):  # views of views of the allocation
        owner = owner.base
    start, size = owner.data_ptr(), owner.numel()
    out: dict[str, Any] = {}
    for name, array in chunk.arrays(g).items():
        offset = array.__array_interface__["data"][0] - start
        if offset >= 0 and offset + array.nbytes <= size:
            piece = owner[offset : offset + array.nbytes].view(_TORCH_DTYPES[array.dtype.type])
            out[name] = piece.view(array.shape)
        else:
            out[name] = torch.from_numpy(np.ascontiguousarray(array))
    first, stop = chunk.span(g)
    out["meta"] = {k: _to_tensor(v[first:stop]) for k, v in chunk.meta.items()}
    return out


_TORCH_DTYPES = {
    np.float32: torch.float32,
    np.int64: torch.int64,
    np.bool_: torch.bool,
    np.int8: torch.int8,
}


class EpisodeStream(IterableDataset):
    """Batches of ``task`` generated on the fly: ``num_batches`` of them, or endless (None).

    Batch ``k`` (k = 0, 1, ...) is episodes ``start + k * batch_size`` to
    ``start + (k + 1) * batch_size - 1`` of ``(task, knobs, seed, split)``, collated (see
    ``collate``). Use it with ``DataLoader(stream, batch_size=None, num_workers=W)``: each worker
    generates every W-th batch (and each ``torch.distributed`` rank every R-th), so no episode is
    generated twice, and the loader yields batches in the order k = 0, 1, 2, ... for any W.
    Inside a worker Numba runs on one thread, so that W workers do not fight over the cores; in
    the main process (``num_workers=0``) generation uses all of them.

    ``knobs`` is a dict of knob values (on top of ``preset``) or a ready ``Knobs`` object. They
    are validated here, so a bad knob fails at construction rather than inside a worker.
    ``device`` moves each batch there; use it only with ``num_workers=0`` (worker processes
    should not touch CUDA: pass ``pin_memory=True`` to the DataLoader instead).

    ``collate_fn(episodes, device)`` replaces ``collate`` (e.g. ``collate_qa`` with its options,
    or a model's own ``collate``).

    How batches are made (unless ``collate_fn`` is given or ``batch``/``collated`` replaced):
    consecutive batches together in chunks (up to ``MAX_CHUNK`` of them, about
    ``CHUNK_BYTES`` of tensors), each chunk by one call that generates its episodes straight
    into padded batches (``views.padded_batches``: the task's padded generator, else one padding
    pass per field), into host memory reused once no tensor of its batches is alive
    (``_BufferPool``; pinned memory from torch's caching allocator for a CUDA ``device``). The
    tensors are those ``collate`` makes of the same episodes (tests/test_torch.py); a process
    that takes every W-th batch (workers, ranks) makes one batch per chunk.

    ``prefetch=N`` makes up to N chunks ahead in a background thread of this process (and,
    with a CUDA ``device``, copies their batches to the GPU from there, asynchronously); this
    thread makes the next chunk itself rather than wait, so prefetching is never slower than
    none, and faster where a core is free (``benchmarks/bench_stream.py``). Prefer it to
    DataLoader workers: a batch of 64 copy episodes takes about 20 us to make, while handing its
    tensors from a worker process to the main one costs a few milliseconds (torch shares every
    tensor through its own shared-memory file; measured on a 2-core machine, see
    ``benchmarks/gpu_stream.py``).
    """

    def __init__(
        self,
        task: str,
        batch_size: int,
        seed: int = 0,
        split: str = "train",
        *,
        preset: str | None = None,
        knobs: Mapping[str, Any] | Knobs | None = None,
        start: int = 0,
        num_batches: int | None = None,
        device: torch.device | str | None = None,
        prefetch: int = 0,
        collate_fn: Callable[..., dict[str, Any]] | None = None,
    ):
        # Keep the task id, not its spec (whose layout may be a lambda): the stream must pickle
        # for DataLoader workers started with spawn or forkserver.
        self.task = get_spec(task).id
        if isinstance(knobs, Knobs):
            if preset is not None:
                raise KnobError("pass either a Knobs object or a preset (with knob values)")
            if not isinstance(knobs, self.spec.knobs):
                raise KnobError(
                    f"{self.task} takes {self.spec.knobs.__name__}, got {type(knobs).__name__}"
                )
            self.knobs = knobs
        else:
            self.knobs = self.spec.make_knobs(preset, **dict(knobs or {}))
        self.spec.key(self.knobs, seed, split)  # checks seed and split now, not in a worker
        self.batch_size = check_count("batch_size", batch_size)
        if self.batch_size == 0:
            raise MemtasksError("batch_size must be at least 1")
        self.seed, self.split = seed, split
        self.start = check_range(start, self.batch_size)  # later batches: spec.generate
        self.num_batches = None if num_batches is None else check_count("num_batches", num_batches)
        self.device = device
        self.prefetch = check_count("prefetch", prefetch)
        self.collate_fn = collate_fn

    @property
    def spec(self) -> TaskSpec:
        return get_spec(self.task)

    def __len__(self) -> int:
        """Batches this process yields (all of them, or its rank's share under distributed)."""
        if self.num_batches is None:
            raise TypeError("an endless EpisodeStream (num_batches=None) has no length")
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        return len(range(rank, self.num_batches, world))

    def batch(self, k: int) -> EpisodeBatch:
        """Batch ``k`` of the stream as an ``EpisodeBatch`` (not collated)."""
        first = self.start + k * self.batch_size
        return self.spec.generate(
            self.batch_size, self.seed, self.split, start=first, knobs=self.knobs
        )

    def collated(self, k: int) -> dict[str, Any]:
        """Batch ``k`` as tensors, on ``device``. A CUDA device gets pinned host memory and an
        asynchronous copy, so a prefetching thread never waits for the GPU."""
        if self.collate_fn is not None:
            return self.collate_fn(self.batch(k), self.device)
        cuda = self.device is not None and torch.device(self.device).type == "cuda"
        return collate(self.batch(k), device=self.device, pin_memory=cuda)

    def _general(self) -> bool:
        """Whether batches go through ``batch`` and ``collated`` one at a time: with a
        ``collate_fn``, or where a subclass or the caller replaced either (they are the
        documented way to change what a batch is)."""
        cls = type(self)
        replaced = (
            cls.batch is not EpisodeStream.batch or cls.collated is not EpisodeStream.collated
        )
        return (
            self.collate_fn is not None
            or replaced
            or "batch" in self.__dict__
            or ("collated" in self.__dict__)
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        shard, shards = _shard()
        worker = get_worker_info() is not None
        if worker:
            import numba

            numba.set_num_threads(1)
        if self.num_batches is None:
            ks = itertools.count(shard, shards)
        else:
            ks = iter(range(shard, self.num_batches, shards))
        ahead = self.prefetch if not worker else 0
        if self._general():
            yield from _ahead(ks, self.collated, ahead) if ahead else map(self.collated, ks)
            return
        maker = _Chunks(self, contiguous=shards == 1)
        groups = maker.groups(ks)
        if maker.cuda:  # tensors made and copied to the GPU by whoever makes the chunk
            make = maker.placed
            for batches in _ahead(groups, make, ahead) if ahead else map(make, groups):
                yield from batches
            return
        # on the CPU the thread hands over whole chunks and this thread wraps each batch in
        # tensors (a few microseconds): one hand-over per chunk, and the Python work that
        # holds the GIL stays in one thread while the kernels run without it in the other
        make = maker.make
        for chunk in _ahead(groups, make, ahead) if ahead else map(make, groups):
            for g in range(len(chunk)):
                yield maker.tensors(chunk, g)

    def __repr__(self) -> str:
        size = "endless" if self.num_batches is None else f"num_batches={self.num_batches}"
        return (
            f"EpisodeStream({self.task}, batch_size={self.batch_size}, seed={self.seed}, "
            f"split={self.split}, start={self.start}, {size}, knobs={self.knobs.to_dict()})"
        )
