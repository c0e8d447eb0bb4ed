"""bAbI tasks 2, 3 and 6 (``generators/babi/qa2.py``, ``qa3.py``, ``qa6.py``) and the object
world they share (``generators/babi/_objects.py``).

Every answer is re-solved from the story's rendered text, in the release's format, by a small
independent reader that replays the moves, gets and drops, checking on the way that the story
never contradicts itself. Supports must be earlier statements, as many as the task's count, in
the release's order, and enough on their own: replayed alone, they give the same answer.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numba import njit

import memtasks
from memtasks.episode import EpisodeBatch
from memtasks.errors import KnobError
from memtasks.generators.babi import _objects
from memtasks.generators.babi._entities import ALL_ACTORS, ALL_OBJECTS, ALL_ROOMS
from memtasks.generators.babi._task import world_of
from memtasks.loaders.babi import story_lines

TASKS = {2: "babi/qa2-v1", 3: "babi/qa3-v1", 6: "babi/qa6-v1"}
SUPPORTS = {2: 2, 3: 3, 6: 1}
# a setting far from the release: bigger pools (with two-word rooms), rarer chances to ask,
# facts from any time, a distance bound, more questions
OTHER = {
    "actors": 7, "rooms": 12, "objects": 5, "questions": 6, "statements_per_question": 3,
    "recent": 0, "move_rate": 0.5, "min_distance": 3,
}  # fmt: skip

MOVE = re.compile(r"(\w+) (?:moved|went back|went|journeyed|travelled) to the (.+)\.")
GET = re.compile(r"(\w+) (?:got|grabbed|picked up|took) the (.+?)( there)?\.")
DROP = re.compile(r"(\w+) (?:dropped|put down|left|discarded) the (.+?)( there)?\.")
ASK = {
    2: re.compile(r"Where is the (.+)\?"),
    3: re.compile(r"Where was the (.+) before the (.+)\?"),
    6: re.compile(r"Is (\w+) in the (.+)\?"),
}


# ---------------------------------------------------------------------------------------------
# An independent reader of the rendered text
# ---------------------------------------------------------------------------------------------
def parse(line: str):
    """(id, kind, args, answer, supports) of one release-format line (an answer of several
    words, "dining,room", is read back as "dining room")."""
    number, _, rest = line.partition(" ")
    text, *fields = rest.split("\t")
    text = text.strip()
    if fields:
        answer = fields[0].replace(",", " ")
        return int(number), "Q", text, answer, [int(s) for s in fields[1].split()]
    for kind, pattern in (("M", MOVE), ("G", GET), ("D", DROP)):
        m = pattern.fullmatch(text)
        if m:
            return int(number), kind, (m[1], m[2]), None, None
    raise AssertionError(f"not a sentence of the object world: {line!r}")


class Reader:
    """What a careful reader knows after some statements: actors' rooms (told by moves, or
    implied by getting an object known to lie in a room), who holds what, where free objects
    lie, and each object's moves while held (previous room, room). ``strict`` asserts that
    the story never contradicts itself; otherwise (replaying supports alone) a drop with no
    get before it means the dropper held the object from the start."""

    def __init__(self, strict: bool = True):
        self.strict = strict
        self.room: dict[str, str] = {}
        self.holder: dict[str, str] = {}
        self.lies: dict[str, str | None] = {}
        self.trips: dict[str, list[tuple[str | None, str]]] = {}

    def replay(self, statements):
        if not self.strict:  # supports alone: drops imply an earlier possession
            got = set()
            for _, kind, (who, what), _, _ in statements:
                if kind == "G":
                    got.add(what)
                elif kind == "D" and what not in got:
                    self.holder[what] = who
                    got.add(what)
        for statement in statements:
            self.read(*statement[1:3])

    def read(self, kind, args):
        who, x = args
        if kind == "M":
            if self.strict:
                assert self.room.get(who) != x, f"{who} moves to the {x}, where it already is"
            before = self.room.get(who)
            self.room[who] = x
            for obj, h in self.holder.items():
                if h == who:
                    self.trips.setdefault(obj, []).append((before, x))
        elif kind == "G":
            if self.strict:
                assert x not in self.holder, f"{who} gets the {x}, held by {self.holder.get(x)}"
                lies, here = self.lies.get(x), self.room.get(who)
                assert lies is None or here is None or lies == here, f"{x} is not in the {here}"
            if self.lies.get(x) is not None and who not in self.room:
                self.room[who] = self.lies[x]  # it must be where the object is
            self.holder[x] = who
            self.lies.pop(x, None)
        else:
            if self.strict:
                assert self.holder.get(x) == who, f"{who} drops the {x} it does not hold"
            self.holder.pop(x, None)
            self.lies[x] = self.room.get(who)

    def answer(self, task: int, question: str) -> str | None:
        m = ASK[task].fullmatch(question)
        assert m, question
        if task == 2:
            obj = m[1]
            if obj in self.holder:
                return self.room.get(self.holder[obj])
            return self.lies.get(obj)
        if task == 3:
            obj, room = m[1], m[2]
            arrivals = [before for before, after in self.trips.get(obj, []) if after == room]
            return arrivals[-1] if arrivals else None  # before its last arrival there
        actor, room = m[1], m[2]
        if actor not in self.room:
            return None
        return "yes" if self.room[actor] == room else "no"


def stories_of(task: int, n_questions: int, seed: int = 0, **knobs) -> list[list[str]]:
    """Release-format stories of ``babi/qa{task}`` holding at least ``n_questions`` questions."""
    spec = memtasks.get_spec(TASKS[task])
    k = spec.make_knobs(**knobs)
    per_story = k.questions
    count = -(-n_questions // per_story)
    # pieces under the parallel kernel's threshold: only the serial variant compiles
    batch = EpisodeBatch.concat(
        [spec.generate(min(1000, count - s), seed, start=s, knobs=k) for s in range(0, count, 1000)]
    ).check()
    vocab = world_of(TASKS[task], k).text.vocab
    return [story_lines(batch, i, vocab, space_before_tab=True) for i in range(len(batch))]


def check_story(task: int, lines: list[str]) -> int:
    """Assert every invariant of one story; return its question count."""
    parsed = [parse(line) for line in lines]
    assert [p[0] for p in parsed] == list(range(1, len(parsed) + 1))
    by_id = {p[0]: p for p in parsed}
    reader = Reader()
    questions = 0
    for number, kind, args, answer, supports in parsed:
        if kind != "Q":
            reader.read(kind, args)
            continue
        questions += 1
        context = f"{TASKS[task]} line {number}: {args}\t{answer}\t{supports}\n" + "\n".join(lines)
        # the answer is the one the whole story gives
        assert reader.answer(task, args) == answer, context
        # supports: earlier statements, distinct, as many as the task's count
        assert len(supports) == SUPPORTS[task] and len(set(supports)) == len(supports), context
        assert all(s < number and by_id[s][1] != "Q" for s in supports), context
        facts = [by_id[s] for s in supports]
        # in the release's order: the object's line first (qa2, qa3), then the move into the
        # asked room and the move before it (qa3)
        if task in (2, 3):
            obj = ASK[task].fullmatch(args)[1]
            assert facts[0][1] in "GD" and facts[0][2][1] == obj, context
            assert all(f[1] == "M" and f[2][0] == facts[0][2][0] for f in facts[1:]), context
        if task == 3:
            assert facts[1][2][1] == ASK[3].fullmatch(args)[2] and facts[2][2][1] == answer
            assert facts[2][0] < facts[1][0], context
        # and they suffice: replayed alone, in story order, they give the same answer
        alone = Reader(strict=False)
        alone.replay(sorted(facts))
        assert alone.answer(task, args) == answer, context
    return questions


# ---------------------------------------------------------------------------------------------
# Invariants over 10,000 stories per task in release mode, and a setting far from it
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("setting", ["release", "other"])
def test_answers_and_supports_follow_from_the_story(task, setting):
    knobs = {} if setting == "release" else OTHER
    # release: 10,000 stories (50,000 questions); the other setting: 10,000 questions
    stories = stories_of(task, 50_000 if setting == "release" else 10_000, **knobs)
    asked = sum(check_story(task, story) for story in stories)
    assert asked == len(stories) * (5 if setting == "release" else OTHER["questions"]) >= 10_000
    assert setting != "release" or len(stories) >= 10_000


def test_the_reader_catches_broken_stories():
    """The checks are not vacuous: a wrong answer, a drop of what one does not hold, a support
    that does not suffice and a question about an unknown room all fail."""
    good = [
        "1 Mary went to the kitchen.",
        "2 Mary got the milk there.",
        "3 John went to the garden.",
        "4 Mary travelled to the office.",
        "5 Where is the milk? \toffice\t2 4",
    ]
    assert check_story(2, good) == 1
    broken = {
        "wrong answer": good[:4] + ["5 Where is the milk? \tkitchen\t2 4"],
        "drop not held": good[:2] + ["3 John dropped the milk."] + good[3:],
        "not enough": good[:4] + ["5 Where is the milk? \toffice\t2 3"],
        "moved in place": good[:3] + ["4 Mary moved to the kitchen."] + good[4:],
        "support later": good[:4]
        + ["5 Where is the milk? \toffice\t2 6", "6 John went to the office."],
    }
    for name, story in broken.items():
        with pytest.raises(AssertionError):
            check_story(2, story)
            pytest.fail(name)
    # task 3: before the object's last arrival in a room
    story = [
        "1 Sandra took the apple.",
        "2 Sandra went to the garden.",
        "3 Sandra went to the hallway.",
        "4 Sandra went to the garden.",
        "5 Sandra dropped the apple.",
        "6 Where was the apple before the garden? \thallway\t5 4 3",
    ]
    assert check_story(3, story) == 1
    with pytest.raises(AssertionError):
        # supported by its first arrival there instead
        check_story(3, story[:5] + ["6 Where was the apple before the garden? \thallway\t5 2 3"])


# ---------------------------------------------------------------------------------------------
# The world module
# ---------------------------------------------------------------------------------------------
@njit
def _draw_many(seed, steps, move_rate):
    """Draw and perform ``steps`` statements; count the kinds drawn and the impossible ones."""
    state, actor_tab, object_tab, log = _objects.new_world(np.uint64(seed), 4, 6, 3, steps)
    kinds = np.zeros(3, np.int64)
    impossible = 0
    for line in range(steps):
        state, kind, a, x = _objects.draw(state, move_rate, actor_tab, object_tab, 6)
        kinds[kind] += 1
        if kind == _objects.MOVE:
            impossible += x == actor_tab[a, _objects.A_ROOM] or not 0 <= x < 6
        elif kind == _objects.GET:
            impossible += object_tab[x, _objects.O_HOLDER] != -1
            impossible += object_tab[x, _objects.O_ROOM] != actor_tab[a, _objects.A_ROOM]
        else:
            impossible += object_tab[x, _objects.O_HOLDER] != a
        _objects.perform(actor_tab, object_tab, log, line, line + 1, kind, a, x)
        for o in range(3):  # held objects go where their holders go
            h = object_tab[o, _objects.O_HOLDER]
            if h >= 0:
                impossible += object_tab[o, _objects.O_ROOM] != actor_tab[h, _objects.A_ROOM]
    return kinds, impossible, log


def test_world_draws_only_possible_statements():
    """``draw`` never proposes a get of a held or distant object, nor a drop by a non-holder,
    and ``perform`` keeps held objects with their holders; ``move_rate`` is the share of moves
    when an object action is possible (nearly always, with 4 actors and 3 objects)."""
    kinds, impossible, log = _draw_many(7, 20_000, 0.5)
    assert impossible == 0 and kinds.min() > 1000
    assert 0.5 < kinds[_objects.MOVE] / kinds.sum() < 0.6
    assert (log[:, 0] >= 0).all()  # every line logged


# ---------------------------------------------------------------------------------------------
# Batches, determinism, knobs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_batches_are_valid_and_deterministic(task):
    a = memtasks.generate(TASKS[task], 64, seed=3).check()
    b = memtasks.generate(TASKS[task], 64, seed=3)
    c = memtasks.generate(TASKS[task], 64, seed=4)
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert (a.meta["questions"] == 5).all()
    # a slice of the stream is the same episodes
    assert memtasks.generate(TASKS[task], 8, seed=3, start=10).content_hash() == (
        a[10:18].content_hash()
    )


def words_of(task: int, n: int = 200, **knobs) -> set[str]:
    return {w for story in stories_of(task, n, **knobs) for line in story for w in
            re.sub(r"[\d.?,\t]", " ", line).split()}  # fmt: skip


@pytest.mark.parametrize("task", TASKS)
def test_pool_knobs_bring_new_names(task):
    release = words_of(task)
    bigger = words_of(task, 2000, actors=10, rooms=10, objects=10)
    # the names beyond the release's (the 10th room, "dining room", has two words)
    for name in ALL_ACTORS[4:10] + ALL_ROOMS[6:10] + ALL_OBJECTS[3:10]:
        assert set(name.split()) <= bigger and not set(name.split()) & release, name
    smaller = words_of(task, 500, actors=2, rooms=3, objects=1)
    assert smaller & set(ALL_ACTORS) == {"Mary", "John"}
    assert smaller & set(ALL_OBJECTS) == {"apple"}
    assert smaller & set(ALL_ROOMS) == {"bathroom", "bedroom", "garden"}


def gaps(task: int, n: int, **knobs) -> list[list[int]]:
    """Per story, the statements before each question since the previous one."""
    out = []
    for story in stories_of(task, n, **knobs):
        out.append([])
        since = 0
        for line in story:
            if "\t" in line:
                out[-1].append(since)
                since = 0
            else:
                since += 1
    return out


@pytest.mark.parametrize("task", TASKS)
def test_questions_and_slots(task):
    """Questions come only at slots, every ``statements_per_question`` statements."""
    for story in gaps(task, 2000, questions=9, statements_per_question=3):
        assert len(story) == 9 and all(x > 0 and x % 3 == 0 for x in story)
    for story in gaps(task, 2000):
        assert len(story) == 5 and all(x > 0 and x % 2 == 0 for x in story)


@pytest.mark.parametrize("task", TASKS)
def test_recent_and_distance_knobs(task):
    spec = memtasks.get_spec(TASKS[task])
    near = spec.generate(400, 0).meta["support_distance"]
    if task == 6:  # the release's window: the actor moved within the last 5 statements
        assert near.max() <= 5
    far = spec.generate(200, 0, preset="far").check().meta["support_distance"]
    assert far.min() >= 10 and far.mean() > near.mean() + 5
    # facts from any time: with fewer chances to ask, older ones
    wide = spec.generate(400, 0, recent=0, statements_per_question=6).meta["support_distance"]
    assert wide.mean() > near.mean() + 2
    bounded = spec.generate(200, 0, recent=0, max_distance=6).meta["support_distance"]
    assert bounded.max() <= 6


def test_recent_window_bounds_the_deciding_fact():
    """Tasks 2 and 3: the object's line (its last get or drop) is within ``recent``
    statements of the question."""
    for task in (2, 3):
        for recent in (5, 9):
            for story in stories_of(task, 1000, recent=recent):
                stmt_no, count = {}, 0
                for line in story:
                    number, kind, args, answer, supports = parse(line)
                    if kind != "Q":
                        count += 1
                        stmt_no[number] = count
                    else:
                        assert count - stmt_no[supports[0]] < recent


@pytest.mark.parametrize("task", TASKS)
def test_move_rate_sets_the_share_of_moves(task):
    def share(rate):
        lines = [line for s in stories_of(task, 1000, move_rate=rate) for line in s]
        statements = [line for line in lines if "\t" not in line]
        return sum(bool(MOVE.fullmatch(line.split(" ", 1)[1])) for line in statements) / len(
            statements
        )

    low, high = share(0.3), share(0.9)
    assert low < 0.45 and high > 0.85


def test_task6_without_distractors_and_yes_share():
    lines = [line for s in stories_of(6, 500, move_rate=1.0) for line in s]
    assert all(MOVE.fullmatch(line.split(" ", 1)[1]) for line in lines if "\t" not in line)
    for share, answer in ((1.0, "yes"), (0.0, "no")):
        answers = {line.split("\t")[1] for s in stories_of(6, 500, yes_share=share) for line in s
                   if "\t" in line}  # fmt: skip
        assert answers == {answer}


@pytest.mark.parametrize("task", TASKS)
def test_open_vocab_preset(task):
    batch = memtasks.generate(TASKS[task], 100, seed=0, preset="open-vocab").check()
    k = memtasks.get_spec(TASKS[task]).make_knobs("open-vocab")
    assert (k.actors, k.rooms, k.objects) == (20, 20, 20)
    vocab = set(world_of(TASKS[task], k).text.vocab)
    assert {ALL_ACTORS[19], ALL_OBJECTS[19], *ALL_ROOMS[19].split()} <= vocab
    assert len(batch) == 100


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(
    ("knob", "value"),
    [("rooms", 1), ("objects", 0), ("actors", 0), ("move_rate", 0.0), ("questions", 0),
     ("statements_per_question", 0), ("recent", -1)],
)  # fmt: skip
def test_bad_knobs_are_refused(task, knob, value):
    with pytest.raises(KnobError, match=knob):
        memtasks.get_spec(TASKS[task]).make_knobs(**{knob: value})


def test_story_length_is_bounded():
    with pytest.raises(KnobError, match="questions \\* statements_per_question"):
        memtasks.get_spec(TASKS[3]).make_knobs(questions=1000, statements_per_question=101)
    assert memtasks.get_spec(TASKS[3]).make_knobs(questions=1000, statements_per_question=100)


def test_move_rate_bounds_differ_by_task():
    # tasks 2 and 3 need gets and drops to ask anything; task 6 may have none
    with pytest.raises(KnobError, match="move_rate"):
        memtasks.get_spec(TASKS[2]).make_knobs(move_rate=1.0)
    assert memtasks.get_spec(TASKS[6]).make_knobs(move_rate=1.0).move_rate == 1.0
