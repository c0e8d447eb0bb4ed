"""bAbI text: the released file format, written from episodes and read into episodes.

The format (bAbI v1.2, ``shared/reference/babi.md`` section 2)::

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
"""

from __future__ import annotations

import numpy as np

from ..episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_QUERY, EpisodeBatch

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


def release_file_name(task: int, split: str) -> str:
    """``qa1_single-supporting-fact_train.txt``: the release's name for a task's split."""
    return f"qa{task}_{TASK_NAMES[task]}_{split}.txt"


def render_line(tokens, vocab) -> str:
    """Text of one sentence from its token ids: words joined by spaces, punctuation attached,
    the first letter capitalised."""
    out = ""
    for t in tokens:
        w = vocab[int(t)]
        out += w if (w in ".?," or not out) else " " + w
    return out[:1].upper() + out[1:]


def story_lines(batch: EpisodeBatch, i: int, vocab, *, space_before_tab: bool = False) -> list[str]:
    """Episode ``i`` of a token batch as the lines of one released story (without newlines).

    Context items (``segment``) become numbered statements, each question run its question
    line; an answer's words are joined by commas and its supporting items become line ids.
    """
    ep = batch.episode(i)
    inputs, targets, role, segment = ep["inputs"], ep["targets"], ep["role"], ep["segment"]
    support, support_answer = ep["support"], ep["support_answer"]
    out: list[str] = []
    line_of_segment: dict[int, int] = {}
    t, n, answer_no = 0, len(inputs), 0
    gap = " " if space_before_tab else ""
    while t < n:
        r = role[t]
        u = t
        if r == ROLE_CONTEXT:
            seg = segment[t]
            while u < n and role[u] == ROLE_CONTEXT and segment[u] == seg:
                u += 1
            line_of_segment[int(seg)] = len(out) + 1
            out.append(f"{len(out) + 1} {render_line(inputs[t:u], vocab)}")
        elif r == ROLE_QUERY:
            while u < n and role[u] == ROLE_QUERY:
                u += 1
            w = u
            while w < n and role[w] == ROLE_ANSWER:
                w += 1
            words = [vocab[int(x)] for x in targets[u:w]]
            ids = [line_of_segment[int(s)] for s in support[support_answer == answer_no]]
            out.append(
                f"{len(out) + 1} {render_line(inputs[t:u], vocab)}{gap}\t{','.join(words)}\t"
                + " ".join(map(str, ids))
            )
            answer_no += 1
            u = w
        else:
            raise ValueError(
                f"episode {int(ep['index'])} has a position of role {int(r)} at step {t} that "
                "bAbI text cannot hold (only context, question and answer)"
            )
        t = u
    return out


def to_text(batch: EpisodeBatch, vocab, *, space_before_tab: bool = False) -> str:
    """All episodes of a batch in the released format, one story after another."""
    lines = []
    for i in range(len(batch)):
        lines += story_lines(batch, i, vocab, space_before_tab=space_before_tab)
    return "\n".join(lines) + ("\n" if lines else "")


def task_number(task_id: str) -> int | None:
    """``babi/qa3-v1`` -> 3; None for other tasks."""
    family, _, name = task_id.partition("/")
    if family == "babi" and name.startswith("qa"):
        return int(name[2:].split("-")[0])
    return None


def supports_of(batch: EpisodeBatch, i: int) -> list[np.ndarray]:
    """Episode ``i``'s supporting items, one array per question, in question order."""
    ep = batch.episode(i)
    n_answers = int(ep["support_answer"].max()) + 1 if len(ep["support_answer"]) else 0
    return [ep["support"][ep["support_answer"] == a] for a in range(n_answers)]
