"""bAbI task 4, two-argument relations: "The office is north of the kitchen. The garden is south
of the kitchen. What is north of the kitchen?" -> office.

Release shape (en v1.2): 3 of the 6 rooms on a line running north or east, 2 statements relating
neighbours (in random order) and 1 question; the question asks which room lies one step in some
direction of another, about one of the two told relations, which is its single support.
"north of" means *the next room north* (bAbI's grid relations), so the answer is unique.

Release habits this follows (measured on the en train file): each statement names the room at
the line's end first ("The garden is south of the kitchen") about 2 times in 3; the question
asks for the room its supporting statement names first, with the other room given ("What is
south of the kitchen?" or "What is the kitchen north of?", half each). Not reproduced: the Lua
HEAD's missing "of" ("north the kitchen"), and its wrong answers (issue #7).

Card: ``data_cards/babi/qa4.md``. Tests: ``tests/test_babi_geometry.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from ._entities import ALL_ROOMS, ROOMS, pool
from ._geometry import COMPASS, E, N, opposite, tell
from ._story import ARG, add_answer, add_support, named, question, question_ok
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text

# The release names a line's outer room first in 1293 of 2000 statements.
P_OUTER_FIRST = 0.65


@dataclass(frozen=True)
class Qa4Knobs(BabiKnobs):
    rooms: int = knob(len(ROOMS), lo=2, hi=len(ALL_ROOMS), doc="rooms a story draws from")
    chain: int = knob(
        3, lo=2, hi=len(ALL_ROOMS), doc="rooms on the line (statements = chain - 1)",
        harder="up", ladder=(2, 3, 4, 5, 6),
        why="more relations in the story, of which the question needs one",
    )  # fmt: skip

    def check(self) -> None:
        super().check()
        self.require(self.chain <= self.rooms, "chain must be <= rooms (distinct rooms)")


@njit
def story(state, p, pools, lines):
    rooms, says, asks, words = pools
    k = np.int64(p.chain)
    # k distinct rooms, in line order (a partial Fisher-Yates draw)
    order = np.arange(len(rooms))
    for i in range(k):
        state, j = next_below(state, len(rooms) - i)
        order[i], order[i + j] = order[i + j], order[i]
    state, axis = next_below(state, 2)
    step = N if axis == 0 else E  # room i + 1 lies one step `step` of room i
    # the k - 1 relations, told in random order
    told = np.arange(k - 1)
    for i in range(k - 2, 0, -1):
        state, j = next_below(state, i + 1)
        told[i], told[j] = told[j], told[i]
    subject = np.empty(k - 1, np.int64)  # the room each statement names first ...
    reference = np.empty(k - 1, np.int64)  # ... the other one ...
    direction = np.empty(k - 1, np.int64)  # ... and where the first lies from the other
    centre = (k - 1) / 2.0
    n = 0
    for line in range(k - 1):
        i = told[line]
        # the room farther from the line's centre is named first with P_OUTER_FIRST
        outer_next = abs(i + 1 - centre) - abs(i - centre)
        p_next_first = 0.5 if outer_next == 0 else (
            P_OUTER_FIRST if outer_next > 0 else 1.0 - P_OUTER_FIRST
        )  # fmt: skip
        a, b = rooms[order[i + 1]], rooms[order[i]]
        state, n = tell(state, lines, n, a, step, b, p_next_first, says, words)
        subject[line] = lines[line, ARG]
        reference[line] = lines[line, ARG + 1]
        direction[line] = step if subject[line] == a else opposite(step)
    # ask for the first-named room of a statement that meets the distance knobs
    candidates = np.empty(k - 1, np.int64)
    c = 0
    for line in range(k - 1):
        if question_ok(lines, n, line, p):
            candidates[c] = line
            c += 1
    if c == 0:
        return state, -1
    state, j = next_below(state, c)
    line = candidates[j]
    state, form = next_below(state, 2)
    d = direction[line]
    if form == 0:  # "What is <d> of the <reference>?"
        n = question(lines, n, asks[0], reference[line], words[d])
    else:  # "What is the <reference> <opposite d> of?"
        n = question(lines, n, asks[1], reference[line], words[opposite(d)])
    add_answer(lines, n - 1, subject[line], 1)
    add_support(lines, n - 1, line, 1)
    return state, n


def build(k: Qa4Knobs):
    text = Text()
    room_names = pool(ROOMS, ALL_ROOMS, k.rooms)
    rooms = text.phrases(room_names)
    says = text.templates(["The {0} is {2} of the {1}."])
    asks = text.templates(["What is {1} of the {0}?", "What is the {0} {1} of?"])
    words = text.phrases(COMPASS)
    return make_world(
        k, text, (rooms, says, asks, words), named(chain=k.chain),
        max_lines=k.chain, a_max=1, s_max=1, q_max=1,
        tags={"LOC": room_names, "DIR": COMPASS},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa4-v1",
    "two-argument relations: which room lies next to another in a compass direction",
    Qa4Knobs,
    story,
    build,
    presets={"release": {}, "open-vocab": {"rooms": len(ALL_ROOMS)}},
)
