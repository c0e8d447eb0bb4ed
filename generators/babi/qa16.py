"""bAbI task 16, basic induction: "Lily is a swan. Lily is white. Bernhard is a swan. What color
is Bernhard?" -> white.

Release shape (en v1.2): 5 actors (Lily, Bernhard, Greg, Julius, Brian), 4 species (swan, lion,
frog, rhino), 4 colours (gray, white, yellow, green). Every actor gets "X is a <species>." and,
except the queried one, "X is <colour>." (9 statements); one question, last, about the actor
without a colour, answered with the colour of a peer of the same species and supported by 3
lines: the actor's species, the peer's species, the peer's colour (in that order).

How the lines are ordered follows the release closely: the story is told one actor at a time
at random, each actor's species before its colour ("pick a random actor with something left to
tell, tell its next line"), and the queried actor is the one whose colour would have come last.
This reproduces where the release puts the queried actor's line (last in 31% of stories) and
how far a colour follows its species.

Each species has one colour (colours may repeat across species), so the answer is unique.
Release quirks not reproduced: in 12% of released stories the queried actor has 3 or 4 peers,
often of different colours (ambiguous; the cited peer is the last one mentioned), and colours
are drawn per actor, so peers of one species disagree in 33% of stories. Here the queried actor
has exactly ``peers`` peers (1 in the release mode, as in the 88% rest) and the other actors are
of other species; the mean question-to-support distance is then 7.15 lines (release 6.85; 7.07
over its stories with one peer).

Card: ``data_cards/babi/qa16.md``. Tests: ``tests/test_babi_reasoning.py``
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

ACTORS = ("Lily", "Bernhard", "Greg", "Julius", "Brian")
ALL_ACTORS = ACTORS + EXTRA_ACTORS
ANIMALS = ("swan", "lion", "frog", "rhino")
# none starts with a vowel ("is a ...") or is a colour word
EXTRA_ANIMALS = (
    "horse", "goose", "bear", "fox", "duck", "parrot", "tiger", "zebra", "wolf", "crow",
    "rabbit", "snake", "sheep", "hawk", "mouse", "cat",
)  # fmt: skip
ALL_ANIMALS = ANIMALS + EXTRA_ANIMALS
COLORS = ("gray", "white", "yellow", "green")
EXTRA_COLORS = ("red", "blue", "black", "brown", "pink", "orange", "purple", "silver")
ALL_COLORS = COLORS + EXTRA_COLORS


@dataclass(frozen=True)
class Qa16Knobs(BabiKnobs):
    actors: int = knob(len(ACTORS), lo=2, hi=len(ALL_ACTORS), doc="names a story draws from")
    story_actors: int = knob(
        5, lo=2, hi=len(ALL_ACTORS),
        doc="actors in a story (each gets a species line and, but the queried one, a colour)",
        harder="up", ladder=(2, 3, 4, 5),
        why="more species and colour facts to search for the two the induction needs",
    )  # fmt: skip
    animals: int = knob(len(ANIMALS), lo=2, hi=len(ALL_ANIMALS), doc="species")
    colors: int = knob(len(COLORS), lo=1, hi=len(ALL_COLORS), doc="colours (one per species)")
    peers: int = knob(
        1, lo=1, hi=len(ALL_ACTORS) - 1,
        doc="actors of the queried actor's species (the others are of other species)",
    )  # fmt: skip

    def check(self) -> None:
        super().check()
        self.require(self.story_actors <= self.actors, "story_actors must be <= actors")
        self.require(self.peers < self.story_actors, "peers must be < story_actors")


@njit
def story(state, p, pools, lines):
    actor_pool, animals, colors, says_is_a, says_is, asks = pools
    n_actors, n_peers = np.int64(p.story_actors), np.int64(p.peers)
    # the cast, in random order
    actors = actor_pool.copy()
    for i in range(n_actors):
        state, j = next_below(state, len(actors) - i)
        actors[i], actors[i + j] = actors[i + j], actors[i]
    # the telling: a random actor with a line left tells it (species, then colour)
    told = np.zeros(n_actors, np.int64)
    who = np.empty(2 * n_actors, np.int64)
    left = np.arange(n_actors)
    n_left = n_actors
    for t in range(2 * n_actors):
        state, k = next_below(state, n_left)
        a = left[k]
        who[t] = a
        told[a] += 1
        if told[a] == 2:
            n_left -= 1
            left[k] = left[n_left]
    x = who[2 * n_actors - 1]  # the queried actor: its colour line becomes the question
    # species: x and its peers share one, the others have any other; colours per species
    state, sx = next_below(state, len(animals))
    species = np.empty(n_actors, np.int64)
    others = np.empty(n_actors - 1, np.int64)
    c = 0
    for a in range(n_actors):
        if a != x:
            others[c] = a
            c += 1
    for i in range(n_actors - 1):  # the first n_peers of a shuffle of the others are peers
        state, j = next_below(state, n_actors - 1 - i)
        others[i], others[i + j] = others[i + j], others[i]
    species[x] = sx
    for i in range(n_actors - 1):
        if i < n_peers:
            species[others[i]] = sx
        else:
            state, s = next_below(state, len(animals) - 1)
            species[others[i]] = s + 1 if s >= sx else s
    color = np.empty(len(animals), np.int64)
    for s in range(len(animals)):
        state, color[s] = next_below(state, len(colors))
    species_line = np.empty(n_actors, np.int64)
    color_line = np.empty(n_actors, np.int64)
    n = 0
    seen = np.zeros(n_actors, np.int64)
    for t in range(2 * n_actors - 1):
        a = who[t]
        if seen[a] == 0:
            species_line[a] = n
            n = statement(lines, n, says_is_a[0], actors[a], animals[species[a]])
        else:
            color_line[a] = n
            n = statement(lines, n, says_is[0], actors[a], colors[color[species[a]]])
        seen[a] += 1
    # the peer cited is the one whose species was told last (the release's choice)
    peer = -1
    for i in range(n_peers):
        if peer < 0 or species_line[others[i]] > species_line[peer]:
            peer = others[i]
    if not question_ok(lines, n, min(species_line[x], species_line[peer]), p):
        return state, -1
    n = question(lines, n, asks[0], actors[x])
    add_answer(lines, n - 1, colors[color[sx]], 1)
    add_support(lines, n - 1, species_line[x], 1)
    add_support(lines, n - 1, species_line[peer], 1)
    add_support(lines, n - 1, color_line[peer], 1)
    return state, n


def build(k: Qa16Knobs):
    text = Text()
    actor_names = ALL_ACTORS[: k.actors]
    animal_names, color_names = ALL_ANIMALS[: k.animals], ALL_COLORS[: k.colors]
    actors = text.phrases(actor_names)
    animals, colors = text.phrases(animal_names), text.phrases(color_names)
    says_is_a = text.templates(["{0} is a {1}."])
    says_is = text.templates(["{0} is {1}."])
    asks = text.templates(["What color is {0}?"])
    return make_world(
        k, text, (actors, animals, colors, says_is_a, says_is, asks),
        named(story_actors=k.story_actors, peers=k.peers),
        max_lines=2 * k.story_actors, a_max=1, s_max=3, q_max=1,
        tags={"ACTOR": actor_names, "ANIMAL": animal_names, "COLOR": color_names},
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa16-v1",
    "basic induction: an actor's colour, from a peer of the same species",
    Qa16Knobs,
    story,
    build,
    presets={
        "release": {},
        "open-vocab": {
            "actors": len(ALL_ACTORS), "animals": len(ALL_ANIMALS), "colors": len(ALL_COLORS),
        },
        "crowd": {"story_actors": 10, "actors": 10, "peers": 3},
    },
)  # fmt: skip
