"""bAbI task 8, lists/sets: "Mary got the milk there. ... What is Mary carrying?\tmilk"

Release shape (en v1.2): as task 7 without gives (``_carry.holding_story``); the answer lists
the objects the actor holds ("apple,milk"; "nothing"), in the order they first appear in the
actor's history, and the supports are the actor's object actions grouped by object in that
order, as in the released file.

Card: ``data_cards/babi/qa8.md``. Tests: ``tests/test_babi_give.py``
and ``tests/test_babi_release.py``. Benchmark: ``benchmarks/bench_babi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from memtasks.knobs import knob

from ._carry import HoldingKnobs, holding_story, holding_world, move_weight_knob
from ._task import babi_task

# tuned so that release mode matches the released file (fidelity.py); see _carry._choose
MOVE_WEIGHT = 1.9
GIVE_WEIGHT = 2.6  # task 7's, for gives=true (the release has no gives here)
DROP_WEIGHT = 1.0
DROP_THERE = 0.17


@dataclass(frozen=True)
class Qa8Knobs(HoldingKnobs):
    move_weight: float = move_weight_knob(MOVE_WEIGHT)
    gives: bool = knob(False, doc="actors also hand objects to each other (not in the release)")


def build(k: Qa8Knobs):
    return holding_world(k, "What is {0} carrying?", True, GIVE_WEIGHT, DROP_WEIGHT, DROP_THERE)


SPEC = babi_task(
    "babi/qa8-v1",
    "lists/sets: which objects an actor carries, after gets and drops",
    Qa8Knobs,
    holding_story,
    build,
    presets={
        "release": {},
        "far": {"min_distance": 10},
        "open-vocab": {"actors": 20, "rooms": 20, "objects": 10, "max_carried": 5},
    },
)
