"""``memtasks.models`` (the repository's ``reference_models/`` folder): implementations of
the survey's memory architectures, and a baseline runner.

Every model reads the padded batch of ``memtasks.torch.collate`` and returns logits aligned with
its ``targets`` (DESIGN.md section 6). Build one like ``timm.create_model``::

    from memtasks import models
    model = models.create("ntm", "ntm/copy-v1", memory_size=128)
    logits = model(batch)                     # [B, T, D_out]
    loss = models.loss(logits, batch)

``list_models()`` names them; ``memtasks baseline MODEL TASK`` trains one (``runner.py``).
Needs the optional extra ``memtasks[torch]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memtasks.errors import MemtasksError, did_you_mean
from memtasks.knobs import Knobs
from memtasks.registry import TaskSpec, get_spec

from ._base import (
    Hparams,
    IncompatibleError,
    OptimizerSettings,
    SequenceModel,
    TaskIO,
    loss,
    predictions,
)

__all__ = [
    "Hparams",
    "IncompatibleError",
    "OptimizerSettings",
    "SequenceModel",
    "TaskIO",
    "UnknownModelError",
    "create",
    "get_model",
    "list_models",
    "loss",
    "make_hparams",
    "predictions",
    "register_model",
]


class UnknownModelError(MemtasksError, KeyError):
    """A model name that is not registered."""


_MODELS: dict[str, type[SequenceModel]] = {}


def register_model(cls: type[SequenceModel]) -> type[SequenceModel]:
    """Class decorator: make ``cls`` available to ``create`` under ``cls.name``."""
    if not cls.name or cls.name in _MODELS:
        raise ValueError(f"model name {cls.name!r} is empty or taken")
    cls.Hparams.task_id = cls.name  # messages name the model
    _MODELS[cls.name] = cls
    return cls


def list_models() -> list[str]:
    return list(_MODELS)


def get_model(name: str) -> type[SequenceModel]:
    try:
        return _MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}{did_you_mean(name, _MODELS)}; models are: {', '.join(_MODELS)}"
        ) from None


def make_hparams(name: str, values: Mapping[str, Any] | None = None) -> Hparams:
    """The model's hyperparameters: its defaults with ``values`` on top, validated."""
    return get_model(name).Hparams.from_values(dict(values or {}))


def create(
    name: str,
    task: str | TaskSpec,
    *,
    knobs: Knobs | Mapping[str, Any] | None = None,
    preset: str | None = None,
    **hparams: Any,
) -> SequenceModel:
    """Build model ``name`` for ``task`` (an id or a ``TaskSpec``) with its knobs.

    ``knobs`` (a ``Knobs`` object or a dict on top of ``preset``) fixes the widths the model
    reads and writes; ``hparams`` override the model's defaults (``memtasks baseline
    --list-models`` shows them). Unknown or out-of-range values raise one-line errors.
    """
    cls = get_model(name)
    spec = task if isinstance(task, TaskSpec) else get_spec(task)
    if not isinstance(knobs, Knobs):
        knobs = spec.make_knobs(preset, **dict(knobs or {}))
    hp = cls.Hparams.from_values(hparams)
    return cls(TaskIO.of(spec, knobs), hp)


# Importing the model modules registers them, in the order `--list-models` shows.
from . import rnn, lstm, gru, bilstm, transformer, ntm, dnc  # noqa: E402, F401, I001
from . import memnn, memn2n, gated_memn2n, dmn_plus, kvmemnn  # noqa: E402, F401, I001
