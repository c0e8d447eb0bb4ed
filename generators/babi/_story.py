"""Stories as symbolic lines, and the compiled driver that turns them into episodes.

A task's *story function* simulates one story over integer ids and writes it as **lines** into
an ``int32[max_lines, width]`` scratch array, one row per line of the released text format:

======== =================================================================================
column   meaning
======== =================================================================================
0        kind: ``STATEMENT``, ``QUESTION`` (or ``FILLER``, added by the long-context mode)
1        template id (``TextTables``)
2..5     the template's slot values: phrase ids (actors, rooms, objects, directions...)
6        number of answer phrases (questions)
7        number of supporting lines (questions)
8..      ``a_max`` answer phrase ids, then ``s_max`` supporting *line indices*, in the
         release's order (reasoning-chain order, not sorted)
======== =================================================================================

Its signature is ``story(state, p, pools, lines) -> (state, n_lines)``: ``p`` is the task's
knob record (a NumPy record read by field name: ``COMMON_KNOBS``, then the task's own),
``pools`` a tuple of int32 arrays of phrase ids (actors, rooms, ...), and a negative
``n_lines`` asks the driver to reject the story and draw another, up to ``p.tries`` times.

The driver (``episodes`` below, its sizes and fill passes in one kernel, compiled once per
task with its story function bound in) renders lines through the templates into the episode
format: context sentences are segments 0, 1, ... in order, each question is a query span
followed by one scored answer position per answer word, and supporting lines become segment
ids. It enforces the question-to-support distance knobs and weaves in filler sentences for the
long-context mode.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_QUERY
from memtasks.rng import episode_state, next_below

from .._kernels import njit, running_sum
from ._text import ANSWER

STATEMENT, QUESTION, FILLER = 0, 1, 2
KIND, TEMPLATE, ARG, N_ANSWER, N_SUPPORT, ANSWERS = 0, 1, 2, 6, 7, 8

# The knob record every story reads (``p.min_distance`` ...): these fields first, then the task's
# own, all float64 (``make_world``). Fields are read by name, so a swapped pair cannot happen,
# and a story reading a field its task does not declare fails to compile, naming the field.
COMMON_KNOBS = (
    "tries",  # rejection bound: stories drawn before giving up
    "min_distance",  # statements between a question and its earliest support: at least ...
    "max_distance",  # ... and at most (0: no bound)
    "context_tokens",  # long-context mode: pad the story with filler to this many tokens (0: off)
    "a_max",  # answer phrases per question, at most (column layout)
    "s_max",  # supporting lines per question, at most (column layout)
)


def named(**values: float) -> dict[str, float]:
    """A task's own knob record fields, by name, in the order given (see ``make_world``)."""
    return values


# ---------------------------------------------------------------------------------------------
# Helpers for story functions
# ---------------------------------------------------------------------------------------------
@njit(inline="always")
def statement(lines, n, template, a0=-1, a1=-1, a2=-1, a3=-1):
    """Append a statement line; return the new line count."""
    lines[n, KIND] = STATEMENT
    lines[n, TEMPLATE] = template
    lines[n, ARG] = a0
    lines[n, ARG + 1] = a1
    lines[n, ARG + 2] = a2
    lines[n, ARG + 3] = a3
    lines[n, N_ANSWER] = 0
    lines[n, N_SUPPORT] = 0
    return n + 1


@njit(inline="always")
def question(lines, n, template, a0=-1, a1=-1, a2=-1, a3=-1):
    """Append a question line (add its answers and supports next); return the new count."""
    statement(lines, n, template, a0, a1, a2, a3)
    lines[n, KIND] = QUESTION
    return n + 1


@njit(inline="always")
def add_answer(lines, q, phrase, a_max):
    k = lines[q, N_ANSWER]
    lines[q, ANSWERS + k] = phrase
    lines[q, N_ANSWER] = k + 1


@njit(inline="always")
def add_support(lines, q, line, a_max):
    k = lines[q, N_SUPPORT]
    lines[q, ANSWERS + a_max + k] = line
    lines[q, N_SUPPORT] = k + 1


@njit(inline="always")
def support_at(lines, q, k, a_max):
    return lines[q, ANSWERS + a_max + k]


@njit(inline="always")
def statements_before(lines, line):
    """Statement lines before ``line`` (earlier questions do not count)."""
    c = 0
    for i in range(line):
        if lines[i, KIND] != QUESTION:
            c += 1
    return c


@njit
def support_distance(lines, q, a_max):
    """Statements from question ``q`` back to its earliest supporting line (1: the line just
    before it). The release's ``question_to_earliest_support_distance`` counts lines instead."""
    earliest = q
    for k in range(lines[q, N_SUPPORT]):
        earliest = min(earliest, support_at(lines, q, k, a_max))
    c = 0
    for i in range(earliest, q):
        if lines[i, KIND] != QUESTION:
            c += 1
    return c


@njit(inline="always")
def distance_ok(lines, q, p):
    """Whether question ``q`` (with its supports) meets the distance knobs."""
    d = support_distance(lines, q, np.int64(p.a_max))
    hi = p.max_distance
    return d >= p.min_distance and (hi <= 0 or d <= hi)


@njit(inline="always")
def question_ok(lines, n, earliest_support, p):
    """Whether a question appended as line ``n`` whose earliest supporting line is
    ``earliest_support`` would meet the distance knobs (story functions ask before choosing
    what to ask; the driver checks every question again)."""
    lines[n, KIND] = QUESTION
    lines[n, N_SUPPORT] = 1
    lines[n, ANSWERS + np.int64(p.a_max)] = earliest_support
    return distance_ok(lines, n, p)


# ---------------------------------------------------------------------------------------------
# The driver: draw a valid story, count its tokens, render it
# ---------------------------------------------------------------------------------------------
@njit(inline="always")
def _draw(story, state, p, pools, lines):
    """A story meeting the distance knobs, or n_lines = -1 after ``p.tries`` tries."""
    tries = np.int64(p.tries)
    for _ in range(tries):
        state, n = story(state, p, pools, lines)
        if n < 0:
            continue
        ok = True
        for q in range(n):
            if lines[q, KIND] == QUESTION and not distance_ok(lines, q, p):
                ok = False
                break
        if ok:
            return state, n
    return state, -1


@njit(inline="always")
def _line_tokens(lines, i, phrase_offsets, template_offsets, template_tokens, filler_offsets):
    """Tokens line ``i`` takes in the episode, answer positions included."""
    if lines[i, KIND] == FILLER:
        f = lines[i, TEMPLATE]
        return filler_offsets[f + 1] - filler_offsets[f]
    t = lines[i, TEMPLATE]
    count = 0
    for j in range(template_offsets[t], template_offsets[t + 1]):
        tok = template_tokens[j]
        if tok >= 0:
            count += 1
        else:
            ph = lines[i, ARG - 1 - tok]
            count += phrase_offsets[ph + 1] - phrase_offsets[ph]
    for k in range(lines[i, N_ANSWER]):
        ph = lines[i, ANSWERS + k]
        count += phrase_offsets[ph + 1] - phrase_offsets[ph]
    return count


@njit(inline="always")
def _weave_filler(state, p, lines, n, lines_out, phrase_offsets, template_offsets,
                  template_tokens, filler_offsets):  # fmt: skip
    """Long-context mode: the story's lines, in order, among filler sentences drawn from the
    filler table until the episode reaches ``p.context_tokens`` tokens. Returns the state,
    the new line count and a map from old line index to new (for supports)."""
    target = np.int64(p.context_tokens)
    total = 0
    last_q = 0
    for i in range(n):
        total += _line_tokens(lines, i, phrase_offsets, template_offsets, template_tokens,
                              filler_offsets)  # fmt: skip
        if lines[i, KIND] == QUESTION:
            last_q = i
    n_fill_sentences = len(filler_offsets) - 1
    picks = np.empty(0, np.int64)
    if total < target and n_fill_sentences > 0:
        # draw filler until the target is reached; the last sentence may overshoot a little
        buf = np.empty(16, np.int64)
        m = 0
        while total < target:
            state, f = next_below(state, n_fill_sentences)
            if m == len(buf):
                grown = np.empty(2 * m, np.int64)
                for j in range(m):  # loops, not slice copies: see the note at lines_out
                    grown[j] = buf[j]
                buf = grown
            buf[m] = f
            m += 1
            total += filler_offsets[f + 1] - filler_offsets[f]
        picks = buf[:m]
    # each filler sentence goes before a story line in [0, last question]: uniform gaps
    before = np.zeros(n + 1, np.int64)
    for _ in range(len(picks)):
        state, slot = next_below(state, last_q + 1)
        before[slot] += 1
    new_index = np.empty(n, np.int64)
    out = 0
    k = 0
    for i in range(n):
        for _ in range(before[i]):
            lines_out[out, KIND] = FILLER
            lines_out[out, TEMPLATE] = picks[k]
            lines_out[out, N_ANSWER] = 0
            lines_out[out, N_SUPPORT] = 0
            k += 1
            out += 1
        # A loop, not ``lines_out[out, :] = lines[i, :]``: Numba compiles a slice copy with its
        # shape-mismatch message, string formatting included (3 s of every task's first use).
        for c in range(lines.shape[1]):
            lines_out[out, c] = lines[i, c]
        new_index[i] = out
        out += 1
    return state, out, new_index


@njit(inline="always")
def _story_lines(story, state, p, pools, lines, long_lines, phrase_offsets, template_offsets,
                 template_tokens, filler_offsets):  # fmt: skip
    """Draw a story and, in long-context mode, weave filler into it. Returns (state, lines,
    n_lines); the supports of the returned lines index the returned lines."""
    state, n = _draw(story, state, p, pools, lines)
    if n < 0 or p.context_tokens <= 0:
        return state, lines, n
    state, m, new_index = _weave_filler(
        state, p, lines, n, long_lines, phrase_offsets, template_offsets, template_tokens,
        filler_offsets,
    )  # fmt: skip
    a_max = np.int64(p.a_max)
    for i in range(m):
        if long_lines[i, KIND] == QUESTION:
            for k in range(long_lines[i, N_SUPPORT]):
                j = ANSWERS + a_max + k
                long_lines[i, j] = new_index[long_lines[i, j]]
    return state, long_lines, m


def episodes(key, start, n, fill, p, pools, max_lines, long_rows, width, phrase_offsets,
             phrase_tokens, template_offsets, template_tokens, filler_offsets, filler_tokens,
             offsets, inputs, targets, mask, role, segment, support_offsets, support,
             support_answer, n_statements, question_template, question_distance,
             ok):  # fmt: skip
    """Both passes over episodes ``start .. start + n - 1`` in one kernel.

    ``fill`` False (the sizes pass): per episode, whether a story could be drawn at all (``ok``)
    and its tokens and supporting facts, summed into ``offsets`` and ``support_offsets``; the
    arrays of the fill pass may be empty. ``fill`` True: render every episode into the flat
    arrays allocated from those offsets. One kernel rather than two because the story function
    and the driver around it are most of the compile: compiled once, not twice (measured on
    qa3: 40% less compile time, and one cache entry per variant).
    """
    a_max = np.int64(p.a_max)
    long_rows = long_rows if p.context_tokens > 0 else 1
    for b in prange(n):
        lines = np.empty((max_lines, width), np.int32)
        long_lines = np.empty((long_rows, width), np.int32)
        state = episode_state(key, start + b)
        state, rows, m = _story_lines(
            story, state, p, pools, lines, long_lines, phrase_offsets,  # noqa: F821 (bound)
            template_offsets, template_tokens, filler_offsets,
        )  # fmt: skip
        if not fill:
            ok[b] = m >= 0
            tokens = 0
            supports = 0
            for i in range(max(m, 0)):
                tokens += _line_tokens(rows, i, phrase_offsets, template_offsets, template_tokens,
                                       filler_offsets)  # fmt: skip
                if rows[i, KIND] == QUESTION:
                    supports += rows[i, N_SUPPORT]
            offsets[b + 1] = tokens
            support_offsets[b + 1] = supports
            continue
        segment_of = np.empty(max(max_lines, long_rows), np.int32)
        o = offsets[b]
        s = support_offsets[b]
        seg = 0
        q = 0
        for k in range(question_template.shape[1]):
            question_template[b, k] = -1
            question_distance[b, k] = -1
        for i in range(m):
            kind = rows[i, KIND]
            if kind == FILLER:
                f = rows[i, TEMPLATE]
                for j in range(filler_offsets[f], filler_offsets[f + 1]):
                    inputs[o] = filler_tokens[j]
                    targets[o] = 0  # context and query positions: no target, not scored
                    mask[o] = False
                    role[o] = ROLE_CONTEXT
                    segment[o] = seg
                    o += 1
            else:
                this_role = ROLE_CONTEXT if kind == STATEMENT else ROLE_QUERY
                this_segment = seg if kind == STATEMENT else -1
                t = rows[i, TEMPLATE]
                for j in range(template_offsets[t], template_offsets[t + 1]):
                    tok = template_tokens[j]
                    if tok >= 0:
                        inputs[o] = tok
                        targets[o] = 0
                        mask[o] = False
                        role[o] = this_role
                        segment[o] = this_segment
                        o += 1
                    else:
                        ph = rows[i, ARG - 1 - tok]
                        for w in range(phrase_offsets[ph], phrase_offsets[ph + 1]):
                            inputs[o] = phrase_tokens[w]
                            targets[o] = 0
                            mask[o] = False
                            role[o] = this_role
                            segment[o] = this_segment
                            o += 1
            if kind == QUESTION:
                for k in range(rows[i, N_ANSWER]):
                    ph = rows[i, ANSWERS + k]
                    for w in range(phrase_offsets[ph], phrase_offsets[ph + 1]):
                        inputs[o] = ANSWER
                        targets[o] = phrase_tokens[w]
                        mask[o] = True
                        role[o] = ROLE_ANSWER
                        segment[o] = -1
                        o += 1
                for k in range(rows[i, N_SUPPORT]):
                    support[s] = segment_of[rows[i, ANSWERS + a_max + k]]
                    support_answer[s] = q
                    s += 1
                if q < question_template.shape[1]:
                    question_template[b, q] = rows[i, TEMPLATE]
                    question_distance[b, q] = support_distance(rows, i, a_max)
                q += 1
            else:
                segment_of[i] = seg
                seg += 1
        n_statements[b] = seg
    if not fill:
        running_sum(offsets)
        running_sum(support_offsets)
