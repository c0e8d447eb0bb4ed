"""memtasks: tasks and datasets for studying memory architectures.

>>> import memtasks
>>> batch = memtasks.generate("ntm/copy-v1", n=4, seed=0)
>>> memtasks.list_tasks("ntm")[:2]
['ntm/associative-recall-v1', 'ntm/copy-v1']
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import _numba_setup  # noqa: F401  (threading layer must be chosen before any kernel runs)
from .datasets import load
from .episode import EpisodeBatch
from .errors import KnobError, LoaderError, MemtasksError, StorageError, UnknownTaskError
from .registry import generate, get_spec, list_datasets, list_tasks

try:
    __version__ = version("memtasks")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "EpisodeBatch",
    "KnobError",
    "LoaderError",
    "MemtasksError",
    "StorageError",
    "UnknownTaskError",
    "__version__",
    "generate",
    "get_spec",
    "list_datasets",
    "list_tasks",
    "load",
]
