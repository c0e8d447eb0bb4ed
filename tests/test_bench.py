"""memtasks.bench: the result dicts of the measurements; benchmarks/numpy_baselines.py: the NumPy
baseline of the copy task, process pools and memory copies the NTM benchmark compares against.

No timing assertions: only that every figure is there, that byte counts are those of the
episodes generated, and that the baseline makes the same data as ``ntm/copy-v1``.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _cli import run as _cli
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks import bench
from memtasks.episode import EpisodeBatch
from memtasks.registry import get_spec

COPY = "ntm/copy-v1"
# the benchmarks' own module, as its scripts import it (spawned pool workers import it by name)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
baselines = importlib.import_module("numpy_baselines")


@pytest.fixture(scope="module")
def copy_result():
    return bench.bench_task(COPY, episodes=128, batch_size=64, threads=1, repeats=1, compile=False)


def test_bench_task_reports_every_mode_and_thread_count(copy_result):
    r = copy_result
    assert r["task"] == COPY
    assert r["episodes"] == 128 and r["batch_size"] == 64 and r["threads"] == [1]
    assert r["knobs"] == get_spec(COPY).make_knobs().to_dict()
    assert {(run["mode"], run["threads"]) for run in r["runs"]} == {("stream", 1), ("bulk", 1)}
    for run in r["runs"]:
        assert run["episodes"] == 128
        assert run["seconds"] > 0 and run["episodes_per_s"] > 0 and run["mb_per_s"] > 0
        assert run["mb_per_s"] == pytest.approx(run["bytes"] / 1e6 / run["seconds"])
    assert bench.find_run(r, "stream", 1)["calls"] == 2
    assert bench.find_run(r, "bulk", 1)["calls"] == 1
    assert set(r["call_overhead_s"]) == {"1"} and r["call_overhead_s"]["1"] > 0
    assert r["compile"] is None
    assert isinstance(r["cache_hits"], int) and isinstance(r["cache_misses"], int)
    assert r["first_call_s"] > 0 and r["second_call_s"] > 0
    json.dumps(r)  # the result is JSON-ready


def test_bench_task_counts_the_bytes_of_the_episodes_it_generates(copy_result):
    spec = get_spec(COPY)
    bulk = spec.generate(128).nbytes
    stream = spec.generate(64).nbytes + spec.generate(64, start=64).nbytes
    assert bench.find_run(copy_result, "bulk", 1)["bytes"] == bulk
    assert bench.find_run(copy_result, "stream", 1)["bytes"] == stream


def test_bench_task_takes_knobs_and_rejects_impossible_thread_counts():
    r = bench.bench_task(
        COPY, episodes=8, batch_size=4, threads=[1], repeats=1, compile=False, max_length=3
    )
    assert r["knobs"]["max_length"] == 3
    assert bench.find_run(r, "bulk", 1)["bytes"] == memtasks.generate(COPY, 8, max_length=3).nbytes
    with pytest.raises(ValueError, match="thread counts"):
        bench.bench_task(COPY, episodes=8, threads=bench.all_threads() + 1, compile=False)


def test_format_results_has_one_row_per_task(copy_result):
    other = dict(copy_result, task="ntm/another-v1")
    text = bench.format_results([copy_result, other])
    lines = text.splitlines()
    assert lines[1].split()[0] == "task"
    assert lines[2].startswith(COPY) and lines[3].startswith("ntm/another-v1")
    assert "median of 1" in lines[-1]
    assert bench.format_results([]) == "(no results)"


def test_cli_bench_runs_with_its_default_batch_size(capsys):
    """The README's `memtasks bench ntm/copy-v1` once crashed: --batch-size defaulted to None."""
    code, out, err = _cli(capsys, "bench", COPY, "--episodes", "64", "--no-compile")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].split()[0] == "task"
    row = lines[2].split()
    assert row[0] == COPY
    assert any(any(c.isdigit() for c in cell) for cell in row[3:])  # episodes/s and MB/s figures
    assert "64 episodes per measurement (stream: calls of 64;" in lines[-1]


def test_cli_bench_batch_size_is_checked_against_episodes(capsys):
    code, out, err = _cli(capsys, "bench", COPY, "--episodes", "64", "--batch-size", "65")
    assert code == 1 and out == ""
    assert err == "memtasks: error: --batch-size must be at most --episodes (64), got 65\n"
    code, out, err = _cli(
        capsys, "bench", COPY, "--episodes", "64", "--batch-size", "32", "--no-compile"
    )
    assert code == 0, err
    assert "stream: calls of 32;" in out


def test_task_kernels_finds_the_dispatchers_of_every_ntm_task():
    for task in memtasks.list_tasks("ntm"):
        kernels = bench.task_kernels(get_spec(task))
        assert kernels, task
        stats = bench.cache_stats(kernels)
        assert stats["cache_hits"] >= 0 and stats["cache_misses"] >= 0


def test_task_kernels_finds_the_dispatchers_held_by_story_drivers():
    """bAbI generators are closures over a driver object: the serial and parallel variants of
    its one kernel (sizes and fill passes merged) are found through the closure, named after
    the task."""
    for task in memtasks.list_tasks("babi") + memtasks.list_tasks("world"):
        if task.startswith("babi/joint-"):  # no kernels of its own: it calls the 20 tasks'
            assert bench.task_kernels(get_spec(task)) == []  # (joint-v2 is a partial of v1's)
            continue
        kernels = bench.task_kernels(get_spec(task))
        family, name = task.split("/")
        base, version = name.rsplit("-v", 1)
        suffix = "" if version == "1" else f"_v{version}"  # a later version's own driver
        stem = f"babi_{family}_{base.replace('-', '_')}{suffix}"
        names = sorted(k.py_func.__name__ for k in kernels)
        assert names == [stem, f"{stem}_serial"], task


def test_compile_probe_prints_its_figures(capsys):
    knobs = json.dumps(get_spec(COPY).make_knobs().to_dict())
    bench._probe(time.perf_counter(), COPY, 8, knobs)
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"import_s", "compile_s", "cache_hits", "cache_misses"}


def test_copy_ceiling_moves_the_bytes_asked_for():
    one = baselines.copy_ceiling(1000, calls=3, repeats=1)
    assert one["method"] == "np.copyto" and one["bytes"] == 3000 and one["mb_per_s"] > 0
    par = baselines.copy_ceiling(1000, calls=2, repeats=1, method="prange", threads=1)
    assert par["method"] == "numba prange copy" and par["bytes"] == 2000
    with pytest.raises(ValueError):
        baselines.copy_ceiling(10, 1, 1, method="memcpy")


def test_pool_of_numpy_processes_generates_the_episodes_asked_for():
    r = baselines.pool_throughput("numpy", processes=2, episodes=256, batch_size=64, repeats=1)
    assert r["processes"] == 2 and r["episodes"] == 256 and r["calls"] == 4
    assert r["bytes"] > 0 and r["episodes_per_s"] > 0
    with pytest.raises(ValueError):
        baselines.pool_throughput("torch", 1, 64, 64, 1)


def test_human_units():
    assert bench.human(1234567) == "1.23M"
    assert bench.human(999) == "999"
    assert bench.human(None) == "-"


# -- the NumPy baseline ------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    batch_size=st.integers(1, 40),
    width=st.integers(1, 12),
    lengths=st.tuples(st.integers(1, 25), st.integers(0, 10)),
    seed=st.integers(0, 2**32),
)
def test_numpy_baseline_has_the_layout_and_semantics_of_the_copy_task(
    batch_size, width, lengths, seed
):
    lo, extra = lengths
    ours = memtasks.generate(COPY, batch_size, width=width, min_length=lo, max_length=lo + extra)
    base = baselines.numpy_copy_batch(
        np.random.default_rng(seed), batch_size, width, min_length=lo, max_length=lo + extra
    )
    assert baselines.copy_layout_problems(ours, width) == []
    assert baselines.copy_layout_problems(base, width) == []
    for name in ("offsets", "inputs", "targets", "mask", "role", "segment", "index", "support"):
        a, b = getattr(ours, name), getattr(base, name)
        assert a.dtype == b.dtype and a.shape[1:] == b.shape[1:], name
    assert ours.meta.keys() == base.meta.keys()
    assert base.meta["length"].dtype == ours.meta["length"].dtype
    assert np.all((base.meta["length"] >= lo) & (base.meta["length"] <= lo + extra))
    assert np.array_equal(base.index, np.arange(batch_size))


def test_numpy_baseline_draws_the_bits_at_random():
    batch = baselines.numpy_copy_batch(np.random.default_rng(1), 2000)
    bits = batch.inputs[batch.role == 0, :8]
    assert 0.45 < bits.mean() < 0.55
    assert len(np.unique(batch.meta["length"])) == 20


def _with(batch: EpisodeBatch, **changes) -> EpisodeBatch:
    fields = {
        f: getattr(batch, f).copy()
        for f in ("offsets", "inputs", "targets", "mask", "role", "segment")
    }
    fields.update(changes)
    return EpisodeBatch(
        **fields,
        support_offsets=batch.support_offsets,
        support=batch.support,
        index=batch.index,
        meta=batch.meta,
    )


def test_layout_check_catches_broken_copy_episodes():
    batch = memtasks.generate(COPY, 4, min_length=3, max_length=3)
    assert baselines.copy_layout_problems(batch) == []
    targets = batch.targets.copy()
    targets[5, 0] ^= 1  # a target bit of episode 0's answer (rows 4..6)
    problems = baselines.copy_layout_problems(_with(batch, targets=targets))
    assert "targets = inputs shifted" in problems[0]
    inputs = batch.inputs.copy()
    inputs[3, 8] = 0  # episode 0 loses its delimiter
    assert "delimiter row" in baselines.copy_layout_problems(_with(batch, inputs=inputs))[0]
    mask = batch.mask.copy()
    mask[0] = True
    assert "mask" in baselines.copy_layout_problems(_with(batch, mask=mask))[0]
    wide = _with(batch, targets=np.zeros((batch.num_positions, 9), np.uint8))
    assert "targets is uint8" in baselines.copy_layout_problems(wide)[0]
