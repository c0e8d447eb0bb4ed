"""How far shortcuts, with no learning, get on the simulated world (world/qa-v1 and -v2).

    python baselines/investigations/world_qa_shortcuts.py            # the tables of world-qa.md

Each rule reads the rendered story (as a model sees it) and answers every question of the 1,000
test stories (split ``test``, seed 0) of the Table 2 presets, the same stories the baselines of
``baselines/run_qa_baselines.py`` are scored on; the answer prior comes from the same 3,000
training questions the baselines train on. Rules:

- ``prior``: the room answered most often in training, whatever the question (no story).
- ``last room``: the room of the latest move before the question, whoever made it.
- ``k back``: the room of the statement exactly ``difficulty`` statements back when it is a move
  (else ``last room``): a fixed-offset pointer, what exact distances reward.
- ``entity, unordered``: the expected accuracy of answering with the room of one of the asked
  actor's moves drawn at random, order ignored (a memory network that finds the actor's
  sentences but cannot tell which is the latest: MemNN k=1 without time features). Actor
  questions only.
- ``entity, latest``: the room of the asked actor's latest move (what MemNN with time features
  can find in one hop). Actor questions only.

Plus what the stories hold: statements before a question, the asked actor's moves so far, and
the distance back to the last mention of the entity asked about.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

import numpy as np

import memtasks
from memtasks.generators.babi._task import world_of
from memtasks.loaders.babi import story_lines
from memtasks.models.training.data import fixed_training_set

MOVE = re.compile(r"(\w+) (?:moved|went back|went|journeyed|travelled) to the ([a-z ]+)\.")
ACTION = re.compile(r"(\w+) (?:got|grabbed|picked up|took|dropped|put down|left|discarded) "
                    r"the ([a-z ]+)\.")  # fmt: skip
ASK_ACTOR = re.compile(r"Where is ([A-Z]\w*)\?")
ASK_OBJECT = re.compile(r"Where is the ([a-z ]+)\?")
PRESETS = ("actor-d1", "actor-object-d1", "actor-d5", "actor-object-d5")
MOVES = "actor's moves so far"


def questions(task: str, batch, knobs):
    """Per question: (answer, entity, is_object, statements before it as (actor, room|None,
    object|None))."""
    vocab = world_of(task, knobs).text.vocab
    for i in range(len(batch)):
        said: list[tuple[str, str | None, str | None]] = []
        for line in story_lines(batch, i, vocab):
            rest = line.partition(" ")[2]
            if "\t" in rest:
                text, answer, _ = rest.split("\t")
                m = ASK_OBJECT.fullmatch(text)
                entity, is_object = (m[1], True) if m else (ASK_ACTOR.fullmatch(text)[1], False)
                yield answer, entity, is_object, list(said)
            elif m := MOVE.fullmatch(rest):
                said.append((m[1], m[2], None))
            elif m := ACTION.fullmatch(rest):
                said.append((m[1], None, m[2]))


def measure(task: str, preset: str, episodes: int = 1000, **extra) -> dict[str, float]:
    spec = memtasks.get_spec(task)
    knobs = spec.make_knobs(preset, **extra)
    k = knobs.difficulty
    train, _ = fixed_training_set(spec, knobs, 0, 3000)
    prior = Counter(a for a, *_ in questions(task, train, knobs)).most_common(1)[0][0]
    test = spec.generate(episodes, 0, "test", knobs=knobs)
    hits: Counter = Counter()
    n = n_actor = 0
    lengths, moves, distances = [], [], Counter()
    for answer, entity, is_object, said in questions(task, test, knobs):
        n += 1
        rooms = [room for _, room, _ in said if room]
        hits["prior"] += answer == prior
        hits["last room"] += answer == rooms[-1]
        actor, room, _ = said[-k]
        hits["k back"] += answer == (room or rooms[-1])
        lengths.append(len(said))
        back = next(j for j in range(1, len(said) + 1) if entity in said[-j][:1] + said[-j][2:])
        distances[back] += 1
        if not is_object:
            n_actor += 1
            own = [room for who, room, _ in said if who == entity and room]
            moves.append(len(own))
            hits["entity, unordered"] += own.count(answer) / len(own)
            hits["entity, latest"] += answer == own[-1]
    out = {rule: 100 * hits[rule] / n for rule in ("prior", "last room", "k back")}
    if n_actor:
        out["entity, unordered"] = 100 * hits["entity, unordered"] / n_actor
        out["entity, latest"] = 100 * hits["entity, latest"] / n_actor
        out[MOVES] = float(np.mean(moves))
    out["statements before a question"] = float(np.mean(lengths))
    out["distance shares"] = {d: round(100 * c / n, 1) for d, c in sorted(distances.items())}
    return out


def main() -> int:
    rules = ("prior", "last room", "k back", "entity, unordered", "entity, latest")
    print("| task | preset | " + " | ".join(rules) + " | statements before a question | "
          "actor's moves so far | distance back (% of questions) |")  # fmt: skip
    print("|---" * (len(rules) + 5) + "|")
    for task in ("world/qa-v1", "world/qa-v2"):
        for preset in PRESETS:
            r = measure(task, preset)
            cells = [f"{r[x]:.1f}" if x in r else "-" for x in rules]
            shares = ", ".join(f"{d}: {s:g}" for d, s in r["distance shares"].items())
            moves = f"{r[MOVES]:.2f}" if MOVES in r else "-"
            length = f"{r['statements before a question']:.1f}"
            print(f"| `{task}` | `{preset}` | " + " | ".join(cells)
                  + f" | {length} | {moves} | {shares} |")  # fmt: skip
    # longer stories, as the paper's memory would hold (actor questions at difficulty 5, v2)
    print()
    print("| `world/qa-v2` `actor-d5`, questions per story | statements before a question | "
          "actor's moves so far | entity, unordered | last room |")  # fmt: skip
    print("|---|---|---|---|---|")
    for q in (5, 20, 100):
        r = measure("world/qa-v2", "actor-d5", episodes=max(50, 5000 // q), questions_per_story=q)
        print(f"| {q} | {r['statements before a question']:.1f} | "
              f"{r[MOVES]:.2f} | {r['entity, unordered']:.1f} | "
              f"{r['last room']:.1f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
