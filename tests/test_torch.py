"""memtasks.torch: collate, the dataset over stored episodes, and the generated stream."""

from __future__ import annotations

import itertools
import pickle

import numba
import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

import memtasks
import memtasks.torch
from memtasks import views
from memtasks.episode import EpisodeBatch
from memtasks.torch import EpisodeDataset, EpisodeStream, _BufferPool, collate, collate_qa


def token_stories() -> EpisodeBatch:
    """Two bAbI-like stories: sentences (role 0, one segment each), questions, answers."""
    # story 0: "5 6 7" "8 9" "10 11 ?" -> 12, "13 14" "15 ?" -> 16 17; story 1: "3" "4 ?" -> 5
    inputs = [5, 6, 7, 8, 9, 10, 11, 0, 13, 14, 15, 0, 0, 3, 4, 0]
    targets = [0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 16, 17, 0, 0, 5]
    role = [0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 1, 2, 2, 0, 1, 2]
    segment = [0, 0, 0, 1, 1, -1, -1, -1, 2, 2, -1, -1, -1, 0, -1, -1]
    return EpisodeBatch.from_lengths(
        lengths=np.array([13, 3]),
        inputs=np.array(inputs, dtype=np.int32),
        targets=np.array(targets, dtype=np.int32),
        mask=np.array(role) == 2,
        role=np.array(role),
        segment=np.array(segment),
        index=np.array([40, 41]),
        support_lengths=np.array([3, 1]),
        support=np.array([1, 0, 2, 0]),
        support_answer=np.array([0, 1, 1, 0]),
    )


STORIES = token_stories()


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            assert_same_tensors(a[k], b[k])
        else:
            assert a[k].dtype == b[k].dtype, k
            assert torch.equal(a[k], b[k]), k


# ---------------------------------------------------------------------------------------------
# collate
# ---------------------------------------------------------------------------------------------
# collate of every task (dtypes, padding, meta) is in test_every_task.py
def test_collate_of_a_token_task():
    out = collate(STORIES)
    assert out["inputs"].dtype == torch.int64 and out["inputs"].shape == (2, 13)
    assert out["targets"].dtype == torch.int64
    np.testing.assert_array_equal(out["targets"].numpy(), views.padded(STORIES)["targets"])
    assert out["mask"].sum().item() == int(STORIES.mask.sum())
    assert out["index"].tolist() == [40, 41]


def test_collate_of_a_list_equals_collate_of_the_concatenation():
    parts = [
        memtasks.generate("ntm/repeat-copy-v1", n, seed=2, start=s) for s, n in [(0, 3), (3, 1)]
    ]
    parts.append(memtasks.generate("ntm/repeat-copy-v1", 2, seed=2, start=4))
    assert_same_tensors(collate(parts), collate(EpisodeBatch.concat(parts)))
    assert_same_tensors(collate(parts[:1]), collate(parts[0]))
    with pytest.raises(TypeError, match="non-empty list"):
        collate([])


def test_collate_of_read_only_arrow_buffers_does_not_warn(recwarn):
    batch = EpisodeBatch.from_arrow(memtasks.generate("ntm/dynamic-ngrams-v1", 2).to_arrow())
    out = collate(batch)
    assert not [w for w in recwarn if "not writable" in str(w.message)]
    np.testing.assert_array_equal(out["meta"]["table"].numpy(), batch.meta["table"])


def test_collate_moves_to_a_device_and_warns_when_it_cannot_pin():
    batch = memtasks.generate("ntm/copy-v1", 2)
    out = collate(batch, device="cpu")
    assert out["inputs"].device.type == "cpu" and out["meta"]["length"].device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.warns(UserWarning, match="no CUDA device"):
            collate(batch, pin_memory=True)


def test_collate_qa():
    out = collate_qa([STORIES[0], STORIES[1]])
    view = views.qa(STORIES)
    assert out.keys() == view.arrays().keys()
    for name, values in view.arrays().items():
        assert out[name].dtype == torch.int64, name
        np.testing.assert_array_equal(out[name].numpy(), values, err_msg=name)


# ---------------------------------------------------------------------------------------------
# EpisodeDataset
# ---------------------------------------------------------------------------------------------
def test_episode_dataset_in_a_dataloader():
    batch = memtasks.generate("ntm/associative-recall-v1", 7, seed=4)
    dataset = EpisodeDataset(batch)
    assert len(dataset) == 7 and dataset[2].equals(batch[2:3])
    loader = DataLoader(dataset, batch_size=3, collate_fn=collate)
    got = list(loader)
    assert [b["index"].tolist() for b in got] == [[0, 1, 2], [3, 4, 5], [6]]
    for collated, lo in zip(got, (0, 3, 6), strict=True):
        assert_same_tensors(collated, collate(batch[lo : lo + 3]))
    # one gather per batch: the sampler hands __getitem__ a list of indices
    sampler = BatchSampler(SequentialSampler(dataset), batch_size=3, drop_last=False)
    fetched = list(DataLoader(dataset, sampler=sampler, batch_size=None, collate_fn=collate))
    for a, b in zip(got, fetched, strict=True):
        assert_same_tensors(a, b)
    with pytest.raises(TypeError, match="takes an EpisodeBatch"):
        EpisodeDataset([batch])


# ---------------------------------------------------------------------------------------------
# EpisodeStream
# ---------------------------------------------------------------------------------------------
def indices(batches) -> list[list[int]]:
    return [b["index"].tolist() for b in batches]


def test_stream_batches_hold_consecutive_episodes():
    stream = EpisodeStream("ntm/copy-v1", batch_size=3, seed=1, start=10, num_batches=3)
    got = list(stream)
    assert len(stream) == 3
    assert indices(got) == [[10, 11, 12], [13, 14, 15], [16, 17, 18]]
    assert_same_tensors(got[1], collate(memtasks.generate("ntm/copy-v1", 3, seed=1, start=13)))


# the same batches in worker processes as in one, for every task: test_every_task.py


class ThreadsReported(EpisodeStream):
    """A stream that adds to each batch the number of Numba threads it was generated with."""

    def __iter__(self):
        for out in super().__iter__():
            out["numba_threads"] = torch.tensor(numba.get_num_threads())
            yield out


def test_stream_workers_use_one_numba_thread():
    stream = ThreadsReported("ntm/copy-v1", batch_size=2, num_batches=2)
    got = list(DataLoader(stream, batch_size=None, num_workers=2, timeout=120))
    assert [b["numba_threads"].item() for b in got] == [1, 1]
    assert indices(got) == [[0, 1], [2, 3]]


def test_stream_shards_across_distributed_ranks(monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    per_rank = {}
    for rank in (0, 1):
        monkeypatch.setattr(torch.distributed, "get_rank", lambda r=rank: r)
        stream = EpisodeStream("ntm/copy-v1", batch_size=2, num_batches=5)
        per_rank[rank] = indices(stream)
        assert len(stream) == len(per_rank[rank])
    assert per_rank[0] == [[0, 1], [4, 5], [8, 9]]
    assert per_rank[1] == [[2, 3], [6, 7]]


def test_stream_endless_continues_past_any_count():
    endless = EpisodeStream("ntm/copy-v1", batch_size=2, seed=3)
    first = list(itertools.islice(iter(endless), 4))
    finite = list(EpisodeStream("ntm/copy-v1", batch_size=2, seed=3, num_batches=4))
    for a, b in zip(first, finite, strict=True):
        assert_same_tensors(a, b)
    with pytest.raises(TypeError, match="no length"):
        len(endless)


def test_stream_is_reproducible_and_depends_on_the_seed():
    def make(seed):
        return list(EpisodeStream("ntm/repeat-copy-v1", batch_size=4, seed=seed, num_batches=2))

    for a, b in zip(make(11), make(11), strict=True):
        assert_same_tensors(a, b)
    other = make(12)
    assert indices(other) == indices(make(11))  # same episode indices, different content
    assert not all(
        a["inputs"].shape == b["inputs"].shape and torch.equal(a["inputs"], b["inputs"])
        for a, b in zip(make(11), other, strict=True)
    )


def test_stream_preset_and_knobs():
    stream = EpisodeStream("ntm/copy-v1", batch_size=6, preset="extrapolate", num_batches=1)
    (batch,) = list(stream)
    lengths = batch["meta"]["length"].tolist()
    assert set(lengths) <= {10, 20, 30, 50, 120}
    spec = memtasks.get_spec("ntm/copy-v1")
    knobs = spec.make_knobs(width=3)
    (batch,) = list(EpisodeStream("ntm/copy-v1", batch_size=2, knobs=knobs, num_batches=1))
    assert batch["targets"].shape[2] == 3


def test_stream_pickles_for_spawned_workers():
    stream = EpisodeStream("ntm/copy-v1", batch_size=2, seed=4, knobs={"width": 3}, num_batches=2)
    clone = pickle.loads(pickle.dumps(stream))
    for a, b in zip(stream, clone, strict=True):
        assert_same_tensors(a, b)


def test_stream_validates_at_construction():
    with pytest.raises(memtasks.KnobError, match="max_length"):
        EpisodeStream("ntm/copy-v1", batch_size=2, knobs={"max_length": 0})
    with pytest.raises(memtasks.KnobError, match="no preset 'papr'"):
        EpisodeStream("ntm/copy-v1", batch_size=2, preset="papr")
    with pytest.raises(memtasks.KnobError, match="takes CopyKnobs"):
        knobs = memtasks.get_spec("ntm/repeat-copy-v1").make_knobs()
        EpisodeStream("ntm/copy-v1", batch_size=2, knobs=knobs)
    with pytest.raises(memtasks.UnknownTaskError):
        EpisodeStream("ntm/cpy-v1", batch_size=2)
    with pytest.raises(memtasks.MemtasksError, match="seed"):
        EpisodeStream("ntm/copy-v1", batch_size=2, seed=-1)
    with pytest.raises(memtasks.MemtasksError, match="split"):
        EpisodeStream("ntm/copy-v1", batch_size=2, split="no spaces")
    with pytest.raises(memtasks.MemtasksError, match="batch_size must be at least 1"):
        EpisodeStream("ntm/copy-v1", batch_size=0)
    with pytest.raises(memtasks.MemtasksError, match="num_batches"):
        EpisodeStream("ntm/copy-v1", batch_size=2, num_batches=-3)


# ---------------------------------------------------------------------------------------------
# prefetching in a background thread
# ---------------------------------------------------------------------------------------------
def _prefetch_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "memtasks-prefetch"]


@pytest.mark.parametrize("prefetch", [1, 3])
def test_prefetched_stream_equals_the_plain_one(prefetch):
    plain = list(EpisodeStream("ntm/repeat-copy-v1", 5, seed=2, num_batches=7))
    ahead = EpisodeStream("ntm/repeat-copy-v1", 5, seed=2, num_batches=7, prefetch=prefetch)
    got = list(DataLoader(ahead, batch_size=None))
    assert len(got) == len(plain) == 7
    for a, b in zip(got, plain, strict=True):
        assert_same_tensors(a, b)


def test_stopping_after_the_last_batch_was_made_ends_the_prefetch_thread():
    """The thread may have made every batch and be waiting to hand over the end: a consumer
    that stops then (a run interrupted near its last step) must still let it end."""
    import time

    stream = EpisodeStream("ntm/copy-v1", 4, seed=0, num_batches=3, prefetch=2)
    batches = iter(stream)
    next(batches)
    deadline = time.monotonic() + 5
    while stream_thread_busy() and time.monotonic() < deadline:  # batches 1, 2 queued, then end
        time.sleep(0.05)
    batches.close()
    deadline = time.monotonic() + 5
    while _prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _prefetch_threads() == []


def stream_thread_busy() -> bool:
    """Whether a prefetch thread is still making batches (not yet blocked handing one over)."""
    import sys

    for t in _prefetch_threads():
        frame = sys._current_frames().get(t.ident)
        while frame is not None:
            if frame.f_code.co_name == "hand_over":
                return False
            frame = frame.f_back
        return True
    return False


def test_stopping_early_ends_the_prefetch_thread():
    import time

    stream = EpisodeStream("ntm/copy-v1", 4, seed=0, prefetch=2)  # endless
    batches = iter(stream)
    first = next(batches)
    assert first["index"].tolist() == [0, 1, 2, 3]
    batches.close()  # what a training loop's `break` does to the generator
    deadline = time.monotonic() + 5
    while _prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _prefetch_threads() == []


def test_an_error_in_the_prefetch_thread_reaches_the_consumer(monkeypatch):
    stream = EpisodeStream("ntm/copy-v1", 4, seed=0, num_batches=5, prefetch=2)
    real = stream.batch

    def failing(k):
        if k == 3:
            raise RuntimeError("generator broke at batch 3")
        return real(k)

    monkeypatch.setattr(stream, "batch", failing)
    got = []
    with pytest.raises(RuntimeError, match="batch 3"):
        for batch in stream:
            got.append(batch["index"][0].item())
    assert got == [0, 4, 8]


def test_prefetch_must_be_a_count():
    with pytest.raises(memtasks.MemtasksError, match="prefetch must be a non-negative integer"):
        EpisodeStream("ntm/copy-v1", 4, prefetch=-1)


# ---------------------------------------------------------------------------------------------
# the stream's chunks: generated straight into padded batches, in reused buffers (issue 14)
# ---------------------------------------------------------------------------------------------
def assert_batches_are_collated_episodes(task, got, batch_size, seed, start, **knobs) -> None:
    for k, batch in enumerate(got):
        first = start + k * batch_size
        expected = collate(memtasks.generate(task, batch_size, seed=seed, start=first, **knobs))
        assert_same_tensors(batch, expected)


# The families whose generators write padded batches themselves (issue 14: "generate straight
# into the padded layout, in the kernel"); bAbI and the world go through views.pad_batches.
PADDED_FAMILIES = ("ntm", "longterm", "alstm", "ham", "recall")
PADDED_TASKS = [t for f in PADDED_FAMILIES for t in memtasks.list_tasks(f)]


@pytest.mark.parametrize("task", PADDED_TASKS)
def test_every_sequence_task_has_a_padded_generator(task):
    assert callable(getattr(memtasks.get_spec(task).generator, "padded", None)), task


@pytest.mark.parametrize("task", [*PADDED_TASKS, "babi/qa1-v1"])
@pytest.mark.parametrize("batch_size, batches", [(1, 40), (5, 37), (64, 3)])
def test_stream_batches_are_collate_of_generate(task, batch_size, batches):
    """Across chunk boundaries (the first chunk holds one batch, later ones up to MAX_CHUNK),
    with a start that is not a multiple of the batch size."""
    stream = EpisodeStream(task, batch_size, seed=9, start=7, num_batches=batches)
    got = list(stream)  # every batch held at once: no buffer may be reused under them
    assert len(got) == batches
    assert_batches_are_collated_episodes(task, got, batch_size, 9, 7)


def test_held_batches_keep_their_values_while_the_stream_goes_on():
    stream = EpisodeStream("ntm/copy-v1", 4, seed=1, num_batches=200)
    held = [batch for k, batch in enumerate(stream) if k % 17 == 0]  # the others dropped
    assert_same_tensors(held[0], collate(memtasks.generate("ntm/copy-v1", 4, seed=1)))
    for k, batch in zip(range(0, 200, 17), held, strict=True):
        assert_same_tensors(
            batch, collate(memtasks.generate("ntm/copy-v1", 4, seed=1, start=4 * k))
        )


def test_the_pool_reuses_a_buffer_only_once_nothing_refers_to_it():
    pool = _BufferPool(keep=3)
    first = pool(1000)
    view = first[10:20]  # a tensor of a batch holds a view like this one
    del first
    second = pool(1000)
    assert not np.shares_memory(second, view)  # the first is still referred to
    del view
    assert np.shares_memory(pool(1000), pool.buffers[0])  # free again: reused
    assert len(pool.buffers) == 2
    bigger = pool(1 << 20)  # a free buffer too small for a chunk is replaced
    assert bigger.nbytes >= 1 << 20 and len(pool.buffers) <= 3


def test_a_training_loop_reuses_a_few_buffers(monkeypatch):
    import weakref

    made = []  # weak references: holding the buffers would keep the pool from reusing them
    real = _BufferPool.__call__

    def counted(self, nbytes):
        buffer = real(self, nbytes)
        if not any(ref() is buffer for ref in made):
            made.append(weakref.ref(buffer))
        return buffer

    monkeypatch.setattr(_BufferPool, "__call__", counted)
    for batch in EpisodeStream("ntm/copy-v1", 64, num_batches=300):
        batch["inputs"].sum()  # the step; the batch is dropped when the next one comes
    assert len(made) <= 4


@pytest.mark.parametrize("task", ["ntm/copy-v1", "babi/qa1-v1"])
def test_prefetched_chunks_equal_the_plain_stream(task):
    plain = list(EpisodeStream(task, 3, seed=5, num_batches=30))
    ahead = list(EpisodeStream(task, 3, seed=5, num_batches=30, prefetch=2))
    for a, b in zip(plain, ahead, strict=True):
        assert_same_tensors(a, b)


def test_the_consumer_makes_the_next_unit_itself_when_the_thread_lags():
    """``_ahead`` never waits for a thread that has not begun the unit wanted: with a slow
    thread, the consumer makes units too; every unit comes once, in order."""
    import threading
    import time

    from memtasks.torch import _ahead

    def make(unit: int) -> tuple[int, str]:
        if threading.current_thread().name == "memtasks-prefetch":
            time.sleep(0.02)
        return unit, threading.current_thread().name

    got = list(_ahead(iter(range(30)), make, 2))
    assert [u for u, _ in got] == list(range(30))
    makers = {name for _, name in got}
    assert threading.current_thread().name in makers


def test_an_error_while_making_a_chunk_reaches_the_consumer_in_order(monkeypatch):
    from memtasks import views

    real = views.padded_batches
    calls = []

    def failing(spec, knobs, key, start, n, batch_size, allocate=None):
        calls.append(start)
        if start >= 40:
            raise RuntimeError(f"generator broke at episode {start}")
        return real(spec, knobs, key, start, n, batch_size, allocate)

    monkeypatch.setattr(memtasks.torch, "padded_batches", failing)
    for prefetch in (0, 2):
        got = []
        with pytest.raises(RuntimeError, match="generator broke"):
            for batch in EpisodeStream("ntm/copy-v1", 4, num_batches=50, prefetch=prefetch):
                got.append(batch["index"][0].item())
        # every batch before the failing chunk, in order (a chunk holds several batches)
        assert got == list(range(0, 4 * len(got), 4)) and 40 <= 4 * len(got) < 200


def test_sharded_streams_make_one_batch_per_chunk(monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 3)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    got = list(EpisodeStream("ntm/repeat-copy-v1", 2, seed=3, num_batches=10, prefetch=1))
    assert indices(got) == [[2, 3], [8, 9], [14, 15]]
    for k, batch in zip((1, 4, 7), got, strict=True):
        expected = memtasks.generate("ntm/repeat-copy-v1", 2, seed=3, start=2 * k)
        assert_same_tensors(batch, collate(expected))


def test_a_subclass_that_changes_batch_takes_the_general_path():
    class Doubled(EpisodeStream):
        def batch(self, k):
            return EpisodeBatch.concat([super().batch(k)] * 2)

    (got,) = list(Doubled("ntm/copy-v1", 2, num_batches=1))
    assert got["index"].tolist() == [0, 1, 0, 1]


def test_pinned_chunks_become_views_of_the_pinned_allocation():
    """What a CUDA stream copies from (checked on the CPU: the allocation a plain tensor): the
    batch's tensors are views of the allocation's own storage, equal to the CPU tensors."""
    from memtasks import views
    from memtasks.torch import _pinned_tensors, _tensors

    spec = memtasks.get_spec("ntm/copy-v1")
    knobs = spec.make_knobs()
    held = []

    def allocate(nbytes):
        held.append(torch.empty(nbytes, dtype=torch.uint8))
        return held[-1].numpy()

    chunk = views.padded_batches(spec, knobs, spec.key(knobs, 0, "train"), 0, 12, 4, allocate)
    storage = held[0].untyped_storage().data_ptr()
    for g in range(3):
        pinned, plain = _pinned_tensors(chunk, g), _tensors(chunk, g)
        assert_same_tensors(pinned, plain)
        for name in ("inputs", "targets", "mask", "role", "segment"):
            assert pinned[name].untyped_storage().data_ptr() == storage, name


def test_collate_of_no_episodes():
    out = collate(memtasks.generate("ntm/copy-v1", 3)[0:0])
    assert out["inputs"].shape == (0, 0, 9) and out["lengths"].shape == (0,)
