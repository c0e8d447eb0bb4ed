"""Throughput of the task generators: episodes/s and MB/s on one thread and on all threads.

Used by ``memtasks bench [TASK...]`` and by the scripts in ``benchmarks/``. Every figure is the
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

The reference points the NTM benchmark compares against (a plain NumPy generator of the copy
task, process pools, memory copies) are in ``benchmarks/numpy_baselines.py``: the core keeps only
what ``memtasks bench`` runs.
"""

from __future__ import annotations

import functools
import json
import os
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
from numba.core.registry import CPUDispatcher

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
    generator = spec.generator
    while isinstance(generator, functools.partial):  # babi/joint-v2: joint's with version=2
        generator = generator.func
    module = sys.modules[generator.__module__]
    dispatchers = []

    def collect(obj, depth: int) -> None:
        if isinstance(obj, CPUDispatcher):
            dispatchers.append(obj)
        elif depth and obj is not None and not isinstance(obj, types.ModuleType):
            for held in getattr(obj, "__dict__", {}).values():
                collect(held, depth - 1)

    for name in generator.__code__.co_names:
        collect(getattr(module, name, None), 1)
    # generators made by a factory (bAbI) hold their kernels in closure cells: a driver object
    # holding kernels holding dispatchers
    for cell in generator.__closure__ or ():
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
