"""Knobs (typed, validated task parameters) and the task registry.

The range checks run over every knob of every registered task, so a task added later is checked
without a new test. Every error message must be one line that names the knob, the value and
what is allowed (DESIGN.md section 1).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks import registry
from memtasks.errors import KnobError, MemtasksError, UnknownTaskError, did_you_mean
from memtasks.knobs import KnobInfo, Knobs, knob

ALL_TASKS = memtasks.list_tasks()
NTM_TASKS = [
    "ntm/associative-recall-v1",
    "ntm/copy-v1",
    "ntm/dynamic-ngrams-v1",
    "ntm/priority-sort-v1",
    "ntm/repeat-copy-v1",
]


def all_knobs() -> list[tuple[str, str, object, KnobInfo]]:
    """(task, knob name, default, info) for every knob of every registered task."""
    out = []
    for task in ALL_TASKS:
        for name, (default, info) in memtasks.get_spec(task).knobs.infos().items():
            out.append((task, name, default, info))
    return out


KNOBS = all_knobs()
KNOB_IDS = [f"{task}:{name}" for task, name, _, _ in KNOBS]


def assert_one_line(message: str, *parts: str) -> None:
    assert "\n" not in message, message
    for part in parts:
        assert part in message, (part, message)


def range_text(info: KnobInfo) -> str:
    """The range as messages state it: integers in full (10000000, not 1e+07)."""

    def number(x) -> str:
        return str(int(x)) if float(x).is_integer() and info.kind is not float else f"{x:g}"

    return f"[{number(info.lo)}, {number(info.hi)}]"


# -- registry ---------------------------------------------------------------------------------
def test_list_tasks():
    assert sorted(ALL_TASKS) == ALL_TASKS
    assert set(NTM_TASKS) <= set(ALL_TASKS)
    assert memtasks.list_tasks("ntm") == NTM_TASKS
    assert memtasks.list_tasks("ntm/") == NTM_TASKS
    assert memtasks.list_tasks("no-such-family") == []
    for task in ALL_TASKS:
        assert registry._ID.match(task), task


def test_get_spec_with_and_without_version():
    spec = memtasks.get_spec("ntm/copy-v1")
    assert spec.id == "ntm/copy-v1"
    assert (spec.family, spec.name, spec.version) == ("ntm", "copy", 1)
    assert spec.card.parts[-2:] == ("ntm", "copy.md")
    assert memtasks.get_spec("ntm/copy") is spec
    assert memtasks.get_spec("ntm/repeat-copy").id == "ntm/repeat-copy-v1"


def test_get_spec_without_version_picks_the_newest(monkeypatch):
    tasks = dict(registry._TASKS)
    copy = tasks["ntm/copy-v1"]
    for version in (2, 10):
        tasks[f"ntm/copy-v{version}"] = dataclasses.replace(copy, id=f"ntm/copy-v{version}")
    monkeypatch.setattr(registry, "_TASKS", tasks)
    assert memtasks.get_spec("ntm/copy").id == "ntm/copy-v10"  # 10 > 2 as numbers
    assert memtasks.get_spec("ntm/copy-v1") is copy


@pytest.mark.parametrize(
    ("task", "suggestion"),
    [
        ("ntm/cpy-v1", "'ntm/copy-v1'"),
        ("ntm/copy-v7", "'ntm/copy-v1'"),
        ("ntm/priority_sort-v1", "'ntm/priority-sort-v1'"),
    ],
)
def test_unknown_task_suggests_the_closest(task, suggestion):
    with pytest.raises(UnknownTaskError) as caught:
        memtasks.get_spec(task)
    message = str(caught.value)
    assert_one_line(message, f"unknown task {task!r}", f"(did you mean {suggestion}?)")
    assert isinstance(caught.value, KeyError)  # what a lookup failure is in Python
    with pytest.raises(UnknownTaskError):
        memtasks.generate(task, 1)


def test_unknown_task_with_nothing_close_and_non_string_ids():
    with pytest.raises(UnknownTaskError) as caught:
        memtasks.get_spec("zzzzzzzz/qqqqqq-v1")
    assert "did you mean" not in str(caught.value)
    with pytest.raises(UnknownTaskError, match="a task id is a string"):
        memtasks.get_spec(3)


def test_register_refuses_bad_ids_duplicates_and_bad_presets(monkeypatch):
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    copy = registry._TASKS["ntm/copy-v1"]
    with pytest.raises(ValueError, match="not of the form family/name-vN"):
        registry.register(dataclasses.replace(copy, id="ntm/copy"))
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(copy)

    @dataclass(frozen=True)
    class SizeKnobs(Knobs):
        size: int = knob(3, lo=1, hi=5)

    spec = dataclasses.replace(
        copy, id="test/size-v1", knobs=SizeKnobs, presets={"big": {"size": 9}}
    )
    with pytest.raises(KnobError, match="knob 'size'"):
        registry.register(spec)
    spec = dataclasses.replace(spec, presets={"Big One": {"size": 4}})
    with pytest.raises(ValueError, match="lowercase-with-dashes"):
        registry.register(spec)
    spec = dataclasses.replace(spec, presets={"big": {"size": 4}})
    assert registry.register(spec) is spec
    assert SizeKnobs.task_id == "test/size-v1"  # messages of its knobs name the task
    assert memtasks.list_tasks("test") == ["test/size-v1"]


def test_a_superseded_version_names_a_later_one_and_why(monkeypatch):
    """``superseded_by`` / ``superseded_why`` (issue 13): both or neither, a later version of
    the same task; refused before anything is registered."""
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    copy = registry._TASKS["ntm/copy-v1"]
    old = dataclasses.replace(copy, id="ntm/copy-v3")
    for by, why, says in [
        ("ntm/copy-v4", "", "go together"),
        ("", "because", "go together"),
        ("ntm/repeat-copy-v4", "because", "a later version of the same task"),
        ("ntm/copy", "because", "a later version of the same task"),
        ("ntm/copy-v2", "because", "is not a later version"),
        ("ntm/copy-v3", "because", "is not a later version"),
    ]:
        with pytest.raises(ValueError, match=says):
            registry.register(dataclasses.replace(old, superseded_by=by, superseded_why=why))
    assert "ntm/copy-v3" not in registry._TASKS and copy.knobs.task_id == "ntm/copy-v1"
    spec = dataclasses.replace(old, superseded_by="ntm/copy-v10", superseded_why="because")
    assert registry.register(spec) is spec
    copy.knobs.task_id = "ntm/copy-v1"  # registering named the shared knobs class after v3
    # the bAbI tasks replaced in issue 13
    for n in (5, 14, 16):
        assert memtasks.get_spec(f"babi/qa{n}-v1").superseded_by == f"babi/qa{n}-v2"
    assert registry._TASKS["ntm/copy-v1"].superseded_by == ""  # the default: not superseded


# -- knob ranges, types and messages ----------------------------------------------------------
def test_every_default_is_valid_and_in_range():
    for task in ALL_TASKS:
        knobs = memtasks.get_spec(task).knobs()
        for name, (default, info) in type(knobs).infos().items():
            assert getattr(knobs, name) == default
            values = default if info.kind is tuple else (default,)
            for v in values:
                assert info.lo is None or v >= info.lo, (task, name)
                assert info.hi is None or v <= info.hi, (task, name)


def _below(info: KnobInfo):
    kind = info.elem if info.kind is tuple else info.kind
    return info.lo - 1 if kind is int else float(np.nextafter(info.lo, -math.inf))


def _above(info: KnobInfo):
    kind = info.elem if info.kind is tuple else info.kind
    return info.hi + 1 if kind is int else float(np.nextafter(info.hi, math.inf))


def bad_values(default, info: KnobInfo) -> list:
    """Values a knob of this kind must refuse, whatever the other knobs are."""
    kind = info.elem if info.kind is tuple else info.kind
    scalars = []
    if kind in (int, float):
        if info.lo is not None:
            scalars.append(_below(info))
        if info.hi is not None:
            scalars.append(_above(info))
        scalars += [True, np.True_, "1", None]
    if kind is int:
        scalars.append(1.5)
    if kind is float:
        scalars += [math.nan, np.float32("nan")]
    if kind is bool:
        scalars += [1, 0, "true", None]
    if kind is str:
        scalars += [1, None, b"bytes"]
        if info.choices is not None:
            scalars.append("not-one-of-the-choices")
    if info.kind is tuple:
        return [(x,) for x in scalars] + [",".join(str(x) for x in default) or "1", 5]
    return scalars


@pytest.mark.parametrize(("task", "name", "default", "info"), KNOBS, ids=KNOB_IDS)
def test_every_knob_refuses_out_of_range_and_wrong_types(task, name, default, info):
    knobs_class = memtasks.get_spec(task).knobs
    for value in bad_values(default, info):
        with pytest.raises(KnobError) as caught:
            knobs_class(**{name: value})
        message = str(caught.value)
        assert_one_line(message, task, f"knob {name!r}", f"got {value!r}", info.allowed())
        if info.lo is not None and info.hi is not None:
            assert range_text(info) in message
        # the same through generate(), the way users meet it
        with pytest.raises(KnobError):
            memtasks.generate(task, 1, **{name: value})


@pytest.mark.parametrize(("task", "name", "default", "info"), KNOBS, ids=KNOB_IDS)
def test_every_knob_accepts_its_bounds(task, name, default, info):
    """At lo and hi a knob may only fail a cross-knob constraint, never its own range."""
    knobs_class = memtasks.get_spec(task).knobs
    for bound in (info.lo, info.hi):
        if bound is None:
            continue
        kind = info.elem if info.kind is tuple else info.kind
        value = kind(bound)
        value = (value,) if info.kind is tuple else value
        try:
            knobs = knobs_class(**{name: value})
        except KnobError as error:
            assert f"knob {name!r} must be" not in str(error)
        else:
            assert getattr(knobs, name) == value


def test_numbers_are_coerced_to_the_knob_type():
    copy = memtasks.get_spec("ntm/copy-v1").knobs
    assert copy(width=np.int64(4)).width == 4
    assert type(copy(width=np.int64(4)).width) is int
    assert copy(width=4.0).width == 4  # an integral float is an integer
    assert copy(lengths=[3, 5]).lengths == (3, 5)  # any iterable becomes a tuple
    assert copy(lengths=np.array([3])).lengths == (3,)
    ngrams = memtasks.get_spec("ntm/dynamic-ngrams-v1").knobs
    assert ngrams(prior=1).prior == 1.0 and type(ngrams(prior=1).prior) is float
    assert ngrams(prior=np.float32(0.25)).prior == 0.25


@pytest.mark.parametrize(
    ("task", "values", "words"),
    [
        ("ntm/copy-v1", {"min_length": 5, "max_length": 4}, "min_length must be <= max_length"),
        (
            "ntm/repeat-copy-v1",
            {"min_repeats": 3, "max_repeats": 2},
            "min_repeats must be <= max_repeats",
        ),
        (
            "ntm/repeat-copy-v1",
            {"norm_min_repeats": 4, "norm_max_repeats": 4},
            "norm_min_repeats must be < norm_max_repeats",
        ),
        (
            "ntm/repeat-copy-v1",
            {"max_length": 100_000, "max_repeats": 100},
            "max_length * max_repeats is too large",
        ),
        ("ntm/associative-recall-v1", {"min_items": 5, "max_items": 3}, "min_items must be <="),
        (
            "ntm/associative-recall-v1",
            {"item_width": 1, "item_length": 2, "max_items": 3},
            "2**(item_width * item_length) must be at least 2 * max_items",
        ),
        ("ntm/dynamic-ngrams-v1", {"length": 6, "order": 6}, "length must be > order"),
        ("ntm/priority-sort-v1", {"num_items": 3, "num_outputs": 4}, "num_outputs must be <="),
    ],
)
def test_cross_knob_constraints(task, values, words):
    spec = memtasks.get_spec(task)
    with pytest.raises(KnobError) as caught:
        spec.make_knobs(**values)
    message = str(caught.value)
    assert_one_line(message, task, words)
    for name, value in values.items():
        assert f"{name}={value!r}" in message  # the message shows the values it refused


def test_cross_knob_constraints_accept_the_edge():
    assert memtasks.get_spec("ntm/copy-v1").make_knobs(min_length=4, max_length=4)
    recall = memtasks.get_spec("ntm/associative-recall-v1")
    assert recall.make_knobs(item_width=1, item_length=2, min_items=2, max_items=2)
    assert memtasks.get_spec("ntm/dynamic-ngrams-v1").make_knobs(length=7, order=6)


def test_unknown_knob_suggests_the_closest():
    with pytest.raises(KnobError) as caught:
        memtasks.generate("ntm/copy-v1", 1, widht=8)
    assert_one_line(
        str(caught.value),
        "ntm/copy-v1 has no knob 'widht' (did you mean 'width'?)",
        "its knobs are: width, min_length, max_length, lengths",
    )
    with pytest.raises(KnobError) as caught:
        memtasks.get_spec("ntm/copy-v1").knobs.parse("xyzzy", "1")
    assert "did you mean" not in str(caught.value)
    assert "has no knob 'xyzzy'" in str(caught.value)


def test_replace_validates_and_keeps_the_other_knobs():
    base = memtasks.get_spec("ntm/copy-v1").make_knobs(width=4)
    changed = base.replace(max_length=30)
    assert (changed.width, changed.max_length) == (4, 30)
    assert (base.width, base.max_length) == (4, 20)  # frozen: the original is unchanged
    with pytest.raises(KnobError, match="min_length must be <= max_length"):
        base.replace(max_length=0 + 1, min_length=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.width = 5


def test_to_dict_is_json_ready():
    knobs = memtasks.get_spec("ntm/copy-v1").make_knobs(preset="extrapolate")
    assert knobs.to_dict() == {
        "width": 8,
        "min_length": 1,
        "max_length": 20,
        "lengths": [10, 20, 30, 50, 120],
    }


# -- parsing --sets -----------------------------------------------------------------------------
@dataclass(frozen=True)
class EveryKindKnobs(Knobs):
    """One knob of every kind ``knob`` supports (NTM tasks have no bool or str knobs)."""

    count: int = knob(3, lo=1, hi=10, doc="an integer")
    rate: float = knob(0.5, lo=0.0, hi=1.0, doc="a number")
    flag: bool = knob(False, doc="a switch")
    mode: str = knob("fast", choices=("fast", "slow"), doc="a choice")
    label: str = knob("x", doc="free text")
    sizes: tuple = knob((1, 2), lo=1, hi=9, doc="integers")
    weights: tuple = knob((0.5,), lo=0.0, hi=1.0, elem=float, doc="numbers")


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("count", "7", 7),
        ("count", " 10 ", 10),
        ("rate", "0.25", 0.25),
        ("rate", "1e-3", 0.001),
        ("rate", "1", 1.0),
        ("flag", "true", True),
        ("flag", "Yes", True),
        ("flag", "on", True),
        ("flag", "1", True),
        ("flag", "false", False),
        ("flag", "NO", False),
        ("flag", "off", False),
        ("flag", "0", False),
        ("mode", "slow", "slow"),
        ("label", "anything at all", "anything at all"),
        ("sizes", "3,4,5", (3, 4, 5)),
        ("sizes", " 3, 4 ,", (3, 4)),
        ("sizes", "", ()),
        ("weights", "0.1,0.9", (0.1, 0.9)),
    ],
)
def test_parse_every_kind(name, text, value):
    parsed = EveryKindKnobs.parse(name, text)
    assert parsed == value and type(parsed) is type(value)
    assert getattr(EveryKindKnobs.from_values({name: parsed}), name) == value


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("count", "seven"),
        ("count", "1.5"),
        ("rate", "half"),
        ("flag", "maybe"),
        ("flag", ""),
        ("sizes", "3,x"),
        ("sizes", "1.5"),
        ("weights", "0.5,heavy"),
    ],
)
def test_parse_refuses_text_of_the_wrong_kind(name, text):
    with pytest.raises(KnobError) as caught:
        EveryKindKnobs.parse(name, text)
    info = EveryKindKnobs.infos()[name][1]
    assert_one_line(str(caught.value), f"knob {name!r}", f"got {text.strip()!r}", info.allowed())


@pytest.mark.parametrize(
    ("name", "value"),
    [("count", 0), ("count", 11), ("rate", 1.5), ("rate", math.inf), ("mode", "medium")],
)
def test_parsed_values_are_range_checked_on_construction(name, value):
    with pytest.raises(KnobError) as caught:
        EveryKindKnobs(**{name: value})
    assert_one_line(str(caught.value), f"knob {name!r}", f"got {value!r}")


def test_parse_for_every_ntm_knob_round_trips_the_default():
    for task in NTM_TASKS:
        knobs_class = memtasks.get_spec(task).knobs
        for name, (default, info) in knobs_class.infos().items():
            text = ",".join(str(v) for v in default) if info.kind is tuple else str(default)
            assert knobs_class.parse(name, text) == default, (task, name)


def test_allowed_with_one_bound_or_large_integers():
    assert KnobInfo(kind=int, lo=0).allowed() == "an integer >= 0"
    assert KnobInfo(kind=float, hi=2.5).allowed() == "a number <= 2.5"
    assert KnobInfo(kind=tuple, elem=int, lo=1).allowed() == (
        "a comma-separated list of integers each >= 1"
    )
    assert KnobInfo(kind=int, lo=1, hi=2**31 - 1).allowed() == "an integer in [1, 2147483647]"

    @dataclass(frozen=True)
    class LowerBoundKnobs(Knobs):
        steps: int = knob(5, lo=1)

    with pytest.raises(KnobError) as caught:
        LowerBoundKnobs(steps=0)
    assert_one_line(str(caught.value), "knob 'steps'", "got 0", "an integer >= 1")
    assert LowerBoundKnobs(steps=10**12).steps == 10**12


def test_allowed_describes_every_kind():
    infos = {name: info for name, (_, info) in EveryKindKnobs.infos().items()}
    assert infos["count"].allowed() == "an integer in [1, 10]"
    assert infos["rate"].allowed() == "a number in [0, 1]"
    assert infos["flag"].allowed() == "true or false"
    assert infos["mode"].allowed() == "one of 'fast', 'slow'"
    assert infos["label"].allowed() == "a string"
    assert infos["sizes"].allowed() == "a comma-separated list of integers each in [1, 9]"
    assert infos["weights"].allowed() == "a comma-separated list of numbers each in [0, 1]"


@settings(max_examples=40, deadline=None)
@given(st.integers(-5, 20), st.floats(allow_nan=True, allow_infinity=True))
def test_construction_accepts_exactly_the_values_in_range(count, rate):
    ok = 1 <= count <= 10 and 0.0 <= rate <= 1.0
    try:
        knobs = EveryKindKnobs(count=count, rate=rate)
    except KnobError as error:
        assert not ok, error
        assert "\n" not in str(error)
    else:
        assert ok and (knobs.count, knobs.rate) == (count, rate)


# -- presets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ALL_TASKS)
def test_presets_validate_and_generate(task):
    spec = memtasks.get_spec(task)
    assert "paper" in spec.presets or spec.family != "ntm"
    for preset, values in spec.presets.items():
        knobs = spec.make_knobs(preset)
        for name, value in values.items():
            expected = tuple(value) if isinstance(value, (list, tuple)) else value
            assert getattr(knobs, name) == expected, (preset, name)
        batch = memtasks.generate(task, 2, seed=0, preset=preset)
        assert len(batch) == 2 and batch.task == task


def test_preset_values_can_be_overridden_and_unknown_presets_are_refused():
    spec = memtasks.get_spec("ntm/repeat-copy-v1")
    knobs = spec.make_knobs("extrapolate", max_repeats=15)
    assert (knobs.max_length, knobs.max_repeats) == (20, 15)
    with pytest.raises(KnobError) as caught:
        memtasks.generate("ntm/repeat-copy-v1", 1, preset="extrapolate-lenght")
    assert_one_line(
        str(caught.value),
        "ntm/repeat-copy-v1 has no preset 'extrapolate-lenght'",
        "(did you mean 'extrapolate-length'?)",
        "its presets are: paper, extrapolate, extrapolate-length, extrapolate-repeats",
    )


def test_generate_takes_a_knobs_object_or_values_not_both():
    spec = memtasks.get_spec("ntm/copy-v1")
    knobs = spec.make_knobs(width=3)
    assert spec.generate(2, knobs=knobs).equals(memtasks.generate("ntm/copy-v1", 2, width=3))
    with pytest.raises(KnobError, match="either a Knobs object or preset/knob values"):
        spec.generate(2, knobs=knobs, width=4)
    with pytest.raises(KnobError, match="either a Knobs object or preset/knob values"):
        spec.generate(2, knobs=knobs, preset="paper")
    other = memtasks.get_spec("ntm/priority-sort-v1").make_knobs()
    with pytest.raises(KnobError, match="ntm/copy-v1 takes CopyKnobs, got PrioritySortKnobs"):
        spec.generate(2, knobs=other)


# -- seed, split, n, start -----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [-1, 2**64, 1.0, "0", True, None])
def test_bad_seeds(seed):
    with pytest.raises(MemtasksError) as caught:
        memtasks.generate("ntm/copy-v1", 1, seed=seed)
    assert_one_line(str(caught.value), "seed must be an integer in [0, 2**64)", repr(seed))


@pytest.mark.parametrize("seed", [0, 2**64 - 1, np.uint64(2**64 - 1), np.int32(5)])
def test_good_seeds(seed):
    assert len(memtasks.generate("ntm/copy-v1", 1, seed=seed)) == 1


@pytest.mark.parametrize("split", ["", "a b", "-test", "train/0", 3, None, "tést"])
def test_bad_splits(split):
    with pytest.raises(MemtasksError) as caught:
        memtasks.generate("ntm/copy-v1", 1, split=split)
    assert_one_line(str(caught.value), "split must be a name", repr(split))


@pytest.mark.parametrize("split", ["train", "validation", "test", "Test_2", "0"])
def test_good_splits(split):
    assert len(memtasks.generate("ntm/copy-v1", 1, split=split)) == 1


@pytest.mark.parametrize("name", ["n", "start"])
@pytest.mark.parametrize("value", [-1, 1.0, "3", True, None])
def test_bad_counts(name, value):
    arguments = {"n": 1, "start": 0, name: value}
    with pytest.raises(MemtasksError) as caught:
        memtasks.generate("ntm/copy-v1", arguments["n"], start=arguments["start"])
    assert_one_line(str(caught.value), f"{name} must be a non-negative integer", repr(value))


def test_counts_may_be_numpy_integers_and_zero():
    batch = memtasks.generate("ntm/copy-v1", np.int64(2), start=np.uint32(3))
    np.testing.assert_array_equal(batch.index, [3, 4])
    assert len(memtasks.generate("ntm/copy-v1", 0)) == 0


def test_did_you_mean():
    assert did_you_mean("widht", ["width", "height"]) == " (did you mean 'width'?)"
    assert did_you_mean("qqq", ["width"]) == ""
