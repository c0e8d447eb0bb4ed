"""Learnability check: is generated bAbI as learnable as the release? (issue 13, item 3)

For each bAbI task, one model with one protocol (the variant ``memn2n.babi-1k``: MemN2N, 3 hops,
position encoding, linear start, random noise, SGD, 120 epochs of batch 32) is trained

- on the **release**: the first 900 questions (whole stories) of the released training file,
  and scored on the rest of that file (about 100 questions, the "release tail");
- on **generated** data of the same size: ``babi/qaN-v1`` with 1,000 training questions, 10 %
  of the stories held out (so about 900 trained on), for several data seeds, and scored on
  1,000 generated test stories, on the same release tail, and on the whole release file.

Each source is trained from several initialisations. A task is **flagged** when the two
sources' mean errors on the release tail differ by more than the noise: the larger of the
sources' ranges (max - min) over initialisations of one data set, and never less than the
tail's own resolution (two binomial standard errors at the pooled error, at least one
question: 1 point of a 100-question tail). The generated run of data seed 0 trains
``--best-of`` initialisations: the one with the lowest training error is the paper's "best
of 10" figure (Sukhbaatar et al. 2015, sec. 4.2), whose generated-test and release-file
errors the data cards show.

This is a benchmark, not a test: it needs the release's training files (``--release-dir`` or
``$MEMTASKS_BABI_DIR``) and CPU-hours. One JSON per (task, source, data seed) lands in
``--out``, with every initialisation's figures; a run whose file exists is skipped, so an
interrupted check resumes. ``--report`` prints the table (and writes ``table.md``)::

    python benchmarks/bench_learnability.py --release-dir DIR --out \\
        benchmarks/results/cpu-2core-learnability --jobs 2
    python benchmarks/bench_learnability.py --out benchmarks/results/cpu-2core-learnability \\
        --report
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

VARIANT = "memn2n.babi-1k"
TRAIN_QUESTIONS = 900  # the release's first 900 questions; the rest is the tail scored


def split_release(batch, questions: int = TRAIN_QUESTIONS):
    """(head, tail): the stories holding the first ``questions`` questions, and the others."""
    from memtasks.views import answer_spans

    spans = answer_spans(batch)
    before = np.cumsum(spans) - spans  # questions in the stories before each
    head = np.flatnonzero(before < questions)
    tail = np.flatnonzero(before >= questions)
    return batch.take(head), batch.take(tail)


def release_file(folder: Path, task: int, vocab):
    from memtasks.loaders import babi

    return babi.read_file(babi.release_path(folder, "en", task, "train"), vocab=vocab, task=task)


def run_unit(
    task_id: str,
    source: str,
    seed: int,
    inits: int,
    folder: str,
    out: str,
    epochs: int | None = None,
) -> str:
    """Train ``inits`` initialisations of one (task, source, data seed); write its JSON."""
    import torch

    from memtasks.models.training import data as data_module
    from memtasks.models.training.run import device_name, git_commit, prepare, train_initialisations
    from memtasks.models.training.settings import RunSettings

    torch.set_num_threads(1)
    started = time.time()
    commit, dirty = git_commit()  # the code that runs, not the checkout when the file is written
    task = task_number(task_id)
    cfg = RunSettings(model=VARIANT, task=task_id, seed=seed, inits=inits,
                      epochs=epochs, extrapolate=False, progress=False, threads=1)  # fmt: skip
    first, _ = prepare(cfg)
    vocab = first.spec.layout(first.knobs).vocab
    whole = release_file(Path(folder), task, vocab).batch
    head, tail = split_release(whole, TRAIN_QUESTIONS)

    def adapt(trainer):
        """The same run on the release's head (source "release"), and the release sets."""
        trainer.eval_sets["release-tail"] = tail
        if source == "release":
            info = {"split": "train", "release": str(folder), "questions": TRAIN_QUESTIONS,
                    "episodes": len(head)}  # fmt: skip
            trainer.data = data_module._epochs(head, None, info, trainer.cfg, trainer.model,
                                               trainer.device)  # fmt: skip
            trainer.total_steps = trainer.cfg.epochs * trainer.data.steps_per_epoch
            trainer.scheduler = trainer.settings.schedule(
                trainer.optimizer, trainer.data.steps_per_epoch
            )
        else:
            trainer.eval_sets["release-file"] = whole
        return trainer

    first = adapt(first)
    _, chosen = train_initialisations(first, make=lambda c: adapt(prepare(c)[0]))
    record = {
        "task": task, "task_id": task_id, "source": source, "data_seed": seed,
        "variant": VARIANT,
        "train_questions": (TRAIN_QUESTIONS if source == "release"
                            else first.data.info.get("questions")),
        "tail_questions": len(_answers(tail)),
        "initialisations": chosen, "device": device_name(torch.device("cpu")),
        "git_commit": commit, "git_dirty": dirty, "wall_time_s": time.time() - started,
    }  # fmt: skip
    path = Path(out) / unit_file(task_id, source, seed)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)
    return path.name


def task_number(task_id: str) -> int:
    return int(re.fullmatch(r"babi/qa(\d+)-v\d+", task_id)[1])


def unit_file(task_id: str, source: str, seed: int) -> str:
    """The generated runs are named by the generator's id, the release's by task only."""
    name = task_id.split("/")[1] if source == "generated" else f"qa{task_number(task_id)}"
    return f"{name}__{source}__seed{seed}.json"


def newest(task: int) -> str:
    """The newest version of bAbI task ``task`` (``babi/qa5-v2`` once it exists)."""
    import memtasks

    ids = [t for t in memtasks.list_tasks() if re.fullmatch(rf"babi/qa{task}-v\d+", t)]
    return max(ids, key=lambda t: int(t.rsplit("-v", 1)[1]))


def _answers(batch) -> np.ndarray:
    from memtasks.views import answer_spans

    return np.repeat(np.arange(len(batch)), answer_spans(batch))


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
def _errors(record: dict, set_name: str) -> list[float]:
    return [100 * m["metrics"][set_name]["answer_error"]
            for m in record["initialisations"]["members"] if set_name in m["metrics"]]  # fmt: skip


def summarise(folder: Path) -> list[dict]:
    """Per generator id (``babi/qa5-v1``, ``babi/qa5-v2``...): both sources' errors on the release
    tail, the noise, the flag, and the best-of-N figures of generated data seed 0."""
    release: dict[int, dict] = {}
    generated: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("qa*__*__seed*.json")):
        record = json.loads(path.read_text())
        if record["source"] == "release":
            release[record["task"]] = record
        else:
            task_id = record.get("task_id", f"babi/qa{record['task']}-v1")
            generated.setdefault(task_id, []).append(record)
    rows = []
    for task_id in sorted(generated, key=lambda t: (task_number(t), t)):
        task, runs = task_number(task_id), generated[task_id]
        if task not in release:
            continue
        rel = _errors(release[task], "release-tail")
        gen = [_errors(r, "release-tail") for r in runs]
        gen_all = [e for g in gen for e in g]
        noise = max(
            [max(rel) - min(rel)]
            + [max(g) - min(g) for g in gen if len(g) > 1]
            + [_sampling(release[task].get("tail_questions"), rel + gen_all)]
        )
        diff = float(np.mean(gen_all) - np.mean(rel))
        best = next((r for r in runs if r["data_seed"] == 0), runs[0])
        inits = best["initialisations"]
        kept = inits["members"][inits["chosen"]]["metrics"]
        rows.append({
            "task": task, "task_id": task_id,
            "release_tail_from_release": (float(np.mean(rel)), min(rel), max(rel), len(rel)),
            "release_tail_from_generated": (float(np.mean(gen_all)), min(gen_all),
                                            max(gen_all), len(gen_all)),
            "generated_test_from_generated": float(np.mean(
                [e for r in runs for e in _errors(r, "test")])),
            "data_seeds": sorted(r["data_seed"] for r in runs),
            "noise": noise, "difference": diff,
            "flagged": abs(diff) > noise + 1e-9,  # one question's difference is no evidence
            "best_of": inits["count"],
            "best_test": 100 * kept["test"]["answer_error"],
            "best_release_file": 100 * kept["release-file"]["answer_error"],
            "mean_test_seed0": float(np.mean(_errors(best, "test"))),
            "mean_release_file_seed0": float(np.mean(_errors(best, "release-file"))),
        })  # fmt: skip
    return rows


def _sampling(questions: int | None, errors: list[float]) -> float:
    """The tail's own resolution, in points: two binomial standard errors at the pooled error
    rate, and never under one question (a tail of 100 questions cannot tell 0 % from 1 %)."""
    if not questions:
        return 0.0
    p = float(np.mean(errors)) / 100
    return 100 * max(2 * np.sqrt(p * (1 - p) / questions), 1 / questions)


def table(rows: list[dict]) -> str:
    head = ("| task | trained on release: error on release tail, mean (min-max, n) | trained on "
            "generated: error on release tail | generated: error on generated test | noise | "
            "difference | flagged |")  # fmt: skip
    lines = [head, "|" + "---|" * 7]
    for r in rows:
        rel, gen = r["release_tail_from_release"], r["release_tail_from_generated"]
        lines.append(
            f"| {r['task_id']} | {rel[0]:.1f} ({rel[1]:.1f}-{rel[2]:.1f}, {rel[3]}) | "
            f"{gen[0]:.1f} ({gen[1]:.1f}-{gen[2]:.1f}, {gen[3]}) | "
            f"{r['generated_test_from_generated']:.1f} | {r['noise']:.1f} | "
            f"{r['difference']:+.1f} | {'**yes**' if r['flagged'] else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release-dir", default=os.environ.get("MEMTASKS_BABI_DIR"))
    parser.add_argument("--out", required=True, help="folder of the per-run JSON files")
    parser.add_argument("--tasks", default="1-20", help="e.g. 1-20 or 2,3,16")
    parser.add_argument(
        "--version",
        default="newest",
        help="generator version: newest (default) or e.g. v1 for babi/qaN-v1",
    )
    parser.add_argument(
        "--inits", type=int, default=3, help="initialisations trained on the release"
    )
    parser.add_argument(
        "--seed-inits",
        type=int,
        default=1,
        help="initialisations of each generated data seed after 0",
    )
    parser.add_argument(
        "--best-of",
        type=int,
        default=10,
        help="initialisations of generated data seed 0 (the paper's best of 10)",
    )
    parser.add_argument("--data-seeds", type=int, default=3, help="generated data seeds")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None, help="default: the variant's (120)")
    parser.add_argument(
        "--sources",
        default="generated,release",
        help="which runs: generated, release or both (comma-separated)",
    )
    parser.add_argument("--report", action="store_true", help="only print the table")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.report:
        text = table(summarise(out))
        print(text)
        (out / "table.md").write_text(text + "\n")
        return 0
    if not args.release_dir or not Path(args.release_dir).is_dir():
        parser.error("--release-dir (or $MEMTASKS_BABI_DIR): the folder of the bAbI release")
    tasks = _parse_tasks(args.tasks)
    out.mkdir(parents=True, exist_ok=True)
    ids = [newest(t) if args.version == "newest" else f"babi/qa{t}-{args.version}" for t in tasks]
    units = []
    for seed in range(args.data_seeds):  # seed 0 of every task first: the headline figures
        for task_id in ids:
            units.append((task_id, "generated", seed,
                          args.best_of if seed == 0 else args.seed_inits))  # fmt: skip
            if seed == 0:
                units.append((task_id, "release", 0, args.inits))
    sources = set(args.sources.split(","))
    units = [u for u in units if u[1] in sources]
    todo = [u for u in units if not (out / unit_file(*u[:3])).exists()]
    print(f"{len(units) - len(todo)} of {len(units)} runs done; {len(todo)} to go", flush=True)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_unit, *u, args.release_dir, str(out), args.epochs) for u in todo]
        for future in futures:
            print("done", future.result(), flush=True)
    print(table(summarise(out)))
    return 0


def _parse_tasks(text: str) -> list[int]:
    tasks: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        tasks += list(range(int(lo), int(hi or lo) + 1))
    bad = [t for t in tasks if not 1 <= t <= 20]
    if bad:
        raise SystemExit(f"--tasks: bAbI tasks are 1..20, got {bad[0]}")
    return tasks


if __name__ == "__main__":
    sys.exit(main())
