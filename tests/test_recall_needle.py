"""What recall/needle-v1's episodes mean (generators/recall/needle.py): each answer and its
supporting facts are rebuilt from the episode's own sentences, needles sit at their depth, the
episode reaches its length, for random knobs and seeds; bad knobs are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from _cli import run
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import memtasks
from memtasks import views
from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_QUERY
from memtasks.errors import KnobError
from memtasks.generators.babi import _filler
from memtasks.generators.recall import needle

TASK = "recall/needle-v1"
SPEC = memtasks.get_spec(TASK)
SEEDS = st.integers(0, 2**32)
OPENINGS = (["the", "secret", "code", "of", "the"], ["one", "secret", "code", "of", "the"])


def vocab(**knobs) -> tuple[str, ...]:
    return SPEC.layout(SPEC.make_knobs(**knobs)).vocab


def parse(batch, i, words):
    """Episode ``i`` read back as text: its sentences ``(segment, words)`` in order and its
    questions ``(words, answer words, supporting segments)``."""
    ep = batch.episode(i)
    inputs, targets, role, segment = ep["inputs"], ep["targets"], ep["role"], ep["segment"]
    sentences, questions = [], []
    supports = {}
    for s, a in zip(ep["support"], ep["support_answer"], strict=True):
        supports.setdefault(int(a), []).append(int(s))
    t, n = 0, len(inputs)
    while t < n:
        u = t
        if role[t] == ROLE_CONTEXT:
            while u < n and role[u] == ROLE_CONTEXT and segment[u] == segment[t]:
                u += 1
            sentences.append((int(segment[t]), [words[x] for x in inputs[t:u]]))
        else:
            assert role[t] == ROLE_QUERY
            while u < n and role[u] == ROLE_QUERY:
                u += 1
            w = u
            while w < n and role[w] == ROLE_ANSWER:
                w += 1
            assert w > u and ep["mask"][u:w].all() and (inputs[u:w] == 1).all()
            answer = [words[x] for x in targets[u:w]]
            questions.append(
                ([words[x] for x in inputs[t:u]], answer, supports.get(len(questions), []))
            )
            u = w
        t = u
    return sentences, questions


def needle_of(sentence):
    """(key, value words) of a needle sentence, or None for a haystack sentence."""
    if sentence[:5] not in OPENINGS:
        return None
    assert sentence[7] == "is" and sentence[-1] == "."
    return " ".join(sentence[5:7]), sentence[8:-1]


@st.composite
def knob_sets(draw, haystack=None, depth=None):
    queries = draw(st.integers(1, 4))
    distractors = draw(st.integers(0, 4))
    values = draw(st.integers(1, 3))
    needles = (queries + distractors) * values
    kind = draw(st.sampled_from(["numbers", "words"]))
    digits = draw(st.integers(1, needle.MAX_DIGITS))
    assume(kind == "words" or needles <= 9 * 10 ** (digits - 1))
    if depth is None:
        depth = draw(st.one_of(st.just(-1.0), st.floats(0.0, 1.0)))
    steps = draw(st.sampled_from([2, 3, 7, 40]))
    assume(depth >= 0 or needles <= steps)
    return dict(
        context_tokens=draw(st.integers(0, 700)),
        queries=queries,
        distractors=distractors,
        values=values,
        value_kind=kind,
        digits=digits,
        depth=depth,
        depth_steps=steps,
        haystack=haystack or draw(st.sampled_from(["filler", "needles"])),
    )


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, knobs=knob_sets())
def test_each_answer_is_the_queried_keys_values_in_the_needles_of_the_inputs(seed, knobs):
    batch = memtasks.generate(TASK, 4, seed=seed, **knobs)
    batch.check()
    words = vocab(**knobs)
    for i in range(len(batch)):
        sentences, questions = parse(batch, i, words)
        needles = [(seg, needle_of(s)) for seg, s in sentences]
        assert len(questions) == knobs["queries"]
        asked = set()
        for q, answer, support in questions:
            opening = "what are the secret codes of the" if knobs["values"] > 1 else (
                "what is the secret code of the")  # fmt: skip
            assert " ".join(q[:-3]) == opening and q[-1] == "?"
            key = " ".join(q[-3:-1])
            assert key in needle.KEYS and key not in asked
            asked.add(key)
            mine = [(seg, value) for seg, found in needles if found and found[0] == key
                    for value in [found[1]]]  # fmt: skip
            # the key's needles, in text order: as many as `values`, each a value of the answer
            assert len(mine) == knobs["values"]
            assert answer == [w for _, value in mine for w in value]
            # and they are the question's supporting facts, in the same order
            assert support == [seg for seg, _ in mine]
            for _, value in mine:
                if knobs["value_kind"] == "numbers":
                    assert len(value) == knobs["digits"] and value[0] != "0"
                    assert all(w in needle.DIGITS for w in value)
                else:
                    assert len(value) == 1 and value[0] in needle.VALUE_WORDS
        # every key with needles: the asked ones and `distractors` more, `values` needles each
        counts = {}
        for _, found in needles:
            if found:
                counts[found[0]] = counts.get(found[0], 0) + 1
        if knobs["haystack"] == "filler":
            counts = {}
            for _, found in needles:
                if found:
                    counts[found[0]] = counts.get(found[0], 0) + 1
            assert len(counts) == knobs["queries"] + knobs["distractors"]
            assert set(counts.values()) == {knobs["values"]}
            values = [" ".join(f[1]) for _, f in needles if f]
            assert len(set(values)) == len(values)  # every needle has a value of its own


def first_boundary(starts: np.ndarray, reached) -> int:
    """The first haystack-sentence boundary b (0 .. units) whose tokens before it reach a depth:
    where a needle of that depth goes."""
    units = len(starts) - 1
    return next(b for b in range(units + 1) if b == units or reached(int(starts[b])))


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, knobs=knob_sets(haystack="filler"))
def test_needles_sit_at_their_depth_within_one_sentence(seed, knobs):
    batch = memtasks.generate(TASK, 4, seed=seed, **knobs)
    words = vocab(**knobs)
    depth, steps = knobs["depth"], knobs["depth_steps"]
    for i in range(len(batch)):
        sentences, _ = parse(batch, i, words)
        lengths = [len(s) for _, s in sentences if needle_of(s) is None]
        total = sum(lengths)
        starts = np.concatenate(([0], np.cumsum(lengths)))  # haystack tokens before unit b
        fixed_at = first_boundary(starts, lambda x, h=total: x >= depth * h)
        grid_at = [first_boundary(starts, lambda x, k=k, h=total: x * (steps - 1) >= k * h)
                   for k in range(steps)]  # fmt: skip
        before, candidates = 0, []
        for _, s in sentences:
            if needle_of(s) is None:
                before += len(s)
                continue
            b = int(np.searchsorted(starts, before))
            assert starts[b] == before  # needles go between haystack sentences
            if depth >= 0:
                assert b == fixed_at
            else:  # at one of the evenly spaced depths k / (steps - 1)
                ks = [k for k in range(steps) if grid_at[k] == b]
                assert ks, f"no depth of the grid lands at boundary {b}"
                candidates.append(ks)
        # ... each depth used once (RULER draws without replacement): the candidates are runs
        # of k in text order, so taking the smallest free one in turn finds distinct depths
        taken: set[int] = set()
        for ks in candidates:
            free = [k for k in ks if k not in taken]
            assert free
            taken.add(free[0])


def test_the_grid_depths_reach_both_ends_and_the_middle():
    """depth_steps=3: a single needle lies before the haystack, at its middle, or after it,
    each about a third of the time (RULER draws depths uniformly from its grid)."""
    batch = memtasks.generate(TASK, 300, seed=1, depth_steps=3, context_tokens=400)
    words = vocab()
    where = {"start": 0, "middle": 0, "end": 0}
    for i in range(len(batch)):
        sentences, _ = parse(batch, i, words)
        k = next(j for j, (_, s) in enumerate(sentences) if needle_of(s))
        where["start" if k == 0 else "end" if k == len(sentences) - 1 else "middle"] += 1
    assert all(70 <= c <= 130 for c in where.values()), where


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, knobs=knob_sets())
def test_the_episode_reaches_context_tokens_overshooting_by_less_than_a_sentence(seed, knobs):
    batch = memtasks.generate(TASK, 4, seed=seed, **knobs)
    words = vocab(**knobs)
    target = knobs["context_tokens"]
    needles = (knobs["queries"] + knobs["distractors"]) * knobs["values"]
    for i in range(len(batch)):
        sentences, questions = parse(batch, i, words)
        n = int(batch.lengths[i])
        asked = sum(len(q) + len(a) for q, a, _ in questions)
        assert n == sum(len(s) for _, s in sentences) + asked
        needle_len = next(len(s) for _, s in sentences if needle_of(s))  # all alike
        fixed = needles * needle_len + asked
        haystack = n - fixed  # tokens of the filler (or of the other keys' needles)
        if target <= fixed:  # the needles and questions alone reach the target
            assert haystack == 0
            continue
        if knobs["haystack"] == "filler":
            last = [len(s) for _, s in sentences if not needle_of(s)][-1]
        else:
            last = needle_len
        # drawn until the target is reached: the last sentence drawn crossed it
        assert haystack >= target - fixed > haystack - last
        assert target <= n < target + last


def test_no_haystack_when_needles_and_questions_fill_the_context():
    batch = memtasks.generate(TASK, 3, seed=0, context_tokens=0, queries=2)
    sentences, questions = parse(batch, 0, vocab())
    assert len(sentences) == 2 and all(needle_of(s) for _, s in sentences)
    assert len(questions) == 2


def test_supporting_facts_are_the_needle_rows_of_the_qa_view():
    batch = memtasks.generate(TASK, 6, seed=3, preset="multivalue", context_tokens=300)
    view = views.qa(batch)
    words = vocab()
    assert len(view.answer) == 6 and (view.answer.shape[1] == 28)
    for s in range(6):
        key = [words[x] for x in view.query[s] if x][-3:-1]
        rows = view.support_rows[s][view.support_rows[s] >= 0]
        assert len(rows) == 4
        for r in rows:
            sentence = [words[x] for x in view.sentences[s][r] if x]
            assert needle_of(sentence)[0] == " ".join(key)


def test_presets_are_rulers_variants():
    words = vocab()

    def shape(preset):
        batch = memtasks.generate(TASK, 2, seed=0, preset=preset)
        sentences, questions = parse(batch, 0, words)
        found = [needle_of(s) for _, s in sentences if needle_of(s)]
        keys = {k for k, _ in found}
        return len(found), len(keys), len(questions), len(sentences), batch

    assert shape("paper")[:3] == (1, 1, 1)
    assert shape("multikey")[:3] == (4, 4, 1)
    assert shape("multivalue")[:3] == (4, 1, 1)
    assert shape("multiquery")[:3] == (4, 4, 4)
    found, keys, questions, sentences, _ = shape("multikey-needles")
    # the haystack is needles of other keys (drawn with replacement, as RULER's are)
    assert found == sentences and keys > found // 2 and questions == 1
    assert shape("words")[:3] == (1, 1, 1)
    assert (shape("paper")[4].lengths >= 1000).all()
    assert (shape("extrapolate")[4].lengths >= 4000).all()


def test_the_vocabulary_is_the_same_for_every_knob_value():
    base = vocab()
    for knobs in ({"value_kind": "words"}, {"digits": 2}, {"haystack": "needles"},
                  {"values": 3, "queries": 2}, {"context_tokens": 0}):  # fmt: skip
        assert vocab(**knobs) == base
    assert len(base) == len(set(base)) and base[:2] == ("<pad>", "<answer>")


def test_keys_values_and_questions_use_no_word_of_the_filler():
    """Filler prose can never state or contradict a code: its words are none of the needles'
    (``the`` aside) and none is a digit."""
    filler = {w for s in _filler.grammar_sentences() for w in s.replace(".", " ").split()}
    ours = {w for k in needle.KEYS for w in k.split()} | set(needle.VALUE_WORDS)
    ours |= set(needle.DIGITS)
    for text in needle.NEEDLE + needle.QUESTION:
        ours |= {w for w in text.replace("?", " ").split() if not w.startswith("{")}
    assert filler & ours == {"the"}
    assert not set(needle.VALUE_WORDS) & {w for k in needle.KEYS for w in k.split()}
    assert len(set(needle.KEYS)) == len(needle.KEYS) == 1024
    assert len(set(needle.VALUE_WORDS)) == len(needle.VALUE_WORDS)


@pytest.mark.parametrize("digits, sizes", [(1, (1,)), (3, (3,)), (4, (1, 3)), (7, (1, 3, 3)),
                                           (9, (3, 3, 3))])  # fmt: skip
def test_a_number_fills_slots_of_up_to_three_digits(digits, sizes):
    assert needle.groups(digits) == sizes


def test_show_writes_numbers_as_numbers(capsys):
    code, out, err = run(capsys, "show", TASK, "-n", "1", "--preset", "multivalue",
                         "--set", "context_tokens=120")  # fmt: skip
    assert code == 0, err
    batch = memtasks.generate(TASK, 1, seed=0, preset="multivalue", context_tokens=120)
    _, questions = parse(batch, 0, vocab())
    ((_, answer, support),) = questions
    numbers = ["".join(answer[k * 7 : (k + 1) * 7]) for k in range(4)]
    assert f"   {','.join(numbers)}   " in out
    for number in numbers:
        assert f" is {number}." in out
    assert "?" in out and "<answer>" not in out


def test_filler_from_a_text_file(tmp_path):
    prose = tmp_path / "prose.txt"
    prose.write_text(
        "It was a bright cold day in April. The clocks were striking thirteen.\n"
        "The secret code of the amber badger is 7. An otter swam by.",
        encoding="utf-8",
    )
    knobs = {"context_tokens": 200, "filler": "file", "filler_file": str(prose)}
    batch = memtasks.generate(TASK, 3, seed=0, **knobs)
    text = " ".join(" ".join(s) for _, s in parse(batch, 0, vocab(**knobs))[0])
    assert "it was a bright cold day in april ." in text
    # sentences with a word of the task (a key's animal, a digit) could state a code: dropped
    assert "otter swam" not in text and "amber badger is 7" not in text


@pytest.mark.parametrize(
    "knobs, message",
    [
        ({"depth": -0.5}, "depth must be -1"),
        ({"depth": 1.5}, "'depth' must be a number in [-1, 1]"),
        ({"depth_steps": 3, "queries": 4}, "must be <= depth_steps"),
        ({"value_kind": "words", "queries": 8, "values": 9, "depth": 0.5}, "must be <= 64"),
        ({"digits": 1, "queries": 10}, "must be <= 9"),
        ({"digits": 10}, "'digits' must be an integer in [1, 9]"),
        ({"queries": 0}, "'queries' must be an integer in [1, 64]"),
        ({"value_kind": "letters"}, "'value_kind' must be one of 'numbers', 'words'"),
        ({"haystack": "essay"}, "'haystack' must be one of"),
        ({"filler": "file"}, "filler=file needs filler_file"),
        ({"context_tokens": -1}, "'context_tokens' must be an integer in [0, 1000000]"),
    ],
)
def test_bad_knobs_are_refused_in_one_line(knobs, message):
    with pytest.raises(KnobError) as info:
        memtasks.generate(TASK, 1, **knobs)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert TASK in str(info.value)


def test_bad_knobs_on_the_command_line_are_one_line_without_traceback(capsys):
    code, out, err = run(capsys, "show", TASK, "--set", "depth=-0.5")
    assert code == 1 and not out
    assert err.count("\n") == 1 and "depth must be -1" in err and "Traceback" not in err
    code, _, err = run(capsys, "generate", TASK, "-n", "1", "--out", "/tmp/x", "--set", "digits=x")
    assert code != 0 and err.count("\n") == 1 and "digits" in err


def test_a_sequence_model_reads_the_episodes():
    pytest.importorskip("torch")
    from memtasks.models.registry import create
    from memtasks.torch import collate

    batch = memtasks.generate(TASK, 4, seed=0, context_tokens=100)
    model = create("lstm", TASK, hidden_size=8, num_layers=1)
    part = model.collate(batch, "cpu")
    loss = model.loss(model(part), part)
    assert np.isfinite(float(loss.detach()))
    assert collate(batch)["inputs"].shape[0] == 4
