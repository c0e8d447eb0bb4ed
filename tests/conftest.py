"""Shared test set-up."""

from __future__ import annotations

import contextlib
import os

# The first-use notice (generators/_kernels.py) speaks or not by what Numba's on-disk cache
# holds, so a test comparing stderr exactly would pass or fail by what ran before it; the tests
# of the notice itself run processes without this variable.
os.environ["MEMTASKS_QUIET"] = "1"

with contextlib.suppress(ImportError):  # the tests of torch code skip themselves without it
    import torch

    # The models under test are tiny: one thread is faster than two fighting over a busy CI
    # machine, and it keeps float results independent of the thread count.
    torch.set_num_threads(1)
