"""Run the reference baselines of the NTM tasks and write one results JSON per (task, model).

    python baselines/run_baselines.py --tag cpu-2core --time-limit 480 --jobs 2
    python baselines/run_baselines.py --tag h100 --steps 20000            # on a GPU
    python baselines/run_baselines.py --quick --tag smoke                  # seconds, a smoke test

Each run is ``memtasks baseline MODEL TASK`` (``memtasks.models.training.run``) with the paper's
configuration: LSTM 3x256, NTM with a 100-unit LSTM controller and N=128, M=20, and the DNC of the
same sizes, each with its paper's optimiser. ``--time-limit`` gives every run the same wall-clock
training budget (the steps reached are recorded); ``--jobs`` runs that many at once, each on
``--threads`` CPU threads. Results land in ``baselines/results/<tag>/<task>__<model>.json``;
``baselines/make_tables.py`` turns them into the tables of the data cards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from run_qa_baselines import run_commands  # the sibling script (sys.path[0] is this folder)

HERE = Path(__file__).resolve().parent
TASKS = (
    "ntm/copy-v1",
    "ntm/repeat-copy-v1",
    "ntm/associative-recall-v1",
    "ntm/dynamic-ngrams-v1",
    "ntm/priority-sort-v1",
)
MODELS = ("lstm", "ntm", "dnc")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", required=True, help="results folder name, e.g. cpu-2core, h100")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per run")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval-episodes", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per run (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extra", default="", help="more flags for every run, e.g. '--lr 3e-4'")
    parser.add_argument("--out-dir", help="write here instead of baselines/results/<tag>")
    parser.add_argument("--quick", action="store_true", help="tiny runs: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.eval_episodes, args.time_limit = 3, 8, None
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results" / args.tag
    out_dir.mkdir(parents=True, exist_ok=True)

    runs = [(t, m) for t in args.tasks.split(",") for m in args.models.split(",")]

    def command(task: str, model: str, out: Path) -> list[str]:
        cmd = [sys.executable, "-m", "memtasks.cli", "baseline", model, task,
               "--steps", str(args.steps), "--batch-size", str(args.batch_size),
               "--eval-episodes", str(args.eval_episodes), "--eval-every", str(args.eval_every),
               "--device", args.device, "--seed", str(args.seed), "--quiet",
               "--checkpoint", str(out_dir / "checkpoints" / f"{out.stem}.ckpt"),
               "--resume", "--out", str(out)]  # fmt: skip
        if args.quick:
            cmd += ["--hp", "controller_size=8"] if model in ("ntm", "dnc") else []
            cmd += ["--hp", "hidden_size=8"] if model == "lstm" else []
        if args.time_limit:
            cmd += ["--time-limit", str(args.time_limit)]
        return cmd + args.extra.split()

    commands = []
    for task, model in runs:
        out = out_dir / f"{task.split('/')[1]}__{model}.json"
        commands.append((command(task, model, out), out))
    return run_commands(commands, jobs=args.jobs, threads=args.threads)


if __name__ == "__main__":
    sys.exit(main())
