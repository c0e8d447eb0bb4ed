"""Rebuild ``release_stats.json``: facts about the released bAbI v1.2 English training files.

The generator's ``release`` mode is checked against these facts (tests, data cards, the fidelity
report), so they travel with the package instead of the release itself. Sources::

    python -m generators.babi.make_release_stats DIR

where ``DIR`` holds ``reference/babi-stats.json`` (statistics of every released file, measured
with the definitions below), ``reference/babi-templates-en.txt`` (the sentence shapes of each
task with their counts) and ``data/babi-v1.2/en/*_train.txt`` (the released English training
files of bAbI v1.2, tasks_1-20_v1-2, CC BY 3.0, for the vocabulary).

Definitions of the statistics:

- story: a maximal run of lines whose leading id increases; a line with id 1 starts a story;
- question line: a line holding a TAB, fields "question TAB answer TAB supporting ids";
- statements_before_question: the non-question lines of the story before the question (what a
  memory model must hold; earlier questions are not counted);
- question_to_earliest_support_distance_lines: the question's id minus its smallest supporting
  id (earlier question lines included);
- story_length_statements: the non-question lines of the whole story;
- vocab: lowercased word tokens of statements and questions (". ? ," stripped) plus answer
  tokens (answers split on ","); answers: the distinct full answer strings ("n,w");
- supporting_facts_per_question_dist: how many space-separated ids the third field holds;
- disagreement (tasks 5, 14, 16, 19; ``fidelity.disagreement``): per question form, the
  questions, those whose matching earlier facts name two or more different answers, and those
  of them answered by the most recent fact (the rule in ``fidelity.RULES``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).with_name("release_stats.json")
KEEP = (
    "task_name", "num_stories", "num_questions", "questions_per_story_dist",
    "statements_before_question", "story_length_statements", "words_per_statement",
    "words_per_question", "answers", "supporting_facts_per_question_dist",
    "question_to_earliest_support_distance_lines", "vocab_size",
)  # fmt: skip


def templates(path: Path) -> tuple[dict[int, dict[str, dict[str, int]]], dict[int, int]]:
    """The listed shapes with their counts (train and test files together), and the number of
    statement shapes each task's header announces (qa11's list shows 40 of its 45)."""
    out: dict[int, dict[str, dict[str, int]]] = {}
    announced: dict[int, int] = {}
    task = 0
    for line in path.read_text().splitlines():
        if m := re.match(r"=== qa(\d+) .*\((\d+) statement templates", line):
            task = int(m.group(1))
            announced[task] = int(m.group(2))
            out[task] = {"S": {}, "Q": {}}
        elif m := re.match(r"\s+([SQ]) (\d+) (.+)$", line):
            out[task][m.group(1)][m.group(3)] = int(m.group(2))
    return out, announced


def unlisted_shapes(task: int, file: Path, listed: dict[str, dict[str, int]]) -> dict:
    """Shapes of the released training file that the template list leaves out, with their
    counts in that file (found with the phrase tags of the generator's ``release`` world)."""
    import memtasks
    from memtasks.generators.babi import fidelity
    from memtasks.generators.babi._task import world_of

    spec = memtasks.get_spec(f"babi/qa{task}")
    tags = world_of(spec.id, spec.make_knobs("release")).tags
    found = fidelity.measure_text(file.read_text().splitlines(), tags)["templates"]
    return {k: {s: c for s, c in found[k].items() if s not in listed[k]} for k in ("S", "Q")}


def vocabulary(path: Path) -> list[str]:
    """Lower-cased words of statements and questions with ``.?,`` stripped, plus answer tokens
    split on ``,`` (the definition of ``vocab_size`` in babi-stats.json)."""
    words: set[str] = set()
    for line in path.read_text().splitlines():
        text, *rest = line.split("\t")
        words.update(re.sub(r"[.?,]", " ", text.split(" ", 1)[1]).lower().split())
        if rest:
            words.update(w.lower() for w in rest[0].split(","))
    return sorted(words)


def main(shared: Path) -> None:
    from memtasks.generators.babi import fidelity

    stats = json.loads((shared / "reference/babi-stats.json").read_text())
    shapes, announced = templates(shared / "reference/babi-templates-en.txt")
    tasks = {}
    for e in stats["entries"]:
        if e["variant"] != "en" or e["split"] != "train":
            continue
        n = e["task"]
        file = next((shared / "data/babi-v1.2/en").glob(f"qa{n}_*_train.txt"))
        if len(shapes[n]["S"]) < announced[n]:
            for kind, extra in unlisted_shapes(n, file, shapes[n]).items():
                shapes[n][kind].update(extra)
        tasks[str(n)] = {k: e[k] for k in KEEP} | {
            "file": file.name,
            "sha1": e["sha1"],
            "templates": shapes[n],
            "vocab": vocabulary(file),
        }
        found = fidelity.disagreement(n, file.read_text().splitlines())
        if found is not None:
            tasks[str(n)]["disagreement"] = found
    doc = {
        "source": "bAbI v1.2 (tasks_1-20_v1-2), en/*_train.txt, CC BY 3.0; statistics as defined "
        "in generators/babi/make_release_stats.py",
        "tasks": dict(sorted(tasks.items(), key=lambda kv: int(kv[0]))),
    }
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
