"""babi/joint-v1 and -v2: the 20 bAbI tasks in turn, in one vocabulary (v2 with qa5, qa14
and qa16 at v2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.errors import KnobError

SPEC = memtasks.get_spec("babi/joint-v1")


def _vocab(task: str) -> tuple[str, ...]:
    spec = memtasks.get_spec(task)
    return spec.layout(spec.make_knobs("release")).vocab


@pytest.mark.parametrize(
    "joint_id, tasks, v2",
    [("babi/joint-v1", (3, 1, 17), ()), ("babi/joint-v2", (5, 1, 16, 14), (5, 14, 16))],
)
def test_episodes_take_the_tasks_in_turn_and_read_as_the_tasks_own(joint_id, tasks, v2):
    from memtasks.rng import stream_key

    spec_joint = memtasks.get_spec(joint_id)
    knobs = spec_joint.make_knobs(tasks=tasks)
    n = len(tasks)
    joint = memtasks.generate(joint_id, 3 * n, seed=4, tasks=tasks)
    assert joint.meta["task"].tolist() == list(tasks) * 3
    assert set(joint.meta) == {"task", "statements", "questions"}
    union = spec_joint.layout(knobs).vocab
    for k, number in enumerate(tasks):
        spec = memtasks.get_spec(f"babi/qa{number}-v{2 if number in v2 else 1}")
        task_knobs = spec.make_knobs("release")
        key = stream_key(
            spec.id, task_knobs.to_dict(), int(spec_joint.key(knobs, 4, "train")), "joint"
        )
        own = spec.generator(task_knobs, key, 0, 3)  # the task's stories 0, 1, 2
        vocab = spec.layout(task_knobs).vocab
        mine = joint[k::n]
        np.testing.assert_array_equal(mine.lengths, own.lengths)
        for field in ("mask", "role", "segment", "support", "support_answer"):
            np.testing.assert_array_equal(getattr(mine, field), getattr(own, field))
        # the same words, written in the union's ids
        assert [union[t] for t in mine.inputs] == [vocab[t] for t in own.inputs]
        assert [union[t] for t in mine.targets] == [vocab[t] for t in own.targets]


def test_joint_v1_is_superseded_by_v2():
    old, new = memtasks.get_spec("babi/joint-v1"), memtasks.get_spec("babi/joint")
    assert new.id == "babi/joint-v2" and old.superseded_by == new.id and old.superseded_why
    with pytest.raises(KnobError, match="babi/joint-v2"):  # its own messages name it
        memtasks.generate("babi/joint-v2", 1, tasks=(1, 1))


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
