"""The results of a run: a versioned, typed schema, written and read by this module only.

``Results`` is what ``memtasks baseline`` writes (``--out``) and what ``baselines/make_tables.py``
and later reports read (``load_results``). ``schema_version`` says which fields a file has:

- 1 (no ``schema_version`` key): the runner's dicts before the schema, 35 keys; the first
  ones written (the NTM tasks) lack the fixed-set fields (``epochs_requested``,
  ``training_set``, ``release``, ``patience``, ``best_epoch``, ``git_dirty``, ``epochs``).
  ``migrate`` fills those with what such a run had (a stream, no epochs).
- 2: ``schema_version`` and ``variant`` (the named configuration run, or None) added.
- 3: ``init_seed`` (the weights' seed) and ``initialisations`` (``--inits N``: every
  initialisation's training error and metrics, and which was kept; None for one) added.

A file of a newer schema than this code knows is refused with one line, not misread.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memtasks.errors import MemtasksError

from .checkpoints import write_json

__all__ = ["SCHEMA_VERSION", "Results", "load_results", "migrate", "write_results"]

SCHEMA_VERSION = 3


@dataclass
class Results:
    """One run: what was run (task, model, settings, code), how far it got, what it reached."""

    # what was trained, on what
    task: str
    model: str
    knobs: dict[str, Any]
    hparams: dict[str, Any]
    optimizer: dict[str, Any]
    seed: int
    metrics: dict[str, dict[str, Any]]  # the last evaluation: set name -> metric -> value
    schema_version: int = SCHEMA_VERSION
    variant: str | None = None  # MODEL.CONFIG where a named configuration was run
    init_seed: int | None = None  # the initial weights' seed (before schema 3: ``seed``)
    initialisations: dict[str, Any] | None = None  # --inits N: all N, and the one kept
    preset: str | None = None
    eval_knobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # extrapolation sets
    parameters: int = 0
    # how far it got
    steps: int = 0
    steps_requested: int = 0
    epochs_requested: int | None = None
    training_set: dict[str, Any] = field(default_factory=dict)  # stream, fixed set or split
    release: dict[str, Any] | None = None  # what the family's evaluation hook scored
    stopped_by: str = "steps"  # steps, epochs, patience or time_limit
    patience: int | None = 0
    best_epoch: int | None = None
    time_limit_s: float | None = None
    batch_size: int = 0
    episodes_seen: int = 0
    # where and how fast
    wall_time_s: float = 0.0
    train_time_s: float = 0.0
    device: str = ""
    device_type: str = ""
    amp: bool = False
    compiled_step: bool = False
    memtasks_version: str = ""
    git_commit: str | None = None
    git_dirty: bool | None = None
    torch_version: str = ""
    eval_episodes: int = 0
    # the course of the run
    evaluations: list[dict[str, Any]] = field(default_factory=list)  # {step, sets}
    epochs: list[dict[str, Any]] = field(default_factory=list)  # per epoch: held-out loss...
    history: list[dict[str, Any]] = field(default_factory=list)  # {step, loss, train_time_s}

    # results were plain dicts before the schema: reading them by key still works
    def __getitem__(self, key: str) -> Any:
        if key not in _FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in _FIELDS

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in _FIELDS else default

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the schema's field order."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=_jsonable))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "results") -> Results:
        """Read a results mapping of any known schema version (older ones are migrated)."""
        data = migrate(data, source=source)
        return cls(**{k: data[k] for k in _FIELDS if k in data})


_FIELDS = tuple(f.name for f in dataclasses.fields(Results))
_REQUIRED = tuple(
    f.name
    for f in dataclasses.fields(Results)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)


def _jsonable(x: Any) -> Any:
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item"):  # NumPy scalars
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def migrate(data: Mapping[str, Any], *, source: str = "results") -> dict[str, Any]:
    """``data`` brought to the current schema: version 1 dicts get the fields they lack."""
    if not isinstance(data, Mapping):
        raise MemtasksError(f"{source}: not a results object (a JSON object is expected)")
    out = dict(data)
    version = out.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MemtasksError(f"{source}: schema_version must be an integer >= 1, got {version!r}")
    if version > SCHEMA_VERSION:
        raise MemtasksError(
            f"{source}: results of schema version {version}; this memtasks reads versions "
            f"1..{SCHEMA_VERSION} (upgrade memtasks)"
        )
    if version == 1:  # runs before the fixed training sets streamed, with no epochs
        out.setdefault("training_set", {"split": "train", "seed": out.get("seed"),
                                        "stream": True})  # fmt: skip
        out.setdefault("epochs", [])
        for key in ("epochs_requested", "release", "best_epoch", "git_dirty"):
            out.setdefault(key, None)
        out.setdefault("patience", 0)
        out.setdefault("variant", None)
        version = 2
    if version == 2:  # one initialisation, seeded by the run's seed
        out.setdefault("init_seed", out.get("seed"))
        out.setdefault("initialisations", None)
        out["schema_version"] = SCHEMA_VERSION
    missing = [k for k in _REQUIRED if k not in out]
    if missing:
        raise MemtasksError(f"{source}: not a results file (it has no {', '.join(missing)})")
    unknown = sorted(set(out) - set(_FIELDS))
    if unknown:
        raise MemtasksError(
            f"{source}: unknown results fields {', '.join(unknown)} for schema version "
            f"{out['schema_version']}"
        )
    return out


def load_results(path: str | Path) -> Results:
    """A results file written by ``memtasks baseline`` (any schema version), as ``Results``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MemtasksError(f"cannot read results {path}: {str(exc).splitlines()[0]}") from None
    return Results.from_dict(data, source=str(path))


def write_results(path: Path, results: Results) -> None:
    """Write through a temporary file and a rename: never half written."""
    write_json(Path(path), results.to_dict())
