"""bAbI task 1, single supporting fact: "Mary went to the kitchen. ... Where is Mary?"

Release shape (en v1.2): stories of 10 moves and 5 questions, a question after every 2 moves,
about the actor of one of the last five statements (drawn uniformly, as the release's distances
from questions to supports show); the answer is the actor's room, supported by the last move of
that actor.

Card: ``data_cards/babi/qa1.md``. Tests: ``tests/test_babi_core.py`` (the shared driver)
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from ._entities import ACTORS, ALL_ACTORS, ALL_ROOMS, ROOMS, pool
from ._story import (
    add_answer,
    add_support,
    named,
    question,
    question_ok,
    statement,
)  # fmt: skip
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text
from ._world import MOVE


@dataclass(frozen=True)
class Qa1Knobs(BabiKnobs):
    actors: int = knob(
        len(ACTORS), lo=1, hi=len(ALL_ACTORS), doc="people in the world",
        harder="up", ladder=(2, 4, 6, 12, 20), why="more people whose places to keep apart",
    )  # fmt: skip
    rooms: int = knob(len(ROOMS), lo=2, hi=len(ALL_ROOMS), doc="places they move between")
    questions: int = knob(5, lo=1, hi=1000, doc="questions per story")
    statements_per_question: int = knob(
        2, lo=1, hi=10_000, doc="moves before each question",
        harder="up", ladder=(1, 2, 4, 8, 16),
        why="more statements between questions: more facts to hold, most of them distractors",
    )  # fmt: skip
    recent: int = knob(
        5, lo=0, hi=100_000,
        doc="a question asks about the actor of one of the last `recent` statements, drawn "
        "uniformly (0: any statement so far)",
        harder="up", ladder=(1, 2, 5, 10, 20),
        why="questions about older statements: the answer's facts lie farther back",
    )  # fmt: skip


@njit
def move(state, lines, n, actor, actors, rooms, room_of, line_of, templates):
    """A valid random move of ``actor`` to a room other than its own (Lua ``teleport``)."""
    here = room_of[actor]
    state, r = next_below(state, len(rooms) - 1 if here >= 0 else len(rooms))
    if here >= 0 and r >= here:
        r += 1
    room_of[actor] = r
    line_of[actor] = n
    state, t = next_below(state, len(templates))
    return state, statement(lines, n, templates[t], actors[actor], rooms[r])


@njit
def story(state, p, pools, lines):
    actors, rooms, moves, asks = pools
    n_questions, per_question = np.int64(p.questions), np.int64(p.statements_per_question)
    recent = np.int64(p.recent)
    room_of = np.full(len(actors), -1, np.int64)
    line_of = np.full(len(actors), -1, np.int64)
    said = np.empty(n_questions * per_question, np.int64)  # the actor of each statement
    candidates = np.empty(n_questions * per_question, np.int64)
    a_max = 1
    n = 0
    m = 0
    for _ in range(n_questions):
        for _ in range(per_question):
            state, a = next_below(state, len(actors))
            state, n = move(state, lines, n, a, actors, rooms, room_of, line_of, moves)
            said[m] = a
            m += 1
        # The release asks about the actor of one of the last five statements, drawn
        # uniformly (fitted to the distances from questions to their supports in its qa1:
        # never more than 7 lines back, 47% of them 1 line back); the answer is that actor's
        # last move, which the distance knobs may further constrain.
        c = 0
        for j in range(m - recent if 0 < recent < m else 0, m):
            if question_ok(lines, n, line_of[said[j]], p):
                candidates[c] = said[j]
                c += 1
        if c == 0:
            return state, -1
        state, k = next_below(state, c)
        a = candidates[k]
        n = question(lines, n, asks[0], actors[a])
        add_answer(lines, n - 1, rooms[room_of[a]], a_max)
        add_support(lines, n - 1, line_of[a], a_max)
    return state, n


def build(k: Qa1Knobs):
    text = Text()
    actor_names = pool(ACTORS, ALL_ACTORS, k.actors)
    room_names = pool(ROOMS, ALL_ROOMS, k.rooms)
    actors, rooms = text.phrases(actor_names), text.phrases(room_names)
    moves = text.templates(MOVE)
    asks = text.templates(["Where is {0}?"])
    lines = k.questions * (k.statements_per_question + 1)
    return make_world(
        k, text, (actors, rooms, moves, asks),
        named(questions=k.questions, statements_per_question=k.statements_per_question,
              recent=k.recent),
        max_lines=lines, a_max=1, s_max=1, q_max=k.questions,
        tags={"ACTOR": actor_names, "LOC": room_names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa1-v1",
    "single supporting fact: where is an actor, from the last move mentioned",
    Qa1Knobs,
    story,
    build,
    presets={
        "release": {},
        "far": {"statements_per_question": 20, "recent": 0, "min_distance": 10},
        "open-vocab": {"actors": 20, "rooms": 20},
    },
)
