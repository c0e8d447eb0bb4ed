"""Simulated-world QA of Memory Networks: "Joe picked up the milk. ... Where is the milk?"

Weston, Chopra & Bordes (2014), "Memory Networks", arXiv:1410.3916, sec. 5.2 (survey 2.4 and
Table 2): 4 characters, 3 objects and 5 rooms; characters move around and pick up and drop
objects; each action becomes a sentence, and questions ask where a character or an object is.
The difficulty is how far back the entity asked about was last mentioned (1 or 5 in the paper);
the paper reports one question set about actors only and one about actors and objects.

What the paper fixes and what is ours (the paper gives no generator and no released data):

- Names. Joe and Fred, the milk, and the kitchen, office and bathroom are the paper's (its
  Figure 1); Bill and Dan, the football and the apple, and the garden and bedroom complete the
  4 / 3 / 5 with our choice. Larger pools continue with ``_entities``'s extra names.
- Sentences: the basic world's verbs (``_world``: "went to", "travelled to", "picked up",
  "left", ...) or, with ``paraphrases=false``, one per action. Questions: "Where is Joe?" and
  "Where is the milk?". Answers are rooms.
- ``difficulty`` is exact: the statement mentioning the entity asked about for the last time
  is exactly ``difficulty`` statements back (1: the statement just before the question).
  The statement ``difficulty`` steps before a question decides what it asks: about that
  statement's actor, or (``questions=actor-object``, with chance ``object_share``) about its
  object, that statement being then a pick-up or drop when anyone can make one. Asking about
  the object only when the statement happens to have one would give few object questions, as
  stories start with moves (about 18 % at difficulty 1), hence the knob. The entity is then
  kept out of the statements up to the question (anyone else may act, and whoever holds it
  may carry it elsewhere).
- Supporting facts: for an actor, its last move; for an object, the statement where its holder
  took it (or dropped it), then the move that placed that actor in the room (the qa2 order).
- A story is ``statements_per_question`` statements before each question, except that the
  first question comes after ``max(statements_per_question, difficulty)``, so that it too can
  reach back ``difficulty`` statements.

World rules: objects start in random rooms (unseen); an actor's first action is a move; a move
goes to another room; an actor picks up only an object lying in its own room and held by no
one, and drops only what it holds; it may hold several.

``world/qa-v2`` reads the difficulty as the paper does. Weston et al. (2014, sec. 5.2): with a
limit of 5, the entity asked about was last mentioned *within* the last 5 statements, at a
random point between 1 and 5 back; ``world/qa-v1`` put it exactly ``difficulty`` statements
back, which makes every question at difficulty 5 point to the same place (the fifth statement
back) and lets weaker models score far above the paper (``data_cards/world/qa.md``). v2 draws
each question's distance uniformly from 1..``difficulty``; ``exact=true`` restores v1's
reading. Two questions whose distances reach back to the same statement ask about the same
entity (that statement's actor, or its object). v1 is kept as it was (its ids mean the same
bytes); the same story function makes both, v1 with the distance fixed.

Card: ``data_cards/world/qa.md``. Tests: ``tests/test_world_qa.py``. Benchmark:
``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from ._entities import ALL_ACTORS, ALL_OBJECTS, ALL_ROOMS, pool
from ._story import add_answer, add_support, named, question, statement
from ._task import BabiKnobs, babi_task, make_world
from ._text import Text
from ._world import DROP, GET, MOVE

SOURCE = (
    "Weston, Chopra & Bordes (2014), Memory Networks, arXiv:1410.3916, sec. 5.2 (simulated "
    "world QA: 4 characters, 3 objects, 5 rooms; difficulty 1 and 5; Table 2)"
)

# The paper's world first (Figure 1 names Joe, Fred, the milk, kitchen, office, bathroom).
WORLD_ACTORS = ("Joe", "Fred", "Bill", "Dan")
WORLD_OBJECTS = ("milk", "football", "apple")
WORLD_ROOMS = ("kitchen", "office", "bathroom", "garden", "bedroom")
ALL_WORLD_ACTORS = pool(WORLD_ACTORS, ALL_ACTORS, 10_000)
ALL_WORLD_OBJECTS = pool(WORLD_OBJECTS, ALL_OBJECTS, 10_000)
ALL_WORLD_ROOMS = pool(WORLD_ROOMS, ALL_ROOMS, 10_000)

# one sentence per action when paraphrases are off
PLAIN_MOVE = "{0} went to the {1}."
PLAIN_GET = "{0} picked up the {1}."
PLAIN_DROP = "{0} dropped the {1}."
QUESTION_SETS = ("actor", "actor-object")


def busy_windows(difficulty: int, per_question: int) -> int:
    """Entities that must stay unmentioned at once, at most: each pending question keeps its
    entity quiet for ``difficulty - 1`` statements, and questions are ``per_question`` apart."""
    return math.ceil((difficulty - 1) / per_question)


@dataclass(frozen=True)
class WorldQaKnobs(BabiKnobs):
    axis_ladders = {"min_distance": (0, 1)}  # stories reach this far at the defaults

    actors: int = knob(len(WORLD_ACTORS), lo=1, hi=len(ALL_WORLD_ACTORS), doc="characters")
    objects: int = knob(
        len(WORLD_OBJECTS), lo=0, hi=len(ALL_WORLD_OBJECTS), doc="objects they pick up and drop"
    )
    rooms: int = knob(
        len(WORLD_ROOMS), lo=2, hi=len(ALL_WORLD_ROOMS), doc="rooms they move between"
    )
    difficulty: int = knob(
        1, lo=1, hi=1000,
        doc="the entity asked about was last mentioned exactly this many statements before the "
        "question (1: in the statement just before it; the paper uses 1 and 5)",
        # actors must be >= 6 from difficulty 10 on (see check)
        harder="up", ladder=(1, 2, 3, 5), why="the entity asked about was mentioned longer ago",
    )  # fmt: skip
    questions: str = knob(
        "actor", choices=QUESTION_SETS,
        doc="question set: 'actor' (where is a character) or 'actor-object' (also where is an "
        "object; see object_share)",
    )  # fmt: skip
    questions_per_story: int = knob(5, lo=1, hi=1000, doc="questions per story")
    statements_per_question: int = knob(
        2, lo=1, hi=10_000,
        doc="statements before each question (before the first: at least difficulty)",
        harder="up", ladder=(1, 2, 4, 8, 16),
        why="more statements between questions: more facts to hold, most of them distractors",
    )  # fmt: skip
    move_share: float = knob(
        0.5, lo=0.0, hi=1.0,
        doc="chance that an actor who could pick up or drop something moves instead",
    )  # fmt: skip
    object_share: float = knob(
        0.5, lo=0.0, hi=1.0,
        doc="questions=actor-object: chance that a question is about an object (when someone "
        "can pick up or drop one at the statement it reaches back to)",
    )  # fmt: skip
    paraphrases: bool = knob(
        True, doc="several verbs per action (went / travelled / journeyed ...) or one each"
    )

    def check(self) -> None:
        super().check()
        self.require(
            self.questions != "actor-object" or self.objects >= 1,
            "questions=actor-object needs objects >= 1",
        )
        need = busy_windows(self.difficulty, self.statements_per_question) + 1
        self.require(
            self.actors >= need,
            f"actors must be >= {need} for difficulty={self.difficulty} with "
            f"statements_per_question={self.statements_per_question} (that many entities must "
            "stay unmentioned at once, and every statement needs an actor who may act)",
        )


@dataclass(frozen=True)
class WorldQaV2Knobs(WorldQaKnobs):
    difficulty: int = knob(
        1, lo=1, hi=1000,
        doc="the entity asked about was last mentioned within this many statements before the "
        "question, at a distance drawn uniformly from 1..difficulty (the paper's reading; the "
        "paper uses 1 and 5); with exact=true, exactly this many",
        # actors must be >= 6 from difficulty 10 on (see check)
        harder="up", ladder=(1, 3, 5, 7),
        why="the entity asked about may have been mentioned longer ago, and how long ago varies",
    )  # fmt: skip
    exact: bool = knob(
        False,
        doc="difficulty is the exact distance of every question (world/qa-v1's reading) rather "
        "than the largest",
    )


# statement kinds
_MOVE, _GET, _DROP = 0, 1, 2


@njit
def story(state, p, pools, lines):
    actors, rooms, objects, moves, gets, drops, asks = pools
    n_questions = np.int64(p.questions_per_story)
    per_question = np.int64(p.statements_per_question)
    difficulty = np.int64(p.difficulty)
    exact = p.exact > 0
    ask_objects = p.ask_objects > 0
    move_share = p.move_share
    object_share = p.object_share
    n_actors, n_objects, n_rooms = len(actors), len(objects), len(rooms)
    a_max = 1

    room_of = np.full(n_actors, -1, np.int64)  # -1: not yet placed by a move
    last_move = np.full(n_actors, -1, np.int64)  # line of the actor's latest move
    holder = np.full(n_objects, -1, np.int64)  # -1: lying in obj_room
    obj_room = np.empty(n_objects, np.int64)
    obj_line = np.full(n_objects, -1, np.int64)  # line of the latest get or drop of the object
    drop_move = np.full(n_objects, -1, np.int64)  # the dropper's move that placed the drop
    for o in range(n_objects):
        state, r = next_below(state, n_rooms)
        obj_room[o] = r
    # entity e (actors, then objects) must not be mentioned before statement quiet_until[e]:
    # it is the subject of a pending question whose difficulty is counted from its last mention
    quiet_until = np.zeros(n_actors + n_objects, np.int64)
    target = np.full(n_questions, -1, np.int64)
    free = np.empty(n_actors, np.int64)
    options = np.empty(n_objects + 1, np.int64)
    pairs = np.empty(n_actors * n_objects + 1, np.int64)

    first = max(per_question, difficulty)  # statements before the first question
    n_statements = first + (n_questions - 1) * per_question
    # the statement each question reaches back to, which picks what it asks: `difficulty`
    # statements before it (exact: world/qa-v1), or a distance drawn uniformly from
    # 1..difficulty (the paper's "within the last k"; no draw in exact mode, so v1's stream
    # is what it was)
    reach = np.empty(n_questions, np.int64)
    for q in range(n_questions):
        d = difficulty
        if not exact:
            state, r = next_below(state, difficulty)
            d = r + 1
        reach[q] = first + q * per_question - d
    n = 0
    asked = 0
    for s in range(n_statements):
        # questions asked after statement s + 1 .. s + difficulty may reach back to s
        q_lo = 0 if s < first else (s - first) // per_question + 1
        q_hi = min(n_questions - 1, (s + difficulty - first) // per_question)
        picks = False
        for q in range(q_lo, q_hi + 1):
            if reach[q] == s:
                picks = True
        want_object = False
        if picks and ask_objects:
            state, x = next_float(state)
            want_object = x < object_share
        # actors who may be mentioned now (the knobs guarantee one: see busy_windows)
        c = 0
        for a in range(n_actors):
            if quiet_until[a] <= s:
                free[c] = a
                c += 1
        if c == 0:
            return state, -1
        a = -1
        kind = _MOVE
        obj = -1
        if want_object:
            # any free actor's get or drop of an object that may be mentioned
            m = 0
            for i in range(c):
                b = free[i]
                if room_of[b] < 0:
                    continue
                for o in range(n_objects):
                    if quiet_until[n_actors + o] <= s and (
                        holder[o] == b or (holder[o] < 0 and obj_room[o] == room_of[b])
                    ):
                        pairs[m] = b * n_objects + o
                        m += 1
            if m > 0:
                state, k = next_below(state, m)
                a, obj = pairs[k] // n_objects, pairs[k] % n_objects
                kind = _DROP if holder[obj] == a else _GET
            else:
                want_object = False  # nothing to pick up or drop here: ask about an actor
        if a < 0:
            state, k = next_below(state, c)
            a = free[k]
            if room_of[a] >= 0:
                state, x = next_float(state)
                if x >= move_share:
                    m = 0
                    for o in range(n_objects):
                        if quiet_until[n_actors + o] > s:
                            continue
                        if holder[o] == a:
                            options[m] = n_objects + o
                            m += 1
                        elif holder[o] < 0 and obj_room[o] == room_of[a]:
                            options[m] = o
                            m += 1
                    if m > 0:
                        state, k = next_below(state, m)
                        pick = options[k]
                        kind = _DROP if pick >= n_objects else _GET
                        obj = pick - n_objects if pick >= n_objects else pick
        if kind == _MOVE:
            here = room_of[a]
            state, r = next_below(state, n_rooms - 1 if here >= 0 else n_rooms)
            if here >= 0 and r >= here:
                r += 1
            room_of[a] = r
            last_move[a] = n
            state, t = next_below(state, len(moves))
            n = statement(lines, n, moves[t], actors[a], rooms[r])
        elif kind == _GET:
            holder[obj] = a
            obj_line[obj] = n
            state, t = next_below(state, len(gets))
            n = statement(lines, n, gets[t], actors[a], objects[obj])
        else:
            holder[obj] = -1
            obj_room[obj] = room_of[a]
            obj_line[obj] = n
            drop_move[obj] = last_move[a]
            state, t = next_below(state, len(drops))
            n = statement(lines, n, drops[t], actors[a], objects[obj])

        if picks:
            # questions reaching back to the same statement ask about the same entity, which
            # stays unmentioned until the last of them is asked
            e = n_actors + obj if want_object else a
            for q in range(q_lo, q_hi + 1):
                if reach[q] == s:
                    target[q] = e
                    quiet_until[e] = max(quiet_until[e], first + q * per_question)

        if s + 1 == first + asked * per_question:
            e = target[asked]
            if e < n_actors:
                n = question(lines, n, asks[0], actors[e])
                add_answer(lines, n - 1, rooms[room_of[e]], a_max)
                add_support(lines, n - 1, last_move[e], a_max)
            else:
                o = e - n_actors
                n = question(lines, n, asks[1], objects[o])
                h = holder[o]
                if h >= 0:
                    add_answer(lines, n - 1, rooms[room_of[h]], a_max)
                    add_support(lines, n - 1, obj_line[o], a_max)
                    add_support(lines, n - 1, last_move[h], a_max)
                else:
                    add_answer(lines, n - 1, rooms[obj_room[o]], a_max)
                    add_support(lines, n - 1, obj_line[o], a_max)
                    add_support(lines, n - 1, drop_move[o], a_max)
            asked += 1
    return state, n


def build(k: WorldQaKnobs):
    text = Text()
    actor_names = ALL_WORLD_ACTORS[: k.actors]
    room_names = ALL_WORLD_ROOMS[: k.rooms]
    object_names = ALL_WORLD_OBJECTS[: k.objects]
    actors, rooms = text.phrases(actor_names), text.phrases(room_names)
    objects = text.phrases(object_names)
    moves = text.templates(MOVE if k.paraphrases else (PLAIN_MOVE,))
    gets = text.templates(GET if k.paraphrases else (PLAIN_GET,))
    drops = text.templates(DROP if k.paraphrases else (PLAIN_DROP,))
    asks = text.templates(["Where is {0}?", "Where is the {0}?"])
    first = max(k.statements_per_question, k.difficulty)
    lines = first + (k.questions_per_story - 1) * k.statements_per_question + k.questions_per_story
    params = named(
        questions_per_story=k.questions_per_story,
        statements_per_question=k.statements_per_question, difficulty=k.difficulty,
        ask_objects=float(k.questions == "actor-object"), move_share=k.move_share,
        object_share=k.object_share,
        exact=float(getattr(k, "exact", True)),  # world/qa-v1 has no such knob: always exact
    )  # fmt: skip
    return make_world(
        k, text, (actors, rooms, objects, moves, gets, drops, asks), params,
        max_lines=lines, a_max=1, s_max=2, q_max=k.questions_per_story,
        tags={"ACTOR": actor_names, "LOC": room_names, "OBJ": object_names},
    )  # fmt: skip


SPEC = babi_task(
    "world/qa-v1",
    "simulated world (Memory Networks): where is a character or an object, last mentioned "
    "exactly `difficulty` statements before the question",
    WorldQaKnobs,
    story,
    build,
    presets={
        # the defaults are actor-d1
        "actor-d1": {},
        "actor-d5": {"difficulty": 5},
        "actor-object-d1": {"questions": "actor-object"},
        "actor-object-d5": {"questions": "actor-object", "difficulty": 5},
    },
    source=SOURCE,
    superseded_by="world/qa-v2",
    superseded_why="puts the asked entity exactly `difficulty` statements back; the paper "
    "(Weston et al. 2014, sec. 5.2) means within the last `difficulty`, and the exact distance "
    "lets a rule answer 81-88 % of the d5 questions",
)

SPEC_V2 = babi_task(
    "world/qa-v2",
    "simulated world (Memory Networks): where is a character or an object, last mentioned "
    "within the last `difficulty` statements before the question (uniformly 1..difficulty back)",
    WorldQaV2Knobs,
    story,
    build,
    presets={
        # the defaults are actor-d1; the paper's four columns of Table 2
        "actor-d1": {},
        "actor-d5": {"difficulty": 5},
        "actor-object-d1": {"questions": "actor-object"},
        "actor-object-d5": {"questions": "actor-object", "difficulty": 5},
    },
    source=SOURCE,
)
