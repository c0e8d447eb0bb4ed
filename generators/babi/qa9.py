"""bAbI task 9, simple negation: "Sandra is no longer in the office. ... Is Sandra in the office?"

Release shape (en v1.2): stories of 10 statements and 5 questions, a question after every 2
statements, answered yes or no from the last statement about the actor, its one support.

Every statement moves its actor to another room, as the released file shows: about half read as
a move ("went to"), a quarter as a state ("Mary is in the L", never the room the reader already
knows) and a quarter as a negation naming the room the actor *left* ("is no longer in" / "is
not in" the room the reader last knew, and in the released file every such statement about an
actor of known place names that place; after a negation the actor is somewhere new, so a later
negation names another room). A question asks about an actor of the last five clauses (see
``_movement``): after a move or state, about that room (yes) or, with probability 1/2, another
(no); after a negation, about the negated room (no).

Card: ``data_cards/babi/qa9.md``. Tests: ``tests/test_babi_movement.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from ._entities import ACTORS, ALL_ACTORS, ALL_ROOMS, ROOMS, pool
from ._movement import RECENT, other_room, pick_recent
from ._story import add_answer, add_support, named, question, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text
from ._world import MOVE

STATES = ("{0} is in the {1}.",)
NEGATIONS = ("{0} is no longer in the {1}.", "{0} is not in the {1}.")


@dataclass(frozen=True)
class Qa9Knobs(BabiKnobs):
    actors: int = knob(len(ACTORS), lo=1, hi=len(ALL_ACTORS), doc="people in the world")
    rooms: int = knob(len(ROOMS), lo=2, hi=len(ALL_ROOMS), doc="places they move between")
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
    negation: float = knob(
        0.25, lo=0.0, hi=1.0,
        doc="share of statements that say where an actor no longer is; the rest are moves "
        "(2/3) and 'X is in the L' (1/3)",
    )  # fmt: skip


@njit
def story(state, p, pools, lines):
    actors, rooms, moves, states, negations, asks, yes_no = pools
    n_questions, per_question = np.int64(p.questions), np.int64(p.statements_per_question)
    recent, negation = np.int64(p.recent), p.negation
    n_actors, n_rooms = len(actors), len(rooms)
    where = np.empty(n_actors, np.int64)  # the true room, hidden until a statement tells it
    for a in range(n_actors):
        state, where[a] = next_below(state, n_rooms)
    room_of = np.full(n_actors, -1, np.int64)  # the room the reader's knowledge is about
    negated = np.zeros(n_actors, np.bool_)  # ... and whether it is where the actor is not
    line_of = np.full(n_actors, -1, np.int64)  # the one statement that knowledge rests on
    clause_actor = np.empty(n_questions * per_question, np.int64)
    buf = np.empty(max(len(clause_actor), n_actors), np.int64)
    n = 0
    c = 0
    for _ in range(n_questions):
        for _ in range(per_question):
            state, a = next_below(state, n_actors)
            left = where[a]
            state, where[a] = other_room(state, n_rooms, left)
            state, x = next_float(state)
            if x < negation:
                state, t = next_below(state, len(negations))
                template, room_of[a], negated[a] = negations[t], left, True
            elif x < negation + (1.0 - negation) / 3.0:
                template, room_of[a], negated[a] = states[0], where[a], False
            else:
                state, t = next_below(state, len(moves))
                template, room_of[a], negated[a] = moves[t], where[a], False
            line_of[a] = n
            clause_actor[c] = a
            c += 1
            n = statement(lines, n, template, actors[a], rooms[room_of[a]])
        state, a = pick_recent(state, lines, n, p, clause_actor, c, recent, line_of, n_actors, buf)
        if a < 0:
            return state, -1
        room, yes = room_of[a], not negated[a]
        if yes:
            state, flip = next_below(state, 2)
            if flip:
                state, room = other_room(state, n_rooms, room)
                yes = False
        n = question(lines, n, asks[0], actors[a], rooms[room])
        add_answer(lines, n - 1, yes_no[0] if yes else yes_no[1], 1)
        add_support(lines, n - 1, line_of[a], 1)
    return state, n


def build(k: Qa9Knobs):
    text = Text()
    actor_names = pool(ACTORS, ALL_ACTORS, k.actors)
    room_names = pool(ROOMS, ALL_ROOMS, k.rooms)
    actors, rooms = text.phrases(actor_names), text.phrases(room_names)
    moves, states, negations = (text.templates(t) for t in (MOVE, STATES, NEGATIONS))
    asks = text.templates(["Is {0} in the {1}?"])
    yes_no = text.phrases(["yes", "no"])
    lines = k.questions * (k.statements_per_question + 1)
    return make_world(
        k, text, (actors, rooms, moves, states, negations, asks, yes_no),
        named(questions=k.questions, statements_per_question=k.statements_per_question,
              recent=k.recent, negation=k.negation),
        max_lines=lines, a_max=1, s_max=1, q_max=k.questions,
        tags={"ACTOR": actor_names, "LOC": room_names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa9-v1",
    "simple negation: is an actor in a room, after statements of where it is or no longer is",
    Qa9Knobs,
    story,
    build,
    presets={
        "release": {},
        "far": {"actors": 8, "statements_per_question": 6, "min_distance": 6, "recent": 0},
        "open-vocab": {"actors": 20, "rooms": 20},
    },
)
