"""Recall probes: the synthetic tasks on which sequence mixers (attention, state-space models,
linear attention) are compared for in-context recall.

- ``recall/mqar-v1``: multi-query associative recall, the generator of HazyResearch's zoology
  (Arora et al. 2023, "Zoology"; Based, Arora et al. 2024), knob for knob
  (``from_zoology`` maps a zoology config to our knobs, ``to_zoology`` a batch back to its
  tensors);
- ``recall/selective-copy-v1``: selective copying (Gu & Dao 2023, Mamba, sec. 4.1), in the
  layout of the S4 repository's copying generator with ``variable=True``;
- ``recall/induction-heads-v1``: induction heads (Olsson et al. 2022; Mamba, sec. 4.1), in the
  layout of the H3 / safari ``generate_induction_head`` generator;
- ``recall/fuzzy-recall-v1`` and ``recall/noisy-recall-v1``: MAD's fuzzy and noisy in-context
  recall (Poli et al. 2024), multi-query, as its test instances score them.

Every task is a token task in the language-model alignment of its source: the answer is scored
at the position that reads the query (MQAR's key, the last key token, the final trigger, a
marker), which is where the source's shifted labels put it, so a model reads the same sequence
as on the source's tensors. Token ids are the source's, except that the source's id 0, which
memtasks keeps for padding (never read), is moved one past its vocabulary: id ``vocab_size``
(zoology's filler 0, S4's noise 0, MAD's key 0). Every episode has the same length, so there is
no sizes pass: one fill kernel writes each episode from its first row on, into the flat arrays
of ``generate`` or (``two_layouts``) straight into the padded batches of the torch stream (one
length: no padding, int64 tokens).
Per-episode scratch (the power-law sampler's tree, the fuzzy recall's key table) lives for one
chunk of episodes, so memory per episode does not grow with the batch.

Cards: ``data_cards/recall/<name>.md``. Tests: ``tests/test_recall_probes.py``. Benchmark:
``benchmarks/bench_recall.py``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_QUERY, EpisodeBatch
from memtasks.errors import KnobError
from memtasks.knobs import Knobs, knob
from memtasks.metrics import TokenAccuracy
from memtasks.registry import Layout, TaskSpec, get_spec, register
from memtasks.rng import episode_state, mix64, next_below, next_float, next_u64

from .._kernels import EpisodesMemoryError, kernel, two_layouts
from .._kernels import njit as cached_njit

ZOOLOGY = (
    "Arora, Eyuboglu, Timalsina, Johnson, Poli, Zou, Rudra & Re (2023), Zoology: Measuring and "
    "Improving Recall in Efficient Language Models, arXiv:2312.04927; generator "
    "HazyResearch/zoology zoology/data/multiquery_ar.py"
)
BASED = (
    "Arora et al. (2024), Simple linear attention language models balance the recall-throughput "
    "tradeoff (Based), arXiv:2402.18668"
)
MAMBA = (
    "Gu & Dao (2023), Mamba: Linear-Time Sequence Modeling with Selective State Spaces, "
    "arXiv:2312.00752"
)
S4_COPYING = (
    "the S4 repository's copying generator (state-spaces/s4 src/dataloaders/datasets/copying.py)"
)
OLSSON = "Olsson et al. (2022), In-context Learning and Induction Heads, Transformer Circuits"
SAFARI = "the H3 / Hyena synthetics (HazyResearch/safari src/dataloaders/synthetics.py)"
MAD = (
    "Poli, Thomas, Nguyen, Ponnusamy, Deiseroth et al. (2024), Mechanistic Design and Scaling of "
    "Hybrid Architectures (MAD), arXiv:2403.17844; generators athms/mad-lab mad/data/instances.py"
)

MAX_LEN = 10_000_000  # a sanity bound: one episode of ten million tokens is already huge
MAX_VOCAB = 1_000_000
CHUNK = 64  # episodes per block of scratch memory: scratch is per block, never per batch
SMALL = 64  # up to this many distinct draws, rejection compares with the earlier draws


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------
TOKENS = (None, np.int32)  # a token task's inputs and targets, for ``two_layouts``' layout


def _fixed_offsets(n: int, length: int) -> np.ndarray:
    """CSR offsets of ``n`` episodes of ``length`` positions each."""
    try:
        return np.arange(n + 1, dtype=np.int64) * np.int64(length)
    except (MemoryError, ValueError) as exc:
        raise EpisodesMemoryError(f"{n:,} episodes", MemoryError(str(exc))) from None


@njit(inline="always")
def _ours(token, vocab_size):
    """A source's token id as ours: 0 (memtasks' padding, never read) becomes ``vocab_size``."""
    return vocab_size if token == 0 else token


@njit(inline="always")
def _fill(out, lo, hi, value):
    """``out[lo:hi] = value`` with unsigned indices: with signed ones Numba checks each index
    for wrapping around from the end, which keeps LLVM from vectorising the stores."""
    one = np.uint64(1)
    i = np.uint64(lo)
    stop = np.uint64(hi)
    while i < stop:
        out[i] = value
        i += one


_LOW32 = np.uint64(0xFFFFFFFF)
_HIGH = np.uint64(32)


@njit(inline="always")
def _uniform_tokens(s, out, o, count, size, lo):
    """``out[o .. o + count - 1]`` = ``lo`` + integers uniform below ``size`` (< 2**32): two
    from each 64-bit draw, each half by Lemire's multiply-and-reject as ``next_below`` (a
    rejected half is skipped, so every value stays exactly uniform); return the state."""
    n64 = np.uint64(size)
    threshold = ((_LOW32 + np.uint64(1)) - n64) % n64  # 2**32 mod size
    i = 0
    while i < count:
        s, r = next_u64(s)
        m = (r >> _HIGH) * n64
        if (m & _LOW32) >= threshold:
            out[o + i] = lo + np.int64(m >> _HIGH)
            i += 1
        m = (r & _LOW32) * n64
        if i < count and (m & _LOW32) >= threshold:
            out[o + i] = lo + np.int64(m >> _HIGH)
            i += 1
    return s


@njit(inline="always")
def _distinct(s, out, o, stride, count, lo, size, seen, pool):
    """Write ``count`` distinct integers drawn uniformly from ``lo .. lo + size - 1``, in draw
    order (a uniformly random ordered sample, as NumPy's ``choice(replace=False)``), at
    ``out[o], out[o + stride], ...``; return the state.

    Few draws compare with the earlier ones; more use the ``seen`` flags (cleared again after);
    more than half of the range is a partial Fisher-Yates shuffle of ``pool``, so that taking
    nearly every value never waits on rejections.
    """
    if 2 * count > size:
        for i in range(size):
            pool[i] = i
        for j in range(count):
            s, r = next_below(s, size - j)
            r += j
            t = pool[r]
            pool[r] = pool[j]
            pool[j] = t
            out[o + stride * j] = lo + t
    elif count <= SMALL:
        for j in range(count):
            v = lo
            fresh = False
            while not fresh:
                s, r = next_below(s, size)
                v = lo + r
                fresh = True
                for i in range(j):
                    if out[o + stride * i] == v:
                        fresh = False
                        break
            out[o + stride * j] = v
    else:
        for j in range(count):
            r = 0
            while True:
                s, r = next_below(s, size)
                if not seen[r]:
                    break
            seen[r] = True
            out[o + stride * j] = lo + r
        for j in range(count):
            seen[out[o + stride * j] - lo] = False
    return s


# ---------------------------------------------------------------------------------------------
# Multi-query associative recall (zoology)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MqarKnobs(Knobs):
    """Zoology's ``multiquery_ar`` arguments, same names, same defaults (its ``MQARConfig``)."""

    vocab_size: int = knob(
        8192, lo=5, hi=MAX_VOCAB, doc="zoology's vocabulary: keys 1 .. V/2 - 1, values V/2 .. "
        "V - 1, 0 the filler (our id V)",
    )  # fmt: skip
    input_seq_len: int = knob(
        64, lo=4, hi=MAX_LEN, doc="L, the episode's length (even): the pairs, then the query "
        "region",
    )  # fmt: skip
    power_a: float = knob(
        0.01, lo=1e-6, hi=2.0, doc="a: query slot i is drawn with weight a (i + 1)^(a - 1), "
        "without replacement (small a: queries close to the context; 1: uniform)",
    )  # fmt: skip
    num_kv_pairs: int = knob(
        8, lo=1, hi=MAX_LEN, doc="key-value pairs in the context, each queried once",
        harder="up", ladder=(2, 4, 8, 16),
        why="more pairs to hold at once in the model's state (Zoology's capacity axis)",
    )  # fmt: skip
    num_passes: int = knob(
        1, lo=1, hi=MAX_LEN, doc="times the pairs are repeated before the queries (JRT)",
        harder="down", ladder=(3, 2, 1),
        why="fewer repetitions of the context: JRT shows repeating it helps recurrent models",
    )  # fmt: skip
    random_non_queries: bool = knob(
        True, doc="fill the query region between queries with random tokens 0 .. V - 1 "
        "instead of the filler 0 (zoology's default; its papers' figures set it false)",
    )  # fmt: skip

    def check(self):
        # zoology's assertions, in its words where it has them
        self.require(self.input_seq_len % 2 == 0, "input_seq_len must be even")
        self.require(self.vocab_size > self.input_seq_len, "vocab_size must be > input_seq_len")
        self.require(
            self.num_kv_pairs * 2 * self.num_passes + self.num_kv_pairs * 2 <= self.input_seq_len,
            "num_kv_pairs * 2 * num_passes + num_kv_pairs * 2 must be <= input_seq_len "
            "(the pairs num_passes times, then a query slot for every key)",
        )

    @property
    def context(self) -> int:
        """C: the positions of the pairs (all passes)."""
        return 2 * self.num_kv_pairs * self.num_passes

    @property
    def slots(self) -> int:
        """S: query slots, every other position of the query region."""
        return (self.input_seq_len - self.context) // 2

    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=mqar_vocab(self.vocab_size))


@functools.lru_cache(maxsize=8)
def mqar_vocab(vocab_size: int) -> tuple[str, ...]:
    """Id -> string: ``k1`` .. (keys, zoology's ids), ``v<V/2>`` .. (values), ``_`` (the filler,
    zoology's 0, our id V); id 0 is memtasks' padding."""
    half = vocab_size // 2
    keys = [f"k{i}" for i in range(1, half)]
    values = [f"v{i}" for i in range(half, vocab_size)]
    return ("<pad>", *keys, *values, "_")


@functools.lru_cache(maxsize=16)
def power_law(slots: int, power_a: float) -> np.ndarray:
    """Zoology's probabilities of the query slots: a (i + 1)^(a - 1), normalised."""
    p = power_a * np.arange(1, slots + 1, dtype=np.float64) ** (power_a - 1.0)
    return p / p.sum()


@functools.lru_cache(maxsize=16)
def _power_law_tables(slots: int, power_a: float):
    """(p, alias threshold, alias, Fenwick tree of p, its top bit) for the slot draws."""
    p = power_law(slots, power_a)
    threshold, alias = _alias(p)
    return p, threshold, alias, _fenwick(p), 1 << (slots.bit_length() - 1)


@cached_njit(cache=True)
def _alias(p):
    """Walker's alias table of ``p`` (Vose's construction): slot i uniform, kept when a uniform
    float is below ``threshold[i]``, else ``alias[i]``: one draw of ``p`` in O(1)."""
    n = len(p)
    threshold = np.ones(n, np.float64)
    alias = np.arange(n)
    scaled = p * n
    small = np.empty(n, np.int64)
    large = np.empty(n, np.int64)
    ns = nl = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        lo = small[ns]
        nl -= 1
        hi = large[nl]
        threshold[lo] = scaled[lo]
        alias[lo] = hi
        scaled[hi] = scaled[hi] + scaled[lo] - 1.0
        if scaled[hi] < 1.0:
            small[ns] = hi
            ns += 1
        else:
            large[nl] = hi
            nl += 1
    return threshold, alias  # the rest keep threshold 1 (rounding leftovers)


@cached_njit(cache=True)
def _fenwick(weights):
    """The Fenwick (binary indexed) tree of ``weights``: ``tree[i]`` sums a power-of-two run
    of weights ending at slot i - 1, so a weighted draw and a removal each take log S steps."""
    n = len(weights)
    tree = np.zeros(n + 1, np.float64)
    for i in range(1, n + 1):
        tree[i] += weights[i - 1]
        parent = i + (i & -i)
        if parent <= n:
            tree[parent] += tree[i]
    return tree


@njit(inline="always")
def _take_out(work, n, i, w):
    """Remove weight ``w`` of slot ``i`` from the Fenwick tree ``work``."""
    k = i + 1
    while k <= n:
        work[k] -= w
        k += k & -k


# The alias draws are rejected when they hit a drawn slot; past this share of the mass drawn,
# the rest come from the tree (a rejection would then cost more than a walk down the tree)
REJECT_UP_TO = 0.75


@njit(inline="always")
def _power_law_slots(s, count, p, threshold, alias, tree, top, work, slot_pair):
    """Draw ``count`` query slots without replacement, each with probability proportional to
    ``p`` among the slots not drawn yet (successive sampling: the law of NumPy's
    ``choice(replace=False, p=p)`` that zoology calls); ``slot_pair[g] = j`` for the j-th slot
    drawn, -1 for the rest.

    While most of the mass is free, a draw from the alias table that hits a drawn slot is
    drawn again (exactly the law restricted to the free slots, about 1.5 draws each at
    zoology's settings); the rest walk a Fenwick tree of the free slots, log S steps each, so
    drawing every slot, or slots of tiny weight, never waits on rejections.
    """
    n = len(p)
    for i in range(n):
        slot_pair[i] = -1
    drawn = 0.0
    j = 0
    while j < count and drawn < REJECT_UP_TO:
        s, i = next_below(s, n)
        s, u = next_float(s)
        if u >= threshold[i]:
            i = alias[i]
        if slot_pair[i] < 0:
            slot_pair[i] = j
            drawn += p[i]
            j += 1
    if j == count:
        return s
    for i in range(n + 1):
        work[i] = tree[i]
    total = 1.0
    for g in range(n):
        if slot_pair[g] >= 0:
            _take_out(work, n, g, p[g])
            total -= p[g]
    while j < count:
        pos = 0
        while True:
            s, u = next_float(s)
            rest = u * total
            pos = 0
            step = top
            while step > 0:
                nxt = pos + step
                if nxt <= n and work[nxt] <= rest:
                    pos = nxt
                    rest -= work[nxt]
                step >>= 1
            # rounding can leave a drawn slot a residue of 1e-16 of the mass, or point one past
            # the end: draw again (it happens about never)
            if pos < n and slot_pair[pos] < 0:
                break
        slot_pair[pos] = j
        _take_out(work, n, pos, p[pos])
        total -= p[pos]
        j += 1
    return s


@kernel(weight=12.0)
def _mqar_fill(key, start, n, vocab, length, pairs, passes, random_fill, probs, threshold,
               alias, tree, top, rows, inputs, targets, mask, role, segment, gaps):  # fmt: skip
    half = vocab // 2
    context = 2 * pairs * passes
    slots = (length - context) // 2
    for c in prange((n + CHUNK - 1) // CHUNK):
        work = np.empty(slots + 1, np.float64)
        slot_pair = np.empty(slots, np.int32)
        # the larger of the key (V/2 - 1) and value (V - V/2) ranges
        seen = np.zeros(vocab - half if pairs > SMALL else 0, np.bool_)
        pool = np.empty(vocab - half if 2 * pairs > half - 1 else 0, np.int64)
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s = episode_state(key, start + b)
            o = rows[b]
            # keys without replacement from 1 .. V/2 - 1, values from V/2 .. V - 1 (zoology)
            s = _distinct(s, inputs, o, 2, pairs, 1, half - 1, seen, pool)
            s = _distinct(s, inputs, o + 1, 2, pairs, half, vocab - half, seen, pool)
            for p in range(passes):
                for r in range(2 * pairs):
                    q = o + p * 2 * pairs + r
                    inputs[q] = inputs[o + r]
                    targets[q] = 0
                    mask[q] = False
                    role[q] = ROLE_CONTEXT
                    segment[q] = p * pairs + r // 2
            s = _power_law_slots(s, pairs, probs, threshold, alias, tree, top, work, slot_pair)
            # the query region: fillers first (a run of constant stores the compiler
            # vectorises), then each key over its slot
            _fill(inputs, o + context, o + length, vocab)  # zoology's filler 0
            _fill(targets, o + context, o + length, 0)
            _fill(mask, o + context, o + length, False)
            _fill(role, o + context, o + length, ROLE_QUERY)
            _fill(segment, o + context, o + length, -1)
            if random_fill:  # zoology: every 0 left in the inputs becomes randint(0, V)
                s = _uniform_tokens(s, inputs, o + context, length - context, vocab, 0)
                for q in range(o + context, o + length):  # (the keys' slots are written over)
                    inputs[q] = _ours(inputs[q], vocab)
            for g in range(slots):
                j = slot_pair[g]
                if j >= 0:  # the j-th key's query: its value is the answer, read at the key
                    a = o + context + 2 * g
                    inputs[a] = inputs[o + 2 * j]
                    targets[a] = inputs[o + 2 * j + 1]
                    mask[a] = True
                    role[a] = ROLE_ANSWER
                    gaps[b, j] = g


@two_layouts
def _mqar(knobs: MqarKnobs, key, start: int, n: int, layout):
    length, pairs = knobs.input_seq_len, knobs.num_kv_pairs
    tables = _power_law_tables(knobs.slots, knobs.power_a)
    offsets = _fixed_offsets(n, length)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    gaps = np.empty((n, pairs), np.int32)
    _mqar_fill(key, start, n, knobs.vocab_size, length, pairs, knobs.num_passes,
               knobs.random_non_queries, *tables, rows, *arrays, gaps)  # fmt: skip
    return offsets, arrays, {"meta": {"gaps": gaps}}


# zoology's multiquery_ar arguments that are ours; the others are its bookkeeping
ZOOLOGY_KNOBS = (
    "vocab_size", "input_seq_len", "power_a", "num_kv_pairs", "num_passes", "random_non_queries",
)  # fmt: skip
ZOOLOGY_BOOKKEEPING = ("name", "num_examples", "include_slices", "seed")


def from_zoology(config) -> MqarKnobs:
    """The knobs of ``recall/mqar-v1`` that make zoology's data for ``config``.

    ``config`` is a zoology ``MQARConfig`` (or any object with its fields) or a dict of
    ``multiquery_ar``'s keyword arguments. Each of zoology's arguments is the knob of the same
    name; a field left out takes zoology's default, which is ours. ``name``, ``num_examples``,
    ``include_slices`` and ``seed`` say how much data zoology makes and from which NumPy seed,
    not what it is, and are dropped (``memtasks.generate``'s ``n`` and ``seed`` say that).
    Anything else is dropped with a warning, as zoology drops it: its pydantic ``MQARConfig``
    ignores unknown fields (the Zoology figure 2 configs pass ``train_power_a``, which never
    reaches the generator) and ``multiquery_ar`` swallows them in ``**kwargs``. An
    ``MQARConfig`` has no ``num_passes`` field, so zoology always builds it with one pass; a
    dict passed to ``multiquery_ar`` may set it.
    """
    if isinstance(config, Mapping):
        values = dict(config)
    elif hasattr(config, "model_dump"):  # pydantic (zoology's configs)
        values = dict(config.model_dump())
    else:
        values = {k: getattr(config, k) for k in ZOOLOGY_KNOBS + ZOOLOGY_BOOKKEEPING
                  if hasattr(config, k)}  # fmt: skip
    name = values.get("name", "multiquery_ar")
    if name != "multiquery_ar":
        raise KnobError(
            f"recall/mqar-v1: zoology config {name!r} is not multiquery_ar (MQAR); only "
            f"MQARConfig maps to this task"
        )
    dropped = sorted(k for k in values if k not in ZOOLOGY_KNOBS + ZOOLOGY_BOOKKEEPING)
    if dropped:
        warnings.warn(
            f"recall/mqar-v1: zoology ignores {', '.join(dropped)} (not an argument of "
            f"multiquery_ar); dropped here too",
            stacklevel=2,
        )
    return get_spec("recall/mqar-v1").make_knobs(
        **{k: values[k] for k in ZOOLOGY_KNOBS if k in values}
    )


def to_zoology(batch: EpisodeBatch, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Zoology's ``(inputs, labels)`` for a batch of ``recall/mqar-v1`` with ``vocab_size``:
    int64 ``[B, L]`` arrays, our id ``vocab_size`` back to zoology's 0, labels -100 where
    nothing is scored."""
    lengths = np.diff(batch.offsets)
    if len(batch) and (lengths != lengths[0]).any():
        raise ValueError("to_zoology: a batch of recall/mqar-v1 has episodes of one length")
    shape = (len(batch), int(lengths[0]) if len(batch) else 0)
    inputs = batch.inputs.astype(np.int64).reshape(shape)
    inputs[inputs == vocab_size] = 0
    labels = np.where(batch.mask, batch.targets, -100).astype(np.int64).reshape(shape)
    return inputs, labels


register(
    TaskSpec(
        id="recall/mqar-v1",
        summary="multi-query associative recall: key-value pairs, then every key again, each "
        "answered with its value (zoology's generator, knob for knob)",
        knobs=MqarKnobs,
        generator=_mqar,
        layout=MqarKnobs.layout,
        metric=TokenAccuracy(),
        presets={
            # Zoology figure 2: three panels, train and test at one configuration each
            "paper": {"input_seq_len": 256, "num_kv_pairs": 16, "random_non_queries": False},
            "zoology-64": {"input_seq_len": 64, "num_kv_pairs": 4, "random_non_queries": False},
            "zoology-128": {"input_seq_len": 128, "num_kv_pairs": 8, "random_non_queries": False},
            "zoology-256": {"input_seq_len": 256, "num_kv_pairs": 16, "random_non_queries": False},
            # Based figure 2: its test sets (zoology's defaults otherwise)
            "based-64x4": {"input_seq_len": 64, "num_kv_pairs": 4},
            "based-64x8": {"input_seq_len": 64, "num_kv_pairs": 8},
            "based-64x16": {"input_seq_len": 64, "num_kv_pairs": 16},
            "based-128x32": {"input_seq_len": 128, "num_kv_pairs": 32},
            "based-256x64": {"input_seq_len": 256, "num_kv_pairs": 64},
            "based-512x128": {"input_seq_len": 512, "num_kv_pairs": 128},
            "extrapolate": {"input_seq_len": 1024, "num_kv_pairs": 256},
        },
        source=f"{ZOOLOGY}; {BASED}",
    )
)


# ---------------------------------------------------------------------------------------------
# Selective copying (Mamba; the S4 repository's copying generator with variable=True)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SelectiveCopyKnobs(Knobs):
    vocab_size: int = knob(
        16, lo=3, hi=MAX_VOCAB, doc="A, as in the S4 generator: data tokens 1 .. A - 2, the "
        "marker A - 1, the noise 0 (our id A)", harder="up", ladder=(16, 32, 64, 128),
        why="more data symbols to tell apart (MAD's vocabulary sweep)",
    )  # fmt: skip
    seq_len: int = knob(
        4096, lo=2, hi=MAX_LEN, doc="the episode's length: the data region (the tokens among "
        "noise), then one marker per token", harder="up", ladder=(256, 512, 1024, 4096),
        why="more noise between the tokens and before the answer",
    )  # fmt: skip
    num_tokens_to_copy: int = knob(
        16, lo=1, hi=MAX_LEN, doc="M: data tokens to copy, in order", harder="up",
        ladder=(16, 32, 64, 96), why="more tokens to hold in order (MAD's sweep)",
    )  # fmt: skip

    def check(self):
        self.require(
            self.seq_len >= 2 * self.num_tokens_to_copy,
            "seq_len must be >= 2 * num_tokens_to_copy (the tokens, then as many markers)",
        )

    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=copy_vocab(self.vocab_size))


@functools.lru_cache(maxsize=8)
def copy_vocab(vocab_size: int) -> tuple[str, ...]:
    """``1`` .. ``A-2`` the data tokens (the S4 generator's ids), ``*`` the marker (A - 1),
    ``.`` the noise (the generator's 0, our id A); id 0 is memtasks' padding."""
    return ("<pad>", *(str(i) for i in range(1, vocab_size - 1)), "*", ".")


@kernel(weight=200.0)
def _copy_fill(key, start, n, vocab, length, count, rows, inputs, targets, mask, role,
               segment, first, last):  # fmt: skip
    region = length - count
    noise = vocab
    for c in prange((n + CHUNK - 1) // CHUNK):
        pos = np.empty(count, np.int64)
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s = episode_state(key, start + b)
            o = rows[b]
            _fill(inputs, o, o + region, noise)
            _fill(targets, o, o + region, 0)
            _fill(mask, o, o + region, False)
            _fill(role, o, o + region, ROLE_CONTEXT)
            _fill(segment, o, o + region, -1)
            # M positions of the region, a uniformly random subset (S4: randperm(L + M)[:M],
            # sorted)
            if 2 * count > region:
                need = count
                for t in range(region):  # selection sampling: every subset equally likely,
                    s, r = next_below(s, region - t)  # found in order
                    if r < need:
                        pos[count - need] = t
                        need -= 1
            else:
                for j in range(count):  # 0 marks a position taken
                    while True:
                        s, r = next_below(s, region)
                        if inputs[o + r] == noise:
                            inputs[o + r] = 0
                            pos[j] = r
                            break
                pos.sort()
            for j in range(count):
                t = pos[j]
                s, d = next_below(s, vocab - 2)
                inputs[o + t] = 1 + d  # uniform over 1 .. A - 2, as torch.randint(1, A - 1)
                segment[o + t] = j
                a = o + region + j
                inputs[a] = vocab - 1  # the marker: output the j-th token now
                targets[a] = 1 + d
                mask[a] = True
                role[a] = ROLE_ANSWER
                segment[a] = -1
            first[b] = pos[0]
            last[b] = pos[count - 1]


@two_layouts
def _selective_copy(knobs: SelectiveCopyKnobs, key, start: int, n: int, layout):
    length = knobs.seq_len
    offsets = _fixed_offsets(n, length)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    first, last = np.empty(n, np.int32), np.empty(n, np.int32)
    _copy_fill(key, start, n, knobs.vocab_size, length, knobs.num_tokens_to_copy, rows, *arrays,
               first, last)  # fmt: skip
    return offsets, arrays, {"meta": {"first": first, "last": last}}


register(
    TaskSpec(
        id="recall/selective-copy-v1",
        summary="selective copying: data tokens scattered among noise, then copied in order "
        "at the markers (Mamba's synthetic, the S4 copying generator's layout)",
        knobs=SelectiveCopyKnobs,
        generator=_selective_copy,
        layout=SelectiveCopyKnobs.layout,
        metric=TokenAccuracy(),
        presets={
            "paper": {},  # Mamba sec. 4.1 / app. E.1: length 4096, vocabulary 16, 16 tokens
            "mad": {"seq_len": 256},  # MAD's selective-copying baseline sizes
        },
        source=f"{MAMBA}, sec. 4.1; {S4_COPYING}; sweeps of {MAD}",
    )
)


# ---------------------------------------------------------------------------------------------
# Induction heads (Olsson et al.; Mamba; safari's generate_induction_head)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InductionKnobs(Knobs):
    vocab_size: int = knob(
        16, lo=3, hi=MAX_VOCAB, doc="safari's vocab_size: vocab_size - 2 symbols, the trigger "
        "=> and its no-op . (our padding id, never in an episode)",
    )  # fmt: skip
    seq_len: int = knob(
        256, lo=3, hi=MAX_LEN, doc="safari's input_seq_len: the random tokens before the final "
        "trigger", harder="up", ladder=(64, 256, 1024, 4096, 16384),
        why="the trigger's first occurrence lies farther back (Mamba trains at 256 and tests "
        "up to 2^20)",
    )  # fmt: skip
    num_triggers: int = knob(
        1, lo=1, hi=MAX_LEN, doc="trigger positions drawn in half of the episodes (the other "
        "half have one), safari's induction_num_triggers",
    )  # fmt: skip
    induction_len: int = knob(
        1, lo=1, hi=MAX_LEN, doc="tokens after each trigger to recall (safari's induction_len)",
    )  # fmt: skip

    def check(self):
        self.require(
            self.seq_len >= self.induction_len + 2,
            "seq_len must be >= induction_len + 2 (a trigger and its tokens before the end)",
        )
        self.require(self.num_triggers <= self.seq_len, "num_triggers must be <= seq_len")

    def layout(self) -> Layout:
        return Layout("int32", "int32", vocab=induction_vocab(self.vocab_size))


@functools.lru_cache(maxsize=8)
def induction_vocab(vocab_size: int) -> tuple[str, ...]:
    """``.`` (safari's no-op: our padding), ``=>`` (the trigger, safari's copy_prefix), then
    the symbols ``0`` .. ``vocab_size - 3`` (safari's strings)."""
    return (".", "=>", *(str(i) for i in range(vocab_size - 2)))


@kernel(weight=12.0)
def _induction_fill(key, start, n, vocab, length, triggers, span, rows, inputs, targets, mask,
                    role, segment, first, kept):  # fmt: skip
    for c in prange((n + CHUNK - 1) // CHUNK):
        pos = np.empty(triggers, np.int64)
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s = episode_state(key, start + b)
            o = rows[b]
            s = _uniform_tokens(s, inputs, o, length, vocab - 2, 2)
            _fill(targets, o, o + length, 0)
            _fill(mask, o, o + length, False)
            _fill(role, o, o + length, ROLE_CONTEXT)
            for t in range(length):
                segment[o + t] = t
            s, u = next_float(s)
            m = 1 if u < 0.5 else triggers  # safari: one trigger in half of the episodes
            for i in range(m):  # positions with replacement, sorted (insertion sort)
                s, p = next_below(s, length - 1 - span)
                k = i
                while k > 0 and pos[k - 1] > p:
                    pos[k] = pos[k - 1]
                    k -= 1
                pos[k] = p
            # a trigger within span of the previous kept one is dropped (safari's filter)
            count = 1
            for i in range(1, m):
                if pos[i] - pos[count - 1] > span:
                    pos[count] = pos[i]
                    count += 1
            p0 = pos[0]
            for i in range(count):
                p = pos[i]
                inputs[o + p] = 1
                for t in range(span):
                    inputs[o + p + 1 + t] = inputs[o + p0 + 1 + t]
            first[b] = p0
            kept[b] = count
            # the final trigger; then the recalled tokens, each read before the next is asked
            for t in range(span):
                a = o + length + t
                inputs[a] = 1 if t == 0 else inputs[o + p0 + t]
                targets[a] = inputs[o + p0 + 1 + t]
                mask[a] = True
                role[a] = ROLE_ANSWER
                segment[a] = -1


@two_layouts
def _induction(knobs: InductionKnobs, key, start: int, n: int, layout):
    total = knobs.seq_len + knobs.induction_len
    offsets = _fixed_offsets(n, total)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    first, kept = np.empty(n, np.int32), np.empty(n, np.int32)
    _induction_fill(key, start, n, knobs.vocab_size, knobs.seq_len, knobs.num_triggers,
                    knobs.induction_len, rows, *arrays, first, kept)  # fmt: skip
    return offsets, arrays, {"meta": {"trigger": first, "triggers": kept}}


register(
    TaskSpec(
        id="recall/induction-heads-v1",
        summary="induction heads: random tokens with a trigger inside; at the final trigger, "
        "the token that followed it (Mamba's synthetic, safari's generator)",
        knobs=InductionKnobs,
        generator=_induction,
        layout=InductionKnobs.layout,
        metric=TokenAccuracy(),
        presets={
            "paper": {},  # Mamba: vocabulary 16, trained at length 256
            "extrapolate": {"seq_len": 4096},  # sixteen times the training length
            # Mamba's longest test, 2^20 (not an extrapolate* preset: the baseline runs
            # evaluate those on every model, and a million steps is hours for an RNN)
            "length-1m": {"seq_len": 1 << 20},
        },
        source=f"{OLSSON}; {MAMBA}, sec. 4.1; {SAFARI}",
    )
)


# ---------------------------------------------------------------------------------------------
# MAD's noisy in-context recall (multi-query); frac_noise = 0 is its plain in-context recall
# ---------------------------------------------------------------------------------------------
def _check_noise(knobs) -> None:
    knobs.require(knobs.frac_noise < 1.0, "frac_noise must be < 1 (MAD's assertion)")
    knobs.require(
        knobs.frac_noise == 0.0 or knobs.noise_vocab_size > 0,
        "noise_vocab_size must be > 0 when frac_noise > 0 (MAD's assertion)",
    )


@dataclass(frozen=True)
class NoisyRecallKnobs(Knobs):
    vocab_size: int = knob(
        32, lo=2, hi=MAX_VOCAB, doc="MAD's vocab_size: keys, values and the noise tokens",
        harder="up", ladder=(32, 48, 80, 144),
        why="more keys and values (MAD's sweep, 16 of them noise tokens)",
    )  # fmt: skip
    seq_len: int = knob(
        128, lo=4, hi=MAX_LEN, doc="MAD's seq_len (even): seq_len / 2 slots of two tokens; the "
        "episode is its first seq_len - 1 tokens", harder="up", ladder=(128, 256, 512, 1024),
        why="more pairs between a key's first appearance and its queries",
    )  # fmt: skip
    noise_vocab_size: int = knob(
        16, lo=0, hi=MAX_VOCAB, doc="the last noise_vocab_size ids are noise tokens",
    )  # fmt: skip
    frac_noise: float = knob(
        0.2, lo=0.0, hi=1.0, doc="each slot is two noise tokens with this probability (below "
        "1; one slot is always a pair)", harder="up", ladder=(0.2, 0.4, 0.6, 0.8),
        why="more noise among the pairs (MAD's sweep)",
    )  # fmt: skip

    def check(self):
        self.require(self.seq_len % 2 == 0, "seq_len must be an even number (MAD's assertion)")
        self.require(
            self.vocab_size - self.noise_vocab_size >= 2,
            "vocab_size - noise_vocab_size must be >= 2 (a key and a value)",
        )
        _check_noise(self)

    def layout(self) -> Layout:
        return Layout("int32", "int32",
                      vocab=mad_vocab(self.vocab_size, self.noise_vocab_size, False))  # fmt: skip


@functools.lru_cache(maxsize=16)
def mad_vocab(vocab_size: int, noise: int, pad: bool) -> tuple[str, ...]:
    """MAD's ids: keys ``k0`` .., values ``v..``, noise ``n..``, the pad ``_`` (MAD's
    vocab_size - 1, fuzzy recall); MAD's 0 (``k0``) is our id ``vocab_size``, id 0 memtasks'
    padding."""
    plain = vocab_size - noise - (1 if pad else 0)
    half = plain // 2
    names = [f"k{i}" for i in range(half)] + [f"v{i}" for i in range(half, plain)]
    names += [f"n{i}" for i in range(plain, plain + noise)] + (["_"] if pad else [])
    return ("<pad>", *names[1:], names[0])


@kernel(weight=6.0)
def _noisy_fill(key, start, n, vocab, length, noise, frac, rows, inputs, targets, mask, role,
                segment, noise_slots, queries):  # fmt: skip
    plain = vocab - noise
    keys = plain // 2
    values = plain - keys
    slots = length // 2
    total = length - 1
    for c in prange((n + CHUNK - 1) // CHUNK):
        value_of = np.empty(keys, np.int64)  # MAD's kv_map: a key's value, -1 before it shows
        shown = np.empty(keys, np.int64)  # distinct keys shown, in order (the probe's choice)
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s = episode_state(key, start + b)
            o = rows[b]
            for k in range(keys):
                value_of[k] = -1
            n_shown = 0
            n_noise = 0
            n_queries = 0
            # one slot is a pair for sure; MAD draws it from all slots, the last included,
            # which it never fills (a sequence of noise only then fails to draw its probe)
            s, sure = next_below(s, slots - 1)
            for i in range(slots - 1):
                a = o + 2 * i
                is_noise = False
                if i != sure and frac > 0.0:
                    s, u = next_float(s)
                    is_noise = u < frac
                if is_noise:
                    for t in range(2):
                        s, r = next_below(s, noise)
                        inputs[a + t] = _ours(plain + r, vocab)
                        targets[a + t] = 0
                        mask[a + t] = False
                        role[a + t] = ROLE_CONTEXT
                        segment[a + t] = -1
                    n_noise += 1
                    continue
                s, k = next_below(s, keys)
                v = value_of[k]
                seen = v >= 0
                if not seen:
                    s, r = next_below(s, values)
                    v = keys + r
                    value_of[k] = v
                    shown[n_shown] = k
                    n_shown += 1
                inputs[a] = _ours(k, vocab)
                inputs[a + 1] = v
                targets[a + 1] = 0
                mask[a + 1] = False
                role[a + 1] = ROLE_CONTEXT
                segment[a + 1] = i
                if seen:  # the value of a key seen before is scored where the key is read
                    targets[a] = v
                    mask[a] = True
                    role[a] = ROLE_ANSWER
                    segment[a] = -1
                    n_queries += 1
                else:
                    targets[a] = 0
                    mask[a] = False
                    role[a] = ROLE_CONTEXT
                    segment[a] = i
            # the probe: a key shown before, uniformly among the distinct ones; its value is
            # the last token of MAD's sequence, which its shift drops from the inputs
            s, r = next_below(s, n_shown)
            k = shown[r]
            a = o + total - 1
            inputs[a] = _ours(k, vocab)
            targets[a] = value_of[k]
            mask[a] = True
            role[a] = ROLE_ANSWER
            segment[a] = -1
            noise_slots[b] = n_noise
            queries[b] = n_queries + 1


@two_layouts
def _noisy(knobs: NoisyRecallKnobs, key, start: int, n: int, layout):
    total = knobs.seq_len - 1
    offsets = _fixed_offsets(n, total)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    noise_slots, queries = np.empty(n, np.int32), np.empty(n, np.int32)
    _noisy_fill(key, start, n, knobs.vocab_size, knobs.seq_len, knobs.noise_vocab_size,
                knobs.frac_noise, rows, *arrays, noise_slots, queries)  # fmt: skip
    return offsets, arrays, {"meta": {"noise_slots": noise_slots, "queries": queries}}


register(
    TaskSpec(
        id="recall/noisy-recall-v1",
        summary="noisy in-context recall: key-value pairs with noise tokens among them; every "
        "key seen before is answered with its value (MAD, multi-query)",
        knobs=NoisyRecallKnobs,
        generator=_noisy,
        layout=NoisyRecallKnobs.layout,
        metric=TokenAccuracy(),
        presets={
            "paper": {},  # MAD's noisy-recall baseline
            "recall": {"vocab_size": 16, "noise_vocab_size": 0, "frac_noise": 0.0},  # MAD's
            # plain in-context recall baseline
        },
        source=MAD,
    )
)


# ---------------------------------------------------------------------------------------------
# MAD's fuzzy in-context recall (multi-query): keys and values of several tokens
# ---------------------------------------------------------------------------------------------
MAX_MOTIF = 6
MAX_FUZZY_VOCAB = 1024  # (vocab + 1)^MAX_MOTIF < 2^63: a key of MAX_MOTIF tokens is one int64


@dataclass(frozen=True)
class FuzzyRecallKnobs(Knobs):
    vocab_size: int = knob(
        16, lo=5, hi=MAX_FUZZY_VOCAB, doc="MAD's vocab_size: keys, values, noise and the pad "
        "token (vocab_size - 1)", harder="up", ladder=(16, 32, 64, 128),
        why="more key and value tokens (MAD's sweep)",
    )  # fmt: skip
    seq_len: int = knob(
        128, lo=6, hi=MAX_LEN, doc="MAD's seq_len: the episode's length (left-padded)",
        harder="up", ladder=(128, 256, 512, 1024),
        why="more pairs between a key's first appearance and its queries",
    )  # fmt: skip
    k_motif_size: int = knob(
        3, lo=1, hi=MAX_MOTIF, doc="a key is 1 .. k_motif_size distinct key tokens",
    )  # fmt: skip
    v_motif_size: int = knob(
        3, lo=1, hi=MAX_MOTIF, doc="a value is 1 .. v_motif_size distinct value tokens",
    )  # fmt: skip
    noise_vocab_size: int = knob(
        0, lo=0, hi=MAX_FUZZY_VOCAB, doc="noise tokens, just below the pad token",
    )  # fmt: skip
    frac_noise: float = knob(
        0.0, lo=0.0, hi=1.0, doc="each step is noise (as many tokens as a pair) with this "
        "probability, below 1",
    )  # fmt: skip
    max_size_keys: bool = knob(
        False, doc="every key has k_motif_size tokens, as MAD's test instances (false: 1 .. "
        "k_motif_size, its training instances)",
    )  # fmt: skip

    def check(self):
        plain = self.vocab_size - 1 - self.noise_vocab_size
        self.require(
            plain // 2 >= self.k_motif_size,
            "(vocab_size - 1 - noise_vocab_size) // 2 must be >= k_motif_size (a key's tokens "
            "are distinct key tokens)",
        )
        self.require(
            plain - plain // 2 >= self.v_motif_size,
            "vocab_size - 1 - noise_vocab_size - (vocab_size - 1 - noise_vocab_size) // 2 must "
            "be >= v_motif_size (a value's tokens are distinct value tokens)",
        )
        self.require(
            self.seq_len >= 2 * (self.k_motif_size + self.v_motif_size) + 2,
            "seq_len must be >= 2 * (k_motif_size + v_motif_size) + 2 (pairs and the probe)",
        )
        _check_noise(self)

    def layout(self) -> Layout:
        return Layout("int32", "int32",
                      vocab=mad_vocab(self.vocab_size, self.noise_vocab_size, True))  # fmt: skip


@njit(inline="always")
def _motif(s, buf, size, lo, count):
    """``buf[:size]`` = ``size`` distinct tokens from ``lo .. lo + count - 1``, a uniformly
    random ordered tuple (one of MAD's ``permutations(vocab, size)``); return the state."""
    for j in range(size):
        v = lo
        fresh = False
        while not fresh:
            s, r = next_below(s, count)
            v = lo + r
            fresh = True
            for i in range(j):
                if buf[i] == v:
                    fresh = False
                    break
        buf[j] = v
    return s


@njit(inline="always")
def _code(buf, size, base):
    """A tuple of tokens as one int64, digits token + 1 in ``base``: distinct tuples (of any
    sizes) have distinct codes, all >= 1."""
    code = 0
    for i in range(size - 1, -1, -1):
        code = code * base + buf[i] + 1
    return code


@njit(inline="always")
def _slot(table, code):
    """The slot of ``code`` in the open-addressing ``table`` (0: empty), found or free."""
    cap = len(table)
    h = np.int64(mix64(np.uint64(code)) & np.uint64(cap - 1))
    while table[h] != 0 and table[h] != code:
        h = (h + 1) & (cap - 1)
    return h


@njit(inline="always")
def _put_motif(tok, lab, base_role, seg, c, buf, size, vocab, labelled, role, item):
    """Write a motif's tokens at content index ``c``; labelled: its tokens are also the
    labels there (MAD's targets before its shift)."""
    for i in range(size):
        tok[c + i] = _ours(buf[i], vocab)
        lab[c + i] = tok[c + i] if labelled else -1
        base_role[c + i] = role
        seg[c + i] = item
    return c + size


@kernel(weight=10.0)
def _fuzzy_fill(key, start, n, vocab, length, kmax, vmax, noise, frac, fixed_keys, cap,
                rows, inputs, targets, mask, role, segment, pads, pairs):  # fmt: skip
    plain = vocab - 1 - noise
    keys = plain // 2
    values = plain - keys
    pad = vocab - 1  # MAD's pad token in multi-query mode
    base = vocab + 1
    for c in prange((n + CHUNK - 1) // CHUNK):
        tok = np.empty(length + 1, np.int32)  # MAD's sequence before its padding and shift
        lab = np.empty(length + 1, np.int32)  # its labels (-1: ignored)
        base_role = np.empty(length + 1, np.int8)
        seg = np.empty(length + 1, np.int32)
        table = np.empty(cap, np.int64)  # key code -> slot; 0 empty
        value_code = np.empty(cap, np.int64)
        shown = np.empty(cap, np.bool_)
        kbuf = np.empty(kmax, np.int64)
        vbuf = np.empty(vmax, np.int64)
        pk = np.empty(kmax, np.int64)
        pv = np.empty(vmax, np.int64)
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            s = episode_state(key, start + b)
            for i in range(cap):
                table[i] = 0
            # the probe pair, drawn first (MAD's order): its key is in the map from the start,
            # so a random key equal to it takes its value
            kp = kmax
            if not fixed_keys:
                s, r = next_below(s, kmax)
                kp = 1 + r
            s, r = next_below(s, vmax)
            vp = 1 + r
            s = _motif(s, pk, kp, 0, keys)
            s = _motif(s, pv, vp, keys, values)
            s, probe_at = next_below(s, length - 2 * (kp + vp))
            probe_code = _code(pk, kp, base)
            h = _slot(table, probe_code)
            table[h] = probe_code
            value_code[h] = _code(pv, vp, base)
            shown[h] = False
            bound = length - (kp + vp) - (kmax + vmax)
            cl = 0  # content length
            item = 0
            added = False
            while cl < bound:
                ks = kmax
                if not fixed_keys:
                    s, r = next_below(s, kmax)
                    ks = 1 + r
                s, r = next_below(s, vmax)
                vs = 1 + r
                # ours: the probe goes in by the last step at the latest (MAD's loop can end
                # before it reaches probe_at, and then the final query may never have been seen)
                if not added and (cl >= probe_at or cl + ks + vs >= bound):
                    h = _slot(table, probe_code)
                    cl = _put_motif(tok, lab, base_role, seg, cl, pk, kp, vocab, False,
                                    ROLE_CONTEXT, item)  # fmt: skip
                    cl = _put_motif(tok, lab, base_role, seg, cl, pv, vp, vocab, False,
                                    ROLE_CONTEXT, item)  # fmt: skip
                    shown[h] = True
                    added = True
                    item += 1
                    continue
                if frac > 0.0:
                    s, u = next_float(s)
                    if u < frac:
                        for _ in range(ks + vs):
                            s, r = next_below(s, noise)
                            tok[cl] = _ours(plain + r, vocab)
                            lab[cl] = -1
                            base_role[cl] = ROLE_CONTEXT
                            seg[cl] = -1
                            cl += 1
                        continue
                s = _motif(s, kbuf, ks, 0, keys)
                code = _code(kbuf, ks, base)
                h = _slot(table, code)
                if table[h] == 0:  # a new key: its value, drawn once
                    s = _motif(s, vbuf, vs, keys, values)
                    table[h] = code
                    value_code[h] = _code(vbuf, vs, base)
                    shown[h] = False
                again = shown[h]
                if code == probe_code:
                    added = True
                vs = 0
                vc = value_code[h]
                while vc > 0:  # the value's tokens from its code
                    vbuf[vs] = vc % base - 1
                    vc //= base
                    vs += 1
                cl = _put_motif(tok, lab, base_role, seg, cl, kbuf, ks, vocab, False,
                                ROLE_QUERY if again else ROLE_CONTEXT,
                                -1 if again else item)  # fmt: skip
                cl = _put_motif(tok, lab, base_role, seg, cl, vbuf, vs, vocab, again,
                                ROLE_CONTEXT, item)  # fmt: skip
                shown[h] = True
                item += 1
            # the final query: the probe's key and value, the value scored
            cl = _put_motif(tok, lab, base_role, seg, cl, pk, kp, vocab, False, ROLE_QUERY, -1)
            cl = _put_motif(tok, lab, base_role, seg, cl, pv, vp, vocab, True, ROLE_CONTEXT, -1)
            # left padding to length + 1, then MAD's shift: inputs[:-1], labels[1:]
            left = length + 1 - cl
            o = rows[b]
            for t in range(length):
                a = o + t
                if t < left:
                    inputs[a] = pad
                    r0 = ROLE_CONTEXT
                    g0 = -1
                else:
                    inputs[a] = tok[t - left]
                    r0 = base_role[t - left]
                    g0 = seg[t - left]
                label = lab[t + 1 - left] if t + 1 >= left else -1
                if label >= 0:
                    targets[a] = label
                    mask[a] = True
                    role[a] = ROLE_ANSWER
                    segment[a] = -1
                else:
                    targets[a] = 0
                    mask[a] = False
                    role[a] = r0
                    segment[a] = g0 if r0 == ROLE_CONTEXT else -1
            pads[b] = left
            pairs[b] = item + 1


@two_layouts
def _fuzzy(knobs: FuzzyRecallKnobs, key, start: int, n: int, layout):
    length = knobs.seq_len
    cap = 1 << (length + 4).bit_length()  # more than twice the keys an episode can hold
    offsets = _fixed_offsets(n, length)
    rows, arrays = layout(offsets, TOKENS, TOKENS)
    pads, pairs = np.empty(n, np.int32), np.empty(n, np.int32)
    _fuzzy_fill(key, start, n, knobs.vocab_size, length, knobs.k_motif_size,
                knobs.v_motif_size, knobs.noise_vocab_size, knobs.frac_noise,
                knobs.max_size_keys, cap, rows, *arrays, pads, pairs)  # fmt: skip
    return offsets, arrays, {"meta": {"pad": pads, "pairs": pairs}}


register(
    TaskSpec(
        id="recall/fuzzy-recall-v1",
        summary="fuzzy in-context recall: keys and values of several tokens; every key seen "
        "before is answered with its value's tokens (MAD, multi-query)",
        knobs=FuzzyRecallKnobs,
        generator=_fuzzy,
        layout=FuzzyRecallKnobs.layout,
        metric=TokenAccuracy(),
        presets={
            "paper": {},  # MAD's fuzzy-recall baseline, its training instances
            "paper-test": {"max_size_keys": True},  # its test instances: 3-token keys
        },
        source=MAD,
    )
)
