"""Metrics: how a task scores a model's predictions.

Predictions are aligned with ``batch.targets``: for bit-vector tasks an array of probabilities
``[N, D_out]`` (the same flat positions as the targets). Only positions where ``mask`` is true
count. Every metric returns per-episode values and their means, so results can be grouped by any
meta field (sequence length, number of items...) afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .episode import EpisodeBatch

_EPS = 1e-15  # keeps log2(0) finite; a confident wrong bit costs ~50 bits, not infinity


def _episode_of_position(batch: EpisodeBatch) -> np.ndarray:
    return np.repeat(np.arange(len(batch)), batch.lengths)


def _per_episode_sum(batch: EpisodeBatch, values: np.ndarray) -> np.ndarray:
    """Sum of per-position ``values`` over the scored positions of each episode."""
    weights = np.where(batch.mask, values, 0.0)
    return np.bincount(_episode_of_position(batch), weights=weights, minlength=len(batch))


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
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != batch.targets.shape:
            raise ValueError(
                f"predictions have shape {probs.shape}; targets have {batch.targets.shape}"
            )
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
        predictions = np.asarray(predictions)
        if predictions.shape != batch.targets.shape:
            raise ValueError(
                f"predictions have shape {predictions.shape}; targets have {batch.targets.shape}"
            )
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
