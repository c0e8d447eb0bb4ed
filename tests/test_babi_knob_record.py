"""bAbI story functions read their knobs by name from a record (generators/babi/_task.py).

Before, they read a float vector by position (``p[P_TASK + 2]``): a swapped pair ran silently
wrong. Now every field has a name, the values are placed by name, and a story reading a knob
its task does not declare fails when its driver compiles.
"""

from __future__ import annotations

import numpy as np
import pytest

import memtasks
from memtasks.generators._kernels import njit
from memtasks.generators.babi import _story
from memtasks.generators.babi._task import Driver, knob_record, world_of

BABI = [t for t in memtasks.list_tasks() if t.startswith(("babi/qa", "world/"))]


@pytest.mark.parametrize("task", BABI)
def test_every_task_has_a_record_of_named_float_fields(task):
    knobs = memtasks.get_spec(task).make_knobs()
    record = world_of(task, knobs).params
    names = record.dtype.names
    assert names[: len(_story.COMMON_KNOBS)] == _story.COMMON_KNOBS
    assert len(set(names)) == len(names) > len(_story.COMMON_KNOBS)
    assert all(record.dtype[name] == np.float64 for name in names)
    assert record["min_distance"] == knobs.min_distance
    assert record["context_tokens"] == knobs.context_tokens


def test_values_are_placed_by_name_not_by_position():
    knobs = memtasks.get_spec("babi/qa3-v1").make_knobs(
        questions=4, statements_per_question=3, recent=7, move_rate=0.5
    )
    record = world_of("babi/qa3-v1", knobs).params
    assert (record["questions"], record["statements_per_question"], record["recent"]) == (4, 3, 7)
    assert record["move_rate"] == 0.5
    knobs = memtasks.get_spec("babi/qa18-v1").make_knobs()
    record = world_of("babi/qa18-v1", knobs).params
    assert record["steps"] == knobs.steps and record["questions"] == knobs.questions


def test_a_record_refuses_positional_values_and_shadowed_names():
    common = dict.fromkeys(_story.COMMON_KNOBS, 0.0)
    with pytest.raises(TypeError, match="by name"):
        knob_record(common, [1.0, 2.0])
    with pytest.raises(ValueError, match="shadow"):
        knob_record(common, {"a_max": 3.0})


@njit
def _misspelt_story(state, p, pools, lines):
    # "questoins": a typo of a knob the task declares as "questions"
    return state, np.int64(p.questoins) - 1


def test_a_story_reading_an_undeclared_knob_fails_when_it_compiles():
    task = "babi/qa1-v1"
    spec = memtasks.get_spec(task)
    knobs = spec.make_knobs()
    driver = Driver("test_misspelt", _misspelt_story, 4.0, 0)
    with pytest.raises(memtasks.KnobError) as err:
        driver.generate(task, world_of(task, knobs), spec.key(knobs, 0, "train"), 0, 2)
    message = str(err.value)
    assert "\n" not in message and "'questoins'" in message and "questions" in message
