"""What a run trains and evaluates on.

Training data is one of three, and batch ``k`` of a run is always the same episodes, so a run is
reproducible from its seed and a resumed run sees exactly the batches an unbroken one would:

- a stream of a generated task (``EpisodeStream``): batch k is episodes ``k*B .. (k+1)*B-1``;
- a fixed training set of a generated task (``--train-questions N``: bAbI-1k, -10k): the first
  stories holding N questions of each task, ``valid_fraction`` of them held out;
- a dataset's ``train`` split (``ptb/word-v1``), read from its source files, held out: its
  ``validation`` split.

A fixed set is passed over in shuffled epochs whose order depends on (seed, epoch) only.
Evaluation sets: a task's ``test`` stream and each ``extrapolate*`` preset over the training
knobs; a dataset's ``validation`` and ``test`` splits, whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from memtasks.episode import EpisodeBatch
from memtasks.errors import MemtasksError
from memtasks.knobs import Knobs
from memtasks.torch import EpisodeStream
from memtasks.views import answer_spans

from .settings import RunSettings

__all__ = [
    "EVAL_SPLIT",
    "TrainingData",
    "answer_spans",
    "eval_sets",
    "extrapolate_knobs",
    "fixed_training_set",
    "DatasetSplits",
    "is_dataset",
    "probe",
    "training_data",
]

EVAL_SPLIT = "test"
VALID_SPLIT = "validation"  # Hugging Face's name; a file's "valid" is this split


def is_dataset(spec: Any) -> bool:
    """A real dataset (read from source files) rather than a generated task."""
    from memtasks.datasets import DatasetSpec

    return isinstance(spec, DatasetSpec)


class DatasetSplits:
    """A dataset's splits, each read from its source files once (``memtasks.datasets.read``:
    episodes, layout with the vocabulary of the files, and the files' names and hashes)."""

    def __init__(self, spec: Any, knobs: Knobs, cfg: RunSettings) -> None:
        self.spec, self.knobs, self.cfg = spec, knobs, cfg
        self._loaded: dict[str, Any] = {}

    def __call__(self, split: str):
        if split not in self._loaded:
            from memtasks.datasets import read

            self._loaded[split] = read(self.spec.id, split, self.cfg.path,
                                       checksums=self.cfg.checksums,
                                       **self.knobs.to_dict())  # fmt: skip
        return self._loaded[split]


def probe(spec: Any, knobs: Knobs, cfg: RunSettings, splits=None) -> EpisodeBatch:
    """A first batch of training episodes: for checks before training (a non-causal model)."""
    if splits is not None:
        return splits("train").batch[: min(cfg.batch_size, 256)]
    return spec.generate(min(cfg.batch_size, 256), cfg.seed, "train", knobs=knobs)


def _task_of(batch: EpisodeBatch) -> np.ndarray:
    """Which task each episode is of (a joint set's ``meta["task"]``; 0 for one task)."""
    task = batch.meta.get("task")
    return np.zeros(len(batch), np.int64) if task is None else np.asarray(task, np.int64)


def fixed_training_set(
    spec: Any, knobs: Knobs, seed: int, questions: int
) -> tuple[EpisodeBatch, dict[str, Any]]:
    """The first stories of the train split holding ``questions`` questions of each task (whole
    stories, so the last one may bring a few more), and a summary of what it holds."""
    parts, start, chunk = [], 0, 256
    while True:  # generate in doubling chunks until every task has its questions
        parts.append(spec.generate(chunk, seed, "train", start=start, knobs=knobs))
        start += chunk
        batch = EpisodeBatch.concat(parts)
        spans, task = answer_spans(batch), _task_of(batch)
        tasks = np.unique(task[: len(parts[0])])  # the first chunk holds every task of a joint set
        if all(spans[task == t].sum() >= questions for t in tasks):
            break
        chunk *= 2
    # the questions each task has before each story (exclusive running count per task)
    before = np.zeros(len(batch), np.int64)
    for t in tasks:
        sel = task == t
        before[sel] = np.cumsum(spans[sel]) - spans[sel]
    keep = np.flatnonzero(before < questions)
    chosen = batch.take(keep)
    chosen_spans, chosen_task = spans[keep], task[keep]
    summary = {
        "split": "train",
        "seed": seed,
        "episodes": len(chosen),
        "questions": int(chosen_spans.sum()),
        "questions_per_task": {
            str(int(t)): int(chosen_spans[chosen_task == t].sum()) for t in tasks
        },
    }
    return chosen, summary


@dataclass
class TrainingData:
    """The training batches of a run, from any step on, and its held-out set."""

    info: dict[str, Any]  # what the results record as ``training_set``
    batches: Callable[[int, int], Iterator[Any]]  # (first step, total steps) -> model batches
    steps_per_epoch: int | None = None  # None: a stream (no epochs)
    valid: EpisodeBatch | None = None  # scored after each epoch
    train: EpisodeBatch | None = None  # a fixed set's training episodes (None: a stream)

    @property
    def fixed(self) -> bool:
        return self.steps_per_epoch is not None


def training_data(
    spec, knobs: Knobs, cfg: RunSettings, model, device, splits: DatasetSplits | None = None
) -> TrainingData:
    """The run's training data: a stream, a fixed set of a task, or a dataset's train split."""
    if splits is not None:
        loaded = splits("train")
        train = loaded.batch
        valid = splits(VALID_SPLIT).batch if VALID_SPLIT in spec.splits else None
        info = {"split": "train", "dataset": spec.id, "episodes": len(train),
                "scored": int(train.mask.sum()), "sources": loaded.sources,
                "path": None if cfg.path is None else str(cfg.path)}  # fmt: skip
        return _epochs(train, valid, info, cfg, model, device)
    if cfg.train_questions is None:

        def stream(first: int, total: int):
            return EpisodeStream(
                cfg.task, cfg.batch_size, cfg.seed, "train", knobs=knobs,
                start=first * cfg.batch_size, num_batches=total - first, device=device,
                prefetch=2, collate_fn=None if model.view == "padded" else model.collate,
            )  # fmt: skip

        return TrainingData({"split": "train", "seed": cfg.seed, "stream": True}, stream)
    chosen, info = fixed_training_set(spec, knobs, cfg.seed, cfg.train_questions)
    held = np.random.default_rng([cfg.seed, 1]).permutation(len(chosen))
    n_valid = int(round(cfg.valid_fraction * len(chosen)))
    valid = chosen.take(np.sort(held[:n_valid])) if n_valid else None
    info.update(
        valid_episodes=n_valid,
        valid_questions=int(answer_spans(valid).sum()) if n_valid else 0,
    )
    return _epochs(chosen.take(np.sort(held[n_valid:])), valid, info, cfg, model, device)


def _epochs(train: EpisodeBatch, valid, info, cfg: RunSettings, model, device) -> TrainingData:
    """Shuffled epochs over ``train``: memory networks batch questions, the others episodes."""
    if len(train) == 0:
        raise MemtasksError(f"{cfg.task}: the training set is empty")
    if model.view == "qa":
        collated = model.collate(train, device)
        units = len(collated["answer"])
    else:
        units = len(train)
    info["batch_unit"] = "question" if model.view == "qa" else "story"
    steps_per_epoch = math.ceil(units / cfg.batch_size)

    def batches(first: int, total: int):
        """Step s's batch: its share of epoch s // steps_per_epoch's permutation, which depends
        on the seed and the epoch only, so a resumed run sees what an unbroken one would."""
        for s in range(first, total):
            epoch, j = divmod(s, steps_per_epoch)
            order = np.random.default_rng([cfg.seed, 2, epoch]).permutation(units)
            rows = np.sort(order[j * cfg.batch_size : (j + 1) * cfg.batch_size])
            if model.view == "qa":
                yield model.select(collated, torch.from_numpy(rows).to(device))
            else:
                yield model.collate(train.take(rows), device)

    return TrainingData(info, batches, steps_per_epoch, valid, train)


def extrapolate_knobs(spec, knobs: Knobs) -> dict[str, Knobs]:
    """Each of the task's ``extrapolate*`` presets applied over the training knobs (so widths
    and the like stay what the model reads), by preset name."""
    return {
        name: spec.knobs.from_values({**knobs.to_dict(), **values})
        for name, values in spec.presets.items()
        if name.startswith("extrapolate")
    }


def eval_sets(
    spec, knobs: Knobs, cfg: RunSettings, splits: DatasetSplits | None = None
) -> tuple[dict[str, EpisodeBatch], dict]:
    """The evaluation sets by name, and the knobs of the extrapolation sets by name."""
    if splits is not None:
        names = [s for s in (VALID_SPLIT, EVAL_SPLIT) if s in spec.splits]
        return {s: splits(s).batch for s in names}, {}
    extra = extrapolate_knobs(spec, knobs) if cfg.extrapolate else {}
    sets = {"test": spec.generate(cfg.eval_episodes, cfg.seed, EVAL_SPLIT, knobs=knobs)}
    for name, values in extra.items():
        sets[name] = spec.generate(cfg.eval_episodes, cfg.seed, EVAL_SPLIT, knobs=values)
    return sets, extra
