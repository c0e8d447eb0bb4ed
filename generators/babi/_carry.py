"""The object-passing world of bAbI tasks 5, 7 and 8: actors move between rooms, pick objects
up, put them down and hand them to each other.

The world is physical, as in the original generator (``actions.lua``): every actor and every
object not held is in a room (drawn at random when the story starts, and never stated), an
actor can only get an object lying in its own room, only drop or give what it holds, and only
give to another actor in the same room; an actor holds at most ``max_carried`` objects. Every
statement written is performed on the world (the original's task 5 appended "distractor"
clauses it never performed; we do not).

Each statement is a move, a get-or-drop or a give, drawn with fixed weights among the kinds
possible at that moment, then uniformly among the possible (actor, object[, recipient])
choices: the original draws a kind and then a valid clause of it by ``Clause.sample_valid``.
The moves are the distractors of these tasks (knob ``move_weight``). Each task's weights were
tuned so that its statement shares, story lengths, answers and supporting-fact counts match the
released file (``fidelity.py``); the kind of statement the released files show after a given
number of held objects matches too (a move 72% of the time when nothing is held, about 50%
otherwise).

Questions are asked at *slots*, after every ``BLOCK`` statements, when the last object action
of interest happened within the last ``window`` statements: the released files of tasks 5, 7
and 8 follow exactly this rule with a window of 5 (every question's distance is 1..5
statements; every slot with such an action has a question; no other slot has one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtasks.knobs import knob
from memtasks.rng import next_below, next_float

from .._kernels import njit
from . import _world
from ._entities import ACTORS, ALL_ACTORS, ALL_OBJECTS, ALL_ROOMS, OBJECTS, ROOMS, pool
from ._story import (
    add_answer,
    add_support,
    named,
    question,
    question_ok,
    statement,
)
from ._task import BabiKnobs, make_world
from ._text import Text

# statements between two chances to ask a question (the release: always 2)
BLOCK = 2

# kinds of statement
MOVE, GET, DROP, GIVE = 0, 1, 2, 3


# answers of task 7 (and how many objects a carry limit can make it count)
NUMBERS = ("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def carry_params(questions, window, max_statements, move_weight, give_weight, drop_weight,
                 drop_there, max_carried):  # fmt: skip
    """The knobs tasks 5, 7 and 8 read (``p.questions`` ...): questions per story; a question
    is about an action at most ``window`` statements back; a story that has not asked all its
    questions by ``max_statements`` is redrawn; the weights of a move and a give against a
    get-or-drop and of one possible drop against one possible get (see ``_choose``); the share
    of drops written "... there."; the objects one actor can hold at once."""
    return named(
        questions=questions, window=window, max_statements=max_statements,
        move_weight=move_weight, give_weight=give_weight, drop_weight=drop_weight,
        drop_there=drop_there, max_carried=max_carried,
    )  # fmt: skip


def max_statements_for(questions: int, window: int, move_weight: float) -> int:
    """The story length at which a story is redrawn: far beyond what the knobs make likely
    (the release: 13 to 25 statements per 5 questions on average, at most 102), as the gap
    between questions grows with the share of moves and shrinks with the window."""
    return 100 + int(questions * 8 * (1 + move_weight) * (1 + 4 / window))


def max_supports_for(questions: int) -> int:
    """Supporting lines a task 7/8 question can have (the asked actor's object actions): each
    question comes within ``window`` statements of an object action, so a story has a few
    object actions per question; a story that goes beyond this is redrawn."""
    return 64 + 6 * questions


@njit
def place(state, n_rooms, actor_room, obj_room, holder, carry):
    """Start a story: actors and objects in random rooms, nothing held."""
    for a in range(len(actor_room)):
        state, actor_room[a] = next_below(state, n_rooms)
        carry[a] = 0
    for o in range(len(obj_room)):
        state, obj_room[o] = next_below(state, n_rooms)
        holder[o] = -1
    return state


@njit
def _choose(state, p, actor_room, obj_room, holder, carry):
    """A random possible action: (state, kind, actor, object or -1, recipient or -1).

    A kind of statement is drawn among those possible with weights: a move ``p.move_weight``,
    a get-or-drop 1, a give ``p.give_weight`` (the original draws a kind and redraws while no
    valid clause of that kind exists); then one of its possible choices, a drop weighing
    ``p.drop_weight`` times a get."""
    n_actors = len(actor_room)
    limit = np.int64(p.max_carried)
    n_get = 0
    n_drop = 0
    n_give = 0
    for o in range(len(holder)):
        h = holder[o]
        if h < 0:
            for a in range(n_actors):
                if actor_room[a] == obj_room[o] and carry[a] < limit:
                    n_get += 1
        else:
            n_drop += 1
            for b in range(n_actors):
                if b != h and actor_room[b] == actor_room[h] and carry[b] < limit:
                    n_give += 1
    w_move = p.move_weight
    w_drop = p.drop_weight
    w_get_drop = 1.0 if n_get + w_drop * n_drop > 0 else 0.0
    w_give = p.give_weight if n_give > 0 else 0.0
    state, x = next_float(state)
    x *= w_move + w_get_drop + w_give
    if x < w_move or w_get_drop + w_give <= 0.0:
        state, a = next_below(state, n_actors)
        return state, MOVE, a, -1, -1
    if x < w_move + w_get_drop:
        state, y = next_float(state)
        y *= n_get + w_drop * n_drop
        if y >= n_get:
            k = min(np.int64((y - n_get) / w_drop), n_drop - 1)
            for o in range(len(holder)):
                if holder[o] >= 0:
                    if k == 0:
                        return state, DROP, holder[o], o, -1
                    k -= 1
        k = min(np.int64(y), n_get - 1)
        for o in range(len(holder)):
            if holder[o] < 0:
                for a in range(n_actors):
                    if actor_room[a] == obj_room[o] and carry[a] < limit:
                        if k == 0:
                            return state, GET, a, o, -1
                        k -= 1
    state, k = next_below(state, n_give)
    for o in range(len(holder)):
        h = holder[o]
        if h >= 0:
            for b in range(n_actors):
                if b != h and actor_room[b] == actor_room[h] and carry[b] < limit:
                    if k == 0:
                        return state, GIVE, h, o, b
                    k -= 1
    return state, -1, -1, -1, -1  # unreachable: the counts above say a choice exists


@njit
def act(state, p, world, lines, n, actor_room, obj_room, holder, carry):
    """Draw a possible action, perform it and write it as line ``n``.

    ``world`` is (actors, rooms, objects, moves, gets, drops, drops_there, gives): phrase ids
    and template ids. Returns (state, new line count, kind, actor, object or -1, recipient or
    -1)."""
    actors, rooms, objects, moves, gets, drops, drops_there, gives = world
    state, kind, a, o, b = _choose(state, p, actor_room, obj_room, holder, carry)
    if kind == MOVE:
        # a room other than its own (the original's teleport is never to the same room)
        state, r = next_below(state, len(rooms) - 1)
        if r >= actor_room[a]:
            r += 1
        actor_room[a] = r
        state, t = next_below(state, len(moves))
        return state, statement(lines, n, moves[t], actors[a], rooms[r]), kind, a, -1, -1
    if kind == GET:
        holder[o] = a
        carry[a] += 1
        state, t = next_below(state, len(gets))
        return state, statement(lines, n, gets[t], actors[a], objects[o]), kind, a, o, -1
    if kind == DROP:
        holder[o] = -1
        obj_room[o] = actor_room[a]
        carry[a] -= 1
        state, x = next_float(state)
        table = drops_there if x < p.drop_there else drops
        state, t = next_below(state, len(table))
        return state, statement(lines, n, table[t], actors[a], objects[o]), kind, a, o, -1
    holder[o] = b
    carry[a] -= 1
    carry[b] += 1
    state, t = next_below(state, len(gives))
    n = statement(lines, n, gives[t], actors[a], objects[o], actors[b])
    return state, n, kind, a, o, b


@njit
def holding_story(state, p, pools, lines):
    """Tasks 7 and 8: "How many objects is X carrying?" / "What is X carrying?".

    ``pools`` is the ``act`` world followed by (asks, answers): the question template, and the
    number words (task 7) or "nothing" (task 8). At a slot, the question is about an actor who
    got, dropped or gave an object within the last ``window`` statements (uniformly among them,
    as in the release). Its supports are every object action of that actor so far, gifts it
    received included (the original's task 7 left those out; the released files list them):
    in time order for task 7; for task 8 grouped by object, objects in the order they first
    appear in the actor's history, the order the released answers list the objects in."""
    actors, rooms, objects, moves, gets, drops, drops_there, gives, asks, answers = pools
    world = (actors, rooms, objects, moves, gets, drops, drops_there, gives)
    n_questions = np.int64(p.questions)
    window = np.int64(p.window)
    cap = np.int64(p.max_statements)
    s_max = np.int64(p.s_max)
    listing = p.listing > 0
    a_max = np.int64(p.a_max)
    n_actors, n_objects = len(actors), len(objects)
    actor_room = np.empty(n_actors, np.int64)
    carry = np.empty(n_actors, np.int64)
    obj_room = np.empty(n_objects, np.int64)
    holder = np.empty(n_objects, np.int64)
    # each actor's object actions (as doer or recipient): line and object, in time order
    hist_line = np.empty((n_actors, s_max), np.int64)
    hist_obj = np.empty((n_actors, s_max), np.int64)
    hist_n = np.zeros(n_actors, np.int64)
    # who did each object action, and at which statement (1-based), in time order
    doer = np.empty(cap, np.int64)
    doer_at = np.empty(cap, np.int64)
    n_done = 0
    candidates = np.empty(n_actors, np.int64)
    seen = np.full(n_actors, -1, np.int64)
    order = np.empty(n_objects, np.int64)
    first = np.empty(n_objects, np.int64)
    state = place(state, len(rooms), actor_room, obj_room, holder, carry)
    n = 0
    s = 0
    slot = 0
    asked = 0
    while asked < n_questions:
        for _ in range(BLOCK):
            if s >= cap:
                return state, -1
            line = n
            state, n, kind, a, o, b = act(
                state, p, world, lines, n, actor_room, obj_room, holder, carry
            )
            s += 1
            if kind != MOVE:
                if hist_n[a] == s_max or (kind == GIVE and hist_n[b] == s_max):
                    return state, -1  # more supports than a line can hold
                hist_line[a, hist_n[a]] = line
                hist_obj[a, hist_n[a]] = o
                hist_n[a] += 1
                if kind == GIVE:
                    hist_line[b, hist_n[b]] = line
                    hist_obj[b, hist_n[b]] = o
                    hist_n[b] += 1
                doer[n_done] = a
                doer_at[n_done] = s
                n_done += 1
        slot += 1
        c = 0
        for k in range(n_done - 1, -1, -1):
            if s - doer_at[k] + 1 > window:
                break
            x = doer[k]
            if seen[x] != slot:
                seen[x] = slot
                if question_ok(lines, n, hist_line[x, 0], p):
                    candidates[c] = x
                    c += 1
        if c == 0:
            continue
        state, k = next_below(state, c)
        x = candidates[k]
        n = question(lines, n, asks[0], actors[x])
        qline = n - 1
        if not listing:
            add_answer(lines, qline, answers[carry[x]], a_max)
            for k in range(hist_n[x]):
                add_support(lines, qline, hist_line[x, k], a_max)
        else:
            # objects in the order they first appear in the actor's history
            m = 0
            first[:] = -1
            for k in range(hist_n[x]):
                o = hist_obj[x, k]
                if first[o] < 0:
                    first[o] = k
                    order[m] = o
                    m += 1
            held = 0
            for j in range(m):
                if holder[order[j]] == x:
                    add_answer(lines, qline, objects[order[j]], a_max)
                    held += 1
            if held == 0:
                add_answer(lines, qline, answers[0], a_max)
            for j in range(m):
                for k in range(first[order[j]], hist_n[x]):
                    if hist_obj[x, k] == order[j]:
                        add_support(lines, qline, hist_line[x, k], a_max)
        asked += 1
    return state, n


def statement_templates(text: Text, with_gives: bool = True):
    """Template ids of (moves, gets, drops, drops_there, gives). The released tasks 5, 7 and 8
    always say "got the O there" and mostly "dropped the O" (see ``p.drop_there``)."""
    # without gives, their words stay out of the vocabulary
    gives = text.templates(_world.GIVE) if with_gives else np.zeros(0, np.int32)
    return (
        text.templates(_world.MOVE), text.templates(_world.GET_THERE),
        text.templates(_world.DROP), text.templates(_world.DROP_THERE), gives,
    )  # fmt: skip


def move_weight_knob(default: float):
    """The distractor knob of tasks 5, 7 and 8, with the task's tuned release value."""
    return knob(
        default, lo=0.0, hi=20.0,
        doc="how much likelier a statement is a move (a distractor) than a get or drop, when "
        "both are possible (higher: longer stories)",
        harder="up", ladder=(0.5, 1.0, 2.0, 4.0, 8.0),
        why="more moves between gets, drops and gives: longer stories of distractors",
    )  # fmt: skip


@dataclass(frozen=True)
class HoldingKnobs(BabiKnobs):
    """Knobs of tasks 7 and 8 (each task sets its own ``release`` defaults)."""

    axis_ladders = {"min_distance": (0, 2, 4, 6)}  # stories reach this far at the defaults

    actors: int = knob(len(ACTORS), lo=1, hi=len(ALL_ACTORS), doc="people in the world")
    rooms: int = knob(len(ROOMS), lo=2, hi=len(ALL_ROOMS), doc="places they move between")
    objects: int = knob(len(OBJECTS), lo=1, hi=len(ALL_OBJECTS), doc="objects they can carry")
    questions: int = knob(
        5, lo=1, hi=200,
        doc="questions per story (at most 200: a question's supports are all the actions of "
        "its actor so far, and every line of a story has room for them)",
    )  # fmt: skip
    window: int = knob(
        5, lo=1, hi=100,
        doc="a question is about an actor who got, dropped or gave an object within this many "
        "statements (longer: more questions per statement, about older actions)",
    )  # fmt: skip
    move_weight: float = move_weight_knob(2.0)
    max_carried: int = knob(
        3, lo=1, hi=len(NUMBERS) - 1,
        doc="objects one actor can hold at once (with enough objects, the largest answer)",
    )  # fmt: skip
    gives: bool = knob(True, doc="actors also hand objects to each other")


def holding_world(k: HoldingKnobs, ask: str, listing: bool, give_weight: float,
                  drop_weight: float, drop_there: float):  # fmt: skip
    """The world of task 7 (``listing`` false) or 8 for knobs ``k``, with the task's tuned
    weights (see ``_choose``) and share of "dropped the O there"."""
    text = Text()
    actor_names = pool(ACTORS, ALL_ACTORS, k.actors)
    room_names = pool(ROOMS, ALL_ROOMS, k.rooms)
    object_names = pool(OBJECTS, ALL_OBJECTS, k.objects)
    actors, rooms = text.phrases(actor_names), text.phrases(room_names)
    objects = text.phrases(object_names)
    moves, gets, drops, drops_there, gives = statement_templates(text, k.gives)
    asks = text.templates([ask])
    most = min(k.max_carried, k.objects)
    answers = text.phrases(["nothing"] if listing else NUMBERS[: most + 1])
    cap = max_statements_for(k.questions, k.window, k.move_weight)
    params = carry_params(
        k.questions, k.window, cap, k.move_weight, give_weight if k.gives else 0.0,
        drop_weight, drop_there, k.max_carried,
    ) | named(listing=1.0 if listing else 0.0)  # fmt: skip
    return make_world(
        k, text,
        (actors, rooms, objects, moves, gets, drops, drops_there, gives, asks, answers),
        params, max_lines=cap + k.questions, a_max=most if listing else 1,
        s_max=max_supports_for(k.questions),
        q_max=k.questions,
        tags={"ACTOR": actor_names, "LOC": room_names, "OBJ": object_names},
    )  # fmt: skip
