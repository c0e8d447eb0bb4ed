"""Reference points of the NTM benchmark (``bench_ntm.py``), beside the generators' own figures.

- :func:`numpy_copy_batch`: the copy task written the straightforward vectorised NumPy way, in
  our layout, and :func:`copy_layout_problems`, which checks that both make the same data;
- :func:`pool_throughput`: a generator (NumPy's or ours) run in one process per core;
- :func:`copy_ceiling`: a plain memory copy of the same bytes, the ceiling of any generator;
- :func:`machine_info`: what the figures were measured on.

Timing helpers come from ``memtasks.bench`` (what ``memtasks bench`` runs). Import this module
with ``benchmarks/`` on ``sys.path`` (the scripts here have it as their folder).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import platform
import time
from typing import Any

import numba
import numpy as np
from numba import njit, prange

import memtasks
from memtasks.bench import COPY_TASK, MB, _rate, _threading_layer, all_threads, median_seconds
from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_CONTROL, EpisodeBatch
from memtasks.registry import get_spec


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """CPU model, core counts, Numba threading, and the versions that matter for speed."""
    import memtasks

    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:  # Linux names the CPU here; elsewhere platform's answer stays
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "numba_threads": all_threads(),
        "threading_layer": _threading_layer(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "memtasks": memtasks.__version__,
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------------------
# The NumPy baseline of the copy task
# ---------------------------------------------------------------------------------------------
def numpy_copy_batch(
    rng: np.random.Generator,
    batch_size: int,
    width: int = 8,
    min_length: int = 1,
    max_length: int = 20,
    start: int = 0,
    bits: str = "integers",
) -> EpisodeBatch:
    """The copy task written the straightforward vectorised NumPy way, in our layout.

    ``bits="integers"`` draws the bits with ``rng.integers(0, 2, dtype=uint8)``, the fastest
    NumPy way; ``bits="binomial"`` with ``rng.binomial(1, 0.5)``, the call common NTM
    implementations make (e.g. ``np.random.binomial(1, 0.5, (length, batch, width))``).

    One ``rng.integers`` call draws every bit of the batch (and one the lengths), as common NTM
    implementations do; the rows are then scattered with index arithmetic, no Python loop per
    episode. The result has the layout of ``ntm/copy-v1``: episode ``b`` of length ``L`` is
    ``L`` context rows, a delimiter row (its own input channel), then ``L`` scored answer rows
    whose targets are the context bits. Only the random stream differs (NumPy's, not ours).
    """
    lengths = rng.integers(min_length, max_length + 1, size=batch_size)
    shape = (int(lengths.sum()), width)
    if bits == "binomial":
        bits = rng.binomial(1, 0.5, size=shape)
    elif bits == "integers":
        bits = rng.integers(0, 2, size=shape, dtype=np.uint8)
    else:
        raise ValueError(f"bits must be 'integers' or 'binomial', got {bits!r}")

    offsets = np.zeros(batch_size + 1, dtype=np.int64)
    np.cumsum(2 * lengths + 1, out=offsets[1:])
    total = int(offsets[-1])
    # bit row i belongs to episode e(i) and is step s(i) of its sequence
    first_bit = np.cumsum(lengths) - lengths
    step = np.arange(len(bits)) - np.repeat(first_bit, lengths)
    context = np.repeat(offsets[:-1], lengths) + step
    answer = context + np.repeat(lengths + 1, lengths)
    delimiter = offsets[:-1] + lengths

    inputs = np.zeros((total, width + 1), dtype=np.uint8)
    inputs[context, :width] = bits
    inputs[delimiter, width] = 1
    targets = np.zeros((total, width), dtype=np.uint8)
    targets[answer] = bits
    mask = np.zeros(total, dtype=np.bool_)
    mask[answer] = True
    role = np.full(total, ROLE_ANSWER, dtype=np.int8)
    role[context] = ROLE_CONTEXT
    role[delimiter] = ROLE_CONTROL
    segment = np.full(total, -1, dtype=np.int32)
    segment[context] = step
    # the same unchecked builder our generators use: checking would cost more than generating
    return EpisodeBatch.from_kernel(
        offsets,
        (inputs, targets, mask, role, segment),
        start,
        meta={"length": lengths.astype(np.int32)},
        task="numpy baseline of ntm/copy-v1",
    )


def copy_layout_problems(batch: EpisodeBatch, width: int = 8) -> list[str]:
    """What is wrong with ``batch`` as copy-task episodes (empty when nothing is).

    Checks dtypes and widths, then each episode: ``2L + 1`` rows for ``meta['length'] == L``;
    bits only in the first ``L`` input rows; the delimiter alone on row ``L``; targets of the
    answer rows equal to the context bits (the inputs shifted by ``L + 1``) and zero elsewhere;
    mask, role and segment as the task defines them.
    """
    problems = []
    expect = {
        "inputs": (np.uint8, (width + 1,)),
        "targets": (np.uint8, (width,)),
        "mask": (np.bool_, ()),
        "role": (np.int8, ()),
        "segment": (np.int32, ()),
    }
    for name, (dtype, tail) in expect.items():
        arr = getattr(batch, name)
        if arr.dtype != dtype or arr.shape[1:] != tail:
            problems.append(f"{name} is {arr.dtype}{list(arr.shape)}, expected {np.dtype(dtype)}")
    if problems:
        return problems
    if "length" not in batch.meta or len(batch.support):
        return ["expected meta['length'] and no support"]
    for b in range(len(batch)):
        e = batch.episode(b)
        n = int(e["meta"]["length"])
        inputs, targets = e["inputs"], e["targets"]
        delimiter = np.zeros(width + 1, np.uint8)
        delimiter[width] = 1
        checks = {
            "length": len(inputs) == 2 * n + 1,
            "context bits": np.all(inputs[:n, :width] <= 1) and not inputs[:n, width].any(),
            "delimiter row": np.array_equal(inputs[n], delimiter),
            "blank inputs after the delimiter": not inputs[n + 1 :].any(),
            "targets = inputs shifted": np.array_equal(targets[n + 1 :], inputs[:n, :width]),
            "no targets before the answer": not targets[: n + 1].any(),
            "mask": np.array_equal(e["mask"], np.arange(2 * n + 1) > n),
            "role": np.array_equal(
                e["role"], [ROLE_CONTEXT] * n + [ROLE_CONTROL] + [ROLE_ANSWER] * n
            ),
            "segment": np.array_equal(e["segment"], list(range(n)) + [-1] * (n + 1)),
        }
        problems += [f"episode {b}: {what} is wrong" for what, ok in checks.items() if not ok]
        if problems:
            break
    return problems


def numpy_copy_throughput(
    episodes: int, batch_size: int, repeats: int, seed: int = 0, bits: str = "integers"
) -> dict[str, Any]:
    """The NumPy baseline in this process: ``episodes // batch_size`` calls of ``batch_size``."""
    rng = np.random.default_rng(seed)
    calls = max(1, episodes // batch_size)

    def work() -> int:
        return sum(
            numpy_copy_batch(rng, batch_size, start=c * batch_size, bits=bits).nbytes
            for c in range(calls)
        )

    nbytes = work()
    seconds = median_seconds(work, repeats)
    return {"episodes": calls * batch_size, "calls": calls, "bytes": nbytes,
            **_rate(calls * batch_size, nbytes, seconds)}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Process pools: a generator on every core
# ---------------------------------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _pool_init(barrier, generator: str, task: str, knobs_json: str, seed: int) -> None:
    _worker["barrier"] = barrier
    _worker["generator"] = generator
    _worker["rng"] = np.random.default_rng([seed, os.getpid()])
    if generator == "memtasks":
        numba.set_num_threads(1)  # one process per core: no threads on top
        spec = get_spec(task)
        _worker["spec"] = spec
        _worker["knobs"] = spec.knobs.from_values(json.loads(knobs_json))


def _pool_task(args: tuple[int, int, int]) -> tuple[int, int]:
    worker, calls, batch_size = args
    # every worker waits here, so each of the N tasks runs in a different process
    _worker["barrier"].wait()
    base = worker * calls * batch_size
    nbytes = 0
    for c in range(calls):
        start = base + c * batch_size
        if _worker["generator"] == "numpy":
            batch = numpy_copy_batch(_worker["rng"], batch_size, start=start)
        else:
            batch = _worker["spec"].generate(batch_size, start=start, knobs=_worker["knobs"])
        nbytes += batch.nbytes
    return calls * batch_size, nbytes


def pool_throughput(
    generator: str,
    processes: int,
    episodes: int,
    batch_size: int,
    repeats: int,
    task: str = COPY_TASK,
    seed: int = 0,
) -> dict[str, Any]:
    """Episodes/s of ``processes`` worker processes generating ``episodes`` in all, together.

    ``generator`` is ``"numpy"`` (:func:`numpy_copy_batch`) or ``"memtasks"`` (``task`` through
    the registry, one Numba thread per process). Each process makes ``episodes / processes /
    batch_size`` calls of ``batch_size``. The time is the wall time of the pool's work only:
    the pool is started (spawn) and every worker has done a warm-up round before timing, and
    the batches stay in the workers (nothing is sent back but counts).
    """
    if generator not in ("numpy", "memtasks"):
        raise ValueError(f"generator must be 'numpy' or 'memtasks', got {generator!r}")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    knobs_json = json.dumps(get_spec(task).make_knobs().to_dict())
    calls = max(1, episodes // (processes * batch_size))
    jobs = [(w, calls, batch_size) for w in range(processes)]
    warmup = [(w, 1, batch_size) for w in range(processes)]
    with ctx.Pool(processes, _pool_init, (barrier, generator, task, knobs_json, seed)) as pool:
        pool.map(_pool_task, warmup, chunksize=1)
        done = pool.map(_pool_task, jobs, chunksize=1)
        nbytes = sum(b for _, b in done)
        seconds = median_seconds(lambda: pool.map(_pool_task, jobs, chunksize=1), repeats)
    total = calls * batch_size * processes
    return {"processes": processes, "episodes": total, "calls": calls * processes,
            "bytes": nbytes, **_rate(total, nbytes, seconds)}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The ceiling: a plain memory copy of the same bytes
# ---------------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _parallel_copy(dst, src, chunks):
    n = src.size
    for c in prange(chunks):
        lo = n * c // chunks
        hi = n * (c + 1) // chunks
        dst[lo:hi] = src[lo:hi]


def copy_ceiling(
    nbytes: int, calls: int, repeats: int, method: str = "copyto", threads: int = 1
) -> dict[str, Any]:
    """MB/s of copying ``nbytes`` between two preallocated arrays, ``calls`` times per repeat.

    ``method="copyto"``: ``np.copyto`` (one core). ``method="prange"``: a Numba ``prange`` copy
    in ``threads`` equal chunks on ``threads`` threads. The arrays are written once before
    timing, so no page faults are timed (a generator, which allocates its output, pays them).
    """
    if method not in ("copyto", "prange"):
        raise ValueError(f"method must be 'copyto' or 'prange', got {method!r}")
    src = np.ones(max(1, int(nbytes)), dtype=np.uint8)
    dst = np.zeros_like(src)

    def work() -> None:
        if method == "copyto":
            for _ in range(calls):
                np.copyto(dst, src)
        else:
            for _ in range(calls):
                _parallel_copy(dst, src, threads)

    previous = numba.get_num_threads()
    numba.set_num_threads(threads if method == "prange" else previous)
    try:
        work()
        seconds = median_seconds(work, repeats)
    finally:
        numba.set_num_threads(previous)
    moved = src.nbytes * calls
    return {
        "method": "np.copyto" if method == "copyto" else "numba prange copy",
        "threads": threads if method == "prange" else 1,
        "bytes": moved,
        "seconds": seconds,
        "mb_per_s": moved / MB / seconds if seconds > 0 else float("inf"),
    }


# ---------------------------------------------------------------------------------------------
# An experiment (issue 14): the copy task's two passes fused into one compiled call
# ---------------------------------------------------------------------------------------------
def _fused_kernel():
    """The fused kernel, compiled on first use (it calls the generator's own fill kernel)."""
    from memtasks.generators import ntm

    if "fused" not in _fused:
        header, fill = ntm._copy_header, ntm._copy_fill.serial

        @njit(nogil=True)
        def fused(key, start, n, choices, offsets, inputs, targets, mask, role, segment, length):
            # the sizes pass and the fill in one call, into arrays of an upper bound of rows
            offsets[0] = 0
            for b in range(n):
                _, steps = header(key, start + b, choices)
                offsets[b + 1] = offsets[b] + 2 * steps + 1
            fill(key, start, n, choices, offsets, inputs, targets, mask, role, segment, length)
            return offsets[n]

        _fused["fused"] = fused
    return _fused["fused"]


_fused: dict[str, Any] = {}


def fused_copy_batch(spec, knobs, key, start: int, n: int) -> EpisodeBatch:
    """``ntm/copy-v1``'s episodes ``start .. start + n - 1`` (the same bytes as the generator)
    made by one compiled call: the lengths drawn and the episodes filled in one pass of Python,
    into NumPy arrays for the longest possible episodes, then trimmed (views, no copy). The
    generator instead calls its sizes kernel, allocates exactly, then calls its fill kernel."""
    from memtasks.generators import _kernels, ntm

    choices = ntm._choices(knobs.min_length, knobs.max_length, knobs.lengths)
    bound = n * (2 * int(choices[-1]) + 1)
    arrays = _kernels.allocate(bound, (knobs.width + 1, np.uint8), (knobs.width, np.uint8))
    offsets, length = np.empty(n + 1, np.int64), np.empty(n, np.int32)
    total = _fused_kernel()(key, start, n, choices, offsets, *arrays, length)
    arrays = tuple(a[:total] for a in arrays)
    return EpisodeBatch.from_kernel(offsets, arrays, start, meta={"length": length})


def fused_comparison(episodes: int, batch_size: int, repeats: int) -> dict[str, Any]:
    """Episodes/s on this thread of the NumPy baseline, the copy generator (two passes) and
    the fused experiment, in calls of ``batch_size`` and in one bulk call, run in turn."""
    spec = get_spec(COPY_TASK)
    knobs = spec.make_knobs()
    key = spec.key(knobs, 0, "train")
    rng = np.random.default_rng(0)
    if not fused_copy_batch(spec, knobs, key, 5, 64).equals(spec.generate(64, start=5)):
        raise AssertionError("the fused experiment does not make the generator's episodes")
    makers = {
        "numpy": lambda s, n: numpy_copy_batch(rng, n, start=s),
        "two passes": lambda s, n: spec.generator(knobs, key, s, n),
        "fused": lambda s, n: fused_copy_batch(spec, knobs, key, s, n),
    }
    out: dict[str, Any] = {}
    previous = numba.get_num_threads()
    numba.set_num_threads(1)  # the generator's parallel variant would run on all cores
    try:
        for mode, size in (("stream", batch_size), ("bulk", episodes)):
            out[mode] = _fused_runs(makers, episodes, size, repeats)
    finally:
        numba.set_num_threads(previous)
    return out


def _fused_runs(makers: dict, episodes: int, size: int, repeats: int) -> dict[str, float]:
    """Median episodes/s of each maker in calls of ``size``, the makers in turn each repeat."""
    calls = max(1, episodes // size)
    runs: dict[str, list[float]] = {name: [] for name in makers}
    for make in makers.values():
        make(0, size)  # warm
    for _ in range(max(1, repeats)):
        for name, make in makers.items():
            began = time.perf_counter()
            for c in range(calls):
                make(c * size, size)
            runs[name].append(calls * size / (time.perf_counter() - began))
    return {name: float(np.median(r)) for name, r in runs.items()}


# ---------------------------------------------------------------------------------------------
# A family beside its NumPy generators (bench_longterm, bench_alstm, bench_ham)
# ---------------------------------------------------------------------------------------------
def side_by_side(numpy: dict, check, episodes: int, repeats: int) -> list[dict]:
    """Each task of ``numpy`` ({task id: make(n, rng) -> arrays}) generated by us and by its
    NumPy generator, one thread, median seconds of ``repeats``; ``check(task, arrays)`` runs on
    64 NumPy episodes first (a faster generator of other arrays would prove nothing)."""
    numba.set_num_threads(1)
    rows = []
    for task, make in numpy.items():
        memtasks.generate(task, 64, seed=0)  # compile (or load) first: timings are warm
        rng = np.random.default_rng(0)
        check(task, make(64, rng))
        ours = median_seconds(lambda t=task: memtasks.generate(t, episodes, seed=0), repeats)
        theirs = median_seconds(lambda m=make, g=rng: m(episodes, g), repeats)
        rows.append({"task": task, "episodes": episodes, "ours_s": ours, "numpy_s": theirs,
                     "ours_episodes_per_s": episodes / ours,
                     "numpy_episodes_per_s": episodes / theirs,
                     "ratio": theirs / ours})  # fmt: skip
    return rows


def side_by_side_args(doc: str, argv=None):
    """``(args, episodes, repeats)`` of a side-by-side benchmark's command line:
    ``--episodes``, ``--repeats``, ``--quick`` (200 episodes, one repeat), ``--json``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    return args, *((200, 1) if args.quick else (args.episodes, args.repeats))


def side_by_side_main(doc: str, numpy: dict, check, argv=None, knobs: str = "") -> None:
    """The command line of a family's side-by-side benchmark (``side_by_side_args``); prints
    one row per task."""
    args, episodes, repeats = side_by_side_args(doc, argv)
    rows = side_by_side(numpy, check, episodes, repeats)
    info = machine_info()
    print(f"{info['cpu']}, one thread; {episodes:,} episodes per task at the paper knobs"
          f"{knobs}, median of {repeats}")  # fmt: skip
    width = max(len(task) for task in numpy) + 2
    print(f"{'task':{width}} {'ours ep/s':>12} {'NumPy ep/s':>12} {'NumPy/ours':>10}")
    for r in rows:
        print(f"{r['task']:{width}} {r['ours_episodes_per_s']:12,.0f} "
              f"{r['numpy_episodes_per_s']:12,.0f} {r['ratio']:9.1f}x")  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=2)
