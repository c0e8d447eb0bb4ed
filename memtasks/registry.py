"""The task registry: versioned ids -> specs and generators (DESIGN.md section 1).

Ids look like Gymnasium's: ``family/name-vN``. ``vN`` changes whenever the same (knobs, seed,
split, index) would give different bytes, so a dataset id always means the same data. Asking for
``family/name`` without a version resolves to the newest version.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import KnobError, MemtasksError, UnknownTaskError, did_you_mean
from .knobs import Knobs
from .rng import stream_key

_ID = re.compile(r"^(?P<family>[a-z0-9_]+)/(?P<name>[a-z0-9_.-]+?)-v(?P<version>[0-9]+)$")
_SPLIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
CARDS = Path(__file__).resolve().parent.parent / "data_cards"

# The modules that register tasks when imported; loaded on first use of the registry so that
# ``import memtasks`` stays cheap and generators can import ``memtasks`` without a cycle.
_PROVIDERS = ("memtasks.generators",)


@dataclass(frozen=True)
class Layout:
    """What a task's episodes hold: vector widths and channel names, or a vocabulary."""

    input_dtype: str  # "uint8", "float32" or "int32" (token ids)
    target_dtype: str
    input_channels: tuple[str, ...] = ()  # one name per input channel (vector tasks)
    target_channels: tuple[str, ...] = ()
    vocab: tuple[str, ...] = ()  # id -> string (token tasks); id 0 is padding

    @property
    def input_width(self) -> int | None:
        return len(self.input_channels) or None

    @property
    def target_width(self) -> int | None:
        return len(self.target_channels) or None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"input_dtype": self.input_dtype, "target_dtype": self.target_dtype}
        if self.input_channels:
            out["input_channels"] = list(self.input_channels)
            out["target_channels"] = list(self.target_channels)
        if self.vocab:
            out["vocab"] = list(self.vocab)
        return out


@dataclass(frozen=True)
class TaskSpec:
    """Everything about one versioned task."""

    id: str
    summary: str
    knobs: type[Knobs]
    generator: Callable[[Knobs, np.uint64, int, int], Any]  # (knobs, key, start, count)
    layout: Callable[[Knobs], Layout]
    metric: Any  # memtasks.metrics.Metric
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""

    @property
    def family(self) -> str:
        return self.id.split("/")[0]

    @property
    def name(self) -> str:
        return _ID.match(self.id).group("name")

    @property
    def version(self) -> int:
        return int(_ID.match(self.id).group("version"))

    @property
    def card(self) -> Path:
        """The data card: ``data_cards/<family>/<name>.md``."""
        return CARDS / self.family / f"{self.name}.md"

    def make_knobs(self, preset: str | None = None, **values: Any) -> Knobs:
        """Knobs of ``preset`` (the defaults when None) with ``values`` on top, validated."""
        base: dict[str, Any] = {}
        if preset is not None:
            if preset not in self.presets:
                raise KnobError(
                    f"{self.id} has no preset {preset!r}{did_you_mean(preset, self.presets)}; "
                    f"its presets are: {', '.join(self.presets) or 'none'}"
                )
            base.update(self.presets[preset])
        base.update(values)
        return self.knobs.from_values(base)

    def key(self, knobs: Knobs, seed: int, split: str) -> np.uint64:
        """The random stream of (this task, knobs, seed, split)."""
        return _stream_key(self.id, knobs, check_seed(seed), check_split(split))

    def generate(
        self,
        n: int,
        seed: int = 0,
        split: str = "train",
        *,
        start: int = 0,
        knobs: Knobs | None = None,
        preset: str | None = None,
        **values: Any,
    ):
        """Episodes ``start .. start + n - 1`` of the stream (see ``memtasks.generate``)."""
        if knobs is None:
            knobs = self.make_knobs(preset, **values)
        elif preset is not None or values:
            raise KnobError("pass either a Knobs object or preset/knob values, not both")
        elif not isinstance(knobs, self.knobs):
            raise KnobError(f"{self.id} takes {self.knobs.__name__}, got {type(knobs).__name__}")
        n = check_count("n", n)
        start = check_range(start, n)
        batch = self.generator(knobs, self.key(knobs, seed, split), start, n)
        batch.task = self.id
        return batch


@functools.lru_cache(maxsize=1024)
def _stream_key(task: str, knobs: Knobs, seed: int, split: str) -> np.uint64:
    # a training loop asks for the same stream thousands of times; hashing it is 25 us
    return stream_key(task, knobs.to_dict(), seed, split)


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise MemtasksError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def check_split(split: Any) -> str:
    if not isinstance(split, str) or not _SPLIT.match(split):
        raise MemtasksError(
            f"split must be a name of letters, digits and '_' (train, validation, test...), "
            f"got {split!r}"
        )
    return split


def _shown(value: Any) -> str:
    """``repr(value)``, except that an int too long to print in full (``repr`` of more than
    4,300 digits raises ValueError) is shown by its size."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = int(value)
        if abs(value) >= 10**30:
            sign = "a negative" if value < 0 else "an"
            return f"{sign} integer of {abs(value).bit_length()} bits"
    return repr(value)


def check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise MemtasksError(f"{name} must be a non-negative integer, got {_shown(value)}")
    return int(value)


# Episode indices are int64 (EpisodeBatch.index, the kernels' ``start + b``). A slice of them is
# the half-open range [start, start + n), whose stop is an int64 too (np.arange's stop, a
# dataset's index ranges), so start + n <= 2**63 - 1 and the last index is 2**63 - 2. (The RNG is
# not what bounds them: ``(i + 1) * gamma`` works modulo 2**64 with an odd gamma, so every index
# below 2**64 has its own stream; past 2**63 - 1, Numba would type ``start`` as uint64 or fail.)
INDEX_STOP = 2**63 - 1


def check_range(start: Any, n: Any) -> int:
    """``start`` of the episodes ``start .. start + n - 1``, checked with ``n``: one line naming
    the value and the range allowed instead of indices that wrap past int64 (or a Numba typing
    error, or an OverflowError)."""
    n = check_count("n", n)
    if n > INDEX_STOP:
        raise MemtasksError(
            f"n must be at most 2**63 - 1 = {INDEX_STOP} (episode indices are int64), "
            f"got {_shown(n)}"
        )
    if (
        isinstance(start, bool)
        or not isinstance(start, (int, np.integer))
        or not 0 <= start <= INDEX_STOP - n
    ):
        raise MemtasksError(
            f"start must be a non-negative integer in [0, 2**63 - 1 - n] = [0, {INDEX_STOP - n}] "
            f"for n = {n} (episode indices are int64; the last is start + n - 1), "
            f"got {_shown(start)}"
        )
    return int(start)


_TASKS: dict[str, TaskSpec] = {}
_loaded = False


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task. Its knobs class learns its id, so that its messages name the task."""
    if not _ID.match(spec.id):
        raise ValueError(f"task id {spec.id!r} is not of the form family/name-vN")
    if spec.id in _TASKS:
        raise ValueError(f"task {spec.id!r} is registered twice")
    spec.knobs.task_id = spec.id
    for name, values in spec.presets.items():
        spec.knobs.from_values(dict(values))  # a preset that does not validate is a bug here
        if not re.match(r"^[a-z0-9-]+$", name):
            raise ValueError(f"preset name {name!r} of {spec.id} is not lowercase-with-dashes")
    _TASKS[spec.id] = spec
    return spec


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _PROVIDERS:
            importlib.import_module(module)


def list_tasks(family: str | None = None) -> list[str]:
    """Registered task ids, sorted; only those of ``family`` when given."""
    _ensure_loaded()
    ids = sorted(_TASKS)
    if family is not None:
        ids = [t for t in ids if t.split("/")[0] == family.rstrip("/")]
    return ids


def get_spec(task: str) -> TaskSpec:
    """The spec of ``task``; ``family/name`` without ``-vN`` means the newest version."""
    _ensure_loaded()
    if not isinstance(task, str):
        raise UnknownTaskError(f"a task id is a string like 'ntm/copy-v1', got {task!r}")
    if task in _TASKS:
        return _TASKS[task]
    versions = [t for t in _TASKS if t.rsplit("-v", 1)[0] == task]
    if versions:
        return _TASKS[max(versions, key=lambda t: int(t.rsplit("-v", 1)[1]))]
    raise UnknownTaskError(
        f"unknown task {task!r}{did_you_mean(task, _TASKS)}; `memtasks list` shows all "
        f"{len(_TASKS)} tasks"
    )


def generate(
    task: str,
    n: int,
    seed: int = 0,
    split: str = "train",
    *,
    start: int = 0,
    preset: str | None = None,
    force_size: bool = False,
    **knobs: Any,
):
    """Episodes ``start .. start + n - 1`` of ``task`` for ``(knobs, seed, split)``.

    Episode ``i`` depends only on (task, knobs, seed, split, i): any slice of indices can be
    generated on its own, in any order, on any number of workers, with the same result.

    A batch estimated (from a sample) to need more memory than is available is refused, rather
    than waking the OOM killer; ``force_size=True`` generates it anyway.
    """
    spec = get_spec(task)
    start = check_range(start, n)  # before the sample, so an error names the caller's n
    if not force_size and isinstance(n, (int, np.integer)) and n > 4096:
        # a sample of 64 episodes costs little next to the thousands asked for
        from . import _fs

        sample = spec.generate(64, seed, split, start=start, preset=preset, **knobs)
        need = int(n) * max(1, sample.nbytes // max(1, len(sample)))
        available = _fs.available_memory()
        if available is not None and need > available:
            raise MemtasksError(
                f"{spec.id}: {int(n):,} episodes need about {_fs.human_bytes(need)} in memory "
                f"(estimated from a sample), more than the {_fs.human_bytes(available)} "
                "available; write them to disk (memtasks.storage.write_dataset, `memtasks "
                "generate`), stream them (memtasks.torch.EpisodeStream), generate fewer at a "
                "time, or pass force_size=True"
            )
    return spec.generate(n, seed, split, start=start, preset=preset, **knobs)
