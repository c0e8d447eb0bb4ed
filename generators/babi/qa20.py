"""bAbI task 20, agents' motivations: "Sumit is hungry. Where will sumit go?" -> kitchen; "Sumit
went to the kitchen. Why did sumit go to the kitchen?" -> hungry; "Sumit got the apple there.
Why did sumit get the apple?" -> hungry.

Release shape (en v1.2): 4 actors (Jason, Antoine, Sumit, Yann), each with a script of three
statements: "X is <motivation>." (hungry, thirsty, bored, tired, drawn with replacement), "X
went to the <place>." (kitchen, kitchen, garden, bedroom) and "X got the <object> there."
(apple, milk, football, pajamas). Every statement is followed by its question ("Where will x
go?", "Why did x go to the <place>?", "Why did x get the <object>?"), supported by the
motivation's line. The scripts are interleaved one step at a time (a random actor with steps
left takes its next step), and an object can be got only once: an actor whose object someone
already holds skips that step. So a story has 10-12 statements (10.7 on average) and as many
questions, as released (the release never has fewer than 2 steps per actor).

The release writes names lower-case in questions: they are stored lower-case here and the first
letter of a line is capitalised when it is rendered. ``scripts`` > 1 gives each actor new
motivations after its first script, each leading to a place the actor has not been to in the
story (so "why did x go to the <place>?" has one answer); questions then need the latest
motivation. With the distance knobs, a question too close to its motivation's line is left out
(a story without any question is redrawn).

Card: ``data_cards/babi/qa20.md``. Tests: ``tests/test_babi_reasoning.py``
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
from ._world import GET_THERE, MOVE

ACTORS = ("jason", "antoine", "sumit", "yann")
ALL_ACTORS = ACTORS + tuple(n.lower() for n in EXTRA_ACTORS)
# (motivation, where it takes an actor, what the actor gets there)
MOTIVES = (
    ("hungry", "kitchen", "apple"),
    ("thirsty", "kitchen", "milk"),
    ("bored", "garden", "football"),
    ("tired", "bedroom", "pajamas"),
)
EXTRA_MOTIVES = (
    ("dirty", "bathroom", "soap"),
    ("cold", "hallway", "coat"),
    ("busy", "office", "laptop"),
    ("curious", "office", "book"),
    ("sick", "bathroom", "medicine"),
)
ALL_MOTIVES = MOTIVES + EXTRA_MOTIVES
MAX_SCRIPTS = 8


def places_of(motives) -> list[str]:
    return list(dict.fromkeys(place for _, place, _ in motives))


@dataclass(frozen=True)
class Qa20Knobs(BabiKnobs):
    axis_ladders = {"min_distance": (0, 2, 4, 6)}  # stories reach this far at the defaults

    actors: int = knob(len(ACTORS), lo=1, hi=len(ALL_ACTORS), doc="names a story draws from")
    story_actors: int = knob(
        4, lo=1, hi=len(ALL_ACTORS), doc="actors in a story",
        harder="up", ladder=(1, 2, 3, 4), why="more actors whose motives and moves interleave",
    )  # fmt: skip
    motivations: int = knob(
        len(MOTIVES), lo=1, hi=len(ALL_MOTIVES),
        doc="motivations, each with its place and object",
    )  # fmt: skip
    scripts: int = knob(
        1, lo=1, hi=MAX_SCRIPTS,
        doc="motivations per actor in turn (each to a place it has not been to yet)",
        harder="up", ladder=(1, 2, 3),
        why="more motivations per actor: the one a question needs is among older ones",
    )  # fmt: skip

    def check(self) -> None:
        super().check()
        self.require(self.story_actors <= self.actors, "story_actors must be <= actors")
        places = len(places_of(ALL_MOTIVES[: self.motivations]))
        self.require(
            self.scripts <= places,
            f"scripts must be <= the places the motivations lead to ({places})",
        )


@njit
def story(state, p, pools, lines):
    actor_pool, motive, place_of, object_of, place_id, is_, moves, gets, asks = pools
    n_actors, n_scripts = np.int64(p.story_actors), np.int64(p.scripts)
    n_motives = len(motive)
    actors = actor_pool.copy()
    for i in range(n_actors):
        state, j = next_below(state, len(actors) - i)
        actors[i], actors[i + j] = actors[i + j], actors[i]
    step = np.zeros(n_actors, np.int64)  # 3 per script: motivation, go, get
    current = np.full(n_actors, -1, np.int64)  # motivation now
    reason_line = np.full(n_actors, -1, np.int64)  # the line that told it
    been = np.zeros((n_actors, int(place_id.max()) + 1), np.bool_)
    held = np.zeros(n_motives, np.bool_)  # whose object someone has got
    options = np.empty(n_motives, np.int64)
    left = np.arange(n_actors)
    n_left = n_actors
    n = 0
    asked = 0
    while n_left > 0:
        state, k = next_below(state, n_left)
        a = left[k]
        s = step[a] % 3
        step[a] += 1
        if s == 0:
            # a motivation leading to a place this actor has not been to
            c = 0
            for m in range(n_motives):
                if not been[a, place_id[m]]:
                    options[c] = m
                    c += 1
            state, r = next_below(state, c)
            m = options[r]
            current[a] = m
            reason_line[a] = n
            n = statement(lines, n, is_[0], actors[a], motive[m])
            if question_ok(lines, n, reason_line[a], p):
                n = question(lines, n, asks[0], actors[a])
                add_answer(lines, n - 1, place_of[m], 1)
                add_support(lines, n - 1, reason_line[a], 1)
                asked += 1
        elif s == 1:
            m = current[a]
            been[a, place_id[m]] = True
            state, t = next_below(state, len(moves))
            n = statement(lines, n, moves[t], actors[a], place_of[m])
            if question_ok(lines, n, reason_line[a], p):
                n = question(lines, n, asks[1], actors[a], place_of[m])
                add_answer(lines, n - 1, motive[m], 1)
                add_support(lines, n - 1, reason_line[a], 1)
                asked += 1
        else:
            m = current[a]
            if not held[m]:  # else someone has the object already: the step is skipped
                held[m] = True
                state, t = next_below(state, len(gets))
                n = statement(lines, n, gets[t], actors[a], object_of[m])
                if question_ok(lines, n, reason_line[a], p):
                    n = question(lines, n, asks[2], actors[a], object_of[m])
                    add_answer(lines, n - 1, motive[m], 1)
                    add_support(lines, n - 1, reason_line[a], 1)
                    asked += 1
        if step[a] == 3 * n_scripts:
            n_left -= 1
            left[k] = left[n_left]
    if asked == 0:
        return state, -1
    return state, n


def build(k: Qa20Knobs):
    text = Text()
    actor_names = ALL_ACTORS[: k.actors]
    motives = ALL_MOTIVES[: k.motivations]
    places = places_of(motives)
    actors = text.phrases(actor_names)
    motive = text.phrases([m for m, _, _ in motives])
    place_of = text.phrases([pl for _, pl, _ in motives])
    object_of = text.phrases([o for _, _, o in motives])
    place_id = np.asarray([places.index(pl) for _, pl, _ in motives], np.int32)
    is_ = text.templates(["{0} is {1}."])
    moves = text.templates(MOVE)
    gets = text.templates(GET_THERE)
    asks = text.templates(
        ["Where will {0} go?", "Why did {0} go to the {1}?", "Why did {0} get the {1}?"]
    )
    steps = 3 * k.story_actors * k.scripts
    return make_world(
        k, text, (actors, motive, place_of, object_of, place_id, is_, moves, gets, asks),
        named(story_actors=k.story_actors, scripts=k.scripts),
        max_lines=2 * steps, a_max=1, s_max=1, q_max=steps,
        tags={
            "ACTOR": actor_names, "MOTIV": tuple(m for m, _, _ in motives), "LOC": places,
            "OBJ": tuple(o for _, _, o in motives),
        },
    )  # fmt: skip


SPEC = babi_task(
    "babi/qa20-v1",
    "agents' motivations: where an actor will go and why it went or got something",
    Qa20Knobs,
    story,
    build,
    presets={
        "release": {},
        "open-vocab": {"actors": len(ALL_ACTORS), "motivations": len(ALL_MOTIVES)},
        "scripts-3": {"scripts": 3},
    },
)  # fmt: skip
