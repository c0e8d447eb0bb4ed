"""bAbI task 10, indefinite knowledge: "Fred is either in the school or the park. ... Is Fred in
the park?" answered yes, no or maybe.

Release shape (en v1.2): actors Bill, Fred, Julie, Mary and rooms bedroom, cinema, kitchen,
office, park, school; stories of 10 statements and 5 questions, a question after every 2
statements, answered from the last statement about the actor, its one support.

As in task 9 every statement moves its actor to another room: about half read as a move, a
quarter as "X is in the L" (never the room the reader already knows, in the released file) and a
quarter as "X is either in the L1 or the L2", one of them the new room, the other any other
room. A question asks about an actor of the last five clauses (see ``_movement``): after a move
or a state about that room (yes) or, with probability 1/2, another (no); after an either-or
about one of its two rooms (maybe) or, with probability 1/2, a room outside them (no).

Card: ``data_cards/babi/qa10.md``. Tests: ``tests/test_babi_movement.py``
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
    other_room,
    pick_recent,
    room_avoiding,
)  # fmt: skip
from ._story import add_answer, add_support, named, question, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text
from ._world import MOVE

ALL_ACTORS = pool(TIME_ACTORS, TIME_EXTRA_ACTORS, 1000)
ALL_ROOMS = pool(TIME_ROOMS, TIME_EXTRA_ROOMS, 1000)
STATES = ("{0} is in the {1}.",)
EITHER = ("{0} is either in the {1} or the {2}.",)


@dataclass(frozen=True)
class Qa10Knobs(BabiKnobs):
    actors: int = knob(len(TIME_ACTORS), lo=1, hi=len(ALL_ACTORS), doc="people in the world")
    rooms: int = knob(len(TIME_ROOMS), lo=3, hi=len(ALL_ROOMS), doc="places they move between")
    questions: int = knob(5, lo=1, hi=1000, doc="questions per story")
    statements_per_question: int = knob(
        2, lo=1, hi=10_000, doc="statements before each question",
        harder="up", ladder=(1, 2, 4, 8, 16),
        why="more statements between questions: more facts to hold, most of them distractors",
    )  # fmt: skip
    recent: int = knob(
        RECENT, lo=0, hi=10_000,
        doc="a question asks about the actor of one of the last this many statements "
        "(0: any actor the reader has been told about)",
        harder="up", ladder=(1, 2, 5, 10, 20),
        why="questions about older statements: the answer's facts lie farther back",
    )  # fmt: skip
    either: float = knob(
        0.25, lo=0.0, hi=1.0,
        doc="share of statements that give two rooms an actor may be in; the rest are moves "
        "(2/3) and 'X is in the L' (1/3)",
    )  # fmt: skip


@njit
def story(state, p, pools, lines):
    actors, rooms, moves, states, eithers, asks, answers = pools
    n_questions, per_question = np.int64(p.questions), np.int64(p.statements_per_question)
    recent, either = np.int64(p.recent), p.either
    n_actors, n_rooms = len(actors), len(rooms)
    where = np.empty(n_actors, np.int64)  # the true room, hidden until a statement tells it
    for a in range(n_actors):
        state, where[a] = next_below(state, n_rooms)
    room_of = np.full(n_actors, -1, np.int64)  # the room the reader knows the actor is in ...
    maybe_of = np.full(n_actors, -1, np.int64)  # ... or, after an either-or, its other room
    line_of = np.full(n_actors, -1, np.int64)  # the one statement that knowledge rests on
    clause_actor = np.empty(n_questions * per_question, np.int64)
    buf = np.empty(max(len(clause_actor), n_actors), np.int64)
    n = 0
    c = 0
    for _ in range(n_questions):
        for _ in range(per_question):
            state, a = next_below(state, n_actors)
            state, where[a] = other_room(state, n_rooms, where[a])
            room_of[a], maybe_of[a] = where[a], -1
            state, x = next_float(state)
            if x < either:
                state, maybe_of[a] = other_room(state, n_rooms, where[a])
                first, second = room_of[a], maybe_of[a]
                state, swap = next_below(state, 2)
                if swap:
                    first, second = second, first
                n = statement(lines, n, eithers[0], actors[a], rooms[first], rooms[second])
            elif x < either + (1.0 - either) / 3.0:
                n = statement(lines, n, states[0], actors[a], rooms[room_of[a]])
            else:
                state, t = next_below(state, len(moves))
                n = statement(lines, n, moves[t], actors[a], rooms[room_of[a]])
            line_of[a] = n - 1
            clause_actor[c] = a
            c += 1
        state, a = pick_recent(state, lines, n, p, clause_actor, c, recent, line_of, n_actors, buf)
        if a < 0:
            return state, -1
        state, outside = next_below(state, 2)
        if maybe_of[a] < 0:
            room, answer = room_of[a], 0  # yes
            if outside:
                state, room = other_room(state, n_rooms, room)
                answer = 1  # no
        elif outside:
            state, room = room_avoiding(state, n_rooms, room_of[a], maybe_of[a])
            answer = 1
        else:
            state, one = next_below(state, 2)
            room, answer = (maybe_of[a] if one else room_of[a]), 2  # maybe
        n = question(lines, n, asks[0], actors[a], rooms[room])
        add_answer(lines, n - 1, answers[answer], 1)
        add_support(lines, n - 1, line_of[a], 1)
    return state, n


def build(k: Qa10Knobs):
    text = Text()
    actor_names = ALL_ACTORS[: k.actors]
    room_names = ALL_ROOMS[: k.rooms]
    actors, rooms = text.phrases(actor_names), text.phrases(room_names)
    moves, states, eithers = (text.templates(t) for t in (MOVE, STATES, EITHER))
    asks = text.templates(["Is {0} in the {1}?"])
    answers = text.phrases(["yes", "no", "maybe"])
    lines = k.questions * (k.statements_per_question + 1)
    return make_world(
        k, text, (actors, rooms, moves, states, eithers, asks, answers),
        named(questions=k.questions, statements_per_question=k.statements_per_question,
              recent=k.recent, either=k.either),
        max_lines=lines, a_max=1, s_max=1, q_max=k.questions,
        tags={"ACTOR": actor_names, "LOC": room_names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa10-v1",
    "indefinite knowledge: is an actor in a room, yes, no or maybe after an either-or",
    Qa10Knobs,
    story,
    build,
    presets={
        "release": {},
        "far": {"actors": 8, "statements_per_question": 6, "min_distance": 6, "recent": 0},
        "open-vocab": {"actors": 20, "rooms": 20},
    },
)
