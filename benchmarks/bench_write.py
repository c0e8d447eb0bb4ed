"""The path onto disk: ``memtasks generate`` against generating the same episodes in memory.

    python benchmarks/bench_write.py                  # 10M copy episodes (about 5 minutes)
    python benchmarks/bench_write.py --episodes 1000000 --repeats 3     # a quick run
    python benchmarks/bench_write.py --vectors lists  # Parquet's layout before issue 14

Each repeat runs, one after the other, in fresh processes (so the two never share a core):

- in memory: ``memtasks.generate(TASK, N)`` in a Python process, timed around the call only
  (its kernels loaded by a small call first), all cores, as a user generating into memory;
- on disk: the command ``memtasks generate TASK -n N --out DIR`` (default shards, one worker),
  timed from the outside, process start-up and all, with its peak resident memory (the
  process's ``ru_maxrss``) and the size of the files written.

It prints each figure's median over the repeats and the ratio on disk / in memory (the target of
issue 14: at most 2), and the machine's load (``os.getloadavg``) before and after: the machine
may be shared, and the ratio of two runs side by side is what counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TASK = "ntm/copy-v1"

IN_MEMORY = """
import json, sys, time
import memtasks
task, n = sys.argv[1], int(sys.argv[2])
memtasks.generate(task, 1000)  # load the kernels (and the parallel one) before timing
memtasks.generate(task, 1 << 21)
began = time.perf_counter()
batch = memtasks.generate(task, n)
seconds = time.perf_counter() - began
print(json.dumps({"seconds": seconds, "bytes": batch.nbytes}))
"""


def in_memory(task: str, n: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", IN_MEMORY, task, str(n)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# runs the command as its only child, so that the children's peak memory is the command's
ON_DISK = """
import json, resource, subprocess, sys, time
began = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, capture_output=True)
seconds = time.perf_counter() - began
used = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "cpu_seconds": used.ru_utime + used.ru_stime,
                  "peak_rss_mb": used.ru_maxrss / 1024}))
"""


# ``memtasks generate`` writing vector columns as Arrow's nested lists, as before issue 14
LISTS = """
import sys
from memtasks.cli import main
from memtasks.formats import get_format
get_format("parquet").vectors = "lists"
sys.argv[0] = "memtasks"
sys.exit(main())
"""


def on_disk(task: str, n: int, folder: Path, vectors: str) -> dict:
    out = folder / "ds"
    command = ["memtasks", "generate", task, "-n", str(n), "--out", str(out), "--quiet"]
    if vectors != "bytes":  # the command, with Parquet writing vectors as nested lists
        command[:1] = [sys.executable, "-c", LISTS]
    done = subprocess.run(
        [sys.executable, "-c", ON_DISK, *command], capture_output=True, text=True, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["file_mb"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    shutil.rmtree(out)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=TASK)
    parser.add_argument("--episodes", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vectors", default="bytes", choices=("bytes", "lists"))
    parser.add_argument("--json", metavar="PATH", help="also save the figures as JSON")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    memory, disk = [], []
    with tempfile.TemporaryDirectory(prefix="bench-write-", dir=os.environ.get("TMPDIR")) as tmp:
        in_memory(args.task, 1000)  # compile or load the kernels once, outside the timings
        for r in range(args.repeats):
            memory.append(in_memory(args.task, args.episodes))
            disk.append(on_disk(args.task, args.episodes, Path(tmp), args.vectors))
            print(
                f"repeat {r + 1}: in memory {memory[-1]['seconds']:.2f} s, memtasks generate "
                f"{disk[-1]['seconds']:.2f} s",
                flush=True,
            )
    load_after = os.getloadavg()
    mem_s = statistics.median(m["seconds"] for m in memory)
    disk_s = statistics.median(d["seconds"] for d in disk)
    ratio = disk_s / mem_s
    print(
        f"{args.task}, {args.episodes:,} episodes, median of {args.repeats}; {os.cpu_count()} "
        f"CPUs, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    print(f"  in memory (memtasks.generate, all cores):   {mem_s:8.2f} s "
          f"({args.episodes / mem_s / 1e6:.2f} M episodes/s, "
          f"{memory[0]['bytes'] / 1e6:,.0f} MB of arrays)")  # fmt: skip
    cpu = statistics.median(d["cpu_seconds"] for d in disk)
    peak = max(d["peak_rss_mb"] for d in disk)
    files = disk[0]["file_mb"]
    print(f"  on disk (memtasks generate, vectors={args.vectors}): {disk_s:8.2f} s "
          f"({cpu:.1f} s CPU, peak RSS {peak:,.0f} MB, files {files:,.0f} MB)")  # fmt: skip
    verdict = "met" if ratio <= 2 else "NOT met"
    print(f"  ratio on disk / in memory: {ratio:.2f}x (target <= 2x: {verdict})")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"task": args.task, "episodes": args.episodes, "vectors": args.vectors,
                 "load": [load_before, load_after], "in_memory": memory, "on_disk": disk,
                 "ratio": ratio}, indent=2,
            ) + "\n"
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
