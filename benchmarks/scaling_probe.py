"""How bulk generation scales with Numba threads, and what limits it.

For each NTM task, one call of ``--episodes`` episodes at 1, 2, 4, ... threads (median of
``--repeats``). For the copy task also the fill kernel alone, writing into arrays allocated
once beforehand: the gap between the two is the cost of fresh memory (page faults), which
threads share badly. Usage: ``python benchmarks/scaling_probe.py [--episodes N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numba
import numpy as np

import memtasks
from memtasks.generators import _kernels, ntm


def median_seconds(work, repeats: int) -> float:
    work()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1 << 18)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    n = args.episodes
    cores = numba.config.NUMBA_NUM_THREADS
    counts = sorted({t for t in (1, 2, 4, 8, 16, 32, cores) if t <= cores})
    rows: dict[str, dict[int, float]] = {}
    for task in memtasks.list_tasks("ntm"):
        spec = memtasks.get_spec(task)
        knobs = spec.knobs()
        rows[task] = {}
        for threads in counts:
            numba.set_num_threads(threads)
            seconds = median_seconds(lambda: spec.generate(n, 0, knobs=knobs), args.repeats)  # noqa: B023
            rows[task][threads] = n / seconds
    # the copy task's fill kernel alone, into memory that is already mapped
    spec = memtasks.get_spec("ntm/copy-v1")
    knobs = spec.knobs()
    key = spec.key(knobs, 0, "train")
    choices = ntm._choices(knobs.min_length, knobs.max_length, knobs.lengths)
    offsets = ntm._copy_sizes(key, 0, n, choices)
    arrays = _kernels.allocate(offsets[-1], (9, np.uint8), (8, np.uint8))
    seq_len = np.empty(n, np.int32)
    rows["ntm/copy-v1 fill into mapped memory"] = {}
    for threads in counts:
        numba.set_num_threads(threads)

        def fill() -> None:
            ntm._copy_fill(key, 0, n, choices, offsets, *arrays, seq_len)

        rows["ntm/copy-v1 fill into mapped memory"][threads] = n / median_seconds(
            fill, args.repeats
        )
    numba.set_num_threads(cores)

    print(f"{n} episodes per call, episodes/s (speed-up over 1 thread); {os.cpu_count()} CPUs")
    print(f"{'':40}" + "".join(f"{t:>18}" for t in counts))
    for name, rates in rows.items():
        cells = "".join(f"{rates[t] / 1e6:>10.2f}M ({rates[t] / rates[1]:>4.1f}x)" for t in counts)
        print(f"{name:40}{cells}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"episodes": n, "threads": counts, "episodes_per_s": rows}, out, indent=2)


if __name__ == "__main__":
    main()
