"""What the movement tasks 9-14 share: their entities, sentence shapes and question picker.

In these tasks every statement is a move of one or two actors, however it reads ("went to",
"is in", "is no longer in", "is either in ... or ...", "then she went", "A and B went",
"yesterday ... went"), and the reader knows an actor's place from the last statement about it.

Which actor a question asks about follows the release, not the Lua code: the released files
ask about the actor of one of the **last five clauses** (a conjunction or "they" holds two
clauses, first name first), drawn uniformly. This fits all six files: in qa9 and qa10 the
distance from question to support is 1, 2, 4, 5 or 7 lines with shares .45/.29/.14/.09/.04,
exactly those of that rule; in qa11 the asked actor's last block is 0, 1 or 2 blocks back with
shares .55/.35/.10 (.55/.34/.11 under the rule); in qa12 and qa13 an actor of the previous block
is asked in 5% and 9% of questions, always the second name of its last line (the rule: 5%, 10%).
The ``recent`` knob sets the window (0: any actor whose place is known, uniformly).
"""

from __future__ import annotations

import numpy as np

from memtasks.rng import next_below

from .._kernels import njit
from ._entities import ACTORS, EXTRA_ACTORS, EXTRA_ROOMS, ROOMS
from ._story import question_ok
from ._world import MOVE

RECENT = 5  # the release's window of clauses a question draws its actor from

# tasks 10 and 14 have their own cast and places in the release
TIME_ACTORS = ("Bill", "Fred", "Julie", "Mary")
TIME_ROOMS = ("bedroom", "cinema", "kitchen", "office", "park", "school")
# larger pools for them add the basic world's names first, then the extra ones
TIME_EXTRA_ACTORS = ACTORS + EXTRA_ACTORS
TIME_EXTRA_ROOMS = ROOMS + EXTRA_ROOMS
TIMES = ("yesterday", "this morning", "this afternoon", "this evening")

# The verbs of MOVE ("moved", "went", ..., "went back"), so that the conjunction, pronoun and
# time sentences use the same verbs as the plain ones.
VERBS = tuple(t.removeprefix("{0} ").removesuffix(" to the {1}.") for t in MOVE)
# Task 11 and 13's openers of a sentence whose subject is a pronoun (babi-templates-en.txt)
CONNECTIVES = ("After that", "Afterwards", "Following that", "Then")

# Task 11's pronouns follow the actor's gender: the release's four (world_basic.txt) and every
# extra name a larger pool can draw.
_FEMALE = (
    "Mary", "Sandra", "Julie", "Alice", "Emma", "Sofia", "Clara", "Nora", "Ines", "Lena", "Maya",
    "Ada", "Zoe", "Priya", "Greta", "Ruth", "Leila", "Yuki", "Helga", "Freya", "Elsa", "Agnes",
    "Carmen", "Esther", "Gloria", "Irene", "Katya", "Mirela", "Olga", "Rosa", "Tilda", "Vera",
    "Xenia",
)  # fmt: skip
_MALE = (
    "John", "Daniel", "Bill", "Fred", "Oliver", "Lucas", "Hugo", "Felix", "Oscar", "Victor",
    "Tomas", "Elias", "Ivan", "Kenji", "Omar", "Pablo", "Anton", "Soren", "Marco", "Diego",
    "Tariq", "Rafael", "Bruno", "Dmitri", "Farid", "Henrik", "Jonas", "Lorenzo", "Nikolai",
    "Pedro", "Quentin", "Stefan", "Ulrich", "Walter",
)  # fmt: skip
PRONOUN = {**{n: "she" for n in _FEMALE}, **{n: "he" for n in _MALE}}


def move_templates(subject: str = "{0}", room: str = "{1}", prefix: str = "", suffix: str = ""):
    """The five move sentences with another subject ("{0} and {1}", "then {0}", "they") or
    a time phrase before or after them."""
    return tuple(f"{prefix}{subject} {v} to the {room}{suffix}." for v in VERBS)


@njit
def other_room(state, n_rooms, room):
    """A uniformly random room other than ``room`` (any room when ``room`` is -1)."""
    if room < 0:
        return next_below(state, n_rooms)
    state, r = next_below(state, n_rooms - 1)
    return state, r + 1 if r >= room else r


@njit
def room_avoiding(state, n_rooms, a, b):
    """A uniformly random room that is neither ``a`` nor ``b`` (-1: no constraint)."""
    lo, hi = min(a, b), max(a, b)
    if lo == hi or lo < 0:
        return other_room(state, n_rooms, hi)
    state, r = next_below(state, n_rooms - 2)
    if r >= lo:
        r += 1
    if r >= hi:
        r += 1
    return state, r


@njit
def two_actors(state, n_actors):
    """Two distinct actors, uniformly, in random order."""
    state, a = next_below(state, n_actors)
    state, b = next_below(state, n_actors - 1)
    return state, a, b + 1 if b >= a else b


@njit
def pick_recent(state, lines, n, p, keys, n_keys, recent, earliest, n_items, buf):
    """What question line ``n`` asks about: the item (an actor; a move in task 14) of one of
    the last ``recent`` clauses, ``keys[:n_keys]`` in the order they happened, drawn uniformly
    (so an actor named in two of them is twice as likely); with ``recent`` 0 any item, each once.
    ``earliest[item]`` is the first line the answer would rest on, -1 when it cannot be asked;
    items whose question would break the distance knobs are skipped. Returns (state, item),
    item -1 when there is none."""
    c = 0
    if recent > 0:
        for k in range(max(0, n_keys - recent), n_keys):
            item = keys[k]
            e = earliest[item]
            if e >= 0 and question_ok(lines, n, e, p):
                buf[c] = item
                c += 1
    else:
        for item in range(n_items):
            e = earliest[item]
            if e >= 0 and question_ok(lines, n, e, p):
                buf[c] = item
                c += 1
    if c == 0:
        return state, np.int64(-1)
    state, k = next_below(state, c)
    return state, np.int64(buf[k])
