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
from .views import padded, qa

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
    the cast to float32 / int64, done in the same pass) is the only copy. ``pin_memory`` pins
    them for an asynchronous copy to ``device``; inside a DataLoader prefer its own
    ``pin_memory=True`` and move the batch in the training loop.
    """
    batch = _as_batch(batch_or_list)
    values = np.float32 if batch.is_vector else np.int64
    arrays = padded(batch, dtypes={"inputs": values, "targets": values, "segment": np.int64})
    tensors: dict[str, Any] = {k: torch.from_numpy(v) for k, v in arrays.items()}
    tensors["meta"] = {k: _to_tensor(v) for k, v in batch.meta.items()}
    return _place(tensors, device, pin_memory)


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


def _prefetched(stream: EpisodeStream, ks: Iterator[int]) -> Iterator[dict[str, Any]]:
    """Batches of ``ks`` made by a background thread, up to ``stream.prefetch`` ahead.

    The kernels release the GIL (``nogil``), so generation overlaps the training step running
    in the main thread. The thread runs Numba on one thread: its kernels never start the
    thread pool, so it cannot collide with parallel generation elsewhere in the process.
    """
    import queue
    import threading

    batches: queue.Queue = queue.Queue(maxsize=stream.prefetch)
    stop = threading.Event()
    done = object()

    def hand_over(item) -> bool:
        """Queue ``item`` unless the consumer has stopped; every put waits this way, the last
        one (``done``, or an exception) too: a plain ``put`` into a full queue that nobody
        reads any more would keep the thread alive for good (a run interrupted near its end)."""
        while not stop.is_set():
            try:
                batches.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        import numba

        numba.set_num_threads(1)  # per thread: this thread's kernels stay serial
        try:
            for k in ks:
                if not hand_over(stream.collated(k)):
                    return
            hand_over(done)
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(exc)

    thread = threading.Thread(target=produce, name="memtasks-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = batches.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:  # the consumer stopped early or finished: let the thread end
        stop.set()


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

    ``prefetch=N`` generates up to N batches ahead in a background thread of this process (and,
    with a CUDA ``device``, copies them to the GPU from there, asynchronously).
    Prefer it to DataLoader workers: a batch of 64 copy episodes takes about 0.15 ms to make
    and collate, while handing its tensors from a worker process to the main one costs a few
    milliseconds (torch shares every tensor through its own shared-memory file; measured on a
    2-core machine, see ``benchmarks/gpu_stream.py``).
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

    def __iter__(self) -> Iterator[dict[str, Any]]:
        shard, shards = _shard()
        if get_worker_info() is not None:
            import numba

            numba.set_num_threads(1)
        if self.num_batches is None:
            ks = itertools.count(shard, shards)
        else:
            ks = iter(range(shard, self.num_batches, shards))
        if self.prefetch and get_worker_info() is None:
            yield from _prefetched(self, ks)
            return
        for k in ks:
            yield self.collated(k)

    def __repr__(self) -> str:
        size = "endless" if self.num_batches is None else f"num_batches={self.num_batches}"
        return (
            f"EpisodeStream({self.task}, batch_size={self.batch_size}, seed={self.seed}, "
            f"split={self.split}, start={self.start}, {size}, knobs={self.knobs.to_dict()})"
        )
