"""bAbI task 17, positional reasoning: "The triangle is above the pink rectangle. The blue square
is to the left of the triangle. Is the pink rectangle to the right of the blue square?" -> yes.

Release shape (en v1.2): 3 of 6 shapes placed by a two-step walk on a grid (the second step
never goes back), 2 statements relating neighbours, then 8 yes/no questions about the two
shapes at the walk's ends, each supported by both statements ("above" = one row up, "to the
left of" = one column left, so every answer follows). A question takes the ends in random
order, an answer yes or no (half each) and then one of the relations with that answer; the
supports list first the statement naming the question's first shape.

Release habits this follows (en train file): each statement names the middle shape first 2
times in 3; questions repeat within a story (they are drawn independently). Not reproduced: the
Lua generator's contradictory duplicate statements (issue #2) and its left/right swap (fixed in
ccd8fd6; the release is correct).

Card: ``data_cards/babi/qa17.md``. Tests: ``tests/test_babi_geometry.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from ._geometry import DX, DY, E, N, S, opposite, per_direction, tell
from ._story import add_answer, add_support, named, question, question_ok
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text

# The release's shapes, in the order a `shapes` pool takes them.
SHAPES = ("triangle", "red square", "blue square", "yellow square", "pink rectangle", "red sphere")
# More shapes for larger pools. None is a coloured triangle or an uncoloured square, rectangle or
# sphere: "the triangle" must name one shape (the Lua generator avoids the same ambiguity).
EXTRA_SHAPES = (
    "green square", "blue rectangle", "yellow sphere", "pink square", "red rectangle",
    "blue sphere", "green sphere", "yellow rectangle", "pink sphere", "green rectangle",
    "red cube", "blue cube", "yellow cube", "green cube", "pink cube", "purple square",
    "purple rectangle", "purple sphere", "purple cube", "orange square", "orange rectangle",
    "orange sphere", "orange cube", "circle", "star", "hexagon",
)  # fmt: skip
ALL_SHAPES = SHAPES + EXTRA_SHAPES
# The release names the middle shape first in 2 of 3 statements (163 of 250).
P_MIDDLE_FIRST = 2.0 / 3.0


@dataclass(frozen=True)
class Qa17Knobs(BabiKnobs):
    shapes: int = knob(len(SHAPES), lo=3, hi=len(ALL_SHAPES), doc="shapes a story draws from")
    questions: int = knob(8, lo=1, hi=1000, doc="yes/no questions per story")


@njit(inline="always")
def holds(r, ax, ay, bx, by):
    """Whether "a is <r> b" (above / to the right of / below / to the left of) holds."""
    if r == N:
        return ay > by
    if r == E:
        return ax > bx
    if r == S:
        return ay < by
    return ax < bx


@njit
def story(state, p, pools, lines):
    shapes, says, asks, yes_no = pools
    n_questions = np.int64(p.questions)
    # three distinct shapes, in walk order
    order = np.arange(len(shapes))
    for i in range(3):
        state, j = next_below(state, len(shapes) - i)
        order[i], order[i + j] = order[i + j], order[i]
    # the walk: shape 1 one step d1 of shape 0, shape 2 one step d2 of shape 1, d2 != back
    state, d1 = next_below(state, 4)
    state, t = next_below(state, 3)
    d2 = (d1 + 3 + t) % 4  # d1 - 1, d1, d1 + 1: any direction but opposite(d1)
    xs = np.array([0, DX[d1], DX[d1] + DX[d2]])
    ys = np.array([0, DY[d1], DY[d1] + DY[d2]])
    s0, s1, s2 = shapes[order[0]], shapes[order[1]], shapes[order[2]]
    state, n = tell(state, lines, 0, s1, d1, s0, P_MIDDLE_FIRST, says, says)
    state, n = tell(state, lines, n, s1, opposite(d2), s2, P_MIDDLE_FIRST, says, says)
    # questions about the ends (walk positions 0 and 2); both statements support each
    relations = np.empty(4, np.int64)
    for _ in range(n_questions):
        if not question_ok(lines, n, 0, p):
            return state, -1
        state, first = next_below(state, 2)
        a, b = (0, 2) if first == 0 else (2, 0)
        state, truth = next_below(state, 2)
        c = 0
        for r in range(4):
            if holds(r, xs[a], ys[a], xs[b], ys[b]) == (truth == 0):
                relations[c] = r
                c += 1
        state, k = next_below(state, c)
        n = question(lines, n, asks[relations[k]], shapes[order[a]], shapes[order[b]])
        add_answer(lines, n - 1, yes_no[truth], 1)
        add_support(lines, n - 1, a // 2, 1)  # the statement naming shape a: line 0 or 1
        add_support(lines, n - 1, b // 2, 1)
    return state, n


def build(k: Qa17Knobs):
    text = Text()
    shape_names = ALL_SHAPES[: k.shapes]
    shapes = text.phrases(shape_names)
    says = text.templates(per_direction("The {0} is {dir} the {1}."))
    asks = text.templates(per_direction("Is the {0} {dir} the {1}?"))
    yes_no = text.phrases(["yes", "no"])
    return make_world(
        k, text, (shapes, says, asks, yes_no), named(questions=k.questions),
        max_lines=2 + k.questions, a_max=1, s_max=2, q_max=k.questions,
        tags={"SHAPE": shape_names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa17-v1",
    "positional reasoning: yes/no questions on where two shapes lie, from two relations",
    Qa17Knobs,
    story,
    build,
    presets={"release": {}, "open-vocab": {"shapes": len(ALL_SHAPES)}},
)
