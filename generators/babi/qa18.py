"""bAbI task 18, size reasoning: "The box fits inside the chest. The chest is bigger than the
chocolate. Does the chocolate fit in the box?" -> yes/no by a chain of comparisons.

Release shape (en v1.2): 6 objects with hidden sizes, chocolate < box of chocolates < the other
four (box, chest, container, suitcase) in a random order per story. Statements come in rounds
of 5, each comparing a random pair of distinct objects truthfully ("The X is bigger than the Y."
or "The Y fits inside the X.", half each; pairs repeat). After a round, 5 questions are tried;
a question is about a pair joined by a chain of exactly ``steps`` (2) statements going down in
size, drawn by trying random pairs (64 tries, then the question is skipped, as the release's
rare short rounds show). The story ends once it has 5 questions; otherwise another round of 5
statements follows (so 21% of stories have 10 statements, a few have 15, and about 2% have
statements, questions, statements, questions). Each question takes the pair either way round,
in either form ("Is the X bigger than the Y?" / "Does the X fit in the Y?"), answer yes or no.

Supports: the chain's statements, starting from the object the question claims is the bigger
("Is the box bigger than the chocolate?": the box's statement first; "Does the chocolate fit in
the box?": also the box's), as the release writes them ("2 1" or "1 2"). Of several chains, the
one told earliest (its last statement earliest) is cited. Like the release, a pair is asked
whenever such a chain exists, even if a statement also compares it directly (35% of released
questions); ``shortest`` asks only pairs with no shorter chain, so the answer needs every step.

Card: ``data_cards/babi/qa18.md``. Tests: ``tests/test_babi_reasoning.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from ._story import add_answer, add_support, named, question, question_ok, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text

# The first two are always the smallest, in this order (the release's sizes 0.5 and 1); the
# others get random sizes above them.
OBJECTS = ("chocolate", "box of chocolates", "box", "chest", "container", "suitcase")
FIXED = 2
EXTRA_OBJECTS = (
    "trunk", "crate", "bag", "basket", "drawer", "wardrobe", "cupboard", "jar", "tin", "sack",
    "barrel", "cabinet", "bucket", "carton", "closet", "locker",
)  # fmt: skip
ALL_OBJECTS = OBJECTS + EXTRA_OBJECTS
TRIES = 64  # random pairs tried per question before it is skipped
# a story is redrawn after this many rounds, or this many statements if that is more
MAX_ROUNDS, MAX_STATEMENTS = 12, 60
INF = 1 << 30


@dataclass(frozen=True)
class Qa18Knobs(BabiKnobs):
    axis_ladders = {"min_distance": (0, 2, 4, 6)}  # stories reach this far at the defaults

    objects: int = knob(len(OBJECTS), lo=3, hi=len(ALL_OBJECTS), doc="objects a story draws from")
    story_objects: int = knob(6, lo=3, hi=len(ALL_OBJECTS), doc="objects in a story")
    steps: int = knob(
        2, lo=1, hi=8, doc="statements in the chain each question is asked from",
        harder="up", ladder=(1, 2, 3, 4, 5),
        why="longer chains of size relations to compose, from facts farther apart",
    )  # fmt: skip
    shortest: bool = knob(
        False, doc="ask only pairs with no chain shorter than steps (the release does not)"
    )
    statements: int = knob(5, lo=1, hi=1000, doc="statements per round")
    questions: int = knob(
        5, lo=1, hi=1000, doc="questions tried after each round; a story has at least this many"
    )

    def check(self) -> None:
        super().check()
        self.require(self.story_objects <= self.objects, "story_objects must be <= objects")
        self.require(self.steps < self.story_objects, "steps must be < story_objects")


@njit
def chains(big, edge_big, edge_small, n_edges, steps, n_objects, best, via):
    """Chains of exactly k statements going down from ``big``, k = 1..steps: ``best[k, v]`` is
    the smallest possible latest line of such a chain ending at v (INF: none) and ``via[k, v]``
    its last statement (the objects only get smaller along a chain, so no object repeats)."""
    for k in range(steps + 1):
        for v in range(n_objects):
            best[k, v] = INF
    best[0, big] = -1
    for k in range(1, steps + 1):
        for e in range(n_edges):
            u, v = edge_big[e], edge_small[e]
            if best[k - 1, u] < INF:
                late = max(best[k - 1, u], e)
                if late < best[k, v]:
                    best[k, v] = late
                    via[k, v] = e


@njit
def story(state, p, pools, lines):
    object_pool, says, asks, yes_no = pools
    n_objects = np.int64(p.story_objects)
    steps = np.int64(p.steps)
    shortest = p.shortest > 0
    per_round, n_questions = np.int64(p.statements), np.int64(p.questions)
    max_rounds = np.int64(p.rounds)
    # the story's objects (pool indices) and their sizes: the first FIXED of the pool, if
    # drawn, are the smallest in pool order; the rest are in random order above them
    pick = np.arange(len(object_pool))
    for i in range(n_objects):
        state, j = next_below(state, len(pick) - i)
        pick[i], pick[i + j] = pick[i + j], pick[i]
    order = np.arange(n_objects)
    for i in range(n_objects - 1, 0, -1):
        state, j = next_below(state, i + 1)
        order[i], order[j] = order[j], order[i]
    objects = np.empty(n_objects, np.int64)
    size = np.empty(n_objects, np.int64)  # only the order of sizes matters
    for i in range(n_objects):
        objects[i] = object_pool[pick[i]]
        size[i] = pick[i] if pick[i] < FIXED else FIXED + order[i]
    # statements are edges big -> small; line of edge e is line_of[e]
    max_edges = max_rounds * per_round
    edge_big = np.empty(max_edges, np.int64)
    edge_small = np.empty(max_edges, np.int64)
    line_of = np.empty(max_edges, np.int64)
    best = np.empty((steps + 1, n_objects), np.int64)
    via = np.empty((steps + 1, n_objects), np.int64)
    # per pair (big, small) after a round: the chain to cite (-1: not askable) and its
    # earliest line
    chain_of = np.empty((n_objects, n_objects, steps), np.int64)
    first_of = np.empty((n_objects, n_objects), np.int64)
    n = 0
    n_edges = 0
    asked = 0
    for _ in range(max_rounds):
        for _ in range(per_round):
            state, a = next_below(state, n_objects)
            state, b = next_below(state, n_objects - 1)
            if b >= a:
                b += 1
            big, small = (a, b) if size[a] > size[b] else (b, a)
            state, form = next_below(state, 2)
            if form == 0:
                n = statement(lines, n, says[0], objects[big], objects[small])
            else:
                n = statement(lines, n, says[1], objects[small], objects[big])
            edge_big[n_edges], edge_small[n_edges] = big, small
            line_of[n_edges] = n - 1
            n_edges += 1
        any_askable = False
        for big in range(n_objects):
            chains(big, edge_big, edge_small, n_edges, steps, n_objects, best, via)
            for small in range(n_objects):
                chain_of[big, small, 0] = -1
                if best[steps, small] >= INF:
                    continue
                if shortest:
                    shorter = False
                    for k in range(1, steps):
                        shorter = shorter or best[k, small] < INF
                    if shorter:
                        continue
                v = small  # the chain, from the big end down
                for k in range(steps, 0, -1):
                    e = via[k, v]
                    chain_of[big, small, k - 1] = e
                    v = edge_big[e]
                first = n
                for k in range(steps):
                    first = min(first, line_of[chain_of[big, small, k]])
                first_of[big, small] = first
                any_askable = True
        for _ in range(n_questions if any_askable else 0):
            found = False
            for _ in range(TRIES):
                state, a = next_below(state, n_objects)
                state, b = next_below(state, n_objects - 1)
                if b >= a:
                    b += 1
                big, small = (a, b) if size[a] > size[b] else (b, a)
                if chain_of[big, small, 0] >= 0 and question_ok(lines, n, first_of[big, small], p):
                    found = True
                    break
            if not found:
                continue
            # claim "c is bigger than d" about the pair, either way round, in either form
            state, flip = next_below(state, 2)
            c, d = (big, small) if flip == 0 else (small, big)
            state, form = next_below(state, 2)
            if form == 0:
                n = question(lines, n, asks[0], objects[c], objects[d])
            else:
                n = question(lines, n, asks[1], objects[d], objects[c])
            add_answer(lines, n - 1, yes_no[flip], 1)
            for k in range(steps):  # from c's end of the chain
                e = chain_of[big, small, k if flip == 0 else steps - 1 - k]
                add_support(lines, n - 1, line_of[e], 1)
            asked += 1
        if asked >= n_questions:
            return state, n
    return state, -1


def build(k: Qa18Knobs):
    text = Text()
    names = ALL_OBJECTS[: k.objects]
    objects = text.phrases(names)
    says = text.templates(["The {0} is bigger than the {1}.", "The {0} fits inside the {1}."])
    asks = text.templates(["Is the {0} bigger than the {1}?", "Does the {0} fit in the {1}?"])
    yes_no = text.phrases(["yes", "no"])
    q_max = 2 * k.questions - 1  # a story stops once it has `questions`, adding <= that many
    rounds = max(MAX_ROUNDS, -(-MAX_STATEMENTS // k.statements))
    return make_world(
        k, text, (objects, says, asks, yes_no),
        named(story_objects=k.story_objects, steps=k.steps, shortest=float(k.shortest),
              statements=k.statements, questions=k.questions, rounds=rounds),
        max_lines=rounds * k.statements + q_max, a_max=1, s_max=k.steps, q_max=q_max,
        tags={"SIZEOBJ": names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa18-v1",
    "size reasoning: whether one object is bigger than (fits in) another, by a chain of "
    "comparisons",
    Qa18Knobs,
    story,
    build,
    presets={
        "release": {},
        "open-vocab": {"objects": len(ALL_OBJECTS)},
        "deep": {"steps": 3, "shortest": True},
    },
)
