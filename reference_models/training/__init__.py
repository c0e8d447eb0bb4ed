"""``memtasks.models.training``: the baseline runner behind ``memtasks baseline MODEL TASK``.

- ``settings.py``: ``RunSettings``, the run configuration as one validated object (the command's
  options are generated from it), and ``resolve`` (the model's or variant's defaults);
- ``data.py``: a stream, a fixed training set, or a dataset's splits; the evaluation sets;
- ``evaluation.py``: the task's metric on a set, and the families' evaluation hooks
  (``babi_release.py``: the bAbI release's own files);
- ``checkpoints.py``: the checkpoint format, saving, loading, the output checks;
- ``loop.py``: the training loop (``Trainer.train``), signals, progress;
- ``run.py``: ``run(settings)``, set-up to written results;
- ``results.py``: ``Results``, the versioned results schema, and ``load_results``;
- ``command.py``: the ``memtasks baseline`` command.
"""

from __future__ import annotations

from .checkpoints import CHECKPOINT_FORMAT
from .data import answer_spans, fixed_training_set
from .evaluation import EvaluationHook, evaluate, evaluation_hook, register_evaluation
from .loop import RunInterrupted
from .results import SCHEMA_VERSION, Results, load_results
from .run import check_readable, device_name, run
from .settings import LR_RANGE, RunSettings, resolve

__all__ = [
    "CHECKPOINT_FORMAT",
    "LR_RANGE",
    "SCHEMA_VERSION",
    "EvaluationHook",
    "Results",
    "RunInterrupted",
    "RunSettings",
    "answer_spans",
    "check_readable",
    "device_name",
    "evaluate",
    "evaluation_hook",
    "fixed_training_set",
    "load_results",
    "register_evaluation",
    "resolve",
    "run",
]
