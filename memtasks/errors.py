"""Errors for bad input: each message is one line naming what is wrong and what is allowed.

The command line turns every ``MemtasksError`` into that line and a nonzero exit, without a
traceback; library users get an ordinary exception they can catch (each is also a ``ValueError``
or ``KeyError`` where that is what it is).
"""

from __future__ import annotations

import difflib


class MemtasksError(Exception):
    """Base class: bad input that the user can fix."""

    def __str__(self) -> str:  # KeyError would otherwise print the message in quotes
        return str(self.args[0]) if self.args else ""


class UnknownTaskError(MemtasksError, KeyError):
    """A task id that is not registered."""


class KnobError(MemtasksError, ValueError):
    """A knob that does not exist, has the wrong type, or lies outside its range."""


class StorageError(MemtasksError, OSError):
    """A dataset folder that is missing, malformed, or would be overwritten."""


class LoaderError(MemtasksError, ValueError):
    """A source file of a real dataset (bAbI text...) that is missing or not in its format;
    the message names the file, the line and what was expected there."""


def did_you_mean(word: str, candidates, n: int = 1) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
