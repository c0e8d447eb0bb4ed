"""Compiled building blocks shared by the generator families."""

from __future__ import annotations

import numpy as np
from numba import njit

from memtasks.rng import next_u64

_ONE = np.uint64(1)


@njit(inline="always")
def fill_bits(state, out, row0, nrows, width):
    """Fill ``out[row0:row0 + nrows, :width]`` with uniform random bits; return the state.

    One 64-bit draw gives 64 bits, so an 8-bit vector costs an eighth of a draw instead of the
    eight draws (or eight floats compared with 0.5) a straightforward generator spends on it.
    """
    used = 64
    word = np.uint64(0)
    for r in range(row0, row0 + nrows):
        for c in range(width):
            if used == 64:
                state, word = next_u64(state)
                used = 0
            out[r, c] = np.uint8((word >> np.uint64(used)) & _ONE)
            used += 1
    return state


@njit(inline="always")
def offsets_of(lengths):
    """CSR offsets ``int64[n + 1]`` of per-episode lengths."""
    n = len(lengths)
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    for b in range(n):
        offsets[b + 1] = offsets[b] + lengths[b]
    return offsets
