"""BitMetric: bits per sequence, bit errors per sequence, sequence accuracy, excess over the
Bayes optimum (dynamic N-grams). Predictions are probabilities aligned with ``batch.targets``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.metrics import BitMetric

NTM_TASKS = memtasks.list_tasks("ntm")
METRIC = BitMetric()


def scored_bits(batch) -> np.ndarray:
    """Target bits scored in each episode: masked rows times the target width."""
    per_row = batch.mask.astype(np.int64) * batch.targets.shape[1]
    return np.add.reduceat(per_row, batch.offsets[:-1]) if len(batch) else per_row[:0]


def with_garbage_outside_the_mask(batch, probs: np.ndarray, seed: int) -> np.ndarray:
    """``probs`` with unmasked rows replaced by random values, NaN and infinities."""
    rng = np.random.default_rng(seed)
    out = probs.copy()
    garbage = rng.choice([0.0, 1.0, 0.3, np.nan, np.inf, -np.inf, 7.0], size=out.shape)
    out[~batch.mask] = garbage[~batch.mask]
    return out


@pytest.mark.parametrize("task", NTM_TASKS)
def test_perfect_predictions(task):
    batch = memtasks.generate(task, 20, seed=1)
    probs = batch.targets.astype(np.float64)
    result = METRIC.evaluate(batch, probs)
    assert result["bit_errors_per_sequence"] == 0
    assert result["sequence_accuracy"] == 1
    assert 0 <= result["bits_per_sequence"] < 1e-9  # only the clipping epsilon is paid
    per = METRIC.per_episode(batch, probs)
    assert set(per) == {"bits_per_sequence", "bit_errors_per_sequence"}
    assert per["bits_per_sequence"].shape == (20,)


@pytest.mark.parametrize("task", NTM_TASKS)
def test_half_everywhere_costs_one_bit_per_scored_bit(task):
    batch = memtasks.generate(task, 20, seed=2)
    per = METRIC.per_episode(batch, np.full(batch.targets.shape, 0.5))
    np.testing.assert_allclose(per["bits_per_sequence"], scored_bits(batch), rtol=1e-12)
    result = METRIC.evaluate(batch, np.full(batch.targets.shape, 0.5))
    assert result["bits_per_sequence"] == pytest.approx(scored_bits(batch).mean(), rel=1e-12)


@pytest.mark.parametrize("task", NTM_TASKS)
def test_inverted_predictions(task):
    batch = memtasks.generate(task, 20, seed=3)
    probs = 1.0 - batch.targets.astype(np.float64)
    per = METRIC.per_episode(batch, probs)
    bits = scored_bits(batch)
    np.testing.assert_array_equal(per["bit_errors_per_sequence"], bits)
    # every wrong bit is as confident as the clipping to [1e-15, 1 - 1e-15] allows: ~49.83 bits
    # (a 1 predicted as 0 and a 0 predicted as 1 differ in the last digits: 1 - (1 - 1e-15)
    # is not exactly 1e-15 in floating point)
    costs = (-math.log2(1e-15), -math.log2(1 - (1 - 1e-15)))
    per_bit = per["bits_per_sequence"] / bits
    assert np.all(per_bit >= min(costs) - 1e-9) and np.all(per_bit <= max(costs) + 1e-9)
    assert METRIC.evaluate(batch, probs)["sequence_accuracy"] == 0


@settings(max_examples=25, deadline=None)
@given(task=st.sampled_from(NTM_TASKS), seed=st.integers(0, 2**32))
def test_only_masked_positions_count(task, seed):
    batch = memtasks.generate(task, 6, seed=seed)
    rng = np.random.default_rng(seed)
    probs = rng.random(batch.targets.shape)
    clean = METRIC.per_episode(batch, probs)
    dirty = METRIC.per_episode(batch, with_garbage_outside_the_mask(batch, probs, seed))
    for name in clean:
        np.testing.assert_array_equal(clean[name], dirty[name], err_msg=name)
    # and the per-episode sums are exactly the sums over each episode's masked rows
    t = batch.targets.astype(np.float64)
    for i in range(len(batch)):
        lo, hi = batch.offsets[i], batch.offsets[i + 1]
        rows = np.flatnonzero(batch.mask[lo:hi]) + lo
        p, y = probs[rows], t[rows]
        bits = -(y * np.log2(p) + (1 - y) * np.log2(1 - p)).sum()
        errors = ((p >= 0.5) != (y > 0)).sum()
        assert clean["bits_per_sequence"][i] == pytest.approx(bits, rel=1e-9)
        assert clean["bit_errors_per_sequence"][i] == errors


def test_sequence_accuracy_counts_episodes_without_a_wrong_bit():
    batch = memtasks.generate("ntm/copy-v1", 10, seed=4)
    probs = batch.targets.astype(np.float64)
    # one wrong bit in episodes 2 and 7 (on a scored row), and a harmless near miss in 5
    for episode, flip in ((2, True), (7, True), (5, False)):
        row = batch.offsets[episode] + int(np.flatnonzero(batch.episode(episode)["mask"])[0])
        probs[row, 0] = (1 - probs[row, 0]) if flip else abs(probs[row, 0] - 0.4)
    per = METRIC.per_episode(batch, probs)
    np.testing.assert_array_equal(np.flatnonzero(per["bit_errors_per_sequence"]), [2, 7])
    assert METRIC.evaluate(batch, probs)["sequence_accuracy"] == pytest.approx(0.8)


def test_threshold_at_one_half_counts_as_one():
    batch = memtasks.generate("ntm/copy-v1", 3, seed=0)
    probs = np.where(batch.targets > 0, 0.5, 0.0)
    assert METRIC.evaluate(batch, probs)["bit_errors_per_sequence"] == 0


def ngram_bayes_probabilities(batch, order: int) -> np.ndarray:
    """The Bayes-optimal P(next bit = 1) at every position, computed here from the bits."""
    out = np.empty(batch.targets.shape, dtype=np.float64)
    for i in range(len(batch)):
        ep = batch.episode(i)
        bits = [int(ep["inputs"][0, 0]), *ep["targets"][:, 0].tolist()]
        ones: dict[tuple, int] = {}
        seen: dict[tuple, int] = {}
        lo = batch.offsets[i]
        for t in range(1, len(bits)):
            if t < order - 1:
                p = 0.5
            else:
                context = tuple(bits[t - order + 1 : t])
                n1, n = ones.get(context, 0), seen.get(context, 0)
                p = (n1 + 0.5) / (n + 1)
                ones[context] = n1 + bits[t]
                seen[context] = n + 1
            out[lo + t - 1, 0] = p
    return out


@pytest.mark.parametrize("order", [2, 6])
def test_ngram_excess_is_zero_for_the_bayes_optimal_predictor(order):
    batch = memtasks.generate("ntm/dynamic-ngrams-v1", 12, seed=5, order=order)
    metric = memtasks.get_spec("ntm/dynamic-ngrams-v1").metric
    probs = ngram_bayes_probabilities(batch, order)
    per = metric.per_episode(batch, probs)
    np.testing.assert_allclose(per["excess_bits_per_sequence"], 0, atol=1e-8)
    np.testing.assert_array_equal(per["optimal_bits_per_sequence"], batch.meta["bayes_bits"])
    result = metric.evaluate(batch, probs)
    assert result["excess_bits_per_sequence"] == pytest.approx(0, abs=1e-8)
    assert result["optimal_bits_per_sequence"] == pytest.approx(batch.meta["bayes_bits"].mean())
    # a worse predictor has positive excess: one bit per bit is far above the optimum
    half = metric.evaluate(batch, np.full(batch.targets.shape, 0.5))
    assert half["excess_bits_per_sequence"] > 5
    assert result["bits_per_sequence"] < half["bits_per_sequence"]


def test_shape_mismatch_is_an_error():
    batch = memtasks.generate("ntm/copy-v1", 3, seed=0)
    with pytest.raises(ValueError, match=r"predictions have shape \(\d+, 7\); targets have"):
        METRIC.per_episode(batch, np.zeros((batch.num_positions, 7)))
    with pytest.raises(ValueError, match="predictions have shape"):
        METRIC.evaluate(batch, np.zeros(batch.num_positions))


def test_empty_batch_gives_nan_means():
    batch = memtasks.generate("ntm/copy-v1", 0, seed=0)
    result = METRIC.evaluate(batch, np.zeros(batch.targets.shape))
    assert all(math.isnan(v) for v in result.values())
    assert set(result) == {"bits_per_sequence", "bit_errors_per_sequence", "sequence_accuracy"}


def test_metric_is_described():
    assert METRIC.name == "bits_per_sequence"
    assert "bits per sequence" in METRIC.description


# ---- token tasks: TokenAccuracy and BitsPerToken (issue 14) ---------------------------------


def _token_batch(seed: int = 0) -> memtasks.EpisodeBatch:
    return memtasks.generate("babi/qa2-v1", 6, seed=seed)  # token task, several answers


@given(seed=st.integers(0, 2**16), wrong_share=st.floats(0.0, 1.0))
@settings(max_examples=25, deadline=None)
def test_token_accuracy_counts_wrong_scored_positions_only(seed, wrong_share):
    from memtasks.metrics import TokenAccuracy

    batch = _token_batch()
    rng = np.random.default_rng(seed)
    pred = batch.targets.copy()
    scored = np.flatnonzero(batch.mask)
    wrong = scored[rng.random(len(scored)) < wrong_share]
    pred[wrong] += 1  # a different id
    # unscored positions may hold anything: they never count
    pred[~batch.mask] = rng.integers(0, 50, int((~batch.mask).sum()))
    out = TokenAccuracy().evaluate(batch, pred)
    assert out["tokens"] == len(scored)
    assert out["token_accuracy"] == pytest.approx(1 - len(wrong) / len(scored))
    episode = np.repeat(np.arange(len(batch)), batch.lengths)
    clean = np.setdiff1d(np.arange(len(batch)), episode[wrong])
    assert out["sequence_accuracy"] == pytest.approx(len(clean) / len(batch))


def test_token_accuracy_refuses_misaligned_predictions():
    from memtasks.metrics import TokenAccuracy

    batch = _token_batch()
    with pytest.raises(ValueError, match="predictions have shape"):
        TokenAccuracy().evaluate(batch, batch.targets[:-1])


@given(p=st.floats(0.01, 1.0))
@settings(max_examples=20, deadline=None)
def test_bits_per_token_is_nll_in_bits(p):
    from memtasks.metrics import BitsPerToken

    batch = _token_batch()
    n = int(batch.mask.sum())
    out = BitsPerToken().evaluate(batch, np.full(n, math.log(p)))
    assert out["bits_per_token"] == pytest.approx(-math.log2(p))
    assert out["perplexity"] == pytest.approx(1 / p)
    with pytest.raises(ValueError, match="target_logprobs have shape"):
        BitsPerToken().evaluate(batch, np.zeros(n + 1))
