"""Typed knobs: a task's parameters as a frozen dataclass that validates itself.

A task declares its knobs like this (reasoning-gym style, DESIGN.md section 1)::

    @dataclass(frozen=True)
    class CopyKnobs(Knobs):
        width: int = knob(8, lo=1, hi=1024, doc="bits per vector")
        min_length: int = knob(1, lo=1, hi=100_000, doc="shortest sequence")

        def check(self):
            self.require(self.min_length <= self.max_length, "min_length must be <= max_length")

The knob's Python type is the type of its default (``int``, ``float``, ``bool``, ``str`` or a
``tuple`` of ``elem``). Values are checked on construction, so a ``Knobs`` instance that exists
is valid, and every message names the knob, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import KnobError, did_you_mean

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class KnobInfo:
    """What a knob allows; stored in the dataclass field's metadata."""

    kind: type
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    elem: type | None = None  # element type of a tuple knob
    doc: str = ""

    def allowed(self) -> str:
        """The allowed values in words, for messages and ``memtasks info``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        name = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
        if self.kind is tuple:
            what = "a comma-separated list of " + {int: "integers", float: "numbers"}[self.elem]
        else:
            what = name[self.kind]
        each = " each" if self.kind is tuple else ""
        if self.lo is not None and self.hi is not None:
            return f"{what}{each} in [{_number(self.lo)}, {_number(self.hi)}]"
        if self.lo is not None:
            return f"{what}{each} >= {_number(self.lo)}"
        if self.hi is not None:
            return f"{what}{each} <= {_number(self.hi)}"
        return what


def _number(x: float) -> str:
    """A bound as text: integers in full (2**31 - 1, not 2.14748e+09), other numbers short."""
    return str(x) if isinstance(x, int) else f"{x:g}"


def knob(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple | None = None,
    elem: type | None = None,
    doc: str = "",
):
    """Declare a knob: a dataclass field carrying its type, range and documentation."""
    kind = type(default)
    if kind is tuple:
        elem = elem or int
    info = KnobInfo(kind=kind, lo=lo, hi=hi, choices=choices, elem=elem, doc=doc)
    return dataclasses.field(default=default, metadata={"knob": info})


@dataclass(frozen=True)
class Knobs:
    """Base class of every task's knobs. Subclasses are frozen dataclasses of ``knob`` fields."""

    task_id: ClassVar[str] = "task"  # set by the registry, used in messages
    noun: ClassVar[str] = "knob"  # what messages call a field (models say "hyperparameter")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            info: KnobInfo = f.metadata["knob"]
            value = self._coerce(f.name, info, getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        self.check()

    # -- subclass hooks -------------------------------------------------------------------
    def check(self) -> None:
        """Cross-knob constraints; call ``self.require(condition, message)``."""

    def require(self, condition: bool, message: str) -> None:
        if not condition:
            raise KnobError(f"{self.task_id}: {message} (got {self._describe()})")

    # -- introspection ----------------------------------------------------------------------
    @classmethod
    def infos(cls) -> dict[str, tuple[Any, KnobInfo]]:
        """name -> (default, KnobInfo), in declaration order."""
        return {f.name: (f.default, f.metadata["knob"]) for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def replace(self, **changes: Any) -> Knobs:
        """A copy with some knobs changed, validated like any other construction."""
        return self.from_values(changes, base=self)

    @classmethod
    def from_values(cls, values: dict[str, Any], base: Knobs | None = None) -> Knobs:
        """Build from a mapping, naming an unknown knob with the closest known one."""
        infos = cls.infos()
        for name in values:
            if name not in infos:
                raise KnobError(
                    f"{cls.task_id} has no {cls.noun} {name!r}{did_you_mean(name, infos)}; "
                    f"its {cls.noun}s are: {', '.join(infos)}"
                )
        merged = dataclasses.asdict(base) if base is not None else {}
        merged.update(values)
        return cls(**merged)

    @classmethod
    def parse(cls, name: str, text: str) -> Any:
        """Parse the string value of ``--set name=text`` to the knob's type."""
        infos = cls.infos()
        if name not in infos:
            raise KnobError(
                f"{cls.task_id} has no {cls.noun} {name!r}{did_you_mean(name, infos)}; "
                f"its {cls.noun}s are: {', '.join(infos)}"
            )
        info = infos[name][1]
        text = text.strip()
        try:
            if info.kind is bool:
                low = text.lower()
                if low not in _TRUE | _FALSE:
                    raise ValueError
                return low in _TRUE
            if info.kind is tuple:
                return tuple(info.elem(p) for p in text.split(",") if p.strip())
            return info.kind(text)
        except ValueError:
            raise KnobError(
                f"{cls.task_id}: {cls.noun} {name!r} must be {info.allowed()}, got {text!r}"
            ) from None

    # -- helpers ------------------------------------------------------------------------------
    def _coerce(self, name: str, info: KnobInfo, value: Any) -> Any:
        def bad() -> KnobError:
            return KnobError(
                f"{self.task_id}: {self.noun} {name!r} must be {info.allowed()}, got {value!r}"
            )

        if info.kind is tuple:
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise bad()
            items = tuple(value)
            out = tuple(self._scalar(info.elem, x, bad) for x in items)
            for x in out:
                self._range(info, x, bad)
            return out
        out = self._scalar(info.kind, value, bad)
        if info.choices is not None and out not in info.choices:
            raise bad()
        self._range(info, out, bad)
        return out

    @staticmethod
    def _scalar(kind: type, value: Any, bad) -> Any:
        # bool is an int in Python; a knob that wants a number must not accept True (nor NumPy's
        # True, which is not a bool but converts to 1.0 all the same).
        if kind is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise bad()
        if isinstance(value, (bool, np.bool_)):
            raise bad()
        if kind is int:
            if hasattr(value, "__index__"):
                return int(value)
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise bad()
        if kind is float:
            if isinstance(value, (int, float)) or hasattr(value, "__float__"):
                v = float(value)
                if v != v:  # NaN is never a valid knob value
                    raise bad()
                return v
            raise bad()
        if kind is str:
            if isinstance(value, str):
                return value
            raise bad()
        raise bad()

    @staticmethod
    def _range(info: KnobInfo, value: Any, bad) -> None:
        if info.lo is not None and value < info.lo:
            raise bad()
        if info.hi is not None and value > info.hi:
            raise bad()

    def _describe(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(self).items())
