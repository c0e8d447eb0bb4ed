"""Train/test hygiene: held-out episodes whose story is also a training story are left out.

A task with a small state space (bAbI qa4 has 2 statements over 6 rooms and 4 directions) draws
the same story again and again: in the release 13% of qa4's test stories are in its 1k training
set and 74% in its 10k one. ``--dedup-against N`` (``write_dataset(..., dedup_against=N)``)
writes a held-out split without the stories of training episodes ``0 .. N-1`` of the same task,
knobs and seed:

- two episodes tell the same story when their story hashes are equal (``hashing.story_hashes``:
  inputs, targets, mask, role, segment, support and support_answer; not the index, not meta);
- the held-out stream is drawn from ``start`` on, an episode whose story is in the training set
  is skipped, and drawing goes on past ``start + n`` until ``n`` episodes are kept;
- kept episodes keep their stream indices, so episode ``i`` is still the same episode.

Hashes are 64-bit: a false match needs about 2**64 / (train x test) pairs, which no dataset
comes near. Duplicates within the held-out split itself are kept (the release has them too).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .episode import EpisodeBatch
from .errors import MemtasksError
from .hashing import story_hashes
from .registry import (
    INDEX_STOP,
    TaskSpec,
    check_count,
    check_range,
    check_seed,
    check_split,
    get_spec,
)

TRAIN_SPLIT = "train"
CHUNK = 1 << 15  # episodes generated at a time while hashing
MAX_DRAWS_PER_EPISODE = 100  # held-out draws per requested episode before giving up ...
MIN_MAX_DRAWS = 100_000  # ... but never fewer than this many


def check_dedup(dedup_against: Any, split: str) -> int:
    """``dedup_against`` validated for writing ``split``."""
    against = check_count("dedup_against", dedup_against)
    if against > INDEX_STOP:  # training episodes 0..N-1 must have int64 indices
        raise MemtasksError(
            f"dedup_against must be at most 2**63 - 1 = {INDEX_STOP} (training episodes "
            f"0..N-1 have int64 indices), got {against}"
        )
    if against and split == TRAIN_SPLIT:
        raise MemtasksError(
            "dedup_against removes held-out stories that are in the training split; it cannot "
            f"be used when writing split {TRAIN_SPLIT!r} (write test, validation... instead)"
        )
    return against


def _hash_stream(spec: TaskSpec, knobs, seed: int, split: str, start: int, stop: int,
                 chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """(indices, story hashes) of episodes start .. stop - 1, a chunk at a time."""
    for lo in range(start, stop, chunk):
        batch = spec.generate(min(chunk, stop - lo), seed, split, start=lo, knobs=knobs)
        yield batch.index, story_hashes(batch)


def train_story_hashes(spec: TaskSpec, knobs, seed: int, against: int,
                       chunk: int = CHUNK) -> np.ndarray:  # fmt: skip
    """Sorted distinct story hashes of training episodes ``0 .. against - 1``."""
    parts = [h for _, h in _hash_stream(spec, knobs, seed, TRAIN_SPLIT, 0, against, chunk)]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)


def in_set(hashes: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Which ``hashes`` are in ``sorted_set`` (sorted, distinct)."""
    if not len(sorted_set):
        return np.zeros(len(hashes), np.bool_)
    at = np.minimum(np.searchsorted(sorted_set, hashes), len(sorted_set) - 1)
    return sorted_set[at] == hashes


@dataclass(frozen=True)
class DedupPlan:
    """Which stream indices a de-duplicated split keeps."""

    kept: np.ndarray  # int64[n]: stream indices of the kept episodes, increasing
    dropped: int  # episodes skipped because their story is a training story
    against: int

    @property
    def stop(self) -> int:
        """One past the last index drawn."""
        return int(self.kept[-1]) + 1 if len(self.kept) else 0

    def skipped_in(self, lo: int, hi: int) -> np.ndarray:
        """Stream indices in [lo, hi) that are not kept."""
        inside = self.kept[(self.kept >= lo) & (self.kept < hi)]
        return np.setdiff1d(np.arange(lo, hi, dtype=np.int64), inside, assume_unique=True)

    def ranges(self) -> list[list[int]]:
        """The kept indices as ``[lo, hi)`` runs."""
        k = self.kept
        if not len(k):
            return []
        breaks = np.flatnonzero(np.diff(k) != 1) + 1
        starts = np.concatenate([[0], breaks])
        stops = np.concatenate([breaks, [len(k)]])
        return [[int(k[a]), int(k[b - 1]) + 1] for a, b in zip(starts, stops, strict=True)]


def plan(spec: TaskSpec, knobs, seed: int, split: str, start: int, n: int, against: int,
         chunk: int = CHUNK) -> DedupPlan:  # fmt: skip
    """The first ``n`` episodes of ``split`` from ``start`` on whose story is not one of the
    training episodes ``0 .. against - 1``; raises ``MemtasksError`` when too few exist."""
    train = train_story_hashes(spec, knobs, seed, against, chunk)
    limit = max(MAX_DRAWS_PER_EPISODE * n, MIN_MAX_DRAWS)
    kept: list[np.ndarray] = []
    have = drawn = 0
    lo = start
    while have < n:
        if drawn >= limit:
            raise MemtasksError(
                f"{spec.id}: only {have} of the {n} requested {split} episodes differ from "
                f"training episodes 0..{against - 1} after {drawn:,} draws; these knobs allow "
                f"too few distinct stories for dedup_against={against} (lower it or widen "
                "the knobs)"
            )
        size = int(min(chunk, max(n - have, 1024), limit - drawn, INDEX_STOP - lo))
        if size <= 0:  # dedup draws past start + n; indices must stay int64
            raise MemtasksError(
                f"{spec.id}: only {have} of the {n} requested {split} episodes differ from "
                f"training episodes 0..{against - 1} before the last episode index "
                f"({INDEX_STOP - 1}); use a smaller start"
            )
        index, hashes = next(_hash_stream(spec, knobs, seed, split, lo, lo + size, size))
        fresh = index[~in_set(hashes, train)][: n - have]
        kept.append(fresh)
        have += len(fresh)
        drawn += size
        lo += size
    indices = np.concatenate(kept).astype(np.int64)
    return DedupPlan(kept=indices, dropped=int(indices[-1] + 1 - start - n), against=against)


def generate(
    task: str,
    n: int,
    seed: int = 0,
    split: str = "test",
    *,
    against: int,
    start: int = 0,
    preset: str | None = None,
    **knobs: Any,
) -> EpisodeBatch:
    """Like ``memtasks.generate``, without the stories of training episodes
    ``0 .. against - 1``: ``n`` episodes from ``start`` on, keeping their stream indices."""
    spec = get_spec(task)
    k = spec.make_knobs(preset, **knobs)
    seed, split = check_seed(seed), check_split(split)
    n, start = check_count("n", n), check_range(start, n)
    against = check_dedup(against, split)
    if n == 0:
        return spec.generate(0, seed, split, start=start, knobs=k)
    p = plan(spec, k, seed, split, start, n, against)
    batch = spec.generate(p.stop - start, seed, split, start=start, knobs=k)
    return batch[p.kept - start]
