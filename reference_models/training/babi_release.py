"""The bAbI family's evaluation hook: a run on a bAbI task also scores the release's own files.

With ``--release-dir`` (or ``$MEMTASKS_BABI_DIR``) a run on ``babi/qaN-v1`` or ``babi/joint-v1``
reads the release's files of its task(s) into the generator's vocabulary and evaluates on them
beside the generated sets: the test files, or where a checkout has only the training files,
those (which a model trained on generated data never saw). A model should score there as on
generated data. Registered for the family ``babi`` (``evaluation.register_evaluation``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memtasks.episode import EpisodeBatch
from memtasks.errors import MemtasksError
from memtasks.knobs import Knobs

from .evaluation import EvaluationHook, register_evaluation

__all__ = ["HOOK", "release_sets", "release_tasks"]


def release_tasks(spec: Any, knobs: Knobs) -> list[int] | None:
    """The numbers of the release's tasks that this task (with these knobs) is, or None for a
    task the release does not have."""
    from memtasks.loaders import babi as release

    numbers = list(knobs.tasks) if hasattr(knobs, "tasks") else [release.task_number(spec.id) or 0]
    return numbers if all(numbers) and spec.family == "babi" else None


def release_sets(
    spec: Any, knobs: Knobs, folder: Path
) -> tuple[dict[str, EpisodeBatch], dict[str, Any]]:
    """The release's files of this task (every task of a joint set), with their words mapped to
    the task's vocabulary: the test files where the folder has them, else the training files."""
    from memtasks.loaders import babi as release

    numbers = release_tasks(spec, knobs)
    vocab = spec.layout(knobs).vocab
    for split in ("test", "train"):
        paths = [release.release_path(folder, "en", n, split) for n in numbers]
        if not all(p.is_file() for p in paths):
            continue
        # read in the task's own word ids; a word outside them (knobs other than the
        # release's) is a one-line LoaderError naming the file and line
        batches = [
            release.read_file(path, vocab=vocab, task=n).batch
            for path, n in zip(paths, numbers, strict=True)
        ]
        if len(batches) > 1:  # per-question fields differ in width by task: left out, as
            for b in batches:  # babi/joint-v1 leaves them out
                b.meta = {k: v for k, v in b.meta.items() if v.ndim == 1}
        joint = EpisodeBatch.concat(batches)
        info = {"folder": str(folder), "variant": "en", "split": split, "tasks": numbers}
        if split == "train":
            info["note"] = "no test files there: the release's training files, unseen in training"
        return {f"release-{split}": joint}, info
    expected = release.release_path(folder, "en", numbers[0])
    raise MemtasksError(
        f"{folder} holds neither the test nor the training files of bAbI task(s) "
        f"{', '.join(map(str, numbers))} (expected e.g. {expected})"
    )


HOOK = register_evaluation(
    "babi",
    EvaluationHook(
        what="the bAbI release (babi/qa1-v1 .. babi/qa20-v1, babi/joint-v1)",
        applies=lambda spec, knobs: release_tasks(spec, knobs) is not None,
        sets=release_sets,
        envvar="MEMTASKS_BABI_DIR",
    ),
)
