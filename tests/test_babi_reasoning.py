"""bAbI tasks 15, 16, 18 and 20 (deduction, induction, size reasoning, motivations): every
answer re-solved from the rendered text.

Each task's stories are rendered in the release's format and read back as sentences; a small
solver per task (written here from the sentences alone) recomputes every answer from all the
statements before the question, and again from its supporting statements alone. Both must give
the stored answer and exactly one answer: contradictions, ambiguities and insufficient supports
all fail. Then the task's knobs, one by one.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

import memtasks
from memtasks.generators.babi import qa15, qa20
from memtasks.generators.babi._task import world_of
from memtasks.loaders.babi import story_lines

QUESTIONS = 10_000
STORIES = 10_000  # the invariant checks run on this many stories per task (release mode)


class Unsolvable(Exception):
    """The sentences give no answer, several, or contradict one another."""


def stories(task: str, n_questions: int, seed: int = 0, **knobs):
    """Stories of ``task`` with at least ``n_questions`` questions, each a list of lines:
    ``(text,)`` for a statement, ``(text, answer, supports)`` for a question (supports as
    0-based line indices)."""
    spec = memtasks.get_spec(task)
    k = spec.make_knobs(**knobs)
    vocab = world_of(spec.id, k).text.vocab
    out, got, start = [], 0, 0
    while got < n_questions:
        # batches under the parallel kernel's threshold: only the serial variant compiles
        size = min(1000, max(50, (n_questions - got) // 3))
        batch = spec.generate(size, seed, knobs=k, start=start)
        batch.check()
        start += len(batch)
        for i in range(len(batch)):
            lines = []
            for line in story_lines(batch, i, vocab):
                number, rest = line.split(" ", 1)
                assert int(number) == len(lines) + 1
                text, *fields = rest.split("\t")
                if fields:
                    sup = [int(s) - 1 for s in fields[1].split()]
                    lines.append((text, fields[0], sup))
                    got += 1
                else:
                    lines.append((text,))
            out.append(lines)
    return out


def check_story(lines, solve, n_support):
    """Every question: supports are earlier statements, ``n_support`` of them (an int or a set
    of allowed counts), and the solver gives the stored answer from the whole story so far and
    from the supports alone."""
    for q, line in enumerate(lines):
        if len(line) == 1:
            continue
        text, answer, sup = line
        allowed = n_support if isinstance(n_support, set) else {n_support}
        assert len(sup) in allowed, (lines, q)
        assert all(0 <= s < q and len(lines[s]) == 1 for s in sup), (lines, q)
        assert len(set(sup)) == len(sup)
        before = [lines[i][0] for i in range(q) if len(lines[i]) == 1]
        assert solve(before, text) == answer, (lines, q)
        assert solve([lines[s][0] for s in sup], text) == answer, (lines, q, "supports")


def questions_of(lines):
    return [line for line in lines if len(line) == 3]


# -- task 15 -------------------------------------------------------------------------------------
SINGULAR = {pl: sg for sg, pl in qa15.ALL_ANIMALS}


def solve15(statements, q):
    fear, species = {}, {}
    for s in statements:
        if m := re.fullmatch(r"(\w+) are afraid of (\w+)\.", s):
            a, b = m[1].lower(), m[2]
            if fear.setdefault(a, b) != b or a == b:
                raise Unsolvable(s)
        elif m := re.fullmatch(r"(\w+) is a (\w+)\.", s):
            if species.setdefault(m[1].lower(), m[2]) != m[2]:
                raise Unsolvable(s)
        else:
            raise Unsolvable(s)
    m = re.fullmatch(r"What is (\w+) afraid of\?", q)
    name = m[1]
    assert name == name.lower()  # the release's lower-case name
    sp = species.get(name)
    plural = next((pl for sg, pl in qa15.ALL_ANIMALS if sg == sp), None)
    if plural not in fear:
        raise Unsolvable(q)
    return SINGULAR[fear[plural]]


def check15(story, n_actors=4, n_animals=4, n_questions=4):
    statements = [line[0] for line in story if len(line) == 1]
    assert len(statements) == n_actors + n_animals and len(story) == len(statements) + n_questions
    assert all(len(line) == 3 for line in story[len(statements) :])  # questions last
    # every species' fear is told before any actor of that species
    told = set()
    for s in statements:
        if m := re.fullmatch(r"(\w+) are afraid of \w+\.", s):
            told.add(SINGULAR[m[1].lower()])
        else:
            assert s.split()[-1][:-1] in told, story
    check_story(story, solve15, 2)
    for _, _, sup in questions_of(story):  # the release's order: actor's line, then fear
        assert " is a " in story[sup[0]][0] and "afraid" in story[sup[1]][0]


@pytest.mark.parametrize(
    "knobs", [{}, {"actors": 30, "animals": 10, "story_actors": 6, "story_animals": 5}]
)
def test_qa15_answers_follow_from_the_story(knobs):
    k = memtasks.get_spec("babi/qa15").make_knobs(**knobs)
    for story in stories("babi/qa15", 4 * STORIES, **knobs):
        check15(story, k.story_actors, k.story_animals, k.questions)


def test_qa15_knobs():
    opened = stories("babi/qa15", 400, actors=40, animals=18)
    words = {w.lower().strip(".?") for st in opened for line in st for w in line[0].split()}
    assert {"gertrude", "emily"} < words and "alice" in words and "geese" in words
    few = stories("babi/qa15", 60, questions=2, story_actors=2, story_animals=3, actors=2)
    for story in few:
        check15(story, 2, 3, 2)
    for bad, match in [
        ({"story_actors": 5}, "story_actors must be <= actors"),
        ({"story_animals": 3, "animals": 2}, "story_animals must be <= animals"),
        ({"animals": 1}, "animals"),
    ]:
        with pytest.raises(memtasks.KnobError, match=match):
            memtasks.generate("babi/qa15", 1, **bad)


# -- task 16 -------------------------------------------------------------------------------------
def solve16(statements, q):
    species, color = {}, {}
    for s in statements:
        if m := re.fullmatch(r"(\w+) is a (\w+)\.", s):
            if species.setdefault(m[1], m[2]) != m[2]:
                raise Unsolvable(s)
        elif m := re.fullmatch(r"(\w+) is (\w+)\.", s):
            if color.setdefault(m[1], m[2]) != m[2]:
                raise Unsolvable(s)
        else:
            raise Unsolvable(s)
    x = re.fullmatch(r"What color is (\w+)\?", q)[1]
    if x in color or x not in species:
        raise Unsolvable(q)
    # induction: the colour every known peer of x's species has; there must be one
    seen = {color[a] for a in color if species.get(a) == species[x]}
    if len(seen) != 1:
        raise Unsolvable(q)
    return seen.pop()


def check16(story, n_actors=5, n_peers=1):
    statements = [line[0] for line in story if len(line) == 1]
    assert len(statements) == 2 * n_actors - 1 and len(story) == 2 * n_actors
    check_story(story, solve16, 3)
    species = dict(
        re.fullmatch(r"(\w+) is a (\w+)\.", s).groups() for s in statements if " a " in s
    )
    # one colour per species over the whole story; each actor's species before its colour
    by_species = defaultdict(set)
    for i, s in enumerate(statements):
        if " a " not in s:
            name, col = re.fullmatch(r"(\w+) is (\w+)\.", s).groups()
            by_species[species[name]].add(col)
            assert f"{name} is a {species[name]}." in statements[:i]
    assert all(len(c) == 1 for c in by_species.values())
    text, _, sup = story[-1]
    x = re.fullmatch(r"What color is (\w+)\?", text)[1]
    assert sum(species[a] == species[x] for a in species) == n_peers + 1
    # supports: x's species, a peer's species, then that peer's colour
    peer = story[sup[1]][0].split()[0]
    assert story[sup[0]][0].startswith(f"{x} is a ") and story[sup[2]][0].startswith(peer)
    assert peer != x and " a " not in story[sup[2]][0]


# v1's rule (one colour per species, exactly ``peers`` peers), kept by v2 with peer_mix=false;
# v2's release shapes: tests/test_babi_recency.py
@pytest.mark.parametrize(
    "task, knobs",
    [
        ("babi/qa16-v1", {}),
        ("babi/qa16-v1", {"actors": 12, "story_actors": 8, "peers": 3, "animals": 6, "colors": 6}),
        ("babi/qa16-v2", {"peer_mix": False}),
        ("babi/qa16-v2", {"actors": 9, "story_actors": 6, "peers": 2, "peer_mix": False}),
    ],
)
def test_qa16_answers_follow_from_the_story(task, knobs):
    k = memtasks.get_spec(task).make_knobs(**knobs)
    for story in stories(task, STORIES, **knobs):
        check16(story, k.story_actors, k.peers)


def test_qa16_knobs():
    k = {"actors": 30, "animals": 20, "colors": 12}
    words = {
        w.strip(".?")
        for st in stories("babi/qa16-v1", 300, **k)
        for ln in st
        for w in ln[0].split()
    }
    assert "Lily" in words and "Alice" in words and "parrot" in words and "purple" in words
    for story in stories("babi/qa16-v1", 200, story_actors=2, actors=2):
        check16(story, 2, 1)
    for bad, match in [
        ({"peers": 5}, "peers must be < story_actors"),
        ({"story_actors": 6}, "story_actors must be <= actors"),
        ({"colors": 0}, "colors"),
    ]:
        with pytest.raises(memtasks.KnobError, match=match):
            memtasks.generate("babi/qa16-v1", 1, **bad)


# -- task 18 -------------------------------------------------------------------------------------
def edges18(statements):
    out = []
    for s in statements:
        if m := re.fullmatch(r"The (.+) is bigger than the (.+)\.", s):
            out.append((m[1], m[2]))
        elif m := re.fullmatch(r"The (.+) fits inside the (.+)\.", s):
            out.append((m[2], m[1]))
        else:
            raise Unsolvable(s)
    return out


def bigger(edges):
    """The transitive closure of "a is bigger than b"; a contradiction (a cycle) fails."""
    nodes = {x for e in edges for x in e}
    closure = set(edges)
    for m in nodes:  # Warshall: chains through m
        closure |= {(a, d) for a, b in closure if b == m for c, d in closure if c == m}
    if any((b, a) in closure for a, b in closure):
        raise Unsolvable("the sizes contradict one another")
    return closure


def solve18(statements, q):
    if m := re.fullmatch(r"Is the (.+) bigger than the (.+)\?", q):
        big, small = m[1], m[2]
    else:
        m = re.fullmatch(r"Does the (.+) fit in the (.+)\?", q)
        big, small = m[2], m[1]
    closure = bigger(edges18(statements))
    if (big, small) in closure:
        return "yes"
    if (small, big) in closure:
        return "no"
    raise Unsolvable(q)


def chain_length(edges, a, b):
    """Fewest statements leading down from a to b (None: no chain)."""
    frontier, seen, k = {a}, {a}, 0
    while frontier:
        k += 1
        frontier = {d for c, d in edges if c in frontier} - seen
        if b in frontier:
            return k
        seen |= frontier
    return None


def check18(story, steps=2, shortest=False, per_round=5, questions=5, n_objects=6):
    check_story(story, solve18, steps)
    statements = [line[0] for line in story if len(line) == 1]
    edges = edges18(statements)
    bigger(edges)  # one consistent size order over the whole story
    assert len({x for e in edges for x in e}) <= n_objects
    assert len(statements) % per_round == 0
    assert questions <= len(questions_of(story)) <= 2 * questions - 1
    assert len(story[-1]) == 3  # a story ends on its questions
    for q, line in enumerate(story):
        if len(line) == 1:
            continue
        text, answer, sup = line
        e = edges18([story[s][0] for s in sup])
        # the supports are a chain, from the object the question claims is the bigger
        m = re.fullmatch(r"Is the (.+) bigger than the (.+)\?", text)
        claim = m[1] if m else re.fullmatch(r"Does the (.+) fit in the (.+)\?", text)[2]
        other = m[2] if m else re.fullmatch(r"Does the (.+) fit in the (.+)\?", text)[1]
        hi, lo = (claim, other) if answer == "yes" else (other, claim)
        down = e if answer == "yes" else e[::-1]
        assert down[0][0] == hi and down[-1][1] == lo and claim in e[0]
        assert all(down[i][1] == down[i + 1][0] for i in range(len(down) - 1))
        if shortest:
            before = edges18([story[i][0] for i in range(q) if len(story[i]) == 1])
            assert chain_length(before, hi, lo) == steps


@pytest.mark.parametrize(
    "knobs",
    [{}, {"steps": 3, "shortest": True, "objects": 9, "story_objects": 8, "statements": 6}],
)
def test_qa18_answers_follow_from_a_consistent_size_order(knobs):
    k = memtasks.get_spec("babi/qa18").make_knobs(**knobs)
    for story in stories("babi/qa18", 5 * STORIES + 2_000, **knobs):
        check18(story, k.steps, k.shortest, k.statements, k.questions, k.story_objects)


def test_qa18_knobs():
    # like the release, a pair compared directly may be asked too; `shortest` never asks one
    def direct(story):
        count = 0
        for q, line in enumerate(story):
            if len(line) == 3:
                before = edges18([story[i][0] for i in range(q) if len(story[i]) == 1])
                m = re.fullmatch(r"Is the (.+) bigger than the (.+)\?", line[0])
                m = m or re.fullmatch(r"Does the (.+) fit in the (.+)\?", line[0])
                count += (m[1], m[2]) in before or (m[2], m[1]) in before
        return count

    assert sum(direct(story) for story in stories("babi/qa18", 1000)) > 100
    assert sum(direct(story) for story in stories("babi/qa18", 1000, shortest=True)) == 0
    for story in stories("babi/qa18", 500, steps=1):
        check18(story, steps=1)
    for story in stories("babi/qa18", 500, shortest=True):
        check18(story, shortest=True)
    for story in stories("babi/qa18", 300, statements=3, questions=2):
        check18(story, per_round=3, questions=2)
    for story in stories("babi/qa18", 300, story_objects=3):
        check18(story, n_objects=3)
    words = " ".join(ln[0] for st in stories("babi/qa18", 300, objects=22) for ln in st)
    assert "suitcase" in words and "wardrobe" in words
    deep = memtasks.generate("babi/qa18", 50, preset="deep").check()
    assert deep.meta["support_distance"].max() > 0 and len(deep.support) % 3 == 0
    for bad, match in [
        ({"steps": 6}, "steps must be < story_objects"),
        ({"story_objects": 7}, "story_objects must be <= objects"),
        ({"statements": 0}, "statements"),
    ]:
        with pytest.raises(memtasks.KnobError, match=match):
            memtasks.generate("babi/qa18", 1, **bad)


# -- task 20 -------------------------------------------------------------------------------------
PLACE = {m: place for m, place, _ in qa20.ALL_MOTIVES}
OBJECT = {m: obj for m, _, obj in qa20.ALL_MOTIVES}
MOVE = re.compile(r"(\w+) (?:moved|went|journeyed|travelled|went back) to the (\w+)\.")
GET = re.compile(r"(\w+) (?:got|grabbed|picked up|took) the (\w+) there\.")


def solve20(statements, q):
    """The asked actor's latest motivation, which must explain the move or the get asked
    about; a move or get that no motivation explains is a contradiction."""
    motive, went, got = {}, defaultdict(list), {}
    for s in statements:
        if m := re.fullmatch(r"(\w+) is (\w+)\.", s):
            motive[m[1].lower()] = m[2]
        elif m := MOVE.fullmatch(s):
            a = m[1].lower()
            if a in motive and PLACE[motive[a]] != m[2]:
                raise Unsolvable(s)
            went[a].append((m[2], motive.get(a)))
        elif m := GET.fullmatch(s):
            a = m[1].lower()
            if m[2] in got or (a in motive and OBJECT[motive[a]] != m[2]):
                raise Unsolvable(s)  # an object got twice, or for no reason
            got[m[2]] = (a, motive.get(a))
        else:
            raise Unsolvable(s)
    if m := re.fullmatch(r"Where will (\w+) go\?", q):
        if m[1] not in motive:
            raise Unsolvable(q)
        return PLACE[motive[m[1]]]
    if m := re.fullmatch(r"Why did (\w+) go to the (\w+)\?", q):
        reasons = {r for place, r in went[m[1]] if place == m[2]}
        if not went[m[1]]:  # from the motivation alone (the supports): where it leads
            reasons = {motive[m[1]]} if PLACE.get(motive.get(m[1])) == m[2] else set()
    else:
        m = re.fullmatch(r"Why did (\w+) get the (\w+)\?", q)
        reasons = {got[m[2]][1]} if m[2] in got and got[m[2]][0] == m[1] else set()
        if m[2] not in got and OBJECT.get(motive.get(m[1])) == m[2]:
            reasons = {motive[m[1]]}
    if len(reasons) != 1 or None in reasons:
        raise Unsolvable(q)
    return reasons.pop()


def check20(story, n_actors=4, scripts=1):
    check_story(story, solve20, 1)
    statements = [line[0] for line in story if len(line) == 1]
    per_actor = defaultdict(int)
    for s in statements:
        if m := re.fullmatch(r"(\w+) is (\w+)\.", s):
            per_actor[m[1]] += 1
    assert len(per_actor) == n_actors and set(per_actor.values()) == {scripts}
    # every statement is followed by its question (the release's rhythm)
    assert all(len(a) == 1 and len(b) == 3 for a, b in zip(story[::2], story[1::2], strict=True))


@pytest.mark.parametrize(
    "knobs", [{}, {"actors": 10, "story_actors": 5, "motivations": 9, "scripts": 3}]
)
def test_qa20_answers_follow_from_motivations(knobs):
    k = memtasks.get_spec("babi/qa20").make_knobs(**knobs)
    for story in stories("babi/qa20", 11 * STORIES, **knobs):
        check20(story, k.story_actors, k.scripts)


def test_qa20_knobs():
    words = " ".join(
        ln[0] for st in stories("babi/qa20", 500, motivations=9, actors=20) for ln in st
    )
    assert "hungry" in words and "dirty" in words and "soap" in words
    for story in stories("babi/qa20", 300, story_actors=1, actors=1, scripts=2):
        check20(story, 1, 2)
    with pytest.raises(memtasks.KnobError, match="scripts must be <= the places"):
        memtasks.generate("babi/qa20", 1, scripts=4)
    with pytest.raises(memtasks.KnobError, match="story_actors must be <= actors"):
        memtasks.generate("babi/qa20", 1, story_actors=5)


# -- all four ------------------------------------------------------------------------------------
TASKS = ["babi/qa15", "babi/qa16-v1", "babi/qa18", "babi/qa20"]


@pytest.mark.parametrize("task", TASKS)
def test_determinism_and_presets(task):
    a = memtasks.generate(task, 40, seed=5).check()
    assert a.content_hash() == memtasks.generate(task, 40, seed=5).content_hash()
    assert a.content_hash() != memtasks.generate(task, 40, seed=6).content_hash()
    spec = memtasks.get_spec(task)
    assert "release" in spec.presets and "open-vocab" in spec.presets
    for preset in spec.presets:
        memtasks.generate(task, 20, seed=0, preset=preset).check()


@pytest.mark.parametrize("task", TASKS)
def test_min_distance_bounds_every_question(task):
    knobs = {"min_distance": 2} if task != "babi/qa18" else {"min_distance": 4}
    batch = memtasks.generate(task, 200, seed=1, **knobs).check()
    d = batch.meta["support_distance"]
    assert d[d >= 0].min() >= knobs["min_distance"]


@pytest.mark.parametrize(
    ("task", "solve", "n_support"),
    [("babi/qa15", solve15, 2), ("babi/qa16-v1", solve16, 3), ("babi/qa18", solve18, 2),
     ("babi/qa20", solve20, 1)],
)  # fmt: skip
def test_the_checks_catch_wrong_answers_and_short_supports(task, solve, n_support):
    """The checks above are not vacuous: a wrong answer, or supports missing a line, fail."""
    story = stories(task, 1)[0]
    check_story(story, solve, n_support)
    q = next(i for i, line in enumerate(story) if len(line) == 3)
    text, answer, sup = story[q]
    with pytest.raises(AssertionError):
        check_story([*story[:q], (text, "nothing", sup), *story[q + 1 :]], solve, n_support)
    with pytest.raises((AssertionError, Unsolvable)):
        check_story([*story[:q], (text, answer, sup[1:]), *story[q + 1 :]], solve, n_support - 1)


def test_the_size_check_catches_a_contradiction():
    story = stories("babi/qa18", 1)[0]
    big, small = edges18([story[0][0]])[0]
    with pytest.raises(Unsolvable, match="contradict"):
        check18([*story, (f"The {small} is bigger than the {big}.",)])
