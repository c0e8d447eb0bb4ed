"""The five algorithmic tasks of the Neural Turing Machine paper (Graves, Wayne & Danihelka
2014, arXiv:1410.5401, sec. 4); what the paper leaves open is a knob with the value common
reproductions use as its default (each task's card in data_cards/ntm/ says which).

Every task is a vector task: inputs and targets are bit vectors (uint8; float32 where a channel
carries a number), one row per time step, and only the answer rows are scored. Each task is one
pair of compiled kernels, each a parallel loop over episodes: the first draws each episode's
size, NumPy allocates the flat arrays once, and the second redraws the same size from the same
stream and writes every element of the episode in place. Episode ``b`` uses only
``episode_state(key, start + b)``, which is what makes any slice of indices reproducible on its
own.

Cards: ``data_cards/ntm/<name>.md``. Tests: ``tests/test_ntm_tasks.py``. Benchmark:
``benchmarks/bench_ntm.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_CONTROL, ROLE_QUERY, EpisodeBatch
from memtasks.knobs import Knobs, knob
from memtasks.metrics import BitMetric
from memtasks.registry import Layout, TaskSpec, register
from memtasks.rng import episode_state, next_below, next_beta, next_float, next_u64

from ._kernels import (
    allocate,
    fill_bits,
    kernel,
    pad_rows,
    pad_tails,
    padded_arrays,
    running_sum,
    set_row,
)

SOURCE = "Graves, Wayne & Danihelka (2014), Neural Turing Machines, arXiv:1410.5401, sec. 4"
MAX_LEN = 100_000  # a sanity bound on sizes: one episode of 100k steps is already huge


def _bits(width: int) -> tuple[str, ...]:
    return tuple(f"bit {c}" for c in range(width))


def _choices(lo: int, hi: int, explicit: tuple[int, ...]) -> np.ndarray:
    """The values a size is drawn from, uniformly: an explicit set, else the range lo..hi."""
    if explicit:
        return np.asarray(sorted(set(explicit)), dtype=np.int64)
    return np.arange(lo, hi + 1, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# Copy: L random vectors, a delimiter, then the same L vectors are the targets.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CopyKnobs(Knobs):
    width: int = knob(8, lo=1, hi=1024, doc="bits per vector")
    min_length: int = knob(1, lo=1, hi=MAX_LEN, doc="shortest sequence (vectors)")
    max_length: int = knob(
        20, lo=1, hi=MAX_LEN, doc="longest sequence (vectors)",
        harder="up", ladder=(5, 10, 20, 40, 80),
        why="more vectors to hold before the delimiter asks for them back",
    )  # fmt: skip
    lengths: tuple = knob(
        (), lo=1, hi=MAX_LEN, doc="if set, lengths are drawn uniformly from this set instead"
    )

    def check(self):
        self.require(self.min_length <= self.max_length, "min_length must be <= max_length")

    def layout(self) -> Layout:
        return Layout("uint8", "uint8", (*_bits(self.width), "delimiter"), _bits(self.width))


@njit(inline="always")
def _copy_header(key, index, choices):
    s, k = next_below(episode_state(key, index), len(choices))
    return s, choices[k]


@kernel(weight=0.25)  # one draw per episode
def _copy_sizes(key, start, n, choices):
    offsets = np.empty(n + 1, np.int64)
    for b in prange(n):
        _, length = _copy_header(key, start + b, choices)
        offsets[b + 1] = 2 * length + 1
    return running_sum(offsets)


_U0, _U1 = np.uint64(0), np.uint64(1)
# _BYTE_BITS[v, c]: bit c of the byte v (the least significant first, as fill_bits draws them)
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little")


@njit(inline="always")
def _fill(flat, lo, hi, value):
    """``flat[lo:hi] = value`` for unsigned ``lo``, ``hi``: a loop that LLVM vectorises (with
    signed indices Numba checks each one for wrapping around from the end, which stops it)."""
    j = lo
    while j < hi:
        flat[j] = value
        j += _U1


@njit(inline="always")
def _copy_bits(state, inputs, targets, o, a, rows, width):
    """The random bits of a copy episode: row ``o + r`` of the (flat) inputs and row ``a + r``
    of the (flat) targets get the same ``width`` bits, for ``r < rows``; returns the state.

    Draws exactly as ``fill_bits`` does (64 bits per draw, ``64 // width`` whole rows each, or
    one draw per 64 bits of a wider row), so the bits are those of the two-pass kernel before
    it; the targets are written here, not copied back from the inputs afterwards.
    """
    w = np.uint64(width)
    wi = w + _U1
    r = _U0
    if width == 8:  # the default: a row is a byte of the draw, its bits from a table
        while r < rows:
            state, word = next_u64(state)
            k = _U0
            while k < np.uint64(8) and r < rows:
                byte = (word >> (np.uint64(8) * k)) & np.uint64(255)
                src, dst = (o + r) * wi, (a + r) * w
                for c in range(8):
                    bit = _BYTE_BITS[byte, c]
                    inputs[src + np.uint64(c)] = bit
                    targets[dst + np.uint64(c)] = bit
                r += _U1
                k += _U1
    elif width <= 64:
        per_draw = np.uint64(64 // width)
        while r < rows:
            state, word = next_u64(state)
            k = _U0
            while k < per_draw and r < rows:
                src, dst = (o + r) * wi, (a + r) * w
                c = _U0
                while c < w:
                    bit = np.uint8((word >> c) & _U1)
                    inputs[src + c] = bit
                    targets[dst + c] = bit
                    c += _U1
                word = word >> w
                r += _U1
                k += _U1
    else:
        while r < rows:
            src, dst = (o + r) * wi, (a + r) * w
            c0 = _U0
            while c0 < w:
                state, word = next_u64(state)
                c = c0
                while c < w and c < c0 + np.uint64(64):
                    bit = np.uint8((word >> (c - c0)) & _U1)
                    inputs[src + c] = bit
                    targets[dst + c] = bit
                    c += _U1
                c0 += np.uint64(64)
            r += _U1
    return state


@kernel(weight=0.25)  # short episodes: threads pay off from about 32k of them
def _copy_fill(key, start, n, choices, offsets, inputs, targets, mask, role, segment, seq_len,
               ends=None):  # fmt: skip
    """Episode b at rows ``offsets[b]`` onwards; with ``ends``, then padding up to row
    ``ends[b]`` (the padded layout, see ``padded_arrays``)."""
    width = targets.shape[1]
    w = np.uint64(width)
    wi = w + _U1  # the input rows: the bits, then the delimiter channel
    flat_in, flat_tg = inputs.reshape(-1), targets.reshape(-1)
    for b in prange(n):
        s, length = _copy_header(key, start + b, choices)
        seq_len[b] = length
        o = np.uint64(offsets[b])  # the sequence: rows o .. d - 1
        d = o + np.uint64(length)  # the delimiter flag on its own channel
        a = d + _U1  # the answer, rows a .. end - 1: nothing in, the sequence out
        end = a + np.uint64(length)
        _copy_bits(s, flat_in, flat_tg, o, a, np.uint64(length), width)
        r = o
        while r < d:
            flat_in[r * wi + w] = 0
            segment[r] = np.int64(r - o)
            r += _U1
        _fill(flat_in, d * wi, end * wi, 0)
        flat_in[d * wi + w] = 1
        _fill(flat_tg, o * w, a * w, 0)
        _fill(mask, o, a, False)
        _fill(mask, a, end, True)
        _fill(role, o, d, ROLE_CONTEXT)
        role[d] = ROLE_CONTROL
        _fill(role, a, end, ROLE_ANSWER)
        _fill(segment, d, end, -1)
        if ends is not None:
            pad_rows(flat_in, flat_tg, mask, role, segment, wi, w, end, np.uint64(ends[b]))


def _copy(knobs: CopyKnobs, key, start: int, n: int) -> EpisodeBatch:
    choices = _choices(knobs.min_length, knobs.max_length, knobs.lengths)
    offsets = _copy_sizes(key, start, n, choices)
    arrays = allocate(offsets[-1], (knobs.width + 1, np.uint8), (knobs.width, np.uint8))
    seq_len = np.empty(n, np.int32)
    _copy_fill(key, start, n, choices, offsets, *arrays, seq_len)
    return EpisodeBatch.from_kernel(offsets, arrays, start, meta={"length": seq_len})


def _copy_padded(knobs: CopyKnobs, key, start: int, n: int, batch_size: int, outputs) -> dict:
    """``_copy``'s episodes straight into padded batches (``memtasks.views.padded_batches``):
    the same fill kernel, given each episode's padded row for its offset."""
    choices = _choices(knobs.min_length, knobs.max_length, knobs.lengths)
    offsets = _copy_sizes(key, start, n, choices)
    rows, ends, arrays = padded_arrays(offsets, batch_size, outputs, knobs.width + 1, knobs.width)
    seq_len = np.empty(n, np.int32)
    _copy_fill(key, start, n, choices, rows, *arrays, seq_len, ends)  # padding included
    return {"length": seq_len}


_copy.padded = _copy_padded


register(
    TaskSpec(
        id="ntm/copy-v1",
        summary="copy a sequence of random bit vectors after a delimiter",
        knobs=CopyKnobs,
        generator=_copy,
        layout=CopyKnobs.layout,
        metric=BitMetric(),
        presets={
            "paper": {},
            # the lengths of the paper's generalisation figures; training never exceeded 20
            "extrapolate": {"lengths": (10, 20, 30, 50, 120)},
        },
        source=SOURCE,
    )
)


# ---------------------------------------------------------------------------------------------
# Repeat copy: L vectors, then the repeat count R on its own channel; targets are the L vectors
# R times, then an end marker on an extra output channel.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RepeatCopyKnobs(Knobs):
    width: int = knob(8, lo=1, hi=1024, doc="bits per vector")
    min_length: int = knob(1, lo=1, hi=MAX_LEN, doc="shortest sequence (vectors)")
    max_length: int = knob(
        10, lo=1, hi=MAX_LEN, doc="longest sequence (vectors)",
        harder="up", ladder=(3, 5, 10, 20, 40),
        why="more vectors to hold and replay on every repeat",
    )  # fmt: skip
    min_repeats: int = knob(1, lo=1, hi=MAX_LEN, doc="fewest repeats")
    max_repeats: int = knob(
        10, lo=1, hi=MAX_LEN, doc="most repeats",
        harder="up", ladder=(3, 5, 10, 20, 40),
        why="longer outputs and a count to keep; past norm_max_repeats, counts never trained on",
    )  # fmt: skip
    norm_min_repeats: int = knob(
        1,
        lo=1,
        hi=MAX_LEN,
        doc="the repeat count is normalised to mean 0, variance 1 over "
        "norm_min_repeats..norm_max_repeats; keep it at the training range when extrapolating",
    )
    norm_max_repeats: int = knob(10, lo=1, hi=MAX_LEN, doc="see norm_min_repeats")

    def check(self):
        self.require(self.min_length <= self.max_length, "min_length must be <= max_length")
        self.require(self.min_repeats <= self.max_repeats, "min_repeats must be <= max_repeats")
        self.require(
            self.norm_min_repeats < self.norm_max_repeats,
            "norm_min_repeats must be < norm_max_repeats",
        )
        self.require(
            self.max_length * (self.max_repeats + 1) + 2 <= 10 * MAX_LEN,
            f"max_length * max_repeats is too large (episodes over {10 * MAX_LEN} steps)",
        )

    def repeat_scale(self) -> tuple[float, float]:
        """Mean and standard deviation of the discrete uniform norm_min..norm_max repeats."""
        lo, hi = self.norm_min_repeats, self.norm_max_repeats
        return (lo + hi) / 2.0, math.sqrt(((hi - lo + 1) ** 2 - 1) / 12.0)

    def layout(self) -> Layout:
        bits = _bits(self.width)
        return Layout("float32", "uint8", (*bits, "delimiter", "repeats"), (*bits, "end"))


@njit(inline="always")
def _repeat_header(key, index, min_length, max_length, min_repeats, max_repeats):
    s = episode_state(key, index)
    s, a = next_below(s, max_length - min_length + 1)
    s, r = next_below(s, max_repeats - min_repeats + 1)
    return s, min_length + a, min_repeats + r


@kernel(weight=0.25)
def _repeat_copy_sizes(key, start, n, lo_len, hi_len, lo_rep, hi_rep):
    offsets = np.empty(n + 1, np.int64)
    for b in prange(n):
        _, length, reps = _repeat_header(key, start + b, lo_len, hi_len, lo_rep, hi_rep)
        offsets[b + 1] = length + 1 + reps * length + 1
    return running_sum(offsets)


@kernel(weight=2)  # about 50 positions per episode
def _repeat_copy_fill(key, start, n, lo_len, hi_len, lo_rep, hi_rep, mean, std, offsets,
                      inputs, targets, mask, role, segment, seq_len, repeats):  # fmt: skip
    """Episode b at rows ``offsets[b]`` onwards. Every row is written once, region by region,
    with unsigned indices into the flat arrays (as ``_copy_fill``): a third of the time of
    writing each row as zeros and then its values."""
    width = targets.shape[1] - 1
    w = np.uint64(width)
    wi, wt = w + np.uint64(2), w + _U1  # input rows: bits, delimiter, count; targets: bits, end
    flat_in, flat_tg = inputs.reshape(-1), targets.reshape(-1)
    for b in prange(n):
        s, length, reps = _repeat_header(key, start + b, lo_len, hi_len, lo_rep, hi_rep)
        seq_len[b] = length
        repeats[b] = reps
        o = np.uint64(offsets[b])
        m = np.uint64(length)
        d = o + m  # the delimiter and the normalised repeat count
        first = d + _U1  # the R copies, rows first .. end - 1, then the end marker at end
        end = first + np.uint64(reps) * m
        # the bits go to the targets' first repeat, then are copied to the inputs and the
        # other repeats: the inputs are float32, so they cannot take fill_bits' uint8 directly
        fill_bits(s, targets, np.int64(first), length, width)
        r = _U0
        while r < m:  # the sequence: its bits in, nothing out
            src, dst = (first + r) * wt, (o + r) * wi
            c = _U0
            while c < w:
                flat_in[dst + c] = flat_tg[src + c]
                c += _U1
            flat_in[dst + w] = 0
            flat_in[dst + w + _U1] = 0
            segment[o + r] = np.int64(r)
            r += _U1
        _fill(flat_tg, o * wt, first * wt, 0)
        _fill(flat_in, d * wi, d * wi + w, 0)
        flat_in[d * wi + w] = 1.0
        flat_in[d * wi + w + _U1] = (reps - mean) / std
        r = first + m
        while r < end:  # the repeats copy the first one
            src, dst = (r - m) * wt, r * wt
            c = _U0
            while c < w:
                flat_tg[dst + c] = flat_tg[src + c]
                c += _U1
            r += _U1
        r = first
        while r < end:
            flat_tg[r * wt + w] = 0
            r += _U1
        _fill(flat_tg, end * wt, end * wt + w, 0)
        flat_tg[end * wt + w] = 1
        _fill(flat_in, first * wi, (end + _U1) * wi, 0)
        _fill(mask, o, first, False)
        _fill(mask, first, end + _U1, True)
        _fill(role, o, d, ROLE_CONTEXT)
        role[d] = ROLE_CONTROL
        _fill(role, first, end + _U1, ROLE_ANSWER)
        _fill(segment, d, end + _U1, -1)


def _repeat_copy(knobs: RepeatCopyKnobs, key, start: int, n: int) -> EpisodeBatch:
    mean, std = knobs.repeat_scale()
    sizes = (knobs.min_length, knobs.max_length, knobs.min_repeats, knobs.max_repeats)
    offsets = _repeat_copy_sizes(key, start, n, *sizes)
    arrays = allocate(offsets[-1], (knobs.width + 2, np.float32), (knobs.width + 1, np.uint8))
    seq_len, repeats = np.empty(n, np.int32), np.empty(n, np.int32)
    _repeat_copy_fill(key, start, n, *sizes, mean, std, offsets, *arrays, seq_len, repeats)
    return EpisodeBatch.from_kernel(
        offsets, arrays, start, meta={"length": seq_len, "repeats": repeats}
    )


def _repeat_copy_padded(knobs: RepeatCopyKnobs, key, start: int, n: int, batch_size: int,
                        outputs) -> dict:  # fmt: skip
    """``_repeat_copy``'s episodes straight into padded batches (as ``_copy_padded``)."""
    mean, std = knobs.repeat_scale()
    sizes = (knobs.min_length, knobs.max_length, knobs.min_repeats, knobs.max_repeats)
    offsets = _repeat_copy_sizes(key, start, n, *sizes)
    rows, ends, arrays = padded_arrays(offsets, batch_size, outputs, knobs.width + 2,
                                       knobs.width + 1)  # fmt: skip
    seq_len, repeats = np.empty(n, np.int32), np.empty(n, np.int32)
    _repeat_copy_fill(key, start, n, *sizes, mean, std, rows, *arrays, seq_len, repeats)
    pad_tails(offsets, rows, ends, *arrays)
    return {"length": seq_len, "repeats": repeats}


_repeat_copy.padded = _repeat_copy_padded


register(
    TaskSpec(
        id="ntm/repeat-copy-v1",
        summary="copy a sequence of bit vectors R times, R given as a number, then signal the end",
        knobs=RepeatCopyKnobs,
        generator=_repeat_copy,
        layout=RepeatCopyKnobs.layout,
        metric=BitMetric(),
        presets={
            "paper": {},
            # the paper's Fig. 7 shows both ways out of the training range
            "extrapolate": {"max_length": 20, "max_repeats": 20},
            "extrapolate-length": {
                "min_length": 20,
                "max_length": 20,
                "min_repeats": 10,
                "max_repeats": 10,
            },
            "extrapolate-repeats": {
                "min_length": 10,
                "max_length": 10,
                "min_repeats": 20,
                "max_repeats": 20,
            },
        },  # fmt: skip
        source=SOURCE,
    )
)


# ---------------------------------------------------------------------------------------------
# Associative recall: K items of m vectors, each after an item delimiter; then a query item
# between two query delimiters; the target is the item that followed the query in the list.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AssociativeRecallKnobs(Knobs):
    item_width: int = knob(6, lo=1, hi=1024, doc="bits per vector")
    item_length: int = knob(
        3, lo=1, hi=1000, doc="vectors per item",
        harder="up", ladder=(1, 2, 3, 5, 8),
        why="longer items to store, and a longer query to match against them",
    )  # fmt: skip
    min_items: int = knob(2, lo=2, hi=10_000, doc="fewest items in the list")
    max_items: int = knob(
        6, lo=2, hi=10_000, doc="most items in the list",
        harder="up", ladder=(3, 6, 12, 24, 48),
        why="more key-value pairs to store and search by content",
    )  # fmt: skip

    def check(self):
        self.require(self.min_items <= self.max_items, "min_items must be <= max_items")
        bits = self.item_width * self.item_length
        # items are all distinct (else the answer is ambiguous); with at least twice as many
        # possible items as drawn ones, each redraw succeeds with probability >= 1/2
        self.require(
            bits >= 63 or 2**bits >= 2 * self.max_items,
            "2**(item_width * item_length) must be at least 2 * max_items so that items can be "
            "distinct",
        )

    def layout(self) -> Layout:
        bits = _bits(self.item_width)
        return Layout("uint8", "uint8", (*bits, "item delimiter", "query delimiter"), bits)


@njit(inline="always")
def _recall_header(key, index, min_items, max_items):
    s = episode_state(key, index)
    s, a = next_below(s, max_items - min_items + 1)
    items = min_items + a
    s, q = next_below(s, items - 1)  # the query is never the last item: it needs a successor
    return s, items, q


@njit(inline="always")
def _same_item(arr, row_a, row_b, m, w):
    for r in range(m):
        for c in range(w):
            if arr[row_a + r, c] != arr[row_b + r, c]:
                return False
    return True


@kernel(weight=0.25)
def _recall_sizes(key, start, n, m, min_items, max_items):
    offsets = np.empty(n + 1, np.int64)
    for b in prange(n):
        _, items, _ = _recall_header(key, start + b, min_items, max_items)
        offsets[b + 1] = items * (m + 1) + (m + 2) + m
    return running_sum(offsets)


@njit(inline="always")
def _control_row(inputs, targets, mask, role, segment, row, channel):
    """A delimiter row: only ``channel`` of the inputs is on."""
    set_row(inputs, row, 0)
    inputs[row, channel] = 1
    set_row(targets, row, 0)
    mask[row] = False
    role[row] = ROLE_CONTROL
    segment[row] = -1


@kernel(weight=3)
def _recall_fill(key, start, n, m, min_items, max_items, offsets, inputs, targets, mask, role,
                 segment, support, num_items, query):  # fmt: skip
    w = targets.shape[1]
    failed = 0
    for b in prange(n):
        s, items, q = _recall_header(key, start + b, min_items, max_items)
        o = offsets[b]
        num_items[b] = items
        query[b] = q
        for k in range(items):
            d = o + k * (m + 1)
            _control_row(inputs, targets, mask, role, segment, d, w)  # item delimiter
            tries = 0
            while True:
                s = fill_bits(s, inputs, d + 1, m, w)
                fresh = True
                for j in range(k):
                    if _same_item(inputs, o + j * (m + 1) + 1, d + 1, m, w):
                        fresh = False
                        break
                tries += 1
                if fresh or tries == 200:  # 200 misses at p <= 1/2 each: never in practice
                    break
            if not fresh:
                failed += 1
            for r in range(d + 1, d + 1 + m):
                inputs[r, w] = 0
                inputs[r, w + 1] = 0
                set_row(targets, r, 0)
                mask[r] = False
                role[r] = ROLE_CONTEXT
                segment[r] = k
        qd = o + items * (m + 1)  # the query item between two query delimiters
        _control_row(inputs, targets, mask, role, segment, qd, w + 1)
        _control_row(inputs, targets, mask, role, segment, qd + m + 1, w + 1)
        src = o + q * (m + 1) + 1
        nxt = src + m + 1
        for r in range(m):
            row, out = qd + 1 + r, qd + m + 2 + r
            set_row(inputs, row, 0)
            set_row(inputs, out, 0)
            for c in range(w):
                inputs[row, c] = inputs[src + r, c]
                targets[out, c] = inputs[nxt + r, c]
            set_row(targets, row, 0)
            mask[row] = False
            mask[out] = True
            role[row] = ROLE_QUERY
            role[out] = ROLE_ANSWER
            segment[row] = -1
            segment[out] = -1
        support[2 * b] = q
        support[2 * b + 1] = q + 1
    return failed


def _associative_recall(knobs: AssociativeRecallKnobs, key, start: int, n: int) -> EpisodeBatch:
    w, m = knobs.item_width, knobs.item_length
    sizes = (m, knobs.min_items, knobs.max_items)
    offsets = _recall_sizes(key, start, n, *sizes)
    arrays = allocate(offsets[-1], (w + 2, np.uint8), (w, np.uint8))
    support = np.empty(2 * n, np.int32)
    num_items, query = np.empty(n, np.int32), np.empty(n, np.int32)
    failed = _recall_fill(key, start, n, *sizes, offsets, *arrays, support, num_items, query)
    if failed:
        raise RuntimeError("associative recall could not draw distinct items; report this bug")
    support_offsets = np.arange(0, 2 * n + 1, 2, dtype=np.int64)
    return EpisodeBatch.from_kernel(
        offsets, arrays, start, support=(support_offsets, support),
        meta={"num_items": num_items, "query": query},
    )  # fmt: skip


def _associative_recall_padded(knobs: AssociativeRecallKnobs, key, start: int, n: int,
                               batch_size: int, outputs) -> dict:  # fmt: skip
    """``_associative_recall``'s episodes straight into padded batches (as ``_copy_padded``;
    the support, which the padded batches do not hold, goes to a scratch array)."""
    w, m = knobs.item_width, knobs.item_length
    sizes = (m, knobs.min_items, knobs.max_items)
    offsets = _recall_sizes(key, start, n, *sizes)
    rows, ends, arrays = padded_arrays(offsets, batch_size, outputs, w + 2, w)
    support = np.empty(2 * n, np.int32)
    num_items, query = np.empty(n, np.int32), np.empty(n, np.int32)
    failed = _recall_fill(key, start, n, *sizes, rows, *arrays, support, num_items, query)
    if failed:
        raise RuntimeError("associative recall could not draw distinct items; report this bug")
    pad_tails(offsets, rows, ends, *arrays)
    return {"num_items": num_items, "query": query}


_associative_recall.padded = _associative_recall_padded


register(
    TaskSpec(
        id="ntm/associative-recall-v1",
        summary="after a list of items, given one item, output the item that followed it",
        knobs=AssociativeRecallKnobs,
        generator=_associative_recall,
        layout=AssociativeRecallKnobs.layout,
        metric=BitMetric(),
        presets={
            "paper": {},
            # longer item lists than seen in training, up to the 12 the paper reports
            "extrapolate": {"min_items": 7, "max_items": 12},
        },
        source=SOURCE,
    )
)


# ---------------------------------------------------------------------------------------------
# Dynamic N-grams: bits from a random (order)-gram model whose 2**(order-1) conditional
# probabilities are fresh for every episode; the target is the next bit at every step.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NGramKnobs(Knobs):
    length: int = knob(200, lo=3, hi=MAX_LEN, doc="bits in the sequence")
    order: int = knob(
        6, lo=2, hi=11, doc="N of the N-gram: each bit depends on the N-1 before",
        harder="up", ladder=(2, 4, 6, 8, 10),
        why="2**(N-1) probabilities to infer from as many bits: fewer sightings of each context",
    )  # fmt: skip
    prior: float = knob(
        0.5, lo=0.01, hi=100.0, doc="each probability of the table is drawn from Beta(prior, prior)"
    )

    def check(self):
        self.require(self.length > self.order, "length must be > order")

    def layout(self) -> Layout:
        return Layout("uint8", "uint8", ("bit",), ("next bit",))


@kernel(weight=64)  # a Beta draw per table entry, a log per bit
def _ngram_fill(key, start, n, length, order, prior, inputs, targets, mask, role, segment, table,
                bayes_bits):  # fmt: skip
    ctx_bits = order - 1
    size = 1 << ctx_bits
    steps = length - 1  # position t reads bit t and predicts bit t + 1
    for b in prange(n):
        s = episode_state(key, start + b)
        for j in range(size):
            s, p = next_beta(s, prior, prior)
            table[b, j] = p
        ones = np.zeros(size, np.int64)
        seen = np.zeros(size, np.int64)
        o = b * steps
        ctx = 0  # the previous bits, the newest in the lowest bit: table[b, ctx]
        cost = 0.0
        for t in range(length):
            s, u = next_float(s)
            if t < ctx_bits:
                bit = 1 if u < 0.5 else 0  # the first N-1 bits have no full context
                if t > 0:
                    cost += 1.0
            else:
                # the table is used at float32 precision, so the stored table is exact
                bit = 1 if u < table[b, ctx] else 0
                # Bayes-optimal prediction from this context's counts so far (ntm-tasks.md)
                p1 = (ones[ctx] + prior) / (seen[ctx] + 2.0 * prior)
                cost -= math.log2(p1 if bit else 1.0 - p1)
                ones[ctx] += bit
                seen[ctx] += 1
            if t < steps:
                inputs[o + t, 0] = bit
                mask[o + t] = True
                role[o + t] = ROLE_ANSWER  # every position is scored
                segment[o + t] = -1
            if t > 0:
                targets[o + t - 1, 0] = bit
            ctx = ((ctx << 1) | bit) & (size - 1)
        bayes_bits[b] = cost


def _ngrams(knobs: NGramKnobs, key, start: int, n: int) -> EpisodeBatch:
    steps = knobs.length - 1
    offsets = np.arange(0, n * steps + 1, steps, dtype=np.int64)
    arrays = allocate(n * steps, (1, np.uint8), (1, np.uint8))
    table = np.empty((n, 1 << (knobs.order - 1)), np.float32)
    bayes_bits = np.empty(n, np.float64)
    _ngram_fill(key, start, n, knobs.length, knobs.order, knobs.prior, *arrays, table, bayes_bits)
    return EpisodeBatch.from_kernel(
        offsets, arrays, start, meta={"table": table, "bayes_bits": bayes_bits}
    )


def _ngrams_padded(knobs: NGramKnobs, key, start: int, n: int, batch_size: int, outputs) -> dict:
    """``_ngrams``'s episodes straight into padded batches: every episode has the same length,
    so the fill kernel's layout (episode b at row ``b * steps``) is the padded one already."""
    steps = knobs.length - 1
    offsets = np.arange(0, n * steps + 1, steps, dtype=np.int64)
    _, _, arrays = padded_arrays(offsets, batch_size, outputs, 1, 1)
    table = np.empty((n, 1 << (knobs.order - 1)), np.float32)
    bayes_bits = np.empty(n, np.float64)
    _ngram_fill(key, start, n, knobs.length, knobs.order, knobs.prior, *arrays, table, bayes_bits)
    return {"table": table, "bayes_bits": bayes_bits}


_ngrams.padded = _ngrams_padded


register(
    TaskSpec(
        id="ntm/dynamic-ngrams-v1",
        summary="predict the next bit of a sequence drawn from a random N-gram model",
        knobs=NGramKnobs,
        generator=_ngrams,
        layout=NGramKnobs.layout,
        metric=BitMetric(optimum="bayes_bits"),
        presets={
            "paper": {},
            # not in the paper: five times longer sequences, so the optimum per bit is lower
            "extrapolate": {"length": 1000},
        },
        source=SOURCE,
    )
)


# ---------------------------------------------------------------------------------------------
# Priority sort: vectors with a priority each; targets are the highest-priority ones, sorted.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrioritySortKnobs(Knobs):
    width: int = knob(8, lo=1, hi=1024, doc="bits per vector (not fixed by the paper; 8 is common)")
    num_items: int = knob(
        20, lo=1, hi=MAX_LEN, doc="vectors in the input",
        harder="up", ladder=(16, 20, 40, 80, 160),
        why="more vectors to store and rank by priority",
    )  # fmt: skip
    num_outputs: int = knob(
        16, lo=1, hi=MAX_LEN, doc="highest-priority vectors to output",
        harder="up", ladder=(2, 4, 8, 16, 20),
        why="a longer sorted output to produce from memory",
    )  # fmt: skip

    def check(self):
        self.require(self.num_outputs <= self.num_items, "num_outputs must be <= num_items")

    def layout(self) -> Layout:
        bits = _bits(self.width)
        return Layout("float32", "uint8", (*bits, "priority", "delimiter"), bits)


@kernel(weight=4)  # a sort per episode
def _sort_fill(key, start, n, items, outputs, inputs, targets, mask, role, segment, support):
    width = targets.shape[1]
    steps = items + 1 + outputs
    for b in prange(n):
        s = episode_state(key, start + b)
        o = b * steps
        bits = np.empty((items, width), np.uint8)
        priority = np.empty(items, np.float32)
        s = fill_bits(s, bits, 0, items, width)
        for r in range(items):  # the vectors with their priorities
            s, u = next_float(s)
            priority[r] = np.float32(2.0 * u - 1.0)  # uniform in [-1, 1)
            for c in range(width):
                inputs[o + r, c] = bits[r, c]
            inputs[o + r, width] = priority[r]
            inputs[o + r, width + 1] = 0.0
            set_row(targets, o + r, 0)
            mask[o + r] = False
            role[o + r] = ROLE_CONTEXT
            segment[o + r] = r
        d = o + items  # delimiter
        set_row(inputs, d, 0.0)
        inputs[d, width + 1] = 1.0
        set_row(targets, d, 0)
        mask[d] = False
        role[d] = ROLE_CONTROL
        segment[d] = -1
        # highest priority first; a stable sort keeps input order between equal priorities
        order = np.argsort(-priority, kind="mergesort")
        for j in range(outputs):
            row = d + 1 + j
            set_row(inputs, row, 0.0)
            for c in range(width):
                targets[row, c] = bits[order[j], c]
            mask[row] = True
            role[row] = ROLE_ANSWER
            segment[row] = -1
            support[b * outputs + j] = order[j]


def _priority_sort(knobs: PrioritySortKnobs, key, start: int, n: int) -> EpisodeBatch:
    items, outputs = knobs.num_items, knobs.num_outputs
    steps = items + 1 + outputs
    offsets = np.arange(0, n * steps + 1, steps, dtype=np.int64)
    arrays = allocate(n * steps, (knobs.width + 2, np.float32), (knobs.width, np.uint8))
    support = np.empty(n * outputs, np.int32)
    _sort_fill(key, start, n, items, outputs, *arrays, support)
    support_offsets = np.arange(0, n * outputs + 1, outputs, dtype=np.int64)
    return EpisodeBatch.from_kernel(offsets, arrays, start, support=(support_offsets, support))


def _priority_sort_padded(knobs: PrioritySortKnobs, key, start: int, n: int, batch_size: int,
                          outputs) -> dict:  # fmt: skip
    """``_priority_sort``'s episodes straight into padded batches (one length, as n-grams)."""
    items, count = knobs.num_items, knobs.num_outputs
    steps = items + 1 + count
    offsets = np.arange(0, n * steps + 1, steps, dtype=np.int64)
    _, _, arrays = padded_arrays(offsets, batch_size, outputs, knobs.width + 2, knobs.width)
    _sort_fill(key, start, n, items, count, *arrays, np.empty(n * count, np.int32))
    return {}


_priority_sort.padded = _priority_sort_padded


register(
    TaskSpec(
        id="ntm/priority-sort-v1",
        summary="output the highest-priority vectors of a list, sorted by priority",
        knobs=PrioritySortKnobs,
        generator=_priority_sort,
        layout=PrioritySortKnobs.layout,
        metric=BitMetric(),
        presets={
            "paper": {},
            # not in the paper (it reports no generalisation test): twice the list
            "extrapolate": {"num_items": 40, "num_outputs": 32},
        },
        source=SOURCE,
    )
)
