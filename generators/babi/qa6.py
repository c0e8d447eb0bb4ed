"""bAbI task 6, yes/no questions: "Mary went to the kitchen. ... Is Mary in the garden?"

Release shape (en v1.2): actors move, get and drop objects (``_objects``: about 67% of the
statements are moves, the gets and drops being distractors); after every 2 statements comes a
question about an actor who moved within the last 5 statements, drawn uniformly among them,
until 5 questions (10 statements per story unless the first statements are all gets and drops,
26 at most). It names the actor's room or, as often, another room drawn uniformly: the answer is
yes or no, the support the actor's last move. Gets always read "... there", drops do in 20% of
cases, as in the release.

Card: ``data_cards/babi/qa6.md``. Tests: ``tests/test_babi_objects.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from ._objects import (
    A_LINE,
    A_ROOM,
    A_STMT,
    OBJECT_PRESETS,
    ObjectKnobs,
    fresh,
    new_world,
    object_world,
    step,
)
from ._story import add_answer, add_support, named, question, question_ok
from ._task import babi_task


@dataclass(frozen=True)
class Qa6Knobs(ObjectKnobs):
    move_rate: float = knob(
        0.65, lo=0.05, hi=1.0,
        doc="probability that a statement is a move rather than a get or drop (1: no "
        "distractors, as the original generator's task 6)",
    )  # fmt: skip
    yes_share: float = knob(0.5, lo=0.0, hi=1.0, doc="share of questions answered yes")


@njit
def story(state, p, pools, lines):
    actors, rooms, objects, moves, gets, gets_there, drops, drops_there, asks, answers = pools
    say = (actors, rooms, objects, moves, gets, gets_there, drops, drops_there)
    n_questions, block = np.int64(p.questions), np.int64(p.statements_per_question)
    recent, cap = np.int64(p.recent), np.int64(p.max_statements)
    yes, no = answers[0], answers[1]
    state, actor_tab, object_tab, log = new_world(
        state, len(actors), len(rooms), len(objects), len(lines)
    )
    world = (actor_tab, object_tab, log)
    candidates = np.empty(len(actors), np.int64)
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
        for a in range(len(actors)):
            line = actor_tab[a, A_LINE]
            if fresh(s, actor_tab[a, A_STMT], recent) and question_ok(lines, n, line, p):
                candidates[c] = a
                c += 1
        if c == 0:
            continue
        state, k = next_below(state, c)
        a = candidates[k]
        here = actor_tab[a, A_ROOM]
        state, x = next_float(state)
        if x < p.yes_share:
            room, answer = here, yes
        else:
            state, room = next_below(state, len(rooms) - 1)
            if room >= here:
                room += 1
            answer = no
        n = question(lines, n, asks[0], actors[a], rooms[room])
        add_answer(lines, n - 1, answer, a_max)
        add_support(lines, n - 1, actor_tab[a, A_LINE], a_max)
        asked += 1
    return state, n


def build(k: Qa6Knobs):
    return object_world(
        k, "Is {0} in the {1}?", get_there=1.0, drop_there=0.2, s_max=1, answers=("yes", "no"),
        extra_params=named(yes_share=k.yes_share),
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa6-v1",
    "yes/no questions: is an actor in a room, from its last move among object distractors",
    Qa6Knobs,
    story,
    build,
    presets=OBJECT_PRESETS,
)
