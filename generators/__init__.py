"""Numba-accelerated generators of synthetic tasks, one module per family.

Importing this package registers every task with ``memtasks.registry``.
"""

from . import alstm, babi, ham, longterm, ntm, recall  # noqa: F401
