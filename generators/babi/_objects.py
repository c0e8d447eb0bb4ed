"""The object world of bAbI tasks 2, 3 and 6: actors move between rooms, pick objects up and
put them down; what the reader has been told about it, and which line told it.

**The world** is physical, as in the original generator (``world_basic.txt``, ``actions.lua``):
every actor and every object is in a room, drawn at random when a story starts and never
stated. An actor can only get an object lying free in its own room, and only drop what it holds
(the object stays in the actor's room); a move takes an actor, and what it holds, to a room
other than its own. Every statement written is performed on the world, so a story never
contradicts itself (nobody drops what it does not hold, nobody gets an object held by someone
else or lying in another room).

**The reader** knows an actor's room from its last move (``A_LINE``), who holds an object from
the last get or drop of it (``O_LINE``), and where a dropped object lies when the dropper's room
was known at the drop (``O_PLACE``, the line of the dropper's move). A held object is where its
holder is. The room history of an object is the sequence of the moves made while someone held
it (``carried_moves``); every move is stated, so only its room before the first of them can be
unknown.

**Statements** are drawn by ``draw``: a move with probability ``move_rate``, otherwise a get or a
drop uniformly among those possible (as the original's ``Clause.sample_valid`` draws an actor,
an action and an object until the clause is valid), a move when none is. The released files of
tasks 2, 3 and 6 show this shape: given how many objects are held, the shares of moves, gets and
drops are those of a fixed move rate (0.6-0.7) and uniform valid object actions.

**Questions** are asked at *slots*, after every ``statements_per_question`` statements (2 in the
release), about something stated within the last ``recent`` statements (5 in the release): in
the released files of tasks 2, 3 and 6 every question's deciding fact (the last get or drop of
the object, or the actor's last move) is 1 to 5 statements back, every slot that has such a fact
has a question, and no other slot has one. ``fresh`` tests that.

A task's story function (``qa2.py`` ...) calls ``new_world`` once, ``step`` for each statement
and its own question logic at each slot; its knob record has the fields of
``object_params`` and its pools with ``object_pools``'s (names, then statement templates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from . import _world
from ._entities import ACTORS, ALL_ACTORS, ALL_OBJECTS, ALL_ROOMS, OBJECTS, ROOMS, pool
from ._story import named, statement
from ._task import BabiKnobs, make_world
from ._text import Text

# kinds of statement (column 0 of the log; question lines keep NONE)
NONE, MOVE, GET, DROP = -1, 0, 1, 2

# the actor table, one row per actor
A_ROOM = 0  # the room it is in (the reader knows it once the actor has moved)
A_LINE = 1  # line of its last move (-1: it has not moved, the reader does not know its room)
A_STMT = 2  # statement number (1-based) of that move
A_COLUMNS = 3

# the object table, one row per object
O_ROOM = 0  # the room it is in (a held object's is its holder's)
O_HOLDER = 1  # the actor holding it (-1: none)
O_LINE = 2  # line of its last get or drop (-1: none yet)
O_STMT = 3  # statement number of that action
O_BY = 4  # who did that action (its holder, or who dropped it)
O_PLACE = 5  # line of the move that told where O_BY was then (-1: the reader did not know)
O_GET = 6  # line of the get that began its current or last possession (-1: none)
O_COLUMNS = 7


# slots a question may wait for, on average, before the story is redrawn (the release's longest
# wait is about 50 slots, in task 3)
SLOTS_PER_QUESTION = 60
MAX_LEAST = 100_000  # bound on questions * statements_per_question


# ---------------------------------------------------------------------------------------------
# The world and its statements (compiled)
# ---------------------------------------------------------------------------------------------
@njit
def new_world(state, n_actors, n_rooms, n_objects, max_lines):
    """A story's world: (state, actor table, object table, log). Actors and objects are put in
    random rooms, nothing is held and the reader knows nothing. ``log[line]`` is (kind, actor,
    room or object) of each statement line written by ``step``."""
    actor_tab = np.empty((n_actors, A_COLUMNS), np.int64)
    for a in range(n_actors):
        state, actor_tab[a, A_ROOM] = next_below(state, n_rooms)
        actor_tab[a, A_LINE] = -1
        actor_tab[a, A_STMT] = -1
    object_tab = np.full((n_objects, O_COLUMNS), -1, np.int64)
    for o in range(n_objects):
        state, object_tab[o, O_ROOM] = next_below(state, n_rooms)
    log = np.full((max_lines, 3), NONE, np.int64)
    return state, actor_tab, object_tab, log


@njit(inline="always")
def _can_get(actor_tab, object_tab, a, o):
    return object_tab[o, O_HOLDER] < 0 and object_tab[o, O_ROOM] == actor_tab[a, A_ROOM]


@njit
def draw(state, move_rate, actor_tab, object_tab, n_rooms):
    """A random possible statement: (state, kind, actor, room for a move or object)."""
    n_actors, n_objects = len(actor_tab), len(object_tab)
    possible = 0
    for o in range(n_objects):
        if object_tab[o, O_HOLDER] >= 0:
            possible += 1  # its holder can drop it
        else:
            for a in range(n_actors):
                if _can_get(actor_tab, object_tab, a, o):
                    possible += 1
    state, x = next_float(state)
    if x < move_rate or possible == 0:
        state, a = next_below(state, n_actors)
        # never to its own room (the original's teleport)
        state, r = next_below(state, n_rooms - 1)
        if r >= actor_tab[a, A_ROOM]:
            r += 1
        return state, MOVE, a, r
    state, k = next_below(state, possible)
    for o in range(n_objects):
        h = object_tab[o, O_HOLDER]
        if h >= 0:
            if k == 0:
                return state, DROP, h, o
            k -= 1
        else:
            for a in range(n_actors):
                if _can_get(actor_tab, object_tab, a, o):
                    if k == 0:
                        return state, GET, a, o
                    k -= 1
    return state, NONE, -1, -1  # unreachable: ``possible`` counted the choices


@njit
def perform(actor_tab, object_tab, log, line, stmt, kind, a, x):
    """Do statement (kind, actor ``a``, room or object ``x``), written as line ``line``, the
    ``stmt``-th statement, on the world and on what the reader knows."""
    log[line, 0] = kind
    log[line, 1] = a
    log[line, 2] = x
    if kind == MOVE:
        actor_tab[a, A_ROOM] = x
        actor_tab[a, A_LINE] = line
        actor_tab[a, A_STMT] = stmt
        for o in range(len(object_tab)):
            if object_tab[o, O_HOLDER] == a:
                object_tab[o, O_ROOM] = x
        return
    object_tab[x, O_HOLDER] = a if kind == GET else -1
    object_tab[x, O_LINE] = line
    object_tab[x, O_STMT] = stmt
    object_tab[x, O_BY] = a
    object_tab[x, O_PLACE] = actor_tab[a, A_LINE]
    if kind == GET:
        object_tab[x, O_GET] = line


@njit
def step(state, p, lines, n, stmt, world, say):
    """Draw a possible statement, perform it and write it as line ``n``, the ``stmt``-th
    statement. ``world`` is ``new_world``'s tables (actor, object, log); ``say`` is (actor,
    room, object phrase ids, then move, get, get-there, drop, drop-there template ids).
    Returns (state, n + 1, kind, actor, room or object)."""
    actor_tab, object_tab, log = world
    actors, rooms, objects, moves, gets, gets_there, drops, drops_there = say
    state, kind, a, x = draw(state, p.move_rate, actor_tab, object_tab, len(rooms))
    perform(actor_tab, object_tab, log, n, stmt, kind, a, x)
    if kind == MOVE:
        state, t = next_below(state, len(moves))
        return state, statement(lines, n, moves[t], actors[a], rooms[x]), kind, a, x
    if kind == GET:
        there, plain, share = gets_there, gets, p.get_there
    else:
        there, plain, share = drops_there, drops, p.drop_there
    state, y = next_float(state)
    table = there if y < share else plain
    state, t = next_below(state, len(table))
    return state, statement(lines, n, table[t], actors[a], objects[x]), kind, a, x


# ---------------------------------------------------------------------------------------------
# What the reader knows (compiled)
# ---------------------------------------------------------------------------------------------
@njit(inline="always")
def fresh(stmt, then, recent):
    """Whether a fact stated as statement ``then`` is among the last ``recent`` statements
    when ``stmt`` statements have been written (``recent`` <= 0: any statement)."""
    return then >= 0 and (recent <= 0 or stmt - then < recent)


@njit
def carried_moves(world, o, n, rooms_out, lines_out):
    """The moves object ``o`` made in its current or last possession, up to line ``n``: their
    count, rooms and lines written to ``rooms_out`` / ``lines_out`` in story order. They are the
    moves of its holder (``O_BY``) from the get that began the possession (``O_GET``) to its drop
    (``O_LINE``), or to ``n`` while it is still held."""
    actor_tab, object_tab, log = world
    start = object_tab[o, O_GET]
    if start < 0:
        return 0
    end = n if object_tab[o, O_HOLDER] >= 0 else object_tab[o, O_LINE]
    holder = object_tab[o, O_BY]
    k = 0
    for i in range(start + 1, end):
        if log[i, 0] == MOVE and log[i, 1] == holder:
            rooms_out[k] = log[i, 2]
            lines_out[k] = i
            k += 1
    return k


# ---------------------------------------------------------------------------------------------
# Knobs and tables (Python)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectKnobs(BabiKnobs):
    """Knobs every task of the object world has (a task sets its own ``move_rate`` default)."""

    axis_ladders = {"min_distance": (0, 1, 2, 3, 4)}  # stories reach this far at the defaults

    actors: int = knob(len(ACTORS), lo=1, hi=len(ALL_ACTORS), doc="people in the world")
    rooms: int = knob(len(ROOMS), lo=2, hi=len(ALL_ROOMS), doc="places they move between")
    objects: int = knob(len(OBJECTS), lo=1, hi=len(ALL_OBJECTS), doc="objects they can carry")
    questions: int = knob(5, lo=1, hi=1000, doc="questions per story")
    statements_per_question: int = knob(
        2, lo=1, hi=1000,
        doc="statements between two chances to ask a question (a chance is taken when "
        "something askable was stated recently enough)",
        harder="up", ladder=(1, 2, 4, 8, 16),
        why="more statements between questions: more facts to hold, most of them distractors",
    )  # fmt: skip
    recent: int = knob(
        5, lo=0, hi=100_000,
        doc="a question is about a fact stated within the last `recent` statements, drawn "
        "uniformly among them (0: any fact so far)",
    )  # fmt: skip
    move_rate: float = knob(
        0.65, lo=0.05, hi=0.95,
        doc="probability that a statement is a move rather than a get or drop (higher: "
        "longer stories, more statements between a question and its facts)",
    )  # fmt: skip

    def check(self) -> None:
        super().check()
        # a story's lines are held in memory while it is drawn
        self.require(
            self.questions * self.statements_per_question <= MAX_LEAST,
            f"questions * statements_per_question must be <= {MAX_LEAST}",
        )


def max_statements(k: ObjectKnobs) -> int:
    """Statements after which a story still missing questions is redrawn: far beyond the
    release's longest stories (224 statements in task 3), and never more than 20,000 beyond
    the statements the questions need at the least."""
    least = k.questions * k.statements_per_question
    return min(SLOTS_PER_QUESTION * least, least + 20_000) + 100


def object_params(k: ObjectKnobs, get_there: float, drop_there: float) -> dict[str, float]:
    """The knobs every task of this module reads (``p.questions`` ...); a task adds its own."""
    return named(
        questions=k.questions, statements_per_question=k.statements_per_question,
        recent=k.recent, move_rate=k.move_rate, get_there=get_there, drop_there=drop_there,
        # a story that has not asked all its questions by then is redrawn
        max_statements=max_statements(k),
    )  # fmt: skip


def object_pools(k: ObjectKnobs, text: Text):
    """Names and statement templates: ((actor, room, object names), (actor, room, object
    phrase ids, then move, get, get-there, drop, drop-there template ids), the ``say`` of
    ``step``)."""
    names = (
        pool(ACTORS, ALL_ACTORS, k.actors),
        pool(ROOMS, ALL_ROOMS, k.rooms),
        pool(OBJECTS, ALL_OBJECTS, k.objects),
    )
    say = (
        *(text.phrases(x) for x in names),
        text.templates(_world.MOVE),
        text.templates(_world.GET),
        text.templates(_world.GET_THERE),
        text.templates(_world.DROP),
        text.templates(_world.DROP_THERE),
    )
    return names, say


def object_tags(names) -> dict[str, tuple[str, ...]]:
    """The release's tags of the names (for the fidelity checks)."""
    return {"ACTOR": names[0], "LOC": names[1], "OBJ": names[2]}


def object_world(
    k: ObjectKnobs,
    question: str,
    *,
    get_there: float,
    drop_there: float,
    s_max: int,
    answers: tuple[str, ...] = (),
    extra_params: dict[str, float] | None = None,
):
    """The ``World`` of a task of this module: names and statement templates, then the
    question's template, then answer words when the task has its own (pools in that order,
    ``answers`` phrase ids last when given); the knob record has the fields of ``object_params``
    and then ``extra_params``."""
    text = Text()
    names, say = object_pools(k, text)
    pools = (*say, text.templates([question]))
    if answers:
        pools = (*pools, text.phrases(answers))
    return make_world(
        k, text, pools, {**object_params(k, get_there, drop_there), **(extra_params or {})},
        max_lines=max_statements(k) + k.questions, a_max=1, s_max=s_max, q_max=k.questions,
        tags=object_tags(names),
    )  # fmt: skip


# the presets of tasks 2, 3 and 6 beyond the release
OBJECT_PRESETS = {
    "release": {},
    "far": {"statements_per_question": 20, "recent": 0, "min_distance": 10},
    "open-vocab": {"actors": 20, "rooms": 20, "objects": 20},
}
