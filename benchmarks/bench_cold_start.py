"""Cold start: the first `memtasks generate` of a task in a fresh install, and a second one.

Each run is a fresh process with empty cache folders (``NUMBA_CACHE_DIR`` and
``XDG_CACHE_HOME``), so the first command compiles every kernel it needs, as a user's first
command after installing does; the second command with the same folders loads them. Times are
the wall clock of the whole command (import, compile, generate, write), medians over
``--repeat`` runs: the machine may be shared, so single runs are noisy.

``--before DIR`` also runs another checkout of the repository (for example the commit before a
change, made with ``git worktree add --detach /tmp/memtasks-before REV``) and prints both side
by side. That checkout is run from its folder (``PYTHONPATH``), with its ``generators/`` linked
in as ``memtasks/generators`` the way the installed package maps it.

    python benchmarks/bench_cold_start.py --repeat 3 --before /tmp/memtasks-before \\
        --out benchmarks/results/cpu-2core-cold-start
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
TASKS = ("babi/qa1-v1", "babi/qa3-v1", "babi/qa19-v1", "ntm/copy-v1")


def _tree_env(tree: Path | None, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MEMTASKS_QUIET",)}
    env.update(
        NUMBA_CACHE_DIR=str(cache / "numba"),
        XDG_CACHE_HOME=str(cache / "xdg"),
        MEMTASKS_CACHE_DIR=str(cache / "memtasks"),
    )
    if tree is not None:
        for name, folder in (("generators", "generators"), ("models", "reference_models")):
            link = tree / "memtasks" / name
            if not link.exists():
                link.symlink_to(Path("..") / folder)
        env["PYTHONPATH"] = str(tree)
    return env


def _generate(env: dict[str, str], task: str, n: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "memtasks.cli", "generate", task, "-n", str(n), "--out", str(out)]
    began = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return took


def measure(tree: Path | None, task: str, n: int) -> tuple[float, float]:
    """(cold, warm) seconds of `memtasks generate task -n n` from ``tree`` (None: installed)."""
    with tempfile.TemporaryDirectory(prefix="memtasks-cold-") as tmp:
        tmp = Path(tmp)
        env = _tree_env(tree, tmp)
        cold = _generate(env, task, n, tmp / "cold")
        warm = _generate(env, task, n, tmp / "warm")
    return cold, warm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("-n", type=int, default=1000, help="episodes per command")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--after", type=Path, help="a checkout to run instead of the installed one")
    parser.add_argument("--out", type=Path, help="folder for results.json and results.md")
    args = parser.parse_args(argv)

    trees = {"after": args.after}
    if args.before is not None:
        trees = {"before": args.before, **trees}
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {k: {} for k in trees}
    for r in range(args.repeat):  # rounds interleave the trees, so load hits both alike
        for task in args.tasks:
            for label, tree in trees.items():
                cold, warm = measure(tree, task, args.n)
                runs[label].setdefault(task, []).append((cold, warm))
                print(f"round {r + 1} {label:6} {task:16} cold {cold:6.1f} s  warm {warm:5.1f} s",
                      flush=True)  # fmt: skip

    def med(label: str, task: str, k: int) -> float:
        return statistics.median(x[k] for x in runs[label][task])

    lines = [
        f"# Cold start: `memtasks generate TASK -n {args.n} --out DIR`, empty cache folders",
        "",
        f"{platform.node()}: {os.cpu_count()} cores, {platform.python_version()}; medians of "
        f"{args.repeat} runs, seconds of wall clock (shared machine: expect noise).",
        "",
    ]
    if "before" in trees:
        lines += [
            "| task | first, before | first, after | second, before | second, after |",
            "|---|---:|---:|---:|---:|",
        ]
        for task in args.tasks:
            lines.append(
                f"| {task} | {med('before', task, 0):.1f} | {med('after', task, 0):.1f} | "
                f"{med('before', task, 1):.1f} | {med('after', task, 1):.1f} |"
            )
    else:
        lines += ["| task | first | second |", "|---|---:|---:|"]
        for task in args.tasks:
            lines.append(f"| {task} | {med('after', task, 0):.1f} | {med('after', task, 1):.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(table)
        (args.out / "results.json").write_text(
            json.dumps({"n": args.n, "repeat": args.repeat, "runs": runs}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
