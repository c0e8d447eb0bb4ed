"""The registry: versioned ids -> task specs (generated) and dataset specs (real data).

Ids look like Gymnasium's: ``family/name-vN``. ``vN`` changes whenever the same (knobs, seed,
split, index) would give different bytes, so a dataset id always means the same data. Asking for
``family/name`` without a version resolves to the newest version. Tasks (``TaskSpec``) and real
datasets (``memtasks.datasets.DatasetSpec``) share one id space.

Families register their specs when their module is imported. The modules are found through the
entry point group ``memtasks.families`` (``pyproject.toml``), so another distribution can add its
own families; the built-in ones are imported even without installed metadata (a source tree on
``sys.path``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import KnobError, MemtasksError, UnknownTaskError, did_you_mean
from .knobs import Knobs
from .plugins import import_plugins, plugins
from .rng import stream_key

_ID = re.compile(r"^(?P<family>[a-z0-9_]+)/(?P<name>[a-z0-9_.-]+?)-v(?P<version>[0-9]+)$")
_SPLIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
CARDS = Path(__file__).resolve().parent.parent / "data_cards"

# Entry point group naming the modules that register families when imported. They are loaded on
# first use of the registry, so that ``import memtasks`` stays cheap and family modules can
# import ``memtasks`` without a cycle.
ENTRY_POINT_GROUP = "memtasks.families"


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


class SpecBase:
    """What task and dataset specs share: the parts of the id, the card, knob validation.
    Subclasses are frozen dataclasses with ``id``, ``knobs`` and ``presets`` fields."""

    id: str
    knobs: type[Knobs]
    presets: Mapping[str, Mapping[str, Any]]

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


@dataclass(frozen=True)
class TaskSpec(SpecBase):
    """Everything about one versioned task."""

    id: str
    summary: str
    knobs: type[Knobs]
    generator: Callable[[Knobs, np.uint64, int, int], Any]  # (knobs, key, start, count)
    layout: Callable[[Knobs], Layout]
    metric: Any  # memtasks.metrics.Metric
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""
    # A version kept generable (its published datasets stay reproducible) after a newer one
    # replaced it: the id that replaced it and one line saying why. ``memtasks list`` and
    # ``info`` show both; ``family/name`` without ``-vN`` resolves to the newest regardless.
    superseded_by: str = ""
    superseded_why: str = ""

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
_DATASETS: dict[str, Any] = {}  # id -> memtasks.datasets.DatasetSpec
_loaded = False


def _check_new(spec: SpecBase, what: str) -> None:
    if not _ID.match(spec.id):
        raise ValueError(f"{what} id {spec.id!r} is not of the form family/name-vN")
    if spec.id in _TASKS or spec.id in _DATASETS:
        raise ValueError(f"{spec.id!r} is registered twice (tasks and datasets share one id space)")
    spec.knobs.task_id = spec.id
    for name, values in spec.presets.items():
        spec.knobs.from_values(dict(values))  # a preset that does not validate is a bug here
        if not re.match(r"^[a-z0-9-]+$", name):
            raise ValueError(f"preset name {name!r} of {spec.id} is not lowercase-with-dashes")


def _check_superseded(spec: TaskSpec) -> None:
    """A superseded task names a later version of itself and says why (before anything is
    registered or changed)."""
    if bool(spec.superseded_by) != bool(spec.superseded_why):
        raise ValueError(f"{spec.id}: superseded_by and superseded_why go together")
    old, new = _ID.match(spec.id), _ID.match(spec.superseded_by)
    if not spec.superseded_by or not old:  # a bad id of its own is _check_new's to refuse
        return
    if not new or new.group("family", "name") != old.group("family", "name"):
        raise ValueError(
            f"{spec.id}: superseded_by must be a later version of the same task, "
            f"got {spec.superseded_by!r}"
        )
    if int(new.group("version")) <= int(old.group("version")):
        raise ValueError(f"{spec.id}: superseded_by {spec.superseded_by!r} is not a later version")


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task. Its knobs class learns its id, so that its messages name the task."""
    _check_superseded(spec)
    _check_new(spec, "task")
    _TASKS[spec.id] = spec
    return spec


def register_dataset(spec):
    """Add a real dataset (a ``memtasks.datasets.DatasetSpec``); same id space as tasks."""
    from .datasets import DatasetSpec

    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"register_dataset takes a DatasetSpec, got {type(spec).__name__}")
    _check_new(spec, "dataset")
    bad = [s for s in spec.splits if not _SPLIT.match(s)]
    if bad or not spec.splits:
        raise ValueError(f"{spec.id}: splits must be names like train, got {spec.splits!r}")
    _DATASETS[spec.id] = spec
    return spec


def family_modules() -> dict[str, str]:
    """Family name -> module, from the installed entry points (pyproject.toml declares the
    built-in ones; another distribution adds its own)."""
    found: dict[str, str] = {}
    for family, module, _ in plugins(ENTRY_POINT_GROUP):
        found[family if family not in found else f"{family} ({module})"] = module
    return found


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    if not any(p.own for p in plugins(ENTRY_POINT_GROUP)):
        # the core names no family: they all come from the package's metadata
        raise MemtasksError(
            f"no task families found: memtasks' entry points (group {ENTRY_POINT_GROUP}) are "
            "missing, so its package metadata is stale or it was not installed; install it with "
            "`pip install -e .` (a checkout) or `pip install memtasks`"
        )
    _loaded = True
    import_plugins(ENTRY_POINT_GROUP, "family")


def _by_family(ids, family: str | None) -> list[str]:
    ids = sorted(ids)
    if family is not None:
        ids = [t for t in ids if t.split("/")[0] == family.rstrip("/")]
    return ids


def list_tasks(family: str | None = None) -> list[str]:
    """Registered task ids (generated tasks, not datasets), sorted; only ``family``'s when given."""
    _ensure_loaded()
    return _by_family(_TASKS, family)


def list_datasets(family: str | None = None) -> list[str]:
    """Registered dataset ids (real data), sorted; only ``family``'s when given."""
    _ensure_loaded()
    return _by_family(_DATASETS, family)


def _newest(table: dict[str, Any], name: str) -> Any | None:
    if name in table:
        return table[name]
    versions = [t for t in table if t.rsplit("-v", 1)[0] == name]
    if versions:
        return table[max(versions, key=lambda t: int(t.rsplit("-v", 1)[1]))]
    return None


def get_spec(task: str):
    """The spec of a task (``TaskSpec``) or a dataset (``DatasetSpec``); ``family/name``
    without ``-vN`` means the newest version."""
    _ensure_loaded()
    if not isinstance(task, str):
        raise UnknownTaskError(f"a task id is a string like 'ntm/copy-v1', got {task!r}")
    spec = _newest(_TASKS, task) or _newest(_DATASETS, task)
    if spec is not None:
        return spec
    known = {**_TASKS, **_DATASETS}
    raise UnknownTaskError(
        f"unknown task {task!r}{did_you_mean(task, known)}; `memtasks list` shows "
        f"all {len(_TASKS)} tasks and {len(_DATASETS)} datasets"
    )


def get_task(task: str) -> TaskSpec:
    """The spec of a generated task; a dataset id is refused in one line saying what to do."""
    spec = get_spec(task)
    if not isinstance(spec, TaskSpec):
        raise UnknownTaskError(
            f"{spec.id} is a dataset of real data, not a generated task: load it with "
            f"`memtasks load {spec.id} --path P --out DIR` or memtasks.load({spec.id!r}, ...)"
        )
    return spec


def get_dataset(dataset: str):
    """The spec of a real dataset; a task id is refused in one line saying what to do."""
    spec = get_spec(dataset)
    if isinstance(spec, TaskSpec):
        raise UnknownTaskError(
            f"{spec.id} is a generated task, not a dataset of real data: generate it with "
            f"`memtasks generate {spec.id} ...` or memtasks.generate({spec.id!r}, ...)"
        )
    return spec


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
    spec = get_task(task)
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
