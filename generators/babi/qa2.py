"""bAbI task 2, two supporting facts: "Mary got the football there. Mary went to the garden.
Where is the football?"

Release shape (en v1.2): actors move, get and drop objects (``_objects``: about 63% of the
statements are moves); after every 2 statements comes a question about an object got or dropped
within the last 5 statements whose room the reader knows, drawn uniformly among them, until 5
questions (15 statements before a question on average, 22 per story). Such an object is either

- held, by an actor who has moved since getting it: the answer is the holder's room, the
  supports the get and then the holder's last move ("3 6"), or
- dropped where the dropper was known to be: the answer is that room, the supports the drop and
  then the dropper's move that placed it ("12 6"; 70% of the release's questions).

The object's line comes first, as in every released question. Gets always read "... there",
drops do in 20% of cases, as in the release.

Card: ``data_cards/babi/qa2.md``. Tests: ``tests/test_babi_objects.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from ._objects import (
    A_LINE,
    A_ROOM,
    O_HOLDER,
    O_LINE,
    O_PLACE,
    O_ROOM,
    O_STMT,
    OBJECT_PRESETS,
    ObjectKnobs,
    fresh,
    new_world,
    object_world,
    step,
)
from ._story import add_answer, add_support, question, question_ok
from ._task import babi_task


@dataclass(frozen=True)
class Qa2Knobs(ObjectKnobs):
    move_rate: float = knob(
        0.63, lo=0.05, hi=0.95,
        doc="probability that a statement is a move rather than a get or drop (higher: "
        "longer stories, more statements between a question and its facts)",
    )  # fmt: skip


@njit
def where(actor_tab, object_tab, o):
    """Where the reader knows object ``o`` is, as the release asks it: (room, line of the object's
    last get or drop, line of the move that places its holder or dropper), room -1 if not."""
    line = object_tab[o, O_LINE]
    h = object_tab[o, O_HOLDER]
    if h >= 0:
        # held: only once its holder has moved since the get (the release never asks before)
        if actor_tab[h, A_LINE] > line:
            return actor_tab[h, A_ROOM], line, actor_tab[h, A_LINE]
        return -1, -1, -1
    if line >= 0 and object_tab[o, O_PLACE] >= 0:
        return object_tab[o, O_ROOM], line, object_tab[o, O_PLACE]
    return -1, -1, -1


@njit
def story(state, p, pools, lines):
    actors, rooms, objects, moves, gets, gets_there, drops, drops_there, asks = pools
    say = (actors, rooms, objects, moves, gets, gets_there, drops, drops_there)
    n_questions, block = np.int64(p.questions), np.int64(p.statements_per_question)
    recent, cap = np.int64(p.recent), np.int64(p.max_statements)
    state, actor_tab, object_tab, log = new_world(
        state, len(actors), len(rooms), len(objects), len(lines)
    )
    world = (actor_tab, object_tab, log)
    candidates = np.empty(len(objects), np.int64)
    a_max = 1
    n = 0
    s = 0
    asked = 0
    while asked < n_questions:
        for _ in range(block):
            if s >= cap:
                return state, -1
            s += 1
            state, n, _, _, _ = step(state, p, lines, n, s, world, say)
        c = 0
        for o in range(len(objects)):
            if not fresh(s, object_tab[o, O_STMT], recent):
                continue
            room, first, second = where(actor_tab, object_tab, o)
            if room >= 0 and question_ok(lines, n, min(first, second), p):
                candidates[c] = o
                c += 1
        if c == 0:
            continue
        state, k = next_below(state, c)
        o = candidates[k]
        room, first, second = where(actor_tab, object_tab, o)
        n = question(lines, n, asks[0], objects[o])
        add_answer(lines, n - 1, rooms[room], a_max)
        add_support(lines, n - 1, first, a_max)
        add_support(lines, n - 1, second, a_max)
        asked += 1
    return state, n


def build(k: Qa2Knobs):
    return object_world(k, "Where is the {0}?", get_there=1.0, drop_there=0.2, s_max=2)


SPEC = babi_task(
    "babi/qa2-v1",
    "two supporting facts: where is an object, from who got or dropped it and where they were",
    Qa2Knobs,
    story,
    build,
    presets=OBJECT_PRESETS,
)
