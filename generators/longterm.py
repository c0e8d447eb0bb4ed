"""The long-term dependency problems of the survey (sec. 3.4.2 and 3.1.3, eq. 44-45): the
problems on which plain RNNs fail and LSTM, and later attention, succeed, because the answer
depends on inputs seen far back with nothing in between that helps.

- ``longterm/adding-v1`` and ``longterm/multiplication-v1``: Hochreiter & Schmidhuber 1997
  (Neural Computation 9(8), experiments 4 and 5), lengths 50 to 10,000 as in Raffel & Ellis
  2016 (arXiv:1512.08756), whose feed-forward attention solves them;
- ``longterm/xor-v1``: the same layout with bits and their XOR (Martens & Sutskever 2011, sec.
  4.1, in the layout of Raffel & Ellis's generators);
- ``longterm/temporal-order-v1``: experiment 6 of the 1997 paper, 2 or 3 relevant symbols;
- ``longterm/permutation-v1`` and ``longterm/memorization-v1``: the random permutation and
  noiseless memorisation problems (Martens & Sutskever 2011; Pascanu, Mikolov & Bengio 2013).

Every task is a vector task (one row per time step, inputs float32 or uint8 one-hot channels),
scored only on its answer rows. Each is one pair of compiled kernels, as the NTM tasks: the
first draws each episode's length, NumPy allocates the flat arrays, the second redraws the same
header from the same stream and writes the episode in place, so any slice of indices is
reproducible on its own. The same fill kernel writes the padded batches a model reads
(``two_layouts``: given each episode's padded row for its offset), and it writes each row once,
in one pass, with unsigned row indices (Numba checks signed ones for wrapping around from the
end, which keeps the stores from being vectorised): 3.5x faster than zeroing every row first.

Cards: ``data_cards/longterm/<name>.md``. Tests: ``tests/test_longterm_tasks.py``. Benchmark:
``benchmarks/bench_longterm.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_CONTROL
from memtasks.knobs import Knobs, knob
from memtasks.metrics import BitMetric, ClassMetric, ThresholdRegression
from memtasks.registry import Layout, TaskSpec, register
from memtasks.rng import episode_state, next_below, next_float

from ._kernels import kernel, running_sum, set_row, two_layouts

HOCHREITER = "Hochreiter & Schmidhuber (1997), Long Short-Term Memory, Neural Computation 9(8)"
RAFFEL = "Raffel & Ellis (2016), Feed-Forward Networks with Attention, arXiv:1512.08756"
MARTENS = (
    "Martens & Sutskever (2011), Learning Recurrent Neural Networks with Hessian-Free "
    "Optimization, ICML"
)
PASCANU = "Pascanu, Mikolov & Bengio (2013), On the difficulty of training RNNs, arXiv:1211.5063"
MAX_LEN = 1_000_000  # a sanity bound: one episode of a million steps is already huge
LENGTHS = (50, 100, 500, 1000, 5000, 10_000)  # Raffel & Ellis's T0


@njit(inline="always")
def _length(state, lo, spread):
    """(state', a length uniform in lo .. lo + spread)."""
    state, extra = next_below(state, spread + 1)
    return state, lo + extra


U64 = np.uint64


@njit(inline="always")
def _context_row(inputs, targets, mask, role, segment, q, r):
    """Row ``q`` (unsigned), step ``r`` of its episode, as unscored context: inputs and targets
    zero, ``segment`` the step; each task writes its symbol into it in the same pass, then its
    answers and controls over the rows they take."""
    c = U64(0)
    while c < U64(inputs.shape[1]):  # unsigned: a loop LLVM turns into vector stores
        inputs[q, c] = 0
        c += U64(1)
    c = U64(0)
    while c < U64(targets.shape[1]):
        targets[q, c] = 0
        c += U64(1)
    mask[q] = False
    role[q] = ROLE_CONTEXT
    segment[q] = r


def _spread(length: int, jitter: float) -> int:
    return int(length * jitter)


# ---------------------------------------------------------------------------------------------
# Adding, multiplication, XOR: two channels (value, marker); two marked steps; the answer at the
# last step is a function of the two marked values.
# ---------------------------------------------------------------------------------------------
OP_ADD, OP_MULTIPLY, OP_XOR = 0, 1, 2


@dataclass(frozen=True)
class MarkedPairKnobs(Knobs):
    length: int = knob(
        100, lo=12, hi=MAX_LEN, doc="T: the shortest sequence; lengths are uniform in "
        "T .. T + floor(jitter * T)", harder="up", ladder=LENGTHS,
        why="the marked values lie at least T/2 (the second) and T - 10 (the first) steps "
        "before the answer",
    )  # fmt: skip
    jitter: float = knob(0.1, lo=0.0, hi=1.0, doc="lengths vary by up to this share of T")
    first_window: int = knob(
        10, lo=2, hi=MAX_LEN, doc="the first marked step is one of steps 1 .. first_window - 1"
    )

    def check(self):
        self.require(
            self.first_window < self.length // 2 - 1,
            "first_window must be < length // 2 - 1 (the second marker's window)",
        )

    def layout(self) -> Layout:
        return Layout("float32", "float32", ("value", "marker"), ("answer",))


@njit(inline="always")
def _pair_header(key, index, lo, spread, first_window):
    s = episode_state(key, index)
    s, length = _length(s, lo, spread)
    # Raffel & Ellis's reading of Hochreiter & Schmidhuber: the first mark in 1 .. 9 (step 0
    # carries the start marker), the second in 1 .. T/2 - 2, never on the first
    s, p1 = next_below(s, first_window - 1)
    p1 += 1
    s, p2 = next_below(s, lo // 2 - 3)
    p2 += 1
    if p2 >= p1:
        p2 += 1
    return s, length, p1, p2


@kernel(weight=0.25)
def _pair_sizes(key, start, n, lo, spread, first_window):
    offsets = np.empty(n + 1, np.int64)
    for b in prange(n):
        _, length, _, _ = _pair_header(key, start + b, lo, spread, first_window)
        offsets[b + 1] = length
    return running_sum(offsets)


@njit(inline="always")
def _pair_row(inputs, targets, mask, role, segment, q, r, value):
    """Context row ``q`` with ``value`` in the value channel, no marker."""
    inputs[q, 0] = value  # adding: uniform in [-1, 1); multiplication: [0, 1); XOR: a bit
    inputs[q, 1] = 0
    targets[q, 0] = 0
    mask[q] = False
    role[q] = ROLE_CONTEXT
    segment[q] = r


@kernel(weight=4.0)
def _pair_fill(key, start, n, lo, spread, first_window, op, offsets, inputs, targets, mask,
               role, segment, first, second):  # fmt: skip
    for b in prange(n):
        s, length, p1, p2 = _pair_header(key, start + b, lo, spread, first_window)
        o = U64(offsets[b])
        first[b], second[b] = p1, p2
        # one loop per operation: a branch inside the loop keeps it from being unrolled
        if op == OP_ADD:
            for r in range(length):
                s, u = next_float(s)
                _pair_row(inputs, targets, mask, role, segment, o + U64(r), r, 2.0 * u - 1.0)
        elif op == OP_MULTIPLY:
            for r in range(length):
                s, u = next_float(s)
                _pair_row(inputs, targets, mask, role, segment, o + U64(r), r, u)
        else:
            for r in range(length):
                s, k = next_below(s, 2)
                _pair_row(inputs, targets, mask, role, segment, o + U64(r), r, float(k))
        inputs[o, 1] = -1.0  # the start and end markers of the 1997 paper
        inputs[o + length - 1, 1] = -1.0
        inputs[o + p1, 1] = 1.0
        inputs[o + p2, 1] = 1.0
        x1, x2 = inputs[o + p1, 0], inputs[o + p2, 0]
        last = o + length - 1
        if op == OP_ADD:
            targets[last, 0] = 0.5 + (x1 + x2) / 4.0  # eq. of exp. 4: the target in [0, 1]
        elif op == OP_MULTIPLY:
            targets[last, 0] = x1 * x2
        else:
            targets[last, 0] = float(int(x1) ^ int(x2))
        mask[last] = True
        role[last] = ROLE_ANSWER


def _pair(op: int, target_dtype):
    @two_layouts
    def generate(knobs: MarkedPairKnobs, key, start: int, n: int, layout):
        lo, spread = knobs.length, _spread(knobs.length, knobs.jitter)
        offsets = _pair_sizes(key, start, n, lo, spread, knobs.first_window)
        rows, arrays = layout(offsets, (2, np.float32), (1, np.float32))
        first, second = np.empty(n, np.int32), np.empty(n, np.int32)
        _pair_fill(key, start, n, lo, spread, knobs.first_window, op, rows, *arrays, first,
                   second)  # fmt: skip
        if target_dtype is not np.float32 and not layout.padded:  # XOR's answer is a bit
            arrays = (arrays[0], arrays[1].astype(target_dtype), *arrays[2:])
        meta = {"length": np.diff(offsets).astype(np.int32), "first": first, "second": second}
        return offsets, arrays, {"meta": meta}

    return generate


def _pair_presets() -> dict:
    return {
        "paper": {},  # T = 100, the 1997 paper's first setting
        "extrapolate": {"length": 1000},  # ten times the lag (the 1997 paper's longest T)
    }


@dataclass(frozen=True)
class AddingKnobs(MarkedPairKnobs):
    """The adding problem's knobs (a class of its own, so that its messages name it)."""


@dataclass(frozen=True)
class MultiplicationKnobs(MarkedPairKnobs):
    """The multiplication problem's knobs."""


register(
    TaskSpec(
        id="longterm/adding-v1",
        summary="the adding problem: the sum of two marked values in a long random sequence",
        knobs=AddingKnobs,
        generator=_pair(OP_ADD, np.float32),
        layout=AddingKnobs.layout,
        metric=ThresholdRegression(threshold=0.04, baseline_mse=1.0 / 24.0),
        presets=_pair_presets(),
        source=f"{HOCHREITER}, experiment 4; {RAFFEL}",
    )
)
register(
    TaskSpec(
        id="longterm/multiplication-v1",
        summary="the multiplication problem: the product of two marked values",
        knobs=MultiplicationKnobs,
        generator=_pair(OP_MULTIPLY, np.float32),
        layout=MultiplicationKnobs.layout,
        metric=ThresholdRegression(threshold=0.04, baseline_mse=7.0 / 144.0),
        presets=_pair_presets(),
        source=f"{HOCHREITER}, experiment 5; {RAFFEL}",
    )
)


@dataclass(frozen=True)
class XorKnobs(MarkedPairKnobs):
    def layout(self) -> Layout:
        return Layout("float32", "uint8", ("value", "marker"), ("answer",))


register(
    TaskSpec(
        id="longterm/xor-v1",
        summary="the XOR problem: the XOR of two marked bits in a long random bit sequence",
        knobs=XorKnobs,
        generator=_pair(OP_XOR, np.uint8),
        layout=XorKnobs.layout,
        metric=BitMetric(),
        presets=_pair_presets(),
        source=f"{MARTENS}, sec. 4.1; the layout of {RAFFEL}'s generators",
    )
)


# ---------------------------------------------------------------------------------------------
# Temporal order: one-hot symbols; X or Y at 2 (or 3) steps in set windows among distractors;
# the class of their order at the last step.
# ---------------------------------------------------------------------------------------------
SYMBOLS = ("E", "B", "a", "b", "c", "d", "X", "Y")  # start, trigger, 4 distractors, relevant
# windows as shares of the base length: at 100, the 1997 paper's 10-20, 50-60 (6a) and 10-20,
# 33-43, 66-76 (6b)
_WINDOWS = {2: ((0.10, 0.20), (0.50, 0.60)), 3: ((0.10, 0.20), (0.33, 0.43), (0.66, 0.76))}


@dataclass(frozen=True)
class TemporalOrderKnobs(Knobs):
    relevant: int = knob(
        2, lo=2, hi=3, doc="relevant symbols (X or Y each): 2 (experiment 6a, 4 classes) or 3 "
        "(6b, 8 classes)", harder="up", ladder=(2, 3), why="twice the classes, one more lag",
    )  # fmt: skip
    length: int = knob(
        100, lo=20, hi=MAX_LEN, doc="the shortest sequence; the windows scale with it",
        harder="up", ladder=(100, 200, 500, 1000), why="longer lags between the relevant steps",
    )  # fmt: skip
    jitter: float = knob(0.1, lo=0.0, hi=1.0, doc="lengths vary by up to this share of length")

    def layout(self) -> Layout:
        classes = tuple(
            "".join("XY"[(c >> (self.relevant - 1 - i)) & 1] for i in range(self.relevant))
            for c in range(2**self.relevant)
        )
        return Layout("uint8", "uint8", SYMBOLS, classes)

    def windows(self) -> np.ndarray:
        """``int64[relevant, 2]``: each relevant step's first and last possible step."""
        w = [(int(a * self.length), int(b * self.length)) for a, b in _WINDOWS[self.relevant]]
        return np.asarray(w, dtype=np.int64)


@njit(inline="always")
def _order_length(key, index, lo, spread):
    return _length(episode_state(key, index), lo, spread)


@kernel(weight=0.25)
def _order_sizes(key, start, n, lo, spread):
    offsets = np.empty(n + 1, np.int64)
    for b in prange(n):
        _, length = _order_length(key, start + b, lo, spread)
        offsets[b + 1] = length
    return running_sum(offsets)


@kernel(weight=4.0)
def _order_fill(key, start, n, lo, spread, windows, offsets, inputs, targets, mask, role,
                segment, label, steps):  # fmt: skip
    k = windows.shape[0]
    width = inputs.shape[1]
    for b in prange(n):
        s, length = _order_length(key, start + b, lo, spread)
        o = U64(offsets[b])
        for r in range(length):
            s, d = next_below(s, 4)
            q = o + U64(r)
            _context_row(inputs, targets, mask, role, segment, q, r)
            inputs[q, 2 + d] = 1  # a distractor a .. d
        c = 0
        for i in range(k):
            s, p = next_below(s, windows[i, 1] - windows[i, 0] + 1)
            p += windows[i, 0]
            s, y = next_below(s, 2)  # 0: X, 1: Y
            for j in range(width):
                inputs[o + p, j] = 0
            inputs[o + p, 6 + y] = 1
            steps[b, i] = p
            c = 2 * c + y
        set_row(inputs, o, 0)
        inputs[o, 0] = 1  # E
        last = o + length - 1
        set_row(inputs, last, 0)
        inputs[last, 1] = 1  # B, the trigger: answer now
        targets[last, c] = 1
        mask[last] = True
        role[last] = ROLE_ANSWER
        role[o] = ROLE_CONTROL
        segment[o] = -1
        label[b] = c


@two_layouts
def _temporal_order(knobs: TemporalOrderKnobs, key, start: int, n: int, layout):
    lo, spread = knobs.length, _spread(knobs.length, knobs.jitter)
    offsets = _order_sizes(key, start, n, lo, spread)
    rows, arrays = layout(offsets, (len(SYMBOLS), np.uint8), (2**knobs.relevant, np.uint8))
    label = np.empty(n, np.int32)
    steps = np.empty((n, knobs.relevant), np.int32)
    _order_fill(key, start, n, lo, spread, knobs.windows(), rows, *arrays, label, steps)
    meta = {"length": np.diff(offsets).astype(np.int32), "label": label}
    meta.update({f"step_{i + 1}": steps[:, i].copy() for i in range(knobs.relevant)})
    return offsets, arrays, {"meta": meta}


register(
    TaskSpec(
        id="longterm/temporal-order-v1",
        summary="temporal order: the order of 2 (or 3) X/Y symbols far apart among distractors",
        knobs=TemporalOrderKnobs,
        generator=_temporal_order,
        layout=TemporalOrderKnobs.layout,
        metric=ClassMetric(),
        presets={
            "paper": {},  # experiment 6a
            "paper-3": {"relevant": 3},  # experiment 6b
            "extrapolate": {"length": 1000},
        },
        source=f"{HOCHREITER}, experiment 6",
    )
)


# ---------------------------------------------------------------------------------------------
# Random permutation: 100 one-hot symbols; the first is 0 or 1, the rest 2 .. 99; at the last
# step, say which the first was.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PermutationKnobs(Knobs):
    length: int = knob(
        100, lo=2, hi=MAX_LEN, doc="the shortest sequence", harder="up",
        ladder=(50, 100, 200, 500, 1000), why="the first symbol is asked for at the end",
    )  # fmt: skip
    jitter: float = knob(0.1, lo=0.0, hi=1.0, doc="lengths vary by up to this share of length")
    symbols: int = knob(100, lo=3, hi=1000, doc="one-hot symbols; 0 and 1 are the answers")

    def layout(self) -> Layout:
        names = tuple(f"s{i}" for i in range(self.symbols))
        return Layout("uint8", "uint8", names, names)


@kernel(weight=4.0)
def _permutation_fill(key, start, n, lo, spread, offsets, inputs, targets, mask, role,
                      segment):  # fmt: skip
    symbols = inputs.shape[1]
    for b in prange(n):
        s, length = _order_length(key, start + b, lo, spread)
        o = U64(offsets[b])
        for r in range(length):
            if r == 0:
                s, v = next_below(s, 2)
            else:
                s, v = next_below(s, symbols - 2)
                v += 2
            q = o + U64(r)
            _context_row(inputs, targets, mask, role, segment, q, r)
            inputs[q, v] = 1
        last = o + length - 1
        for c in range(2):
            targets[last, c] = inputs[o, c]
        mask[last] = True
        role[last] = ROLE_ANSWER


@two_layouts
def _permutation(knobs: PermutationKnobs, key, start: int, n: int, layout):
    lo, spread = knobs.length, _spread(knobs.length, knobs.jitter)
    offsets = _order_sizes(key, start, n, lo, spread)
    rows, arrays = layout(offsets, (knobs.symbols, np.uint8), (knobs.symbols, np.uint8))
    _permutation_fill(key, start, n, lo, spread, rows, *arrays)
    return offsets, arrays, {"meta": {"length": np.diff(offsets).astype(np.int32)}}


register(
    TaskSpec(
        id="longterm/permutation-v1",
        summary="random permutation: name the first of a long sequence of random symbols",
        knobs=PermutationKnobs,
        generator=_permutation,
        layout=PermutationKnobs.layout,
        metric=ClassMetric(),
        presets={"paper": {}, "extrapolate": {"length": 1000}},
        source=f"{MARTENS}; {PASCANU}",
    )
)


# ---------------------------------------------------------------------------------------------
# Noiseless memorisation: P symbols of V values, a silent delay, a "go" marker, then the P
# symbols back.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemorizationKnobs(Knobs):
    delay: int = knob(
        100, lo=0, hi=MAX_LEN, doc="blank steps between the pattern and the go marker",
        harder="up", ladder=(50, 100, 200, 500, 1000), why="the pattern must be held longer",
    )  # fmt: skip
    jitter: float = knob(0.0, lo=0.0, hi=1.0, doc="delays vary by up to this share of delay")
    values: int = knob(5, lo=2, hi=256, doc="V: the values a pattern symbol takes")
    positions: int = knob(
        10, lo=1, hi=10_000, doc="P: pattern length", harder="up", ladder=(5, 10, 20, 40),
        why="more symbols to hold",
    )  # fmt: skip

    def layout(self) -> Layout:
        vals = tuple(f"v{i}" for i in range(self.values))
        return Layout("uint8", "uint8", (*vals, "blank", "go"), (*vals, "blank"))


@njit(inline="always")
def _memo_header(key, index, lo, spread, positions):
    s, delay = _length(episode_state(key, index), lo, spread)
    return s, delay, 2 * positions + delay + 1


@kernel(weight=0.25)
def _memo_sizes(key, start, n, lo, spread, positions):
    offsets = np.empty(n + 1, np.int64)
    for b in prange(n):
        _, _, total = _memo_header(key, start + b, lo, spread, positions)
        offsets[b + 1] = total
    return running_sum(offsets)


@kernel(weight=4.0)
def _memo_fill(key, start, n, lo, spread, positions, offsets, inputs, targets, mask, role,
               segment):  # fmt: skip
    values = targets.shape[1] - 1
    blank_in, go, blank_out = values, values + 1, values
    for b in prange(n):
        s, delay, total = _memo_header(key, start + b, lo, spread, positions)
        o = U64(offsets[b])
        for r in range(total):
            q = o + U64(r)
            _context_row(inputs, targets, mask, role, segment, q, r)
            targets[q, blank_out] = 1
            if r < positions:
                s, v = next_below(s, values)
                inputs[q, v] = 1
            else:
                inputs[q, blank_in] = 1
                segment[q] = -1
        o = offsets[b]
        g = o + positions + delay
        inputs[g, blank_in] = 0
        inputs[g, go] = 1
        role[g] = ROLE_CONTROL
        for r in range(positions):
            a = g + 1 + r
            targets[a, blank_out] = 0
            for v in range(values):
                targets[a, v] = inputs[o + r, v]
            mask[a] = True
            role[a] = ROLE_ANSWER


@two_layouts
def _memorization(knobs: MemorizationKnobs, key, start: int, n: int, layout):
    lo, spread = knobs.delay, _spread(knobs.delay, knobs.jitter)
    p = knobs.positions
    offsets = _memo_sizes(key, start, n, lo, spread, p)
    rows, arrays = layout(offsets, (knobs.values + 2, np.uint8), (knobs.values + 1, np.uint8))
    _memo_fill(key, start, n, lo, spread, p, rows, *arrays)
    meta = {"delay": (np.diff(offsets) - 2 * p - 1).astype(np.int32)}
    return offsets, arrays, {"meta": meta}


register(
    TaskSpec(
        id="longterm/memorization-v1",
        summary="noiseless memorisation: a pattern of symbols, a long silence, the pattern back",
        knobs=MemorizationKnobs,
        generator=_memorization,
        layout=MemorizationKnobs.layout,
        metric=ClassMetric(),
        presets={"paper": {}, "extrapolate": {"delay": 1000}},
        source=f"{MARTENS}; {PASCANU}",
    )
)
