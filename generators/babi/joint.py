"""``babi/joint-v1``: the 20 bAbI tasks in one stream with one vocabulary, for joint training.

Memory-network papers report bAbI both per task and "jointly": one model trained on the union of
the tasks' training sets (Sukhbaatar et al. 2015, Table 1 "joint"; Xiong et al. 2016 and Graves
et al. 2016 train on all tasks at once). Each task has its own vocabulary, so a joint model
needs their union; this task provides it. Episode ``i`` is episode ``i // n`` of task
``tasks[i % n]`` (its ``release`` preset), with its word ids mapped into the union vocabulary:
every window of ``n`` consecutive episodes holds one story of each task. Each task draws from
its own stream, derived from this task's (seed, split), so the joint stream is as reproducible
as the tasks' own. ``meta["task"]`` says which task a story is of (the runner reports results
by task from it); ``statements`` and ``questions`` are kept, the per-question fields are not.

``babi/joint-v2`` (issue 13) mixes the tasks' newest versions as of issue 13: ``babi/qa5-v2``,
``qa14-v2`` and ``qa16-v2`` (questions after facts that disagree, as the release asks them),
the others ``-v1``. ``babi/joint-v1`` is kept as it was (the v1 tasks), superseded. The ids of
each version are fixed here, so a later task version needs a new joint version.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from memtasks.episode import EpisodeBatch
from memtasks.knobs import Knobs, knob
from memtasks.registry import Layout, TaskSpec, get_spec, register
from memtasks.rng import stream_key

ALL = tuple(range(1, 21))
PER_QUESTION = ("question_template", "support_distance")  # left out (see generate)


@dataclass(frozen=True)
class JointKnobs(Knobs):
    tasks: tuple = knob(
        ALL, lo=1, hi=20, elem=int, doc="the bAbI tasks mixed, in turn",
        harder="up", ladder=((1,), (1, 2, 3), tuple(range(1, 11)), ALL),  # by number of tasks
        why="more tasks sharing one model: more words, question kinds and rules at once",
    )  # fmt: skip

    def check(self) -> None:
        self.require(len(self.tasks) > 0, "tasks must name at least one bAbI task")
        self.require(
            len(set(self.tasks)) == len(self.tasks), f"tasks are named twice in {self.tasks}"
        )


# joint version -> the task versions it mixes (those not named: -v1)
TASK_VERSIONS = {1: {}, 2: {5: 2, 14: 2, 16: 2}}


def _task_id(number: int, version: int = 1) -> str:
    return f"babi/qa{number}-v{TASK_VERSIONS[version].get(number, 1)}"


@functools.lru_cache(maxsize=64)
def _vocab(tasks: tuple[int, ...], version: int = 1) -> tuple[str, ...]:
    """The union of the tasks' vocabularies: task ``tasks[0]``'s in its order, then each next
    task's new words (every task starts with the same ``<pad>``, ``<answer>``, ``.``, ``?``)."""
    words: dict[str, None] = {}
    for t in tasks:
        spec = get_spec(_task_id(t, version))
        words.update(dict.fromkeys(spec.layout(spec.make_knobs("release")).vocab))
    return tuple(words)


@functools.lru_cache(maxsize=64)
def _id_maps(tasks: tuple[int, ...], version: int = 1) -> tuple[np.ndarray, ...]:
    """For each task, ``int32[len(its vocab)]``: its word ids in the union vocabulary."""
    union = {w: i for i, w in enumerate(_vocab(tasks, version))}
    maps = []
    for t in tasks:
        spec = get_spec(_task_id(t, version))
        vocab = spec.layout(spec.make_knobs("release")).vocab
        maps.append(np.asarray([union[w] for w in vocab], dtype=np.int32))
    return tuple(maps)


def generate(
    knobs: JointKnobs, key: np.uint64, start: int, count: int, version: int = 1
) -> EpisodeBatch:
    tasks = tuple(knobs.tasks)
    n = len(tasks)
    maps = _id_maps(tasks, version)
    stop = start + count
    parts: list[EpisodeBatch] = []
    rows: list[np.ndarray] = []  # the joint index of each part's episodes
    for k, t in enumerate(tasks):
        # joint episodes i with i % n == k, i in [start, stop): task t's episodes i // n
        first = (start - k + n - 1) // n  # the first i // n with i >= start
        last = (stop - 1 - k) // n  # the last with i < stop
        if last < first:
            if count or k:
                continue
            # an empty range: no task has episodes in it, yet the batch needs the fields and
            # dtypes of one, so the first task gives zero episodes
            first, last = 0, -1
        spec = get_spec(_task_id(t, version))
        task_knobs = spec.make_knobs("release")
        # each task's own stream, derived from this one's key: independent of the other tasks
        sub_key = stream_key(spec.id, task_knobs.to_dict(), int(key), "joint")
        part = spec.generator(task_knobs, sub_key, first, last - first + 1)
        part.inputs = maps[k][part.inputs]
        part.targets = maps[k][part.targets]
        parts.append(part)
        rows.append(np.arange(first, last + 1, dtype=np.int64) * n + k)
    for p in parts:
        # per-question fields are as wide as a task's longest story, which differs between
        # tasks and so between slices of the stream: a slice must not change an episode
        for name in PER_QUESTION:
            del p.meta[name]
    joint = EpisodeBatch.concat(parts)
    order = np.argsort(np.concatenate(rows), kind="stable")
    joint = joint.take(order)
    joint.index = np.arange(start, stop, dtype=np.int64)
    return joint


def layout(knobs: JointKnobs, version: int = 1) -> Layout:
    vocab = _vocab(tuple(knobs.tasks), version)
    return Layout(input_dtype="int32", target_dtype="int32", vocab=vocab)


SOURCE = (
    "Weston et al. (2015), arXiv:1502.05698; joint training as in Sukhbaatar et al. (2015), "
    "arXiv:1503.08895, Table 1"
)


@dataclass(frozen=True)
class JointV2Knobs(JointKnobs):
    """``babi/joint-v2``'s knobs: ``JointKnobs``, a class of its own so that its messages name
    its task."""


SPEC_V2 = register(
    TaskSpec(
        id="babi/joint-v2",
        summary="the 20 bAbI tasks in turn, one vocabulary: for joint training (release data; "
        "qa5, qa14, qa16 v2)",
        knobs=JointV2Knobs,
        generator=functools.partial(generate, version=2),
        layout=functools.partial(layout, version=2),
        metric=get_spec("babi/qa1-v1").metric,
        presets={"release": {}},
        source=SOURCE,
    )
)

SPEC = register(
    TaskSpec(
        id="babi/joint-v1",
        summary="the 20 bAbI tasks in turn, one vocabulary: for joint training (release data)",
        knobs=JointKnobs,
        generator=generate,
        layout=layout,
        metric=get_spec("babi/qa1-v1").metric,
        presets={"release": {}},
        source=SOURCE,
        superseded_by="babi/joint-v2",
        superseded_why="mixes babi/qa5-v1, qa14-v1 and qa16-v1, which never ask after facts "
        "that disagree; joint-v2 mixes their v2",
    )
)
