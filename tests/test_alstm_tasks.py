"""What the Associative LSTM tasks' episodes mean (generators/alstm.py): each answer is rebuilt
from the episode's characters alone, by the task's rules, for random knobs and seeds (the XML
is parsed with a stack, the program is run, the sum is computed); the metric reads bits per
character; `memtasks show` prints the text; bad knobs are refused in one line."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from _cli import run as run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.errors import KnobError
from memtasks.generators import alstm
from memtasks.metrics import BitsPerToken

SEEDS = st.integers(0, 2**64 - 1)
TASKS = ("episodic-copy", "xml", "variable-assignment", "arithmetic")


def episode(batch, i):
    """(text, scored, inputs, targets, mask, role, segment) of episode i, where text is the
    episode's character string (the first input, then every target) and scored[j] says whether
    character j is a scored target."""
    o, e = batch.offsets[i], batch.offsets[i + 1]
    x, y = batch.inputs[o:e], batch.targets[o:e]
    m, r, g = batch.mask[o:e], batch.role[o:e], batch.segment[o:e]
    text = alstm.text_of(x[:1]) + alstm.text_of(y)
    return text, [False, *m.tolist()], x, y, m, r, g


def check_language_model_layout(x, y, m, r):
    """Position t reads character t and its target is character t + 1; answers are scored."""
    assert (x[1:] == y[:-1]).all()
    assert x.min() > 0 and y.min() > 0
    assert ((r == 2) == m).all()


def support_of(batch, i):
    lo, hi = batch.support_offsets[i], batch.support_offsets[i + 1]
    return batch.support[lo:hi].tolist(), batch.support_answer[lo:hi].tolist()


# -- episodic copy --------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    delay=st.integers(1, 150),
    positions=st.integers(1, 25),
    symbols=st.integers(2, 26),
)
def test_episodic_copy_recalls_the_symbols_after_the_marker(seed, delay, positions, symbols):
    batch = memtasks.generate("alstm/episodic-copy-v1", 5, seed=seed, delay=delay,
                              positions=positions, symbols=symbols)  # fmt: skip
    letters = [alstm.ID[c] for c in alstm.LETTERS[:symbols]]
    for i in range(len(batch)):
        _, _, x, y, m, r, g = episode(batch, i)
        assert len(x) == 2 * positions + delay
        pattern = x[:positions]
        assert np.isin(pattern, letters).all()
        marker = positions + delay - 1  # T - 1 blanks after the symbols, then the marker
        assert (x[positions:marker] == alstm.ID["_"]).all()
        assert x[marker] == alstm.ID["#"] and (x == alstm.ID["#"]).sum() == 1
        assert (x[marker + 1 :] == alstm.ID["_"]).all()  # the model never reads the answer
        assert y[marker + 1 :].tolist() == pattern.tolist()
        assert (y[: marker + 1] == alstm.ID["_"]).all()
        assert m.tolist() == [False] * (marker + 1) + [True] * positions
        assert r[marker] == 1 and (r[m] == 2).all() and r.sum() == 1 + 2 * positions
        assert g[:positions].tolist() == list(range(positions)) and (g[positions:] == -1).all()


def test_episodic_copy_paper_layout_is_the_codes():
    """mpezeshki/Associative_LSTM main.py: 10 symbols of 8 (1..8 there), T - 1 = 99 blanks, the
    marker, 10 blanks: 120 steps; the memoryless cost is 10 log2(8) bits per episode."""
    batch = memtasks.generate("alstm/episodic-copy-v1", 3, seed=0, preset="paper")
    assert batch.lengths.tolist() == [120] * 3 and int(batch.mask.sum()) == 30
    guess = np.full(int(batch.mask.sum()), -math.log(8))  # uniform over the 8 symbols
    assert BitsPerToken().evaluate(batch, guess)["bits_per_token"] == pytest.approx(3.0)


# -- XML ------------------------------------------------------------------------------------------
TAG = re.compile(r"<(/?)([a-z]+)>")


@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    length=st.integers(1, 400),
    max_depth=st.integers(1, 8),
    names=st.tuples(st.integers(1, 12), st.integers(0, 8)),
    open_rate=st.sampled_from([0.1, 0.5, 0.9]),
    indent=st.booleans(),
)
def test_xml_closing_tags_match_and_only_they_are_scored(seed, length, max_depth, names,
                                                          open_rate, indent):  # fmt: skip
    min_name, max_name = names[0], names[0] + names[1]
    batch = memtasks.generate("alstm/xml-v1", 4, seed=seed, length=length, max_depth=max_depth,
                              min_name=min_name, max_name=max_name, open_rate=open_rate,
                              indent=indent)  # fmt: skip
    for i in range(len(batch)):
        text, scored, x, y, m, r, g = episode(batch, i)
        check_language_model_layout(x, y, m, r)
        # parse: the text is tags only (and line breaks and indentation when indented)
        tags = list(TAG.finditer(text))
        assert "".join(t[0] for t in tags) == text.replace("\n", "").replace(" ", "")
        if indent:
            lines = text.split("\n")
            assert len(lines) == len(tags)
        else:
            assert "\n" not in text and " " not in text
        stack, opened, drawn, want_scored, support = [], [], [], [False] * len(text), []
        depth = 0
        for tag in tags:
            closing, name = tag[1] == "/", tag[2]
            assert min_name <= len(name) <= max_name
            if closing:
                owner, expected = stack.pop()
                assert name == expected  # every closing tag closes the innermost open tag
                support.append(owner)
                # scored: the name and '>' of the closing tag, the part the past determines
                for j in range(tag.start(2), tag.end()):
                    want_scored[j] = True
            else:
                stack.append((len(opened), name))
                opened.append(tag.start())
                # where the tag was drawn: at its line break when indented
                drawn.append(text.rfind("\n", 0, tag.start()) if indent else tag.start())
                depth = max(depth, len(stack))
                assert len(stack) <= max_depth
            if indent:
                start_of_line = text.rfind("\n", 0, tag.start()) + 1
                assert text[start_of_line : tag.start()] == " " * (len(stack) - (not closing))
        assert not stack  # every tag is closed
        assert scored == want_scored
        # tags are drawn until the text is `length` long; then only closing tags follow
        assert max(drawn) < length
        assert all(t[1] == "/" for t in tags if t.start() > max(opened))
        assert batch.meta["elements"][i] == len(opened)
        assert batch.meta["depth"][i] == depth
        sup, ordinal = support_of(batch, i)
        assert sup == support and ordinal == list(range(len(support)))
        # roles: the "<" of a closing tag is the question; the positions whose target is
        # scored are answers; every opening tag is a context item numbered in order
        query_targets = [text[t + 1] for t in np.flatnonzero(r == 1)]
        assert query_targets == ["/"] * len(support)
        for e, at in enumerate(opened):
            assert g[at] == e


def test_xml_depth_grows_with_max_depth():
    shallow = memtasks.generate("alstm/xml-v1", 200, seed=1, max_depth=2)
    deep = memtasks.generate("alstm/xml-v1", 200, seed=1, max_depth=8)
    assert shallow.meta["depth"].max() == 2
    assert deep.meta["depth"].mean() > shallow.meta["depth"].mean() + 1


# -- variable assignment --------------------------------------------------------------------------
PROGRAM = re.compile(r"^((?:s\([a-z]+,[a-z]\),)+)q\(([a-z]+)\)([a-z])$")
ASSIGNMENT = re.compile(r"s\(([a-z]+),([a-z])\),")


@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    counts=st.tuples(st.integers(1, 30), st.integers(0, 30)),
    names=st.tuples(st.integers(1, 4), st.integers(0, 3)),
    values=st.integers(2, 26),
)
def test_variable_assignment_answer_is_the_last_value_of_the_queried_name(seed, counts, names,
                                                                           values):  # fmt: skip
    lo, hi = counts[0], counts[0] + counts[1]
    batch = memtasks.generate("alstm/variable-assignment-v1", 6, seed=seed, min_assignments=lo,
                              max_assignments=hi, min_name=names[0],
                              max_name=names[0] + names[1], values=values)  # fmt: skip
    for i in range(len(batch)):
        text, scored, x, y, m, r, g = episode(batch, i)
        check_language_model_layout(x, y, m, r)
        parsed = PROGRAM.match(text)
        assert parsed, text
        program = ASSIGNMENT.findall(parsed[1])
        assert lo <= len(program) <= hi and batch.meta["assignments"][i] == len(program)
        memory = {}
        for k, (name, value) in enumerate(program):
            assert names[0] <= len(name) <= names[0] + names[1]
            assert value in alstm.LETTERS[:values]
            memory[name] = (k, value)  # a name assigned again: the last assignment wins
        asked = parsed[2]
        assert program[batch.meta["queried"][i]][0] == asked
        answering, value = memory[asked]
        assert parsed[3] == value
        assert scored == [False] * (len(text) - 1) + [True]  # only the value
        assert support_of(batch, i) == ([answering], [0])
        # the query q(name) is the question; each assignment (with its comma) a context item
        query = "".join(alstm.VOCAB[t] for t in x[r == 1])
        assert query == f"q({asked}"
        items = [g[t] for t in range(len(x)) if r[t] == 0]
        assert items == sorted(items) and items[-1] == len(program) - 1


def test_variable_assignment_reassigns_short_names():
    """With one-letter names and 40 assignments most programs assign a name twice: the answer
    is then the later value, which the support names."""
    batch = memtasks.generate("alstm/variable-assignment-v1", 50, seed=2, min_assignments=40,
                              max_assignments=40, max_name=1)  # fmt: skip
    later = batch.support != batch.meta["queried"]
    assert later.mean() > 0.5 and (batch.support[later] > batch.meta["queried"][later]).all()


# -- arithmetic -----------------------------------------------------------------------------------
EXPRESSION = re.compile(r"^(0|[1-9][0-9]*)([+-])(0|[1-9][0-9]*)=([0-9]+-?)\.$")


@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    digits=st.tuples(st.integers(1, 18), st.integers(0, 17)),
    difference_rate=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_arithmetic_result_is_the_reversed_sum_or_difference(seed, digits, difference_rate):
    lo, hi = digits[0], min(18, digits[0] + digits[1])
    batch = memtasks.generate("alstm/arithmetic-v1", 8, seed=seed, min_digits=lo,
                              max_digits=hi, difference_rate=difference_rate)  # fmt: skip
    for i in range(len(batch)):
        text, scored, x, y, m, r, g = episode(batch, i)
        check_language_model_layout(x, y, m, r)
        parsed = EXPRESSION.match(text)
        assert parsed, text
        a, op, b, reversed_result = parsed.groups()
        assert lo <= len(a) <= hi and lo <= len(b) <= hi
        if difference_rate in (0.0, 1.0):
            assert op == ("-" if difference_rate else "+")
        result = int(a) - int(b) if op == "-" else int(a) + int(b)
        assert reversed_result == str(result)[::-1]
        assert (batch.meta["a"][i], batch.meta["b"][i]) == (int(a), int(b))
        assert batch.meta["minus"][i] == (op == "-")
        answer_from = text.index("=") + 1  # the result and the end marker are scored
        assert scored == [False] * answer_from + [True] * (len(text) - answer_from)
        assert (r[: answer_from - 1] == 1).all() and (g == -1).all()


def test_arithmetic_extrapolate_operands_are_longer_than_the_papers():
    paper = memtasks.generate("alstm/arithmetic-v1", 100, seed=0, preset="paper")
    longer = memtasks.generate("alstm/arithmetic-v1", 100, seed=0, preset="extrapolate")
    assert max(paper.meta["a"].max(), paper.meta["b"].max()) < 10**8
    assert min(longer.meta["a"].min(), longer.meta["b"].min()) >= 10**8


# -- the padded generators ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "task, knobs",
    [
        ("episodic-copy", {"delay": 1, "positions": 3, "symbols": 2}),
        ("xml", {"length": 40, "max_depth": 3, "max_name": 3, "indent": False}),
        ("xml", {"length": 1, "max_depth": 1, "min_name": 2, "max_name": 2}),
        ("variable-assignment", {"max_assignments": 30, "max_name": 2, "values": 3}),
        ("arithmetic", {"min_digits": 1, "max_digits": 18, "difference_rate": 0.9}),
    ],
)
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_the_padded_generator_writes_the_padded_episodes(task, knobs, batch_size):
    """The fill kernels write straight into padded batches (episodes of uneven lengths, a last
    short batch) exactly what padding the generated episodes gives, meta included."""
    from memtasks import views

    spec = memtasks.get_spec(f"alstm/{task}-v1")
    k = spec.knobs(**knobs)
    key = spec.key(k, 5, "train")
    got = views.padded_batches(spec, k, key, 3, 70, batch_size)
    flat = spec.generator(k, key, 3, 70)
    expected = views.pad_batches(flat, batch_size)
    for name, want in expected.fields.items():
        assert got.fields[name].dtype == want.dtype and np.array_equal(got.fields[name], want)
    assert np.array_equal(got.steps, expected.steps)
    assert sorted(got.meta) == sorted(flat.meta)
    for name, want in flat.meta.items():
        assert np.array_equal(got.meta[name], want), name


# -- the metric, the models, show, and bad knobs -------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_bits_per_character_counts_only_the_scored_characters(task):
    batch = memtasks.generate(f"alstm/{task}-v1", 20, seed=0)
    metric = memtasks.get_spec(f"alstm/{task}-v1").metric
    assert isinstance(metric, BitsPerToken) and metric.reads == "target_logprobs"
    n = int(batch.mask.sum())
    assert metric.evaluate(batch, np.zeros(n))["bits_per_token"] == 0.0
    half = metric.evaluate(batch, np.full(n, math.log(0.5)))
    assert half["bits_per_token"] == pytest.approx(1.0) and half["tokens"] == n
    with pytest.raises(ValueError, match="the batch scores"):
        metric.evaluate(batch, np.zeros(len(batch.targets)))


@pytest.mark.parametrize("task", TASKS)
def test_a_sequence_model_reads_the_tasks_and_gives_target_logprobs(task):
    torch = pytest.importorskip("torch")
    from memtasks.models.registry import create

    model = create("lstm", f"alstm/{task}-v1", hidden_size=8, num_layers=1)
    assert model.io.kind == "token" and model.io.output_size == len(alstm.VOCAB)
    episodes = memtasks.generate(f"alstm/{task}-v1", 3, seed=0)
    batch = model.collate(episodes)
    with torch.no_grad():
        out = model(batch)
    logp = model.target_logprobs(out, batch)
    assert logp.shape == (int(episodes.mask.sum()),) and (logp <= 0).all()
    got = memtasks.get_spec(f"alstm/{task}-v1").metric.evaluate(episodes, logp)
    assert got["bits_per_token"] == pytest.approx(float(model.loss(out, batch)) / math.log(2),
                                                  rel=1e-4)  # fmt: skip


def test_show_prints_the_xml_as_text_with_the_scored_characters_marked(capsys):
    code, out, err = run_cli(capsys, "show", "alstm/xml-v1", "-n", "1", "--set", "length=20",
                             "--set", "max_depth=2")  # fmt: skip
    assert code == 0, err
    batch = memtasks.generate("alstm/xml-v1", 1, seed=0, length=20, max_depth=2)
    text, scored, *_ = episode(batch, 0)
    lines = out.splitlines()[1:]
    shown = [line[2:] for line in lines if "<" in line]
    assert "\n".join(shown) == text
    for k, line in enumerate(lines):
        if "</" in line:  # a closing tag: the next line marks its name and ">"
            name = line.index("</") + 2
            assert lines[k + 1] == " " * name + "^" * (len(line) - name)
        elif "<" in line:
            assert k + 1 == len(lines) or "^" not in lines[k + 1]


@pytest.mark.parametrize(
    "task, knobs, message",
    [
        ("episodic-copy", {"symbols": 27}, "symbols"),
        ("episodic-copy", {"delay": 0}, "delay"),
        ("xml", {"min_name": 5, "max_name": 4}, "min_name must be <= max_name"),
        ("xml", {"max_depth": 0}, "max_depth"),
        ("xml", {"open_rate": 1.0}, "open_rate"),
        ("variable-assignment", {"min_assignments": 3, "max_assignments": 2}, "min_assignments"),
        ("variable-assignment", {"values": 30}, "values"),
        ("arithmetic", {"max_digits": 19}, "max_digits"),
        ("arithmetic", {"min_digits": 5, "max_digits": 4}, "min_digits must be <= max_digits"),
    ],
)
def test_bad_knobs_are_refused_in_one_line(task, knobs, message, capsys):
    with pytest.raises(KnobError) as info:
        memtasks.generate(f"alstm/{task}-v1", 1, **knobs)
    text = str(info.value)
    assert message in text and f"alstm/{task}-v1" in text and "\n" not in text
    # and on the command line: one line, a nonzero status, no traceback
    sets = [a for k, v in knobs.items() for a in ("--set", f"{k}={v}")]
    code, out, err = run_cli(capsys, "show", f"alstm/{task}-v1", *sets)
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1
