"""bAbI task 12, conjunction: "Mary and Daniel went to the bathroom. ... Where is Daniel?"

Release shape (en v1.2): stories of 10 statements and 5 questions, a question after every 2
statements; each statement moves two distinct actors together ("A and B <verb> to the L") to a
room neither of them is in (so two statements of a block can name the same room: 3.5% of the
released blocks do). A question asks about an actor of the last five clauses (a conjunction is
two, first name first; see ``_movement``); its answer is the actor's room, supported by the
statement that moved it last.

``conjunction`` < 1 writes some pairs as two sentences, one per actor, each then the support of
a question about its actor.

Card: ``data_cards/babi/qa12.md``. Tests: ``tests/test_babi_movement.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from ._entities import ACTORS, ALL_ACTORS, ALL_ROOMS, ROOMS, pool
from ._movement import RECENT, move_templates, pick_recent, room_avoiding, two_actors
from ._story import add_answer, add_support, named, question, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text
from ._world import MOVE

CONJUNCTION = move_templates(subject="{0} and {1}", room="{2}")


@dataclass(frozen=True)
class Qa12Knobs(BabiKnobs):
    actors: int = knob(len(ACTORS), lo=2, hi=len(ALL_ACTORS), doc="people in the world")
    rooms: int = knob(len(ROOMS), lo=3, hi=len(ALL_ROOMS), doc="places they move between")
    questions: int = knob(5, lo=1, hi=1000, doc="questions per story")
    statements_per_question: int = knob(
        2, lo=1, hi=10_000, doc="moves of two actors before each question",
        harder="up", ladder=(1, 2, 4, 8, 16),
        why="more statements between questions: more facts to hold, most of them distractors",
    )  # fmt: skip
    recent: int = knob(
        RECENT, lo=0, hi=10_000,
        doc="a question asks about an actor of one of the last this many clauses (a "
        "conjunction holds two; 0: any actor the reader has been told about)",
        harder="up", ladder=(1, 2, 5, 10, 20),
        why="questions about older statements: the answer's facts lie farther back",
    )  # fmt: skip
    conjunction: float = knob(
        1.0, lo=0.0, hi=1.0,
        doc="probability that two actors moving together read as one sentence 'A and B ...' "
        "(else one sentence each)",
    )  # fmt: skip


@njit
def story(state, p, pools, lines):
    actors, rooms, moves, conjunctions, asks = pools
    n_questions, per_question = np.int64(p.questions), np.int64(p.statements_per_question)
    recent, conjunction = np.int64(p.recent), p.conjunction
    n_actors, n_rooms = len(actors), len(rooms)
    room_of = np.full(n_actors, -1, np.int64)
    line_of = np.full(n_actors, -1, np.int64)
    clause_actor = np.empty(2 * n_questions * per_question, np.int64)
    buf = np.empty(max(len(clause_actor), n_actors), np.int64)
    n = 0
    c = 0
    for _ in range(n_questions):
        for _ in range(per_question):
            state, a, b = two_actors(state, n_actors)
            state, r = room_avoiding(state, n_rooms, room_of[a], room_of[b])
            room_of[a] = room_of[b] = r
            state, x = next_float(state)
            if x < conjunction:
                state, t = next_below(state, len(conjunctions))
                line_of[a] = line_of[b] = n
                n = statement(lines, n, conjunctions[t], actors[a], actors[b], rooms[r])
            else:
                state, t = next_below(state, len(moves))
                line_of[a] = n
                n = statement(lines, n, moves[t], actors[a], rooms[r])
                state, t = next_below(state, len(moves))
                line_of[b] = n
                n = statement(lines, n, moves[t], actors[b], rooms[r])
            clause_actor[c] = a
            clause_actor[c + 1] = b
            c += 2
        state, a = pick_recent(state, lines, n, p, clause_actor, c, recent, line_of, n_actors, buf)
        if a < 0:
            return state, -1
        n = question(lines, n, asks[0], actors[a])
        add_answer(lines, n - 1, rooms[room_of[a]], 1)
        add_support(lines, n - 1, line_of[a], 1)
    return state, n


def build(k: Qa12Knobs):
    text = Text()
    actor_names = pool(ACTORS, ALL_ACTORS, k.actors)
    room_names = pool(ROOMS, ALL_ROOMS, k.rooms)
    actors, rooms = text.phrases(actor_names), text.phrases(room_names)
    moves, conjunctions = text.templates(MOVE), text.templates(CONJUNCTION)
    asks = text.templates(["Where is {0}?"])
    lines = k.questions * (2 * k.statements_per_question + 1)
    return make_world(
        k, text, (actors, rooms, moves, conjunctions, asks),
        named(questions=k.questions, statements_per_question=k.statements_per_question,
              recent=k.recent, conjunction=k.conjunction),
        max_lines=lines, a_max=1, s_max=1, q_max=k.questions,
        tags={"ACTOR": actor_names, "LOC": room_names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa12-v1",
    "conjunction: where is an actor, moved with another by 'A and B went to the L'",
    Qa12Knobs,
    story,
    build,
    presets={
        "release": {},
        "far": {"actors": 8, "statements_per_question": 6, "min_distance": 4, "recent": 0},
        "open-vocab": {"actors": 20, "rooms": 20},
    },
)
