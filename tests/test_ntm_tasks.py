"""The semantics of the five NTM tasks as Graves, Wayne & Danihelka (2014, sec. 4) define them.

Each ``check_*`` function re-derives one episode's expected layout from its inputs alone (which
item followed the query, which vectors have the highest priority...) in plain Python and compares
every field: inputs, targets, mask, role, segment, support and meta. Hypothesis draws the seeds
and the knob values. The statistical tests (bit frequencies, the Beta table of dynamic N-grams)
use fixed seeds, so they are exact regression tests with tolerances of several standard
deviations, not flaky ones.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_CONTROL, ROLE_QUERY
from memtasks.metrics import BitMetric

PROPERTY = settings(max_examples=30, deadline=None)
SEEDS = st.integers(0, 2**64 - 1)


def episodes(batch):
    """(episode dict, meta dict) for every episode of a batch."""
    for i in range(len(batch)):
        ep = batch.episode(i)
        yield ep, ep["meta"]


def assert_bits(array: np.ndarray) -> None:
    assert set(np.unique(array).tolist()) <= {0, 1}


def assert_meta(batch, expected: dict[str, tuple[np.dtype, tuple]]) -> None:
    """Meta has exactly these fields, with these dtypes and per-episode shapes."""
    assert set(batch.meta) == set(expected)
    for name, (dtype, shape) in expected.items():
        assert batch.meta[name].dtype == dtype, name
        assert batch.meta[name].shape == (len(batch), *shape), name


# -- copy --------------------------------------------------------------------------------------
def check_copy_episode(ep, width: int) -> int:
    length = int(ep["meta"]["length"])
    t = 2 * length + 1
    inputs, targets = ep["inputs"], ep["targets"]
    assert inputs.shape == (t, width + 1) and inputs.dtype == np.uint8
    assert targets.shape == (t, width) and targets.dtype == np.uint8
    assert_bits(inputs)
    # L vectors, then the delimiter flag on its own channel, then nothing while answering
    assert not inputs[:length, width].any()
    np.testing.assert_array_equal(inputs[length], [0] * width + [1])
    assert not inputs[length + 1 :].any()
    # targets: nothing before the answer, then the same L vectors (delimiter channel excluded)
    assert not targets[: length + 1].any()
    np.testing.assert_array_equal(targets[length + 1 :], inputs[:length, :width])
    np.testing.assert_array_equal(ep["mask"], [False] * (length + 1) + [True] * length)
    roles = [ROLE_CONTEXT] * length + [ROLE_CONTROL] + [ROLE_ANSWER] * length
    np.testing.assert_array_equal(ep["role"], roles)
    np.testing.assert_array_equal(ep["segment"], list(range(length)) + [-1] * (length + 1))
    assert len(ep["support"]) == 0
    return length


@PROPERTY
@given(
    seed=SEEDS,
    width=st.integers(1, 12),
    min_length=st.integers(1, 8),
    extra=st.integers(0, 8),
)
def test_copy(seed, width, min_length, extra):
    max_length = min_length + extra
    batch = memtasks.generate(
        "ntm/copy-v1", 12, seed=seed, width=width, min_length=min_length, max_length=max_length
    )
    assert_meta(batch, {"length": (np.int32, ())})
    for ep, _ in episodes(batch):
        length = check_copy_episode(ep, width)
        assert min_length <= length <= max_length


@pytest.mark.parametrize("width", [8, 31, 32, 63, 64, 65, 100, 129])
def test_copy_of_wide_vectors(width):
    """Widths past one draw's 64 bits (several draws per row) and those at its edges (one row
    per draw at 33..64, the byte table of width 8)."""
    batch = memtasks.generate("ntm/copy-v1", 20, seed=width, width=width, max_length=9)
    for ep, _ in episodes(batch):
        check_copy_episode(ep, width)
    assert_bits(batch.inputs)
    assert 0.4 < batch.inputs[batch.role == ROLE_CONTEXT, :width].mean() < 0.6


@PROPERTY
@given(seed=SEEDS, lengths=st.lists(st.integers(1, 30), min_size=1, max_size=4))
def test_copy_lengths_set_is_honoured(seed, lengths):
    batch = memtasks.generate("ntm/copy-v1", 60, seed=seed, lengths=tuple(lengths))
    drawn = set(batch.meta["length"].tolist())
    assert drawn <= set(lengths)
    # 60 uniform draws from at most 4 values miss one with probability < 4 * (3/4)**60 ~ 1e-7
    assert drawn == set(lengths)
    for ep, _ in episodes(batch[:5]):
        check_copy_episode(ep, 8)


def test_copy_extrapolate_preset_and_distributions():
    batch = memtasks.generate("ntm/copy-v1", 500, seed=2024, preset="extrapolate")
    assert set(batch.meta["length"].tolist()) == {10, 20, 30, 50, 120}
    paper = memtasks.generate("ntm/copy-v1", 4000, seed=2024)
    counts = np.bincount(paper.meta["length"], minlength=21)[1:]
    # L uniform in 1..20: each count is Binomial(4000, 1/20), sd ~ 13.8
    assert np.all(np.abs(counts - 200) < 6 * 13.8), counts
    # the bits are fair coins: the mean of ~84k bits is within 5 sd (0.0017) of 1/2
    context = paper.inputs[paper.role == ROLE_CONTEXT, :8]
    assert abs(context.mean() - 0.5) < 5 * 0.5 / math.sqrt(context.size)
    # and the 8 channels are not tied together: channel pairs agree half the time
    agree = (context[:, :-1] == context[:, 1:]).mean()
    assert abs(agree - 0.5) < 5 * 0.5 / math.sqrt(context[:, 1:].size)


# -- repeat copy --------------------------------------------------------------------------------
def repeat_normalisation(lo: int, hi: int) -> tuple[float, float]:
    """Mean and population sd of the repeat counts lo..hi, each equally likely."""
    counts = np.arange(lo, hi + 1, dtype=np.float64)
    return float(counts.mean()), float(counts.std())


def check_repeat_copy_episode(ep, width: int, norm: tuple[float, float]) -> tuple[int, int]:
    length, repeats = int(ep["meta"]["length"]), int(ep["meta"]["repeats"])
    t = length + 1 + repeats * length + 1
    inputs, targets = ep["inputs"], ep["targets"]
    assert inputs.shape == (t, width + 2) and inputs.dtype == np.float32
    assert targets.shape == (t, width + 1) and targets.dtype == np.uint8
    assert_bits(inputs[:, : width + 1])
    assert_bits(targets)
    # inputs: L vectors, then the delimiter with the normalised repeat count; then nothing
    assert not inputs[:length, width:].any()
    np.testing.assert_array_equal(inputs[length, : width + 1], [0] * width + [1])
    mean, sd = norm
    assert inputs[length, width + 1] == pytest.approx((repeats - mean) / sd, rel=1e-6, abs=1e-6)
    assert not inputs[length + 1 :].any()
    # targets: the L vectors R times, then the end marker on the extra channel
    first = length + 1
    assert not targets[:first].any()
    for r in range(repeats):
        block = targets[first + r * length : first + (r + 1) * length]
        np.testing.assert_array_equal(block[:, :width], inputs[:length, :width])
        assert not block[:, width].any()
    np.testing.assert_array_equal(targets[t - 1], [0] * width + [1])
    np.testing.assert_array_equal(ep["mask"], [False] * first + [True] * (t - first))
    roles = [ROLE_CONTEXT] * length + [ROLE_CONTROL] + [ROLE_ANSWER] * (t - first)
    np.testing.assert_array_equal(ep["role"], roles)
    np.testing.assert_array_equal(ep["segment"], list(range(length)) + [-1] * (t - length))
    assert len(ep["support"]) == 0
    return length, repeats


@PROPERTY
@given(
    seed=SEEDS,
    width=st.integers(1, 10),
    lengths=st.tuples(st.integers(1, 6), st.integers(0, 5)),
    repeats=st.tuples(st.integers(1, 6), st.integers(0, 5)),
    norm=st.tuples(st.integers(1, 5), st.integers(1, 20)),
)
def test_repeat_copy(seed, width, lengths, repeats, norm):
    knobs = {
        "width": width,
        "min_length": lengths[0],
        "max_length": lengths[0] + lengths[1],
        "min_repeats": repeats[0],
        "max_repeats": repeats[0] + repeats[1],
        "norm_min_repeats": norm[0],
        "norm_max_repeats": norm[0] + norm[1],
    }
    batch = memtasks.generate("ntm/repeat-copy-v1", 10, seed=seed, **knobs)
    assert_meta(batch, {"length": (np.int32, ()), "repeats": (np.int32, ())})
    scale = repeat_normalisation(knobs["norm_min_repeats"], knobs["norm_max_repeats"])
    for ep, _ in episodes(batch):
        length, reps = check_repeat_copy_episode(ep, width, scale)
        assert knobs["min_length"] <= length <= knobs["max_length"]
        assert knobs["min_repeats"] <= reps <= knobs["max_repeats"]


def test_repeat_channel_has_mean_0_and_variance_1_over_the_training_range():
    mean, sd = repeat_normalisation(1, 10)
    assert (mean, sd) == pytest.approx((5.5, math.sqrt(99 / 12)))
    knobs = memtasks.get_spec("ntm/repeat-copy-v1").make_knobs()
    assert knobs.repeat_scale() == pytest.approx((mean, sd))
    batch = memtasks.generate("ntm/repeat-copy-v1", 2000, seed=77)
    delimiter_rows = batch.role == ROLE_CONTROL
    values = batch.inputs[delimiter_rows, -1].astype(np.float64)
    assert len(values) == 2000
    np.testing.assert_allclose(values, (batch.meta["repeats"] - mean) / sd, rtol=1e-6)
    assert set(batch.meta["repeats"].tolist()) == set(range(1, 11))
    # over R uniform in 1..10 the channel has mean 0 and variance 1 (sampling error ~0.03)
    assert abs(values.mean()) < 0.12 and abs(values.var() - 1) < 0.12


def test_repeat_copy_extrapolation_keeps_the_training_normalisation():
    mean, sd = repeat_normalisation(1, 10)
    fixed_sizes = {"extrapolate-length": (20, 10), "extrapolate-repeats": (10, 20)}
    for preset, (length, reps) in fixed_sizes.items():
        batch = memtasks.generate("ntm/repeat-copy-v1", 5, seed=0, preset=preset)
        for ep, meta in episodes(batch):
            assert (int(meta["length"]), int(meta["repeats"])) == (length, reps)
            check_repeat_copy_episode(ep, 8, (mean, sd))
    wide = memtasks.generate("ntm/repeat-copy-v1", 300, seed=0, preset="extrapolate")
    assert wide.meta["length"].max() == 20 and wide.meta["repeats"].max() == 20
    assert wide.meta["length"].min() == 1 and wide.meta["repeats"].min() == 1


# -- associative recall --------------------------------------------------------------------------
def check_recall_episode(ep, w: int, m: int) -> tuple[int, int]:
    inputs, targets = ep["inputs"], ep["targets"]
    k = int(ep["meta"]["num_items"])
    t = k * (m + 1) + (m + 2) + m
    assert inputs.shape == (t, w + 2) and inputs.dtype == np.uint8
    assert targets.shape == (t, w) and targets.dtype == np.uint8
    assert_bits(inputs)
    item_delimiter = [0] * w + [1, 0]
    query_delimiter = [0] * w + [0, 1]
    items = []
    for j in range(k):
        d = j * (m + 1)
        np.testing.assert_array_equal(inputs[d], item_delimiter)
        body = inputs[d + 1 : d + 1 + m]
        assert not body[:, w:].any()  # no delimiter bits inside an item
        items.append(body[:, :w].tobytes())
        np.testing.assert_array_equal(ep["role"][d], ROLE_CONTROL)
        np.testing.assert_array_equal(ep["role"][d + 1 : d + 1 + m], ROLE_CONTEXT)
        np.testing.assert_array_equal(ep["segment"][d + 1 : d + 1 + m], j)
        assert ep["segment"][d] == -1
    assert len(set(items)) == k, "items are distinct, so the answer is unambiguous"
    qd = k * (m + 1)
    np.testing.assert_array_equal(inputs[qd], query_delimiter)
    np.testing.assert_array_equal(inputs[qd + m + 1], query_delimiter)
    query = inputs[qd + 1 : qd + 1 + m]
    assert not query[:, w:].any()
    # find the query among the items by content alone; the answer is the item after it
    q = items.index(query[:, :w].tobytes())
    assert q < k - 1
    answer_rows = slice(qd + m + 2, t)
    assert not inputs[answer_rows].any()  # nothing is input while answering
    np.testing.assert_array_equal(
        targets[answer_rows].tobytes(), items[q + 1], err_msg="target is the next item"
    )
    assert not targets[: qd + m + 2].any()
    np.testing.assert_array_equal(ep["mask"], [False] * (qd + m + 2) + [True] * m)
    np.testing.assert_array_equal(ep["role"][qd + 1 : qd + 1 + m], ROLE_QUERY)
    assert ep["role"][qd] == ep["role"][qd + m + 1] == ROLE_CONTROL
    np.testing.assert_array_equal(ep["role"][answer_rows], ROLE_ANSWER)
    np.testing.assert_array_equal(ep["segment"][qd:], -1)
    np.testing.assert_array_equal(ep["support"], [q, q + 1])
    np.testing.assert_array_equal(ep["support_answer"], [0, 0])
    assert int(ep["meta"]["query"]) == q
    return k, q


@PROPERTY
@given(
    seed=SEEDS,
    w=st.integers(1, 8),
    m=st.integers(1, 4),
    items=st.tuples(st.integers(2, 8), st.integers(0, 6)),
)
def test_associative_recall(seed, w, m, items):
    min_items, max_items = items[0], items[0] + items[1]
    if w * m < 63 and 2 ** (w * m) < 2 * max_items:  # too few distinct items: refused
        with pytest.raises(memtasks.KnobError):
            memtasks.generate("ntm/associative-recall-v1", 1, item_width=w, item_length=m,
                              min_items=min_items, max_items=max_items)  # fmt: skip
        return
    batch = memtasks.generate(
        "ntm/associative-recall-v1", 10, seed=seed, item_width=w, item_length=m,
        min_items=min_items, max_items=max_items,
    )  # fmt: skip
    assert_meta(batch, {"num_items": (np.int32, ()), "query": (np.int32, ())})
    for ep, _ in episodes(batch):
        k, _ = check_recall_episode(ep, w, m)
        assert min_items <= k <= max_items


def test_associative_recall_with_barely_enough_distinct_items():
    # 2 bits give 4 possible items; 2 items per episode must still always be distinct
    batch = memtasks.generate(
        "ntm/associative-recall-v1", 300, seed=5, item_width=2, item_length=1,
        min_items=2, max_items=2,
    )  # fmt: skip
    for ep, _ in episodes(batch):
        check_recall_episode(ep, 2, 1)


def test_associative_recall_draws_items_and_queries_uniformly():
    batch = memtasks.generate("ntm/associative-recall-v1", 3000, seed=31)
    counts = np.bincount(batch.meta["num_items"], minlength=7)[2:]
    assert np.all(np.abs(counts - 600) < 6 * math.sqrt(3000 * 0.2 * 0.8)), counts
    # the query is uniform over the items that have a successor
    six = batch.meta["num_items"] == 6
    queries = np.bincount(batch.meta["query"][six], minlength=5)
    assert len(queries) == 5 and queries.min() > 0.5 * queries.mean()
    paper = memtasks.generate("ntm/associative-recall-v1", 50, seed=1, preset="extrapolate")
    assert paper.meta["num_items"].min() >= 7 and paper.meta["num_items"].max() <= 12


# -- priority sort -------------------------------------------------------------------------------
def check_sort_episode(ep, width: int, num_items: int, num_outputs: int) -> None:
    inputs, targets = ep["inputs"], ep["targets"]
    t = num_items + 1 + num_outputs
    assert inputs.shape == (t, width + 2) and inputs.dtype == np.float32
    assert targets.shape == (t, width) and targets.dtype == np.uint8
    bits = inputs[:num_items, :width]
    priority = inputs[:num_items, width]
    assert_bits(bits)
    assert np.all((priority >= -1) & (priority <= 1))
    assert not inputs[:num_items, width + 1].any()
    np.testing.assert_array_equal(inputs[num_items], [0] * (width + 1) + [1])
    assert not inputs[num_items + 1 :].any()
    # the num_outputs highest priorities, highest first, ties in input order
    chosen = sorted(range(num_items), key=lambda r: (-float(priority[r]), r))[:num_outputs]
    np.testing.assert_array_equal(ep["support"], chosen)
    assert not targets[: num_items + 1].any()
    np.testing.assert_array_equal(targets[num_items + 1 :], bits[chosen].astype(np.uint8))
    np.testing.assert_array_equal(ep["mask"], [False] * (num_items + 1) + [True] * num_outputs)
    roles = [ROLE_CONTEXT] * num_items + [ROLE_CONTROL] + [ROLE_ANSWER] * num_outputs
    np.testing.assert_array_equal(ep["role"], roles)
    np.testing.assert_array_equal(ep["segment"], list(range(num_items)) + [-1] * (num_outputs + 1))


@PROPERTY
@given(
    seed=SEEDS,
    width=st.integers(1, 10),
    num_items=st.integers(1, 25),
    data=st.data(),
)
def test_priority_sort(seed, width, num_items, data):
    num_outputs = data.draw(st.integers(1, num_items), label="num_outputs")
    batch = memtasks.generate(
        "ntm/priority-sort-v1", 8, seed=seed, width=width, num_items=num_items,
        num_outputs=num_outputs,
    )  # fmt: skip
    assert_meta(batch, {})
    np.testing.assert_array_equal(np.diff(batch.support_offsets), num_outputs)
    for ep, _ in episodes(batch):
        check_sort_episode(ep, width, num_items, num_outputs)


def test_priority_sort_breaks_ties_in_input_order():
    # float32 priorities tie now and then in a long list: the tied items keep input order
    items = 20_000
    batch = memtasks.generate(
        "ntm/priority-sort-v1", 1, seed=0, width=1, num_items=items, num_outputs=items
    )
    priority = batch.inputs[:items, 1]
    _, counts = np.unique(priority, return_counts=True)
    assert counts.max() > 1, "this seed must contain a tie for the test to mean anything"
    check_sort_episode(batch.episode(0), 1, items, items)


def test_priority_sort_priorities_are_uniform_on_minus_one_one():
    batch = memtasks.generate("ntm/priority-sort-v1", 500, seed=3)
    priority = batch.inputs[batch.role == ROLE_CONTEXT, 8].astype(np.float64)
    assert len(priority) == 500 * 20
    # Kolmogorov-Smirnov distance to Uniform(-1, 1); the 1e-3 critical value is 1.95 / sqrt(n)
    x = np.sort(priority)
    cdf = (x + 1) / 2
    n = len(x)
    distance = max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max())
    assert distance < 1.95 / math.sqrt(n)


# -- dynamic N-grams -------------------------------------------------------------------------------
def ngram_bits(ep) -> np.ndarray:
    """The episode's whole bit sequence: the first input, then every target."""
    return np.concatenate([ep["inputs"][:1, 0], ep["targets"][:, 0]]).astype(np.int64)


def bayes_cost(bits: list[int], order: int, prior: float = 0.5) -> float:
    """Bits the Bayes-optimal predictor pays for bits[1:], written independently of the kernel.

    Contexts are tuples of the previous order - 1 bits (no packing convention); the first
    order - 1 bits have no full context and cost 1 bit each (bit 0 is not predicted at all).
    """
    ones: dict[tuple, int] = {}
    seen: dict[tuple, int] = {}
    cost = 0.0
    for t in range(1, len(bits)):
        if t < order - 1:
            cost += 1.0
            continue
        context = tuple(bits[t - order + 1 : t])
        n1, n = ones.get(context, 0), seen.get(context, 0)
        p1 = (n1 + prior) / (n + 2 * prior)
        cost -= math.log2(p1 if bits[t] else 1.0 - p1)
        ones[context] = n1 + bits[t]
        seen[context] = n + 1
    return cost


def bayes_probabilities(bits: list[int], order: int, prior: float = 0.5) -> np.ndarray:
    """P(bit t + 1 = 1 | bits up to t) of the Bayes-optimal predictor, for t = 0 .. T - 2."""
    ones: dict[tuple, int] = {}
    seen: dict[tuple, int] = {}
    out = np.empty(len(bits) - 1)
    for t in range(1, len(bits)):
        if t < order - 1:
            out[t - 1] = 0.5
            continue
        context = tuple(bits[t - order + 1 : t])
        n1, n = ones.get(context, 0), seen.get(context, 0)
        out[t - 1] = (n1 + prior) / (n + 2 * prior)
        ones[context] = n1 + bits[t]
        seen[context] = n + 1
    return out


@PROPERTY
@given(
    seed=SEEDS,
    order=st.integers(2, 7),
    extra=st.integers(1, 120),
    prior=st.sampled_from([0.5, 0.5, 1.0, 0.05, 3.0]),
)
def test_dynamic_ngrams(seed, order, extra, prior):
    length = order + extra
    batch = memtasks.generate(
        "ntm/dynamic-ngrams-v1", 6, seed=seed, length=length, order=order, prior=prior
    )
    size = 2 ** (order - 1)
    assert_meta(batch, {"table": (np.float32, (size,)), "bayes_bits": (np.float64, ())})
    assert np.all((batch.meta["table"] >= 0) & (batch.meta["table"] <= 1))
    for ep, meta in episodes(batch):
        inputs, targets = ep["inputs"], ep["targets"]
        assert inputs.shape == targets.shape == (length - 1, 1)
        assert inputs.dtype == targets.dtype == np.uint8
        assert_bits(inputs)
        assert_bits(targets)
        # the target at every step is the next bit: targets are the inputs shifted by one
        np.testing.assert_array_equal(targets[:-1], inputs[1:])
        assert ep["mask"].all()
        np.testing.assert_array_equal(ep["role"], ROLE_ANSWER)
        np.testing.assert_array_equal(ep["segment"], -1)
        assert len(ep["support"]) == 0
        bits = ngram_bits(ep).tolist()
        expected = bayes_cost(bits, order, prior)
        assert float(meta["bayes_bits"]) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def arcsine_cdf(x: np.ndarray) -> np.ndarray:
    """CDF of Beta(1/2, 1/2)."""
    return 2 / math.pi * np.arcsin(np.sqrt(x))


def test_ngram_tables_are_beta_half_half():
    batch = memtasks.generate("ntm/dynamic-ngrams-v1", 400, seed=8, length=7)
    table = batch.meta["table"].astype(np.float64).reshape(-1)
    n = len(table)
    assert n == 400 * 32
    # moments of Beta(1/2, 1/2): mean 1/2 (sd of the mean 0.003), variance 1/8 (sd ~0.0008)
    assert abs(table.mean() - 0.5) < 5 * math.sqrt(1 / 8 / n)
    assert abs(table.var() - 1 / 8) < 5 * math.sqrt((1.5 / 64 - 1 / 64) / n)
    # Kolmogorov-Smirnov distance to the arcsine law; the 1e-3 critical value is 1.95 / sqrt(n)
    x = np.sort(table)
    cdf = arcsine_cdf(x)
    distance = max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max())
    assert distance < 1.95 / math.sqrt(n)
    # fresh for every episode: the tables of two episodes are unrelated
    correlation = np.corrcoef(batch.meta["table"][:-1].ravel(), batch.meta["table"][1:].ravel())
    assert abs(correlation[0, 1]) < 0.05


@pytest.mark.parametrize("prior", [0.1, 2.0, 10.0])
def test_ngram_table_follows_the_prior_knob(prior):
    batch = memtasks.generate("ntm/dynamic-ngrams-v1", 200, seed=4, length=7, prior=prior)
    table = batch.meta["table"].astype(np.float64).reshape(-1)
    variance = 1 / (4 * (2 * prior + 1))  # Beta(a, a)
    assert abs(table.mean() - 0.5) < 5 * math.sqrt(variance / len(table))
    assert table.var() == pytest.approx(variance, rel=0.1)


def test_ngram_bits_follow_their_table():
    order = 6
    batch = memtasks.generate("ntm/dynamic-ngrams-v1", 4, seed=12, length=20_000, order=order)
    checked = 0
    for ep, meta in episodes(batch):
        bits = ngram_bits(ep)
        table = meta["table"].astype(np.float64)
        # the table index of a context: the previous bits with the newest as the lowest bit
        context = np.zeros(len(bits), dtype=np.int64)
        for back in range(1, order):
            context[order - 1 :] |= bits[order - 1 - back : len(bits) - back] << (back - 1)
        ctx, nxt = context[order - 1 :], bits[order - 1 :]
        for c in range(2 ** (order - 1)):
            at = ctx == c
            n, ones = int(at.sum()), int(nxt[at].sum())
            if n < 50:
                continue
            p = table[c]
            assert abs(ones - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1, (c, n, ones, p)
            checked += 1
    assert checked > 4 * 16  # most contexts are seen often enough to be tested


def test_ngram_first_bits_are_fair_coins():
    order = 6
    batch = memtasks.generate("ntm/dynamic-ngrams-v1", 2000, seed=6, length=10, order=order)
    lengths = batch.lengths
    starts = batch.offsets[:-1]
    assert np.all(lengths == 9)
    first = np.stack([batch.inputs[starts + t, 0] for t in range(order - 1)], axis=1)
    means = first.mean(axis=0)
    assert np.all(np.abs(means - 0.5) < 5 * 0.5 / math.sqrt(2000)), means


def test_ngram_bayes_cost_of_the_first_bits_is_one_bit_each():
    # with length == order the only predicted bits after the uniform ones are one context bit
    batch = memtasks.generate("ntm/dynamic-ngrams-v1", 20, seed=0, length=7, order=6)
    for ep, meta in episodes(batch):
        bits = ngram_bits(ep).tolist()
        # bits 1..4 cost 1 each; bits 5 and 6 are predicted from unseen or once-seen contexts
        assert float(meta["bayes_bits"]) == pytest.approx(bayes_cost(bits, 6), rel=1e-12)
        assert float(meta["bayes_bits"]) >= 4 + 1  # an unseen context costs exactly 1 bit


def test_ngram_preset_and_metric():
    spec = memtasks.get_spec("ntm/dynamic-ngrams-v1")
    assert spec.metric == BitMetric(optimum="bayes_bits")
    long = memtasks.generate("ntm/dynamic-ngrams-v1", 3, seed=0, preset="extrapolate")
    assert np.all(long.lengths == 999)
    # the Bayes-optimal cost per bit falls as the sequence grows (the counts get informative)
    short = memtasks.generate("ntm/dynamic-ngrams-v1", 200, seed=0)
    longer = memtasks.generate("ntm/dynamic-ngrams-v1", 200, seed=0, length=1000)
    per_bit_short = short.meta["bayes_bits"].mean() / 199
    per_bit_long = longer.meta["bayes_bits"].mean() / 999
    assert per_bit_long < per_bit_short < 1


# -- every task ------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", memtasks.list_tasks("ntm"))
def test_layout_matches_the_batch(task):
    spec = memtasks.get_spec(task)
    knobs = spec.make_knobs()
    layout = spec.layout(knobs)
    batch = memtasks.generate(task, 3, seed=0)
    assert batch.task == task
    assert batch.inputs.dtype == np.dtype(layout.input_dtype)
    assert batch.targets.dtype == np.dtype(layout.target_dtype)
    assert batch.inputs.shape[1] == layout.input_width == len(layout.input_channels)
    assert batch.targets.shape[1] == layout.target_width == len(layout.target_channels)
    assert len(set(layout.input_channels)) == len(layout.input_channels)
    assert isinstance(spec.metric, BitMetric)
    assert "Graves" in spec.source
    # only answer rows are scored, and every episode has some
    assert np.all(batch.role[batch.mask] == ROLE_ANSWER)
    assert np.all(np.add.reduceat(batch.mask, batch.offsets[:-1]) > 0)
    np.testing.assert_array_equal(batch.index, np.arange(3))


# -- the padded generators (memtasks.torch.EpisodeStream's fast path) ------------------------
def _recall_knobs(width: int, length: int, d) -> dict:
    # items must be distinct: 2**(width * length) >= 2 * max_items (the task's own rule)
    most = min(8, 2 ** (width * length) // 2)
    return {"item_width": width, "item_length": length, "max_items": d.draw(st.integers(2, most))}


PADDED_KNOBS = {
    "ntm/copy-v1": lambda d: {
        "width": d.draw(st.sampled_from([1, 3, 7, 8, 9, 63, 64, 65, 100])),
        "max_length": d.draw(st.integers(1, 25)),
    },
    "ntm/repeat-copy-v1": lambda d: {
        "width": d.draw(st.integers(1, 12)),
        "max_length": d.draw(st.integers(1, 6)),
        "max_repeats": d.draw(st.integers(1, 6)),
    },
    "ntm/associative-recall-v1": lambda d: _recall_knobs(
        d.draw(st.integers(3, 8)), d.draw(st.integers(1, 3)), d
    ),
    "ntm/dynamic-ngrams-v1": lambda d: {"length": d.draw(st.integers(7, 40))},
    "ntm/priority-sort-v1": lambda d: {"num_items": d.draw(st.integers(2, 12)), "num_outputs": 2},
}


@pytest.mark.parametrize("task", memtasks.list_tasks("ntm"))
@settings(max_examples=12, deadline=None)
@given(data=st.data(), seed=SEEDS, start=st.integers(0, 10**12),
       batch_size=st.integers(1, 9), batches=st.integers(1, 4))  # fmt: skip
def test_the_padded_generator_makes_the_padded_view_of_the_generator(
    task, data, seed, start, batch_size, batches
):
    """Every NTM task writes its episodes straight into padded batches (its fill kernel given
    each episode's padded row); the batches equal the padded view of what it generates, cast
    as collate casts them, padding and meta included, whatever the widths and lengths (the copy
    task's bit rows: a byte per draw at width 8, several rows per draw below 64, several draws
    per row above)."""
    from memtasks import views

    spec = memtasks.get_spec(task)
    assert getattr(spec.generator, "padded", None) is not None
    knobs = spec.make_knobs(**PADDED_KNOBS[task](data))
    key = spec.key(knobs, seed, "train")
    n = batch_size * batches - data.draw(st.integers(0, batch_size - 1))  # a short last batch
    chunk = views.padded_batches(spec, knobs, key, start, n, batch_size)
    whole = spec.generate(n, seed, start=start, knobs=knobs)
    assert len(chunk) == batches
    for g in range(batches):
        part = whole[g * batch_size : (g + 1) * batch_size]
        expected = views.padded(part, dtypes={"inputs": np.float32, "targets": np.float32,
                                              "segment": np.int64})  # fmt: skip
        got = chunk.arrays(g)
        assert got.keys() == expected.keys()
        for name, values in expected.items():
            assert got[name].dtype == values.dtype and got[name].shape == values.shape, name
            np.testing.assert_array_equal(got[name], values, err_msg=name)
        meta = chunk.meta_of(g)
        assert meta.keys() == part.meta.keys()
        for name, values in part.meta.items():
            np.testing.assert_array_equal(meta[name], values, err_msg=name)
