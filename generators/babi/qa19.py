"""bAbI task 19, path finding: "The kitchen is north of the office. The office is west of the
garden. ... How do you go from the kitchen to the garden?" -> s,e.

Release shape (en v1.2): the 6 rooms on a grid. A path of 2 steps with no back-tracking (so the
12 answers "n,e", "s,s", ... are equally likely) and 3 decoy rooms, each one step from a room of
the path; 5 statements relating neighbours, then the question. The answer is one direction
letter per step (several answer phrases, joined by commas in the text), supported by the path's
statements in path order.

Consistency (the release's bugs, issue #1, not reproduced): no two rooms share a cell, and the
path is the *unique shortest* one even for a reader who takes any two neighbouring rooms to be
connected, told or not (the release has 71 of 1000 stories with two rooms in one cell and 412
with a second path as short). Decoys that would make another path as short are redrawn.

Release habits this follows (en train file): decoys hang off the path's rooms only, each
statement about a decoy names the decoy first 3 times in 4, a path statement names either room
first; the path's statements come late more often than a uniform shuffle puts them (mean
distance from the question to the earliest support 3.77 lines, 4.0 for a uniform shuffle), so
with the release's 2 + 3 statements their places follow the release's counts. Knobs:
``path_length``, ``decoys`` (the Lua generator's options) and ``rooms``.

Card: ``data_cards/babi/qa19.md``. Tests: ``tests/test_babi_geometry.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from ._entities import ALL_ROOMS, ROOMS, pool
from ._geometry import COMPASS, DX, DY, LETTERS, opposite, tell
from ._story import add_answer, add_support, named, question, question_ok
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text

P_DECOY_FIRST = 0.75  # the release names the decoy first in 2223 of 3000 decoy statements
P_PATH_NEXT_FIRST = 0.5  # ... and either room of a path statement (1015 of 2000: the later)
# Places (0-based lines) of the 2 path statements among the release's 5, and how many of its
# 1000 train stories have them there.
RELEASE_PATH_PLACES = (
    (0, 1, 50), (0, 2, 71), (0, 3, 80), (0, 4, 136), (1, 2, 66),
    (1, 3, 78), (1, 4, 122), (2, 3, 91), (2, 4, 136), (3, 4, 170),
)  # fmt: skip
DECOY_TRIES = 64  # cells tried for one decoy before the story is redrawn


@dataclass(frozen=True)
class Qa19Knobs(BabiKnobs):
    axis_ladders = {"min_distance": (0, 1, 2, 3, 4)}  # stories reach this far at the defaults

    rooms: int = knob(len(ROOMS), lo=2, hi=len(ALL_ROOMS), doc="rooms a story draws from")
    path_length: int = knob(
        2, lo=1, hi=12, doc="steps of the path asked for",
        # rooms >= path_length + 1 + decoys: with 6 rooms and 3 decoys, 2 steps at most
        harder="up", ladder=(1, 2), why="a longer path to find and spell out, step by step",
    )  # fmt: skip
    decoys: int = knob(
        3, lo=0, hi=30, doc="rooms off the path, each next to a path room",
        harder="up", ladder=(0, 1, 2, 3), why="more rooms next to the path that lead nowhere",
    )  # fmt: skip

    def check(self) -> None:
        super().check()
        self.require(
            self.path_length + 1 + self.decoys <= self.rooms,
            "rooms must be >= path_length + 1 + decoys (every room in a story is distinct)",
        )
        # a path of n steps has at most 2n + 4 free cells next to it (a straight line), and
        # cells a winding path shares between its rooms may not be used: keep well below
        self.require(
            self.decoys <= self.path_length + 4,
            "decoys must be <= path_length + 4 (room for them next to the path)",
        )


@njit(inline="always")
def _occupied(xs, ys, m, x, y):
    for i in range(m):  # noqa: SIM110 (a plain loop: Numba compiles no generator to `any`)
        if xs[i] == x and ys[i] == y:
            return True
    return False


@njit
def unique_shortest(xs, ys, m, target, length):
    """Whether, among the first ``m`` rooms (neighbouring cells connected), room 0 reaches
    ``target`` in exactly ``length`` steps by one path only."""
    dist = np.full(m, -1, np.int64)
    ways = np.zeros(m, np.int64)  # shortest paths, capped at 2
    queue = np.empty(m, np.int64)
    dist[0], ways[0], queue[0] = 0, 1, 0
    head, tail = 0, 1
    while head < tail:
        u = queue[head]
        head += 1
        for v in range(m):
            if abs(xs[u] - xs[v]) + abs(ys[u] - ys[v]) != 1:
                continue
            if dist[v] < 0:
                dist[v] = dist[u] + 1
                ways[v] = ways[u]
                queue[tail] = v
                tail += 1
            elif dist[v] == dist[u] + 1:
                ways[v] = min(2, ways[v] + ways[u])
    return dist[target] == length and ways[target] == 1


@njit
def story(state, p, pools, lines):
    rooms, says, ask, words, letters, places = pools
    steps, decoys = np.int64(p.path_length), np.int64(p.decoys)
    release_order = p.release_order > 0
    m = steps + 1 + decoys
    # distinct rooms: the path's first (source ... target), then the decoys
    order = np.arange(len(rooms))
    for i in range(m):
        state, j = next_below(state, len(rooms) - i)
        order[i], order[i + j] = order[i + j], order[i]
    xs = np.zeros(m, np.int64)
    ys = np.zeros(m, np.int64)
    # statement k: room sa[k] is one step sd[k] of room sb[k]; named first with p_first[k]
    sa = np.empty(m - 1, np.int64)
    sd = np.empty(m - 1, np.int64)
    sb = np.empty(m - 1, np.int64)
    p_first = np.empty(m - 1, np.float64)
    # the path: a walk without back-tracking onto free cells
    free = np.empty(4, np.int64)
    for i in range(steps):
        c = 0
        for d in range(4):
            if i > 0 and d == opposite(sd[i - 1]):
                continue
            if not _occupied(xs, ys, i + 1, xs[i] + DX[d], ys[i] + DY[d]):
                free[c] = d
                c += 1
        if c == 0:
            return state, -1
        state, k = next_below(state, c)
        d = free[k]
        xs[i + 1], ys[i + 1] = xs[i] + DX[d], ys[i] + DY[d]
        sa[i], sd[i], sb[i], p_first[i] = i + 1, d, i, P_PATH_NEXT_FIRST
    if not unique_shortest(xs, ys, steps + 1, steps, steps):
        return state, -1  # the walk touches itself: a shortcut
    # decoys: each one step from a path room, keeping the path the unique shortest
    for j in range(steps + 1, m):
        placed = False
        for _ in range(DECOY_TRIES):
            state, at = next_below(state, steps + 1)
            state, d = next_below(state, 4)
            x, y = xs[at] + DX[d], ys[at] + DY[d]
            if _occupied(xs, ys, j, x, y):
                continue
            xs[j], ys[j] = x, y
            if unique_shortest(xs, ys, j + 1, steps, steps):
                sa[j - 1], sd[j - 1], sb[j - 1], p_first[j - 1] = j, d, at, P_DECOY_FIRST
                placed = True
                break
        if not placed:
            return state, -1
    # the order statements are told in: perm[line] = statement
    perm = np.arange(m - 1)
    if release_order:
        state, r = next_below(state, places[-1])  # places: (first, second, cumulative count)
        k = 0
        while places[3 * k + 2] <= r:
            k += 1
        first, second = places[3 * k], places[3 * k + 1]
        state, swap = next_below(state, 2)
        rest = np.arange(steps, m - 1)
        for i in range(len(rest) - 1, 0, -1):
            state, t = next_below(state, i + 1)
            rest[i], rest[t] = rest[t], rest[i]
        r = 0
        for line in range(m - 1):
            if line == first:
                perm[line] = swap
            elif line == second:
                perm[line] = 1 - swap
            else:
                perm[line] = rest[r]
                r += 1
    else:
        for i in range(m - 2, 0, -1):
            state, t = next_below(state, i + 1)
            perm[i], perm[t] = perm[t], perm[i]
    line_of = np.empty(m - 1, np.int64)
    n = 0
    for line in range(m - 1):
        k = perm[line]
        line_of[k] = line
        a, b = rooms[order[sa[k]]], rooms[order[sb[k]]]
        state, n = tell(state, lines, n, a, sd[k], b, p_first[k], says, words)
    earliest = m
    for i in range(steps):
        earliest = min(earliest, line_of[i])
    if not question_ok(lines, n, earliest, p):
        return state, -1
    n = question(lines, n, ask[0], rooms[order[0]], rooms[order[steps]])
    a_max = steps
    for i in range(steps):
        add_answer(lines, n - 1, letters[sd[i]], a_max)
    for i in range(steps):
        add_support(lines, n - 1, line_of[i], a_max)
    return state, n


def _places() -> np.ndarray:
    """RELEASE_PATH_PLACES flattened, with running counts (for a draw by ``next_below``)."""
    out, total = [], 0
    for first, second, count in RELEASE_PATH_PLACES:
        total += count
        out += [first, second, total]
    return np.asarray(out, np.int32)


def build(k: Qa19Knobs):
    text = Text()
    room_names = pool(ROOMS, ALL_ROOMS, k.rooms)
    rooms = text.phrases(room_names)
    says = text.templates(["The {0} is {2} of the {1}."])
    ask = text.templates(["How do you go from the {0} to the {1}?"])
    words = text.phrases(COMPASS)
    letters = text.phrases(LETTERS)
    statements = k.path_length + k.decoys
    release_order = k.path_length == 2 and k.decoys == 3
    return make_world(
        k, text, (rooms, says, ask, words, letters, _places()),
        named(path_length=k.path_length, decoys=k.decoys,
              release_order=float(release_order)),
        max_lines=statements + 1, a_max=k.path_length, s_max=k.path_length, q_max=1,
        tags={"LOC": room_names, "DIR": COMPASS},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa19-v1",
    "path finding: the compass steps between two rooms, from relations among neighbours",
    Qa19Knobs,
    story,
    build,
    presets={
        "release": {},
        "open-vocab": {"rooms": len(ALL_ROOMS)},
        "hard": {"path_length": 4, "decoys": 6, "rooms": 12},
    },
)
