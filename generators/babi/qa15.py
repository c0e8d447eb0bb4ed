"""bAbI task 15, basic deduction: "Sheep are afraid of wolves. Gertrude is a sheep. What is
gertrude afraid of?" -> wolf.

Release shape (en v1.2): 4 species (mouse, sheep, wolf, cat), each afraid of a random *other*
species; 4 actors, each of a random species (with replacement: actors often share one). The 8
statements ("Mice are afraid of wolves." for every species, "Gertrude is a mouse." for every
actor) come in random order, except that a species' fear is always told before any actor of
that species (true of all 250 released stories); then 4 questions, each about a random actor
(with replacement), answered with the feared species in the singular and supported by the actor's
line then the fear's line ("2 1", the order of the reasoning chain).

The release writes the name lower-case in questions ("What is gertrude afraid of?"): names are
stored lower-case here, and the first letter of a line is capitalised when it is rendered, so
"Gertrude is a sheep." and "What is gertrude afraid of?" read exactly as released.

The order is a uniform random order of the statements subject to the fear-first rule (the
release's mean question-to-earliest-support distance, 8.02 lines, is what this gives: 8.08).

Card: ``data_cards/babi/qa15.md``. Tests: ``tests/test_babi_reasoning.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from ._entities import EXTRA_ACTORS
from ._story import add_answer, add_support, named, question, question_ok, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text

# The release's actors, lower-case as its questions write them (see the module docstring).
ACTORS = ("gertrude", "winona", "jessica", "emily")
ALL_ACTORS = ACTORS + tuple(n.lower() for n in EXTRA_ACTORS)
# (singular, plural): the release's species, then more for larger pools. None starts with a
# vowel ("is a ..." must stay grammatical) or names a species of task 16.
ANIMALS = (("mouse", "mice"), ("sheep", "sheep"), ("wolf", "wolves"), ("cat", "cats"))
EXTRA_ANIMALS = (
    ("fox", "foxes"), ("goose", "geese"), ("horse", "horses"), ("rabbit", "rabbits"),
    ("bear", "bears"), ("dog", "dogs"), ("hawk", "hawks"), ("snake", "snakes"), ("deer", "deer"),
    ("tiger", "tigers"), ("goat", "goats"), ("pig", "pigs"), ("rat", "rats"), ("crow", "crows"),
)  # fmt: skip
ALL_ANIMALS = ANIMALS + EXTRA_ANIMALS


@dataclass(frozen=True)
class Qa15Knobs(BabiKnobs):
    actors: int = knob(len(ACTORS), lo=1, hi=len(ALL_ACTORS), doc="names a story draws from")
    story_actors: int = knob(
        4, lo=1, hi=len(ALL_ACTORS), doc="actors in a story",
        harder="up", ladder=(1, 2, 3, 4), why="more actors, each a fact to find among the others",
    )  # fmt: skip
    animals: int = knob(len(ANIMALS), lo=2, hi=len(ALL_ANIMALS), doc="species a story draws from")
    story_animals: int = knob(
        4, lo=2, hi=len(ALL_ANIMALS),
        doc="species in a story; each is afraid of another one and gets a statement saying so",
        # at most animals (4 by default)
        harder="up", ladder=(2, 3, 4), why="more fear statements to search for the one to chain",
    )  # fmt: skip
    questions: int = knob(4, lo=1, hi=1000, doc="questions per story (actors drawn at random)")

    def check(self) -> None:
        super().check()
        self.require(self.story_actors <= self.actors, "story_actors must be <= actors")
        self.require(self.story_animals <= self.animals, "story_animals must be <= animals")


@njit
def draw_subset(state, pool, k):
    """``k`` distinct entries of ``pool`` in random order (a partial Fisher-Yates shuffle)."""
    out = pool.copy()
    for i in range(k):
        state, j = next_below(state, len(out) - i)
        out[i], out[i + j] = out[i + j], out[i]
    return state, out[:k]


@njit
def story(state, p, pools, lines):
    actor_pool, singular_pool, plural_pool, says_fear, says_is, asks = pools
    n_questions = np.int64(p.questions)
    n_actors, n_species = np.int64(p.story_actors), np.int64(p.story_animals)
    state, actors = draw_subset(state, actor_pool, n_actors)
    state, which = draw_subset(state, np.arange(len(singular_pool)), n_species)
    singular, plural = singular_pool[which], plural_pool[which]
    fear = np.empty(n_species, np.int64)
    for s in range(n_species):
        state, t = next_below(state, n_species - 1)
        fear[s] = t + 1 if t >= s else t  # any species but s itself
    species = np.empty(n_actors, np.int64)
    for a in range(n_actors):
        state, species[a] = next_below(state, n_species)
    # items 0 .. n_species-1 are the fears, then the actors; a uniform shuffle, then in each
    # species' group (its fear and its actors) the fear takes the group's first position: every
    # group keeps its set of positions, so this is uniform over the orders with fears first
    n_items = n_species + n_actors
    order = np.arange(n_items)
    for i in range(n_items - 1, 0, -1):
        state, j = next_below(state, i + 1)
        order[i], order[j] = order[j], order[i]
    first = np.full(n_species, n_items, np.int64)
    for pos in range(n_items):
        item = order[pos]
        s = item if item < n_species else species[item - n_species]
        first[s] = min(first[s], pos)
    where = np.empty(n_items, np.int64)
    for pos in range(n_items):
        where[order[pos]] = pos
    for s in range(n_species):
        pos = where[s]
        if first[s] < pos:
            other = order[first[s]]
            order[first[s]], order[pos] = s, other
            where[s], where[other] = first[s], pos
    n = 0
    for pos in range(n_items):
        item = order[pos]
        if item < n_species:
            n = statement(lines, n, says_fear[0], plural[item], plural[fear[item]])
        else:
            a = item - n_species
            n = statement(lines, n, says_is[0], actors[a], singular[species[a]])
    candidates = np.empty(n_actors, np.int64)
    for _ in range(n_questions):
        c = 0
        for a in range(n_actors):
            if question_ok(lines, n, where[species[a]], p):
                candidates[c] = a
                c += 1
        if c == 0:
            return state, -1
        state, k = next_below(state, c)
        a = candidates[k]
        n = question(lines, n, asks[0], actors[a])
        add_answer(lines, n - 1, singular[fear[species[a]]], 1)
        add_support(lines, n - 1, where[n_species + a], 1)  # "Gertrude is a mouse." ...
        add_support(lines, n - 1, where[species[a]], 1)  # ... "Mice are afraid of wolves."
    return state, n


def build(k: Qa15Knobs):
    text = Text()
    actor_names = ALL_ACTORS[: k.actors]
    animals = ALL_ANIMALS[: k.animals]
    actors = text.phrases(actor_names)
    singular = text.phrases([s for s, _ in animals])
    plural = text.phrases([p for _, p in animals])
    says_fear = text.templates(["{0} are afraid of {1}."])
    says_is = text.templates(["{0} is a {1}."])
    asks = text.templates(["What is {0} afraid of?"])
    statements = k.story_animals + k.story_actors
    return make_world(
        k, text, (actors, singular, plural, says_fear, says_is, asks),
        named(questions=k.questions, story_actors=k.story_actors,
              story_animals=k.story_animals),
        max_lines=statements + k.questions, a_max=1, s_max=2, q_max=k.questions,
        tags={"ACTOR": actor_names, "ANIMAL": tuple(dict.fromkeys(w for a in animals for w in a))},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa15-v1",
    "basic deduction: what an actor is afraid of, from its species and what that species fears",
    Qa15Knobs,
    story,
    build,
    presets={
        "release": {},
        "open-vocab": {"actors": len(ALL_ACTORS), "animals": len(ALL_ANIMALS)},
    },
)
