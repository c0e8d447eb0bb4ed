"""Choose Numba's threading layer before the first parallel kernel runs.

Numba prefers OpenMP when it is available, but GNU OpenMP is not fork-safe: a process that ran a
parallel kernel and then forks (a torch DataLoader worker, a multiprocessing pool) can hang in
the child. TBB and Numba's own workqueue are fork-safe, so we put them first. A user who sets
NUMBA_THREADING_LAYER keeps their choice.
"""

import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
    numba.config.THREADING_LAYER_PRIORITY = ["tbb", "workqueue", "omp"]
