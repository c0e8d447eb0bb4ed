"""babi/joint-v1: the 20 bAbI tasks in turn, in one vocabulary."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.errors import KnobError

SPEC = memtasks.get_spec("babi/joint-v1")


def _vocab(task: str) -> tuple[str, ...]:
    spec = memtasks.get_spec(task)
    return spec.layout(spec.make_knobs("release")).vocab


def test_episodes_take_the_tasks_in_turn_and_read_as_the_tasks_own():
    from memtasks.rng import stream_key

    tasks = (3, 1, 17)
    knobs = SPEC.make_knobs(tasks=tasks)
    joint = memtasks.generate("babi/joint-v1", 9, seed=4, tasks=tasks)
    assert joint.meta["task"].tolist() == [3, 1, 17] * 3
    assert set(joint.meta) == {"task", "statements", "questions"}
    union = SPEC.layout(knobs).vocab
    for k, number in enumerate(tasks):
        spec = memtasks.get_spec(f"babi/qa{number}-v1")
        task_knobs = spec.make_knobs("release")
        key = stream_key(spec.id, task_knobs.to_dict(), int(SPEC.key(knobs, 4, "train")), "joint")
        own = spec.generator(task_knobs, key, 0, 3)  # the task's stories 0, 1, 2
        vocab = spec.layout(task_knobs).vocab
        mine = joint[k::3]
        np.testing.assert_array_equal(mine.lengths, own.lengths)
        for field in ("mask", "role", "segment", "support", "support_answer"):
            np.testing.assert_array_equal(getattr(mine, field), getattr(own, field))
        # the same words, written in the union's ids
        assert [union[t] for t in mine.inputs] == [vocab[t] for t in own.inputs]
        assert [union[t] for t in mine.targets] == [vocab[t] for t in own.targets]


def test_vocabulary_is_the_union_with_the_specials_first():
    union = SPEC.layout(SPEC.make_knobs()).vocab
    assert union[:4] == ("<pad>", "<answer>", ".", "?")
    assert len(set(union)) == len(union)
    expected = set().union(*(_vocab(f"babi/qa{n}-v1") for n in range(1, 21)))
    assert set(union) == expected
    assert union[: len(_vocab("babi/qa1-v1"))] == _vocab("babi/qa1-v1")


@settings(max_examples=25, deadline=None)
@given(start=st.integers(0, 60), n=st.integers(1, 25))
def test_any_slice_of_the_stream_is_the_same_episodes(start, n):
    whole = memtasks.generate("babi/joint-v1", 90, seed=1, tasks=(1, 2, 4, 6))
    part = memtasks.generate("babi/joint-v1", n, seed=1, start=start, tasks=(1, 2, 4, 6))
    assert part.equals(whole[start : start + n])
    np.testing.assert_array_equal(part.index, np.arange(start, start + n))


def test_splits_and_seeds_differ():
    a = memtasks.generate("babi/joint-v1", 20, seed=0)
    assert not a.equals(memtasks.generate("babi/joint-v1", 20, seed=1))
    assert not a.equals(memtasks.generate("babi/joint-v1", 20, seed=0, split="test"))


def test_bad_task_lists_are_refused():
    for tasks, words in [((), "at least one"), ((1, 1), "twice"), ((0,), "1"), ((21,), "20")]:
        try:
            SPEC.make_knobs(tasks=tasks)
        except KnobError as exc:
            assert words in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError(f"tasks={tasks} was accepted")
