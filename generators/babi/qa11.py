"""bAbI task 11, basic coreference: "Mary went to the kitchen. Then she went to the garden.
Where is Mary?"

Release shape (en v1.2): stories of 5 blocks, each two moves of one actor followed by a question;
the second move reads with a pronoun that follows the actor's gender ("After that / Afterwards /
Following that / Then he|she <verb> to the L": all 40 sentences, each as likely, as in the
release's files). A question asks about an actor of the last five clauses (see ``_movement``),
so not always the block's; its answer is the actor's last room, supported by the antecedent
line and the pronoun line, in that order ("4 5"). Every move goes to a room other than the
actor's own.

``coreference`` < 1 writes some second moves with the name instead; such a move is the only
support of a question about it.

Card: ``data_cards/babi/qa11.md``. Tests: ``tests/test_babi_movement.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from ._entities import ACTORS, ALL_ACTORS, ALL_ROOMS, ROOMS, pool
from ._movement import CONNECTIVES, PRONOUN, RECENT, VERBS, other_room, pick_recent
from ._story import add_answer, add_support, named, question, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text
from ._world import MOVE

# "After that he went to the {1}.": 4 openers x 5 verbs for each pronoun, all 40 used by the
# release (its template list shows 35 of them; its header and its files have all 45 shapes)
COREFERENCE = {
    pronoun: tuple(f"{c} {pronoun} {v} to the {{1}}." for c in CONNECTIVES for v in VERBS)
    for pronoun in ("he", "she")
}


@dataclass(frozen=True)
class Qa11Knobs(BabiKnobs):
    actors: int = knob(len(ACTORS), lo=1, hi=len(ALL_ACTORS), doc="people in the world")
    rooms: int = knob(len(ROOMS), lo=2, hi=len(ALL_ROOMS), doc="places they move between")
    questions: int = knob(5, lo=1, hi=1000, doc="questions per story")
    blocks_per_question: int = knob(
        1, lo=1, hi=5_000, doc="blocks (two moves of one actor) before each question",
        harder="up", ladder=(1, 2, 4, 8),
        why="more statements between questions: more facts to hold, most of them distractors",
    )  # fmt: skip
    recent: int = knob(
        RECENT, lo=0, hi=10_000,
        doc="a question asks about the actor of one of the last this many statements "
        "(0: any actor the reader has been told about)",
        harder="up", ladder=(1, 2, 5, 10, 20),
        why="questions about older statements: the answer's facts lie farther back",
    )  # fmt: skip
    coreference: float = knob(
        1.0, lo=0.0, hi=1.0,
        doc="probability that a block's second move names its actor with a pronoun (he/she)",
        harder="up", ladder=(0.0, 0.5, 1.0),
        why="more moves name their actor only by a pronoun, resolved from the sentence before",
    )  # fmt: skip


@njit
def story(state, p, pools, lines):
    actors, she, rooms, moves, corefs_he, corefs_she, asks = pools
    n_questions, per_question = np.int64(p.questions), np.int64(p.blocks_per_question)
    recent, coreference = np.int64(p.recent), p.coreference
    n_actors, n_rooms = len(actors), len(rooms)
    room_of = np.full(n_actors, -1, np.int64)
    first_line = np.full(n_actors, -1, np.int64)  # supports of the actor's room: the antecedent
    last_line = np.full(n_actors, -1, np.int64)  # ... and the line that moved it last
    clause_actor = np.empty(2 * n_questions * per_question, np.int64)
    buf = np.empty(max(len(clause_actor), n_actors), np.int64)
    n = 0
    c = 0
    for _ in range(n_questions):
        for _ in range(per_question):
            state, a = next_below(state, n_actors)
            state, room_of[a] = other_room(state, n_rooms, room_of[a])
            state, t = next_below(state, len(moves))
            antecedent = n
            n = statement(lines, n, moves[t], actors[a], rooms[room_of[a]])
            state, room_of[a] = other_room(state, n_rooms, room_of[a])
            state, x = next_float(state)
            if x < coreference:
                corefs = corefs_she if she[a] else corefs_he
                state, t = next_below(state, len(corefs))
                first_line[a] = antecedent
                n = statement(lines, n, corefs[t], actors[a], rooms[room_of[a]])
            else:
                state, t = next_below(state, len(moves))
                first_line[a] = n
                n = statement(lines, n, moves[t], actors[a], rooms[room_of[a]])
            last_line[a] = n - 1
            clause_actor[c] = a
            clause_actor[c + 1] = a
            c += 2
        state, a = pick_recent(state, lines, n, p, clause_actor, c, recent, first_line,
                               n_actors, buf)  # fmt: skip
        if a < 0:
            return state, -1
        n = question(lines, n, asks[0], actors[a])
        add_answer(lines, n - 1, rooms[room_of[a]], 1)
        if first_line[a] != last_line[a]:
            add_support(lines, n - 1, first_line[a], 1)
        add_support(lines, n - 1, last_line[a], 1)
    return state, n


def build(k: Qa11Knobs):
    text = Text()
    actor_names = pool(ACTORS, ALL_ACTORS, k.actors)
    room_names = pool(ROOMS, ALL_ROOMS, k.rooms)
    actors, rooms = text.phrases(actor_names), text.phrases(room_names)
    she = np.asarray([PRONOUN[a] == "she" for a in actor_names], np.int32)
    moves = text.templates(MOVE)
    corefs_he, corefs_she = text.templates(COREFERENCE["he"]), text.templates(COREFERENCE["she"])
    asks = text.templates(["Where is {0}?"])
    lines = k.questions * (2 * k.blocks_per_question + 1)
    return make_world(
        k, text, (actors, she, rooms, moves, corefs_he, corefs_she, asks),
        named(questions=k.questions, blocks_per_question=k.blocks_per_question,
              recent=k.recent, coreference=k.coreference),
        max_lines=lines, a_max=1, s_max=2, q_max=k.questions,
        tags={"ACTOR": actor_names, "LOC": room_names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa11-v1",
    "basic coreference: where is an actor, told by a sentence with he/she",
    Qa11Knobs,
    story,
    build,
    presets={
        "release": {},
        "far": {"actors": 8, "blocks_per_question": 3, "min_distance": 5, "recent": 0},
        "open-vocab": {"actors": 20, "rooms": 20},
    },
)
