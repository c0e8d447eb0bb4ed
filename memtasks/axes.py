"""Difficulty axes: the knobs of a task (or dataset) that make it harder, and how to sweep them.

An axis is declared where the knob is (``knob(..., harder="up", ladder=(...), why="...")``, see
``memtasks.knobs``), so every spec whose knobs have such fields lists them here without a
second table to keep in step. ``axes(spec)`` gives them in the knobs' declaration order; the
capacity profile sweeps each ladder from easiest to hardest with the other knobs at their
defaults, and ``memtasks info`` prints them, e.g. for ``ntm/copy-v1``::

    max_length (+) in [1, 100000], ladder 5, 10, 20, 40, 80: more vectors to hold ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .knobs import Knobs, check_ladder


@dataclass(frozen=True)
class Axis:
    """One difficulty axis of a spec."""

    knob: str  # the knob's name
    direction: str  # "up": larger values are harder; "down": smaller values are
    range: tuple[Any, Any]  # the knob's allowed (lo, hi); None where unbounded
    ladder: tuple  # default sweep, easiest value first
    why: str  # one line: what a harder value demands of a model
    default: Any  # the knob's default, where the task sits without a sweep

    def describe(self) -> str:
        """The axis in one line."""
        sign = "+" if self.direction == "up" else "-"
        lo, hi = (self.shown(v) for v in self.range)
        ladder = ", ".join(self.shown(v) for v in self.ladder)
        return f"{self.knob} ({sign}) in [{lo}, {hi}], ladder {ladder}: {self.why}"

    @staticmethod
    def shown(value: Any) -> str:
        """A range bound or ladder value as ``memtasks info`` prints it."""
        if value is None:
            return "-"
        if isinstance(value, tuple):  # a tuple knob's ladder (joint tasks) is read by its size
            return (
                f"{len(value)} items" if len(value) > 4 else "(" + ",".join(map(str, value)) + ")"
            )
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


def knob_axes(knobs: type[Knobs]) -> list[Axis]:
    """The axes declared on a knobs class, in declaration order, with the class's own ladders
    (``Knobs.axis_ladders``) in place of the declared ones; ValueError for a bad override."""
    infos = knobs.infos()
    for name, ladder in knobs.axis_ladders.items():
        if name not in infos or infos[name][1].harder is None:
            raise ValueError(f"{knobs.__name__}.axis_ladders: {name!r} is not a difficulty axis")
        if ladder:
            check_ladder(infos[name][1], ladder)
    out = []
    for name, (default, info) in infos.items():
        ladder = knobs.axis_ladders.get(name, info.ladder)
        if info.harder is not None and ladder:
            span = (False, True) if info.kind is bool else (info.lo, info.hi)
            out.append(Axis(name, info.harder, span, tuple(ladder), info.why, default))
    return out


def axes(spec: Any) -> list[Axis]:
    """The difficulty axes of a TaskSpec or DatasetSpec (its ``knobs`` class's declared ones)."""
    return knob_axes(spec.knobs)
