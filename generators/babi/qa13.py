"""bAbI task 13, compound coreference: "Mary and Daniel went to the bathroom. Then they
journeyed to the hallway. Where is Daniel?"

Release shape (en v1.2): stories of 5 blocks, each two moves of one pair of distinct actors
followed by a question: "A and B <verb> to the L1." (a room neither is in), then "After that /
Afterwards / Following that / Then they <verb> to the L2." (another room; 20 sentences, each as
likely). A question asks about an actor of the last five clauses (each sentence holds two, first
name first; see ``_movement``); its answer is the actor's last room, supported by the
conjunction and the "they" line, in that order ("1 2").

``compound`` < 1 writes some second moves as a conjunction again; ``conjunction`` < 1 writes
some moves as one sentence per actor, and "they" is only used right after a conjunction (so it
always means the pair just named). A question about a move not read through "they" has that
move's line as its only support.

Card: ``data_cards/babi/qa13.md``. Tests: ``tests/test_babi_movement.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from ._entities import ACTORS, ALL_ACTORS, ALL_ROOMS, ROOMS, pool
from ._movement import (
    CONNECTIVES,
    RECENT,
    move_templates,
    other_room,
    pick_recent,
    room_avoiding,
    two_actors,
)  # fmt: skip
from ._story import add_answer, add_support, named, question, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text
from ._world import MOVE

CONJUNCTION = move_templates(subject="{0} and {1}", room="{2}")
COMPOUND = tuple(t for c in CONNECTIVES for t in move_templates(f"{c} they", room="{2}"))


@dataclass(frozen=True)
class Qa13Knobs(BabiKnobs):
    actors: int = knob(len(ACTORS), lo=2, hi=len(ALL_ACTORS), doc="people in the world")
    rooms: int = knob(len(ROOMS), lo=3, hi=len(ALL_ROOMS), doc="places they move between")
    questions: int = knob(5, lo=1, hi=1000, doc="questions per story")
    blocks_per_question: int = knob(
        1, lo=1, hi=5_000, doc="blocks (two moves of one pair) before each question",
        harder="up", ladder=(1, 2, 4, 8),
        why="more statements between questions: more facts to hold, most of them distractors",
    )  # fmt: skip
    recent: int = knob(
        RECENT, lo=0, hi=10_000,
        doc="a question asks about an actor of one of the last this many clauses (a sentence "
        "about two actors holds two; 0: any actor the reader has been told about)",
        harder="up", ladder=(1, 2, 5, 10, 20),
        why="questions about older statements: the answer's facts lie farther back",
    )  # fmt: skip
    conjunction: float = knob(
        1.0, lo=0.0, hi=1.0,
        doc="probability that a pair's move names both actors in one sentence 'A and B ...' "
        "(else one sentence each)",
    )  # fmt: skip
    compound: float = knob(
        1.0, lo=0.0, hi=1.0,
        doc="probability that a pair's second move, after a conjunction, reads 'Then they ...'",
        harder="up", ladder=(0.0, 0.5, 1.0),
        why="more moves say only 'they': the pair must be carried over from the sentence before",
    )  # fmt: skip


@njit
def _pair_move(state, lines, n, conjunction, a, b, r, actors, rooms, moves, conjunctions,
               line_of, first_of):  # fmt: skip
    """Move ``a`` and ``b`` to room ``r`` by name: one sentence with probability
    ``conjunction``, else one each. Returns (state, n, whether it was one sentence)."""
    state, x = next_float(state)
    if x < conjunction:
        state, t = next_below(state, len(conjunctions))
        line_of[a] = line_of[b] = first_of[a] = first_of[b] = n
        return state, statement(lines, n, conjunctions[t], actors[a], actors[b], rooms[r]), True
    for who in (a, b):
        state, t = next_below(state, len(moves))
        line_of[who] = first_of[who] = n
        n = statement(lines, n, moves[t], actors[who], rooms[r])
    return state, n, False


@njit
def story(state, p, pools, lines):
    actors, rooms, moves, conjunctions, compounds, asks = pools
    n_questions, per_question = np.int64(p.questions), np.int64(p.blocks_per_question)
    recent, conjunction, compound = np.int64(p.recent), p.conjunction, p.compound
    n_actors, n_rooms = len(actors), len(rooms)
    room_of = np.full(n_actors, -1, np.int64)
    first_of = np.full(n_actors, -1, np.int64)  # supports of the actor's room: the antecedent
    line_of = np.full(n_actors, -1, np.int64)  # ... and the line that moved it last
    clause_actor = np.empty(4 * n_questions * per_question, np.int64)
    buf = np.empty(max(len(clause_actor), n_actors), np.int64)
    n = 0
    c = 0
    for _ in range(n_questions):
        for _ in range(per_question):
            state, a, b = two_actors(state, n_actors)
            state, r = room_avoiding(state, n_rooms, room_of[a], room_of[b])
            state, n, joined = _pair_move(state, lines, n, conjunction, a, b, r, actors, rooms,
                                          moves, conjunctions, line_of, first_of)  # fmt: skip
            antecedent = n - 1
            state, r = other_room(state, n_rooms, r)
            room_of[a] = room_of[b] = r
            state, x = next_float(state)
            if joined and x < compound:
                state, t = next_below(state, len(compounds))
                first_of[a] = first_of[b] = antecedent
                line_of[a] = line_of[b] = n
                n = statement(lines, n, compounds[t], -1, -1, rooms[r])
            else:
                state, n, _ = _pair_move(state, lines, n, conjunction, a, b, r, actors, rooms,
                                         moves, conjunctions, line_of, first_of)  # fmt: skip
            for _ in range(2):
                clause_actor[c] = a
                clause_actor[c + 1] = b
                c += 2
        state, a = pick_recent(state, lines, n, p, clause_actor, c, recent, first_of, n_actors,
                               buf)  # fmt: skip
        if a < 0:
            return state, -1
        n = question(lines, n, asks[0], actors[a])
        add_answer(lines, n - 1, rooms[room_of[a]], 1)
        if first_of[a] != line_of[a]:
            add_support(lines, n - 1, first_of[a], 1)
        add_support(lines, n - 1, line_of[a], 1)
    return state, n


def build(k: Qa13Knobs):
    text = Text()
    actor_names = pool(ACTORS, ALL_ACTORS, k.actors)
    room_names = pool(ROOMS, ALL_ROOMS, k.rooms)
    actors, rooms = text.phrases(actor_names), text.phrases(room_names)
    moves, conjunctions = text.templates(MOVE), text.templates(CONJUNCTION)
    compounds = text.templates(COMPOUND)
    asks = text.templates(["Where is {0}?"])
    lines = k.questions * (4 * k.blocks_per_question + 1)
    return make_world(
        k, text, (actors, rooms, moves, conjunctions, compounds, asks),
        named(questions=k.questions, blocks_per_question=k.blocks_per_question,
              recent=k.recent, conjunction=k.conjunction, compound=k.compound),
        max_lines=lines, a_max=1, s_max=2, q_max=k.questions,
        tags={"ACTOR": actor_names, "LOC": room_names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa13-v1",
    "compound coreference: where is an actor, moved with another by 'then they went to the L'",
    Qa13Knobs,
    story,
    build,
    presets={
        "release": {},
        "far": {"actors": 8, "blocks_per_question": 3, "min_distance": 5, "recent": 0},
        "open-vocab": {"actors": 20, "rooms": 20},
    },
)
