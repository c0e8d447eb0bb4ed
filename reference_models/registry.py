"""The model registry: names -> model classes, and named variants of them (paper configurations).

Model files register themselves when imported (``@register_model``) and declare their paper
configurations beside the class (``register_variant``). This module imports no model file at
import time and nothing above it (the package ``memtasks.models`` only re-exports it), so a model
file can import it without a cycle.

Where the models come from: the entry point group ``memtasks.models`` (``pyproject.toml``; a
third-party package adds its own models there, each value a module that registers when
imported), and the built-in modules below, imported even where no metadata is installed (a
checkout on ``sys.path``). They are loaded on the first lookup.

Variants are named ``MODEL.CONFIG`` (``memn2n.babi-1k``, ``ntm.copy``), as timm names pretrained
configurations: a model with the hyperparameters, training settings, optimiser changes and task
knobs of one experiment of its paper, and the citation they come from. Anything given
explicitly (``--hp``, ``--epochs``...) goes on top of the variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from memtasks.errors import MemtasksError, did_you_mean
from memtasks.knobs import Knobs
from memtasks.plugins import import_plugins

from ._base import Hparams, SequenceModel, TaskIO

__all__ = [
    "BUILTIN_MODELS",
    "ENTRY_POINT_GROUP",
    "UnknownModelError",
    "Variant",
    "create",
    "get_model",
    "get_variant",
    "list_models",
    "list_variants",
    "lookup",
    "make_hparams",
    "register_model",
    "register_variant",
]

ENTRY_POINT_GROUP = "memtasks.models"
# In the order ``memtasks baseline --list-models`` shows them; pyproject.toml declares the same.
BUILTIN_MODELS = (
    "memtasks.models.rnn",
    "memtasks.models.lstm",
    "memtasks.models.gru",
    "memtasks.models.bilstm",
    "memtasks.models.transformer",
    "memtasks.models.ntm",
    "memtasks.models.dnc",
    "memtasks.models.memnn",
    "memtasks.models.memn2n",
    "memtasks.models.gated_memn2n",
    "memtasks.models.dmn_plus",
    "memtasks.models.kvmemnn",
)


class UnknownModelError(MemtasksError, KeyError):
    """A model or variant name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Variant:
    """One named configuration of a model, from the experiment of a paper.

    ``training`` holds run settings (``memtasks.models.training.RunSettings`` fields:
    ``train_questions``, ``epochs``, ``batch_size``, ``steps``, ``patience``); ``optimizer``
    changes the model's ``OptimizerSettings``; ``knobs`` are the task knobs of the experiment,
    applied only when the run's task is ``task`` (a variant trained elsewhere keeps the task's
    own knobs). ``source`` says where every number comes from.
    """

    name: str  # MODEL.CONFIG
    summary: str
    source: str
    task: str | None = None  # the task or dataset id of the experiment
    hparams: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    optimizer: Mapping[str, Any] = field(default_factory=dict)
    knobs: Mapping[str, Any] = field(default_factory=dict)
    reported: str = ""  # what the paper reports for this configuration, with its table

    @property
    def model(self) -> str:
        return self.name.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "hparams": dict(self.hparams),
            "training": dict(self.training),
            "optimizer": dict(self.optimizer),
            "knobs": dict(self.knobs),
            "source": self.source,
        }


_MODELS: dict[str, type[SequenceModel]] = {}
_VARIANTS: dict[str, Variant] = {}
_loaded = False


def register_model(cls: type[SequenceModel]) -> type[SequenceModel]:
    """Class decorator: make ``cls`` available to ``create`` under ``cls.name``."""
    if not cls.name or "." in cls.name or cls.name in _MODELS:
        raise ValueError(f"model name {cls.name!r} is empty, has a dot or is taken")
    cls.Hparams.task_id = cls.name  # messages name the model
    _MODELS[cls.name] = cls
    return cls


def register_variant(variant: Variant) -> Variant:
    """Declare a named configuration of a registered model (checked now: its hyperparameters
    must be the model's, so a typo fails on import, not an hour into a run)."""
    model, _, config = variant.name.partition(".")
    if not config or variant.name in _VARIANTS:
        raise ValueError(f"variant name {variant.name!r} is not MODEL.CONFIG or is taken")
    if model not in _MODELS:
        raise ValueError(f"variant {variant.name!r}: register the model {model!r} first")
    if not variant.source:
        raise ValueError(f"variant {variant.name!r} must cite where its numbers come from")
    _MODELS[model].Hparams.from_values(dict(variant.hparams))
    _VARIANTS[variant.name] = variant
    return variant


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import_plugins(ENTRY_POINT_GROUP, "model module", BUILTIN_MODELS)


def _rank(name: str) -> tuple[int, int]:
    module = _MODELS[name].__module__
    order = BUILTIN_MODELS.index(module) if module in BUILTIN_MODELS else len(BUILTIN_MODELS)
    return order, list(_MODELS).index(name)


def list_models() -> list[str]:
    """The registered models (not their variants), built-in ones in a fixed order."""
    _ensure_loaded()
    return sorted(_MODELS, key=_rank)


def list_variants(model: str | None = None) -> list[str]:
    """The named variants (``MODEL.CONFIG``), only ``model``'s when given."""
    _ensure_loaded()
    return [v for v in _VARIANTS if model is None or _VARIANTS[v].model == model]


def lookup(name: str) -> tuple[type[SequenceModel], Variant | None]:
    """The model class of ``name`` (a model or a variant) and the variant, if it is one."""
    _ensure_loaded()
    if name in _MODELS:
        return _MODELS[name], None
    if name in _VARIANTS:
        variant = _VARIANTS[name]
        return _MODELS[variant.model], variant
    known = [*_MODELS, *_VARIANTS]
    model = name.partition(".")[0]
    if "." in name and model in _MODELS:
        mine = list_variants(model)
        raise UnknownModelError(
            f"unknown variant {name!r}{did_you_mean(name, known)}; variants of {model}: "
            f"{', '.join(mine) or 'none'}"
        )
    raise UnknownModelError(
        f"unknown model {name!r}{did_you_mean(name, known)}; models are: {', '.join(list_models())}"
    )


def get_model(name: str) -> type[SequenceModel]:
    """The class of model ``name`` (a variant's name gives its model's class)."""
    return lookup(name)[0]


def get_variant(name: str) -> Variant:
    cls, variant = lookup(name)
    if variant is None:
        raise UnknownModelError(f"{name!r} is a model, not a variant (MODEL.CONFIG)")
    return variant


def make_hparams(name: str, values: Mapping[str, Any] | None = None) -> Hparams:
    """The hyperparameters of ``name``: the model's defaults, a variant's values over them,
    then ``values`` on top; validated."""
    cls, variant = lookup(name)
    base = dict(variant.hparams) if variant is not None else {}
    return cls.Hparams.from_values({**base, **dict(values or {})})


def create(
    name: str,
    task: Any,
    *,
    knobs: Knobs | Mapping[str, Any] | None = None,
    preset: str | None = None,
    **hparams: Any,
) -> SequenceModel:
    """Build model ``name`` (or variant ``MODEL.CONFIG``) for ``task`` (an id or a spec).

    ``knobs`` (a ``Knobs`` object or a dict on top of ``preset``) fixes the widths the model
    reads and writes; ``hparams`` override the model's (or variant's) values (``memtasks
    baseline --list-models`` shows them). Unknown or out-of-range values raise one-line errors.
    """
    from memtasks.registry import get_spec

    cls, _ = lookup(name)
    spec = get_spec(task) if isinstance(task, str) else task
    if not isinstance(knobs, Knobs):
        knobs = spec.make_knobs(preset, **dict(knobs or {}))
    return cls(TaskIO.of(spec, knobs), make_hparams(name, hparams))
