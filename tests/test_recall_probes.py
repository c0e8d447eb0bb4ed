"""What the recall probes' episodes mean (generators/recall/probes.py): each answer is rebuilt
from the episode's inputs alone, by the sources' rules (zoology's MQAR, the S4 / Mamba
selective copying, safari's induction heads, MAD's noisy and fuzzy recall), for random knobs
and seeds; the draws have the sources' laws (distinct keys, value ranges, zoology's power-law
query slots, tested exactly on small cases); every bad knob is refused in one line; and
``from_zoology`` / ``to_zoology`` map zoology's configs and tensors one to one."""

from __future__ import annotations

import itertools
import types
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.errors import KnobError
from memtasks.generators.recall.probes import from_zoology, to_zoology
from memtasks.metrics import TokenAccuracy

SEEDS = st.integers(0, 2**32)
CONTEXT, QUERY, ANSWER = 0, 1, 2


def episodes(batch):
    """(inputs, targets, mask, role, segment) of each episode."""
    for i in range(len(batch)):
        r = slice(batch.offsets[i], batch.offsets[i + 1])
        yield i, batch.inputs[r], batch.targets[r], batch.mask[r], batch.role[r], batch.segment[r]


def chi_square(counts: np.ndarray, probs: np.ndarray) -> tuple[float, int]:
    """Pearson's statistic of ``counts`` against ``probs`` and its degrees of freedom."""
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum()), len(counts) - 1


def assert_fits(counts, probs):
    # a chi-square with d degrees of freedom has mean d and variance 2d: 6 standard deviations
    # above the mean is a p-value far below 1e-6, so a fixed seed that passes stays passing,
    # while a wrong law (uniform slots, slots without successive sampling) fails by far
    stat, df = chi_square(np.asarray(counts, float), np.asarray(probs, float))
    assert stat < df + 6 * np.sqrt(2 * df), (stat, df)


# ---------------------------------------------------------------------------------------------
# MQAR
# ---------------------------------------------------------------------------------------------
@st.composite
def mqar_knobs(draw):
    pairs = draw(st.integers(1, 12))
    passes = draw(st.integers(1, 3))
    extra = draw(st.integers(0, 40))
    length = 2 * pairs * passes + 2 * pairs + 2 * extra
    vocab = draw(st.sampled_from([length + 1, length + 2, 2 * length + 1, 300, 8192]))
    vocab = max(vocab, length + 1)
    return {
        "vocab_size": vocab,
        "input_seq_len": length,
        "num_kv_pairs": pairs,
        "num_passes": passes,
        "power_a": draw(st.sampled_from([0.01, 0.5, 1.0, 2.0])),
        "random_non_queries": draw(st.booleans()),
    }


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, knobs=mqar_knobs())
def test_mqar_answers_are_the_values_paired_with_the_queried_keys(seed, knobs):
    v, length, n = knobs["vocab_size"], knobs["input_seq_len"], knobs["num_kv_pairs"]
    c = 2 * n * knobs["num_passes"]
    batch = memtasks.generate("recall/mqar-v1", 6, seed=seed, **knobs)
    batch.check()
    for i, x, y, m, role, seg in episodes(batch):
        assert len(x) == length
        keys, values = x[0 : 2 * n : 2], x[1 : 2 * n : 2]
        # keys distinct in 1 .. V/2 - 1, values distinct in V/2 .. V - 1 (zoology's ranges)
        assert len(set(keys)) == n and len(set(values)) == n
        assert keys.min() >= 1 and keys.max() < v // 2
        assert values.min() >= v // 2 and values.max() < v
        # the pairs, num_passes times, as context
        np.testing.assert_array_equal(x[:c], np.tile(x[: 2 * n], knobs["num_passes"]))
        assert (role[:c] == CONTEXT).all() and not m[:c].any()
        np.testing.assert_array_equal(seg[:c], np.arange(c) // 2)
        value_of = dict(zip(keys.tolist(), values.tolist(), strict=True))
        # every key queried once, on an even offset of the query region, answered there
        scored = np.flatnonzero(m)
        assert len(scored) == n and ((scored - c) % 2 == 0).all() and (scored >= c).all()
        assert sorted(x[scored].tolist()) == sorted(keys.tolist())
        assert [value_of[k] for k in x[scored].tolist()] == y[scored].tolist()
        assert (role[scored] == ANSWER).all()
        # the j-th pair's key is asked at slot gaps[j] (zoology's gap j pairs with key j)
        np.testing.assert_array_equal(x[c + 2 * batch.meta["gaps"][i]], keys)
        rest = np.setdiff1d(np.arange(c, length), scored)
        assert (role[rest] == QUERY).all() and (seg[c:] == -1).all() and (y[~m] == 0).all()
        if knobs["random_non_queries"]:
            assert (x[rest] >= 1).all() and (x[rest] <= v).all()  # 0 .. V-1, 0 as our V
        else:
            assert (x[rest] == v).all()  # zoology's filler 0


def test_mqar_one_query_slot_has_zoologys_power_law():
    """One pair: its query slot is drawn with probability a (i + 1)^(a - 1), normalised."""
    slots, a, n = 12, 0.3, 20_000
    batch = memtasks.generate(
        "recall/mqar-v1", n, seed=7, vocab_size=64, input_seq_len=2 * 1 + 2 * slots,
        num_kv_pairs=1, power_a=a, random_non_queries=False,
    )  # fmt: skip
    p = np.arange(1, slots + 1) ** (a - 1.0)
    assert_fits(np.bincount(batch.meta["gaps"][:, 0], minlength=slots), p / p.sum())


@pytest.mark.parametrize("slots, pairs, a", [(4, 2, 0.01), (5, 4, 2.0)])
def test_mqar_query_slots_are_successive_draws_without_replacement(slots, pairs, a):
    """The ordered slots (g0, g1, ...) have probability p(g0) p(g1) / (1 - p(g0)) ..., the
    law of NumPy's choice(replace=False, p=p) that zoology calls (and not, say, uniform slots
    or a sorted draw). (5, 4, 2.0) takes more than 3/4 of the mass, so the last draws come
    from the tree rather than the alias table: both paths are checked."""
    n = 40_000
    batch = memtasks.generate(
        "recall/mqar-v1", n, seed=11, vocab_size=64, input_seq_len=2 * pairs + 2 * slots,
        num_kv_pairs=pairs, power_a=a, random_non_queries=False,
    )  # fmt: skip
    p = np.arange(1, slots + 1) ** (a - 1.0)
    p /= p.sum()
    cells = list(itertools.permutations(range(slots), pairs))
    want = []
    for cell in cells:
        prob, left = 1.0, 1.0
        for g in cell:
            prob *= p[g] / left
            left -= p[g]
        want.append(prob)
    index = {cell: k for k, cell in enumerate(cells)}
    got = np.bincount([index[tuple(row)] for row in batch.meta["gaps"].tolist()],
                      minlength=len(cells))  # fmt: skip
    assert_fits(got, np.array(want))


def test_mqar_every_slot_taken_and_many_pairs():
    """Every query slot taken (L = 4 n, one pass) and more pairs than the compare-only path:
    the tree sampler and the flag / shuffle paths of the distinct draws."""
    batch = memtasks.generate(
        "recall/mqar-v1", 20, seed=3, vocab_size=600, input_seq_len=400, num_kv_pairs=100,
        power_a=0.01, random_non_queries=False,
    )  # fmt: skip
    for _, x, _, m, _, _ in episodes(batch):
        assert m[200:].tolist() == [True, False] * 100
        assert len(set(x[0:200:2])) == 100 and len(set(x[1:200:2])) == 100
    # 10 keys of the 19 in 1 .. 19: more than half the range, the partial shuffle; every
    # key is as likely (2,000 episodes, 20,000 keys)
    batch = memtasks.generate("recall/mqar-v1", 2000, seed=3, vocab_size=41, input_seq_len=40,
                              num_kv_pairs=10)  # fmt: skip
    keys = batch.inputs.reshape(2000, 40)[:, 0:20:2]
    assert (np.sort(keys, axis=1)[:, 1:] != np.sort(keys, axis=1)[:, :-1]).all()
    assert keys.min() == 1 and keys.max() == 19
    assert_fits(np.bincount(keys.ravel(), minlength=20)[1:], np.full(19, 1 / 19))


def test_mqar_random_fillers_cover_the_vocabulary():
    batch = memtasks.generate("recall/mqar-v1", 400, seed=5, vocab_size=40, input_seq_len=32,
                              num_kv_pairs=2)  # fmt: skip
    fillers = batch.inputs[batch.role == QUERY]
    counts = np.bincount(fillers, minlength=41)[1:]  # ids 1 .. 40 (40: zoology's 0)
    assert_fits(counts, np.full(40, 1 / 40))


def test_from_zoology_maps_each_argument_to_the_knob_of_its_name():
    config = {
        "vocab_size": 8192,
        "input_seq_len": 256,
        "num_kv_pairs": 16,
        "power_a": 0.01,
        "random_non_queries": False,
        "num_examples": 100_000,
        "name": "multiquery_ar",
    }
    knobs = from_zoology(config)
    spec = memtasks.get_spec("recall/mqar-v1")
    assert knobs == spec.make_knobs("paper")
    # an object with zoology's fields (a pydantic MQARConfig has model_dump; this one has not)
    obj = types.SimpleNamespace(vocab_size=128, input_seq_len=64, num_kv_pairs=4, power_a=0.5,
                                random_non_queries=True, num_examples=10)  # fmt: skip
    assert from_zoology(obj) == spec.make_knobs(
        vocab_size=128, input_seq_len=64, num_kv_pairs=4, power_a=0.5
    )
    dumped = types.SimpleNamespace(model_dump=lambda: {"input_seq_len": 128, "num_kv_pairs": 8})
    assert from_zoology(dumped) == spec.make_knobs(input_seq_len=128, num_kv_pairs=8)
    assert from_zoology({}) == spec.make_knobs()  # zoology's defaults are ours
    assert from_zoology({"num_passes": 2, "input_seq_len": 64, "num_kv_pairs": 4}).num_passes == 2


def test_from_zoology_drops_what_zoology_ignores_and_refuses_other_generators():
    with pytest.warns(UserWarning, match="train_power_a"):
        knobs = from_zoology({"train_power_a": 0.5, "test_power_a": 0.5, "input_seq_len": 128})
    assert knobs.power_a == 0.01  # zoology's figure 2 configs pass these; none reaches it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_zoology({"seed": 3, "include_slices": True, "num_examples": 5})  # bookkeeping
    with pytest.raises(KnobError, match="compositional"):
        from_zoology({"name": "compositional_mqar"})
    with pytest.raises(KnobError, match="must be even"):
        from_zoology({"input_seq_len": 63})


def test_to_zoology_gives_back_zoologys_tensors():
    v = 300
    batch = memtasks.generate("recall/mqar-v1", 5, seed=1, vocab_size=v, input_seq_len=64,
                              num_kv_pairs=4, random_non_queries=False)  # fmt: skip
    inputs, labels = to_zoology(batch, v)
    assert inputs.shape == labels.shape == (5, 64) and inputs.dtype == np.int64
    assert (inputs[:, 8:][labels[:, 8:] == -100] == 0).all()  # zoology's filler
    assert ((labels == -100) == ~batch.mask.reshape(5, 64)).all()
    np.testing.assert_array_equal(labels[labels != -100], batch.targets[batch.mask])
    assert inputs.min() == 0 and inputs.max() < v


# ---------------------------------------------------------------------------------------------
# Selective copying
# ---------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    vocab=st.integers(3, 40),
    count=st.integers(1, 20),
    noise=st.integers(0, 200),
)
def test_selective_copy_answers_are_the_data_tokens_in_order(seed, vocab, count, noise):
    length = 2 * count + noise
    batch = memtasks.generate("recall/selective-copy-v1", 5, seed=seed, vocab_size=vocab,
                              seq_len=length, num_tokens_to_copy=count)  # fmt: skip
    batch.check()
    region = length - count
    for i, x, y, m, role, seg in episodes(batch):
        data = np.flatnonzero(x[:region] != vocab)  # our id A is the S4 generator's noise 0
        assert len(data) == count
        assert (x[data] >= 1).all() and (x[data] <= vocab - 2).all()
        assert (x[region:] == vocab - 1).all()  # the markers
        np.testing.assert_array_equal(y[region:], x[data])
        assert m.tolist() == [False] * region + [True] * count
        assert (role[:region] == CONTEXT).all() and (role[region:] == ANSWER).all()
        np.testing.assert_array_equal(seg[data], np.arange(count))
        assert batch.meta["first"][i] == data[0] and batch.meta["last"][i] == data[-1]


def test_selective_copy_positions_are_a_uniform_subset():
    """Every position of the data region holds a token with probability M / R, whichever
    branch draws them (rejection for sparse tokens, selection sampling for dense ones)."""
    for region, count in ((40, 4), (40, 30)):
        batch = memtasks.generate("recall/selective-copy-v1", 4000, seed=2, vocab_size=10,
                                  seq_len=region + count, num_tokens_to_copy=count)  # fmt: skip
        x = batch.inputs.reshape(4000, -1)[:, :region]
        hits = (x != 10).sum(axis=0)
        # (each episode adds M distinct positions: less spread than a multinomial, so the
        # chi-square bound is conservative)
        assert_fits(hits, np.full(region, 1 / region))


# ---------------------------------------------------------------------------------------------
# Induction heads
# ---------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    seed=SEEDS,
    vocab=st.integers(3, 30),
    span=st.integers(1, 4),
    length=st.integers(0, 200),
    triggers=st.integers(1, 6),
)
def test_induction_answers_follow_the_earlier_trigger(seed, vocab, span, length, triggers):
    length += span + 2
    triggers = min(triggers, length)
    batch = memtasks.generate("recall/induction-heads-v1", 6, seed=seed, vocab_size=vocab,
                              seq_len=length, induction_len=span,
                              num_triggers=triggers)  # fmt: skip
    batch.check()
    for i, x, y, m, role, _ in episodes(batch):
        assert len(x) == length + span
        body = x[:length]
        at = np.flatnonzero(body == 1)  # the trigger
        assert 1 <= len(at) <= triggers and batch.meta["triggers"][i] == len(at)
        assert at[0] == batch.meta["trigger"][i] and at[-1] < length - 1 - span
        assert (np.diff(at) > span).all()
        copied = body[at[0] + 1 : at[0] + 1 + span]
        assert (copied >= 2).all() and (body[body != 1] >= 2).all() and (body < vocab).all()
        for p in at:  # every trigger is followed by the same tokens
            np.testing.assert_array_equal(body[p + 1 : p + 1 + span], copied)
        # the final trigger, then the recalled tokens read one by one (teacher forcing)
        assert x[length] == 1
        np.testing.assert_array_equal(x[length + 1 :], copied[:-1])
        np.testing.assert_array_equal(y[length:], copied)
        assert m.tolist() == [False] * length + [True] * span
        assert (role[length:] == ANSWER).all() and (role[:length] == CONTEXT).all()


def test_induction_has_one_trigger_in_half_the_episodes_or_more():
    batch = memtasks.generate("recall/induction-heads-v1", 4000, seed=1, seq_len=256,
                              num_triggers=4)  # fmt: skip
    single = float((batch.meta["triggers"] == 1).mean())
    # safari: one trigger with probability 1/2, else 4 (of which the filter keeps fewer only
    # when two land within induction_len: rarely at length 256); 4,000 episodes: sd 0.008
    assert abs(single - 0.5) < 0.03


# ---------------------------------------------------------------------------------------------
# MAD's noisy and fuzzy recall
# ---------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    seed=SEEDS,
    plain=st.integers(2, 40),
    noise=st.integers(0, 20),
    slots=st.integers(2, 80),
    frac=st.sampled_from([0.0, 0.2, 0.5, 0.9]),
)
def test_noisy_recall_answers_are_the_values_of_keys_seen_before(seed, plain, noise, slots, frac):
    if noise == 0:
        frac = 0.0
    vocab = plain + noise
    batch = memtasks.generate("recall/noisy-recall-v1", 6, seed=seed, vocab_size=vocab,
                              seq_len=2 * slots, noise_vocab_size=noise,
                              frac_noise=frac)  # fmt: skip
    batch.check()
    keys = plain // 2
    mad = np.where(batch.inputs == vocab, 0, batch.inputs)  # MAD's ids
    for i, _, y, m, role, seg in episodes(batch):
        x = mad[batch.offsets[i] : batch.offsets[i + 1]]
        assert len(x) == 2 * slots - 1
        value_of, want, noisy = {}, np.zeros(len(x), np.int64), 0
        for s in range(slots - 1):
            k, v = x[2 * s], x[2 * s + 1]
            if k >= plain:  # two noise tokens
                assert plain <= v < vocab and k < vocab
                noisy += 1
                continue
            assert k < keys and keys <= v < plain
            if k in value_of:
                assert value_of[k] == v  # a key keeps its value
                want[2 * s] = v
            value_of[k] = v
        k = x[-1]  # the final query: a key seen before
        assert k in value_of
        want[-1] = value_of[k]
        np.testing.assert_array_equal(np.where(m, y, 0), want)
        assert (m == (want > 0)).all() and (role[m] == ANSWER).all() and (seg[m] == -1).all()
        assert (role[~m] == CONTEXT).all()
        assert batch.meta["noise_slots"][i] == noisy and batch.meta["queries"][i] == m.sum()
        assert noisy < slots - 1  # one slot is a pair for sure


def test_noisy_recall_noise_fraction_is_frac_noise():
    batch = memtasks.generate("recall/noisy-recall-v1", 2000, seed=4, frac_noise=0.6)
    # slots 0 .. 62, one of them a pair for sure: the others noise with probability 0.6
    share = batch.meta["noise_slots"].sum() / (2000 * 62)
    assert abs(share - 0.6) < 0.01


def runs(x, kind):
    """Maximal runs of equal ``kind`` as (kind, start, stop)."""
    edges = np.flatnonzero(np.diff(kind)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(x)]])
    return [(int(kind[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


@settings(max_examples=40, deadline=None)
@given(
    seed=SEEDS,
    vocab=st.integers(5, 40),
    kmax=st.integers(1, 4),
    vmax=st.integers(1, 4),
    extra=st.integers(0, 120),
    noise=st.integers(0, 6),
    frac=st.sampled_from([0.0, 0.3]),
    fixed=st.booleans(),
)
def test_fuzzy_recall_answers_are_the_values_of_keys_seen_before(
    seed, vocab, kmax, vmax, extra, noise, frac, fixed
):
    vocab = max(vocab, 1 + noise + 2 * max(kmax, vmax))  # room for a key and a value
    plain = vocab - 1 - noise
    if noise == 0:
        frac = 0.0
    length = 2 * (kmax + vmax) + 2 + extra
    batch = memtasks.generate("recall/fuzzy-recall-v1", 6, seed=seed, vocab_size=vocab,
                              seq_len=length, k_motif_size=kmax, v_motif_size=vmax,
                              noise_vocab_size=noise, frac_noise=frac,
                              max_size_keys=fixed)  # fmt: skip
    batch.check()
    keys = plain // 2
    mad = np.where(batch.inputs == vocab, 0, batch.inputs)  # MAD's ids
    for i, _, y, m, role, _ in episodes(batch):
        x = mad[batch.offsets[i] : batch.offsets[i + 1]]
        assert len(x) == length
        pad = batch.meta["pad"][i]
        assert pad >= 1 and (x[:pad] == vocab - 1).all() and x[pad] != vocab - 1
        # key tokens, value tokens and noise tokens are disjoint: a pair is a run of key
        # tokens then a run of value tokens
        kind = np.select([x < keys, x < plain, x < vocab - 1], [0, 1, 2], 3)
        parts = [r for r in runs(x, kind) if r[0] != 3]
        value_of, want = {}, np.zeros(len(x), np.int64)
        pairs = 0
        for (k0, a, b), nxt in zip(parts, parts[1:] + [(1, length, length + 1)], strict=True):
            if k0 != 0:
                continue
            assert nxt[0] == 1  # every key is followed by its value
            key = tuple(x[a:b])
            assert len(set(key)) == len(key) <= kmax and (not fixed or len(key) == kmax)
            value = tuple(x[nxt[1] : nxt[2]])
            final = nxt[2] >= length  # the last value lost its last token to MAD's shift
            if key in value_of:
                if final:
                    value = value_of[key]
                assert value_of[key] == value
                want[b - 1 : b - 1 + len(value)] = value
            else:
                assert not final, "the final query's key was never shown"
                value_of[key] = value
            assert len(set(value)) == len(value) <= vmax
            pairs += 1
        assert batch.meta["pairs"][i] == pairs
        np.testing.assert_array_equal(np.where(m, y, 0), want)
        scored = want > 0
        # MAD's value ids start at `keys` >= 1, so a scored target is never 0
        assert (m == scored).all() and (role[m] == ANSWER).all() and (role[~m] != ANSWER).all()


def test_fuzzy_recall_key_sizes_are_uniform():
    batch = memtasks.generate("recall/fuzzy-recall-v1", 500, seed=9)
    keys = 7  # (16 - 1) // 2
    x = np.where(batch.inputs == 16, 0, batch.inputs)
    sizes = np.zeros(4, np.int64)
    for i in range(len(batch)):
        e = x[batch.offsets[i] : batch.offsets[i + 1]]
        kind = np.select([e < keys, e < 15], [0, 1], 3)
        for k0, a, b in runs(e, kind):
            if k0 == 0:
                sizes[b - a] += 1
    assert_fits(sizes[1:], np.full(3, 1 / 3))


# ---------------------------------------------------------------------------------------------
# Knobs, presets and the metric
# ---------------------------------------------------------------------------------------------
BAD = [
    ("recall/mqar-v1", {"input_seq_len": 63}, "input_seq_len must be even"),
    ("recall/mqar-v1", {"vocab_size": 64}, "vocab_size must be > input_seq_len"),
    ("recall/mqar-v1", {"num_kv_pairs": 17}, "num_kv_pairs * 2 * num_passes"),
    ("recall/mqar-v1", {"num_passes": 4}, "num_kv_pairs * 2 * num_passes"),
    ("recall/mqar-v1", {"power_a": 0.0}, "'power_a' must be a number in [1e-06, 2]"),
    ("recall/mqar-v1", {"power_a": 3.0}, "'power_a'"),
    ("recall/mqar-v1", {"vocab_size": 4}, "'vocab_size' must be an integer in [5,"),
    ("recall/mqar-v1", {"input_seq_len": 2}, "'input_seq_len'"),
    ("recall/mqar-v1", {"num_kv_pairs": 0}, "'num_kv_pairs'"),
    ("recall/mqar-v1", {"num_passes": 0}, "'num_passes'"),
    ("recall/mqar-v1", {"random_non_queries": 1}, "'random_non_queries' must be true or false"),
    ("recall/selective-copy-v1", {"vocab_size": 2}, "'vocab_size'"),
    (
        "recall/selective-copy-v1",
        {"seq_len": 31, "num_tokens_to_copy": 16},
        "seq_len must be >= 2 * num_tokens_to_copy",
    ),
    ("recall/selective-copy-v1", {"num_tokens_to_copy": 0}, "'num_tokens_to_copy'"),
    ("recall/selective-copy-v1", {"seq_len": 1}, "'seq_len'"),
    ("recall/induction-heads-v1", {"vocab_size": 2}, "'vocab_size'"),
    (
        "recall/induction-heads-v1",
        {"seq_len": 4, "induction_len": 3},
        "seq_len must be >= induction_len + 2",
    ),
    (
        "recall/induction-heads-v1",
        {"seq_len": 8, "num_triggers": 9},
        "num_triggers must be <= seq_len",
    ),
    ("recall/induction-heads-v1", {"induction_len": 0}, "'induction_len'"),
    ("recall/induction-heads-v1", {"num_triggers": 0}, "'num_triggers'"),
    ("recall/noisy-recall-v1", {"seq_len": 127}, "seq_len must be an even number"),
    ("recall/noisy-recall-v1", {"vocab_size": 17}, "vocab_size - noise_vocab_size must be >= 2"),
    ("recall/noisy-recall-v1", {"frac_noise": 1.0}, "frac_noise must be < 1"),
    ("recall/noisy-recall-v1", {"frac_noise": -0.1}, "'frac_noise'"),
    (
        "recall/noisy-recall-v1",
        {"noise_vocab_size": 0},
        "noise_vocab_size must be > 0 when frac_noise > 0",
    ),
    ("recall/noisy-recall-v1", {"noise_vocab_size": -1}, "'noise_vocab_size'"),
    ("recall/fuzzy-recall-v1", {"k_motif_size": 0}, "'k_motif_size'"),
    ("recall/fuzzy-recall-v1", {"vocab_size": 8, "k_motif_size": 4}, "must be >= k_motif_size"),
    ("recall/fuzzy-recall-v1", {"vocab_size": 8, "v_motif_size": 5}, "must be >= v_motif_size"),
    ("recall/fuzzy-recall-v1", {"v_motif_size": 7}, "'v_motif_size'"),
    ("recall/fuzzy-recall-v1", {"seq_len": 13}, "seq_len must be >= 2 * (k_motif_size"),
    ("recall/fuzzy-recall-v1", {"vocab_size": 2000}, "'vocab_size'"),
    ("recall/fuzzy-recall-v1", {"frac_noise": 0.5}, "noise_vocab_size must be > 0"),
    ("recall/fuzzy-recall-v1", {"frac_noise": 1.0, "noise_vocab_size": 2}, "frac_noise must be"),
    ("recall/fuzzy-recall-v1", {"noise_vocab_size": 10}, "must be >= k_motif_size"),
    ("recall/fuzzy-recall-v1", {"max_size_keys": "yes"}, "'max_size_keys'"),
]


@pytest.mark.parametrize("task, knobs, message", BAD)
def test_bad_knobs_are_refused_in_one_line(task, knobs, message):
    with pytest.raises(KnobError) as info:
        memtasks.generate(task, 1, **knobs)
    text = str(info.value)
    assert message in text and "\n" not in text and task in text


def test_every_knob_has_a_bad_value_test():
    named = {(task, k) for task, knobs, _ in BAD for k in knobs}
    for task in {t for t, _, _ in BAD}:
        for name in memtasks.get_spec(task).knobs.infos():
            assert (task, name) in named, f"{task}: no bad-value test for {name}"


@pytest.mark.parametrize(
    "task",
    ["recall/mqar-v1", "recall/selective-copy-v1", "recall/induction-heads-v1",
     "recall/noisy-recall-v1", "recall/fuzzy-recall-v1"],
)  # fmt: skip
def test_presets_generate_and_perfect_predictions_score_one(task):
    spec = memtasks.get_spec(task)
    for preset in spec.presets:
        knobs = spec.make_knobs(preset)
        n = 1 if max(getattr(knobs, "seq_len", 0), getattr(knobs, "input_seq_len", 0)) > 5000 else 3
        batch = spec.generate(n, seed=0, knobs=knobs)
        layout = spec.layout(knobs)
        assert batch.inputs.min() > 0 and batch.inputs.max() < len(layout.vocab)
        score = TokenAccuracy().evaluate(batch, batch.targets)
        assert score["token_accuracy"] == 1.0 and score["sequence_accuracy"] == 1.0
        wrong = spec.metric.evaluate(batch, np.where(batch.mask, 0, batch.targets))
        assert wrong["token_accuracy"] == 0.0


def test_zoology_presets_are_its_published_configurations():
    spec = memtasks.get_spec("recall/mqar-v1")
    zoology = [(64, 4), (128, 8), (256, 16)]
    for length, pairs in zoology:
        k = spec.make_knobs(f"zoology-{length}")
        assert (k.vocab_size, k.input_seq_len, k.num_kv_pairs, k.random_non_queries) == (
            8192, length, pairs, False)  # fmt: skip
    assert spec.make_knobs("paper") == spec.make_knobs("zoology-256")
    based = spec.make_knobs("extrapolate")
    assert (based.input_seq_len, based.num_kv_pairs, based.random_non_queries) == (1024, 256, True)
