"""The Hierarchical Attentive Memory's tasks (Andrychowicz & Kurach 2016, arXiv:1602.03218): the
algorithms an LSTM with HAM learnt from input-output examples, and the data structures it was
trained to act as, each tested on inputs twice and four times the training length.

- ``ham/reverse-v1``: a sequence of numbers, then the sequence backwards;
- ``ham/search-v1``: (key, value) pairs sorted by key and a query key; the value of the first
  pair with that key;
- ``ham/merge-v1``: two sequences of (priority, value) pairs, each sorted by priority; the
  values of both in priority order;
- ``ham/sort-v1``: (key, value) pairs; the values sorted by key, stably;
- ``ham/add-v1``: two binary numbers, least significant bit first; their sum, likewise;
- ``ham/stack-v1``, ``ham/queue-v1``, ``ham/priority-queue-v1``: a sequence of operations (push
  and pop; enqueue and dequeue; insert with a priority and pop-max); after each pop, the value
  it returns.

Every task is a token task: the vocabulary is ``<pad>`` (id 0), ``<answer>`` (id 1), the task's
symbols, then the numbers ``0 .. N-1`` as words. An episode is its input (role 0, each number or
operation a context item), a query (role 1: the ``<go>`` symbol, ``=``, ``? key``, or the pop word
itself), and answer positions (role 2, scored) that read ``<answer>``, so that a causal model
never sees an answer before it must give it. The metric is ``TokenAccuracy``: the share of
answer positions right (the paper's "percentage of correct outputs", as recalled), sequence
accuracy beside it.

Each task is a pair of compiled kernels, as the other families: the first draws each episode's
size and returns the offsets, NumPy allocates the arrays, the second redraws the same episode
from the same stream and writes it in place: in flat arrays for ``generate``, or straight into
the padded batches a model reads (``_kernels.two_layouts``) for the torch stream.

Cards: ``data_cards/ham/<name>.md``. Tests: ``tests/test_ham_tasks.py``. Benchmark:
``benchmarks/bench_ham.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

try:  # LLVM's cttz, from a module Numba does not promise to keep (numba 0.68 has it)
    from numba.cpython.unsafe.numbers import trailing_zeros
except ImportError:  # pragma: no cover - a later Numba: the same count, a bit at a time

    @njit(inline="always")
    def trailing_zeros(word):
        count = np.uint64(0)
        while (word & np.uint64(1)) == 0:
            word >>= np.uint64(1)
            count += np.uint64(1)
        return count


from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_CONTROL, ROLE_QUERY
from memtasks.knobs import Knobs, knob
from memtasks.metrics import TokenAccuracy
from memtasks.registry import Layout, TaskSpec, register
from memtasks.rng import (
    below_bound,
    episode_state,
    next_below_lazy,
    next_below_with,
    next_float,
    next_u64,
)

from ._kernels import kernel, running_sum, two_layouts

HAM = (
    "Andrychowicz & Kurach (2016), Learning Efficient Algorithms with Hierarchical Attentive "
    "Memory, arXiv:1602.03218"
)
MAX_LEN = 100_000  # a sanity bound: 100,000 elements is 3,000 times the training length
MAX_SYMBOLS = 100_000  # numbers a task's vocabulary may hold
PAPER_LENGTH = 32  # n, the training length (recalled, see the cards); tests at 2n and 4n
LADDER = (8, 16, 32, 64, 128)

PAD, ANSWER = 0, 1
SPECIALS = ("<pad>", "<answer>")


def _vocab(symbols: tuple[str, ...], numbers: int) -> tuple[str, ...]:
    """``<pad>``, ``<answer>``, the task's symbols, then the numbers 0 .. numbers-1 as words."""
    return (*SPECIALS, *symbols, *(str(i) for i in range(numbers)))


def _presets() -> dict:
    return {
        "paper": {},  # n = 32
        "extrapolate": {"length": 2 * PAPER_LENGTH},
        "extrapolate-4x": {"length": 4 * PAPER_LENGTH},
    }


# ---------------------------------------------------------------------------------------------
# Knobs shared by the tasks (each task has its own class, so that its messages name it)
# ---------------------------------------------------------------------------------------------
def _length(lo: int, doc: str, why: str):
    return knob(PAPER_LENGTH, lo=lo, hi=MAX_LEN, doc=doc, harder="up", ladder=LADDER, why=why)


def _jitter():
    return knob(
        0.0, lo=0.0, hi=1.0, doc="lengths are uniform in length - floor(jitter * length) .. "
        "length (0: every episode has the full length)",
    )  # fmt: skip


def _values(doc: str = "V: the values an element takes (numbers 0 .. V-1)"):
    return knob(32, lo=2, hi=MAX_SYMBOLS, doc=doc)


class _HamKnobs(Knobs):
    """What every task's knobs share: the range of lengths an episode draws from."""

    MIN_LENGTH = 1

    def lengths(self) -> tuple[int, int]:
        """(shortest length, spread): lengths are uniform in lo .. lo + spread."""
        lo = max(self.MIN_LENGTH, self.length - int(self.jitter * self.length))
        return lo, self.length - lo


# ---------------------------------------------------------------------------------------------
# Compiled helpers
# ---------------------------------------------------------------------------------------------


@njit(inline="always")
def _put(inputs, targets, mask, role, segment, p, token, target, r, seg):
    """Write position ``p``: scored exactly when it is an answer."""
    inputs[p] = token
    targets[p] = target
    mask[p] = r == ROLE_ANSWER
    role[p] = r
    segment[p] = seg


# Episodes per scratch allocation: a fill kernel allocates its scratch arrays once per chunk of
# episodes, not per episode (an allocation costs about as much as writing a short episode).
CHUNK = 64
TOKENS = (None, np.int32)  # a token task's inputs and targets (``two_layouts``)
_U1, _U2 = np.uint64(1), np.uint64(2)


@njit(inline="always")
def _header(key, index, lo, spread):
    """(state', the episode's length, uniform in lo .. lo + spread)."""
    s = episode_state(key, index)
    s, extra = next_below_lazy(s, spread + 1)
    return s, lo + extra


@njit(inline="always")
def _pair(inputs, targets, mask, role, segment, p, key, value, i):
    """A (key, value) pair of context tokens at rows ``p`` and ``p + 1``, pair ``i``."""
    inputs[p] = key
    inputs[p + _U1] = value
    targets[p] = PAD
    targets[p + _U1] = PAD
    mask[p] = False
    mask[p + _U1] = False
    role[p] = ROLE_CONTEXT
    role[p + _U1] = ROLE_CONTEXT
    segment[p] = i
    segment[p + _U1] = i


@njit(inline="always")
def _answers(inputs, mask, role, segment, first, m):
    """The inputs, mask, role and segment of ``m`` answer positions from row ``first`` (all
    but their targets), in a loop of unsigned indices that compiles to vector stores."""
    p = first
    stop = first + np.uint64(m)
    while p < stop:
        inputs[p] = ANSWER
        mask[p] = True
        role[p] = ROLE_ANSWER
        segment[p] = -1
        p += _U1


@kernel(weight=0.25)
def _fixed_sizes(key, start, n, lo, spread, per, extra):
    """Offsets of the algorithmic tasks, whose episode of length m has ``per * m + extra``
    positions."""
    offsets = np.empty(n + 1, np.int64)
    for b in prange(n):
        _, m = _header(key, start + b, lo, spread)
        offsets[b + 1] = per * m + extra
    return running_sum(offsets)


# ---------------------------------------------------------------------------------------------
# Reverse: x_1 .. x_m <go> then x_m .. x_1
# ---------------------------------------------------------------------------------------------
REVERSE_SYMBOLS = ("<go>",)
REVERSE_GO = 2


@kernel(weight=3.0)
def _reverse_fill(key, start, n, lo, spread, values, rows, inputs, targets, mask, role,
                  segment, length):  # fmt: skip
    base = 2 + len(REVERSE_SYMBOLS)
    nv, tv = below_bound(values)
    for b in prange(n):
        s, m = _header(key, start + b, lo, spread)
        o = np.uint64(rows[b])
        length[b] = m
        g = o + np.uint64(m)
        _answers(inputs, mask, role, segment, g + _U1, m)
        # one pass: element i is also the target of answer m - 1 - i, at row g + m - i
        p, q = o, g + np.uint64(m)
        for i in range(m):
            s, v = next_below_with(s, nv, tv)
            inputs[p] = base + v
            targets[p] = PAD
            mask[p] = False
            role[p] = ROLE_CONTEXT
            segment[p] = i
            targets[q] = base + v
            p += _U1
            q -= _U1
        _put(inputs, targets, mask, role, segment, g, REVERSE_GO, PAD, ROLE_QUERY, -1)


@dataclass(frozen=True)
class ReverseKnobs(_HamKnobs):
    length: int = _length(
        1, "n: the elements of the input", "every element must be held until the output "
        "reaches it, the first one longest",
    )  # fmt: skip
    jitter: float = _jitter()
    values: int = _values()

    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=_vocab(REVERSE_SYMBOLS, self.values))


@two_layouts
def _reverse(knobs: ReverseKnobs, key, start: int, n: int, layout):
    lo, spread = knobs.lengths()
    offsets = _fixed_sizes(key, start, n, lo, spread, 2, 1)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    length = np.empty(n, np.int32)
    _reverse_fill(key, start, n, lo, spread, knobs.values, rows, *arrays, length)
    return offsets, arrays, {"meta": {"length": length}}


register(
    TaskSpec(
        id="ham/reverse-v1",
        summary="reverse: a sequence of numbers, then the same numbers backwards",
        knobs=ReverseKnobs,
        generator=_reverse,
        layout=ReverseKnobs.layout,
        metric=TokenAccuracy(),
        presets=_presets(),
        source=f"{HAM} (the Reverse task)",
    )
)


# ---------------------------------------------------------------------------------------------
# Search: k_1 v_1 .. k_m v_m (sorted by key) ? q <answer> -> the value of the first pair with
# key q
# ---------------------------------------------------------------------------------------------
SEARCH_SYMBOLS = ("?",)
SEARCH_ASK = 2


@kernel(weight=4.0)
def _search_fill(key, start, n, lo, spread, keys, values, rows, inputs, targets, mask, role,
                 segment, length, support):  # fmt: skip
    base = 2 + len(SEARCH_SYMBOLS)
    nk, tk = below_bound(keys)
    nv, tv = below_bound(values)
    longest = lo + spread
    # few keys: the drawn keys sorted by counting them (as in _sort_fill); many: sorted
    counting = keys <= 4 * longest + 64
    for c in prange((n + CHUNK - 1) // CHUNK):
        count = np.zeros(keys if counting else 0, np.int64)
        steps = np.zeros(longest + 1, np.int64)
        drawn = np.empty(longest, np.int64)
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s, m = _header(key, start + b, lo, spread)
            o = np.uint64(rows[b])
            length[b] = m
            if counting:
                for _ in range(m):
                    s, k = next_below_with(s, nk, tk)
                    count[k] += 1
                # the i-th smallest key is the number of keys k with fewer than i + 1 drawn
                # up to k: counted without a branch (a loop over each key's repeats
                # mispredicted about once per key)
                run = 0
                for k in range(keys):
                    run += count[k]
                    count[k] = 0
                    steps[run] += 1
                level = 0
                for i in range(m):
                    level += steps[i]
                    steps[i] = 0
                    drawn[i] = level
                steps[m] = 0
            else:
                for i in range(m):
                    s, k = next_below_with(s, nk, tk)
                    drawn[i] = k
                sorted_keys = drawn[:m]
                sorted_keys.sort()
            p = o
            for i in range(m):
                s, v = next_below_with(s, nv, tv)
                _pair(inputs, targets, mask, role, segment, p, base + drawn[i], base + v, i)
                p += _U2
            # the query is the key of a pair drawn uniformly (so always present); its answer
            # is the value of the first pair with that key, where keys repeat
            s, j = next_below_lazy(s, m)
            q = drawn[j]
            while j > 0 and drawn[j - 1] == q:
                j -= 1
            support[b] = j
            _put(inputs, targets, mask, role, segment, p, SEARCH_ASK, PAD, ROLE_QUERY, -1)
            _put(inputs, targets, mask, role, segment, p + _U1, base + q, PAD, ROLE_QUERY, -1)
            answer = inputs[o + np.uint64(2 * j + 1)]
            _put(inputs, targets, mask, role, segment, p + _U2, ANSWER, answer, ROLE_ANSWER, -1)


@dataclass(frozen=True)
class SearchKnobs(_HamKnobs):
    length: int = _length(
        1, "n: the (key, value) pairs", "more pairs to search, and more of them with the "
        "query's key before the first",
    )  # fmt: skip
    jitter: float = _jitter()
    keys: int = knob(32, lo=1, hi=MAX_SYMBOLS, doc="K: keys are drawn uniformly from 0 .. K-1 "
                     "(with repeats) and sorted")  # fmt: skip
    values: int = _values()

    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=_vocab(SEARCH_SYMBOLS, max(self.keys, self.values)))


@two_layouts
def _search(knobs: SearchKnobs, key, start: int, n: int, layout):
    lo, spread = knobs.lengths()
    offsets = _fixed_sizes(key, start, n, lo, spread, 2, 3)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    length, pair = np.empty(n, np.int32), np.empty(n, np.int32)
    _search_fill(key, start, n, lo, spread, knobs.keys, knobs.values, rows, *arrays, length,
                 pair)  # fmt: skip
    meta = {"length": length, "pair": pair}
    if layout.padded:  # padded batches hold no support
        return offsets, arrays, {"meta": meta}
    # the pair that answers is the episode's supporting item (of its one answer)
    support = (np.arange(n + 1, dtype=np.int64), pair.copy())
    return offsets, arrays, {"support": support, "support_answer": np.zeros(n, np.int32),
                             "meta": meta}  # fmt: skip


register(
    TaskSpec(
        id="ham/search-v1",
        summary="search: (key, value) pairs sorted by key and a query key; the key's value",
        knobs=SearchKnobs,
        generator=_search,
        layout=SearchKnobs.layout,
        metric=TokenAccuracy(),
        presets=_presets(),
        source=f"{HAM} (the Search task)",
    )
)


# ---------------------------------------------------------------------------------------------
# Merge: p_1 v_1 .. p_a v_a | p_a+1 v_a+1 .. p_m v_m <go> -> the m values in priority order
# ---------------------------------------------------------------------------------------------
MERGE_SYMBOLS = ("|", "<go>")
MERGE_BAR, MERGE_GO = 2, 3


@kernel(weight=8.0)
def _merge_fill(key, start, n, lo, spread, keys, values, rows, inputs, targets, mask, role,
                segment, length, first):  # fmt: skip
    base = 2 + len(MERGE_SYMBOLS)
    nv, tv = below_bound(values)
    longest = lo + spread
    # Up to many priorities per pair (the paper's 300 for 32): both sequences sorted and
    # merged by one scan over two sets of priorities, 64 to a word, lowest bit first; more:
    # each sorted, then merged. Distinct priorities have one order, so the episodes are the
    # same either way.
    scan = keys <= 64 * longest + 4096
    words = (keys + 63) // 64 if scan else 0
    for c in prange((n + CHUNK - 1) // CHUNK):
        pool = np.arange(keys)  # 0 .. K-1 again after each episode (its swaps undone)
        swaps = np.empty(longest, np.int64)
        chosen = np.empty(longest, np.int64)  # the priorities: the first sequence, the second
        merged = np.empty(longest, np.int64)  # the pair (index into chosen) of each answer
        value = np.empty(longest, np.int64)
        either = np.zeros(words, np.uint64)  # the priorities drawn
        firsts = np.zeros(words, np.uint64)  # those of the first sequence
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s, m = _header(key, start + b, lo, spread)
            o = np.uint64(rows[b])
            length[b] = m
            s, a = next_below_lazy(s, m - 1)  # both sequences non-empty: a in 1 .. m-1
            a += 1
            first[b] = a
            # m distinct priorities (a partial Fisher-Yates shuffle of 0 .. K-1); the first a
            # drawn form the first sequence, the rest the second, each then sorted
            for i in range(m):
                s, j = next_below_lazy(s, keys - i)
                j += i
                pool[i], pool[j] = pool[j], pool[i]
                swaps[i] = j
                chosen[i] = pool[i]  # final: later swaps reach only i + 1 onwards
            for i in range(m - 1, -1, -1):
                j = swaps[i]
                pool[i], pool[j] = pool[j], pool[i]
            if scan:
                for i in range(m):
                    k = np.uint64(chosen[i])
                    bit = _U1 << (k & np.uint64(63))
                    either[k >> np.uint64(6)] |= bit
                    if i < a:
                        firsts[k >> np.uint64(6)] |= bit
                x, y, r = 0, a, 0  # the next place in each sequence, the next answer
                for w in range(words):
                    word, in_first = either[w], firsts[w]
                    either[w], firsts[w] = 0, 0
                    while word != 0:
                        t = trailing_zeros(word)
                        one = np.int64((in_first >> t) & _U1)
                        i = x if one else y
                        chosen[i] = 64 * w + np.int64(t)
                        merged[r] = i
                        x += one
                        y += 1 - one
                        r += 1
                        word &= word - _U1
            else:
                head, tail = chosen[:a], chosen[a:m]
                head.sort()
                tail.sort()
                x, y = 0, a  # the heads of the two sequences (indices into chosen)
                for r in range(m):
                    if y >= m or (x < a and chosen[x] < chosen[y]):
                        merged[r] = x
                        x += 1
                    else:
                        merged[r] = y
                        y += 1
            p = o
            for i in range(m):
                if i == a:
                    p += _U1  # the bar
                s, v = next_below_with(s, nv, tv)
                _pair(inputs, targets, mask, role, segment, p, base + chosen[i], base + v, i)
                value[i] = base + v
                p += _U2
            bar = o + np.uint64(2 * a)
            _put(inputs, targets, mask, role, segment, bar, MERGE_BAR, PAD, ROLE_CONTROL, -1)
            _put(inputs, targets, mask, role, segment, p, MERGE_GO, PAD, ROLE_QUERY, -1)
            g = p + _U1
            _answers(inputs, mask, role, segment, g, m)
            for r in range(m):
                targets[g + np.uint64(r)] = value[merged[r]]


@dataclass(frozen=True)
class MergeKnobs(_HamKnobs):
    MIN_LENGTH = 2

    length: int = knob(
        PAPER_LENGTH, lo=2, hi=MAX_LEN, doc="n: the pairs of both sequences together",
        harder="up", ladder=LADDER, why="longer sequences to interleave, each value held until "
        "its priority comes",
    )  # fmt: skip
    jitter: float = _jitter()
    keys: int = knob(300, lo=2, hi=MAX_SYMBOLS, doc="P: priorities are distinct, drawn from "
                     "0 .. P-1; at least length")  # fmt: skip
    values: int = _values()

    def check(self):
        self.require(self.keys >= self.length, "keys must be >= length (priorities are distinct)")

    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=_vocab(MERGE_SYMBOLS, max(self.keys, self.values)))


@two_layouts
def _merge(knobs: MergeKnobs, key, start: int, n: int, layout):
    lo, spread = knobs.lengths()
    offsets = _fixed_sizes(key, start, n, lo, spread, 3, 2)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    length, first = np.empty(n, np.int32), np.empty(n, np.int32)
    _merge_fill(key, start, n, lo, spread, knobs.keys, knobs.values, rows, *arrays, length,
                first)  # fmt: skip
    return offsets, arrays, {"meta": {"length": length, "first": first}}


register(
    TaskSpec(
        id="ham/merge-v1",
        summary="merge: two sequences of (priority, value) sorted by priority; all values in order",
        knobs=MergeKnobs,
        generator=_merge,
        layout=MergeKnobs.layout,
        metric=TokenAccuracy(),
        presets=_presets(),
        source=f"{HAM} (the Merge task)",
    )
)


# ---------------------------------------------------------------------------------------------
# Sort: k_1 v_1 .. k_m v_m <go> -> the values in (stable) key order
# ---------------------------------------------------------------------------------------------
SORT_SYMBOLS = ("<go>",)
SORT_GO = 2


@kernel(weight=6.0)
def _sort_fill(key, start, n, lo, spread, keys, values, rows, inputs, targets, mask, role,
               segment, length):  # fmt: skip
    base = 2 + len(SORT_SYMBOLS)
    nk, tk = below_bound(keys)
    nv, tv = below_bound(values)
    longest = lo + spread
    # Few keys (the paper's 32 for 32 pairs): a counting sort, a pass over the pairs and one
    # over the keys, where sorting k * m + i took most of the episode's time. Many keys: that
    # sort. Both give the one stable order, so the episodes are the same either way.
    counting = keys <= 4 * longest + 64
    for c in prange((n + CHUNK - 1) // CHUNK):
        count = np.zeros(keys if counting else 0, np.int64)
        drawn = np.empty(longest, np.int64)  # the keys, then (sorting) k * m + i
        value = np.empty(longest, np.int64)
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s, m = _header(key, start + b, lo, spread)
            o = np.uint64(rows[b])
            length[b] = m
            p = o
            for i in range(m):
                s, k = next_below_with(s, nk, tk)
                s, v = next_below_with(s, nv, tv)
                _pair(inputs, targets, mask, role, segment, p, base + k, base + v, i)
                drawn[i] = k
                value[i] = base + v
                p += _U2
            _put(inputs, targets, mask, role, segment, p, SORT_GO, PAD, ROLE_QUERY, -1)
            g = p + _U1  # the first answer
            _answers(inputs, mask, role, segment, g, m)
            if counting:
                for i in range(m):
                    count[drawn[i]] += 1
                run = 0  # each key's first place in the output
                for k in range(keys):
                    run, count[k] = run + count[k], run
                for i in range(m):
                    r = count[drawn[i]]
                    count[drawn[i]] = r + 1
                    targets[g + np.uint64(r)] = value[i]
                count[:] = 0
            else:
                for i in range(m):
                    drawn[i] = drawn[i] * m + i  # key first, then the input position: stable
                order = drawn[:m]
                order.sort()
                for r in range(m):
                    targets[g + np.uint64(r)] = value[order[r] % m]


@dataclass(frozen=True)
class SortKnobs(_HamKnobs):
    length: int = _length(
        1, "n: the (key, value) pairs", "more values to hold and place: the first output may "
        "be any of them",
    )  # fmt: skip
    jitter: float = _jitter()
    keys: int = knob(32, lo=1, hi=MAX_SYMBOLS, doc="K: keys are drawn uniformly from 0 .. K-1 "
                     "(with repeats; equal keys keep their input order)")  # fmt: skip
    values: int = _values()

    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=_vocab(SORT_SYMBOLS, max(self.keys, self.values)))


@two_layouts
def _sort(knobs: SortKnobs, key, start: int, n: int, layout):
    lo, spread = knobs.lengths()
    offsets = _fixed_sizes(key, start, n, lo, spread, 3, 1)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    length = np.empty(n, np.int32)
    _sort_fill(key, start, n, lo, spread, knobs.keys, knobs.values, rows, *arrays, length)
    return offsets, arrays, {"meta": {"length": length}}


register(
    TaskSpec(
        id="ham/sort-v1",
        summary="sort: (key, value) pairs; the values sorted by key, stably",
        knobs=SortKnobs,
        generator=_sort,
        layout=SortKnobs.layout,
        metric=TokenAccuracy(),
        presets=_presets(),
        source=f"{HAM} (the Sort task)",
    )
)


# ---------------------------------------------------------------------------------------------
# Add: a_0 .. a_m-1 + b_0 .. b_m-1 = -> s_0 .. s_m, least significant bit first
# ---------------------------------------------------------------------------------------------
ADD_SYMBOLS = ("+", "=")
ADD_PLUS, ADD_EQUALS = 2, 3


@kernel(weight=4.0)
def _add_fill(key, start, n, lo, spread, rows, inputs, targets, mask, role, segment, length,
              carries):  # fmt: skip
    zero = 2 + len(ADD_SYMBOLS)  # the word "0"; "1" follows it
    for b in prange(n):
        s, m = _header(key, start + b, lo, spread)
        o = np.uint64(rows[b])
        length[b] = m
        um = np.uint64(m)
        plus, equals = o + um, o + _U2 * um + _U1
        word = np.uint64(0)
        p = o
        for i in range(2 * m):  # the bits of both numbers, 64 to a draw
            if i % 64 == 0:
                s, word = next_u64(s)
            if i == m:
                p += _U1  # the plus
            inputs[p] = zero + np.int32(word & _U1)
            targets[p] = PAD
            mask[p] = False
            role[p] = ROLE_CONTEXT
            segment[p] = i
            word = word >> _U1
            p += _U1
        _put(inputs, targets, mask, role, segment, plus, ADD_PLUS, PAD, ROLE_CONTROL, -1)
        _put(inputs, targets, mask, role, segment, equals, ADD_EQUALS, PAD, ROLE_QUERY, -1)
        _answers(inputs, mask, role, segment, equals + _U1, m + 1)
        carry, count = 0, 0
        for i in range(m + 1):
            total = carry
            if i < m:
                ui = np.uint64(i)
                total += inputs[o + ui] - zero + inputs[plus + _U1 + ui] - zero
            carry = total >> 1
            count += carry
            targets[equals + _U1 + np.uint64(i)] = zero + (total & 1)
        carries[b] = count


@dataclass(frozen=True)
class AddKnobs(_HamKnobs):
    length: int = _length(
        1, "n: the bits of each number (the sum has n + 1)", "longer numbers: every bit of "
        "both must be fetched, and a carry can run the whole length",
    )  # fmt: skip
    jitter: float = _jitter()

    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=_vocab(ADD_SYMBOLS, 2))


@two_layouts
def _add(knobs: AddKnobs, key, start: int, n: int, layout):
    lo, spread = knobs.lengths()
    offsets = _fixed_sizes(key, start, n, lo, spread, 3, 3)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    length, carries = np.empty(n, np.int32), np.empty(n, np.int32)
    _add_fill(key, start, n, lo, spread, rows, *arrays, length, carries)
    return offsets, arrays, {"meta": {"length": length, "carries": carries}}


register(
    TaskSpec(
        id="ham/add-v1",
        summary="add: two binary numbers, least significant bit first; their sum",
        knobs=AddKnobs,
        generator=_add,
        layout=AddKnobs.layout,
        metric=TokenAccuracy(),
        presets=_presets(),
        source=f"{HAM} (the Add task)",
    )
)


# ---------------------------------------------------------------------------------------------
# Data structures: a sequence of operations; every pop is a query followed by one answer
# position whose target is the value it returns.
# ---------------------------------------------------------------------------------------------
OP_STACK, OP_QUEUE, OP_PRIORITY = 0, 1, 2
PUSH_WORD, POP_WORD = 2, 3  # push / enqueue / insert, and pop / dequeue / pop-max
DS_SYMBOLS = {
    OP_STACK: ("push", "pop"),
    OP_QUEUE: ("enqueue", "dequeue"),
    OP_PRIORITY: ("insert", "pop-max"),
}


@njit(inline="always")
def _decide(s, size, k, m, pops, push_prob):
    """(state', whether operation k of m pushes): always on an empty structure; the last one
    pops if nothing was popped yet (so every episode has an answer); else with push_prob."""
    if size == 0:
        return s, True
    if k == m - 1 and pops == 0:
        return s, False
    s, u = next_float(s)
    return s, u < push_prob


@njit(inline="always")
def _ops_header(key, index, lo, spread):
    """(operations state, values state, the number of operations). Values come from a stream
    of their own, so that the sizes pass draws only the operations."""
    s, m = _header(key, index, lo, spread)
    s, values_state = next_u64(s)
    return s, values_state, m


@kernel(weight=0.5)
def _ops_sizes(key, start, n, lo, spread, push_prob, push_len):
    offsets = np.empty(n + 1, np.int64)
    answers = np.empty(n + 1, np.int64)
    for b in prange(n):
        s, _, m = _ops_header(key, start + b, lo, spread)
        size, pops, total = 0, 0, 0
        for k in range(m):
            s, push = _decide(s, size, k, m, pops, push_prob)
            if push:
                size += 1
                total += push_len
            else:
                size -= 1
                pops += 1
                total += 2
        offsets[b + 1] = total
        answers[b + 1] = pops
    return running_sum(offsets), running_sum(answers)


@njit(inline="always")
def _heap_push(heap, size, item):
    """Add ``item`` to the max-heap ``heap[:size]``; return the new size."""
    i = size
    heap[i] = item
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] >= heap[i]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return size + 1


@njit(inline="always")
def _heap_pop(heap, size):
    """(the largest item of the max-heap ``heap[:size]``, the new size)."""
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and heap[left + 1] > heap[left]:
            child = left + 1
        if heap[i] >= heap[child]:
            break
        heap[i], heap[child] = heap[child], heap[i]
        i = child
    return top, size


@kernel(weight=4.0)
def _ops_fill(key, start, n, lo, spread, push_prob, op, values, priorities, rows,
              answer_offsets, inputs, targets, mask, role, segment, support, support_answer,
              length, pops_out, depth):  # fmt: skip
    base = 4  # <pad>, <answer>, the push word, the pop word
    nv, tv = below_bound(values)
    npr, tpr = below_bound(priorities)
    longest = lo + spread
    for c in prange((n + CHUNK - 1) // CHUNK):
        # pushed[j]: where push j's value token is; held: the pushes still inside, as a stack
        # (top last), a queue (from head) or a max-heap of (priority, earliest first)
        pushed = np.empty(longest, np.uint64)
        held = np.empty(longest, np.int64)
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s, vs, m = _ops_header(key, start + b, lo, spread)
            length[b] = m
            head, size, pushes, pops, deepest = 0, 0, 0, 0, 0
            p = np.uint64(rows[b])
            for k in range(m):
                s, push = _decide(s, size, k, m, pops, push_prob)
                if push:
                    vs, v = next_below_with(vs, nv, tv)
                    _put(inputs, targets, mask, role, segment, p, PUSH_WORD, PAD,
                         ROLE_CONTEXT, pushes)  # fmt: skip
                    _put(inputs, targets, mask, role, segment, p + _U1, base + v, PAD,
                         ROLE_CONTEXT, pushes)  # fmt: skip
                    pushed[pushes] = p + _U1
                    p += _U2
                    if op == OP_PRIORITY:
                        vs, pr = next_below_with(vs, npr, tpr)
                        _put(inputs, targets, mask, role, segment, p, base + pr, PAD,
                             ROLE_CONTEXT, pushes)  # fmt: skip
                        p += _U1
                        # higher priority first, then the earlier insert (m - j is in 1 .. m)
                        _heap_push(held, size, pr * (m + 1) + (m - pushes))
                    elif op == OP_QUEUE:
                        held[head + size] = pushes
                    else:
                        held[size] = pushes
                    pushes += 1
                    size += 1
                    deepest = max(deepest, size)
                else:
                    if op == OP_PRIORITY:
                        top, _ = _heap_pop(held, size)
                        j = m - top % (m + 1)
                    elif op == OP_QUEUE:
                        j = held[head]
                        head += 1
                    else:
                        j = held[size - 1]
                    size -= 1
                    _put(inputs, targets, mask, role, segment, p, POP_WORD, PAD, ROLE_QUERY,
                         -1)  # fmt: skip
                    _put(inputs, targets, mask, role, segment, p + _U1, ANSWER,
                         inputs[pushed[j]], ROLE_ANSWER, -1)  # fmt: skip
                    p += _U2
                    a = answer_offsets[b] + pops
                    support[a] = j  # the push whose value this pop returns
                    support_answer[a] = pops
                    pops += 1
            pops_out[b] = pops
            depth[b] = deepest


@dataclass(frozen=True)
class _StructureKnobs(_HamKnobs):
    MIN_LENGTH = 2

    length: int = knob(
        PAPER_LENGTH, lo=2, hi=MAX_LEN, doc="n: the operations (pushes and pops)", harder="up",
        ladder=LADDER, why="more operations: more values inside at once, held for longer",
    )  # fmt: skip
    jitter: float = _jitter()
    values: int = _values("V: the values pushed (numbers 0 .. V-1)")
    push_prob: float = knob(
        0.5, lo=0.0, hi=0.99, doc="the chance that an operation pushes (an empty structure "
        "always pushes; 0 alternates push and pop)",
    )  # fmt: skip


@dataclass(frozen=True)
class StackKnobs(_StructureKnobs):
    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=_vocab(DS_SYMBOLS[OP_STACK], self.values))


@dataclass(frozen=True)
class QueueKnobs(_StructureKnobs):
    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=_vocab(DS_SYMBOLS[OP_QUEUE], self.values))


@dataclass(frozen=True)
class PriorityQueueKnobs(_StructureKnobs):
    priorities: int = knob(32, lo=1, hi=MAX_SYMBOLS, doc="priorities are drawn uniformly from "
                           "0 .. priorities-1 (equal ones pop in insertion order)")  # fmt: skip

    def layout(self) -> Layout:
        numbers = max(self.values, self.priorities)
        return Layout("int32", "int32", vocab=_vocab(DS_SYMBOLS[OP_PRIORITY], numbers))


def _structure(op: int):
    push_len = 3 if op == OP_PRIORITY else 2  # the word, the value (, the priority)

    @two_layouts
    def generate(knobs: _StructureKnobs, key, start: int, n: int, layout):
        lo, spread = knobs.lengths()
        offsets, answer_offsets = _ops_sizes(key, start, n, lo, spread, knobs.push_prob,
                                             push_len)  # fmt: skip
        rows, arrays = layout(offsets, TOKENS, TOKENS)
        # padded batches hold no support: the kernel writes it to scratch then
        support = np.empty(answer_offsets[-1], np.int32)
        support_answer = np.empty(answer_offsets[-1], np.int32)
        length, pops, depth = (np.empty(n, np.int32) for _ in range(3))
        priorities = getattr(knobs, "priorities", 1)
        _ops_fill(key, start, n, lo, spread, knobs.push_prob, op, knobs.values, priorities,
                  rows, answer_offsets, *arrays, support, support_answer, length, pops,
                  depth)  # fmt: skip
        meta = {"length": length, "pops": pops, "depth": depth}
        return offsets, arrays, {"support": (answer_offsets, support),
                                 "support_answer": support_answer, "meta": meta}  # fmt: skip

    return generate


register(
    TaskSpec(
        id="ham/stack-v1",
        summary="stack: push and pop operations; each pop returns the last value pushed",
        knobs=StackKnobs,
        generator=_structure(OP_STACK),
        layout=StackKnobs.layout,
        metric=TokenAccuracy(),
        presets=_presets(),
        source=f"{HAM} (the stack task)",
    )
)
register(
    TaskSpec(
        id="ham/queue-v1",
        summary="FIFO queue: enqueue and dequeue; each dequeue returns the oldest value inside",
        knobs=QueueKnobs,
        generator=_structure(OP_QUEUE),
        layout=QueueKnobs.layout,
        metric=TokenAccuracy(),
        presets=_presets(),
        source=f"{HAM} (the FIFO queue task)",
    )
)
register(
    TaskSpec(
        id="ham/priority-queue-v1",
        summary="priority queue: insert (value, priority) and pop-max; each pop returns the value "
        "of highest priority",
        knobs=PriorityQueueKnobs,
        generator=_structure(OP_PRIORITY),
        layout=PriorityQueueKnobs.layout,
        metric=TokenAccuracy(),
        presets=_presets(),
        source=f"{HAM} (the priority queue task)",
    )
)
