"""``memtasks.models`` (the repository's ``reference_models/`` folder): implementations of
the survey's memory architectures, and a baseline runner.

Every model reads the padded batch of ``memtasks.torch.collate`` and returns logits aligned with
its ``targets`` (DESIGN.md section 6). Build one like ``timm.create_model``::

    from memtasks import models
    model = models.create("ntm", "ntm/copy-v1", memory_size=128)
    logits = model(batch)                     # [B, T, D_out]
    loss = models.loss(logits, batch)

``list_models()`` names them and ``list_variants()`` their paper configurations
(``memn2n.babi-1k``, ``ntm.copy``: ``registry.py``); ``memtasks baseline MODEL TASK`` trains one
(``training/``). This module only re-exports: model files import ``registry`` and ``_base``.
Needs the optional extra ``memtasks[torch]``.
"""

from __future__ import annotations

from ._base import (
    Hparams,
    IncompatibleError,
    OptimizerSettings,
    SequenceModel,
    TaskIO,
    loss,
    predictions,
)
from .registry import (
    UnknownModelError,
    Variant,
    create,
    get_model,
    get_variant,
    list_models,
    list_variants,
    make_hparams,
    register_model,
    register_variant,
)

__all__ = [
    "Hparams",
    "IncompatibleError",
    "OptimizerSettings",
    "SequenceModel",
    "TaskIO",
    "UnknownModelError",
    "Variant",
    "create",
    "get_model",
    "get_variant",
    "list_models",
    "list_variants",
    "loss",
    "make_hparams",
    "predictions",
    "register_model",
    "register_variant",
]
