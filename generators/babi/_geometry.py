"""What the geometry tasks (4 two-arg-relations, 17 positional-reasoning, 19 path-finding) share:
directions on a grid, and how a relation between two cells is told.

Directions are numbered clockwise, ``N, E, S, W = 0, 1, 2, 3``, so ``(d + 2) % 4`` is the
opposite one; ``DX``/``DY`` give the unit step of each (y grows northwards, "above"). A relation
"the A is <d> of the B" means A lies one step in direction ``d`` from B: in the release every
such statement relates grid neighbours (bAbI's ``set_dir``), which is what makes the answers of
tasks 4, 17 and 19 unique.

Every relation can be told two ways, "A is north of B" or "B is south of A"; ``tell`` writes
one of them. A task's statement templates are either one template with a direction slot
(``"The {0} is {2} of the {1}."``, tasks 4 and 19) or four, one per direction
(``"The {0} is above the {1}."``, task 17); ``tell`` handles both.
"""

from __future__ import annotations

import numpy as np

from memtasks.rng import next_float

from .._kernels import njit
from ._story import statement

N, E, S, W = 0, 1, 2, 3
DX = np.array([0, 1, 0, -1], np.int64)
DY = np.array([1, 0, -1, 0], np.int64)
COMPASS = ("north", "east", "south", "west")  # tasks 4 and 19, in statements and questions
LETTERS = ("n", "e", "s", "w")  # task 19's answers
RELATIVE = ("above", "to the right of", "below", "to the left of")  # task 17


def per_direction(template: str) -> list[str]:
    """Task 17's four templates from one with a ``{dir}`` placeholder, in direction order."""
    return [template.replace("{dir}", r) for r in RELATIVE]


@njit(inline="always")
def opposite(d):
    return (d + 2) % 4


@njit(inline="always")
def direction_between(x, y, to_x, to_y):
    """The direction of the step from cell (x, y) to its neighbour (to_x, to_y); -1 if they
    are not neighbours."""
    for d in range(4):
        if x + DX[d] == to_x and y + DY[d] == to_y:
            return d
    return -1


@njit(inline="always")
def tell(state, lines, n, a, d, b, p_a_first, templates, words):
    """Append a statement that ``a`` is one step ``d`` of ``b``: "the a is <d> of the b" with
    probability ``p_a_first``, else "the b is <opposite d> of the a". ``a``/``b`` are phrase
    ids; ``templates`` holds one template (direction in slot 2, ``words[d]``) or one per
    direction. Returns (state, new line count)."""
    state, u = next_float(state)
    if u >= p_a_first:
        a, b, d = b, a, opposite(d)
    if len(templates) == 4:
        return state, statement(lines, n, templates[d], a, b)
    return state, statement(lines, n, templates[0], a, b, words[d])
