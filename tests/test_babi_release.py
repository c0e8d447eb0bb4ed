"""``release`` mode against the released bAbI v1.2 English data, for every task.

For each task, 10,000 generated questions are rendered in the release's format and measured as
the release was (``generators/babi/fidelity.py``; the release's figures are in
``generators/babi/release_stats.json``): the answer set and its frequencies, the supporting-fact
counts, the statements before a question (mean and maximum) and per story, questions per story,
the vocabulary, the sentence shapes both ways (every template of the release is produced,
no sentence outside them) with their shares, and (tasks 5, 14, 16, 19) how often a question
follows matching facts that disagree and what decides it. The newest version of each task is
checked; a superseded one may differ, and for the disagreement it is shown to (issue 13).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import memtasks
from memtasks.generators.babi import fidelity

TASKS = sorted(  # the 20 tasks (babi/joint-v1 mixes them and has no release file of its own)
    {int(t.split("/qa")[1].split("-")[0]) for t in memtasks.list_tasks("babi") if "/qa" in t}
)
MEASURED = (5, 14, 16, 19)  # tasks whose disagreement the release check measures


def test_all_twenty_tasks_are_registered():
    assert sorted(TASKS) == list(range(1, 21))


@pytest.mark.parametrize("task", TASKS, ids=[f"qa{t}" for t in TASKS])
def test_release_mode_matches_the_release(task):
    lines, tags = fidelity.generated(task, 10_000)
    got = fidelity.measure_text(lines, tags, task)
    assert got["num_questions"] >= 10_000
    assert ("disagreement" in got) == (task in MEASURED)
    assert fidelity.compare(task, got) == []


def test_the_release_figures_hold_the_disagreement_of_the_measured_tasks():
    """``release_stats.json`` (from the training files by ``make_release_stats.py``): in qa5,
    qa14 and qa16 questions follow disagreeing facts and the most recent decides (but for 2 of
    qa5's 265); in qa19 the told facts never give two paths."""
    for task in TASKS:
        assert ("disagreement" in fidelity.release(task)) == (task in MEASURED)
    share = {t: fidelity.release(t)["disagreement"] for t in MEASURED}
    assert {t: (d["disagree"], d["most_recent"], d["questions"]) for t, d in share.items()} == {
        5: (265, 263, 1000),
        14: (30, 30, 1000),
        16: (86, 86, 1000),
        19: (0, 0, 1000),
    }
    assert share[16]["matches"] == {"1": 881, "3": 104, "4": 15}  # the queried actor's peers
    assert share[5]["by_form"]["Who received the O?"]["disagree"] == 114


@pytest.mark.parametrize("task", [5, 14, 16])
def test_the_superseded_version_never_asks_after_disagreeing_facts(task):
    """``babi/qaN-v1`` keeps its bytes: none of its questions follows facts that disagree, and
    the release check says so (the statistic can fail)."""
    old = memtasks.get_spec(f"babi/qa{task}-v1")
    assert old.superseded_by == f"babi/qa{task}-v2"
    lines, tags = fidelity.generated(task, 3_000, version=1)
    got = fidelity.measure_text(lines, tags, task)
    assert got["disagreement"]["disagree"] == 0
    problems = "\n".join(fidelity.compare(task, got))
    assert "questions after disagreeing facts, all questions: share 0.000" in problems
    # the knob that keeps the old rule in v2 does the same
    knob = {5: "recency", 14: "revisit", 16: "peer_mix"}[task]
    lines, _ = fidelity.generated(task, 3_000, **{knob: False})
    assert fidelity.disagreement(task, lines)["disagree"] == 0


def test_disagreement_is_measured_as_defined():
    """``fidelity.disagreement`` on hand-made stories: matching facts, disagreement, and the
    most recent deciding, per question form."""
    qa5 = [
        "1 Fred gave the apple to Bill.",
        "2 Bill handed the apple to Fred.",
        "3 Who received the apple? \tFred\t2",  # Bill, Fred: disagree, most recent
        "4 Who gave the apple to Fred? \tBill\t2",  # one match
        "5 Fred passed the apple to Bill.",
        "6 What did Fred give to Bill? \tapple\t5",  # apple, apple: agree
        "7 Who gave the apple? \tBill\t2",  # Fred, Bill, Fred: the answer is not the latest
    ]
    d = fidelity.disagreement(5, qa5)
    assert (d["questions"], d["disagree"], d["most_recent"]) == (4, 2, 1)
    assert d["matches"] == {"1": 1, "2": 2, "3": 1}
    assert d["by_form"]["Who received the O?"] == {"questions": 1, "disagree": 1,
                                                   "most_recent": 1}  # fmt: skip
    assert d["by_form"]["Who gave the O to B?"]["disagree"] == 0
    assert "Who gave the O?" in d["by_form"] and len(d["by_form"]) == 4
    qa16 = [
        "1 Lily is a swan.", "2 Lily is white.", "3 Greg is a swan.", "4 Greg is gray.",
        "5 Brian is a frog.", "6 Bernhard is a swan.", "7 What color is Bernhard?\tgray\t6 3 4",
    ]  # fmt: skip
    d = fidelity.disagreement(16, qa16)
    assert (d["disagree"], d["most_recent"], d["matches"]) == (1, 1, {"2": 1})
    qa14 = [
        "1 Yesterday Julie went to the school.", "2 Julie went to the park this morning.",
        "3 This afternoon Julie went to the school.", "4 Where was Julie before the school? "
        "\tpark\t3 2",
    ]  # fmt: skip
    d = fidelity.disagreement(14, qa14)
    assert (d["disagree"], d["matches"]) == (0, {"1": 1})  # the first visit has no "before"
    assert fidelity.disagreement(1, qa14) is None  # qa1 has no reader


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
    if task in MEASURED:
        lines = path.read_text().splitlines()
        assert fidelity.disagreement(task, lines) == ref["disagreement"]
