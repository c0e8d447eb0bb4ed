"""Shared test set-up."""

from __future__ import annotations

import contextlib

with contextlib.suppress(ImportError):  # the tests of torch code skip themselves without it
    import torch

    # The models under test are tiny: one thread is faster than two fighting over a busy CI
    # machine, and it keeps float results independent of the thread count.
    torch.set_num_threads(1)
