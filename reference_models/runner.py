"""The old home of the baseline runner, kept as a thin facade: the runner is now the package
``memtasks.models.training`` (settings, data, evaluation, checkpoints, loop, results).
``RunConfig`` is ``RunSettings``."""

from __future__ import annotations

from .training import (
    CHECKPOINT_FORMAT,
    LR_RANGE,
    Results,
    RunInterrupted,
    RunSettings,
    answer_spans,
    check_readable,
    device_name,
    evaluate,
    fixed_training_set,
    resolve,
    run,
)

RunConfig = RunSettings

__all__ = [
    "CHECKPOINT_FORMAT",
    "LR_RANGE",
    "Results",
    "RunConfig",
    "RunInterrupted",
    "RunSettings",
    "answer_spans",
    "check_readable",
    "device_name",
    "evaluate",
    "fixed_training_set",
    "resolve",
    "run",
]
