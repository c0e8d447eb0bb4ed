"""The bAbI loader's two readers agree: the fast one (distinct lines parsed once, the file laid
out with NumPy) gives exactly what the line-by-line one gives, or leaves the text to it.

The line reader is the specification (every error message comes from it); the fast one is an
optimisation that must never change a result. Hypothesis mutates release-format stories
(characters inserted, removed or replaced, with the format's own: spaces, TABs, newlines,
digits, '?', '.', ',') and checks, for the file's own vocabulary and for a given one: where the
fast reader answers, the line reader accepts the text and its episodes, vocabulary and flags
are equal.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memtasks.errors import LoaderError
from memtasks.loaders import babi
from memtasks.loaders.babi import _Parts, _read_fast, _read_lines, read_file

STORIES = (
    "1 Mary moved to the bathroom.\n"
    "2 John went to the hallway.\n"
    "3 Where is Mary? \tbathroom\t1\n"
    "4 Daniel went back to the hallway.\n"
    "5 Sandra moved to the garden.\n"
    "6 Where is John? \thallway\t2\n"
    "1 Mary moved to the bathroom.\n"
    "2 Where is Mary? \tbathroom\t1\n"
    "3 Daniel picked up the apple there.\n"
    "4 What is Daniel carrying? \tapple,milk\t3 1\n"
    "1 The office is east of the hallway.\n"
    "2 How do you go from the office to the hallway?\tw\t1\n"
    "3 Is Mary in the office? \tno\t\n"
)
ALPHABET = " \t\n?.,019aAMs"


def same(fast: _Parts, slow: _Parts) -> None:
    for name in fast.__dataclass_fields__:
        a, b = getattr(fast, name), getattr(slow, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert np.array_equal(a, b), name
        else:
            assert a == b, name


def both(body: str, vocab=None) -> tuple[_Parts | None, _Parts | LoaderError]:
    fast = _read_fast(body, vocab)
    try:
        slow = _read_lines(Path("t.txt"), body.split("\n") if body else [], vocab)
    except LoaderError as exc:
        slow = exc
    return fast, slow


def test_the_fast_reader_reads_release_text_as_the_line_reader_does():
    body = STORIES[:-1]
    fast, slow = both(body)
    assert fast is not None  # release spelling is the fast reader's
    same(fast, slow)
    fast, slow = both(body, [*slow.vocab, "extra"])
    assert fast is not None
    same(fast, slow)


@pytest.mark.parametrize(
    "body",
    [
        "1 Mary went home.\n3 Where is Mary?\thome\t1",  # an id out of sequence
        "1 Mary went home.\n2 Where is Mary?\thome\t2",  # a support pointing to itself
        "1 Where is Mary?\thome\t\n2 Where is Mary?\thome\t1",  # a support to a question
        "2 Mary went home.",  # no story start
        "1 Mary went home.\n2 Where is Mary? home 1",  # TABs became spaces
        "1 Mary went home.\n2 Where is Mary?\thome milk\t1",  # an answer with a space
        "1 Mary went home.\n2 Where is Mary?\thome\t0",  # support id 0
        "1 Mary went home.\n2 Where is Mary?\thome\t1234567890",  # an id too long
        "1 Mary went home.\n\n2 Where is Mary?\thome\t1",  # an empty line
        "1 Mary went home.\n2 Where is Mary?\thome,\t1",  # an empty answer word
    ],
)
def test_malformed_text_is_left_to_the_line_reader(body):
    fast, slow = both(body)
    assert fast is None and isinstance(slow, LoaderError)


def test_a_word_outside_a_given_vocabulary_is_left_to_the_line_reader():
    fast, slow = both("1 Mary went home.", ("<pad>", "<answer>", ".", "?", "Mary", "went"))
    assert fast is None and "not in the given vocabulary" in str(slow)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(STORIES)),
            st.sampled_from(["insert", "delete", "replace"]),
            st.sampled_from(ALPHABET),
        ),
        min_size=0,
        max_size=4,
    ),
    own_vocab=st.booleans(),
)
def test_where_the_fast_reader_answers_the_line_reader_agrees(edits, own_vocab):
    text = STORIES
    for at, how, char in edits:
        at = min(at, len(text))
        if how == "insert":
            text = text[:at] + char + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    body = text[:-1] if text.endswith("\n") else text
    vocab = None
    if not own_vocab:
        try:
            vocab = _read_lines(Path("v.txt"), STORIES[:-1].split("\n"), None).vocab
        except LoaderError:  # pragma: no cover - the unmutated stories are valid
            raise
    fast, slow = both(body, vocab)
    if fast is not None:
        assert not isinstance(slow, LoaderError), slow
        same(fast, slow)


def test_read_file_gives_the_same_file_either_way(tmp_path, monkeypatch):
    path = tmp_path / "qa1_single-supporting-fact_train.txt"
    path.write_text(STORIES)
    fast = read_file(path)
    monkeypatch.setattr(babi, "_read_fast", lambda body, vocab: None)
    slow = read_file(path)
    assert fast.batch.equals(slow.batch) and fast.vocab == slow.vocab
    assert fast.space_before_tab == slow.space_before_tab
    assert fast.to_text() == slow.to_text()


REAL = os.environ.get("MEMTASKS_BABI_DIR", "")


@pytest.mark.skipif(
    not REAL or not list(Path(REAL).glob("*/*.txt")),
    reason="set MEMTASKS_BABI_DIR to an unpacked bAbI release (a folder with en/*.txt)",
)
def test_every_real_release_file_takes_the_fast_reader():
    for path in sorted(Path(REAL).glob("*/*.txt")):
        text = path.read_text(encoding="utf-8")
        body = text[:-1] if text.endswith("\n") else text
        fast, slow = both(body)
        assert fast is not None, path
        same(fast, slow)
