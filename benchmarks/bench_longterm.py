"""Throughput of the long-term dependency generators beside a vectorised NumPy generator of the
same arrays (issue 14: "every other family against a vectorised NumPy generator").

    python benchmarks/bench_longterm.py            # 20,000 episodes per task, one thread
    python benchmarks/bench_longterm.py --quick    # tiny sizes: a smoke test of the script

For each task at its default (``paper``) knobs, ``memtasks.generate`` with Numba on one thread
makes ``--episodes`` episodes in one call, and a NumPy function written the straightforward
vectorised way makes the same flat arrays (inputs, targets, mask, role, segment, the offsets:
same shapes and dtypes, the same rules; other random draws, since NumPy's generator is not
ours). Both are timed as the median of ``--repeats`` runs after a warm-up; the ratio is NumPy's
time over ours. The NumPy functions are checked against the task's rules before timing.
"""

from __future__ import annotations

import sys

import numpy as np
from numpy_baselines import side_by_side, side_by_side_main  # beside this script

import memtasks


# ---------------------------------------------------------------------------------------------
# NumPy generators of the same arrays
# ---------------------------------------------------------------------------------------------
def _offsets(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)


def _segments(lengths: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    total = int(offsets[-1])
    return (np.arange(total) - np.repeat(offsets[:-1], lengths)).astype(np.int32)


def numpy_pair(n: int, rng: np.random.Generator, op: str, length=100, jitter=0.1, window=10):
    lengths = length + rng.integers(0, int(length * jitter) + 1, n)
    offsets = _offsets(lengths)
    total = int(offsets[-1])
    if op == "add":
        values = rng.uniform(-1.0, 1.0, total).astype(np.float32)
    elif op == "multiply":
        values = rng.uniform(0.0, 1.0, total).astype(np.float32)
    else:
        values = rng.integers(0, 2, total).astype(np.float32)
    p1 = rng.integers(1, window, n)
    p2 = rng.integers(1, length // 2 - 2, n)
    p2 = p2 + (p2 >= p1)
    marker = np.zeros(total, np.float32)
    starts, lasts = offsets[:-1], offsets[1:] - 1
    marker[starts] = -1.0
    marker[lasts] = -1.0
    marker[starts + p1] = 1.0
    marker[starts + p2] = 1.0
    inputs = np.stack([values, marker], axis=1)
    x1, x2 = values[starts + p1], values[starts + p2]
    answer = {"add": 0.5 + (x1 + x2) / 4, "multiply": x1 * x2}.get(op)
    if answer is None:
        answer = (x1.astype(np.uint8) ^ x2.astype(np.uint8)).astype(np.float32)
    targets = np.zeros((total, 1), np.float32 if op != "xor" else np.uint8)
    targets[lasts, 0] = answer
    mask = np.zeros(total, bool)
    mask[lasts] = True
    role = np.zeros(total, np.int8)
    role[lasts] = 2
    return inputs, targets, mask, role, _segments(lengths, offsets), offsets


def numpy_temporal_order(n: int, rng: np.random.Generator, length=100, jitter=0.1):
    lengths = length + rng.integers(0, int(length * jitter) + 1, n)
    offsets = _offsets(lengths)
    total = int(offsets[-1])
    symbol = rng.integers(2, 6, total)  # distractors a .. d
    starts, lasts = offsets[:-1], offsets[1:] - 1
    label = np.zeros(n, np.int64)
    for lo, hi in ((10, 20), (50, 60)):
        p = rng.integers(lo, hi + 1, n)
        y = rng.integers(0, 2, n)
        symbol[starts + p] = 6 + y
        label = 2 * label + y
    symbol[starts] = 0
    symbol[lasts] = 1
    inputs = np.zeros((total, 8), np.uint8)
    inputs[np.arange(total), symbol] = 1
    targets = np.zeros((total, 4), np.uint8)
    targets[lasts, label] = 1
    mask = np.zeros(total, bool)
    mask[lasts] = True
    role = np.zeros(total, np.int8)
    role[lasts], role[starts] = 2, 3
    segment = _segments(lengths, offsets)
    segment[starts] = -1
    return inputs, targets, mask, role, segment, offsets


def numpy_permutation(n: int, rng: np.random.Generator, length=100, jitter=0.1, symbols=100):
    lengths = length + rng.integers(0, int(length * jitter) + 1, n)
    offsets = _offsets(lengths)
    total = int(offsets[-1])
    starts, lasts = offsets[:-1], offsets[1:] - 1
    symbol = rng.integers(2, symbols, total)
    symbol[starts] = rng.integers(0, 2, n)
    inputs = np.zeros((total, symbols), np.uint8)
    inputs[np.arange(total), symbol] = 1
    targets = np.zeros((total, symbols), np.uint8)
    targets[lasts, symbol[starts]] = 1
    mask = np.zeros(total, bool)
    mask[lasts] = True
    role = np.zeros(total, np.int8)
    role[lasts] = 2
    return inputs, targets, mask, role, _segments(lengths, offsets), offsets


def numpy_memorization(n: int, rng: np.random.Generator, delay=100, values=5, positions=10):
    size = 2 * positions + delay + 1
    pattern = rng.integers(0, values, (n, positions))
    symbol = np.full((n, size), values)  # blank
    symbol[:, :positions] = pattern
    symbol[:, positions + delay] = values + 1  # go
    out = np.full((n, size), values)
    out[:, positions + delay + 1 :] = pattern
    inputs = np.zeros((n * size, values + 2), np.uint8)
    inputs[np.arange(n * size), symbol.ravel()] = 1
    targets = np.zeros((n * size, values + 1), np.uint8)
    targets[np.arange(n * size), out.ravel()] = 1
    mask = np.zeros((n, size), bool)
    mask[:, positions + delay + 1 :] = True
    role = np.zeros((n, size), np.int8)
    role[:, positions + delay] = 3
    role[:, positions + delay + 1 :] = 2
    segment = np.full((n, size), -1, np.int32)
    segment[:, :positions] = np.arange(positions)
    offsets = np.arange(n + 1, dtype=np.int64) * size
    return inputs, targets, mask.ravel(), role.ravel(), segment.ravel(), offsets


NUMPY = {
    "longterm/adding-v1": lambda n, rng: numpy_pair(n, rng, "add"),
    "longterm/multiplication-v1": lambda n, rng: numpy_pair(n, rng, "multiply"),
    "longterm/xor-v1": lambda n, rng: numpy_pair(n, rng, "xor"),
    "longterm/temporal-order-v1": numpy_temporal_order,
    "longterm/permutation-v1": numpy_permutation,
    "longterm/memorization-v1": numpy_memorization,
}


def same_layout(task: str, arrays) -> None:
    """The NumPy arrays have the shapes, dtypes and answer rows of ours (a check before timing:
    a faster generator of other arrays would prove nothing)."""
    ours = memtasks.generate(task, 64, seed=0)
    inputs, targets, mask, role, segment, offsets = arrays
    for name, theirs in (("inputs", inputs), ("targets", targets), ("mask", mask),
                         ("role", role), ("segment", segment)):  # fmt: skip
        mine = getattr(ours, name)
        if theirs.dtype != mine.dtype or theirs.shape[1:] != mine.shape[1:]:
            raise AssertionError(f"{task}: NumPy {name} {theirs.dtype}{theirs.shape} vs ours "
                                 f"{mine.dtype}{mine.shape}")  # fmt: skip
    if int(mask.sum()) != int(role[mask].size) or not (role[mask] == 2).all():
        raise AssertionError(f"{task}: NumPy answer rows are not the scored rows")


def run(episodes: int, repeats: int) -> list[dict]:
    return side_by_side(NUMPY, same_layout, episodes, repeats)


def main(argv=None) -> None:
    side_by_side_main(__doc__, NUMPY, same_layout, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
