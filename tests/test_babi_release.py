"""``release`` mode against the released bAbI v1.2 English data, for every task.

For each task, 10,000 generated questions are rendered in the release's format and measured as
the release was (``generators/babi/fidelity.py``; the release's figures are in
``generators/babi/release_stats.json``): the answer set and its frequencies, the supporting-fact
counts, the statements before a question (mean and maximum) and per story, questions per story,
the vocabulary, and the sentence shapes both ways (every template of the release is produced,
no sentence outside them) with their shares.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import memtasks
from memtasks.generators.babi import fidelity

TASKS = [  # the 20 tasks (babi/joint-v1 mixes them and has no release file of its own)
    int(t.split("/qa")[1].split("-")[0]) for t in memtasks.list_tasks("babi") if "/qa" in t
]


def test_all_twenty_tasks_are_registered():
    assert sorted(TASKS) == list(range(1, 21))


@pytest.mark.parametrize("task", TASKS, ids=[f"qa{t}" for t in TASKS])
def test_release_mode_matches_the_release(task):
    lines, tags = fidelity.generated(task, 10_000)
    got = fidelity.measure_text(lines, tags)
    assert got["num_questions"] >= 10_000
    assert fidelity.compare(task, got) == []


def test_the_comparison_catches_a_difference():
    """The checks are not vacuous: a story set with a foreign sentence, a missing template and
    a skewed answer fails them."""
    lines, tags = fidelity.generated(1, 2_000)
    got = fidelity.measure_text(lines, tags)
    assert fidelity.compare(1, got) == []
    doctored = [
        line.replace("went back to", "strolled to").replace("\tgarden\t", "\tkitchen\t")
        for line in lines
    ]
    problems = fidelity.compare(1, fidelity.measure_text(doctored, tags))
    text = "\n".join(problems)
    assert "outside the release ['<ACTOR> strolled to the <LOC>.']" in text
    assert "missing ['<ACTOR> went back to the <LOC>.']" in text
    assert "answers: missing ['garden']" in text
    assert "vocabulary: missing ['back']" in text


def test_release_figures_are_measured_as_the_release_defines_them():
    """``measure_text`` on a hand-made release-format story gives the figures by hand."""
    story = [
        "1 Mary moved to the bathroom.",
        "2 John went to the hallway.",
        "3 Where is Mary? \tbathroom\t1",
        "4 Daniel went back to the hallway.",
        "5 Where is Daniel? \thallway\t4",
        "1 Sandra journeyed to the garden.",
        "2 Where is Sandra? \tgarden\t1",
    ]
    got = fidelity.measure_text(story, {"Mary": "ACTOR", "John": "ACTOR", "Daniel": "ACTOR",
                                        "Sandra": "ACTOR", "bathroom": "LOC", "hallway": "LOC",
                                        "garden": "LOC"})  # fmt: skip
    assert got["num_stories"] == 2 and got["num_questions"] == 3
    assert got["statements_before_question"] == {"mean": 2.0, "min": 1, "max": 3}
    assert got["story_length_statements"]["max"] == 3
    assert got["question_to_earliest_support_distance_lines"]["mean"] == pytest.approx(4 / 3)
    assert got["answers"] == {"bathroom": 1, "hallway": 1, "garden": 1}
    assert got["templates"]["Q"] == {"Where is <ACTOR>?": 3}
    assert "back" in got["vocab"] and "?" not in got["vocab"]


RELEASE_DIR = os.environ.get("MEMTASKS_BABI_DIR")


@pytest.mark.skipif(not RELEASE_DIR, reason="set MEMTASKS_BABI_DIR to an unpacked bAbI release")
@pytest.mark.parametrize("task", range(1, 21), ids=[f"qa{t}" for t in range(1, 21)])
def test_measuring_the_release_itself_gives_its_recorded_figures(task):
    """Opt-in, with the original files: ``measure_text`` and the task's phrase tags read the
    released file back to the figures in ``release_stats.json`` (the measure is the one the
    release was described with, and every release sentence has a shape of the task)."""
    from memtasks.generators.babi._task import world_of
    from memtasks.loaders.babi import release_file_name

    path = Path(RELEASE_DIR) / "en" / release_file_name(task, "train")
    spec = memtasks.get_spec(f"babi/qa{task}")
    tags = world_of(spec.id, spec.make_knobs("release")).tags
    got = fidelity.measure_text(path.read_text().splitlines(), tags)
    ref = fidelity.release(task)
    assert got["answers"] == ref["answers"]
    assert got["vocab"] == ref["vocab"]
    # the template list counts the train and test files together: the train file alone has
    # no shape outside it (qa11's lacks a rare one)
    for kind in ("S", "Q"):
        assert set(got["templates"][kind]) <= set(ref["templates"][kind])
    assert got["statements_before_question"]["mean"] == pytest.approx(
        ref["statements_before_question"]["mean"], abs=0.01
    )
    assert [p for p in fidelity.compare(task, got) if "template" not in p] == []
