"""Throughput of the bAbI generators: questions per second per task, on one core and on all.

    python benchmarks/bench_babi.py              # all tasks (a few minutes on 2 cores)
    python benchmarks/bench_babi.py --quick      # tiny sizes: a smoke test of the script
    python benchmarks/bench_babi.py qa3 qa19 --json out.json

For each task, the stories holding ``--questions`` questions (default 110,000: ten times one
task of the en-10k release, 10,000 training and 1,000 test questions, so that timings are well
above the clock's noise and threads have work to share) are generated in one call, with Numba
on one thread and on all threads, and as a stream of batches of 64 stories on one thread (what
a training loop asks for). Compile time is measured apart, in fresh processes with an
empty cache (``--no-compile`` skips it). The summary compares the one-core time of the whole
en-10k equivalent (20 tasks x 11,000 questions) with the issue's target of 10 seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numba
import numpy_baselines as baselines  # beside this script

import memtasks
from memtasks import bench

TARGET_SECONDS = 10.0  # the target for the en-10k equivalent on one core
STREAM_BATCH = 64


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", help="qa1 ... qa20, world (default: all)")
    parser.add_argument("--questions", type=int, default=110_000, help="questions per task")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--no-compile", action="store_true", help="skip compile timings")
    parser.add_argument("--json", metavar="PATH", help="also save every figure as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.questions, args.repeats = 2_000, 1
    return args


def task_ids(names: list[str]) -> list[str]:
    # the 20 tasks and the world; babi/joint-v1 only interleaves the 20
    ids = [t for t in memtasks.list_tasks("babi") if "/qa" in t] + memtasks.list_tasks("world")
    ids.sort(key=lambda t: (t.startswith("world"), int(t.split("qa")[1].split("-")[0] or 0)))
    if not names:
        return ids
    wanted = {f"babi/{n}" if n.startswith("qa") else n for n in names}
    return [t for t in ids if t.rsplit("-v", 1)[0] in wanted or t in wanted or
            t.split("/")[0] in wanted]  # fmt: skip


def measure(task: str, questions: int, repeats: int, compile_time: bool) -> dict:
    spec = memtasks.get_spec(task)
    probe = spec.generate(256, 0)  # compiles (or loads) the serial kernels
    per_story = float(probe.meta["questions"].mean())
    stories = math.ceil(questions / per_story)
    made = {}

    def bulk():
        made["batch"] = spec.generate(stories, 0)

    def stream():
        for start in range(0, stories, STREAM_BATCH):
            spec.generate(min(STREAM_BATCH, stories - start), 0, start=start)

    out = {"task": task, "stories": stories, "questions_per_story": per_story}
    previous = numba.get_num_threads()
    try:
        for label, threads, work in (
            ("one_core", 1, bulk),
            ("all_cores", bench.all_threads(), bulk),
            ("stream_one_core", 1, stream),
        ):
            numba.set_num_threads(threads)
            work()  # warm-up (the parallel variant compiles here on first use)
            seconds = bench.median_seconds(work, repeats)
            out[label] = {"threads": threads, "seconds": seconds,
                          "questions_per_s": questions / seconds}  # fmt: skip
    finally:
        numba.set_num_threads(previous)
    batch = made["batch"]
    out["tokens_per_question"] = float(batch.num_positions / batch.meta["questions"].sum())
    if compile_time:
        out["compile"] = bench.compile_times(task)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    tasks = task_ids(args.tasks)
    machine = baselines.machine_info()
    print(f"{machine.get('cpu', '?')}, {bench.all_threads()} threads, numba "
          f"{numba.__version__}; {args.questions:,} questions per task")  # fmt: skip
    header = (f"{'task':<22}{'q/story':>8}{'1 core q/s':>13}{'all q/s':>12}{'stream q/s':>12}"
              f"{'1-core s':>10}{'compile s':>11}")  # fmt: skip
    print(header)
    results = []
    for task in tasks:
        t0 = time.perf_counter()
        r = measure(task, args.questions, args.repeats, not args.no_compile)
        results.append(r)
        compile_s = r["compile"]["cold_s"] if r.get("compile") else float("nan")
        print(f"{task:<22}{r['questions_per_story']:>8.2f}"
              f"{r['one_core']['questions_per_s']:>13,.0f}"
              f"{r['all_cores']['questions_per_s']:>12,.0f}"
              f"{r['stream_one_core']['questions_per_s']:>12,.0f}"
              f"{r['one_core']['seconds']:>10.3f}{compile_s:>11.1f}"
              f"   ({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    babi = [r for r in results if r["task"].startswith("babi/")]
    one_core = sum(r["one_core"]["seconds"] for r in babi) * 11_000 / args.questions
    all_cores = sum(r["all_cores"]["seconds"] for r in babi) * 11_000 / args.questions
    print(f"\nen-10k equivalent ({len(babi)} tasks x 11,000 questions): {one_core:.2f} s on one "
          f"core ({one_core / TARGET_SECONDS:.2f}x the {TARGET_SECONDS:.0f} s target), "
          f"{all_cores:.2f} s on {bench.all_threads()} threads")  # fmt: skip
    if args.json:
        payload = {"machine": machine, "questions": args.questions, "results": results,
                   "en10k_one_core_s": one_core, "en10k_all_cores_s": all_cores}  # fmt: skip
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
