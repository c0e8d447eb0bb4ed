"""What every bAbI-style task gets from the shared driver (generators/babi/_story.py, _task.py):
the episode layout of stories, the distance knobs, the long-context mode and its filler, the
bounded rejection loop, the answer metric, and the text a story renders to. Task 1 stands in for
all tasks here; each task's own rules are tested in its own file."""

from __future__ import annotations

import re

import numpy as np
import pytest

import memtasks
from memtasks import views
from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_QUERY
from memtasks.generators.babi import _filler
from memtasks.generators.babi._task import world_of
from memtasks.generators.babi._text import ANSWER, Text, words
from memtasks.loaders.babi import story_lines, to_text
from memtasks.metrics import AnswerMetric

TASK = "babi/qa1-v1"
SPEC = memtasks.get_spec(TASK)


def vocab_of(**knobs):
    return world_of(TASK, SPEC.make_knobs(**knobs)).text.vocab


def test_episode_layout_of_a_story():
    batch = memtasks.generate(TASK, 200, seed=1).check()
    vocab = vocab_of()
    for i in range(len(batch)):
        ep = batch.episode(i)
        role, seg = ep["role"], ep["segment"]
        context = role == ROLE_CONTEXT
        # sentences are segments 0, 1, ... in order, each a run ending with "."
        seg_ids = seg[context]
        assert (np.diff(seg_ids) >= 0).all() and (np.diff(seg_ids) <= 1).all()
        assert seg_ids[0] == 0 and len(np.unique(seg_ids)) == ep["meta"]["statements"]
        assert (seg[~context] == -1).all()
        # each question is a query run ending in "?" then one scored answer position
        answers = np.flatnonzero(role == ROLE_ANSWER)
        assert len(answers) == ep["meta"]["questions"] == 5
        assert (ep["inputs"][answers] == ANSWER).all() and ep["mask"][answers].all()
        assert not ep["mask"][role != ROLE_ANSWER].any()
        assert (ep["targets"][role != ROLE_ANSWER] == 0).all()
        assert all(vocab[ep["inputs"][a - 1]] == "?" for a in answers)
        assert (role[answers - 1] == ROLE_QUERY).all()
        # supports: earlier sentences, one per question here, numbered by question
        for q, a in enumerate(answers):
            sup = ep["support"][ep["support_answer"] == q]
            assert len(sup) == 1
            assert sup.max() < seg[:a][context[:a]].max() + 1


def test_rendered_text_is_the_release_format():
    batch = memtasks.generate(TASK, 3, seed=0)
    text = to_text(batch, vocab_of(), space_before_tab=True)
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) == 45
    for line in lines:
        assert re.fullmatch(r"\d+ [A-Z][^\t]*[.?]( \t[a-z]+\t\d+)?", line), line
    ids = [int(line.split(" ", 1)[0]) for line in lines]
    assert ids == [*range(1, 16)] * 3
    for line in lines:
        if "\t" in line:
            number, support = int(line.split()[0]), int(line.split("\t")[2])
            assert support < number and "\t" not in lines[ids.index(support)]


def test_answer_metric_counts_whole_answers():
    batch = memtasks.generate(TASK, 4, seed=0)
    metric = AnswerMetric()
    assert metric.evaluate(batch, batch.targets)["answer_accuracy"] == 1.0
    wrong = batch.targets.copy()
    wrong[np.flatnonzero(batch.mask)[:3]] = 0
    result = metric.evaluate(batch, wrong)
    assert result["questions"] == 20 and result["answer_error"] == pytest.approx(3 / 20)
    with pytest.raises(ValueError, match="shape"):
        metric.evaluate(batch, batch.targets[:-1])


def test_qa_view_gives_one_sample_per_question():
    batch = memtasks.generate(TASK, 50, seed=2)
    qa = views.qa(batch)
    assert len(qa) == 250
    per_question = np.asarray([2, 4, 6, 8, 10] * 50)
    np.testing.assert_array_equal(qa.sentence_counts, per_question)
    np.testing.assert_array_equal(qa.support_rows[:, 0], qa.support[:, 0])
    assert (qa.support[:, 0] < qa.sentence_counts).all()
    np.testing.assert_array_equal(qa.answer[:, 0], batch.targets[batch.mask])


@pytest.mark.parametrize(("lo", "hi"), [(3, 0), (0, 1), (2, 2)])
def test_distance_knobs_bound_every_question(lo, hi):
    knobs = {"min_distance": lo, "max_distance": hi, "statements_per_question": 4}
    batch = memtasks.generate(TASK, 300, seed=3, **knobs)
    d = batch.meta["support_distance"]
    assert d.min() >= max(lo, 1)
    if hi:
        assert d.max() <= hi
    unbounded = memtasks.generate(TASK, 300, seed=3, statements_per_question=4)
    assert not np.array_equal(unbounded.meta["support_distance"], d)


def test_unsatisfiable_knobs_fail_with_one_clear_line():
    with pytest.raises(memtasks.KnobError) as err:
        memtasks.generate(TASK, 2, seed=0, min_distance=5, statements_per_question=1, questions=1)
    message = str(err.value)
    assert "\n" not in message and "no story meeting these knobs" in message
    assert "min_distance" in message


@pytest.mark.parametrize(
    ("knobs", "match"),
    [
        ({"min_distance": 4, "max_distance": 2}, "min_distance must be <= max_distance"),
        ({"filler": "file"}, "filler=file needs filler_file"),
        ({"filler_file": "x.txt"}, "filler=file needs filler_file"),
        ({"context_tokens": -1}, "context_tokens"),
        ({"filler": "web"}, "filler"),
    ],
)
def test_bad_common_knobs_are_refused(knobs, match):
    with pytest.raises(memtasks.KnobError, match=match):
        memtasks.generate(TASK, 1, **knobs)


def _strip_filler(lines: list[str], story_words: set[str]) -> list[str]:
    """The story's own lines of a long-context story, renumbered as without filler."""
    kept, renumber = [], {}
    for line in lines:
        number, rest = line.split(" ", 1)
        text = rest.split("\t")[0]
        if "\t" not in rest and not set(words(text.lower())) <= story_words:
            continue  # filler
        renumber[number] = str(len(kept) + 1)
        if "\t" in rest:
            q, a, s = rest.split("\t")
            rest = "\t".join([q, a, " ".join(renumber[x] for x in s.split())])
        kept.append(f"{len(kept) + 1} {rest}")
    return kept


@pytest.mark.parametrize("target", [300, 1000])
def test_long_context_weaves_the_same_story_into_filler(target):
    """With the same random stream, a long-context story is the plain story, lines in order,
    with filler sentences between them; supports follow their sentences."""
    key = SPEC.key(SPEC.make_knobs(), 0, "train")
    short = SPEC.generator(SPEC.make_knobs(), key, 0, 20)
    long_knobs = SPEC.make_knobs(context_tokens=target)
    long = SPEC.generator(long_knobs, key, 0, 20)
    long.check()
    story_vocab = {w.lower() for w in vocab_of()}
    for i in range(20):
        assert target <= long.lengths[i] < target + _filler.MAX_FILLER_WORDS
        plain = story_lines(short, i, vocab_of())
        woven = story_lines(long, i, world_of(TASK, long_knobs).text.vocab)
        assert len(woven) > len(plain)
        assert _strip_filler(woven, story_words=story_vocab) == plain
    # filler lines precede the last question only: the story still ends with a question
    assert (long.role[long.offsets[1:] - 1] == ROLE_ANSWER).all()


def test_long_presets_reach_their_length():
    batch = memtasks.generate(TASK, 4, seed=0, preset="long-1k")
    assert (batch.lengths >= 1000).all() and (batch.lengths < 1100).all()
    assert (batch.meta["support_distance"].max(axis=1) > 2).all()


def test_filler_from_a_text_file(tmp_path):
    prose = tmp_path / "prose.txt"
    prose.write_text(
        "It was a bright cold day in April. The clocks were striking thirteen!\n\n"
        "Nobody went to the kitchen that day. Winston sat quietly; he waited.\n"
        "Ünïcode is dropped, digits 1984 kept",
        encoding="utf-8",
    )
    knobs = {"context_tokens": 200, "filler": "file", "filler_file": str(prose)}
    batch = memtasks.generate(TASK, 5, seed=0, **knobs)
    vocab = world_of(TASK, SPEC.make_knobs(**knobs)).text.vocab
    text = to_text(batch, vocab)
    assert "It was a bright cold day in april." in text
    assert "The clocks were striking thirteen." in text
    # a sentence using a word of the task (kitchen) could state a fact: never used
    assert "Nobody" not in text
    assert "digits 1984 kept." in text


def test_filler_file_errors_are_one_line(tmp_path):
    missing = {"context_tokens": 100, "filler": "file", "filler_file": str(tmp_path / "no")}
    with pytest.raises(memtasks.KnobError, match="does not exist"):
        memtasks.generate(TASK, 1, **missing)
    useless = tmp_path / "useless.txt"
    useless.write_text("Mary went to the kitchen. John is in the office.")
    with pytest.raises(memtasks.KnobError, match="no usable sentence"):
        memtasks.generate(TASK, 1, context_tokens=100, filler="file", filler_file=str(useless))


def test_grammar_filler_uses_no_word_of_any_world():
    from memtasks.generators.babi._entities import ALL_ACTORS, ALL_OBJECTS, ALL_ROOMS

    filler = {w for s in _filler.grammar_sentences() for w in words(s)}
    world = {w.lower() for name in ALL_ACTORS + ALL_ROOMS + ALL_OBJECTS for w in name.split()}
    assert not filler & world
    assert len(set(_filler.grammar_sentences())) > 1000


def test_text_tables_round_trip_templates():
    text = Text()
    actor = text.phrase("Mary")
    room = text.phrase("box of chocolates")
    t = text.template("Where is {0} near the {1}?")
    tables = text.tables()
    assert tables.templates[t] == "where is {0} near the {1}?"  # first word as mid-sentence
    toks = tables.template_tokens[tables.template_offsets[t] : tables.template_offsets[t + 1]]
    assert list(toks[:2]) == [text.word("where"), text.word("is")]
    assert list(toks[2:]) == [-1, text.word("near"), text.word("the"), -2, text.word("?")]
    span = tables.phrase_tokens[tables.phrase_offsets[room] : tables.phrase_offsets[room + 1]]
    assert [tables.vocab[x] for x in span] == ["box", "of", "chocolates"]
    assert tables.phrases[actor] == "Mary" and tables.vocab[:4] == ("<pad>", "<answer>", ".", "?")
