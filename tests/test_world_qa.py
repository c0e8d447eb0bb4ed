"""world/qa-v1 and world/qa-v2, the simulated world of Memory Networks
(generators/babi/world_qa.py).

Every story is read back from its rendered text and re-solved by a simulator written here from
the sentences alone: the answers must be what the story says, the supporting facts must be
earlier statements that answer the question on their own, the entity asked about must have
been mentioned last exactly ``difficulty`` statements back (v1, and v2 with ``exact``) or
1..``difficulty`` back (v2, uniformly), and no statement may contradict the world (dropping what
one does not hold, taking what someone else holds or what lies elsewhere).
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.axes import axes
from memtasks.episode import EpisodeBatch
from memtasks.generators.babi._task import world_of
from memtasks.generators.babi.world_qa import (
    WORLD_ACTORS,
    WORLD_OBJECTS,
    WORLD_ROOMS,
    WorldQaV2Knobs,
    busy_windows,
)
from memtasks.loaders.babi import story_lines

TASK = "world/qa-v1"
SPEC = memtasks.get_spec(TASK)
TASK_V2 = "world/qa-v2"
SPEC_V2 = memtasks.get_spec(TASK_V2)
PRESETS = ("actor-d1", "actor-d5", "actor-object-d1", "actor-object-d5")

MOVE = re.compile(r"(\w+) (?:moved|went back|went|journeyed|travelled) to the ([a-z ]+)\.")
GET = re.compile(r"(\w+) (?:got|grabbed|picked up|took) the ([a-z ]+)\.")
DROP = re.compile(r"(\w+) (?:dropped|put down|left|discarded) the ([a-z ]+)\.")
ASK_ACTOR = re.compile(r"Where is ([A-Z]\w*)\?")
ASK_OBJECT = re.compile(r"Where is the ([a-z ]+)\?")


def parse(line: str):
    """(kind, actor, thing) of a statement; kind None for a sentence of no world action."""
    for kind, pattern in (("move", MOVE), ("get", GET), ("drop", DROP)):
        m = pattern.fullmatch(line)
        if m:
            return kind, m[1], m[2]
    return None, None, None


class World:
    """What the sentences read so far say. ``strict`` asserts that each action is possible."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.room: dict[str, str] = {}  # actor -> room
        self.holder: dict[str, str] = {}  # object -> actor holding it
        self.lying: dict[str, str] = {}  # object -> room it was dropped in

    def act(self, kind: str, actor: str, thing: str) -> None:
        if kind == "move":
            if self.strict:
                assert self.room.get(actor) != thing, f"{actor} moves to where they are"
            self.room[actor] = thing
        elif kind == "get":
            if self.strict:
                assert actor in self.room, f"{actor} takes the {thing} before being placed"
                assert thing not in self.holder, f"the {thing} is held by {self.holder[thing]}"
                assert self.lying.get(thing, self.room[actor]) == self.room[actor], (
                    f"{actor} takes the {thing} from another room"
                )
            self.holder[thing] = actor
            self.lying.pop(thing, None)
        else:
            if self.strict:
                assert self.holder.get(thing) == actor, f"{actor} drops the unheld {thing}"
            self.holder.pop(thing, None)
            self.lying[thing] = self.room[actor]

    def where(self, entity: str, is_object: bool) -> str | None:
        if not is_object:
            return self.room.get(entity)
        if entity in self.holder:
            return self.room.get(self.holder[entity])
        return self.lying.get(entity)


def task_of(knobs) -> str:
    return TASK_V2 if isinstance(knobs, WorldQaV2Knobs) else TASK


def vocab_of(knobs):
    return world_of(task_of(knobs), knobs).text.vocab


def check_stories(batch, knobs, *, long: bool = False) -> Counter:
    """Re-solve every question of every story; return counts of what was checked (and
    ``distance=d``: how many questions reached back ``d`` statements)."""
    vocab = vocab_of(knobs)
    rooms = {p for p, tag in world_of(task_of(knobs), knobs).tags.items() if tag == "LOC"}
    exact = getattr(knobs, "exact", True)  # v1 has no such knob: its distance is exact
    seen: Counter = Counter()
    for i in range(len(batch)):
        world = World(strict=True)
        statements: dict[int, tuple] = {}  # line id -> parsed statement
        order: list[int] = []  # statement line ids, story order
        for line in story_lines(batch, i, vocab):
            number, _, rest = line.partition(" ")
            number = int(number)
            if "\t" not in rest:
                kind, actor, thing = parse(rest)
                assert kind is not None or long, f"unreadable statement {rest!r}"
                statements[number] = (kind, actor, thing)
                order.append(number)
                if kind is not None:
                    world.act(kind, actor, thing)
                continue
            text, answer, support = rest.split("\t")
            ids = [int(x) for x in support.split()]
            if m := ASK_OBJECT.fullmatch(text):
                entity, is_object = m[1], True
            else:
                m = ASK_ACTOR.fullmatch(text)
                assert m, f"unreadable question {text!r}"
                entity, is_object = m[1], False
            # the answer: a room, the one the whole story determines
            assert answer in rooms
            assert world.where(entity, is_object) == answer
            # supports: earlier statements, 2 for an object (its get/drop, then the holder's
            # move), 1 for an actor (its move), which answer the question on their own
            assert all(j in statements and j < number for j in ids)
            assert len(ids) == (2 if is_object else 1) == len(set(ids))
            kinds = [statements[j][0] for j in ids]
            assert kinds == (["get" if kinds[0] == "get" else "drop", "move"] if is_object
                             else ["move"])  # fmt: skip
            alone = World(strict=False)
            for j in sorted(ids):
                alone.act(*statements[j])
            assert alone.where(entity, is_object) == answer
            # distance: statements from the last one naming the entity to the question
            mentions = [
                j for j in order
                if statements[j][0] is not None and entity in statements[j][1:]
            ]  # fmt: skip
            if not long:
                distance = len(order) - order.index(mentions[-1])
                if exact:
                    assert distance == knobs.difficulty, (i, line)
                else:
                    assert 1 <= distance <= knobs.difficulty, (i, line)
                seen[f"distance={distance}"] += 1
            seen["object" if is_object else "actor"] += 1
            seen[kinds[0]] += 1
    return seen


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_re_solved_from_text(preset):
    knobs = SPEC.make_knobs(preset)
    # 10,000 stories, made in pieces small enough for the serial kernel (no parallel compile)
    batch = EpisodeBatch.concat(
        [
            memtasks.generate(TASK, 2000, seed=11, start=s, preset=preset)
            for s in range(0, 10_000, 2000)
        ]
    ).check()
    assert int(batch.meta["questions"].sum()) == 50_000
    seen = check_stories(batch, knobs)
    assert seen["actor"] + seen["object"] == 50_000
    if preset.startswith("actor-object"):
        # both kinds, and objects both held and dropped when asked about
        assert seen["object"] > 7500 and seen["actor"] > 7500
        assert seen["get"] > 1500 and seen["drop"] > 1500
    else:
        assert seen["object"] == 0
    # the driver's per-question support distance is at least the difficulty
    d = batch.meta["support_distance"]
    assert (d[d >= 0] >= knobs.difficulty).all()


def test_non_default_knobs_re_solved_from_text():
    # a bigger world, a question after every statement, and the tightest actor count that
    # difficulty 5 allows: four actors are kept quiet at once, so only one may act
    values = dict(
        actors=5, objects=6, rooms=9, difficulty=5, statements_per_question=1,
        questions_per_story=20, questions="actor-object", move_share=0.3, object_share=0.7,
        paraphrases=False,
    )  # fmt: skip
    knobs = SPEC.make_knobs(**values)
    batch = memtasks.generate(TASK, 500, seed=3, **values).check()
    seen = check_stories(batch, knobs)
    assert seen["actor"] + seen["object"] == 10_000 and seen["object"] > 3000


def test_long_context_keeps_answers():
    knobs = SPEC.make_knobs("long-1k", questions="actor-object")
    batch = memtasks.generate(TASK, 100, seed=5, preset="long-1k", questions="actor-object")
    batch.check()
    assert np.diff(batch.offsets).min() >= 1000
    seen = check_stories(batch, knobs, long=True)
    assert seen["actor"] + seen["object"] == 500


def test_defaults_are_actor_d1_and_the_papers_world():
    assert SPEC.make_knobs() == SPEC.make_knobs("actor-d1")
    k = SPEC.make_knobs()
    assert (k.actors, k.objects, k.rooms, k.difficulty, k.questions) == (4, 3, 5, 1, "actor")
    words = set(vocab_of(k))
    assert {*WORLD_ACTORS, *WORLD_OBJECTS, *WORLD_ROOMS} <= words
    assert {"Joe", "Fred", "milk", "kitchen", "office", "bathroom"} <= words  # paper, Figure 1


def test_story_shape_follows_the_counting_knobs():
    for m, d, q in ((2, 1, 5), (2, 5, 5), (3, 2, 4), (1, 4, 7)):
        batch = memtasks.generate(
            TASK, 50, seed=0, statements_per_question=m, difficulty=d, questions_per_story=q
        )  # fmt: skip
        assert (batch.meta["questions"] == q).all()
        assert (batch.meta["statements"] == max(m, d) + (q - 1) * m).all()


def test_determinism():
    a = memtasks.generate(TASK, 300, seed=7, preset="actor-object-d5")
    b = memtasks.generate(TASK, 300, seed=7, preset="actor-object-d5")
    c = memtasks.generate(TASK, 300, seed=8, preset="actor-object-d5")
    assert a.content_hash() == b.content_hash() != c.content_hash()
    tail = memtasks.generate(TASK, 100, seed=7, start=200, preset="actor-object-d5")
    assert tail.content_hash() == a[200:300].content_hash()


def statement_texts(**values):
    knobs = SPEC.make_knobs(**values)
    batch = memtasks.generate(TASK, 300, seed=1, **values)
    vocab = vocab_of(knobs)
    return [
        line.split(" ", 1)[1]
        for i in range(len(batch))
        for line in story_lines(batch, i, vocab)
        if "\t" not in line
    ]  # fmt: skip


def test_pool_knobs_add_names():
    base = " ".join(statement_texts())
    big = " ".join(statement_texts(actors=9, objects=7, rooms=12, move_share=0.2))
    base_words, big_words = set(re.findall(r"[\w]+", base)), set(re.findall(r"[\w]+", big))
    new = big_words - base_words
    assert len([w for w in new if w[0].isupper()]) >= 4  # actors beyond Joe, Fred, Bill, Dan
    assert len({w for w in new if w.islower()}) >= 8  # rooms and objects beyond the paper's
    assert not ({w for w in base_words if w[0].isupper()} - set(WORLD_ACTORS))


def test_paraphrases_and_move_share():
    plain = statement_texts(paraphrases=False)
    assert {re.match(r"\w+ (.+?) the", s)[1] for s in plain} == {"went to", "picked up", "dropped"}
    rich = {re.match(r"\w+ (.+?) the", s)[1] for s in statement_texts()}
    assert len(rich) >= 10
    only_moves = statement_texts(move_share=1.0)
    assert all(parse(s)[0] == "move" for s in only_moves)
    share = [
        np.mean([parse(s)[0] != "move" for s in statement_texts(move_share=x)])
        for x in (0.8, 0.2)
    ]  # fmt: skip
    assert share[0] + 0.15 < share[1]


def question_kinds(**values):
    knobs = SPEC.make_knobs(**values)
    batch = memtasks.generate(TASK, 400, seed=2, **values)
    return check_stories(batch, knobs)


def test_object_share():
    assert question_kinds(questions="actor-object", object_share=0.0)["object"] == 0
    low = question_kinds(questions="actor-object", object_share=0.2)
    high = question_kinds(questions="actor-object", object_share=0.9)
    assert low["object"] + 300 < high["object"]
    # objects=0 is a world of moves only, which the actor questions allow
    assert question_kinds(objects=0)["actor"] == 2000


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"difficulty": 0}, "difficulty"),
        ({"questions": "object"}, "questions"),
        ({"rooms": 1}, "rooms"),
        ({"actors": 0}, "actors"),
        ({"objects": -1}, "objects"),
        ({"questions_per_story": 0}, "questions_per_story"),
        ({"statements_per_question": 0}, "statements_per_question"),
        ({"move_share": 1.5}, "move_share"),
        ({"object_share": -0.1}, "object_share"),
        ({"questions": "actor-object", "objects": 0}, "objects"),
        # 4 questions pending at once keep 4 actors quiet: a fifth must be free to act
        ({"difficulty": 5, "statements_per_question": 1, "actors": 4}, "actors"),
        ({"difficulty": 9, "statements_per_question": 2, "actors": 4}, "actors"),
    ],
)
def test_bad_knobs_raise(values, name):
    with pytest.raises(memtasks.KnobError, match=name) as err:
        SPEC.make_knobs(**values)
    assert "\n" not in str(err.value)


# -- world/qa-v2: the paper's "within the last k" ---------------------------------------------
@pytest.mark.parametrize("preset", PRESETS)
def test_v2_presets_re_solved_from_text(preset):
    knobs = SPEC_V2.make_knobs(preset)
    batch = memtasks.generate(TASK_V2, 2000, seed=11, preset=preset).check()
    seen = check_stories(batch, knobs)
    assert seen["actor"] + seen["object"] == 10_000
    # every distance 1..k occurs, each about as often as the others (uniform: 1/k of 10,000
    # questions; a binomial share of 0.2 over 10,000 has a standard deviation of 0.004)
    k = knobs.difficulty
    counts = [seen[f"distance={d}"] for d in range(1, k + 1)]
    assert sum(counts) == 10_000
    shares = [c / 10_000 for c in counts]
    assert all(abs(x - 1 / k) < 0.02 for x in shares), shares
    if preset.startswith("actor-object"):
        assert seen["object"] > 1500 and seen["actor"] > 1500
    else:
        assert seen["object"] == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    difficulty=st.integers(1, 9),
    per_question=st.integers(1, 4),
    questions=st.sampled_from(("actor", "actor-object")),
    exact=st.booleans(),
    spare_actors=st.integers(0, 2),
    seed=st.integers(0, 2**31),
)
def test_v2_distance_is_within_difficulty_or_exact(
    difficulty, per_question, questions, exact, spare_actors, seed
):
    # the fewest actors the knobs allow, or a few more
    actors = max(4, busy_windows(difficulty, per_question) + 1) + spare_actors
    values = dict(
        difficulty=difficulty, statements_per_question=per_question, questions=questions,
        exact=exact, actors=actors, questions_per_story=6,
    )  # fmt: skip
    knobs = SPEC_V2.make_knobs(**values)
    batch = memtasks.generate(TASK_V2, 30, seed=seed, **values).check()
    # check_stories asserts 1 <= distance <= difficulty, or == difficulty when exact
    seen = check_stories(batch, knobs)
    assert seen["actor"] + seen["object"] == 180
    distances = {int(key.split("=")[1]) for key in seen if key.startswith("distance=")}
    assert distances <= set(range(1, difficulty + 1))
    if exact:
        assert distances == {difficulty}


def test_v2_exact_is_v1s_reading():
    # the same knobs with exact=true give v1's distances and story shape (not its bytes: the
    # task id is part of every stream key)
    for preset in PRESETS:
        knobs = SPEC_V2.make_knobs(preset, exact=True)
        batch = memtasks.generate(TASK_V2, 400, seed=4, preset=preset, exact=True)
        seen = check_stories(batch, knobs)
        assert seen[f"distance={knobs.difficulty}"] == 2000
        v1 = memtasks.generate(TASK, 400, seed=4, preset=preset)
        assert (batch.meta["statements"] == v1.meta["statements"]).all()
        assert not batch.equals(v1)


def test_v2_defaults_presets_and_axis():
    assert SPEC_V2.make_knobs() == SPEC_V2.make_knobs("actor-d1")
    k = SPEC_V2.make_knobs()
    assert (k.actors, k.objects, k.rooms, k.difficulty, k.questions, k.exact) == (
        4, 3, 5, 1, "actor", False
    )  # fmt: skip
    # the paper's four columns, as in v1
    assert {p: SPEC_V2.presets[p] for p in PRESETS} == {p: SPEC.presets[p] for p in PRESETS}
    axis = {a.knob: a for a in axes(SPEC_V2)}["difficulty"]
    assert axis.direction == "up" and axis.ladder[0] == 1 and "longer ago" in axis.why
    assert "exact" not in {a.knob for a in axes(SPEC_V2)}
    # at difficulty 1 both readings are the same: the statement just before the question
    for exact in (False, True):
        knobs = SPEC_V2.make_knobs(questions="actor-object", exact=exact)
        batch = memtasks.generate(TASK_V2, 200, seed=9, questions="actor-object", exact=exact)
        assert check_stories(batch, knobs)["distance=1"] == 1000


def test_v2_longer_distances_are_harder_to_guess():
    # the harder end does what the axis claims: the room of the latest move before a question
    # answers nearly every actor question at difficulty 1 and far fewer at difficulty 5
    def latest_move_share(**values):
        knobs = SPEC_V2.make_knobs(**values)
        batch = memtasks.generate(TASK_V2, 300, seed=6, **values)
        right = total = 0
        for i in range(len(batch)):
            last_room = None
            for line in story_lines(batch, i, vocab_of(knobs)):
                rest = line.partition(" ")[2]
                if "\t" in rest:
                    total += 1
                    right += rest.split("\t")[1] == last_room
                elif (m := MOVE.fullmatch(rest)) is not None:
                    last_room = m[2]
        return right / total

    assert latest_move_share(difficulty=1) > 0.6
    assert latest_move_share(difficulty=5) < latest_move_share(difficulty=1) - 0.2


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"exact": "maybe"}, "exact"),
        ({"difficulty": 0}, "difficulty"),
        ({"difficulty": 9, "statements_per_question": 2, "actors": 4}, "actors"),
    ],
)
def test_v2_bad_knobs_raise(values, name):
    with pytest.raises(memtasks.KnobError, match=name) as err:
        SPEC_V2.make_knobs(**values)
    assert "\n" not in str(err.value)
