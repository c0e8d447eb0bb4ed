"""The Associative LSTM's memorisation tasks (Danihelka, Wayne, Uria, Kalchbrenner & Graves
2016, "Associative Long Short-Term Memory", ICML, arXiv:1602.03032; survey sec. 3.2.1): four
character-level tasks on which the paper compares LSTM, deep LSTM, permutation and unitary RNNs
and the Associative LSTM by their cost in bits per character on the target characters.

- ``alstm/episodic-copy-v1``: the copy-memory task of Arjovsky, Shah & Bengio (2016) as the
  paper uses it: 10 symbols of 8, a silence, a marker, the 10 symbols back;
- ``alstm/xml-v1``: nested random tags ``<name>...</name>`` (Jozefowicz, Zaremba & Sutskever
  2015's XML modelling), scored on the closing tags, the one part the past determines;
- ``alstm/variable-assignment-v1``: ``s(name,value),...,q(name)`` then the value;
- ``alstm/arithmetic-v1``: ``a+b=`` or ``a-b=`` then the result's characters reversed and an
  end marker.

All four are token tasks over one character vocabulary (``VOCAB``; id 0 is padding). The last
three are language-model episodes: an episode is one character string c_0 .. c_{L-1}; position
t reads c_t and its target is c_{t+1} (L - 1 positions), and only the targets the past
determines are scored (the closing tag's name and ``>``, the value, the result and the end
marker). Episodic copy keeps the copy-memory layout of the paper's task instead: the recalled
symbols are targets at positions that read blanks, so the model never reads what it recalls.

Each language-model task is one compiled kernel run twice (as bAbI's driver): the sizes pass
draws every episode and counts its characters and closing tags, the layout allocates the
arrays, and the fill pass redraws the same episode from the same stream and writes it. The
layout (``two_layouts``) is the flat arrays of ``generate`` or the padded batches a model reads
(``memtasks.views.padded_batches``): the fill pass takes each episode's length from the sizes
pass's offsets and writes it from its row in the layout, so one kernel writes both. An episode
function writes its characters into a buffer of codes (the character, its kind, its context
item: ``_code``), and ``_spill`` turns the buffer into the episode's positions: each character
is the input of its own position and the target of the one before. (Writing the arrays through
a helper called per character costs NRT reference counts on every call: 200 times slower.)

Cards: ``data_cards/alstm/<name>.md``. Tests: ``tests/test_alstm_tasks.py``. Benchmark:
``benchmarks/bench_alstm.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_NAMES, ROLE_QUERY, EpisodeBatch
from memtasks.knobs import Knobs, knob
from memtasks.metrics import BitsPerToken
from memtasks.registry import Layout, TaskSpec, register
from memtasks.rng import U64, episode_state, next_below, next_float, next_u64

from ._kernels import EpisodesMemoryError, Kernel, kernel, running_sum, two_layouts
from ._kernels import njit as plain_njit

DANIHELKA = (
    "Danihelka, Wayne, Uria, Kalchbrenner & Graves (2016), Associative Long Short-Term Memory, "
    "ICML, arXiv:1602.03032"
)
ARJOVSKY = "Arjovsky, Shah & Bengio (2016), Unitary Evolution Recurrent Neural Networks, ICML"
JOZEFOWICZ = (
    "Jozefowicz, Zaremba & Sutskever (2015), An Empirical Exploration of Recurrent Network "
    "Architectures, ICML"
)
MAX_LEN = 1_000_000  # a sanity bound on one episode's characters

# ---------------------------------------------------------------------------------------------
# The vocabulary: one for the family, so that a model reads every task with the same embedding
# ---------------------------------------------------------------------------------------------
_SPECIAL = ("<pad>", "\n", " ", "_", "#", "<", ">", "/", "(", ")", ",", "=", "+", "-", ".")
DIGITS = tuple("0123456789")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
VOCAB = (*_SPECIAL, *DIGITS, *LETTERS)
(NEWLINE, SPACE, BLANK, MARK, LT, GT, SLASH, LPAREN, RPAREN, COMMA, EQUALS, PLUS, MINUS,
 PERIOD) = range(1, len(_SPECIAL))  # fmt: skip
DIGIT0 = len(_SPECIAL)
LETTER0 = DIGIT0 + len(DIGITS)
ID = {c: i for i, c in enumerate(VOCAB)}


def layout(_knobs: Knobs) -> Layout:
    return Layout("int32", "int32", vocab=VOCAB)


def text_of(ids) -> str:
    """Token ids as the characters they are."""
    return "".join(VOCAB[int(x)] for x in ids)


# What a character is to the episode: read as context, part of the question, or an answer
# character (a scored target). A position's role follows from its input's kind and its
# target's (see ``_spill``).
CONTEXT, QUERY, ANSWER = 0, 1, 2


@njit(inline="always")
def _code(c, kind, seg):
    """A character of an episode with its kind and its context item, as one buffer entry."""
    return c | (kind << 8) | ((seg + 1) << 10)


@plain_njit
def _spill(buf, chars, o, inputs, targets, mask, role, segment):
    """Write the episode whose ``chars`` characters are coded in ``buf`` at row ``o``: position
    t reads character t and its target is character t + 1.

    Position t's role: 2 (answer, scored) when its target is an answer character, else 1 when
    its input is a query character, else 0; its segment is its input's item when that is
    context, else -1.
    """
    # One pass over the positions, each written once, with unsigned row counters (Numba
    # checks signed indices for wrapping around from the end): position t from characters t
    # and t + 1, an answer target's role and segment overriding those of the input. Both
    # loaded afresh at each t and the role chosen by conditional expressions, LLVM makes it
    # branch-free (measured on an XML episode: 4.9 ns per position before, 1.1 after; carrying
    # character t + 1 over to the next t, or the role from a table, took 2.9).
    if chars < 2:
        return
    o = np.uint64(o)
    last = np.uint64(chars - 1)
    t = np.uint64(0)
    while t < last:
        code, after = buf[t], buf[t + _U1]
        kind, answer = (code >> 8) & 3, ((after >> 8) & 3) == ANSWER
        inputs[o + t] = code & 255
        targets[o + t] = after & 255
        mask[o + t] = answer
        role[o + t] = ROLE_ANSWER if answer else (ROLE_QUERY if kind == QUERY else ROLE_CONTEXT)
        segment[o + t] = (code >> 10) - 1 if kind == CONTEXT and not answer else -1
        t += _U1


_U1 = np.uint64(1)


@njit(inline="always")
def _scratch(fill, offsets, b, buf):
    """The buffer for episode b's characters: ``buf`` when it holds them (their count is known
    from the sizes pass), else a larger one, so that a run of episodes (``_RUN``) allocates a
    few; the sizes pass writes every character to one entry (``min(j, top)``), which it never
    reads."""
    if fill:
        need = offsets[b + 1] - offsets[b] + 1
        if need > len(buf):
            return np.empty(max(need, 2 * len(buf)), np.int64)
    return buf


# Episodes per run of a kernel's loop: a run shares its scratch buffers (an allocation per
# episode costs about a tenth of a short episode), and runs are what threads share out
_RUN = 64


@plain_njit
def _letters(buf, j, seed, min_name, name_spread, kind, seg, fill):
    """(stream', j'): the name drawn from its own stream ``seed`` (its length, then its
    letters), coded from ``buf[j]`` on. The sizes pass draws the length only: the letters come
    from the name's own stream, so skipping them leaves the episode's stream where the fill
    pass will have it."""
    t, k = next_below(seed, name_spread + 1)
    if fill:
        for q in range(min_name + k):
            t, c = next_below(t, 26)
            buf[j + q] = _code(LETTER0 + c, kind, seg)
    return t, j + min_name + k


def _empty_arrays():
    """The sizes pass writes no position array: empty ones of the fill pass's types."""
    none32 = np.empty(0, np.int32)
    return none32, none32, np.empty(0, np.bool_), np.empty(0, np.int8), none32


def _per_episode(n: int, size: int = 0) -> np.ndarray:
    """Int64 offsets of ``n - 1`` episodes: uninitialised, or with ``size`` those of episodes of
    ``size`` positions each; more than memory holds is one ``EpisodesMemoryError``, as the
    kernels say it."""
    try:
        return np.arange(0, n * size, size, np.int64) if size else np.empty(n, np.int64)
    except (MemoryError, ValueError) as exc:  # ValueError: more bytes than an int64 counts
        raise EpisodesMemoryError(f"{max(n - 1, 0):,} episodes", exc) from None


# ---------------------------------------------------------------------------------------------
# Episodic copy: P symbols, T - 1 blanks, the marker, P blanks; the P symbols are the targets of
# the last P positions (Arjovsky et al.'s copy memory, as mpezeshki/Associative_LSTM makes it)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EpisodicCopyKnobs(Knobs):
    delay: int = knob(
        100, lo=1, hi=MAX_LEN, doc="T: the marker is the T-th step after the last symbol",
        harder="up", ladder=(10, 50, 100, 200, 500, 1000),
        why="the symbols must be held through T - 1 blank steps before the marker asks for them",
    )  # fmt: skip
    positions: int = knob(
        10, lo=1, hi=10_000, doc="P: symbols to copy", harder="up", ladder=(5, 10, 20, 40),
        why="more symbols to hold at once",
    )  # fmt: skip
    symbols: int = knob(8, lo=2, hi=26, doc="the alphabet: symbols are the first letters a ..")

    def size(self) -> int:
        return 2 * self.positions + self.delay


@kernel(weight=6.0)
def _copy_fill(key, start, n, positions, delay, symbols, rows, inputs, targets, mask, role,
               segment):  # fmt: skip
    """Episode b at rows ``rows[b]`` .. ``rows[b] + 2P + T - 1``, each element written once:
    what varies (the symbols, their recall, the items) in one loop over the draws, then each
    field's runs of one value as slices (stores LLVM makes as wide as it can). Unsigned rows:
    Numba checks signed indices for wrapping around from the end. Measured at batches of 64 on
    one thread, in one run: 2.4 ns per position before (a loop over the symbols and one over
    the silence, every field in each, signed indices), 0.7 so; unsigned loops over every field
    came about a fifth slower than the slices."""
    p = np.uint64(positions)
    gap = p + np.uint64(delay)  # from a symbol to its recall
    for b in prange(n):
        s = episode_state(key, start + b)
        o = np.uint64(rows[b])
        ask = o + gap - _U1  # the marker
        recall, end = ask + _U1, ask + _U1 + p  # the answer positions
        i = o
        while i < o + p:  # the symbols (context items 0 .. P-1), and their recall
            s, v = next_below(s, symbols)
            inputs[i] = LETTER0 + v
            segment[i] = i - o
            targets[i + gap] = LETTER0 + v
            i += _U1
        inputs[o + p : ask] = BLANK  # the silence
        inputs[ask] = MARK  # the marker asks for the symbols back: the question
        inputs[recall:end] = BLANK  # the model never reads what it recalls
        targets[o:recall] = BLANK  # the paper's target before the answer: blank, not scored
        mask[o:recall] = False
        mask[recall:end] = True
        role[o:ask] = ROLE_CONTEXT
        role[ask] = ROLE_QUERY
        role[recall:end] = ROLE_ANSWER
        segment[o + p : end] = -1


@two_layouts
def _episodic_copy(knobs: EpisodicCopyKnobs, key, start: int, n: int, layout):
    offsets = _per_episode(n + 1, knobs.size())  # every episode is 2P + T positions long
    rows, arrays = layout(offsets, (None, np.int32), (None, np.int32))
    _copy_fill(key, start, n, knobs.positions, knobs.delay, knobs.symbols, rows, *arrays)
    return offsets, arrays, {}


register(
    TaskSpec(
        id="alstm/episodic-copy-v1",
        summary="episodic copy: 10 symbols, a long silence, a marker, the 10 symbols back",
        knobs=EpisodicCopyKnobs,
        generator=_episodic_copy,
        layout=layout,
        metric=BitsPerToken(),
        presets={"paper": {}, "extrapolate": {"delay": 1000}},
        source=f"{DANIHELKA} (episodic copy); the copy-memory task of {ARJOVSKY}",
    )
)


@njit(inline="always")
def _same_name(a, b, min_name, name_spread):
    """Whether the names drawn from the streams ``a`` and ``b`` are the same."""
    a, ka = next_below(a, name_spread + 1)
    b, kb = next_below(b, name_spread + 1)
    if ka != kb:
        return False
    for _ in range(min_name + ka):
        a, ca = next_below(a, 26)
        b, cb = next_below(b, 26)
        if ca != cb:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# XML: nested random tags, scored on the closing tags
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class XmlKnobs(Knobs):
    length: int = knob(
        256, lo=1, hi=MAX_LEN, doc="characters before the document is closed: tags are drawn "
        "until it is this long, then every open tag is closed", harder="up",
        ladder=(64, 128, 256, 512, 1024), why="more tags, and longer stretches between a tag's "
        "opening and its closing",
    )  # fmt: skip
    max_depth: int = knob(
        4, lo=1, hi=256, doc="deepest nesting: at this depth the next tag closes", harder="up",
        ladder=(1, 2, 4, 8, 16), why="more open names to hold at once, each for longer",
    )  # fmt: skip
    min_name: int = knob(1, lo=1, hi=64, doc="shortest tag name (letters a..z)")
    max_name: int = knob(
        10, lo=1, hi=64, doc="longest tag name; lengths are uniform between the two",
        harder="up", ladder=(2, 5, 10, 20), why="more characters to recall per closing tag",
    )  # fmt: skip
    open_rate: float = knob(
        0.5, lo=0.01, hi=0.99, doc="chance that the next tag opens, where it may open or close"
    )
    indent: bool = knob(
        True, doc="each tag on a line of its own, indented one space per level (false: the "
        "tags back to back)",
    )  # fmt: skip

    def check(self):
        self.require(self.min_name <= self.max_name, "min_name must be <= max_name")


@plain_njit
def _xml_episode(s, length, max_depth, min_name, name_spread, open_rate, indent, fill, buf,
                 support, support_answer, so, names, owner):  # fmt: skip
    """One document from state ``s``, coded into ``buf``: (state', characters, elements,
    deepest level).

    A tag's name has a stream of its own, seeded where the tag opens; ``names`` keeps each open
    level's seed, so its closing tag redraws the same name (nothing of it is stored).
    ``owner`` keeps each open level's element index: the closing tag's support.
    """
    top = len(buf) - 1
    j = 0
    depth = 0
    elements = 0
    closes = 0
    deepest = 0
    while True:
        if j >= length:
            if depth == 0:
                break
            opening = False
        elif depth == 0:
            opening = True
        elif depth == max_depth:
            opening = False
        else:
            s, u = next_float(s)
            opening = u < open_rate
        if opening:
            seg = elements  # the opening tag is context item ``elements``
            if indent and j > 0:
                buf[min(j, top)] = _code(NEWLINE, CONTEXT, seg)
                j += 1
                for _ in range(depth):
                    buf[min(j, top)] = _code(SPACE, CONTEXT, seg)
                    j += 1
            buf[min(j, top)] = _code(LT, CONTEXT, seg)
            s, names[depth] = next_u64(s)  # the name's own stream
            owner[depth] = elements
            _, j = _letters(buf, j + 1, names[depth], min_name, name_spread, CONTEXT, seg, fill)
            buf[min(j, top)] = _code(GT, CONTEXT, seg)
            j += 1
            depth += 1
            elements += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
            if indent:
                buf[min(j, top)] = _code(NEWLINE, CONTEXT, -1)
                j += 1
                for _ in range(depth):
                    buf[min(j, top)] = _code(SPACE, CONTEXT, -1)
                    j += 1
            # "</" is the question: whether a tag closes here is a coin flip, not memory
            buf[min(j, top)] = _code(LT, QUERY, -1)
            buf[min(j + 1, top)] = _code(SLASH, QUERY, -1)
            # the opening tag's name again, from its stream
            _, j = _letters(buf, j + 2, names[depth], min_name, name_spread, ANSWER, -1, fill)
            buf[min(j, top)] = _code(GT, ANSWER, -1)
            j += 1
            if fill:
                support[so + closes] = owner[depth]
                support_answer[so + closes] = closes  # closing tags are the answer spans
            closes += 1
    return s, j, elements, deepest


def _xml_episodes(key, start, n, fill, length, max_depth, min_name, name_spread, open_rate,
                  indent, offsets, rows, inputs, targets, mask, role, segment, support_offsets,
                  support, support_answer, elements, deepest):  # fmt: skip
    """Both passes over episodes ``start .. start + n - 1``. ``fill`` False: each episode's
    positions and closing tags, summed into ``offsets`` and ``support_offsets``. True: write
    episode b into the arrays allocated from those, from row ``rows[b]`` on (``offsets``
    itself in the flat layout, the padded layout's rows else), its length read from
    ``offsets``."""
    for r in prange((n + _RUN - 1) // _RUN):
        names = np.empty(max_depth, np.uint64)
        owner = np.empty(max_depth, np.int32)
        buf = np.empty(1, np.int64)
        for b in range(r * _RUN, min(n, (r + 1) * _RUN)):
            buf = _scratch(fill, offsets, b, buf)
            so = support_offsets[b] if fill else 0
            _, chars, m, deep = _xml_episode(
                episode_state(key, start + b), length, max_depth, min_name, name_spread,
                open_rate, indent, fill, buf, support, support_answer, so, names, owner,
            )  # fmt: skip
            if fill:
                _spill(buf, chars, rows[b], inputs, targets, mask, role, segment)
                elements[b] = m
                deepest[b] = deep
            else:
                offsets[b + 1] = chars - 1  # position t reads character t, its target t + 1
                support_offsets[b + 1] = m
    if not fill:
        running_sum(offsets)
        running_sum(support_offsets)


# one kernel for both passes, as bAbI's driver: most of a compile is the episode function
_xml_kernel = Kernel(_xml_episodes, weight=12.0, last=True)


@two_layouts
def _xml(knobs: XmlKnobs, key, start: int, n: int, layout):
    args = (knobs.length, knobs.max_depth, knobs.min_name, knobs.max_name - knobs.min_name,
            knobs.open_rate, knobs.indent)  # fmt: skip
    offsets, support_offsets = _per_episode(n + 1), _per_episode(n + 1)
    none32 = np.empty(0, np.int32)
    _xml_kernel(key, start, n, False, *args, offsets, offsets, *_empty_arrays(),
                support_offsets, none32, none32, none32, none32)  # fmt: skip
    rows, arrays = layout(offsets, (None, np.int32), (None, np.int32))
    support = np.empty(int(support_offsets[-1]), np.int32)
    support_answer = np.empty(len(support), np.int32)
    elements, deepest = np.empty(n, np.int32), np.empty(n, np.int32)
    _xml_kernel(key, start, n, True, *args, offsets, rows, *arrays, support_offsets, support,
                support_answer, elements, deepest)  # fmt: skip
    meta = {"elements": elements, "depth": deepest}
    return offsets, arrays, {"support": (support_offsets, support),
                             "support_answer": support_answer, "meta": meta}  # fmt: skip


register(
    TaskSpec(
        id="alstm/xml-v1",
        summary="XML modelling: nested random tags, scored on the closing tags' names",
        knobs=XmlKnobs,
        generator=_xml,
        layout=layout,
        metric=BitsPerToken(),
        presets={"paper": {}, "extrapolate": {"length": 1024, "max_depth": 8}},
        source=f"{DANIHELKA} (XML modeling); the task of {JOZEFOWICZ}",
    )
)


# ---------------------------------------------------------------------------------------------
# Variable assignment: s(name,value),...,q(name) then the value
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VariableAssignmentKnobs(Knobs):
    min_assignments: int = knob(1, lo=1, hi=100_000, doc="fewest assignments before the query")
    max_assignments: int = knob(
        10, lo=1, hi=100_000, doc="most assignments; the count is uniform between the two",
        harder="up", ladder=(2, 5, 10, 20, 40), why="more name-value pairs to hold, and the "
        "queried one further back",
    )  # fmt: skip
    min_name: int = knob(1, lo=1, hi=64, doc="shortest variable name (letters a..z)")
    max_name: int = knob(
        4, lo=1, hi=64, doc="longest variable name; lengths are uniform between the two",
        harder="up", ladder=(1, 2, 4, 8), why="longer keys to match",
    )  # fmt: skip
    values: int = knob(26, lo=2, hi=26, doc="how many letters (a, b, ...) a value is drawn from")

    def check(self):
        self.require(
            self.min_assignments <= self.max_assignments,
            "min_assignments must be <= max_assignments",
        )
        self.require(self.min_name <= self.max_name, "min_name must be <= max_name")


@plain_njit
def _assignment_episode(s, min_assignments, spread, min_name, name_spread, values, fill, buf):
    """One program from state ``s``, coded into ``buf``: (state', characters, assignments,
    queried, answering).

    ``queried`` is the assignment whose name the query asks for; ``answering`` the last
    assignment to that name (a name may be assigned twice: the last assignment wins). Each
    assignment's name and value come from a stream of its own (``_letters``), whose seed is
    all the episode's stream spends on it."""
    top = len(buf) - 1
    s, k = next_below(s, spread + 1)
    k += min_assignments
    s, queried = next_below(s, k)
    asked = U64(0)  # the queried assignment's seed
    answering, value = 0, 0
    j = 0
    for i in range(k):
        buf[min(j, top)] = _code(LETTER_S, CONTEXT, i)
        buf[min(j + 1, top)] = _code(LPAREN, CONTEXT, i)
        s, seed = next_u64(s)
        t, j = _letters(buf, j + 2, seed, min_name, name_spread, CONTEXT, i, fill)
        v = 0
        if fill:  # the value: the next draw of the name's stream
            t, v = next_below(t, values)
        buf[min(j, top)] = _code(COMMA, CONTEXT, i)
        buf[min(j + 1, top)] = _code(LETTER0 + v, CONTEXT, i)
        buf[min(j + 2, top)] = _code(RPAREN, CONTEXT, i)
        buf[min(j + 3, top)] = _code(COMMA, CONTEXT, i)
        j += 4
        if i == queried:
            asked, answering, value = seed, i, v
        elif fill and i > queried and _same_name(asked, seed, min_name, name_spread):
            answering, value = i, v
    buf[min(j, top)] = _code(LETTER_Q, QUERY, -1)
    buf[min(j + 1, top)] = _code(LPAREN, QUERY, -1)
    _, j = _letters(buf, j + 2, asked, min_name, name_spread, QUERY, -1, fill)
    buf[min(j, top)] = _code(RPAREN, QUERY, -1)
    buf[min(j + 1, top)] = _code(LETTER0 + value, ANSWER, -1)
    return s, j + 2, k, queried, answering


LETTER_S, LETTER_Q = ID["s"], ID["q"]


def _assignment_episodes(key, start, n, fill, min_assignments, spread, min_name, name_spread,
                         values, offsets, rows, inputs, targets, mask, role, segment, support,
                         assignments, queried):  # fmt: skip
    for r in prange((n + _RUN - 1) // _RUN):
        buf = np.empty(1, np.int64)
        for b in range(r * _RUN, min(n, (r + 1) * _RUN)):
            buf = _scratch(fill, offsets, b, buf)
            _, chars, k, q, a = _assignment_episode(
                episode_state(key, start + b), min_assignments, spread, min_name, name_spread,
                values, fill, buf,
            )  # fmt: skip
            if fill:  # as _xml_episodes: the length from ``offsets``, the rows from ``rows``
                _spill(buf, chars, rows[b], inputs, targets, mask, role, segment)
                support[b] = a
                assignments[b] = k
                queried[b] = q
            else:
                offsets[b + 1] = chars - 1
    if not fill:
        running_sum(offsets)


_assignment_kernel = Kernel(_assignment_episodes, weight=3.0, last=True)


@two_layouts
def _variable_assignment(knobs: VariableAssignmentKnobs, key, start: int, n: int, layout):
    args = (knobs.min_assignments, knobs.max_assignments - knobs.min_assignments, knobs.min_name,
            knobs.max_name - knobs.min_name, knobs.values)  # fmt: skip
    offsets = _per_episode(n + 1)
    none32 = np.empty(0, np.int32)
    _assignment_kernel(key, start, n, False, *args, offsets, offsets, *_empty_arrays(), none32,
                       none32, none32)  # fmt: skip
    rows, arrays = layout(offsets, (None, np.int32), (None, np.int32))
    support = np.empty(n, np.int32)
    assignments, queried = np.empty(n, np.int32), np.empty(n, np.int32)
    _assignment_kernel(key, start, n, True, *args, offsets, rows, *arrays, support, assignments,
                       queried)  # fmt: skip
    one_each = np.arange(n + 1, dtype=np.int64)
    return offsets, arrays, {
        "support": (one_each, support), "support_answer": np.zeros(n, np.int32),
        "meta": {"assignments": assignments, "queried": queried},
    }  # fmt: skip


register(
    TaskSpec(
        id="alstm/variable-assignment-v1",
        summary="variable assignment: s(name,value),...,q(name) then the queried value",
        knobs=VariableAssignmentKnobs,
        generator=_variable_assignment,
        layout=layout,
        metric=BitsPerToken(),
        presets={"paper": {}, "extrapolate": {"min_assignments": 11, "max_assignments": 40}},
        source=f"{DANIHELKA} (variable assignment)",
    )
)


# ---------------------------------------------------------------------------------------------
# Arithmetic: a+b= or a-b=, then the result reversed and an end marker
# ---------------------------------------------------------------------------------------------
MAX_DIGITS = 18  # the sum of two 18-digit numbers still fits an int64


@dataclass(frozen=True)
class ArithmeticKnobs(Knobs):
    min_digits: int = knob(1, lo=1, hi=MAX_DIGITS, doc="fewest digits of an operand")
    max_digits: int = knob(
        8, lo=1, hi=MAX_DIGITS, doc="most digits of an operand; each operand's count is "
        "uniform between the two", harder="up", ladder=(2, 4, 8, 12, 16),
        why="longer operands to hold, more carries to chain",
    )  # fmt: skip
    difference_rate: float = knob(
        0.5, lo=0.0, hi=1.0, doc="share of differences a-b (the rest are sums a+b)"
    )

    def check(self):
        self.require(self.min_digits <= self.max_digits, "min_digits must be <= max_digits")


@njit(inline="always")
def _operand(s, min_digits, spread):
    """(state', value, digits): an operand of uniform digit count d, uniform among the d-digit
    numbers (no leading zero; a one-digit operand may be 0). One or two draws, not one per
    digit: up to 9 digits (below 2**32) in one, more as the leading d - 9 digits and the last 9."""
    s, d = next_below(s, spread + 1)
    d += min_digits
    if d == 1:
        s, value = next_below(s, 10)
    elif d <= 9:
        s, value = next_below(s, 9 * _POW10[d - 1])
        value += _POW10[d - 1]
    else:
        s, high = next_below(s, 9 * _POW10[d - 10])
        s, low = next_below(s, _POW10[9])
        value = (high + _POW10[d - 10]) * _POW10[9] + low
    return s, value, d


_POW10 = np.array([10**i for i in range(MAX_DIGITS + 1)], np.int64)


@njit(inline="always")
def _digits(buf, at, value, d):
    """The ``d`` digits of ``value`` >= 0 as query characters at ``buf[at:at + d]``, most
    significant first: written from the last, each by a division by the constant 10 (a
    division by a power of ten read from a table is a true division, per digit)."""
    v = np.uint64(value)
    for i in range(d - 1, -1, -1):
        buf[at + i] = _code(DIGIT0 + np.int64(v % _U10), QUERY, -1)
        v //= _U10


_U10 = np.uint64(10)


@plain_njit
def _arithmetic_episode(s, min_digits, spread, difference_rate, fill, buf):
    """One expression from state ``s``, coded into ``buf``: (state', characters, a, b, minus)."""
    top = len(buf) - 1
    s, a, da = _operand(s, min_digits, spread)
    s, u = next_float(s)
    minus = u < difference_rate
    s, b, db = _operand(s, min_digits, spread)
    if fill:  # the sizes pass needs the operands' digit counts only
        _digits(buf, 0, a, da)
        _digits(buf, da + 1, b, db)
    buf[min(da, top)] = _code(MINUS if minus else PLUS, QUERY, -1)
    j = da + 1 + db
    buf[min(j, top)] = _code(EQUALS, QUERY, -1)
    j += 1
    r = a - b if minus else a + b
    negative = r < 0
    if negative:
        r = -r
    while True:  # the digits from the last: the result reversed
        buf[min(j, top)] = _code(DIGIT0 + r % 10, ANSWER, -1)
        j += 1
        r //= 10
        if r == 0:
            break
    if negative:
        buf[min(j, top)] = _code(MINUS, ANSWER, -1)
        j += 1
    buf[min(j, top)] = _code(PERIOD, ANSWER, -1)
    return s, j + 1, a, b, minus


def _arithmetic_episodes(key, start, n, fill, min_digits, spread, difference_rate, offsets,
                         rows, inputs, targets, mask, role, segment, first, second,
                         minus):  # fmt: skip
    # one buffer of the longest expression serves a run of episodes
    for c in prange((n + _RUN - 1) // _RUN):
        buf = np.empty(_MAX_CHARS, np.int64)
        for b in range(c * _RUN, min(n, (c + 1) * _RUN)):
            _, chars, x, y, m = _arithmetic_episode(
                episode_state(key, start + b), min_digits, spread, difference_rate, fill, buf
            )
            if fill:  # as _xml_episodes: the length from ``offsets``, the rows from ``rows``
                _spill(buf, chars, rows[b], inputs, targets, mask, role, segment)
                first[b], second[b], minus[b] = x, y, m
            else:
                offsets[b + 1] = chars - 1
    if not fill:
        running_sum(offsets)


# the longest expression: two operands, the operator, "=", the result (one digit more than the
# longer operand), its sign and the end marker
_MAX_CHARS = 2 * MAX_DIGITS + 2 + MAX_DIGITS + 1 + 2
_arithmetic_kernel = Kernel(_arithmetic_episodes, weight=1.5, last=True)


@two_layouts
def _arithmetic(knobs: ArithmeticKnobs, key, start: int, n: int, layout):
    args = (knobs.min_digits, knobs.max_digits - knobs.min_digits, knobs.difference_rate)
    offsets = _per_episode(n + 1)
    none64 = np.empty(0, np.int64)
    _arithmetic_kernel(key, start, n, False, *args, offsets, offsets, *_empty_arrays(), none64,
                       none64, np.empty(0, np.bool_))  # fmt: skip
    rows, arrays = layout(offsets, (None, np.int32), (None, np.int32))
    first, second, minus = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.bool_)
    _arithmetic_kernel(key, start, n, True, *args, offsets, rows, *arrays, first, second, minus)
    return offsets, arrays, {"meta": {"a": first, "b": second, "minus": minus}}


register(
    TaskSpec(
        id="alstm/arithmetic-v1",
        summary="arithmetic: a+b= or a-b=, then the result reversed and an end marker",
        knobs=ArithmeticKnobs,
        generator=_arithmetic,
        layout=layout,
        metric=BitsPerToken(),
        presets={"paper": {}, "extrapolate": {"min_digits": 9, "max_digits": 16}},
        source=f"{DANIHELKA} (arithmetic)",
    )
)


# ---------------------------------------------------------------------------------------------
# `memtasks show`: the episode as the text it is, scored characters marked under it
# ---------------------------------------------------------------------------------------------
SCORED = "^"


def _marks(flags) -> str:
    return "".join(SCORED if f else " " for f in flags).rstrip()


def render(batch: EpisodeBatch, i: int, layout_) -> list[str] | None:
    """``memtasks show``'s lines of an episode: episodic copy as its input and target rows;
    the others as their text (one character per position plus the last target), each line
    followed by ``^`` under its scored characters."""
    vocab = layout_.vocab if layout_ else ()
    if batch.is_vector or tuple(vocab) != VOCAB:
        return None
    ep = batch.episode(i)
    if batch.task.startswith("alstm/episodic-copy"):
        lines = [
            "  inputs : " + text_of(ep["inputs"]),
            "  targets: " + text_of(ep["targets"]),
            "  scored : " + _marks(ep["mask"]),
        ]
    else:
        chars = text_of(ep["inputs"][:1]) + text_of(ep["targets"])
        scored = [False, *ep["mask"].tolist()]
        lines, at = [], 0
        for line in chars.split("\n"):
            lines.append("  " + line)
            marks = _marks(scored[at : at + len(line)])
            if marks:
                lines.append("  " + marks)
            at += len(line) + 1
    roles = ", ".join(
        f"{ROLE_NAMES.get(int(r), r)} {int((ep['role'] == r).sum())}" for r in np.unique(ep["role"])
    )
    lines.append(f"  roles: {roles}")
    if len(ep["support"]):
        lines.append("  support: " + " ".join(str(int(s)) for s in ep["support"]))
    return lines


def _register_renderer() -> None:
    # show is Python-side only: no compiled code reads a value from it
    from memtasks import show

    show.register_renderer("alstm", render)


_register_renderer()
