"""bAbI text: the released file format, written from episodes and read into episodes.

The format (bAbI v1.2, released with Weston et al. 2015, arXiv:1502.05698; the release's
README describes it)::

    1 Mary moved to the bathroom.
    2 John went to the hallway.
    3 Where is Mary? \tbathroom\t1

Line ids start at 1 in each story and count question lines too; a question line holds the
question, a TAB, the answer (several words joined by commas, no spaces: ``apple,milk``), a TAB
and the ids of the supporting lines, space separated, in the release's order (reasoning-chain
order, not sorted). In en tasks 1-3 and 5-14 a space precedes the first TAB.

Episodes store words in the case they have mid-sentence ("Mary", "the"); the first letter of
every line is capitalised when text is written, and lowered when it is read unless the word
appears capitalised mid-sentence somewhere in the same file (so names keep their capitals and
"gertrude", lower-case in the release's qa15 questions, stays lower-case). Writing what was read
gives back the same bytes.

Reading (``read_file``, ``load``) gives the episodes the generators make: each statement is a
context segment (0, 1, ... in story order), each question a query span followed by one scored
answer position per answer word (input ``<answer>``, target the word), supports are segment ids
in the file's order. Words are split on spaces with ``.``, ``?`` and ``,`` tokens of their own;
the vocabulary is ``<pad>``, ``<answer>``, ``.``, ``?``, then every word in order of first
appearance in the file. Meta: ``task`` (the bAbI task number, from the file name), ``statements``,
``questions``, ``question_template`` (-1: the text does not say which template a question used)
and ``support_distance`` (statements from a question back to its earliest support, as the
generators count it). The round trip is exact for
files in the release's spacing (single spaces, punctuation attached, every line starting with a
capital or a non-letter), which every released file is. A leading UTF-8 byte order mark is
stripped and recorded (``BabiFile.bom``), so it is written back too.

Refused, with ``file:line: what was expected``: anything but ``ID text`` lines with ids 1, 2,
... per story; ids of more than ``MAX_ID_DIGITS`` digits; a statement holding a '?' (a question
whose TABs became spaces); an answer with whitespace in it; supports that do not point to an
earlier statement; control characters, whitespace other than spaces and TABs, and mixed line
endings; bytes that are not UTF-8; and (``file: holds no stories``) an empty file.

``shuffled``: the release's ``shuffled`` variant is English text under a fixed letter
substitution, with separate mappings for upper- and lower-case letters. Its key was never
published, so memtasks defines its own (``CIPHER_LOWER``/``CIPHER_UPPER``) and applies it the
same way, to the whole text after capitalisation: ``cipher``, ``decipher``, ``cipher_vocab``.
"""

from __future__ import annotations

import itertools
import re
import string
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_QUERY, EpisodeBatch
from ..errors import LoaderError, MemtasksError, did_you_mean

# Task number -> the release's file-name part: qa{N}_{name}_{split}.txt
TASK_NAMES = {
    1: "single-supporting-fact", 2: "two-supporting-facts", 3: "three-supporting-facts",
    4: "two-arg-relations", 5: "three-arg-relations", 6: "yes-no-questions", 7: "counting",
    8: "lists-sets", 9: "simple-negation", 10: "indefinite-knowledge", 11: "basic-coreference",
    12: "conjunction", 13: "compound-coreference", 14: "time-reasoning", 15: "basic-deduction",
    16: "basic-induction", 17: "positional-reasoning", 18: "size-reasoning", 19: "path-finding",
    20: "agents-motivations",
}  # fmt: skip
# en tasks whose question lines have a space before the first TAB in the release
SPACE_BEFORE_TAB = frozenset({1, 2, 3, *range(5, 15)})

# The release's folders (tasks_1-20_v1-2/<variant>/) and the splits each holds. The en-valid
# folders split en's train 90/10 into train/valid and name files qaN_<split>.txt.
VARIANTS = {
    "en": ("train", "test"), "en-10k": ("train", "test"),
    "hn": ("train", "test"), "hn-10k": ("train", "test"),
    "shuffled": ("train", "test"), "shuffled-10k": ("train", "test"),
    "en-valid": ("train", "valid", "test"), "en-valid-10k": ("train", "valid", "test"),
}  # fmt: skip
TEXT_FAMILIES = ("babi", "world")  # task families whose episodes are stories bAbI text can hold

SPECIAL = ("<pad>", "<answer>", ".", "?")  # the first ids of every bAbI vocabulary
ANSWER_TOKEN = 1  # what an answer position reads

# memtasks' shuffled key: a permutation of the lower-case letters and, separately, of the
# upper-case ones, each drawn once with numpy.random.default_rng(150205698).permutation(26)
# (lower first, then upper; a permutation with a fixed point was redrawn). Fixed forever: it
# is part of the meaning of every shuffled file memtasks writes.
CIPHER_SEED = 150205698
CIPHER_LOWER = "cgbylisjqzxaerhutkvfowpdmn"  # a->c, b->g, ...
CIPHER_UPPER = "GINCKJOTSHXWQEBULMYFVDRZPA"  # A->G, B->I, ...
_ENCIPHER = str.maketrans(
    string.ascii_lowercase + string.ascii_uppercase, CIPHER_LOWER + CIPHER_UPPER
)
_DECIPHER = str.maketrans(
    CIPHER_LOWER + CIPHER_UPPER, string.ascii_lowercase + string.ascii_uppercase
)
_TASK_ID = re.compile(r"^qa(\d+)$")
_FILE_TASK = re.compile(r"^qa(\d+)_")


# Line and supporting ids: at most 9 digits. Segment and support ids are int32, and int() of a
# very long digit string raises a ValueError (Python's limit on str-to-int digits), so a longer
# id is refused before it is converted; no real story comes near 10**9 lines.
MAX_ID_DIGITS = 9
# Characters a line may not hold, besides the newline: C0/C1 controls (NUL, a bare CR, ...) and
# whitespace other than the space and the TAB (NBSP, U+2028, ...), which ``words`` would treat
# as a space: the file would load, but its text could not be written back.
_BAD_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_BAD_CHAR = {
    "\n": re.compile(rf"[{_BAD_CHARS}\r]"),  # a LF file: any CR is out of place
    # a CRLF file: a CR not before a LF, or a LF not after a CR (mixed line endings)
    "\r\n": re.compile(rf"[{_BAD_CHARS}]|\r(?!\n)|(?<!\r)\n"),
}
BOM = "\ufeff"


def _is_id(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` alone accepts "²"; a regex is 10x slower here)."""
    return text.isdigit() and text.isascii()


# -- names ------------------------------------------------------------------------------------
def release_file_name(task: int, split: str) -> str:
    """``qa1_single-supporting-fact_train.txt``: the release's name for a task's split."""
    return f"qa{task}_{TASK_NAMES[task]}_{split}.txt"


def task_number(task_id: str) -> int | None:
    """``babi/qa3-v1`` -> 3; None for other tasks."""
    family, _, name = task_id.partition("/")
    match = _TASK_ID.match(name.rsplit("-v", 1)[0])
    if family == "babi" and match:
        return int(match.group(1))
    return None


def text_file_name(task_id: str, split: str) -> str:
    """The file a task's split is written to as bAbI text: the release's name for the 20 tasks
    (``qa1_single-supporting-fact_train.txt``), ``<family>-<name>_<split>.txt`` for other
    story tasks (``world/qa-v1`` -> ``world-qa_train.txt``)."""
    number = task_number(task_id)
    if number in TASK_NAMES:
        return release_file_name(number, split)
    family, _, name = task_id.partition("/")
    return f"{family}-{name.rsplit('-v', 1)[0]}_{split}.txt"


def task_space_before_tab(task_id: str) -> bool:
    """Whether the release puts a space before a question line's TAB for this task."""
    return task_number(task_id) in SPACE_BEFORE_TAB


def check_text_task(spec, layout) -> None:
    """Refuse, in one line, a task whose episodes bAbI text cannot hold."""
    if spec.family not in TEXT_FAMILIES or not layout.vocab or layout.input_channels:
        raise MemtasksError(
            f"{spec.id} cannot be written as bAbI text: format 'babi' takes the story tasks of "
            f"the {' and '.join(TEXT_FAMILIES)} families; use parquet or jsonl"
        )


# -- the shuffled cipher ----------------------------------------------------------------------
def cipher(text: str) -> str:
    """``text`` under memtasks' shuffled key (letters only; case keeps its own mapping)."""
    return text.translate(_ENCIPHER)


def decipher(text: str) -> str:
    """The inverse of ``cipher``."""
    return text.translate(_DECIPHER)


def cipher_vocab(vocab: Iterable[str]) -> tuple[str, ...]:
    """Every word ciphered, same ids: episodes read with it are shuffled bAbI. Markers such as
    ``<pad>`` and ``<answer>`` stay as they are. A word keeps its stored (mid-sentence) case,
    so rendering capitalises the ciphered word; ``to_text(..., shuffled=True)`` instead ciphers
    the capitalised text, as the release did."""
    return tuple(w if w.startswith("<") and w.endswith(">") else cipher(w) for w in vocab)


# -- writing ----------------------------------------------------------------------------------
def render_line(tokens, vocab) -> str:
    """Text of one sentence from its token ids: words joined by spaces, punctuation attached,
    the first letter capitalised."""
    out = ""
    for t in tokens:
        w = vocab[int(t)]
        out += w if (w in ".?," or not out) else " " + w
    return out[:1].upper() + out[1:]


def _gaps(space_before_tab: bool | Sequence[bool]) -> Iterator[bool]:
    """One space-before-TAB flag per question line, in order."""
    if isinstance(space_before_tab, (bool, np.bool_)):
        return itertools.repeat(bool(space_before_tab))
    return iter(space_before_tab)


def _render(batch: EpisodeBatch, vocab, gaps: Iterator[bool]) -> Iterator[list[str]]:
    """The lines of each episode's story (see ``story_lines``); works on plain lists so that a
    million episodes take seconds, not minutes."""
    if batch.is_vector:
        raise ValueError("bAbI text holds token episodes; this batch has vector inputs")
    inputs, targets = batch.inputs.tolist(), batch.targets.tolist()
    role, segment = batch.role.tolist(), batch.segment.tolist()
    offsets, soffsets = batch.offsets.tolist(), batch.support_offsets.tolist()
    support, support_answer = batch.support.tolist(), batch.support_answer.tolist()
    for b in range(len(batch)):
        supports: dict[int, list[int]] = {}
        for k in range(soffsets[b], soffsets[b + 1]):
            supports.setdefault(support_answer[k], []).append(support[k])
        out: list[str] = []
        line_of_segment: dict[int, int] = {}
        t, n, answer_no = offsets[b], offsets[b + 1], 0
        while t < n:
            r = role[t]
            u = t
            if r == ROLE_CONTEXT:
                seg = segment[t]
                while u < n and role[u] == ROLE_CONTEXT and segment[u] == seg:
                    u += 1
                line_of_segment[seg] = len(out) + 1
                out.append(f"{len(out) + 1} {render_line(inputs[t:u], vocab)}")
            elif r == ROLE_QUERY:
                while u < n and role[u] == ROLE_QUERY:
                    u += 1
                w = u
                while w < n and role[w] == ROLE_ANSWER:
                    w += 1
                words = ",".join(vocab[x] for x in targets[u:w])
                ids = " ".join(str(line_of_segment[s]) for s in supports.get(answer_no, ()))
                flag = next(gaps, None)
                if flag is None:
                    raise ValueError("space_before_tab has fewer flags than there are questions")
                gap = " " if flag else ""
                out.append(f"{len(out) + 1} {render_line(inputs[t:u], vocab)}{gap}\t{words}\t{ids}")
                answer_no += 1
                u = w
            else:
                raise ValueError(
                    f"episode {int(batch.index[b])} has a position of role {r} at step "
                    f"{t - offsets[b]} that bAbI text cannot hold (only context, question and "
                    "answer)"
                )
            t = u
        yield out


def story_lines(batch: EpisodeBatch, i: int, vocab, *, space_before_tab: bool = False) -> list[str]:
    """Episode ``i`` of a token batch as the lines of one released story (without newlines).

    Context items (``segment``) become numbered statements, each question run its question
    line; an answer's words are joined by commas and its supporting items become line ids.
    """
    return next(_render(batch[i], vocab, _gaps(space_before_tab)))


def to_text(
    batch: EpisodeBatch,
    vocab,
    *,
    space_before_tab: bool | Sequence[bool] = False,
    shuffled: bool = False,
) -> str:
    """All episodes of a batch in the released format, one story after another.

    ``space_before_tab`` is one flag for every question line or one per question line in
    order; ``shuffled`` writes the text under memtasks' cipher (see ``cipher``)."""
    lines = [line for story in _render(batch, vocab, _gaps(space_before_tab)) for line in story]
    text = "\n".join(lines) + ("\n" if lines else "")
    return cipher(text) if shuffled else text


# -- reading ----------------------------------------------------------------------------------
def words(text: str) -> list[str]:
    """Tokens of a sentence: words split on spaces, with ``.``, ``?`` and ``,`` on their own."""
    # str.replace, not re.sub: re's template expansion is most of a file's reading time
    return text.replace(".", " . ").replace("?", " ? ").replace(",", " , ").split()


@dataclass(frozen=True, eq=False)
class BabiFile:
    """What ``read_file`` returns: unpacks as ``batch, vocab``; also keeps what writing the
    same bytes back needs (``to_text()``)."""

    batch: EpisodeBatch
    vocab: tuple[str, ...]
    path: str
    # True/False when every question line has/lacks a space before its TAB; otherwise one flag
    # per question line, in file order
    space_before_tab: bool | tuple[bool, ...]
    newline: str = "\n"
    final_newline: bool = True
    memtasks_cipher: bool = False  # the file was under memtasks' cipher and was deciphered
    bom: bool = False  # the file began with a UTF-8 byte order mark (stripped, written back)

    def __iter__(self):
        return iter((self.batch, self.vocab))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int):
        return (self.batch, self.vocab)[i]

    def to_text(self) -> str:
        """The file's text written back from its episodes (equal to it; see the module doc)."""
        text = to_text(self.batch, self.vocab, space_before_tab=self.space_before_tab)
        if self.newline != "\n":
            text = text.replace("\n", self.newline)
        if not self.final_newline and text:
            text = text[: -len(self.newline)]
        text = cipher(text) if self.memtasks_cipher else text
        return BOM + text if self.bom else text


@dataclass(slots=True)
class _Line:
    tokens: list[str]
    question: bool
    answer: list[str]
    supports: list[int]  # indices into the story's lines
    gap: bool


def _fail(path, number: int, message: str):
    raise LoaderError(f"{path}:{number}: {message}")


def _check_digits(path, number: int, what: str, text: str) -> None:
    """Refuse an id too long for int32 before ``int()`` sees it (Python refuses very long
    digit strings with a raw ValueError, and ids are stored as int32)."""
    if len(text) > MAX_ID_DIGITS:
        _fail(
            path, number,
            f"{what} must be a positive integer of at most {MAX_ID_DIGITS} digits, got "
            f"{len(text)} digits ({text[:12]}...)",
        )  # fmt: skip


def _parse(path, lines: list[str]) -> list[list[_Line]]:
    """Stories of ``_Line``s, checking the release format line by line."""
    stories: list[list[_Line]] = []
    story: list[_Line] = []
    for number, line in enumerate(lines, 1):
        head, sep, rest = line.partition(" ")
        if not sep or not _is_id(head):
            shown = repr(line[:60]) if line else "an empty line"
            _fail(path, number, f"expected 'ID sentence' (a line id, a space, text), got {shown}")
        _check_digits(path, number, "line id", head)
        lid = int(head)
        if lid == 1:
            story = []
            stories.append(story)
        elif not stories:
            _fail(path, number, f"expected line id 1 to start the first story, got {lid}")
        elif lid != len(story) + 1:
            _fail(
                path, number,
                f"line id {lid} breaks the sequence: expected {len(story) + 1} (the story's "
                "next line) or 1 (a new story)",
            )  # fmt: skip
        fields = rest.split("\t")
        if len(fields) == 1:
            tokens = words(rest)
            if not tokens:
                _fail(path, number, "expected a sentence after the line id, got none")
            if "?" in tokens:
                # a question line whose TABs became spaces ("Where is Mary? bathroom 1") would
                # otherwise load as a statement; no released statement holds a '?'
                _fail(
                    path, number,
                    "expected a question line 'question?<TAB>answer<TAB>supporting ids' (a "
                    f"statement has no '?'), got {rest[:60]!r} with no TAB",
                )  # fmt: skip
            story.append(_Line(tokens, False, [], [], False))
            continue
        if len(fields) != 3:
            _fail(
                path, number,
                f"expected a statement (no TAB) or a question line of 3 TAB-separated fields "
                f"(question, answer, supporting line ids), got {len(fields)} fields",
            )  # fmt: skip
        question, answer, support_text = fields
        tokens = words(question)
        if not tokens:
            _fail(path, number, "expected a question before the first TAB, got none")
        if not answer:
            _fail(path, number, "expected an answer after the first TAB, got an empty field")
        if answer.split() != [answer]:
            # "apple milk" would become one word with a space inside
            _fail(
                path, number,
                f"answer {answer[:60]!r} has a space; answers are words joined by ',' "
                "(apple,milk)",
            )  # fmt: skip
        answers = answer.split(",")
        if not all(answers):
            _fail(path, number, f"expected answer words joined by single commas, got {answer!r}")
        supports = []
        for s in support_text.split():
            if not _is_id(s):
                _fail(path, number, f"expected integer supporting line ids, got {s[:60]!r}")
            _check_digits(path, number, "supporting line id", s)
            sid = int(s)
            if not 1 <= sid < lid:
                where = "this line" if sid == lid else "a later line" if sid > lid else "no line"
                _fail(
                    path, number,
                    f"supporting line id {sid} points to {where}; expected an earlier "
                    f"statement of the story (1..{lid - 1})",
                )  # fmt: skip
            if story[sid - 1].question:
                _fail(
                    path, number,
                    f"supporting line id {sid} points to a question line; expected a statement",
                )  # fmt: skip
            supports.append(sid - 1)
        story.append(_Line(tokens, True, answers, supports, question.endswith(" ")))
    return stories


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = data[: exc.start].count(b"\n") + 1
        raise LoaderError(
            f"{path}:{number}: expected UTF-8 text, got byte 0x{data[exc.start]:02x}"
        ) from None


def read_file(
    path: str | Path,
    *,
    vocab: Sequence[str] | None = None,
    memtasks_cipher: bool = False,
    task: int | None = None,
) -> BabiFile:
    """Episodes of one released text file and its vocabulary: ``batch, vocab = read_file(p)``.

    ``vocab``: use these word ids (a task's ``layout.vocab``) instead of building a vocabulary
    from the file; a word outside it is an error. The first word of a line then takes the form
    the vocabulary has: as written if present, else with its first letter lowered.
    ``memtasks_cipher``: the file is shuffled text memtasks wrote; decipher it first (the
    release's own shuffled files use a different, unpublished key: read those as they are).
    ``task``: the bAbI task number for ``meta["task"]``; by default read from a release file
    name (``qa3_...``), else 0.

    Malformed input raises ``LoaderError`` naming the file, the line and what was expected.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LoaderError(f"{path}: no such file") from None
    except OSError as exc:
        raise LoaderError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return read_data(data, path, vocab=vocab, memtasks_cipher=memtasks_cipher, task=task)


def read_data(
    data: bytes,
    path: str | Path,
    *,
    vocab: Sequence[str] | None = None,
    memtasks_cipher: bool = False,
    task: int | None = None,
) -> BabiFile:
    """``read_file`` of a file's bytes; ``path`` names it in messages (a path, or
    ``archive.tgz/member``) and gives the task number by its name."""
    path = Path(path)
    text = _decode(path, data)
    # Editors on Windows write a UTF-8 byte order mark; it is not part of the first line.
    # Recorded (BabiFile.bom) so that to_text() gives back the same bytes.
    bom = text.startswith(BOM)
    if bom:
        text = text[len(BOM) :]
    if memtasks_cipher:
        text = decipher(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    bad = _BAD_CHAR[newline].search(text)
    if bad:
        char = bad.group()
        number = text.count(newline, 0, bad.start()) + 1
        what = (
            "a line ending that differs from the file's CRLF (mixed line endings)"
            if newline == "\r\n" and char in "\r\n"
            else "a bare CR (U+000D) in a file of LF line endings"
            if char == "\r"
            else f"character U+{ord(char):04X} (a control or non-space whitespace character)"
        )
        _fail(path, number, f"expected text, spaces and TABs, got {what}")
    final_newline = text.endswith(newline) or not text
    body = text[: -len(newline)] if text.endswith(newline) else text
    if task is None:
        match = _FILE_TASK.match(path.name)
        task = int(match.group(1)) if match else 0
    # the fast reader takes every file in the release's own spelling; anything else (and every
    # malformed file, whose error names the line) goes through the line-by-line reader
    parts = _read_fast(body.replace("\r\n", "\n") if newline == "\r\n" else body, vocab)
    if parts is None:
        parts = _read_lines(path, body.split(newline) if text else [], vocab)
    batch, words_out, gaps = _episodes(parts, task)
    uniform = all(gaps) if gaps and gaps[0] else not any(gaps)
    return BabiFile(
        batch=batch,
        vocab=tuple(words_out),
        path=str(path),
        space_before_tab=(bool(gaps and gaps[0]) if uniform else tuple(gaps)),
        newline=newline,
        final_newline=final_newline,
        memtasks_cipher=memtasks_cipher,
        bom=bom,
    )


@dataclass
class _Parts:
    """What both readers produce: the episodes' arrays before they become a batch."""

    lengths: np.ndarray  # positions per story
    inputs: np.ndarray
    targets: np.ndarray
    role: np.ndarray
    segment: np.ndarray
    support: np.ndarray
    support_answer: np.ndarray
    support_lengths: np.ndarray
    statements: np.ndarray  # per story
    questions: np.ndarray  # per story
    distance: np.ndarray  # [stories, most questions], -1 past a story's questions
    vocab: list[str]
    gaps: list[bool]  # per question line: a space before its TAB


def _episodes(parts: _Parts, task: int) -> tuple[EpisodeBatch, list[str], list[bool]]:
    stories = len(parts.lengths)
    batch = EpisodeBatch.from_lengths(
        parts.lengths,
        inputs=parts.inputs,
        targets=parts.targets,
        mask=parts.role == ROLE_ANSWER,
        role=parts.role,
        segment=parts.segment,
        index=np.arange(stories, dtype=np.int64),
        meta={
            "task": np.full(stories, task, np.int8),
            "statements": parts.statements,
            "questions": parts.questions,
            "question_template": np.full(parts.distance.shape, -1, np.int32),
            "support_distance": parts.distance,
        },
        support_lengths=parts.support_lengths,
        support=parts.support,
        support_answer=parts.support_answer,
    )
    return batch, parts.vocab, parts.gaps


# -- the fast reader --------------------------------------------------------------------------
# bAbI text repeats itself: "Mary moved to the bathroom." comes back hundreds of times in a file,
# and a question line with its answer and ids tens of times. The fast reader parses each
# distinct line text once, with the same checks as the line reader, and lays the file's lines
# out with NumPy (line ids, story bounds, supports, positions). What depends on a line's place
# (its id, what its ids point to) is checked with NumPy; where any check fails, it returns None
# and the line reader reads the file (and names the line at fault).
_LINE_START = re.compile(rf"\n(?![0-9]{{1,{MAX_ID_DIGITS}}} [^ \t\n])")  # a line not 'ID text'


def _excl_cumsum(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _gather(offsets: np.ndarray, lengths: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Indices of rows ``rows`` of a CSR array (``offsets``, ``lengths``), one after another."""
    counts = lengths[rows]
    starts = _excl_cumsum(counts)
    return np.repeat(offsets[rows] - starts[:-1], counts) + np.arange(starts[-1])


def _split_ids(body: str) -> tuple[list[str], np.ndarray]:
    """The text of every line without its id, and the ids (every line starts with 1 to
    MAX_ID_DIGITS ASCII digits and a space: checked before), from the UTF-8 bytes at once."""
    data = np.frombuffer(("\n" + body).encode("utf-8"), np.uint8)
    at = np.flatnonzero(data == 10) + 1  # first byte of each line
    spaces = np.flatnonzero(data == 32)
    digits = spaces[np.searchsorted(spaces, at)] - at
    line_id = np.zeros(len(at), np.int64)
    for k in range(int(digits.max())):  # the longest id's digits, not always MAX_ID_DIGITS
        more = digits > k
        line_id[more] = line_id[more] * 10 + data[at[more] + k] - 48
    keep = np.ones(len(data), bool)
    keep[0] = False  # the newline put in front
    keep[_gather(at, digits + 1, np.arange(len(at)))] = False  # each id and its space
    return data[keep].tobytes().decode("utf-8").split("\n"), line_id


def _read_fast(body: str, vocab: Sequence[str] | None) -> _Parts | None:
    """``_Parts`` of a LF text (without its last newline), or None where the line reader must
    decide (the text is unusual or malformed)."""
    # (the first line is checked with a newline before it: "\n(?!" scans at C speed for the
    # newlines, "(?:^|\n)(?!" would try every character)
    if not body or _LINE_START.match("\n" + body[:32]) or _LINE_START.search(body):
        return None
    texts, line_id = _split_ids(body)
    n_lines = len(texts)
    # each line -> its kind: distinct texts numbered in order of first appearance
    numbering = defaultdict(itertools.count().__next__)
    kind = np.fromiter(map(numbering.__getitem__, texts), np.int64, n_lines)
    kinds = list(numbering)

    # each distinct text parsed once, checked as _parse checks a line; its words (the line's,
    # then the answer's) go to ``flat``
    flat: list[str] = list(SPECIAL)  # the first ids of every vocabulary, in their order
    shape = []  # per kind: (words, answer words or -1 for a statement, space before TAB, ids)
    k_support: list[int] = []
    mid: set[str] = set()  # words seen after a line's first
    for rest in kinds:
        if "\t" not in rest:  # a statement
            tokens = rest.replace(".", " . ").replace("?", " ? ").replace(",", " , ").split()
            if not tokens or "?" in tokens:
                return None
            flat += tokens
            mid.update(tokens[1:])
            shape.append((len(tokens), -1, False, 0))
            continue
        fields = rest.split("\t")
        if len(fields) != 3:
            return None
        question, answer, support_text = fields
        tokens = words(question)
        if not tokens or not answer or answer.split() != [answer]:
            return None
        answers = answer.split(",")
        supports = support_text.split()
        digits = "".join(supports)
        if not all(answers) or not (digits.isdigit() and digits.isascii() or not supports):
            return None
        if max(map(len, supports), default=0) > MAX_ID_DIGITS:
            return None
        flat += tokens
        flat += answers
        mid.update(tokens[1:])
        shape.append((len(tokens), len(answers), question.endswith(" "), len(supports)))
        k_support += map(int, supports)
    n_words, n_answers, k_gap, k_supports = zip(*shape, strict=True)

    # a line's first word as the line reader spells it (see read_file)
    n_tokens = np.asarray(n_words, np.int64)
    n_answer = np.asarray(n_answers, np.int64)
    is_question_kind = n_answer >= 0
    k_length = n_tokens + np.maximum(n_answer, 0)
    k_offset = _excl_cumsum(k_length) + len(SPECIAL)
    if vocab is None:

        def spelled(w: str) -> str:
            return w if w in mid else w[:1].lower() + w[1:]
    else:
        ids = {w: i for i, w in enumerate(vocab)}

        def spelled(w: str) -> str:
            lowered = w[:1].lower() + w[1:]
            return lowered if w not in ids and lowered in ids else w

    for at in k_offset[:-1].tolist():
        flat[at] = spelled(flat[at])
    # word ids in order of first appearance: the first line with a text comes before its
    # repeats, so the distinct texts in order meet every word where the file first has it
    if vocab is None:
        seen = defaultdict(itertools.count().__next__)
        word_ids = np.fromiter(map(seen.__getitem__, flat), np.int64, len(flat))
        words_out = list(seen)
    else:
        word_ids = np.fromiter(map(ids.get, flat, itertools.repeat(-1)), np.int64, len(flat))
        if (word_ids < 0).any():
            return None  # a word outside the given vocabulary: the line reader names it
        words_out = list(vocab)
    word_ids = word_ids[len(SPECIAL) :].astype(np.int32)
    within = np.arange(len(word_ids)) - np.repeat(k_offset[:-1] - len(SPECIAL), k_length)
    is_answer = within >= np.repeat(n_tokens, k_length)
    k_inputs = np.where(is_answer, ANSWER_TOKEN, word_ids).astype(np.int32)
    k_targets = np.where(is_answer, word_ids, 0).astype(np.int32)
    k_role = np.where(
        is_answer, ROLE_ANSWER, np.where(np.repeat(is_question_kind, k_length), ROLE_QUERY,
                                         ROLE_CONTEXT)
    ).astype(np.int8)  # fmt: skip

    # lines -> stories: ids 1, 2, ... in each
    starts = line_id == 1
    if not starts[0]:
        return None
    story_of = np.cumsum(starts) - 1
    story_line0 = np.flatnonzero(starts)
    if not np.array_equal(line_id, np.arange(n_lines) - story_line0[story_of] + 1):
        return None
    n_stories = len(story_line0)
    question = is_question_kind[kind]
    statement = ~question

    # positions of every line: its kind's tokens (and answer positions)
    length = k_length
    rows = _gather(k_offset - len(SPECIAL), length, kind)
    inputs = k_inputs[rows]
    targets = k_targets[rows]
    role = k_role[rows]
    before = np.cumsum(statement) - statement  # statements before each line (whole file)
    seg_of_line = np.where(statement, before - before[story_line0][story_of], -1)
    line_length = length[kind]
    segment = np.repeat(seg_of_line, line_length).astype(np.int32)
    lengths = np.bincount(story_of, weights=line_length, minlength=n_stories).astype(np.int64)

    # supporting ids: earlier statements of the same story
    n_support = np.asarray(k_supports, np.int64)
    sid = np.asarray(k_support, np.int64)[_gather(_excl_cumsum(n_support), n_support, kind)]
    sup_line = np.repeat(np.arange(n_lines), n_support[kind])
    if (sid < 1).any() or (sid >= line_id[sup_line]).any():
        return None
    target = story_line0[story_of[sup_line]] + sid - 1
    if question[target].any():
        return None
    q_before = np.cumsum(question) - question
    q_in_story = q_before - q_before[story_line0][story_of]
    q_lines = np.flatnonzero(question)
    earliest = q_lines.copy()
    np.minimum.at(earliest, q_before[sup_line], target)
    questions = np.bincount(story_of[q_lines], minlength=n_stories).astype(np.int32)
    distance = np.full((n_stories, int(questions.max(initial=0))), -1, np.int32)
    distance[story_of[q_lines], q_in_story[q_lines]] = before[q_lines] - before[earliest]
    return _Parts(
        lengths=lengths,
        inputs=inputs,
        targets=targets,
        role=role,
        segment=segment,
        support=seg_of_line[target].astype(np.int32),
        support_answer=q_in_story[sup_line].astype(np.int32),
        support_lengths=np.bincount(story_of[sup_line], minlength=n_stories).astype(np.int64),
        statements=np.bincount(story_of, weights=statement, minlength=n_stories).astype(np.int32),
        questions=questions,
        distance=distance,
        vocab=words_out,
        gaps=np.asarray(k_gap, bool)[kind[q_lines]].tolist(),
    )


# -- the line reader --------------------------------------------------------------------------
def _read_lines(path: Path, lines: list[str], vocab: Sequence[str] | None) -> _Parts:
    """``_Parts`` of a text's lines, checked one by one (any text; errors name the line)."""
    stories = _parse(path, lines)
    if not stories:
        # an empty file (a failed download, a truncated copy) is not an empty dataset
        raise LoaderError(f"{path}: holds no stories (the file is empty)")

    if vocab is None:
        # a line's first word is lowered unless the file uses it, so written, mid-sentence
        mid = {w for story in stories for line in story for w in line.tokens[1:]}
        ids: dict[str, int] = {w: i for i, w in enumerate(SPECIAL)}
        words_out = list(SPECIAL)

        def first(w: str) -> str:
            return w if w in mid else w[:1].lower() + w[1:]

        def word_id(w: str, number: int) -> int:
            if w not in ids:
                ids[w] = len(words_out)
                words_out.append(w)
            return ids[w]
    else:
        words_out = list(vocab)
        ids = {w: i for i, w in enumerate(words_out)}

        def first(w: str) -> str:
            lowered = w[:1].lower() + w[1:]
            return lowered if w not in ids and lowered in ids else w

        def word_id(w: str, number: int) -> int:
            if w not in ids:
                _fail(path, number, f"word {w!r} is not in the given vocabulary")
            return ids[w]

    inputs: list[int] = []
    targets: list[int] = []
    role: list[int] = []
    segment: list[int] = []
    lengths: list[int] = []
    support: list[int] = []
    support_answer: list[int] = []
    support_lengths: list[int] = []
    n_statements: list[int] = []
    n_questions: list[int] = []
    distances: list[list[int]] = []
    gaps: list[bool] = []
    number = 0
    for story in stories:
        start, s_start = len(inputs), len(support)
        segment_of: list[int] = []  # story line -> segment id (-1 for questions)
        statements_upto = [0]  # statements among the story's first k lines
        story_distances: list[int] = []
        for k, line in enumerate(story):
            number += 1
            tokens = [first(line.tokens[0]), *line.tokens[1:]]
            token_ids = [word_id(w, number) for w in tokens]
            if not line.question:
                seg = statements_upto[-1]
                inputs += token_ids
                targets += [0] * len(token_ids)
                role += [ROLE_CONTEXT] * len(token_ids)
                segment += [seg] * len(token_ids)
                segment_of.append(seg)
                statements_upto.append(seg + 1)
                continue
            inputs += token_ids
            role += [ROLE_QUERY] * len(token_ids)
            segment += [-1] * len(token_ids)
            answer_ids = [word_id(w, number) for w in line.answer]
            inputs += [ANSWER_TOKEN] * len(answer_ids)
            targets += [0] * len(token_ids) + answer_ids
            role += [ROLE_ANSWER] * len(answer_ids)
            segment += [-1] * len(answer_ids)
            q = len(story_distances)
            support += [segment_of[s] for s in line.supports]
            support_answer += [q] * len(line.supports)
            earliest = min(line.supports, default=k)
            story_distances.append(statements_upto[k] - statements_upto[earliest])
            segment_of.append(-1)
            statements_upto.append(statements_upto[-1])
            gaps.append(line.gap)
        lengths.append(len(inputs) - start)
        support_lengths.append(len(support) - s_start)
        n_statements.append(statements_upto[-1])
        n_questions.append(len(story_distances))
        distances.append(story_distances)

    width = max(n_questions, default=0)
    distance = np.full((len(stories), width), -1, np.int32)
    for b, row in enumerate(distances):
        distance[b, : len(row)] = row
    return _Parts(
        lengths=np.asarray(lengths, np.int64),
        inputs=np.asarray(inputs, np.int32),
        targets=np.asarray(targets, np.int32),
        role=np.asarray(role, np.int8),
        segment=np.asarray(segment, np.int32),
        support=np.asarray(support, np.int32),
        support_answer=np.asarray(support_answer, np.int32),
        support_lengths=np.asarray(support_lengths, np.int64),
        statements=np.asarray(n_statements, np.int32),
        questions=np.asarray(n_questions, np.int32),
        distance=distance,
        vocab=words_out,
        gaps=gaps,
    )


def release_path(
    root: str | Path, variant: str = "en", task: int = 1, split: str = "train"
) -> Path:
    """Where the release keeps a task's split: ``root/<variant>/<file>`` (``root`` being the
    unpacked ``tasks_1-20_v1-2`` folder, or the variant's folder itself)."""
    if variant not in VARIANTS:
        raise LoaderError(
            f"unknown bAbI variant {variant!r}{did_you_mean(variant, VARIANTS)}; variants: "
            f"{', '.join(VARIANTS)}"
        )
    if isinstance(task, bool) or not isinstance(task, (int, np.integer)) or task not in TASK_NAMES:
        raise LoaderError(f"bAbI task must be an integer in [1, 20], got {task!r}")
    if split not in VARIANTS[variant]:
        raise LoaderError(
            f"the {variant} variant has the splits {', '.join(VARIANTS[variant])}, not {split!r}"
        )
    task = int(task)
    name = f"qa{task}_{split}.txt" if variant.startswith("en-valid") else (
        release_file_name(task, split)
    )  # fmt: skip
    root = Path(root)
    folder = root / variant if (root / variant).is_dir() else root
    return folder / name


def load(root: str | Path, variant: str = "en", task: int = 1, split: str = "train") -> BabiFile:
    """Episodes and vocabulary of a released file: ``batch, vocab = load(root, "en-10k", 3)``.

    ``root`` is the unpacked release (``tasks_1-20_v1-2``, holding ``en/``, ``hn/``, ...) or
    one variant's folder. Variants: en, en-10k, hn, hn-10k, shuffled, shuffled-10k (splits train
    and test), en-valid, en-valid-10k (train, valid and test)."""
    path = release_path(root, variant, task, split)
    if not path.is_file():
        raise LoaderError(f"{path}: no such file (the {variant} variant's qa{task} {split} split)")
    return read_file(path, task=int(task))


def supports_of(batch: EpisodeBatch, i: int) -> list[np.ndarray]:
    """Episode ``i``'s supporting items, one array per question, in question order."""
    ep = batch.episode(i)
    n_answers = int(ep["support_answer"].max()) + 1 if len(ep["support_answer"]) else 0
    return [ep["support"][ep["support_answer"] == a] for a in range(n_answers)]


# -- the release as datasets ------------------------------------------------------------------
# SHA-256 of files of the bAbI v1.2 release (tasks_1-20_v1-2.tar.gz; Weston et al. 2015,
# "Towards AI-Complete Question Answering", arXiv:1502.05698), computed from the released
# files. Only the files whose released bytes memtasks could establish are listed (the English
# training files); the others are read unchecked (the manifest records their hashes all the same).
_EN_TRAIN_SHA256 = {  # task -> en/qaN_<name>_train.txt
    1: "c64ba9b1a49bbb111ffc4cd2ae4f129d25c012399dd7ade9679eea464b9afb05",
    2: "a4978af5bc0dc30191810e7c9949aaa6eae939ed0f6beb9fcb5f4330c2a27860",
    3: "a6e78019f36a02a7ed71fe6aaded0b563ff09c8deec392931801fcd9c6af4d60",
    4: "c9370502d85fa382f32d1fea2111e817f81ae9e3e79eb2924a1a5392a90417fa",
    5: "086cd59c3ca9677bfac3d6a22ca5853c76a5c1fbae3159c7c4a6aef759a74ec0",
    6: "5a133115ee35d475776df703ff605d145b11effbcdbf7e74861f9d5639246a5a",
    7: "dca03bd91876951c49f1c971c83c9dd55404de60201b7b6435451cf7ddb4751c",
    8: "058604df6f9440458317e8ae685d2b7b84261e1a80b4d6410a9140d16f81bf06",
    9: "0c3b89921af0caea1c4059ee3f7b7f2a88869f924195a428da37820446b8c49f",
    10: "0b7691689447bab05476c5b48c44999b41e747c3978df69c18fdd87b60d6e8b3",
    11: "9468de9a1f256f43dfda693a5d07182d21149a82b65f7c2451c64e9cff5eb138",
    12: "45c2764bb2d3c8f699d35e9d9aa7958fcd96379c6e907116cdf74526c108bb25",
    13: "533a391edbda743e4c99504de88b40cdded5b1d5ef454d1390f0863f748a4cc9",
    14: "b7561cbc624205c9c2fdbb8c843cfa8ad90edd65e78bb223fc6dea8113662df8",
    15: "e856ebfdcce4dd7d617c1d10f985e96a0850c0ca18e9a19a017cb710d135ed3d",
    16: "20121005137e3d4b061a086eb177a456303d5742b764eb8da2d0e480b6af4d28",
    17: "20083bf56ff74f0e7cf5e3e2f8c3905cdb8ef09293c3e8cf7a96ed8b45ae2277",
    18: "18b7dcf52c9a0e87e4e7dd3d65b7e5a630de039645f52a1294197af7481d739d",
    19: "dcb788352a56effb7bea1449128f31cc9c342c8c327b6df2caeee0e379e6ad3a",
    20: "29580ad55fb7b4b29ba014696056cc68f8f347dac3be88470fd692ad60150398",
}
RELEASE_SHA256 = {
    f"en/{release_file_name(task, 'train')}": digest for task, digest in _EN_TRAIN_SHA256.items()
}
RELEASE_ACQUIRE = (
    "download the bAbI v1.2 archive tasks_1-20_v1-2.tar.gz (about 12 MB; linked from the bAbI "
    "page, research.facebook.com/downloads/babi; Keras' examples fetch a copy from "
    "https://s3.amazonaws.com/text-datasets/babi_tasks_1-20_v1-2.tar.gz) and pass the archive "
    "itself or the folder it unpacks to (tasks_1-20_v1-2, holding en/, en-10k/, hn/, ...)"
)
VARIANT_SUMMARY = {
    "en": "English, 1,000 training questions per task",
    "en-10k": "English, 10,000 training questions per task",
    "hn": "Hindi, 1,000 training questions per task",
    "hn-10k": "Hindi, 10,000 training questions per task",
    "shuffled": "English under the release's letter substitution, 1,000 training questions",
    "shuffled-10k": "English under the release's letter substitution, 10,000 training questions",
    "en-valid": "English 1,000, the training file split 90/10 into train and validation",
    "en-valid-10k": "English 10,000, the training file split 90/10 into train and validation",
}
# dataset split -> the release's file-name part (Hugging Face's split names)
SPLIT_FILE_PART = {"train": "train", "validation": "valid", "test": "test"}


def release_member(variant: str, task: int, split: str) -> str:
    """The release's path of a split's file under tasks_1-20_v1-2/: ``en/qa1_..._train.txt``;
    ``split`` is a dataset split (train, validation, test)."""
    part = SPLIT_FILE_PART[split]
    name = f"qa{task}_{part}.txt" if variant.startswith("en-valid") else (
        release_file_name(task, part)
    )  # fmt: skip
    return f"{variant}/{name}"


def _splits(variant: str) -> tuple[str, ...]:
    return tuple("validation" if s == "valid" else s for s in VARIANTS[variant])


def _source_file(variant: str, task: int, split: str):
    from ..datasets import SourceFile

    member = release_member(variant, task, split)
    return SourceFile(member, RELEASE_SHA256.get(member))


def _release_vocab(source, variant: str, task: int) -> tuple[str, ...]:
    """One vocabulary for every split of a task (train's words first, then what the other
    splits add), so that a model trained on one split reads the others with the same ids."""
    key = ("babi-release-vocab", variant, task)
    if key not in source.memo:
        words = dict.fromkeys(SPECIAL)
        for split in _splits(variant):
            file = _source_file(variant, task, split)
            own = read_data(source.read_bytes(file), source.where(file), task=task)
            words.update(dict.fromkeys(own.vocab))
        source.memo[key] = tuple(words)
    return source.memo[key]


def _make_release(variant: str):
    from ..datasets import DatasetSpec
    from ..knobs import Knobs, knob
    from ..metrics import AnswerMetric
    from ..registry import Layout

    @dataclass(frozen=True)
    class ReleaseKnobs(Knobs):
        task: int = knob(1, lo=1, hi=20, doc="the bAbI task (1-20) whose files are read")

    ReleaseKnobs.__name__ = ReleaseKnobs.__qualname__ = (
        "Release" + "".join(p.capitalize() for p in variant.split("-")) + "Knobs"
    )

    def files(knobs, split: str):
        # the split's file, then the others: the vocabulary is every split's (_release_vocab)
        order = (split, *(s for s in _splits(variant) if s != split))
        return tuple(_source_file(variant, knobs.task, s) for s in order)

    def read(source, knobs, split: str):
        vocab = _release_vocab(source, variant, knobs.task)
        file = _source_file(variant, knobs.task, split)
        yield read_data(
            source.read_bytes(file), source.where(file), vocab=vocab, task=knobs.task
        ).batch

    def layout(knobs) -> Layout:
        # the words come from the files: DatasetSpec.layout_of(knobs, source) adds them
        return Layout(input_dtype="int32", target_dtype="int32")

    def vocab(source, knobs) -> tuple[str, ...]:
        return _release_vocab(source, variant, knobs.task)

    return DatasetSpec(
        id=f"babi/release-{variant}-v1",
        summary=f"bAbI v1.2 as released, {VARIANT_SUMMARY[variant]}; knob task picks the task",
        knobs=ReleaseKnobs,
        splits=_splits(variant),
        files=files,
        read=read,
        layout=layout,
        metric=AnswerMetric(),
        acquire=RELEASE_ACQUIRE,
        fixture=lambda folder: fixture(folder, variant),
        env_subdir="babi/tasks_1-20_v1-2",
        hub_id=None,  # the Hub's bAbI copies hold a loading script or converted rows, not files
        vocab=vocab,
        card_name="release",
        source="Weston et al. 2015, arXiv:1502.05698; bAbI tasks v1.2 (tasks_1-20_v1-2.tar.gz)",
    )


# -- fixtures: a few stories per task in the release's exact format (tests) -------------------
# Stories of each task's kind (statements, then question lines with their answer and
# supporting ids); which tasks put a space before the TAB follows the release
# (SPACE_BEFORE_TAB). The test split's stories bring a word the training split lacks.
_MOVES = (
    ("Mary moved to the bathroom.", "John went to the hallway.",
     ("Where is Mary?", "bathroom", "1")),
    ("Daniel went back to the hallway.", "Sandra moved to the garden.",
     ("Where is Sandra?", "garden", "2")),
)  # fmt: skip
_FIXTURE_STORIES = {
    4: (("The office is north of the kitchen.", "The garden is south of the kitchen.",
         ("What is north of the kitchen?", "office", "1")),),
    5: (("Bill travelled to the office.", "Bill picked up the football there.",
         "Bill gave the football to Fred.", ("What did Bill give to Fred?", "football", "3")),),
    6: (("John moved to the office.", ("Is John in the kitchen?", "no", "1")),),
    7: (("Mary took the football there.", ("How many objects is Mary carrying?", "one", "1")),),
    8: (("Daniel picked up the apple there.", "Daniel took the milk.",
         ("What is Daniel carrying?", "apple,milk", "1 2")),),
    15: (("Mice are afraid of wolves.", "Gertrude is a mouse.",
          ("What is gertrude afraid of?", "wolf", "2 1")),),
    16: (("Lily is a frog.", "Lily is green.", "Bernhard is a frog.",
          ("What color is Bernhard?", "green", "3 1 2")),),
    17: (("The triangle is above the pink rectangle.",
          "The blue square is to the left of the triangle.",
          ("Is the pink rectangle to the right of the blue square?", "yes", "1 2")),),
    18: (("The box of chocolates fits inside the chest.", "The box is bigger than the chest.",
          ("Does the chest fit in the box?", "yes", "2")),),
    19: (("The office is east of the hallway.", "The kitchen is north of the office.",
          ("How do you go from the kitchen to the hallway?", "s,w", "2 1")),),
    20: (("Sumit is tired.", ("Where will sumit go?", "bedroom", "1")),),
}  # fmt: skip
_HN_STORY = ("Sita gusalkhaney mein gayi.", "Priya sayanakaksh mein gayi.",
             ("Priya is samay kahan hai?", "sayanakaksh", "2"))  # fmt: skip
_TEST_STORY = ("Fred journeyed to the kitchen.", ("Where is Fred?", "kitchen", "1"))


def _story_text(lines, gap: bool) -> str:
    out = []
    for number, line in enumerate(lines, 1):
        if isinstance(line, tuple):
            question, answer, ids = line
            out.append(f"{number} {question}{' ' if gap else ''}\t{answer}\t{ids}")
        else:
            out.append(f"{number} {line}")
    return "\n".join(out) + "\n"


def fixture_text(variant: str, task: int, split: str) -> str:
    """A few stories of ``task`` in ``variant``'s format for a split (see ``fixture``)."""
    hindi = variant.startswith("hn")
    gap = task in SPACE_BEFORE_TAB and not hindi
    if hindi:
        stories = (_HN_STORY,)
    else:
        stories = _FIXTURE_STORIES.get(task, _MOVES)
        if split == "test":
            stories = (*stories, _TEST_STORY)
    text = "".join(_story_text(story, gap) for story in stories)
    if split == "validation":
        text = _story_text(stories[0], gap)
    return cipher(text) if variant.startswith("shuffled") else text


def fixture(folder: str | Path, variant: str = "en") -> None:
    """Write every task's files of ``variant`` under ``folder/<variant>/`` as the release
    names them, a few stories each, in the release's format (tests; the real files are not in
    the repository). Shuffled variants are written under memtasks' cipher (the release's key
    was never published)."""
    for task in TASK_NAMES:
        for split in _splits(variant):
            path = Path(folder) / release_member(variant, task, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(fixture_text(variant, task, split).encode("utf-8"))


RELEASES = {variant: _make_release(variant) for variant in VARIANTS}


def _register_releases() -> None:
    from ..registry import register_dataset

    for spec in RELEASES.values():
        register_dataset(spec)


_register_releases()

# the bAbI text format (--format babi) and the story renderer of `memtasks show`
from . import babi_text  # noqa: E402, F401
