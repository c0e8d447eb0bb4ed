"""Issue 13: does training on ``babi/qaN-v2`` teach what the release asks after facts that
disagree? Train MemN2N (the ``memn2n`` defaults) on generated ``babi/qaN-vV`` and score the
released English training file of task N (unseen in training), split by whether a question's
matching earlier facts disagree (``fidelity.disagreement``'s definition).

    MEMTASKS_BABI_DIR=tasks_1-20_v1-2 python baselines/investigations/recency_eval.py \\
        TASK VERSION SEED TRAIN_QUESTIONS EPOCHS

Tasks 5, 14 and 16 (one answer word per question). Results: ``recency-v2.md``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

import memtasks
from memtasks.generators.babi import fidelity
from memtasks.loaders import babi as release
from memtasks.models.training.run import prepare
from memtasks.models.training.settings import RunSettings


def main(task: int, version: int, seed: int, questions: int, epochs: int) -> str:
    torch.set_num_threads(1)
    task_id = f"babi/qa{task}-v{version}"
    cfg = RunSettings(
        model="memn2n", task=task_id, train_questions=questions, epochs=epochs, device="cpu",
        threads=1, seed=seed, progress=False, extrapolate=False, eval_episodes=200,
    )  # fmt: skip
    started = time.time()
    trainer, _ = prepare(cfg)
    trainer.train()
    trainer.finish()
    model = trainer.model
    spec = memtasks.get_spec(task_id)
    vocab = spec.layout(spec.make_knobs()).vocab
    path = release.release_path(Path(os.environ["MEMTASKS_BABI_DIR"]), "en", task, "train")
    batch = release.read_file(path, vocab=vocab, task=task).batch
    model.eval()
    predictions = []
    with torch.no_grad():
        for lo in range(0, len(batch), 250):
            part = model.collate(batch[lo : lo + 250], torch.device("cpu"))
            predictions.append(model.predictions(model(part), part))
    answer = batch.role == 2  # tasks 5, 14, 16: one answer word per question, in file order
    right = np.concatenate(predictions)[answer] == batch.targets[answer]
    lines = path.read_text().splitlines()
    disagree = np.array(
        [
            len(set(found)) > 1
            for story in fidelity._stories(lines)
            for _, found, _ in fidelity._CANDIDATES[task](story)
        ]
    )
    assert len(disagree) == len(right)
    return (
        f"{task_id} seed {seed}, {questions} questions x {epochs} epochs "
        f"({time.time() - started:.0f} s): release en train qa{task}: error "
        f"{1 - right.mean():.1%} overall, {1 - right[~disagree].mean():.1%} on "
        f"{int((~disagree).sum())} questions whose facts agree, "
        f"{1 - right[disagree].mean():.1%} on {int(disagree.sum())} whose facts disagree"
    )


if __name__ == "__main__":
    print(main(*map(int, sys.argv[1:6])))
