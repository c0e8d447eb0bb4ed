"""bAbI task 7, counting: "Sandra got the milk there. ... How many objects is Sandra carrying?"

Release shape (en v1.2): actors get, drop and hand each other objects between moves; a question
every 2 statements when someone got, dropped or gave an object within the last 5 statements,
about one of those actors; 5 questions per story. The answer is a number word ("none", "one",
... "three"), supported by every object action of that actor so far, in time order, gifts it
received included. The story is shared with task 8 (``_carry.holding_story``).

Card: ``data_cards/babi/qa7.md``. Tests: ``tests/test_babi_give.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._carry import HoldingKnobs, holding_story, holding_world, move_weight_knob
from ._task import babi_task

# tuned so that release mode matches the released file (fidelity.py); see _carry._choose
MOVE_WEIGHT = 2.1
GIVE_WEIGHT = 2.6
DROP_WEIGHT = 1.0
DROP_THERE = 0.22


@dataclass(frozen=True)
class Qa7Knobs(HoldingKnobs):
    move_weight: float = move_weight_knob(MOVE_WEIGHT)


def build(k: Qa7Knobs):
    return holding_world(
        k, "How many objects is {0} carrying?", False, GIVE_WEIGHT, DROP_WEIGHT, DROP_THERE
    )


SPEC = babi_task(
    "babi/qa7-v1",
    "counting: how many objects an actor carries, after gets, drops and gives",
    Qa7Knobs,
    holding_story,
    build,
    presets={
        "release": {},
        "far": {"min_distance": 10},
        "open-vocab": {"actors": 20, "rooms": 20, "objects": 10, "max_carried": 5},
    },
)
