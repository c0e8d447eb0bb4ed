"""Throughput of the task generators: episodes/s and MB/s on one thread and on all threads.

Used by ``memtasks bench [TASK...]`` and by ``benchmarks/bench_ntm.py``. Every figure is the
median of several repeats timed with ``time.perf_counter``; MB means 10**6 bytes of
``EpisodeBatch.nbytes`` (all the arrays of the batch, what a plain memory copy would move).

Two ways of asking for the same episodes are measured, because they scale differently:

- *stream*: ``episodes / batch_size`` calls of ``batch_size`` episodes each, with advancing
  ``start``, which is what a training loop does;
- *bulk*: one call of all the episodes, which is where parallel kernels have enough work to
  spread over the cores.

Numba compile time is reported apart from throughput. The true cold compile time is measured in a
fresh Python process whose ``NUMBA_CACHE_DIR`` points at an empty temporary folder; a second fresh
process with the same folder then measures the first call when the on-disk cache is hit.

The module also holds the reference points the NTM benchmark compares against: a straightforward
NumPy generator of the copy task (:func:`numpy_copy_batch`), process pools that run a generator on
every core (:func:`pool_throughput`), and plain memory copies of the same number of bytes
(:func:`copy_ceiling`).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from typing import Any

import numba
import numpy as np
from numba import njit, prange
from numba.core.registry import CPUDispatcher

from .episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_CONTROL, EpisodeBatch
from .registry import TaskSpec, get_spec

MB = 1e6
COPY_TASK = "ntm/copy-v1"
_OVERHEAD_CALLS = 100  # calls of one episode that time the fixed cost of a call


# ---------------------------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------------------------
def median_seconds(work: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``repeats`` runs of ``work()`` (after none: warm up yourself)."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def all_threads() -> int:
    """The most threads Numba may use in this process (``NUMBA_NUM_THREADS``)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def _thread_counts(threads: int | Sequence[int] | None) -> list[int]:
    if threads is None:
        threads = (1, all_threads())
    elif isinstance(threads, (int, np.integer)):
        threads = (int(threads),)
    counts = sorted({int(t) for t in threads})
    if not counts or counts[0] < 1 or counts[-1] > all_threads():
        raise ValueError(f"thread counts must be within 1..{all_threads()}, got {list(threads)}")
    return counts


def _rate(episodes: int, nbytes: int, seconds: float) -> dict[str, float]:
    return {
        "seconds": seconds,
        "episodes_per_s": episodes / seconds if seconds > 0 else float("inf"),
        "mb_per_s": nbytes / MB / seconds if seconds > 0 else float("inf"),
    }


# ---------------------------------------------------------------------------------------------
# Compile time
# ---------------------------------------------------------------------------------------------
def task_kernels(spec: TaskSpec) -> list[Any]:
    """The Numba dispatchers a task's generator calls, found by name in its module.

    A name may be a dispatcher itself or an object holding several (a kernel compiled both
    serial and parallel keeps one dispatcher per variant as attributes).
    """
    module = sys.modules[spec.generator.__module__]
    dispatchers = []

    def collect(obj, depth: int) -> None:
        if isinstance(obj, CPUDispatcher):
            dispatchers.append(obj)
        elif depth and obj is not None and not isinstance(obj, types.ModuleType):
            for held in getattr(obj, "__dict__", {}).values():
                collect(held, depth - 1)

    for name in spec.generator.__code__.co_names:
        collect(getattr(module, name, None), 1)
    # generators made by a factory (bAbI) hold their kernels in closure cells: a driver object
    # holding kernels holding dispatchers
    for cell in spec.generator.__closure__ or ():
        collect(cell.cell_contents, 2)
    return dispatchers


def cache_stats(kernels: Sequence[Any]) -> dict[str, int]:
    """Loads from the on-disk cache (hits) and compilations (misses) of ``kernels`` so far."""
    hits = sum(sum(k.stats.cache_hits.values()) for k in kernels)
    misses = sum(sum(k.stats.cache_misses.values()) for k in kernels)
    return {"cache_hits": int(hits), "cache_misses": int(misses)}


# Runs in a fresh interpreter: time the import, then for a small and a large batch the first
# call (compile or cache load) and a second call (steady state), and print them as JSON.
_PROBE = """
import time
t0 = time.perf_counter()
import memtasks.bench as bench
bench._probe(t0, {task!r}, {batch_size!r}, {knobs!r})
"""
# A batch this large runs the parallel variant of a kernel, a small one may run a serial one:
# the probe calls both sizes so that every variant is compiled.
PROBE_LARGE_BATCH = 4096


def _probe(t_import: float, task: str, batch_size: int, knobs_json: str) -> None:
    spec = get_spec(task)
    knobs = spec.knobs.from_values(json.loads(knobs_json))
    kernels = task_kernels(spec)
    t0 = time.perf_counter()
    compile_s = 0.0
    for n in (batch_size, PROBE_LARGE_BATCH):
        t1 = time.perf_counter()
        spec.generate(n, knobs=knobs)
        t2 = time.perf_counter()
        spec.generate(n, start=n, knobs=knobs)
        t3 = time.perf_counter()
        compile_s += (t2 - t1) - (t3 - t2)
    out = {"import_s": t0 - t_import, "compile_s": compile_s, **cache_stats(kernels)}
    print(json.dumps(out))


def _run_probe(task: str, batch_size: int, knobs_json: str, cache_dir: str) -> dict[str, Any]:
    code = _PROBE.format(task=task, batch_size=batch_size, knobs=knobs_json)
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"compile probe of {task} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compile_times(task: str, batch_size: int = 64, knobs: dict[str, Any] | None = None) -> dict:
    """Numba compile time of ``task``, measured in fresh processes.

    ``cold_s``: first calls minus second calls (of a batch of ``batch_size`` and of a batch of
    ``PROBE_LARGE_BATCH``, so that serial and parallel variants both compile) in a process with
    an empty ``NUMBA_CACHE_DIR``: a true compilation (``cold_cache_misses`` > 0). ``cached_s``:
    the same in a second process that loads what the first one wrote (``cached_cache_hits`` >
    0). ``import_s``: ``import memtasks.bench`` (numba, numpy, memtasks) in that process.
    """
    spec = get_spec(task)
    knobs_json = json.dumps(spec.make_knobs(**(knobs or {})).to_dict())
    with tempfile.TemporaryDirectory(prefix="memtasks-numba-cache-") as cache_dir:
        cold = _run_probe(spec.id, batch_size, knobs_json, cache_dir)
        cached = _run_probe(spec.id, batch_size, knobs_json, cache_dir)
    return {
        "cold_s": cold["compile_s"],
        "cached_s": cached["compile_s"],
        "import_s": cached["import_s"],
        "cold_cache_misses": cold["cache_misses"],
        "cached_cache_hits": cached["cache_hits"],
    }


# ---------------------------------------------------------------------------------------------
# Throughput of one task
# ---------------------------------------------------------------------------------------------
def bench_task(
    task_id: str,
    episodes: int = 64 * 2000,
    batch_size: int = 64,
    threads: int | Sequence[int] | None = None,
    *,
    repeats: int = 5,
    compile: bool = True,
    seed: int = 0,
    preset: str | None = None,
    **knobs: Any,
) -> dict[str, Any]:
    """Measure one task: compile time, then episodes/s and MB/s per mode and thread count.

    ``episodes`` are generated per repeat, once as ``episodes // batch_size`` calls of
    ``batch_size`` (mode ``stream``) and once as one call (mode ``bulk``), at each of
    ``threads`` (default: 1 and all). ``compile=False`` skips the fresh-process compile
    measurement (a few seconds per task). Returns a JSON-ready dict; ``runs`` holds one entry
    per (mode, threads) with ``episodes_per_s``, ``mb_per_s`` and the median ``seconds``;
    ``call_overhead_s`` maps a thread count (as a string) to the time of a call that generates
    one episode, the fixed cost that a stream of small batches pays on every call.
    """
    spec = get_spec(task_id)
    knob_values = spec.make_knobs(preset, **knobs)
    counts = _thread_counts(threads)
    calls = max(1, episodes // batch_size)
    stream_episodes = calls * batch_size
    kernels = task_kernels(spec)

    loaded_before = any(k.signatures for k in kernels)
    t0 = time.perf_counter()
    spec.generate(batch_size, seed, knobs=knob_values)
    t1 = time.perf_counter()
    spec.generate(batch_size, seed, start=batch_size, knobs=knob_values)
    t2 = time.perf_counter()

    def stream() -> int:
        nbytes = 0
        for c in range(calls):
            nbytes += spec.generate(
                batch_size, seed, start=c * batch_size, knobs=knob_values
            ).nbytes
        return nbytes

    def bulk() -> int:
        return spec.generate(stream_episodes, seed, knobs=knob_values).nbytes

    def single_episodes() -> None:
        for _ in range(_OVERHEAD_CALLS):
            spec.generate(1, seed, knobs=knob_values)

    runs = []
    call_overhead = {}
    previous = numba.get_num_threads()
    try:
        for t in counts:
            numba.set_num_threads(t)
            call_overhead[str(t)] = median_seconds(single_episodes, repeats) / _OVERHEAD_CALLS
        for mode, work in (("stream", stream), ("bulk", bulk)):
            for t in counts:
                numba.set_num_threads(t)
                nbytes = work()  # warm-up, and the byte count (the same every repeat)
                seconds = median_seconds(work, repeats)
                runs.append(
                    {
                        "mode": mode,
                        "threads": t,
                        "episodes": stream_episodes,
                        "calls": calls if mode == "stream" else 1,
                        "bytes": nbytes,
                        **_rate(stream_episodes, nbytes, seconds),
                    }
                )
    finally:
        numba.set_num_threads(previous)

    return {
        "task": spec.id,
        "knobs": knob_values.to_dict(),
        "episodes": stream_episodes,
        "batch_size": batch_size,
        "repeats": repeats,
        "threads": counts,
        "threading_layer": _threading_layer(),
        "kernels_loaded_before": loaded_before,
        "first_call_s": t1 - t0,
        "second_call_s": t2 - t1,
        **cache_stats(kernels),
        "call_overhead_s": call_overhead,
        "compile": compile_times(spec.id, batch_size, knob_values.to_dict()) if compile else None,
        "runs": runs,
    }


def find_run(result: dict[str, Any], mode: str, threads: int) -> dict[str, Any] | None:
    """The run of ``result`` with this mode and thread count, or None."""
    for run in result["runs"]:
        if run["mode"] == mode and run["threads"] == threads:
            return run
    return None


def _threading_layer() -> str:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run in this process yet
        return "not started"


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------
def human(value: float | None, digits: int = 3) -> str:
    """A rate with a k/M/G suffix and ``digits`` significant digits; '-' when missing."""
    if value is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def render_rows(header: Sequence[Sequence[str]], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, columns sized to fit; short rows are
    padded with empty cells."""
    ncols = max(len(r) for r in (*header, *rows))
    table = [list(r) + [""] * (ncols - len(r)) for r in (*header, *rows)]
    width = [max(len(r[i]) for r in table) for i in range(ncols)]
    lines = []
    for r in table:
        cells = [r[0].ljust(width[0])]
        cells += [c.rjust(w) for c, w in zip(r[1:], width[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_results(results: Sequence[dict[str, Any]]) -> str:
    """One line per task: compile times, then episodes/s and MB/s per mode and thread count."""
    if not results:
        return "(no results)"
    counts = results[0]["threads"]
    top = ["", "compile (s)", ""]
    sub = ["task", "cold", "cached"]
    for mode in ("stream", "bulk"):
        for t in counts:
            top += [f"{mode}, {t} thread{'s' if t > 1 else ''}", ""]
            sub += ["episodes/s", "MB/s"]
        if len(counts) > 1:
            top.append("")
            sub.append("speed-up")
    rows = []
    for r in results:
        comp = r.get("compile") or {}
        row = [r["task"], _seconds(comp.get("cold_s")), _seconds(comp.get("cached_s"))]
        for mode in ("stream", "bulk"):
            for t in counts:
                run = find_run(r, mode, t) or {}
                row += [human(run.get("episodes_per_s")), human(run.get("mb_per_s"))]
            if len(counts) > 1:
                lo, hi = find_run(r, mode, counts[0]), find_run(r, mode, counts[-1])
                row.append(f"{hi['episodes_per_s'] / lo['episodes_per_s']:.2f}x" if lo else "-")
        rows.append(row)
    first = results[0]
    note = (
        f"{first['episodes']} episodes per measurement (stream: calls of {first['batch_size']}; "
        f"bulk: one call), median of {first['repeats']}; MB = 10^6 bytes of EpisodeBatch.nbytes; "
        f"numba threading layer: {first['threading_layer']}"
    )
    return render_rows([top, sub], rows) + "\n" + note


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


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
    # the same unchecked wrapper our generators use: checking would cost more than generating
    return EpisodeBatch.trusted(
        offsets=offsets,
        inputs=inputs,
        targets=targets,
        mask=mask,
        role=role,
        segment=segment,
        support_offsets=np.zeros(batch_size + 1, dtype=np.int64),
        support=np.zeros(0, dtype=np.int32),
        index=np.arange(start, start + batch_size, dtype=np.int64),
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
