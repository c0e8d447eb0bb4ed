"""How close generated ``release`` data is to the released bAbI v1.2 files.

The same measurements are taken of released text and of generated text (rendered in the
release's format), with the definitions in ``make_release_stats.py``, and compared
with tolerances that allow for sampling noise (the release has 1,000 questions per task).
``release_stats.json`` holds the release's figures, so no release file is needed here.

    python -m generators.babi.fidelity [qa1 qa2 ...] [-n 10000]

prints generated figures beside the release's, and every difference beyond tolerance.
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


def measure_text(lines: list[str], tags: dict[str, str] | None = None) -> dict:
    """Figures of bAbI text (lines without newlines), as in ``babi-stats.json``; with ``tags``
    (phrase -> tag, e.g. ``{"kitchen": "LOC"}``) also the sentence shapes and their counts."""
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
    return out


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
    return problems


def generated(task: int, questions: int = 10_000, seed: int = 0, **knobs) -> tuple[list, dict]:
    """Release-format lines of at least ``questions`` questions of ``babi/qa{task}``, and the
    phrase -> tag map of its world."""
    import memtasks
    from memtasks.loaders.babi import SPACE_BEFORE_TAB, story_lines

    from ._task import world_of

    spec = memtasks.get_spec(f"babi/qa{task}")
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


def report(task: int, questions: int = 10_000) -> str:
    lines, tags = generated(task, questions)
    got = measure_text(lines, tags)
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
    problems = compare(task, got)
    rows += [f"  ! {p}" for p in problems] or ["  all within tolerance"]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", help="qa1 qa2 ... (default: all)")
    parser.add_argument("-n", type=int, default=10_000, help="questions per task")
    args = parser.parse_args()
    tasks = [int(t.removeprefix("qa")) for t in args.tasks] or range(1, 21)
    for t in tasks:
        print(report(t, args.n))


if __name__ == "__main__":
    main()
