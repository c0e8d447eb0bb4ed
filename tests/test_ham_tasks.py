"""What the Hierarchical Attentive Memory tasks' episodes mean (generators/ham.py): each answer is
rebuilt from the episode's inputs alone, by plain Python (sorted, heapq, deque, int addition),
for random knobs and seeds; the layout is the one the cards state; bad knobs are refused in one
line; the metric counts as the paper's "percentage of correct outputs"."""

from __future__ import annotations

import heapq
from collections import deque

import numba
import numpy as np
import pytest
from _cli import run
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.errors import KnobError
from memtasks.generators import _kernels
from memtasks.metrics import TokenAccuracy

SEEDS = st.integers(0, 2**32)
JITTER = st.sampled_from([0.0, 0.25, 1.0])
TASKS = ["reverse", "search", "merge", "sort", "add", "stack", "queue", "priority-queue"]
PAD, ANSWER = 0, 1
CONTEXT, QUERY, SCORED, CONTROL = 0, 1, 2, 3


class Episode:
    """One episode's arrays, and its tokens as the words of the vocabulary."""

    def __init__(self, batch, i, vocab):
        r = slice(batch.offsets[i], batch.offsets[i + 1])
        self.inputs, self.targets = batch.inputs[r], batch.targets[r]
        self.mask, self.role, self.segment = batch.mask[r], batch.role[r], batch.segment[r]
        s = slice(batch.support_offsets[i], batch.support_offsets[i + 1])
        self.support = batch.support[s].tolist()
        self.support_answer = batch.support_answer[s].tolist()
        self.meta = {k: int(v[i]) for k, v in batch.meta.items()}
        self.vocab = vocab
        self.words = [vocab[t] for t in self.inputs]

    def answers(self) -> list[str]:
        """The words the scored positions want, in order."""
        return [self.vocab[t] for t in self.targets[self.mask]]

    def check_answer_positions(self):
        """Scored exactly at the answers; each reads <answer>, so no answer is ever an input;
        unscored targets are padding."""
        assert (self.mask == (self.role == SCORED)).all()
        assert (self.inputs[self.mask] == ANSWER).all()
        assert (self.inputs[~self.mask] != ANSWER).all()
        assert (self.targets[~self.mask] == PAD).all()
        assert (self.targets[self.mask] > ANSWER).all()
        assert (self.segment[self.role != CONTEXT] == -1).all()


def generate(task, n, seed, **knobs):
    spec = memtasks.get_spec(f"ham/{task}-v1")
    k = spec.make_knobs(**knobs)
    batch = spec.generate(n, seed=seed, knobs=k)
    batch.check()
    vocab = spec.layout(k).vocab
    return batch, [Episode(batch, i, vocab) for i in range(len(batch))]


def check_lengths(eps, length, jitter, least=1):
    lo = max(least, length - int(jitter * length))
    for ep in eps:
        assert lo <= ep.meta["length"] <= length


def pairs(words):
    """[(key, value)] from alternating key and value words."""
    return [(int(words[i]), int(words[i + 1])) for i in range(0, len(words), 2)]


# ---------------------------------------------------------------------------------------------
# The algorithmic tasks
# ---------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, length=st.integers(1, 80), jitter=JITTER, values=st.integers(2, 50))
def test_reverse_answers_are_the_input_backwards(seed, length, jitter, values):
    _, eps = generate("reverse", 6, seed, length=length, jitter=jitter, values=values)
    check_lengths(eps, length, jitter)
    for ep in eps:
        m = ep.meta["length"]
        assert len(ep.inputs) == 2 * m + 1
        ep.check_answer_positions()
        assert ep.words[m] == "<go>" and ep.role[m] == QUERY
        seq = ep.words[:m]
        assert all(0 <= int(w) < values for w in seq)
        assert ep.role[:m].tolist() == [CONTEXT] * m and ep.segment[:m].tolist() == list(range(m))
        assert ep.answers() == seq[::-1]
        assert ep.support == []


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, length=st.integers(1, 80), jitter=JITTER, keys=st.integers(1, 40),
       values=st.integers(2, 40))  # fmt: skip
def test_search_answer_is_the_value_of_the_first_pair_with_the_query_key(
    seed, length, jitter, keys, values
):
    _, eps = generate("search", 6, seed, length=length, jitter=jitter, keys=keys, values=values)
    check_lengths(eps, length, jitter)
    for ep in eps:
        m = ep.meta["length"]
        assert len(ep.inputs) == 2 * m + 3
        ep.check_answer_positions()
        kv = pairs(ep.words[: 2 * m])
        assert [k for k, _ in kv] == sorted(k for k, _ in kv)  # sorted by key
        assert all(0 <= k < keys and 0 <= v < values for k, v in kv)
        assert ep.segment[: 2 * m].tolist() == [i // 2 for i in range(2 * m)]
        assert ep.words[2 * m] == "?" and ep.role[2 * m : 2 * m + 2].tolist() == [QUERY, QUERY]
        q = int(ep.words[2 * m + 1])
        first = next(i for i, (k, _) in enumerate(kv) if k == q)  # the query is always present
        assert ep.answers() == [str(kv[first][1])]
        assert ep.support == [first] == [ep.meta["pair"]] and ep.support_answer == [0]


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, length=st.integers(2, 80), jitter=JITTER, extra=st.integers(0, 300),
       values=st.integers(2, 40))  # fmt: skip
def test_merge_answer_is_both_sequences_values_in_priority_order(
    seed, length, jitter, extra, values
):
    keys = length + extra
    _, eps = generate("merge", 6, seed, length=length, jitter=jitter, keys=keys, values=values)
    check_lengths(eps, length, jitter, least=2)
    for ep in eps:
        m, a = ep.meta["length"], ep.meta["first"]
        assert len(ep.inputs) == 3 * m + 2 and 1 <= a <= m - 1
        ep.check_answer_positions()
        bar = ep.words.index("|")
        assert bar == 2 * a and ep.role[bar] == CONTROL
        assert ep.words[2 * m + 1] == "<go>" and ep.role[2 * m + 1] == QUERY
        first, second = pairs(ep.words[:bar]), pairs(ep.words[bar + 1 : 2 * m + 1])
        assert len(first) == a and len(second) == m - a
        for part in (first, second):
            assert [p for p, _ in part] == sorted(p for p, _ in part)
        priorities = [p for p, _ in first + second]
        assert len(set(priorities)) == m and all(0 <= p < keys for p in priorities)
        assert all(0 <= v < values for _, v in first + second)
        merged = list(heapq.merge(first, second))  # priorities are distinct: no ties
        assert ep.answers() == [str(v) for _, v in merged]


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, length=st.integers(1, 80), jitter=JITTER, keys=st.integers(1, 40),
       values=st.integers(2, 40))  # fmt: skip
def test_sort_answer_is_the_values_stably_sorted_by_key(seed, length, jitter, keys, values):
    _, eps = generate("sort", 6, seed, length=length, jitter=jitter, keys=keys, values=values)
    check_lengths(eps, length, jitter)
    for ep in eps:
        m = ep.meta["length"]
        assert len(ep.inputs) == 3 * m + 1
        ep.check_answer_positions()
        assert ep.words[2 * m] == "<go>" and ep.role[2 * m] == QUERY
        kv = pairs(ep.words[: 2 * m])
        assert all(0 <= k < keys and 0 <= v < values for k, v in kv)
        # Python's sort is stable: equal keys keep their input order
        assert ep.answers() == [str(v) for _, v in sorted(kv, key=lambda p: p[0])]


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, length=st.integers(1, 150), jitter=JITTER)
def test_add_answer_is_the_binary_sum_least_significant_bit_first(seed, length, jitter):
    _, eps = generate("add", 6, seed, length=length, jitter=jitter)
    check_lengths(eps, length, jitter)
    for ep in eps:
        m = ep.meta["length"]
        assert len(ep.inputs) == 3 * m + 3
        ep.check_answer_positions()
        assert ep.words[m] == "+" and ep.role[m] == CONTROL
        assert ep.words[2 * m + 1] == "=" and ep.role[2 * m + 1] == QUERY
        a_bits, b_bits = ep.words[:m], ep.words[m + 1 : 2 * m + 1]
        assert set(a_bits + b_bits) <= {"0", "1"}
        a = int("".join(reversed(a_bits)), 2)  # least significant bit first
        b = int("".join(reversed(b_bits)), 2)
        total = format(a + b, f"0{m + 1}b")
        assert ep.answers() == list(reversed(total))
        # the carries: positions where the running sum carries into the next bit
        carries = sum(((a % 2**i) + (b % 2**i)) >> i for i in range(1, m + 1))
        assert ep.meta["carries"] == carries


def test_add_draws_numbers_uniformly():
    """Each input bit is a fair coin (64 to a draw): the bit frequencies over 2,000 episodes."""
    batch, _ = generate("add", 2000, 7, length=40)
    bits = batch.inputs[batch.role == CONTEXT] - 4  # "0" is id 4
    assert abs(bits.mean() - 0.5) < 0.01


# ---------------------------------------------------------------------------------------------
# The data structures: replayed with Python's list, deque and heapq
# ---------------------------------------------------------------------------------------------
def replay(ep, task):
    """Replay the operations; return (popped values, the push each came from, the largest size),
    checking the layout of every operation on the way."""
    push_word, pop_word = {"stack": ("push", "pop"), "queue": ("enqueue", "dequeue"),
                           "priority-queue": ("insert", "pop-max")}[task]  # fmt: skip
    held = [] if task != "queue" else deque()
    popped, sources, deepest, pushes, ops = [], [], 0, 0, 0
    t = 0
    while t < len(ep.words):
        word = ep.words[t]
        if word == push_word:
            width = 3 if task == "priority-queue" else 2
            assert ep.role[t : t + width].tolist() == [CONTEXT] * width
            assert ep.segment[t : t + width].tolist() == [pushes] * width
            value = int(ep.words[t + 1])
            if task == "priority-queue":
                priority = int(ep.words[t + 2])
                heapq.heappush(held, (-priority, pushes, value))  # ties: the earlier insert
            else:
                held.append((pushes, value))
            pushes += 1
            t += width
        else:
            assert word == pop_word and ep.role[t] == QUERY
            assert ep.words[t + 1] == "<answer>" and ep.role[t + 1] == SCORED
            assert held, "a pop of an empty structure"
            if task == "stack":
                j, value = held.pop()
            elif task == "queue":
                j, value = held.popleft()
            else:
                _, j, value = heapq.heappop(held)
            popped.append(str(value))
            sources.append(j)
            t += 2
        ops += 1
        deepest = max(deepest, len(held))
    return popped, sources, deepest, ops


@settings(max_examples=40, deadline=None)
@given(
    seed=SEEDS,
    task=st.sampled_from(["stack", "queue", "priority-queue"]),
    length=st.integers(2, 120),
    jitter=JITTER,
    values=st.integers(2, 40),
    push_prob=st.sampled_from([0.0, 0.3, 0.5, 0.8, 0.99]),
    priorities=st.integers(1, 6),
)
def test_every_pop_returns_what_the_python_structure_returns(
    seed, task, length, jitter, values, push_prob, priorities
):
    knobs = {"length": length, "jitter": jitter, "values": values, "push_prob": push_prob}
    if task == "priority-queue":
        knobs["priorities"] = priorities  # few priorities: many ties
    _, eps = generate(task, 6, seed, **knobs)
    check_lengths(eps, length, jitter, least=2)
    for ep in eps:
        ep.check_answer_positions()
        popped, sources, deepest, ops = replay(ep, task)
        assert ops == ep.meta["length"]
        assert ep.answers() == popped and len(popped) == ep.meta["pops"] >= 1
        assert ep.support == sources  # each pop is supported by the push it returns
        assert ep.support_answer == list(range(len(popped)))
        assert ep.meta["depth"] == deepest


def test_push_prob_zero_alternates_push_and_pop():
    _, eps = generate("stack", 3, 0, length=8, push_prob=0.0)
    for ep in eps:
        assert ep.words[0::4] == ["push"] * 4 and ep.words[2::4] == ["pop"] * 4
        assert ep.answers() == ep.words[1::4]  # each pop returns the value just pushed
        assert ep.meta["depth"] == 1 and ep.meta["pops"] == 4


def test_push_prob_sets_the_share_of_pushes():
    batch, eps = generate("queue", 400, 3, length=64, push_prob=0.8)
    pops = sum(ep.meta["pops"] for ep in eps)
    # a pop needs a non-empty queue, so the share of pops is a little under 0.2
    assert 0.17 < pops / (64 * len(eps)) < 0.2


# ---------------------------------------------------------------------------------------------
# Presets, vocabulary, knobs, metric
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_presets_test_at_twice_and_four_times_the_training_length(task):
    spec = memtasks.get_spec(f"ham/{task}-v1")
    assert set(spec.presets) == {"paper", "extrapolate", "extrapolate-4x"}
    n = spec.make_knobs("paper").length
    assert n == 32
    assert spec.make_knobs("extrapolate").length == 2 * n
    assert spec.make_knobs("extrapolate-4x").length == 4 * n
    batch = spec.generate(3, preset="extrapolate-4x")
    assert (batch.meta["length"] == 4 * n).all()


@pytest.mark.parametrize("task", TASKS)
def test_vocabulary_is_small_fixed_by_the_knobs_and_numbers_are_words(task):
    spec = memtasks.get_spec(f"ham/{task}-v1")
    vocab = spec.layout(spec.make_knobs()).vocab
    assert vocab[:2] == ("<pad>", "<answer>")
    numbers = [w for w in vocab if w.isdigit()]
    assert numbers == [str(i) for i in range(len(numbers))]
    assert len(vocab) <= 310  # merge: 300 priorities, the largest default
    batch = spec.generate(50, seed=1)
    assert batch.inputs.max() < len(vocab) and batch.targets.max() < len(vocab)


def test_vocabulary_sizes():
    def size(task, **knobs):
        spec = memtasks.get_spec(f"ham/{task}-v1")
        return len(spec.layout(spec.make_knobs(**knobs)).vocab)

    assert size("reverse", values=10) == 13
    assert size("search", keys=5, values=9) == 12
    assert size("merge", keys=300) == 304
    assert size("add") == 6
    assert size("stack", values=8) == 12
    assert size("priority-queue", values=8, priorities=20) == 24


@pytest.mark.parametrize(
    "task, knobs, knob_name",
    [
        ("reverse", {"length": 0}, "length"),
        ("reverse", {"values": 1}, "values"),
        ("search", {"keys": 0}, "keys"),
        ("sort", {"jitter": 1.5}, "jitter"),
        ("merge", {"length": 1}, "length"),
        ("merge", {"length": 40, "keys": 30}, "keys must be >= length"),
        ("add", {"length": 200_000}, "length"),
        ("stack", {"push_prob": 1.0}, "push_prob"),
        ("queue", {"length": 1}, "length"),
        ("priority-queue", {"priorities": 0}, "priorities"),
    ],
)
def test_bad_knobs_are_refused_in_one_line_naming_task_and_knob(task, knobs, knob_name):
    with pytest.raises(KnobError) as info:
        memtasks.generate(f"ham/{task}-v1", 1, **knobs)
    message = str(info.value)
    assert f"ham/{task}-v1" in message and knob_name in message and "\n" not in message


def test_bad_knob_on_the_command_line_is_one_line(capsys):
    code, out, err = run(capsys, "generate", "ham/stack-v1", "-n", "1", "--set", "push_prob=2",
                         "--out", "/nonexistent/never-written")  # fmt: skip
    assert code != 0 and "push_prob" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_show_prints_numbers_and_operations_as_words(capsys):
    code, out, _ = run(capsys, "show", "ham/priority-queue-v1", "-n", "1", "--set", "length=4")
    assert code == 0
    assert "insert" in out and "pop-max <answer>" in out


def test_token_accuracy_is_the_share_of_correct_outputs():
    batch, _ = generate("sort", 4, 0, length=5)
    metric = memtasks.get_spec("ham/sort-v1").metric
    assert isinstance(metric, TokenAccuracy)
    perfect = metric.evaluate(batch, batch.targets.copy())
    assert perfect["token_accuracy"] == 1.0 and perfect["sequence_accuracy"] == 1.0
    wrong = batch.targets.copy()
    wrong[np.flatnonzero(batch.mask)[0]] = PAD  # one output of episode 0 wrong
    got = metric.evaluate(batch, wrong)
    assert got["token_accuracy"] == pytest.approx(19 / 20)
    assert got["sequence_accuracy"] == pytest.approx(3 / 4)


def test_models_read_the_vocabulary():
    pytest.importorskip("torch")
    from memtasks.models.registry import create

    model = create("lstm", "ham/stack-v1", hidden_size=8, num_layers=1)
    assert model.io.kind == "token" and model.io.input_size == 2 + 2 + 32


@pytest.mark.parametrize("task", ["sort", "priority-queue"])
def test_serial_and_parallel_kernels_make_the_same_bytes(task, monkeypatch):
    """The small batches of training take the serial twin of each kernel, bulk generation the
    parallel one (test_determinism.py checks this for the NTM tasks only). Two tasks, one of
    each kernel pattern (fixed sizes; operations), as compiling every parallel twin costs about
    two minutes on two cores."""
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_EPISODES", 1)
    monkeypatch.setattr(_kernels, "PARALLEL_COMPILE_EPISODES", 0)  # compile it now
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = memtasks.generate(f"ham/{task}-v1", 40, seed=9, start=5, jitter=0.5)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        everything = memtasks.generate(f"ham/{task}-v1", 40, seed=9, start=5, jitter=0.5)
    finally:
        numba.set_num_threads(threads)
    assert one.equals(everything)
