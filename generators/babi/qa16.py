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

``babi/qa16-v2`` (issue 13) gives stories the release's shapes. In the release's training file
the queried actor has 1 peer (881 stories), 3 (104) or 4 (15), never 2; colours are told per
actor, so actors of one species may disagree: in 86 stories the queried actor's peers name
different colours, and the answer is then the colour of the peer whose species was told last
(86 of 86; it is the cited peer in all 1,000). v2 draws each story's shape from the release's
own counts (``SHAPES``: how the 5 actors fall into species, and how the colours of each species
agree), species and colours at random within it (colours of different species independently:
some colour is shared by two species in 59.5% of 10,000 generated stories, 57.1% of the
release's), and answers as the release does. Knob ``peer_mix=false`` keeps v1's stories.

``babi/qa16-v1`` (kept generable, superseded): each species has one colour (colours may repeat
across species), so the answer is unique; the queried actor has exactly ``peers`` peers (1 in
the release mode) and the other actors are of other species; the mean question-to-support
distance is then 7.15 lines (release 6.85; 7.07 over its stories with one peer).

Card: ``data_cards/babi/qa16.md``. Tests: ``tests/test_babi_reasoning.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below

from .._kernels import njit
from . import _story
from ._entities import EXTRA_ACTORS
from ._story import add_answer, add_support, named, question, question_ok, statement
from ._task import BabiKnobs, babi_task, knob_record, make_world
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

# The release's story shapes (en v1.2 training file, 1,000 stories of 5 actors): how many
# stories, then how the colours of the queried actor's peers agree (counts of actors per
# colour: (2, 1) is two peers of one colour and one of another), then the same for each other
# species of the story. E.g. 416 stories: the queried actor with one peer, a species of two
# actors of one colour, a species of one.
SHAPES = (
    (416, (1,), ((2,), (1,))),
    (195, (1,), ((1, 1), (1,))),
    (187, (1,), ((1,), (1,), (1,))),
    (61, (2, 1), ((1,),)),
    (40, (1,), ((2, 1),)),
    (34, (1,), ((3,),)),
    (30, (3,), ((1,),)),
    (13, (1, 1, 1), ((1,),)),
    (9, (1,), ((1, 1, 1),)),
    (5, (2, 2), ()),
    (5, (3, 1), ()),
    (3, (4,), ()),
    (2, (2, 1, 1), ()),
)
SHAPE_ACTORS = 5  # every shape has 5 actors
SHAPE_SPECIES = max(1 + len(other) for _, _, other in SHAPES)  # 4
SHAPE_COLORS = max(len(g) for _, x, other in SHAPES for g in (x, *other))  # 3


def shape_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``SHAPES`` for the story function: cumulative story counts, and per shape and actor slot
    (slot 0 the queried actor, then its peers, then the other species' actors) the species
    group (0: the queried actor's) and colour class within it (-1: no colour line)."""
    cumulative = np.cumsum([count for count, _, _ in SHAPES])
    group = np.empty((len(SHAPES), SHAPE_ACTORS), np.int64)
    colour = np.empty((len(SHAPES), SHAPE_ACTORS), np.int64)
    for i, (_, x, other) in enumerate(SHAPES):
        slots = [(0, -1)]
        for g, counts in enumerate((x, *other)):
            slots += [(g, c) for c, k in enumerate(counts) for _ in range(k)]
        assert len(slots) == SHAPE_ACTORS, SHAPES[i]
        group[i], colour[i] = zip(*slots, strict=True)
    return cumulative, group.ravel(), colour.ravel()


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
def cast_and_telling(state, actor_pool, n_actors):
    """``(state, actors, who)``: the cast, the pool in random order (its first ``n_actors``),
    and the telling, ``who[t]`` the actor of line t: a random actor with a line left tells it
    (species, then colour), so the last line is some actor's colour."""
    actors = actor_pool.copy()
    for i in range(n_actors):
        state, j = next_below(state, len(actors) - i)
        actors[i], actors[i + j] = actors[i + j], actors[i]
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
    return state, actors, who


@njit
def story(state, p, pools, lines):
    actor_pool, animals, colors, says_is_a, says_is, asks = pools
    n_actors, n_peers = np.int64(p.story_actors), np.int64(p.peers)
    state, actors, who = cast_and_telling(state, actor_pool, n_actors)
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


@dataclass(frozen=True)
class Qa16V2Knobs(Qa16Knobs):
    # the release's shapes have 5 actors: the number of actors is an axis of peer_mix=false only
    axis_ladders = {"story_actors": ()}

    peers: int = knob(
        1, lo=1, hi=len(ALL_ACTORS) - 1,
        doc="with peer_mix=false: actors of the queried actor's species (the others are of "
        "other species)",
    )  # fmt: skip
    peer_mix: bool = knob(
        True,
        doc="the release's story shapes: 1, 3 or 4 peers of the queried actor's species, their "
        "colours drawn per actor so that they may disagree (the colour of the peer whose "
        "species was told last answers); false: babi/qa16-v1's stories",
        harder="up", ladder=(False, True),
        why="more peers, whose colours may disagree: only the peer told last answers",
    )  # fmt: skip

    def check(self) -> None:
        super().check()
        if self.peer_mix:
            self.require(
                self.story_actors == SHAPE_ACTORS,
                f"peer_mix=true needs story_actors={SHAPE_ACTORS} (the release's stories; "
                "set peer_mix=false for other sizes)",
            )
            self.require(
                self.animals >= SHAPE_SPECIES and self.colors >= SHAPE_COLORS,
                f"peer_mix=true needs animals >= {SHAPE_SPECIES} and colors >= {SHAPE_COLORS} "
                "(the release's story shapes use that many)",
            )
            self.require(self.peers == 1, "peers applies with peer_mix=false only")


@njit
def story_mixed(state, p, pools, lines):
    """A story of the release's shapes (``SHAPES``), told as ``story`` tells one."""
    actor_pool, animals, colors, says_is_a, says_is, asks, cumulative, slot_group, slot_colour = (
        pools
    )
    n_actors = np.int64(p.story_actors)
    state, actors, who = cast_and_telling(state, actor_pool, n_actors)
    x = who[2 * n_actors - 1]  # the queried actor: its colour line becomes the question
    # the story's shape, as often as in the release
    state, r = next_below(state, cumulative[len(cumulative) - 1])
    shape = 0
    while r >= cumulative[shape]:
        shape += 1
    # slots: the queried actor first, the others in random order
    slot = np.empty(n_actors, np.int64)
    others = np.empty(n_actors - 1, np.int64)
    c = 0
    for a in range(n_actors):
        if a != x:
            others[c] = a
            c += 1
    for i in range(n_actors - 1):
        state, j = next_below(state, n_actors - 1 - i)
        others[i], others[i + j] = others[i + j], others[i]
    slot[x] = 0
    for i in range(n_actors - 1):
        slot[others[i]] = i + 1
    # a species per group, all different; colours per class of a group, different in a group
    # and drawn independently across groups
    kinds = np.arange(len(animals))
    for i in range(len(animals)):
        state, j = next_below(state, len(animals) - i)
        kinds[i], kinds[i + j] = kinds[i + j], kinds[i]
    hues = np.empty((n_actors, len(colors)), np.int64)
    for g in range(n_actors):
        for i in range(len(colors)):
            hues[g, i] = i
        for i in range(3):
            state, j = next_below(state, len(colors) - i)
            hues[g, i], hues[g, i + j] = hues[g, i + j], hues[g, i]
    species = np.empty(n_actors, np.int64)
    color = np.empty(n_actors, np.int64)
    for a in range(n_actors):
        g = slot_group[shape * n_actors + slot[a]]
        species[a] = kinds[g]
        k = slot_colour[shape * n_actors + slot[a]]
        color[a] = hues[g, k] if k >= 0 else -1
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
            n = statement(lines, n, says_is[0], actors[a], colors[color[a]])
        seen[a] += 1
    # the peer whose species was told last answers (the release's rule, 1,000 of 1,000)
    peer = -1
    for a in range(n_actors):
        is_peer = a != x and species[a] == species[x]
        if is_peer and (peer < 0 or species_line[a] > species_line[peer]):
            peer = a
    if not question_ok(lines, n, min(species_line[x], species_line[peer]), p):
        return state, -1
    n = question(lines, n, asks[0], actors[x])
    add_answer(lines, n - 1, colors[color[peer]], 1)
    add_support(lines, n - 1, species_line[x], 1)
    add_support(lines, n - 1, species_line[peer], 1)
    add_support(lines, n - 1, color_line[peer], 1)
    return state, n


@njit
def story_v2(state, p, pools, lines):
    if p.peer_mix > 0:
        return story_mixed(state, p, pools, lines)
    return story(state, p, (pools[0], pools[1], pools[2], pools[3], pools[4], pools[5]), lines)


def build_v2(k: Qa16V2Knobs):
    world = build(k)
    mixed = dataclasses.replace(
        world,
        pools=world.pools + tuple(np.ascontiguousarray(a, np.int32) for a in shape_tables()),
        params=knob_record(
            {name: world.params[name] for name in _story.COMMON_KNOBS},
            named(story_actors=k.story_actors, peers=k.peers, peer_mix=float(k.peer_mix)),
        ),
    )
    return mixed


PRESETS = {
    "release": {},
    "open-vocab": {
        "actors": len(ALL_ACTORS), "animals": len(ALL_ANIMALS), "colors": len(ALL_COLORS),
    },
}  # fmt: skip

SPEC_V2 = babi_task(
    "babi/qa16-v2",
    "basic induction: an actor's colour, from the peers of its species (the last told decides)",
    Qa16V2Knobs,
    story_v2,
    build_v2,
    presets={**PRESETS, "crowd": {"story_actors": 10, "actors": 10, "peers": 3, "peer_mix": False}},
)

SPEC = babi_task(
    "babi/qa16-v1",
    "basic induction: an actor's colour, from a peer of the same species",
    Qa16Knobs,
    story,
    build,
    presets={**PRESETS, "crowd": {"story_actors": 10, "actors": 10, "peers": 3}},
    superseded_by="babi/qa16-v2",
    superseded_why="gives the queried actor exactly one peer and each species one colour; the "
    "release has 1, 3 or 4 peers whose colours may disagree (8.6% of questions)",
)
