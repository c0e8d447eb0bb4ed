"""``EpisodeBatch.from_kernel``: the one builder of the batches generators make."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from memtasks.episode import EpisodeBatch
from memtasks.generators import _kernels

GENERATORS = Path(_kernels.__file__).parent


@given(
    lengths=st.lists(st.integers(0, 5), max_size=8),
    start=st.integers(0, 2**40),
    with_support=st.booleans(),
)
def test_a_kernel_batch_is_a_valid_batch_of_its_indices(lengths, start, with_support):
    n = len(lengths)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    arrays = _kernels.allocate(total, (1, np.uint8), (1, np.uint8))
    for a in arrays:
        a[...] = 0
    support = None
    if with_support:  # one supporting item per episode, segment 0 of a one-position episode
        support = (np.arange(n + 1, dtype=np.int64), np.zeros(n, np.int32))
    batch = EpisodeBatch.from_kernel(
        offsets, arrays, start, support=support, meta={"k": np.arange(n)}, task="t/x-v1"
    )
    batch.check()
    np.testing.assert_array_equal(batch.index, np.arange(start, start + n))
    assert batch.task == "t/x-v1" and len(batch) == n
    assert len(batch.support) == (n if with_support else 0)
    np.testing.assert_array_equal(batch.support_answer, np.zeros(len(batch.support)))
    assert batch.inputs is arrays[0]  # wrapped, not copied


def test_no_generator_builds_a_batch_by_hand():
    for file in GENERATORS.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "trusted":
                raise AssertionError(f"{file.name}: EpisodeBatch.trusted; use from_kernel")
