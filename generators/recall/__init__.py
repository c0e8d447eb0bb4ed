"""Recall probes: multi-query associative recall (zoology's MQAR), induction heads, selective
copying, fuzzy and noisy recall (``probes``), and needles hidden in bAbI's long-context filler
(``needle``). Importing the package registers every task of the ``recall`` family."""

from . import needle, probes  # noqa: F401
