"""bAbI task 14, time reasoning: "Yesterday Julie went to the office. Julie went to the school
this morning. Where was Julie before the school?"

Release shape (en v1.2): actors Bill, Fred, Julie, Mary and rooms bedroom, cinema, kitchen,
office, park, school; each move happens at a time of day (yesterday < this morning < this
afternoon < this evening), the phrase before or after the clause (10 sentences, each as
likely). Stories have 5 questions; the first follows 2, 4 or 6 statements (35, 144 and 21 of the
200 released stories), the others 2 more statements each (10, 12 or 14 statements in all).

What the released file shows, and this generator does: an actor's moves fill its times in order
(at the end of every released story each actor's times are yesterday, then this morning, ...,
without a gap), and statements are told in that order except inside the statements between
two questions, which are told in any order (each of the 394 pairs of one actor's statements the
release tells out of order is inside such a block). The first block holds one actor's first two
moves, so that a question can be asked. A question asks about one of the last five moves made
(see ``_movement``) that is not its actor's first: "Where was X before the L?" is answered by
the actor's room at the time just before, supported by the move to L and that move, in that
order. The times of the moves come out as the release's: 33% yesterday, 30% this morning, 23%
this afternoon, 14% this evening.

Going back (``babi/qa14-v2``, issue 13): the release lets an actor go back to a room it was in
earlier (9.5% of moves): its next room is any but the one it is in (an earlier room is taken
19% of the time with one such room, 43% with two: 1/5 and 2/5, en train). "Before the L" then
follows two visits to L in 11.2% of its questions, and in 3.0% the two visits had different
rooms before them; the most recent visit decides (30 of 30). v2 moves as the release does and
never asks about a visit its actor has since repeated, so the most recent visit answers
(``fidelity.disagreement``: 3.1% of 10,000 generated questions). ``babi/qa14-v1`` (kept
generable, superseded) never revisits a room (the Lua generator's rule), so every question has
one answer; ``revisit=false`` keeps that rule in v2.

Deviation: when both statements of a two-statement block are about one actor, the release
tells the later one first (230 of 230); here the order inside a block is uniform, so that only
the time phrases tell.

Card: ``data_cards/babi/qa14.md``. Tests: ``tests/test_babi_movement.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from ._entities import pool
from ._movement import (
    RECENT,
    TIME_ACTORS,
    TIME_EXTRA_ACTORS,
    TIME_EXTRA_ROOMS,
    TIME_ROOMS,
    TIMES,
    move_templates,
    pick_recent,
)  # fmt: skip
from ._story import add_answer, add_support, named, question, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text

ALL_ACTORS = pool(TIME_ACTORS, TIME_EXTRA_ACTORS, 1000)
ALL_ROOMS = pool(TIME_ROOMS, TIME_EXTRA_ROOMS, 1000)
# the time phrase after the clause, then before it; {2} is the time
TIMED = move_templates(suffix=" {2}") + move_templates(prefix="{2} ")
# the first block has 2 fewer, as many or 2 more statements than the others, plus 2: shares of
# the released stories (35, 144 and 21 of 200)
_FIRST_SHORT, _FIRST_LONG = 35 / 200, 21 / 200


@dataclass(frozen=True)
class Qa14Knobs(BabiKnobs):
    axis_ladders = {"min_distance": (0, 2, 4, 6)}  # stories reach this far at the defaults

    actors: int = knob(len(TIME_ACTORS), lo=1, hi=len(ALL_ACTORS), doc="people in the world")
    rooms: int = knob(len(TIME_ROOMS), lo=2, hi=len(ALL_ROOMS), doc="places they move between")
    times: int = knob(
        len(TIMES), lo=2, hi=len(TIMES),
        doc="times of day a move can happen at, the first of: " + ", ".join(TIMES),
    )  # fmt: skip
    questions: int = knob(5, lo=1, hi=1000, doc="questions per story")
    statements_per_question: int = knob(
        2, lo=1, hi=10_000, doc="statements before each question but the first"
    )
    recent: int = knob(
        RECENT, lo=0, hi=10_000,
        doc="a question asks about one of the last this many moves made (0: any move)",
        harder="up", ladder=(1, 2, 5, 10, 20),
        why="questions about older statements: the answer's facts lie farther back",
    )  # fmt: skip

    def revisits(self) -> bool:
        """Whether an actor may go back to a room it was in (``babi/qa14-v2``)."""
        return False

    def check(self) -> None:
        super().check()
        self.require(
            self.revisits() or self.rooms >= self.times,
            "rooms must be >= times (an actor moves at most once per time, never back)",
        )
        self.require(
            self.actors * self.times >= self.statements_per_question * self.questions + 4,
            "actors * times must be >= statements_per_question * questions + 4 (the statements "
            "a story can have: each actor moves at most once per time)",
        )


@njit
def _move(state, a, count, where, n_rooms):
    """Actor ``a``'s next move: its next time, to a room it has not been in. Returns (state,
    the time)."""
    t = count[a]
    state, k = next_below(state, n_rooms - t)
    for r in range(n_rooms):
        been = False
        for s in range(t):
            if where[a, s] == r:
                been = True
        if not been:
            if k == 0:
                where[a, t] = r
                break
            k -= 1
    count[a] = t + 1
    return state, t


@njit
def _move_back(state, a, count, where, n_rooms):
    """``_move`` as the release moves (``babi/qa14-v2``): to any room but the one the actor is
    in, so that it may go back to one it was in earlier. Returns (state, the time)."""
    t = count[a]
    if t == 0:
        state, r = next_below(state, n_rooms)
    else:
        state, r = next_below(state, n_rooms - 1)
        if r >= where[a, t - 1]:
            r += 1
    where[a, t] = r
    count[a] = t + 1
    return state, t


@njit
def _next_move(state, a, count, where, n_rooms, revisit):
    if revisit:
        return _move_back(state, a, count, where, n_rooms)
    return _move(state, a, count, where, n_rooms)


@njit
def story(state, p, pools, lines):
    actors, rooms, times, timed, asks = pools
    n_questions, per_question = np.int64(p.questions), np.int64(p.statements_per_question)
    recent = np.int64(p.recent)
    revisit = p.revisit > 0
    n_actors, n_rooms, n_times = len(actors), len(rooms), len(times)
    count = np.zeros(n_actors, np.int64)  # moves so far: the actor's next time
    where = np.full((n_actors, n_times), -1, np.int64)  # room at each time
    line_at = np.full((n_actors, n_times), -1, np.int64)
    capacity = per_question * n_questions + 4  # moves, at most
    move_actor = np.empty(capacity, np.int64)  # moves, in the order they happen
    move_time = np.empty(capacity, np.int64)
    keys = np.arange(capacity)
    earliest = np.full(capacity, -1, np.int64)
    free = np.empty(n_actors, np.int64)
    buf = np.empty(capacity, np.int64)
    order = np.empty(capacity, np.int64)
    n = 0
    m = 0
    for q in range(n_questions):
        start = m
        size = per_question
        if q == 0:
            state, x = next_float(state)
            size += 2 if x >= _FIRST_SHORT + _FIRST_LONG else (0 if x < _FIRST_SHORT else 4)
            size = max(size, 2)
            # one actor's first two moves, so that the first question can be asked
            state, a = next_below(state, n_actors)
            for _ in range(2):
                state, move_time[m] = _next_move(state, a, count, where, n_rooms, revisit)
                move_actor[m] = a
                m += 1
        while m < start + size:
            k = 0
            for a in range(n_actors):
                if count[a] < n_times:
                    free[k] = a
                    k += 1
            if k == 0:
                return state, -1
            state, k = next_below(state, k)
            a = free[k]
            state, move_time[m] = _next_move(state, a, count, where, n_rooms, revisit)
            move_actor[m] = a
            m += 1
        # the block's moves in any order
        for i in range(size):
            order[i] = start + i
        for i in range(size - 1, 0, -1):
            state, j = next_below(state, i + 1)
            order[i], order[j] = order[j], order[i]
        for i in range(size):
            a, t = move_actor[order[i]], move_time[order[i]]
            line_at[a, t] = n
            state, k = next_below(state, len(timed))
            n = statement(lines, n, timed[k], actors[a], rooms[where[a, t]], times[t])
        # a question can be about any move but an actor's first
        for mv in range(start, m):
            a, t = move_actor[mv], move_time[mv]
            if t > 0:
                earliest[mv] = min(line_at[a, t], line_at[a, t - 1])
        if revisit:
            # "before the L" after two visits to L: the most recent decides (the release's
            # rule), so a visit the actor has since repeated is not asked about
            for mv in range(m):
                a, t = move_actor[mv], move_time[mv]
                for later in range(t + 1, count[a]):
                    if where[a, later] == where[a, t]:
                        earliest[mv] = -1
        state, mv = pick_recent(state, lines, n, p, keys, m, recent, earliest, m, buf)
        if mv < 0:
            return state, -1
        a, t = move_actor[mv], move_time[mv]
        n = question(lines, n, asks[0], actors[a], rooms[where[a, t]])
        add_answer(lines, n - 1, rooms[where[a, t - 1]], 1)
        add_support(lines, n - 1, line_at[a, t], 1)
        add_support(lines, n - 1, line_at[a, t - 1], 1)
    return state, n


def build(k: Qa14Knobs):
    text = Text()
    actor_names = ALL_ACTORS[: k.actors]
    room_names = ALL_ROOMS[: k.rooms]
    time_names = TIMES[: k.times]
    actors, rooms, times = (text.phrases(x) for x in (actor_names, room_names, time_names))
    timed = text.templates(TIMED)
    asks = text.templates(["Where was {0} before the {1}?"])
    lines = k.statements_per_question * k.questions + 4 + k.questions
    return make_world(
        k, text, (actors, rooms, times, timed, asks),
        named(questions=k.questions, statements_per_question=k.statements_per_question,
              recent=k.recent, revisit=float(k.revisits())),
        max_lines=lines, a_max=1, s_max=2, q_max=k.questions,
        tags={"ACTOR": actor_names, "LOC": room_names, "TIME": time_names},
    )  # fmt: skip


@dataclass(frozen=True)
class Qa14V2Knobs(Qa14Knobs):
    revisit: bool = knob(
        True,
        doc="an actor may go back to a room it was in (the release: to any room but its own), "
        "so that \"before the L\" after two visits is decided by the most recent (the release: "
        "3.0% of questions); false: never back (babi/qa14-v1's rule)",
        harder="up", ladder=(False, True),
        why="rooms visited twice: only the most recent visit answers \"before the L\"",
    )  # fmt: skip

    def revisits(self) -> bool:
        return self.revisit


PRESETS = {
    "release": {},
    "far": {"actors": 8, "statements_per_question": 4, "min_distance": 6, "recent": 0},
    "open-vocab": {"actors": 20, "rooms": 20},
}

SPEC_V2 = babi_task(
    "babi/qa14-v2",
    "time reasoning: where was an actor before a room, the most recent visit deciding",
    Qa14V2Knobs,
    story,
    build,
    presets=PRESETS,
)

SPEC = babi_task(
    "babi/qa14-v1",
    "time reasoning: where was an actor before a room, from moves told with times of day",
    Qa14Knobs,
    story,
    build,
    presets=PRESETS,
    superseded_by="babi/qa14-v2",
    superseded_why='actors never go back to a room, so "before the L" never follows two '
    "visits; the release's actors do (3.0% of its questions, the most recent visit deciding)",
)
