"""Compiled building blocks shared by the generator families."""

from __future__ import annotations

import types

import numba
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


PARALLEL_MIN_EPISODES = 2048  # below this, waking the thread pool costs more than it saves


class Kernel:
    """A generator kernel compiled twice: serial for small batches, parallel for large ones.

    A parallel kernel pays for waking the thread pool at every parallel loop (several per
    kernel): tens of microseconds, more than a whole batch of 64 episodes takes to generate
    on one thread. Training loops ask for exactly such batches, bulk generation for millions:
    so both variants exist, and the call picks by batch size. The two are the same Python
    function (``prange`` is ``range`` when compiled serially), so their output is identical.
    """

    def __init__(self, fn):
        self.parallel = njit(cache=True, parallel=True)(fn)
        # a copy of the function under another name, so that the on-disk caches of the two
        # variants (named after the function) do not overwrite each other
        twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial",
                                  fn.__defaults__, fn.__closure__)  # fmt: skip
        twin.__qualname__ = fn.__qualname__ + "_serial"
        twin.__module__ = fn.__module__
        self.serial = njit(cache=True)(twin)
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __call__(self, key, start, n, *args):
        parallel = n >= PARALLEL_MIN_EPISODES and numba.get_num_threads() > 1
        return (self.parallel if parallel else self.serial)(key, start, n, *args)


def kernel(fn) -> Kernel:
    """Decorator: compile a generator kernel ``fn(key, start, n, ...)`` serial and parallel."""
    return Kernel(fn)
