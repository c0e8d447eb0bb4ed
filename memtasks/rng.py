"""Counter-based random streams: episode ``i`` draws from its own stream.

DESIGN.md section 3: episode ``i`` of ``(task id, knobs, seed, split)`` is a pure function of
those values. We get that by deriving one 64-bit *stream key* per (task, knobs, seed, split) with
a cryptographic hash (so seed 43 is not a shifted copy of seed 42), then giving episode ``i`` the
SplitMix64 state ``mix64(key + (i + 1) * INDEX_GAMMA)``. Inside an episode the state advances by
SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators"), which
passes BigCrush and costs a handful of integer operations per 64 random bits.

All helpers are ``inline="always"`` Numba functions that take the state and return
``(new_state, value)``: generators keep the state in a local variable, so nothing is allocated
and nothing is shared between episodes, which is what makes ``prange`` over episodes safe.

Every constant is a ``np.uint64``: Numba promotes ``uint64 op int64`` to float64, which would
silently destroy the stream.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
from numba import njit

U64 = np.uint64
_GAMMA = U64(0x9E3779B97F4A7C15)  # SplitMix64's golden-ratio increment
_INDEX_GAMMA = U64(0xD1B54A32D192ED03)  # a different odd constant for indexing episodes
_MIX1 = U64(0xBF58476D1CE4E5B9)
_MIX2 = U64(0x94D049BB133111EB)
_S30 = U64(30)
_S27 = U64(27)
_S31 = U64(31)
_S32 = U64(32)
_S11 = U64(11)
_ONE = U64(1)
_LOW32 = U64(0xFFFFFFFF)
_TWO_POW_M53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(inline="always")
def mix64(z):
    """SplitMix64's finaliser: a bijection on 64-bit integers with full avalanche."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(inline="always")
def episode_state(key, index):
    """The starting state of episode ``index`` in the stream ``key``."""
    return mix64(key + (U64(index) + _ONE) * _INDEX_GAMMA)


@njit(inline="always")
def next_u64(state):
    """(state', 64 uniformly random bits)."""
    state = state + _GAMMA
    return state, mix64(state)


@njit(inline="always")
def next_float(state):
    """(state', uniform float64 in [0, 1)) with 53 random bits."""
    state, r = next_u64(state)
    return state, float(r >> _S11) * _TWO_POW_M53


@njit(inline="always")
def next_below(state, n):
    """(state', uniform integer in [0, n)), unbiased, for 1 <= n < 2**32.

    Lemire's multiply-and-reject method ("Fast random integer generation in an interval",
    2019) on the high 32 bits of a draw: exact, and it almost never rejects for small n.
    """
    n64, threshold = below_bound(n)  # threshold == 2**32 mod n
    return next_below_with(state, n64, threshold)


@njit(inline="always")
def below_bound(n):
    """``(n as uint64, next_below's rejection threshold for n)``, for ``next_below_with``: a
    kernel drawing many values below one ``n`` computes the threshold (a 64-bit division) once
    instead of at every draw."""
    n64 = U64(n)
    return n64, ((_LOW32 + _ONE) - n64) % n64


@njit(inline="always")
def next_below_with(state, n64, threshold):
    """``next_below(state, n)`` given ``below_bound(n)``: the same draws, the same values."""
    while True:
        state, r = next_u64(state)
        m = (r >> _S32) * n64
        if (m & _LOW32) >= threshold:
            return state, np.int64(m >> _S32)


@njit(inline="always")
def next_below_lazy(state, n):
    """``next_below(state, n)`` for an ``n`` that changes from draw to draw: the same draws and
    values, the threshold computed only for a draw it could reject (one whose low half is below
    n: the threshold is below n), which for small n almost never happens."""
    n64 = U64(n)
    while True:
        state, r = next_u64(state)
        m = (r >> _S32) * n64
        low = m & _LOW32
        if low >= n64 or low >= ((_LOW32 + _ONE) - n64) % n64:
            return state, np.int64(m >> _S32)


@njit(inline="always")
def next_normal(state):
    """(state', standard normal float64) by the Box-Muller transform (one value per call)."""
    state, u1 = next_float(state)
    state, u2 = next_float(state)
    return state, math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@njit(inline="always")
def next_gamma(state, shape):
    """(state', Gamma(shape, 1) sample) by Marsaglia & Tsang (2000), boosted for shape < 1."""
    boost = 1.0
    if shape < 1.0:
        state, u = next_float(state)
        boost = (1.0 - u) ** (1.0 / shape)  # 1 - u lies in (0, 1], so the power is finite
        shape = shape + 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        state, x = next_normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        state, u = next_float(state)
        if math.log(1.0 - u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return state, d * v * boost


@njit(inline="always")
def next_beta(state, a, b):
    """(state', Beta(a, b) sample) as G_a / (G_a + G_b)."""
    state, x = next_gamma(state, a)
    state, y = next_gamma(state, b)
    total = x + y
    if total == 0.0:  # both underflowed (tiny shapes): the two ends are equally likely
        state, u = next_float(state)
        return state, 1.0 if u < 0.5 else 0.0
    return state, x / total


def stream_key(task_id: str, knobs: dict, seed: int, split: str) -> np.uint64:
    """The 64-bit key of the stream ``(task id, knobs, seed, split)``.

    A BLAKE2b digest of a canonical JSON encoding: any change in any of the four gives an
    unrelated stream, and the key does not depend on dict order or on the Python version.
    """
    payload = json.dumps(
        {"task": task_id, "knobs": knobs, "seed": int(seed), "split": split},
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = hashlib.blake2b(payload.encode(), digest_size=8, person=b"memtasks-v1").digest()
    return np.uint64(int.from_bytes(digest, "little"))
