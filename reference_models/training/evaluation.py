"""Evaluation: a model's metric on a set of episodes, and the families' evaluation hooks.

The metric reads what its ``reads`` attribute names: ``"predictions"`` (the flat layout of
``model.predictions``; every metric but one) or ``"target_logprobs"`` (the log-probability the
model gives each scored target, in ``batch.targets[batch.mask]`` order: perplexity).

A family (or a dataset spec, through its ``evaluate`` attribute) can declare extra evaluation sets
a run scores besides its own: the bAbI family scores the release's original files
(``babi_release.py``). Hooks register by family name (``register_evaluation``) from modules found
through the entry point group ``memtasks.evaluation`` and the built-in list below; the training
loop asks ``evaluation_hook(spec)`` and never names a family.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memtasks.episode import EpisodeBatch
from memtasks.errors import MemtasksError
from memtasks.knobs import Knobs
from memtasks.plugins import import_plugins

__all__ = [
    "EvaluationHook",
    "autocast",
    "evaluate",
    "evaluation_hook",
    "group_by_meta",
    "register_evaluation",
]

ENTRY_POINT_GROUP = "memtasks.evaluation"
BUILTIN_HOOKS = ("memtasks.models.training.babi_release",)


def autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def group_by_meta(batch: EpisodeBatch, per: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per-episode metrics averaged by each small integer meta field (at most 32 values):
    ``{"by_length": {"20": {...}, "30": {...}}}``. This is how the NTM paper reports copy."""
    out: dict[str, Any] = {}
    for name, values in batch.meta.items():
        values = np.asarray(values)
        if values.ndim != 1 or values.dtype.kind not in "iu":
            continue
        keys = np.unique(values)
        if len(keys) < 2 or len(keys) > 32:
            continue
        groups = {}
        for k in keys:
            sel = values == k
            group = {m: float(v[sel].mean()) for m, v in per.items()}
            if "bit_errors_per_sequence" in per:
                group["sequence_accuracy"] = float(
                    (per["bit_errors_per_sequence"][sel] == 0).mean()
                )
            group["episodes"] = int(sel.sum())
            groups[str(int(k))] = group
        out[f"by_{name}"] = groups
    return out


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    spec: Any,
    batch: EpisodeBatch,
    device: torch.device,
    batch_size: int = 250,
    amp: bool = False,
) -> dict[str, Any]:
    """The task's metric of ``model`` on ``batch`` (evaluated in slices of ``batch_size``),
    with per-episode breakdowns where the metric has them, and the mean loss per scored unit."""
    reads = getattr(spec.metric, "reads", "predictions")
    was_training = model.training
    model.eval()
    outputs, losses, weights = [], [], []
    for lo in range(0, len(batch), batch_size):
        episodes = batch[lo : lo + batch_size]
        part = model.collate(episodes, device)
        with autocast(device, amp):
            out = model(part)
        losses.append(float(model.loss(out, part)))
        weights.append(int(episodes.mask.sum()))
        if reads == "target_logprobs":
            outputs.append(model.target_logprobs(out, part))
        else:
            outputs.append(model.predictions(out, part))
    model.train(was_training)
    read = np.concatenate(outputs)
    metrics: dict[str, Any] = dict(spec.metric.evaluate(batch, read))
    metrics["loss"] = float(np.average(losses, weights=weights)) if sum(weights) else math.nan
    metrics["episodes"] = len(batch)
    if hasattr(spec.metric, "per_episode"):
        metrics.update(group_by_meta(batch, spec.metric.per_episode(batch, read)))
    task = batch.meta.get("task")
    if task is not None and len(np.unique(task)) > 1:  # a joint set: the metric of each task
        position_task = np.repeat(np.asarray(task), batch.lengths)
        flat = read if reads == "predictions" else None
        if flat is not None:
            metrics["by_task"] = {
                str(int(t)): dict(
                    spec.metric.evaluate(
                        batch.take(np.flatnonzero(task == t)), flat[position_task == t]
                    )
                )
                for t in np.unique(task)
            }
    return metrics


# ---------------------------------------------------------------------------------------------
# Evaluation hooks: extra sets a family scores
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluationHook:
    """Extra evaluation sets of a family's tasks, read from a folder of original files.

    ``applies(spec, knobs)`` says whether a task (with these knobs) has such files; ``sets(spec,
    knobs, folder)`` returns ``({set name: EpisodeBatch}, info for the results)``; ``envvar``
    names the variable read where the run gives no folder; ``what`` says in words what the
    folder holds (messages)."""

    what: str
    applies: Callable[[Any, Knobs], bool]
    sets: Callable[[Any, Knobs, Path], tuple[dict[str, EpisodeBatch], dict[str, Any]]]
    envvar: str | None = None


_HOOKS: dict[str, EvaluationHook] = {}
_loaded = False


def register_evaluation(family: str, hook: EvaluationHook) -> EvaluationHook:
    """Make ``hook`` score the tasks of ``family`` (one hook per family)."""
    if family in _HOOKS and _HOOKS[family] is not hook:
        raise ValueError(f"family {family!r} has an evaluation hook already")
    _HOOKS[family] = hook
    return hook


def _load_hooks() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import_plugins(ENTRY_POINT_GROUP, "evaluation hook", BUILTIN_HOOKS)


def evaluation_hook(spec: Any) -> EvaluationHook | None:
    """The hook that scores ``spec``'s extra sets: the spec's own ``evaluate`` (a dataset spec's
    field), else its family's registered one, else None."""
    own = getattr(spec, "evaluate", None)
    if isinstance(own, EvaluationHook):
        return own
    if own is not None:
        raise MemtasksError(
            f"{spec.id}: its evaluate hook must be a memtasks.models.training.EvaluationHook, "
            f"got {type(own).__name__}"
        )
    _load_hooks()
    return _HOOKS.get(spec.family)
