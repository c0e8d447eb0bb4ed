"""Difficulty axes (memtasks.axes): declared on the knobs of every task, checked to be usable.

Every registered task has at least one axis; each ladder is ordered easiest first, lies inside
the knob's range and validates with the task's other knobs at their defaults; every ladder value
generates (a knob combination no story can meet would fail a sweep); and on a few tasks the
harder end measurably does what its ``why`` claims. Axis declarations are metadata only: they
change no stream key and no byte (the golden hashes in test_every_task.py pin that too).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

import memtasks
from memtasks import registry
from memtasks.axes import Axis, axes, knob_axes
from memtasks.knobs import Knobs, knob, magnitude
from memtasks.rng import stream_key

TASKS = memtasks.list_tasks()
DATASETS = registry.list_datasets() if hasattr(registry, "list_datasets") else []
SPECS = TASKS + DATASETS


@pytest.mark.parametrize("task", TASKS)
def test_every_task_declares_an_axis(task):
    found = axes(memtasks.get_spec(task))
    assert found, f"{task} declares no difficulty axis: give a knob harder=, ladder=, why="
    assert all(isinstance(a, Axis) for a in found)


@pytest.mark.parametrize("spec_id", SPECS)
def test_ladders_are_ordered_in_range_and_validate(spec_id):
    spec = registry.get_spec(spec_id)
    infos = spec.knobs.infos()
    for axis in axes(spec):
        default, info = infos[axis.knob]
        assert axis.direction in ("up", "down")
        assert axis.default == default
        assert axis.why and "\n" not in axis.why
        steps = [magnitude(v) for v in axis.ladder]
        if axis.direction == "down":
            steps = steps[::-1]
        assert len(steps) >= 2 and steps == sorted(set(steps)), (axis.knob, axis.ladder)
        lo, hi = axis.range
        for value in axis.ladder:
            for x in value if isinstance(value, tuple) else (value,):
                assert lo is None or x >= lo, (axis.knob, value)
                assert hi is None or x <= hi, (axis.knob, value)
            knobs = spec.make_knobs(**{axis.knob: value})  # with the other knobs' defaults
            assert getattr(knobs, axis.knob) == value


@pytest.mark.parametrize("task", TASKS)
def test_every_ladder_value_generates(task):
    """A sweep sets one axis to each ladder value with the other knobs at their defaults:
    every such task must make episodes (bAbI refuses knobs no story can meet)."""
    spec = memtasks.get_spec(task)
    for axis in axes(spec):
        for value in axis.ladder:
            batch = spec.generate(1, seed=3, **{axis.knob: value})
            assert len(batch) == 1 and batch.mask.any(), (axis.knob, value)


def _questions_distance(batch) -> float:
    d = batch.meta["support_distance"]
    return float(d[d >= 0].mean())


def _items(batch) -> float:
    return float(batch.meta["num_items"].mean())


def _length(batch) -> float:
    return float(batch.lengths.mean())


def _statements(batch) -> float:
    return float(batch.meta["statements"].mean())


def _after_disagreeing_facts(batch) -> float:
    """The share of questions whose matching earlier facts disagree (issue 13), read from the
    stories as released text."""
    from memtasks.generators.babi import fidelity
    from memtasks.loaders.babi import story_lines

    spec = memtasks.get_spec(batch.task)
    vocab = spec.layout(spec.make_knobs()).vocab
    lines = [line for i in range(len(batch)) for line in story_lines(batch, i, vocab)]
    found = fidelity.disagreement(int(batch.meta["task"][0]), lines)
    return found["disagree"] / found["questions"]


# (task, axis, what its harder end claims, measured): a sample of 64 episodes at the easiest and
# the hardest ladder value must move the measure the way the why says
CLAIMS = [
    ("ntm/copy-v1", "max_length", "longer sequences", _length),
    ("ntm/associative-recall-v1", "max_items", "more items", _items),
    ("ntm/priority-sort-v1", "num_items", "more vectors", _length),
    ("babi/qa1-v1", "recent", "older supporting facts", _questions_distance),
    ("babi/qa1-v1", "statements_per_question", "more statements", _statements),
    ("babi/qa2-v1", "min_distance", "farther supporting facts", _questions_distance),
    ("babi/qa3-v1", "context_tokens", "longer episodes", _length),
    ("babi/qa18-v1", "steps", "farther supporting facts", _questions_distance),
    ("babi/qa5-v2", "recency", "older gives naming other answers", _after_disagreeing_facts),
    ("babi/qa14-v2", "revisit", "rooms visited twice", _after_disagreeing_facts),
    ("babi/qa16-v2", "peer_mix", "peers whose colours disagree", _after_disagreeing_facts),
    ("world/qa-v1", "difficulty", "entities mentioned longer ago", _questions_distance),
    ("world/qa-v2", "difficulty", "entities mentioned longer ago", _questions_distance),
]


@pytest.mark.parametrize(("task", "knob_name", "claim", "measure"), CLAIMS)
def test_the_harder_end_does_what_it_claims(task, knob_name, claim, measure):
    spec = memtasks.get_spec(task)
    (axis,) = [a for a in axes(spec) if a.knob == knob_name]
    easiest, hardest = axis.ladder[0], axis.ladder[-1]
    easy = measure(spec.generate(64, seed=1, **{knob_name: easiest}))
    hard = measure(spec.generate(64, seed=1, **{knob_name: hardest}))
    assert hard > easy, f"{task}: {knob_name}={axis.ladder[-1]} should give {claim}"


def test_the_claims_cover_both_families():
    families = {t.split("/")[0] for t, *_ in CLAIMS}
    assert {"ntm", "babi", "world"} <= families


# ---------------------------------------------------------------------------------------------
# Declaring an axis
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plain(Knobs):
    length: int = knob(8, lo=1, hi=100, doc="items")
    rate: float = knob(0.5, lo=0.0, hi=1.0, doc="a share")


@dataclass(frozen=True)
class Declared(Knobs):
    length: int = knob(8, lo=1, hi=100, doc="items", harder="up", ladder=(2, 8, 32),
                       why="more items to hold")  # fmt: skip
    rate: float = knob(0.5, lo=0.0, hi=1.0, doc="a share", harder="down", ladder=(0.9, 0.5, 0.1),
                       why="fewer hints")  # fmt: skip


def test_an_axis_is_metadata_only():
    plain, declared = Plain(length=20), Declared(length=20)
    assert plain.to_dict() == declared.to_dict()
    assert stream_key("t/x-v1", plain.to_dict(), 0, "train") == stream_key(
        "t/x-v1", declared.to_dict(), 0, "train"
    )
    assert knob_axes(Plain) == []
    length, rate = knob_axes(Declared)
    assert length == Axis("length", "up", (1, 100), (2, 8, 32), "more items to hold", 8)
    assert (rate.knob, rate.direction, rate.ladder) == ("rate", "down", (0.9, 0.5, 0.1))
    assert length.describe() == "length (+) in [1, 100], ladder 2, 8, 32: more items to hold"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"harder": "sideways", "ladder": (1, 2), "why": "w"}, "harder must be 'up' or 'down'"),
        ({"harder": "up", "ladder": (3,), "why": "w"}, "ladder of 2 values or more"),
        ({"harder": "up", "ladder": (1, 200), "why": "w"}, r"ladder value must be an integer in"),
        ({"harder": "up", "ladder": (5, 2), "why": "w"}, "must rise strictly"),
        ({"harder": "down", "ladder": (2, 5), "why": "w"}, "must fall strictly"),
        ({"harder": "up", "ladder": (1, 1.5), "why": "w"}, "ladder value must be an integer"),
        ({"harder": "up", "ladder": (1, 2)}, "needs why"),
        ({"harder": "up", "ladder": (1, 2), "why": "two\nlines"}, "needs why"),
        ({"ladder": (1, 2)}, "needs harder="),
    ],
)
def test_bad_axis_declarations_fail_at_import(kwargs, message):
    with pytest.raises(ValueError, match=message):
        knob(3, lo=1, hi=10, **kwargs)


def test_string_and_tuple_knobs():
    with pytest.raises(ValueError, match="string knob has no order"):
        knob("a", choices=("a", "b"), harder="up", ladder=("a", "b"), why="w")
    with pytest.raises(ValueError, match="ladder value must be"):
        knob((1,), lo=1, hi=5, harder="up", ladder=((1,), (1, 9)), why="w")
    field = knob((1,), lo=1, hi=5, harder="up", ladder=((1,), (1, 2)), why="more of them")
    assert field.metadata["knob"].ladder == ((1,), (1, 2))
    assert magnitude((4, 5, 6)) == 3 and magnitude(True) == 1.0


def test_a_class_can_set_its_own_ladder_for_an_inherited_axis():
    @dataclass(frozen=True)
    class Further(Declared):
        axis_ladders = {"length": (4, 16, 64, 100)}

    @dataclass(frozen=True)
    class Without(Declared):
        axis_ladders = {"rate": ()}

    assert [a.ladder for a in knob_axes(Further)] == [(4, 16, 64, 100), (0.9, 0.5, 0.1)]
    assert [a.knob for a in knob_axes(Without)] == ["length"]
    assert [f.name for f in dataclasses.fields(Further)] == ["length", "rate"]  # not a field

    @dataclass(frozen=True)
    class Backwards(Declared):
        axis_ladders = {"length": (64, 4)}

    with pytest.raises(ValueError, match="must rise strictly"):
        knob_axes(Backwards)

    @dataclass(frozen=True)
    class Unknown(Plain):
        axis_ladders = {"length": (1, 2)}

    with pytest.raises(ValueError, match="'length' is not a difficulty axis"):
        knob_axes(Unknown)


def test_info_shows_the_axes(capsys):
    from _cli import run

    code, out, _ = run(capsys, "info", "ntm/copy-v1")
    assert code == 0 and "difficulty axes" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("max_length") and "ladder" in x)
    assert "harder up" in line and "5, 10, 20, 40, 80" in line
    assert "[1, 100000]" in line and "delimiter" in line
