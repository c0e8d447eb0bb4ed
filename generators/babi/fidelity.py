"""How close generated ``release`` data is to the released bAbI v1.2 files.

The same measurements are taken of released text and of generated text (rendered in the
release's format), with the definitions in ``make_release_stats.py``, and compared
with tolerances that allow for sampling noise (the release has 1,000 questions per task).
``release_stats.json`` holds the release's figures, so no release file is needed here.

    python -m generators.babi.fidelity [qa1 qa2 ...] [-n 10000] [--version V]

prints generated figures beside the release's, and every difference beyond tolerance.

*(issue 13)* The surface figures cannot see whether a question follows facts that name other
answers. ``disagreement`` reads that from the text for tasks 5, 14, 16 and 19: per question
form, the share of questions whose matching earlier facts disagree, whether the most recent
fact decides them, and how many facts match a question; ``compare`` checks them against the
release's when ``measure_text`` is given the task.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np

STATS = Path(__file__).with_name("release_stats.json")


@cache
def release(task: int) -> dict:
    """The release's figures for task ``task`` (en, train)."""
    return json.loads(STATS.read_text())["tasks"][str(task)]


def _summary(values: list[float]) -> dict:
    if not values:
        return {"mean": 0.0, "min": 0, "max": 0}
    return {"mean": float(np.mean(values)), "min": min(values), "max": max(values)}


def measure_text(
    lines: list[str], tags: dict[str, str] | None = None, task: int | None = None
) -> dict:
    """Figures of bAbI text (lines without newlines), as in ``babi-stats.json``; with ``tags``
    (phrase -> tag, e.g. ``{"kitchen": "LOC"}``) also the sentence shapes and their counts;
    with ``task`` also ``disagreement`` (where the task has a reader)."""
    stories, q_per_story, before, story_len, words_s, words_q = 0, [], [], [], [], []
    answers: Counter = Counter()
    n_support: Counter = Counter()
    distance: list[int] = []
    vocab: set[str] = set()
    shapes: dict[str, Counter] = {"S": Counter(), "Q": Counter()}
    shaper = _shaper(tags) if tags else None
    statements = questions = 0

    def end_story() -> None:
        if stories:
            q_per_story.append(questions)
            story_len.append(statements)

    for line in lines:
        number, _, rest = line.partition(" ")
        if number == "1":
            end_story()
            stories += 1
            statements = questions = 0
        text, *fields = rest.split("\t")
        text = text.strip()
        vocab.update(re.sub(r"[.?,]", " ", text).lower().split())
        if fields:
            answer, support = fields[0], fields[1].split()
            questions += 1
            answers[answer] += 1
            vocab.update(a.lower() for a in answer.split(","))
            before.append(statements)
            n_support[str(len(support))] += 1
            if support:
                distance.append(int(number) - min(int(s) for s in support))
            words_q.append(len(text.split()))
        else:
            statements += 1
            words_s.append(len(text.split()))
        if shaper:
            shapes["Q" if fields else "S"][shaper(text)] += 1
    end_story()
    out = {
        "num_stories": stories,
        "num_questions": sum(q_per_story),
        "questions_per_story": _summary(q_per_story),
        "statements_before_question": _summary(before),
        "story_length_statements": _summary(story_len),
        "words_per_statement": _summary(words_s),
        "words_per_question": _summary(words_q),
        "answers": dict(answers.most_common()),
        "supporting_facts_per_question_dist": dict(sorted(n_support.items())),
        "question_to_earliest_support_distance_lines": _summary(distance),
        "vocab": sorted(vocab),
    }
    if shaper:
        out["templates"] = {k: dict(v.most_common()) for k, v in shapes.items()}
    if task is not None and (found := disagreement(task, lines)) is not None:
        out["disagreement"] = found
    return out


# -- questions whose matching earlier facts disagree (issue 13) --------------------------------
#
# The surface figures above cannot see whether a question is asked after facts that name
# different answers ("Who received the apple?" after the apple went to Bill, then to Fred). Per
# task with a reader below: each question's matching earlier facts, in the order that decides
# ("most recent"), the answer each would give, and whether the question's answer is the most
# recent one's. A task without a reader is not measured.

RULES = {
    5: "the most recent matching give (story order)",
    14: "the most recent visit to the room (time of day)",
    16: "the peer whose species was told last",
    19: "the most recently told path (told facts never give two)",
}
_TIME_WORDS = ("yesterday", "this morning", "this afternoon", "this evening")
_GIVE = re.compile(r"^(.+?) (?:gave|handed|passed) the (.+?) to (.+?)\.$")
_ASK5 = (  # form name, pattern, (indices into a give (giver, object, recipient) it names), asked
    ("What did A give to B?", re.compile(r"^What did (.+?) give to (.+?)(?: last)?\?$"), (0, 2), 1),
    ("Who gave the O?", re.compile(r"^Who gave the (.+?)(?: last)?\?$"), (1,), 0),
    ("Who did A give the O to?", re.compile(r"^Who did (.+?) give the (.+?) to(?: last)?\?$"),
     (0, 1), 2),
    ("Who received the O?", re.compile(r"^Who received the (.+?)(?: last)?\?$"), (1,), 2),
    ("Who gave the O to B?", re.compile(r"^Who gave the (.+?) to (.+?)(?: last)?\?$"), (1, 2), 0),
)  # fmt: skip
_TIMED_MOVE = re.compile(
    r"^(?:(yesterday|this morning|this afternoon|this evening) )?(\S+) .*? to the (.+?)"
    r"(?: (yesterday|this morning|this afternoon|this evening))?\.$",
    re.I,
)
_OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}


def _stories(lines: list[str]):
    """Each story's lines as (id, text, answer or None)."""
    story: list[tuple[int, str, str | None]] = []
    for line in lines:
        number, _, rest = line.partition(" ")
        if number == "1" and story:
            yield story
            story = []
        text, *fields = rest.split("\t")
        story.append((int(number), text.strip(), fields[0] if fields else None))
    if story:
        yield story


def _candidates_5(story):
    gives: list[tuple[str, str, str]] = []
    for _, text, answer in story:
        if answer is None:
            if m := _GIVE.match(text):
                gives.append(m.groups())
            continue
        for form, pattern, names, asked in _ASK5:
            if m := pattern.match(text):
                named = m.groups()
                # "Who gave the O?" also matches "Who gave the O to B?": the longer form first
                if form == "Who gave the O?" and " to " in named[0]:
                    continue
                pairs = list(zip(names, named, strict=True))
                found = [g[asked] for g in gives if all(g[i] == v for i, v in pairs)]
                yield form, found, answer
                break


def _candidates_14(story):
    moves: dict[str, dict[int, str]] = {}  # actor -> time -> room
    for _, text, answer in story:
        if answer is None:
            if m := _TIMED_MOVE.match(text):
                before, actor, room, after = m.groups()
                moves.setdefault(actor, {})[_TIME_WORDS.index((before or after).lower())] = room
            continue
        if m := re.match(r"^Where was (.+?) before the (.+?)\?$", text):
            actor, room = m.groups()
            times = sorted(moves.get(actor, {}))
            rooms = [moves[actor][t] for t in times]
            # each visit to the room with a move before it, by time: the room before
            found = [rooms[i - 1] for i in range(1, len(rooms)) if rooms[i] == room]
            yield "Where was X before the L?", found, answer


def _candidates_16(story):
    species: dict[str, str] = {}
    colour: dict[str, str] = {}
    told: dict[str, int] = {}  # actor -> line of its species
    for number, text, answer in story:
        if answer is None:
            if m := re.match(r"^(.+?) is an? (.+?)\.$", text):
                species[m.group(1)], told[m.group(1)] = m.group(2), number
            elif m := re.match(r"^(.+?) is (.+?)\.$", text):
                colour[m.group(1)] = m.group(2)
            continue
        if m := re.match(r"^What color is (.+?)\?$", text):
            x = m.group(1)
            peers = sorted((told[a], a) for a in species if a != x and species[a] == species.get(x))
            yield "What color is X?", [colour[a] for _, a in peers if a in colour], answer


def _candidates_19(story):
    edges: dict[str, list[tuple[str, str, int]]] = {}
    for number, text, answer in story:
        if answer is None:
            if m := re.match(r"^The (.+?) is (north|south|east|west) of the (.+?)\.$", text):
                a, d, b = m.groups()  # a is d of b: from b go d
                edges.setdefault(b, []).append((d[0], a, number))
                edges.setdefault(a, []).append((_OPPOSITE[d][0], b, number))
            continue
        if m := re.match(r"^How do you go from the (.+?) to the (.+?)\?$", text):
            start, goal = m.groups()
            depth = {start: 0}
            frontier = [start]
            while frontier:
                nxt = []
                for u in frontier:
                    for _, v, _ in edges.get(u, []):
                        if v not in depth:
                            depth[v] = depth[u] + 1
                            nxt.append(v)
                frontier = nxt
            paths: list[tuple[int, str]] = []  # (latest statement, "s,e") of each shortest path
            _shortest_paths(edges, depth, start, goal, [], 0, paths)
            yield "How do you go from A to B?", [p for _, p in sorted(paths)], answer


def _shortest_paths(edges, depth, u, goal, steps, latest, out) -> None:
    """Every shortest path from ``u`` to ``goal`` over the told statements (``depth``: the
    breadth-first distance from the start), as (its latest statement, "s,e")."""
    if u == goal:
        out.append((latest, ",".join(steps)))
        return
    for d, v, line in edges.get(u, []):
        if depth.get(v) == depth[u] + 1 and depth[v] <= depth.get(goal, -1):
            _shortest_paths(edges, depth, v, goal, [*steps, d], max(latest, line), out)


_CANDIDATES = {5: _candidates_5, 14: _candidates_14, 16: _candidates_16, 19: _candidates_19}


def disagreement(task: int, lines: list[str]) -> dict | None:
    """Of bAbI text of task ``task``: per question form, how many questions, how many follow
    matching facts that disagree (two or more different answers), and in how many of those the
    answer is the most recent fact's (``RULES``); and how many questions follow 0, 1, 2 ...
    matching facts. None for a task without a reader."""
    if task not in _CANDIDATES:
        return None
    forms: dict[str, Counter] = {}
    matches: Counter = Counter()
    for story in _stories(lines):
        for form, found, answer in _CANDIDATES[task](story):
            matches[str(len(found))] += 1
            c = forms.setdefault(form, Counter())
            c["questions"] += 1
            if len(set(found)) > 1:
                c["disagree"] += 1
                c["most_recent"] += answer == found[-1]
    total = sum((c for c in forms.values()), Counter())
    return {
        "rule": RULES[task],
        "questions": total["questions"],
        "disagree": total["disagree"],
        "most_recent": total["most_recent"],
        # how many matching facts a question follows (task 16: the queried actor's peers)
        "matches": dict(sorted(matches.items(), key=lambda kv: int(kv[0]))),
        "by_form": {f: {k: c[k] for k in ("questions", "disagree", "most_recent")}
                    for f, c in sorted(forms.items())},
    }  # fmt: skip


def _share_allowed(share: float, n: int) -> float:
    """Sampling noise of a share measured over ``n`` release questions (4 sigma, at least 2
    points), as for the template shares."""
    return max(0.02, 4 * math.sqrt(share * (1 - share) / max(n, 1)))


def compare_disagreement(task: int, got: dict | None) -> list[str]:
    """Differences in how often questions follow disagreeing facts, overall and per form, and
    whether the most recent fact decides them, as in the release."""
    ref = release(task).get("disagreement")
    if ref is None or got is None:
        return []
    problems = []
    rows = [("all questions", ref, got)] + [
        (f"{form!r}", r, got["by_form"].get(form, {"questions": 0, "disagree": 0}))
        for form, r in ref["by_form"].items()
    ]
    for what, r, g in rows:
        share, n = r["disagree"] / max(r["questions"], 1), r["questions"]
        mine = g["disagree"] / max(g["questions"], 1)
        allowed = _share_allowed(share, n)
        if abs(mine - share) > allowed:
            problems.append(
                f"questions after disagreeing facts, {what}: share {mine:.3f}, release "
                f"{share:.3f} (+-{allowed:.3f})"
            )
    tv = _tv(ref["matches"], got["matches"])
    if tv > 0.1:
        problems.append(
            f"matching facts per question: release {ref['matches']}, generated "
            f"{got['matches']} (total variation {tv:.3f} > 0.1)"
        )
    if got["disagree"] and got["most_recent"] != got["disagree"]:
        problems.append(
            f"questions after disagreeing facts: {got['disagree'] - got['most_recent']} of "
            f"{got['disagree']} not answered by {RULES[task]}"
        )
    return problems


def _shaper(tags: dict[str, str]):
    phrases = sorted(tags, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b", re.I)
    lookup = {p.lower(): t for p, t in tags.items()}
    return lambda text: pattern.sub(lambda m: f"<{lookup[m.group(1).lower()]}>", text)


def _tv(a: dict, b: dict) -> float:
    """Total variation distance between two count maps."""
    na, nb = sum(a.values()) or 1, sum(b.values()) or 1
    return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in set(a) | set(b))


def _as_multiset(answer: str) -> str:
    return ",".join(sorted(answer.split(",")))


def compare(task: int, got: dict) -> list[str]:
    """Differences between generated figures and the release's beyond tolerance."""
    ref = release(task)
    problems = []
    # answers: the same set (lists compared as multisets: their order is not fixed) and
    # frequencies close
    ref_answers = {_as_multiset(a) for a in ref["answers"]}
    got_answers = {_as_multiset(a) for a in got["answers"]}
    if ref_answers != got_answers:
        problems.append(
            f"answers: missing {sorted(ref_answers - got_answers)}, "
            f"extra {sorted(got_answers - ref_answers)}"
        )
    tv = _tv(ref["answers"], got["answers"])
    if tv > 0.1:
        problems.append(f"answer frequencies differ: total variation {tv:.3f} > 0.1")
    # supporting facts per question
    ref_sf, got_sf = (
        ref["supporting_facts_per_question_dist"],
        got["supporting_facts_per_question_dist"],
    )
    if (
        min(map(int, ref_sf)) != min(map(int, got_sf))
        or max(map(int, got_sf)) > max(map(int, ref_sf)) + 2
    ):
        problems.append(f"supporting facts per question: release {ref_sf}, generated {got_sf}")
    if _tv(ref_sf, got_sf) > 0.1:
        problems.append(f"supporting-fact counts differ: release {ref_sf}, generated {got_sf}")
    # statement counts
    for key in ("statements_before_question", "story_length_statements"):
        r, g = ref[key], got[key]
        if abs(g["mean"] - r["mean"]) > max(0.1 * r["mean"], 0.3):
            problems.append(f"{key}: mean {g['mean']:.2f}, release {r['mean']:.2f} (10%)")
        if not (0.6 * r["max"] <= g["max"] <= 2 * r["max"]):
            problems.append(f"{key}: max {g['max']}, release {r['max']} (0.6x..2x)")
    # how far back the evidence is: the release asks mostly about recent facts
    r = ref["question_to_earliest_support_distance_lines"]["mean"]
    g = got["question_to_earliest_support_distance_lines"]["mean"]
    if abs(g - r) > max(0.2 * r, 0.5):
        problems.append(
            f"lines from a question to its earliest support: mean {g:.2f}, release {r:.2f} (20%)"
        )
    g = got["questions_per_story"]
    ref_q = ref["num_questions"] / ref["num_stories"]
    if abs(g["mean"] - ref_q) > max(0.1 * ref_q, 0.1):
        problems.append(f"questions per story: mean {g['mean']:.2f}, release {ref_q:.2f}")
    # vocabulary
    if set(ref["vocab"]) != set(got["vocab"]):
        problems.append(
            f"vocabulary: missing {sorted(set(ref['vocab']) - set(got['vocab']))}, "
            f"extra {sorted(set(got['vocab']) - set(ref['vocab']))}"
        )
    # sentence shapes, both ways, and their shares
    if "templates" in got:
        for kind, what in (("S", "statement"), ("Q", "question")):
            r, g = ref["templates"][kind], got["templates"][kind]
            if set(r) != set(g):
                problems.append(
                    f"{what} templates: missing {sorted(set(r) - set(g))}, "
                    f"outside the release {sorted(set(g) - set(r))}"
                )
            nr, ng = sum(r.values()), sum(g.values()) or 1
            for shape, count in r.items():
                share = count / nr
                allowed = max(0.02, 4 * math.sqrt(share * (1 - share) / nr))
                if abs(g.get(shape, 0) / ng - share) > allowed:
                    problems.append(
                        f"{what} template {shape!r}: share {g.get(shape, 0) / ng:.3f}, "
                        f"release {share:.3f} (+-{allowed:.3f})"
                    )
    # questions after facts that disagree, and what decides them (measured with ``task``)
    if "disagreement" in ref and "disagreement" in got:
        problems += compare_disagreement(task, got["disagreement"])
    return problems


def generated(
    task: int, questions: int = 10_000, seed: int = 0, version: int | None = None, **knobs
) -> tuple[list, dict]:
    """Release-format lines of at least ``questions`` questions of ``babi/qa{task}`` (its newest
    version, or ``-v{version}``), and the phrase -> tag map of its world."""
    import memtasks
    from memtasks.loaders.babi import SPACE_BEFORE_TAB, story_lines

    from ._task import world_of

    spec = memtasks.get_spec(f"babi/qa{task}" + (f"-v{version}" if version else ""))
    k = spec.make_knobs("release", **knobs)
    world = world_of(spec.id, k)
    vocab = world.text.vocab
    lines: list[str] = []
    got, start = 0, 0
    while got < questions:
        # pieces of at most 1,000 stories run the serial kernels (the parallel ones would be
        # compiled too, a cost the release tests need not pay)
        size = min(1000, max(64, (questions - got) // 4))
        batch = spec.generate(size, seed, "train", start=start, knobs=k)
        for i in range(len(batch)):
            lines += story_lines(batch, i, vocab, space_before_tab=task in SPACE_BEFORE_TAB)
            got += int(batch.meta["questions"][i])
            if got >= questions:
                break
        start += len(batch)
    return lines, world.tags


def report(task: int, questions: int = 10_000, version: int | None = None) -> str:
    lines, tags = generated(task, questions, version=version)
    got = measure_text(lines, tags, task)
    ref = release(task)
    rows = [f"babi/qa{task} ({ref['task_name']}): {got['num_questions']} generated questions"]
    for key in ("statements_before_question", "story_length_statements"):
        rows.append(
            f"  {key:<28} mean {got[key]['mean']:7.2f} (release {ref[key]['mean']:7.2f})  "
            f"max {got[key]['max']:4} (release {ref[key]['max']})"
        )
    rows.append(f"  answers      {got['answers']}\n  release      {ref['answers']}")
    rows.append(
        f"  supports     {got['supporting_facts_per_question_dist']}  release "
        f"{ref['supporting_facts_per_question_dist']}"
    )
    for what, figures in (("generated", got), ("release", ref)):
        d = figures.get("disagreement")
        if d:
            rows.append(
                f"  after disagreeing facts ({what}): {d['disagree'] / d['questions']:.1%} of "
                f"questions, {d['most_recent']} of {d['disagree']} answered by {d['rule']}"
            )
    problems = compare(task, got)
    rows += [f"  ! {p}" for p in problems] or ["  all within tolerance"]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", help="qa1 qa2 ... (default: all)")
    parser.add_argument("-n", type=int, default=10_000, help="questions per task")
    parser.add_argument("--version", type=int, default=None, help="task version (newest)")
    args = parser.parse_args()
    tasks = [int(t.removeprefix("qa")) for t in args.tasks] or range(1, 21)
    for t in tasks:
        print(report(t, args.n, args.version))


if __name__ == "__main__":
    main()
