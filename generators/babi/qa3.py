"""bAbI task 3, three supporting facts: "Where was the football before the bathroom?"

Release shape (en v1.2): actors move, get and drop objects (``_objects``: about 64% of the
statements are moves); after every 2 statements comes a question about an object got or dropped
within the last 5 statements that its holder then carried through at least two rooms, until 5
questions (50 statements before a question on average, 74 per story). It asks about two
consecutive moves of that possession: "where was the O before the L?", L the room of the later
move, the answer the room of the earlier one.

"Before the L" means before the object's last arrival in L (a room can be visited twice): the
release only ever asks about the last arrival, and so do we, so the answer is unique. The
supports are the object's last get or drop, the move into L and the move before it, in that
order ("23 17 5", "42 46 44"), as in the release. The original generator's bug of four
supporting facts (issue #8, fixed there by redrawing the story) cannot occur: both moves belong
to the possession that the object's last get or drop belongs to. Gets and drops read "...
there" in 20% of cases, as in the release.

Card: ``data_cards/babi/qa3.md``. Tests: ``tests/test_babi_objects.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from ._objects import (
    O_LINE,
    O_STMT,
    OBJECT_PRESETS,
    ObjectKnobs,
    carried_moves,
    fresh,
    new_world,
    object_world,
    step,
)
from ._story import add_answer, add_support, question, question_ok
from ._task import babi_task


@dataclass(frozen=True)
class Qa3Knobs(ObjectKnobs):
    move_rate: float = knob(
        0.65, lo=0.05, hi=0.95,
        doc="probability that a statement is a move rather than a get or drop (higher: "
        "longer stories, more statements between a question and its facts)",
    )  # fmt: skip


@njit
def pairs(lines, n, p, world, o, n_rooms, rooms_of, lines_of, later, pick):
    """The questions object ``o`` allows: pairs of consecutive moves of its current or last
    possession whose later room it does not enter again, meeting the distance knobs. Returns
    their count, or with ``pick`` >= 0 the index (into ``carried_moves``'s order) of the later
    move of the ``pick``-th of them."""
    _, object_tab, _ = world
    m = carried_moves(world, o, n, rooms_of, lines_of)
    later[:n_rooms] = False
    count = 0
    for i in range(m - 1, 0, -1):
        room = rooms_of[i]
        if not later[room]:
            later[room] = True
            earliest = min(object_tab[o, O_LINE], lines_of[i - 1])
            if question_ok(lines, n, earliest, p):
                if count == pick:
                    return i
                count += 1
        # a room entered again later is only asked about at that later arrival
    return count if pick < 0 else -1


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
    counts = np.empty(len(objects), np.int64)
    rooms_of = np.empty(len(lines), np.int64)
    lines_of = np.empty(len(lines), np.int64)
    later = np.empty(len(rooms), np.bool_)
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
        # an object first, uniformly among those with a question, then one of its questions
        c = 0
        for o in range(len(objects)):
            if fresh(s, object_tab[o, O_STMT], recent):
                k = pairs(lines, n, p, world, o, len(rooms), rooms_of, lines_of, later, -1)
                if k > 0:
                    candidates[c] = o
                    counts[c] = k
                    c += 1
        if c == 0:
            continue
        state, k = next_below(state, c)
        o = candidates[k]
        state, j = next_below(state, counts[k])
        i = pairs(lines, n, p, world, o, len(rooms), rooms_of, lines_of, later, j)
        n = question(lines, n, asks[0], objects[o], rooms[rooms_of[i]])
        add_answer(lines, n - 1, rooms[rooms_of[i - 1]], a_max)
        add_support(lines, n - 1, object_tab[o, O_LINE], a_max)
        add_support(lines, n - 1, lines_of[i], a_max)
        add_support(lines, n - 1, lines_of[i - 1], a_max)
        asked += 1
    return state, n


def build(k: Qa3Knobs):
    return object_world(
        k, "Where was the {0} before the {1}?", get_there=0.2, drop_there=0.2, s_max=3
    )


SPEC = babi_task(
    "babi/qa3-v1",
    "three supporting facts: where was an object before a room, from who carried it where",
    Qa3Knobs,
    story,
    build,
    presets=OBJECT_PRESETS,
)
