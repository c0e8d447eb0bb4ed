"""Malformed bAbI text (memtasks/loaders/babi.py): every file either loads, when it is valid, or
is refused with a LoaderError of one line that names the file (and the line at fault) and says
what was expected; never another exception, never a silent misreading.

The first tests pin single cases (a 5,000-digit line id, an empty file, a question whose TABs
became spaces, an answer with a space, a byte order mark...). The property test takes valid
stories written here in the release's format and applies one mutation to one line."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memtasks.errors import LoaderError
from memtasks.loaders.babi import MAX_ID_DIGITS, read_file

# Valid stories in the release's format: space before the TAB (qa1, qa8) and not (qa15, qa19),
# comma-joined answers, several supports in reasoning-chain order, two questions in a story.
STORIES = (
    (
        "1 Mary moved to the bathroom.",
        "2 John went to the hallway.",
        "3 Where is Mary? \tbathroom\t1",
        "4 Daniel went back to the hallway.",
        "5 Where is Daniel? \thallway\t4",
    ),
    (
        "1 Daniel picked up the apple there.",
        "2 Mary went to the kitchen.",
        "3 Daniel took the milk.",
        "4 What is Daniel carrying? \tapple,milk\t1 3",
        "5 Daniel dropped the apple.",
        "6 What is Daniel carrying? \tmilk\t3 5",
    ),
    (
        "1 Mice are afraid of wolves.",
        "2 Gertrude is a mouse.",
        "3 What is gertrude afraid of?\twolf\t2 1",
    ),
    (
        "1 The office is east of the hallway.",
        "2 The kitchen is north of the office.",
        "3 How do you go from the kitchen to the office?\ts\t2",
    ),
)
VALID = "1 Mary moved to the bathroom.\n2 Where is Mary? \tbathroom\t1\n"


def refused(path: Path, line: int | None = None) -> str:
    """The message of the LoaderError reading ``path`` raises; checks its shape."""
    with pytest.raises(LoaderError) as info:
        read_file(path)
    message = str(info.value)
    assert message.splitlines() == [message], message  # one line, whatever the input held
    assert message.startswith(f"{path}:" if line is None else f"{path}:{line}: "), message
    return message


def write(folder: Path, data: str | bytes, name: str = "qa1_bad_train.txt") -> Path:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# -- single cases ----------------------------------------------------------------------------
def test_a_line_id_of_thousands_of_digits_is_refused_not_a_raw_value_error(tmp_path):
    # int() of more than 4,300 digits raises ValueError; the loader must not reach it
    path = write(tmp_path, "1" * 5000 + " Mary went home.\n")
    message = refused(path, 1)
    assert f"line id must be a positive integer of at most {MAX_ID_DIGITS} digits" in message
    assert "5000 digits" in message and len(message) < 300  # the id is not echoed in full
    path = write(tmp_path, "1 Mary went home.\n2 Where is Mary? \thome\t" + "1" * 5000 + "\n")
    assert "supporting line id must be a positive integer of at most" in refused(path, 2)
    # ten digits: over the bound (ids are int32 downstream), though int() could convert it
    path = write(tmp_path, "1 Mary went home.\n2 Where is Mary? \thome\t1000000000\n")
    assert "at most 9 digits, got 10 digits" in refused(path, 2)


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf"], ids=["empty", "bom-only"])
def test_an_empty_file_is_refused_not_read_as_zero_stories(tmp_path, data):
    assert "holds no stories" in refused(write(tmp_path, data))


def test_a_question_whose_tabs_became_spaces_is_refused_not_read_as_a_statement(tmp_path):
    for tail in ("? bathroom 1", "?  bathroom 1", "?"):
        path = write(tmp_path, f"1 Mary moved to the bathroom.\n2 Where is Mary{tail}\n")
        message = refused(path, 2)
        assert "expected a question line 'question?<TAB>answer<TAB>supporting ids'" in message
        assert "with no TAB" in message


@pytest.mark.parametrize("answer", ["x y", "apple, milk", " bathroom", "bathroom "])
def test_an_answer_with_a_space_is_refused_not_read_as_one_word(tmp_path, answer):
    path = write(tmp_path, f"1 Mary moved to the bathroom.\n2 Where is Mary? \t{answer}\t1\n")
    message = refused(path, 2)
    assert f"answer {answer!r} has a space; answers are words joined by ','" in message


def test_a_byte_order_mark_is_stripped_and_written_back(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + VALID.encode())
    read = read_file(path)
    plain = read_file(write(tmp_path, VALID, "plain.txt"))
    assert read.vocab == plain.vocab  # "1" did not become "\ufeff1", the first line is line 1
    assert read.batch.inputs.tolist() == plain.batch.inputs.tolist()
    assert read.bom and not plain.bom
    assert read.to_text().encode() == path.read_bytes()


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        ("1 Mary went\x00 home.\n", 1, "U+0000"),
        ("1 Mary went home.\n2 John\x07 went home.\n", 2, "U+0007"),
        ("1 Mary went\xa0home.\n", 1, "U+00A0"),  # str.split() would take it for a space
        ("1 Mary went\u2028home.\n", 1, "U+2028"),
        ("1 Mary went home.\n2 John went\r home.\n", 2, "a bare CR"),
        ("1 Mary went home.\r\n2 John went home.\n3 Where is Mary? \thome\t1\r\n", 2, "mixed"),
        ("1 Mary went home.\n2 Where is Mary? \thome\t1\r\n", 1, "mixed"),
    ],
)
def test_control_characters_and_mixed_line_endings_are_refused(tmp_path, data, line, message):
    assert message in refused(write(tmp_path, data), line)


# -- the property: mutations of valid stories --------------------------------------------------
@st.composite
def stories(draw) -> list[str]:
    picks = draw(st.lists(st.sampled_from(range(len(STORIES))), min_size=1, max_size=3))
    return [line for p in picks for line in STORIES[p]]


def _id(line: str) -> int:
    return int(line.split(" ", 1)[0])


def _questions(lines: list[str]) -> list[int]:
    return [k for k, line in enumerate(lines) if "\t" in line]


def _text(lines: list[str], newline: str = "\n", final: bool = True) -> bytes:
    return (newline.join(lines) + (newline if final else "")).encode()


# Each mutation returns (bytes, expectation): "valid" (loads, as the same episodes), a line
# number (refused at that line), or None (either outcome, but a refusal has the right shape).
@st.composite
def mutated(draw) -> tuple[list[str], bytes, object]:
    lines = draw(stories())
    kind = draw(st.sampled_from(MUTATIONS))
    data, expect = kind(draw, list(lines))
    return lines, data, expect


def m_crlf(draw, lines):
    return _text(lines, "\r\n", draw(st.booleans())), "valid"


def m_bom(draw, lines):
    return b"\xef\xbb\xbf" + _text(lines, draw(st.sampled_from(["\n", "\r\n"]))), "valid"


def m_no_final_newline(draw, lines):
    return _text(lines, final=False), "valid"


def m_one_crlf_line(draw, lines):
    # one line ending in CRLF, the others in LF: the first LF-ended line is refused
    k = draw(st.integers(0, len(lines) - 1))
    text = "".join(line + ("\r\n" if j == k else "\n") for j, line in enumerate(lines))
    others = [j for j in range(len(lines)) if j != k]
    return text.encode(), (others[0] + 1 if others else "valid")


def m_drop_tab(draw, lines):
    k = draw(st.sampled_from(_questions(lines)))
    tab = draw(st.sampled_from([i for i, c in enumerate(lines[k]) if c == "\t"]))
    lines[k] = lines[k][:tab] + lines[k][tab + 1 :]
    return _text(lines), k + 1


def m_duplicate_tab(draw, lines):
    k = draw(st.sampled_from(_questions(lines)))
    tab = draw(st.sampled_from([i for i, c in enumerate(lines[k]) if c == "\t"]))
    lines[k] = lines[k][:tab] + "\t" + lines[k][tab:]
    return _text(lines), k + 1


def m_tabs_to_spaces(draw, lines):
    k = draw(st.sampled_from(_questions(lines)))
    lines[k] = lines[k].replace("\t", draw(st.sampled_from([" ", "  "])))
    return _text(lines), k + 1


def m_line_id(draw, lines):
    # a wrong id: neither 1 (a new story) nor the one that continues the story above
    k = draw(st.integers(0, len(lines) - 1))
    allowed = {1} | ({_id(lines[k - 1]) + 1} if k else set())
    new = draw(
        st.one_of(
            st.integers(0, 30).filter(lambda v: v not in allowed).map(str),
            st.integers(-30, -1).map(str),  # not an id at all
            st.text(st.sampled_from("abcxyz²٣.-+"), min_size=1, max_size=4),
            st.integers(10, 5000).map(lambda n: "9" * n),  # too many digits
        )
    )
    lines[k] = new + " " + lines[k].split(" ", 1)[1]
    return _text(lines), k + 1


def m_answer(draw, lines):
    k = draw(st.sampled_from(_questions(lines)))
    question, _, support = lines[k].split("\t")
    answer = draw(st.sampled_from(["", "x y", "apple, milk", " s", "s ", "a,,b", ",a", "a,"]))
    lines[k] = f"{question}\t{answer}\t{support}"
    return _text(lines), k + 1


def m_support(draw, lines):
    k = draw(st.sampled_from(_questions(lines)))
    question, answer, support = lines[k].split("\t")
    own = _id(lines[k])
    earlier_questions = [
        _id(lines[j])
        for j in range(k - own + 1, k)
        if "\t" in lines[j]  # questions above it in the same story
    ]
    bad = draw(
        st.one_of(
            st.integers(own, own + 5),  # this line or a later one
            st.just(0),  # no line
            st.sampled_from(earlier_questions or [own]),  # a question line
            st.sampled_from(["x", "1.5", "-1", "1" * 5000]),
        )
    )
    ids = support.split() + [str(bad)]
    lines[k] = f"{question}\t{answer}\t{' '.join(draw(st.permutations(ids)))}"
    return _text(lines), k + 1


def m_control(draw, lines):
    # a control character or a non-space whitespace character inside a line
    k = draw(st.integers(0, len(lines) - 1))
    at = draw(st.integers(0, len(lines[k])))
    char = draw(st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\x85", "\xa0", "\u2028", "\r"]))
    if char == "\r":
        at = min(at, len(lines[k]) - 1)  # a CR before the LF would make a (valid) CRLF ending
    lines[k] = lines[k][:at] + char + lines[k][at:]
    return _text(lines), k + 1


def m_bad_utf8(draw, lines):
    k = draw(st.integers(0, len(lines) - 1))
    at = draw(st.integers(0, len(lines[k])))
    byte = draw(st.sampled_from([b"\x80", b"\xbf", b"\xc0", b"\xc3", b"\xe9", b"\xf8", b"\xff"]))
    data = [line.encode() for line in lines]
    data[k] = data[k][:at] + byte + data[k][at:]
    return b"\n".join(data) + b"\n", k + 1


def m_random_unicode(draw, lines):
    k = draw(st.integers(0, len(lines) - 1))
    at = draw(st.integers(0, len(lines[k])))
    junk = draw(st.text(st.characters(codec="utf-8"), min_size=1, max_size=3))
    lines[k] = lines[k][:at] + junk + lines[k][at:]
    return _text(lines), None


def m_cut(draw, lines):
    # bytes cut out anywhere, across lines and inside UTF-8 sequences alike
    data = _text(lines)
    a = draw(st.integers(0, len(data) - 1))
    b = draw(st.integers(a + 1, min(len(data), a + 40)))
    return data[:a] + data[b:], None


MUTATIONS = (
    m_crlf, m_bom, m_no_final_newline, m_one_crlf_line, m_drop_tab, m_duplicate_tab,
    m_tabs_to_spaces, m_line_id, m_answer, m_support, m_control, m_bad_utf8, m_random_unicode,
    m_cut,
)  # fmt: skip
_files = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=mutated())
def test_malformed_text_loads_only_when_valid_and_is_otherwise_refused_in_one_line(tmp_path, case):
    lines, data, expect = case
    path = write(tmp_path, data, f"qa1_case{next(_files)}_train.txt")
    if expect == "valid":
        read = read_file(path)
        clean = read_file(write(tmp_path, _text(lines), f"clean{next(_files)}.txt"))
        assert read.vocab == clean.vocab
        for name in ("inputs", "targets", "role", "segment", "support", "support_answer"):
            assert getattr(read.batch, name).tolist() == getattr(clean.batch, name).tolist()
        assert read.to_text().encode() == data  # and it writes back the same bytes
    elif expect is None:
        try:
            read_file(path)
        except LoaderError:
            refused(path)  # the shape of the message: one line, starting with the file
    else:
        refused(path, expect)
