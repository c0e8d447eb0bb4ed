"""Determinism and splits (DESIGN.md section 3): what test_every_task.py does not check.

Episode ``i`` of ``(task, knobs, seed, split)`` is a pure function of those values and ``i``.
test_every_task.py checks for every task that pieces made apart equal the whole, across worker
processes too, and pins each task's golden hashes; here: the serial and parallel kernels agree
(NTM: compiling every bAbI task's parallel kernel would cost minutes), seeds, splits and knobs
give unrelated streams, and the golden-hash script classifies changes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
import memtasks.generators.ntm
from memtasks.episode import EpisodeBatch
from memtasks.generators import _kernels
from memtasks.rng import below_bound, next_below, next_below_lazy, next_below_with, stream_key

NTM_TASKS = memtasks.list_tasks("ntm")
GOLDEN_SCRIPT = Path(__file__).resolve().parent / "golden" / "update_golden.py"


def _load_golden_module():
    spec = importlib.util.spec_from_file_location("update_golden", GOLDEN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


golden = _load_golden_module()


def _kernels_of(module) -> list[_kernels.Kernel]:
    return [v for v in vars(module).values() if isinstance(v, _kernels.Kernel)]


@pytest.mark.parametrize("task", NTM_TASKS)
def test_result_does_not_depend_on_the_thread_count(task, monkeypatch):
    """The serial kernel on one thread and the parallel kernel on all give the same bytes.

    Generators run small batches with a serially compiled twin of each kernel; lowering the
    threshold makes this small batch take the parallel one whenever more than one thread
    is available, so both variants are compared.
    """
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_EPISODES", 1)
    monkeypatch.setattr(_kernels, "PARALLEL_COMPILE_EPISODES", 0)  # compile it now
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = memtasks.generate(task, 48, seed=9, start=5)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        everything = memtasks.generate(task, 48, seed=9, start=5)
    finally:
        numba.set_num_threads(threads)
    assert one.equals(everything)
    if numba.config.NUMBA_NUM_THREADS > 1:
        assert any(k.parallel.signatures for k in _kernels_of(memtasks.generators.ntm))


def test_batches_above_the_threshold_match_small_pieces(monkeypatch):
    """A batch large enough for the parallel kernel equals the same episodes made serially."""
    monkeypatch.setattr(_kernels, "PARALLEL_COMPILE_EPISODES", 0)
    n = _kernels.PARALLEL_MIN_EPISODES + 3
    whole = memtasks.generate("ntm/copy-v1", n, seed=4, max_length=4)
    pieces = [
        memtasks.generate("ntm/copy-v1", min(500, n - lo), seed=4, start=lo, max_length=4)
        for lo in range(0, n, 500)
    ]
    assert EpisodeBatch.concat(pieces).equals(whole)


# Knobs under which every episode is drawn from a huge space, so two unrelated streams share no
# episode (copy of 20..30 vectors of 8 bits: at least 2**160 sequences of each length).
LARGE_SPACE = {
    "ntm/copy-v1": {"min_length": 20, "max_length": 30},
    "ntm/repeat-copy-v1": {"min_length": 10},
    "ntm/associative-recall-v1": {"min_items": 4},
    "ntm/dynamic-ngrams-v1": {},
    "ntm/priority-sort-v1": {},
}


def test_large_space_covers_every_ntm_task():
    assert sorted(LARGE_SPACE) == NTM_TASKS


@pytest.mark.parametrize("task", NTM_TASKS)
def test_seeds_and_splits_give_disjoint_streams(task):
    knobs = LARGE_SPACE[task]
    streams = {
        (seed, split): memtasks.generate(task, 200, seed=seed, split=split, **knobs)
        for seed, split in [(0, "train"), (1, "train"), (0, "test"), (2**63, "train")]
    }
    hashes = {key: set(batch.episode_hashes().tolist()) for key, batch in streams.items()}
    for key, batch_hashes in hashes.items():
        assert len(batch_hashes) == 200, key  # no repeats inside a stream either
    keys = list(hashes)
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            assert not hashes[keys[a]] & hashes[keys[b]], (keys[a], keys[b])


@pytest.mark.parametrize("task", NTM_TASKS)
def test_seed_is_not_a_shift_of_the_index(task):
    """Seed 1 must not be seed 0 moved by one episode (no ``seed + index`` scheme)."""
    knobs = LARGE_SPACE[task]
    seed0 = memtasks.generate(task, 50, seed=0, **knobs).episode_hashes()
    seed1 = memtasks.generate(task, 50, seed=1, **knobs).episode_hashes()
    assert not set(seed0[1:].tolist()) & set(seed1[:-1].tolist())


def test_knobs_are_part_of_the_stream_key():
    # two spellings of the same length distribution draw episodes the same way; if the knobs
    # were not part of the key they would give the same bits
    by_set = memtasks.generate("ntm/copy-v1", 20, seed=0, lengths=(5,))
    by_range = memtasks.generate("ntm/copy-v1", 20, seed=0, min_length=5, max_length=5)
    np.testing.assert_array_equal(by_set.lengths, by_range.lengths)
    assert not set(by_set.episode_hashes().tolist()) & set(by_range.episode_hashes().tolist())
    # the normalisation range changes no draw either, only the stream
    base = memtasks.generate("ntm/repeat-copy-v1", 20, seed=0)
    renormed = memtasks.generate("ntm/repeat-copy-v1", 20, seed=0, norm_max_repeats=12)
    assert not np.array_equal(base.meta["length"], renormed.meta["length"])
    spec = memtasks.get_spec("ntm/copy-v1")
    default = spec.make_knobs()
    assert spec.key(default, 0, "train") != spec.key(default.replace(width=7), 0, "train")
    assert spec.key(default, 0, "train") != spec.key(default, 1, "train")
    assert spec.key(default, 0, "train") != spec.key(default, 0, "test")
    # the key depends on the knob values, not on how they were given
    assert spec.key(default, 0, "train") == spec.key(spec.make_knobs(preset="paper"), 0, "train")
    assert spec.key(default, 0, "train") == spec.key(spec.make_knobs(width=8.0), 0, "train")
    assert spec.key(default, 0, "train") == spec.key(spec.make_knobs(width=np.int64(8)), 0, "train")


def test_different_tasks_with_the_same_knobs_are_different_streams():
    recall = memtasks.get_spec("ntm/associative-recall-v1")
    copy = memtasks.get_spec("ntm/copy-v1")
    knobs = {"width": 8}
    assert stream_key(recall.id, knobs, 0, "train") != stream_key(copy.id, knobs, 0, "train")
    assert stream_key("a", {"x": 1, "y": 2}, 0, "train") == stream_key(
        "a", {"y": 2, "x": 1}, 0, "train"
    )


def test_update_golden_classifies_changes_and_refuses_moved_hashes(tmp_path, monkeypatch, capsys):
    stored = {"ntm/copy-v1": {"paper": "aa", "gone": "bb"}}
    current = {"ntm/copy-v1": {"paper": "cc"}, "ntm/copy-v2": {"paper": "dd"}}
    added, moved, removed = golden.differences(stored, current)
    assert (added, moved, removed) == (
        ["ntm/copy-v2 paper"],
        ["ntm/copy-v1 paper"],
        ["ntm/copy-v1 gone"],
    )
    # the script writes only where it is told, and never overwrites a moved hash unforced
    path = tmp_path / "ntm.json"
    monkeypatch.setattr(golden, "GOLDEN", path)
    monkeypatch.setattr(golden, "golden_hashes", lambda: current)
    golden.write_golden(stored, path)
    assert golden.main(["--check"]) == 1
    assert golden.main([]) == 1
    assert "Bump the task's version" in capsys.readouterr().err
    assert golden.read_golden(path) == stored
    assert golden.main(["--force"]) == 0
    assert golden.read_golden(path) == current
    assert golden.main(["--check"]) == 0


# ---------------------------------------------------------------------------------------------
# The cheaper forms of next_below draw exactly what it draws (the HAM kernels use them)
# ---------------------------------------------------------------------------------------------
@numba.njit
def _draw_three_ways(state, bounds):
    out = np.empty((3, len(bounds)), np.int64)
    a = b = c = state
    for i in range(len(bounds)):
        a, out[0, i] = next_below(a, bounds[i])
        n64, threshold = below_bound(bounds[i])
        b, out[1, i] = next_below_with(b, n64, threshold)
        c, out[2, i] = next_below_lazy(c, bounds[i])
    return out, a == b and b == c


@settings(max_examples=50, deadline=None)
@given(
    state=st.integers(0, 2**64 - 1),
    bounds=st.lists(st.integers(1, 2**32 - 1) | st.integers(1, 40), min_size=1, max_size=200),
)
def test_next_below_with_and_lazy_draw_what_next_below_draws(state, bounds):
    out, same_state = _draw_three_ways(np.uint64(state), np.asarray(bounds, np.int64))
    assert same_state
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])
    assert (out[0] >= 0).all() and (out[0] < np.asarray(bounds)).all()
