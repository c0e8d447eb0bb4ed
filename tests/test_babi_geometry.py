"""bAbI geometry tasks 4 (two-arg-relations), 17 (positional-reasoning), 19 (path-finding).

The invariants are checked on the *rendered* release-format text: each story is parsed back,
its rooms or shapes are placed on a grid from the statements by an independent solver (which
also checks that the statements agree and put no two things in one cell), and every answer
and supporting-fact list is recomputed from that geometry: from the whole story (the answer is
unique and right) and from the supporting statements alone (they suffice).
"""

from __future__ import annotations

import re
from collections import deque
from itertools import pairwise

import numpy as np
import pytest

import memtasks
from memtasks.generators.babi._task import world_of
from memtasks.generators.babi.qa17 import ALL_SHAPES
from memtasks.loaders.babi import story_lines

STEP = {"north": (0, 1), "east": (1, 0), "south": (0, -1), "west": (-1, 0)}
STEP.update({"above": (0, 1), "to the right of": (1, 0), "below": (0, -1)})
STEP["to the left of"] = (-1, 0)
LETTER = {"n": (0, 1), "e": (1, 0), "s": (0, -1), "w": (-1, 0)}
COMPASS_STATEMENT = re.compile(r"^The (.+) is (north|east|south|west) of the (.+)\.$")
RELATIVE = "(above|below|to the left of|to the right of)"
SHAPE_STATEMENT = re.compile(rf"^The (.+?) is {RELATIVE} the (.+)\.$")
SHAPE_QUESTION = re.compile(rf"^Is the (.+?) {RELATIVE} the (.+)\?$")


# ---------------------------------------------------------------------------------------------
# Text -> stories, and a grid solver
# ---------------------------------------------------------------------------------------------
def stories(task: str, n_questions: int, seed: int = 0, **knobs) -> list[list[tuple]]:
    """At least ``n_questions`` questions of ``task`` as parsed stories: lists of
    (number, text, answer or None, supporting line numbers)."""
    spec = memtasks.get_spec(task)
    k = spec.make_knobs(**knobs)
    vocab = world_of(spec.id, k).text.vocab
    out, got, start = [], 0, 0
    while got < n_questions:
        batch = spec.generate(2000, seed, knobs=k, start=start).check()
        for i in range(len(batch)):
            story = []
            for line in story_lines(batch, i, vocab):
                number, _, rest = line.partition(" ")
                text, *fields = rest.split("\t")
                if fields:
                    sup = [int(s) for s in fields[1].split()]
                    story.append((int(number), text.strip(), fields[0], sup))
                    got += 1
                else:
                    story.append((int(number), text, None, []))
            out.append(story)
        start += len(batch)
    return out


def place(relations: list[tuple[str, tuple[int, int], str]]) -> dict[str, tuple[int, int]]:
    """Cells of everything named in ``relations`` (a, step, b: a lies one ``step`` from b),
    from the first one's reference at (0, 0). Fails on disagreeing statements, a relation told
    twice, two things in one cell, or statements that do not connect."""
    pairs = [frozenset((a, b)) for a, _, b in relations]
    assert len(set(pairs)) == len(pairs), f"a relation told twice: {relations}"
    links: dict[str, list] = {}
    for a, (dx, dy), b in relations:
        assert a != b
        links.setdefault(b, []).append((a, dx, dy))
        links.setdefault(a, []).append((b, -dx, -dy))
    cell = {relations[0][2]: (0, 0)}
    todo = deque(cell)
    while todo:
        u = todo.popleft()
        for v, dx, dy in links[u]:
            want = (cell[u][0] + dx, cell[u][1] + dy)
            if v in cell:
                assert cell[v] == want, f"contradictory statements: {relations}"
            else:
                cell[v] = want
                todo.append(v)
    assert len(cell) == len(links), f"statements do not connect: {relations}"
    assert len(set(cell.values())) == len(cell), f"two things in one cell: {relations}"
    return cell


def shortest_paths(links: dict[str, set], source: str, target: str, at_most: int = 2):
    """Up to ``at_most`` shortest paths (room lists) from source to target in a graph."""
    dist = {source: 0}
    todo = deque([source])
    while todo:
        u = todo.popleft()
        for v in links.get(u, ()):
            if v not in dist:
                dist[v] = dist[u] + 1
                todo.append(v)
    if target not in dist:
        return []
    found: list[list[str]] = []

    def walk(path):
        if len(found) >= at_most:
            return
        u = path[-1]
        if u == target:
            found.append(path)
            return
        for v in sorted(links[u]):
            if dist.get(v) == dist[u] + 1 and dist[v] <= dist[target]:
                walk(path + [v])

    walk([source])
    return found


def check_supports(story, q, count):
    """Supports of question line ``q``: ``count`` earlier statement lines."""
    number, _, _, sup = story[q]
    statements = {n for n, _, answer, _ in story if answer is None}
    assert len(sup) == count, story
    assert len(set(sup)) == count and all(s < number and s in statements for s in sup), story
    return [story[s - 1] for s in sup]


def relation(text: str):
    m = COMPASS_STATEMENT.match(text) or SHAPE_STATEMENT.match(text)
    assert m, text
    return m[1], STEP[m[2]], m[3]


# ---------------------------------------------------------------------------------------------
# Re-solvers, one per task
# ---------------------------------------------------------------------------------------------
def solve4(relations, question: str) -> str:
    """The room one step in the asked direction of (or from) the given room."""
    cell = place(relations)
    m = re.match(r"^What is (north|east|south|west) of the (.+)\?$", question)
    if m:
        (dx, dy), room = STEP[m[1]], m[2]
    else:
        m = re.match(r"^What is the (.+) (north|east|south|west) of\?$", question)
        assert m, question
        room, (dx, dy) = m[1], STEP[m[2]]
        dx, dy = -dx, -dy
    x, y = cell[room]
    there = [r for r, c in cell.items() if c == (x + dx, y + dy)]
    assert len(there) == 1, (relations, question)
    return there[0]


def check4(story, chain=3):
    *told, (number, question, answer, _) = story
    assert len(told) == chain - 1 and all(a is None for _, _, a, _ in told), story
    relations = [relation(t) for _, t, _, _ in told]
    answer = answer.replace(",", " ")  # the text joins an answer's words with commas
    assert solve4(relations, question) == answer, story
    (support,) = check_supports(story, len(story) - 1, 1)
    assert solve4([relation(support[1])], question) == answer, story  # it suffices


def solve17(relations, question: str) -> str:
    cell = place(relations)
    m = SHAPE_QUESTION.match(question)
    assert m, question
    (ax, ay), (dx, dy), (bx, by) = cell[m[1]], STEP[m[2]], cell[m[3]]
    return "yes" if (ax - bx) * dx + (ay - by) * dy > 0 else "no"


def check17(story, questions=8):
    told = [line for line in story if line[2] is None]
    assert len(told) == 2 and len(story) == 2 + questions, story
    relations = [relation(t) for _, t, _, _ in told]
    for q in range(2, len(story)):
        _, question, answer, _ = story[q]
        assert solve17(relations, question) == answer, story
        first, second = check_supports(story, q, 2)
        a, _, b = SHAPE_QUESTION.match(question).groups()
        # release order: the statement naming the question's first shape first
        assert a in first[1] and b in second[1], story
        assert solve17([relation(first[1]), relation(second[1])], question) == answer


def solve19(relations, question: str) -> tuple[str, list[str]]:
    """The direction letters of the unique shortest path (neighbouring rooms connected, told
    or not; the told statements give the same path), and the path."""
    cell = place(relations)
    m = re.match(r"^How do you go from the (.+) to the (.+)\?$", question)
    assert m, question
    source, target = m[1], m[2]
    near = {
        r: {s for s, d in cell.items() if abs(d[0] - c[0]) + abs(d[1] - c[1]) == 1}
        for r, c in cell.items()
    }
    told: dict[str, set] = {}
    for a, _, b in relations:
        told.setdefault(a, set()).add(b)
        told.setdefault(b, set()).add(a)
    paths = shortest_paths(near, source, target)
    assert len(paths) == 1, ("no unique shortest path", relations, question, paths)
    assert shortest_paths(told, source, target) == paths, (relations, question)
    (path,) = paths
    back = {v: k for k, v in LETTER.items()}
    steps = [back[(cell[v][0] - cell[u][0], cell[v][1] - cell[u][1])] for u, v in pairwise(path)]
    return ",".join(steps), path


def check19(story, path_length=2, decoys=3):
    *told, (number, question, answer, _) = story
    assert len(told) == path_length + decoys and all(a is None for _, _, a, _ in told), story
    relations = [relation(t) for _, t, _, _ in told]
    got, path = solve19(relations, question)
    assert got == answer and len(answer.split(",")) == path_length, story
    supports = check_supports(story, len(story) - 1, path_length)
    # release order: the path's statements, step by step
    for (_, text, _, _), (u, v) in zip(supports, pairwise(path), strict=True):
        a, _, b = relation(text)
        assert {a, b} == {u, v}, story
    assert solve19([relation(s[1]) for s in supports], question)[0] == answer  # they suffice


# ---------------------------------------------------------------------------------------------
# Invariants: release, and one setting beyond it, per task
# ---------------------------------------------------------------------------------------------
def test_qa4_release_invariants():
    got = stories("babi/qa4", 10_000)
    assert sum(len(s) - 2 for s in got) >= 10_000
    for story in got:
        check4(story)
    # every relation is asked in both forms and about all four directions
    asked = {re.sub(r"the \w+", "the X", s[-1][1]) for s in got}
    assert len(asked) == 8, asked


def test_qa4_longer_chain_open_vocab_invariants():
    got = stories("babi/qa4", 3_000, chain=6, rooms=36)
    for story in got:
        check4(story, chain=6)
    words = {w for s in got for _, t, _, _ in s for w in t.split()}
    assert "attic" in words or "cellar" in words


def test_qa17_release_invariants():
    got = stories("babi/qa17", 80_000)  # 10,000 stories of 8 questions
    assert len(got) >= 10_000
    for story in got:
        check17(story)


def test_qa17_more_shapes_fewer_questions_invariants():
    got = stories("babi/qa17", 3_000, shapes=len(ALL_SHAPES), questions=3)
    for story in got:
        check17(story, questions=3)
    text = " ".join(t for s in got for _, t, _, _ in s)
    assert "cube" in text and "purple" in text


def test_qa19_release_invariants():
    got = stories("babi/qa19", 10_000)
    for story in got:
        check19(story)
    # the 12 two-step paths that do not go back
    back = {"n": "s", "s": "n", "e": "w", "w": "e"}
    answers = {s[-1][2] for s in got}
    assert len(answers) == 12 and all(a[2] != back[a[0]] for a in answers), answers


def test_qa19_hard_invariants():
    spec = memtasks.get_spec("babi/qa19")
    hard = spec.presets["hard"]
    got = stories("babi/qa19", 3_000, **hard)
    for story in got:
        check19(story, hard["path_length"], hard["decoys"])


def test_solver_catches_broken_geometry():
    """The checks above can fail: two rooms in one cell, contradictions, a second path."""
    with pytest.raises(AssertionError, match="one cell"):
        place([("office", STEP["north"], "kitchen"), ("garden", STEP["north"], "kitchen")])
    with pytest.raises(AssertionError, match="contradictory"):
        place([
            ("office", STEP["north"], "kitchen"), ("garden", STEP["east"], "office"),
            ("garden", STEP["north"], "kitchen"),
        ])  # fmt: skip
    # the hallway is next to the garden though no statement says so: a second path as short
    square = [
        ("office", STEP["north"], "kitchen"), ("garden", STEP["east"], "office"),
        ("hallway", STEP["east"], "kitchen"),
    ]  # fmt: skip
    with pytest.raises(AssertionError, match="unique shortest"):
        solve19(square, "How do you go from the kitchen to the garden?")


# ---------------------------------------------------------------------------------------------
# Batches, determinism, knobs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["babi/qa4", "babi/qa17", "babi/qa19"])
def test_determinism_and_presets(task):
    spec = memtasks.get_spec(task)
    a = spec.generate(200, 7).check()
    assert a.content_hash() == spec.generate(200, 7).content_hash()
    assert a.content_hash() != spec.generate(200, 8).content_hash()
    assert {"release", "open-vocab"} <= set(spec.presets)
    for preset in ("release", "open-vocab", "hard"):
        if preset in spec.presets:
            spec.generate(50, 0, preset=preset).check()


def _words(task, **knobs):
    return {w for s in stories(task, 400, **knobs) for _, t, a, _ in s for w in t.split()}


def test_qa4_knobs():
    assert "attic" in _words("babi/qa4", rooms=7)
    three = _words("babi/qa4", rooms=3)
    assert {"bathroom", "bedroom", "garden"} <= three
    assert not three & {"hallway", "kitchen", "office"}
    got = stories("babi/qa4", 50, chain=4)
    assert all(len(s) == 4 for s in got)
    spec = memtasks.get_spec("babi/qa4")
    b = spec.generate(200, 0, min_distance=2)
    assert (b.meta["support_distance"][:, 0] == 2).all()
    with pytest.raises(memtasks.KnobError, match="chain"):
        spec.make_knobs(chain=7)
    with pytest.raises(memtasks.KnobError, match="rooms"):
        spec.make_knobs(rooms=1)


def test_qa17_knobs():
    assert "green" in _words("babi/qa17", shapes=8)
    assert not _words("babi/qa17", shapes=6) & {"green", "cube", "purple"}
    spec = memtasks.get_spec("babi/qa17")
    assert (spec.generate(20, 0, questions=12).meta["questions"] == 12).all()
    with pytest.raises(memtasks.KnobError, match="shapes"):
        spec.make_knobs(shapes=2)
    with pytest.raises(memtasks.KnobError, match="questions"):
        spec.make_knobs(questions=0)
    # "the triangle" names one shape in every pool: no coloured triangle, no plain square ...
    plain = {s for s in ALL_SHAPES if " " not in s}
    assert not any(s.split()[-1] in plain for s in ALL_SHAPES if " " in s)


def test_qa19_knobs():
    spec = memtasks.get_spec("babi/qa19")
    got = stories("babi/qa19", 200, path_length=5, decoys=0, rooms=6)
    assert all(len(s) == 6 and len(s[-1][2].split(",")) == 5 for s in got)
    for story in got:
        check19(story, 5, 0)
    got = stories("babi/qa19", 200, path_length=2, decoys=6, rooms=9)
    assert all(len(s) == 9 for s in got)
    for story in got:
        check19(story, 2, 6)
    assert "attic" in _words("babi/qa19", rooms=7)
    b = spec.generate(200, 0, min_distance=4)
    assert (b.meta["support_distance"][:, 0] >= 4).all()
    with pytest.raises(memtasks.KnobError, match="rooms"):
        spec.make_knobs(path_length=3, decoys=3)
    with pytest.raises(memtasks.KnobError, match="decoys"):
        spec.make_knobs(path_length=1, decoys=6, rooms=12)
    with pytest.raises(memtasks.KnobError, match="path_length"):
        spec.make_knobs(path_length=0)
    np.testing.assert_array_equal(
        spec.generate(100, 0, path_length=3, rooms=7).meta["questions"], 1
    )
