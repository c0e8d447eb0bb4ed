"""Metrics: how a task scores a model's predictions.

Predictions are aligned with ``batch.targets``: for bit-vector tasks an array of probabilities
``[N, D_out]`` (the same flat positions as the targets). Only positions where ``mask`` is true
count. Every metric returns per-episode values and their means, so results can be grouped by any
meta field (sequence length, number of items...) afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .episode import EpisodeBatch

_EPS = 1e-15  # keeps log2(0) finite; a confident wrong bit costs ~50 bits, not infinity


def _episode_of_position(batch: EpisodeBatch) -> np.ndarray:
    return np.repeat(np.arange(len(batch)), batch.lengths)


def _per_episode_sum(batch: EpisodeBatch, values: np.ndarray) -> np.ndarray:
    """Sum of per-position ``values`` over the scored positions of each episode."""
    weights = np.where(batch.mask, values, 0.0)
    return np.bincount(_episode_of_position(batch), weights=weights, minlength=len(batch))


def _aligned(batch: EpisodeBatch, predictions: np.ndarray, dtype=None) -> np.ndarray:
    """``predictions`` as an array, refused in one line unless shaped like ``batch.targets``."""
    out = np.asarray(predictions, dtype=dtype)
    if out.shape != batch.targets.shape:
        raise ValueError(f"predictions have shape {out.shape}; targets have {batch.targets.shape}")
    return out


@dataclass(frozen=True)
class BitMetric:
    """Binary cross-entropy in bits per sequence and bit errors per sequence (NTM sec. 4).

    ``optimum`` names a meta field with the cost, in bits per sequence, of the best possible
    predictor (dynamic N-grams carry the Bayes-optimal cost); then ``excess_bits_per_sequence``
    is reported too.
    """

    optimum: str | None = None
    name: str = "bits_per_sequence"
    description: str = (
        "binary cross-entropy of the scored target bits in bits per sequence; bit errors per "
        "sequence after thresholding at 0.5; sequence accuracy (no bit wrong)"
    )

    def per_episode(self, batch: EpisodeBatch, probs: np.ndarray) -> dict[str, np.ndarray]:
        probs = _aligned(batch, probs, np.float64)
        t = batch.targets.astype(np.float64)
        p = np.clip(probs, _EPS, 1.0 - _EPS)
        bce = -(t * np.log2(p) + (1.0 - t) * np.log2(1.0 - p))
        wrong = (probs >= 0.5) != (batch.targets > 0)
        if bce.ndim == 2:
            bce = bce.sum(axis=1)
            wrong = wrong.sum(axis=1)
        out = {
            "bits_per_sequence": _per_episode_sum(batch, bce),
            "bit_errors_per_sequence": _per_episode_sum(batch, wrong.astype(np.float64)),
        }
        if self.optimum is not None:
            out["optimal_bits_per_sequence"] = batch.meta[self.optimum].astype(np.float64)
            out["excess_bits_per_sequence"] = (
                out["bits_per_sequence"] - out["optimal_bits_per_sequence"]
            )
        return out

    def evaluate(self, batch: EpisodeBatch, probs: np.ndarray) -> dict[str, float]:
        """Means over the episodes of the batch, plus ``sequence_accuracy``."""
        per = self.per_episode(batch, probs)
        out = {k: float(v.mean()) if len(v) else float("nan") for k, v in per.items()}
        errors = per["bit_errors_per_sequence"]
        out["sequence_accuracy"] = float((errors == 0).mean()) if len(errors) else float("nan")
        return out


@dataclass(frozen=True)
class AnswerMetric:
    """Answer accuracy of a question-answering task (bAbI: a task is "passed" at >= 95%).

    Predictions are token ids aligned with ``batch.targets`` (``[N]``; only scored positions
    are read). An answer is a maximal run of answer positions (``role == 2``); it is right when
    every one of its words is (bAbI lists such as "apple,milk" and paths such as "s,e" span
    several positions).
    """

    name: str = "answer_accuracy"
    description: str = (
        "fraction of questions whose every answer word is predicted exactly; error = 1 - accuracy"
    )

    def per_answer(self, batch: EpisodeBatch, predictions: np.ndarray) -> np.ndarray:
        """``bool[n_answers]``: each answer span right or not, in episode order."""
        predictions = _aligned(batch, predictions)
        answer = batch.role == 2
        starts = answer & ~np.concatenate(([False], answer[:-1]))
        first = batch.offsets[:-1][batch.lengths > 0]  # a span never runs across episodes
        starts[first] = answer[first]
        span = np.cumsum(starts) - 1
        wrong = answer & batch.mask & (predictions != batch.targets)
        n_spans = int(starts.sum())
        return np.bincount(span[wrong], minlength=n_spans) == 0

    def evaluate(self, batch: EpisodeBatch, predictions: np.ndarray) -> dict[str, float]:
        right = self.per_answer(batch, predictions)
        acc = float(right.mean()) if len(right) else float("nan")
        return {"answer_accuracy": acc, "answer_error": 1.0 - acc, "questions": float(len(right))}


@dataclass(frozen=True)
class Perplexity:
    """Perplexity of a language model: ``exp`` of the mean negative log-likelihood (natural
    log) of the scored targets.

    It reads the model's log-probability of each scored target (``reads``), not a predicted
    token: ``target_logprobs`` holds one value per position where ``batch.mask`` is true, in
    ``batch.targets[batch.mask]`` order. Every token counts once, so the perplexity of a split
    is the same however its stream is cut into episodes and batches.
    """

    reads = "target_logprobs"  # what the runner must hand to ``evaluate`` (others: predictions)
    name: str = "perplexity"
    description: str = (
        "exp of the mean negative log-likelihood (natural log) of the scored target tokens"
    )

    def evaluate(self, batch: EpisodeBatch, target_logprobs: np.ndarray) -> dict[str, float]:
        logp = np.asarray(target_logprobs, dtype=np.float64)
        n = int(np.count_nonzero(batch.mask))
        if logp.shape != (n,):
            raise ValueError(
                f"target_logprobs have shape {logp.shape}; the batch scores {n} positions "
                f"(one log-probability each, in batch.targets[batch.mask] order)"
            )
        if np.isnan(logp).any() or (logp > _LOGP_SLACK).any():
            bad = logp[np.isnan(logp) | (logp > _LOGP_SLACK)][0]
            raise ValueError(f"a log-probability is a number <= 0 (or -inf), got {bad!r}")
        if n == 0:
            return {"perplexity": float("nan"), "nll": float("nan"), "tokens": 0}
        nll = float(-np.minimum(logp, 0.0).sum() / n)
        return {"perplexity": float(np.exp(nll)), "nll": nll, "tokens": n}


# float32 log-softmax can round a certain token's log-probability a hair above 0
_LOGP_SLACK = 1e-5


@dataclass(frozen=True)
class ThresholdRegression:
    """A real-valued answer, scored as its papers do: the squared error, and a sequence counted
    right when its absolute error is below ``threshold`` (Hochreiter & Schmidhuber 1997 and
    Raffel & Ellis 2016: 0.04 on the adding and multiplication problems).

    ``baseline_mse`` is the error of always predicting the targets' mean (their variance): a
    model at that level has learnt nothing, so ``mse_over_baseline`` near 1 means "not solved"
    whatever the threshold says. Predictions are ``float[N, D]`` like ``batch.targets``.
    """

    output: ClassVar[str] = "real"  # the channels are numbers: models fit them by squared error
    threshold: float = 0.04
    baseline_mse: float = float("nan")
    name: str = "threshold_accuracy"
    description: str = (
        "share of sequences whose every scored value is within the threshold of its target "
        "(absolute error); mean squared error beside the variance baseline"
    )

    def per_episode(self, batch: EpisodeBatch, predictions: np.ndarray) -> dict[str, np.ndarray]:
        pred = _aligned(batch, predictions, np.float64)
        err = pred - batch.targets.astype(np.float64)
        squared = (err**2).sum(axis=1)
        outside = (np.abs(err) >= self.threshold).sum(axis=1).astype(np.float64)
        count = _per_episode_sum(batch, np.ones(len(batch.mask)))
        return {
            "squared_error": _per_episode_sum(batch, squared) / np.maximum(count, 1),
            "outside_threshold": _per_episode_sum(batch, outside),
        }

    def evaluate(self, batch: EpisodeBatch, predictions: np.ndarray) -> dict[str, float]:
        per = self.per_episode(batch, predictions)
        if not len(batch):
            return {"threshold_accuracy": float("nan"), "mse": float("nan")}
        mse = float(per["squared_error"].mean())
        return {
            "threshold_accuracy": float((per["outside_threshold"] == 0).mean()),
            "mse": mse,
            "baseline_mse": self.baseline_mse,
            "mse_over_baseline": mse / self.baseline_mse,
        }


@dataclass(frozen=True)
class ClassMetric:
    """One class per scored row, one-hot in ``batch.targets``: the prediction is the argmax of
    ``float[N, C]`` scores (probabilities or logits) and a sequence is right when every scored
    row is (the classification problems of Hochreiter & Schmidhuber 1997 and Martens &
    Sutskever 2011 count errors per sequence)."""

    output: ClassVar[str] = "classes"  # one-hot: models fit them by a softmax's cross-entropy
    name: str = "sequence_accuracy"
    description: str = (
        "share of sequences whose every scored row's argmax is its one-hot target's class; "
        "row accuracy beside it"
    )

    def per_episode(self, batch: EpisodeBatch, scores: np.ndarray) -> dict[str, np.ndarray]:
        scores = _aligned(batch, scores)
        wrong = scores.argmax(axis=1) != batch.targets.argmax(axis=1)
        return {
            "wrong_rows": _per_episode_sum(batch, wrong.astype(np.float64)),
            "rows": _per_episode_sum(batch, np.ones(len(wrong))),
        }

    def evaluate(self, batch: EpisodeBatch, scores: np.ndarray) -> dict[str, float]:
        per = self.per_episode(batch, scores)
        if not len(batch):
            return {"sequence_accuracy": float("nan"), "row_accuracy": float("nan")}
        rows = per["rows"].sum()
        return {
            "sequence_accuracy": float((per["wrong_rows"] == 0).mean()),
            "row_accuracy": float(1.0 - per["wrong_rows"].sum() / rows) if rows else float("nan"),
        }


@dataclass(frozen=True)
class TokenAccuracy:
    """Token tasks scored per scored position and per sequence: the share of scored positions
    whose predicted id is the target (MQAR's per-query accuracy, MAD's token accuracy, HAM's
    "percentage of correct outputs"), and the share of sequences with every scored position
    right. Predictions are token ids aligned with ``batch.targets`` (``int[N]``)."""

    name: str = "token_accuracy"
    description: str = (
        "share of scored positions whose predicted token is the target; sequence accuracy "
        "(every scored position of the episode right) beside it"
    )

    def per_episode(self, batch: EpisodeBatch, predictions: np.ndarray) -> dict[str, np.ndarray]:
        wrong = _aligned(batch, predictions) != batch.targets
        return {
            "wrong_tokens": _per_episode_sum(batch, wrong.astype(np.float64)),
            "tokens": _per_episode_sum(batch, np.ones(len(wrong))),
        }

    def evaluate(self, batch: EpisodeBatch, predictions: np.ndarray) -> dict[str, float]:
        per = self.per_episode(batch, predictions)
        tokens = float(per["tokens"].sum())
        if not len(batch) or not tokens:
            return {"token_accuracy": float("nan"), "sequence_accuracy": float("nan")}
        return {
            "token_accuracy": 1.0 - float(per["wrong_tokens"].sum()) / tokens,
            "sequence_accuracy": float((per["wrong_tokens"] == 0).mean()),
            "tokens": tokens,
        }


@dataclass(frozen=True)
class BitsPerToken(Perplexity):
    """Cross-entropy of the scored targets in bits per token (Danihelka et al. 2016 report
    "bits per character" on the target characters only): the perplexity's negative
    log-likelihood divided by ln 2, with the perplexity beside it. Reads the model's
    log-probability of each scored target, as ``Perplexity`` does."""

    name: str = "bits_per_token"
    description: str = (
        "mean negative log2-likelihood of the scored target tokens (bits per character on "
        "character tasks); perplexity beside it"
    )

    def evaluate(self, batch: EpisodeBatch, target_logprobs: np.ndarray) -> dict[str, float]:
        out = super().evaluate(batch, target_logprobs)
        return {"bits_per_token": out["nll"] / float(np.log(2.0)), **out}
