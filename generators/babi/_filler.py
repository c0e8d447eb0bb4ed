"""Filler sentences for the long-context mode (BABILong-style: the facts hidden in prose).

Two sources: a built-in grammar (the default; no download, the same on every machine) and a
user's text file. Filler never mentions the world's people, places or objects, and uses no verb
of movement or possession, so it cannot change any answer: the grammar is written that way, and
sentences of a user's file that contain a word of the task's own vocabulary are dropped.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from memtasks.errors import KnobError

from ._text import SPECIAL, Text, words

GRAMMAR_SENTENCES = 4096  # drawn once from the grammar with a fixed seed
MAX_FILLER_WORDS = 60  # longer sentences of a user's file are dropped

_SUBJECTS = (
    "the weather", "the old clock", "a quiet song", "the river", "the long winter",
    "a letter from abroad", "the evening news", "the village fair", "a distant bell",
    "the tea", "the first snow", "a gentle breeze", "the harvest", "the market square",
    "an old photograph", "the morning train", "the lighthouse", "a paper kite",
)  # fmt: skip
_VERBS = (
    "seemed", "was", "felt", "looked", "remained", "became", "sounded", "grew",
)  # fmt: skip
_ADJECTIVES = (
    "calm", "strange", "familiar", "bright", "grey", "cheerful", "slow", "distant", "warm",
    "pleasant", "noisy", "still", "golden", "faint", "ordinary", "lovely",
)  # fmt: skip
_TAILS = (
    "that year", "all day long", "for a while", "as usual", "in those days", "once again",
    "at dawn", "to everyone", "without a doubt", "more than ever", "that season",
    "after the rain", "before the storm", "in the distance",
)  # fmt: skip
_OPENERS = ("", "", "", "meanwhile ", "as always ", "for some reason ", "by then ")


def grammar_sentences(n: int = GRAMMAR_SENTENCES, seed: int = 0) -> list[str]:
    """``n`` sentences of the built-in grammar (fixed: part of the task's definition)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = (
            f"{rng.choice(_OPENERS)}{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} "
            f"{rng.choice(_ADJECTIVES)} {rng.choice(_TAILS)}."
        )
        out.append(s)
    return out


def file_sentences(path: str, task_vocab: set[str]) -> list[str]:
    """Sentences of a UTF-8 text file, lower-cased, in file order, without any that use a word
    of the task (those could state or contradict a fact)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnobError(f"filler_file {path!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise KnobError(f"filler_file {path!r} cannot be read as UTF-8 text: {e}") from None
    text = re.sub(r"[^a-z0-9.?!,' \n]", " ", text.lower())
    out = []
    for raw in re.split(r"(?<=[.?!])\s+|\n\s*\n", text):
        sentence = " ".join(raw.replace("!", ".").split())
        if not sentence or not re.search(r"[a-z]", sentence):
            continue
        if sentence[-1] not in ".?":
            sentence += "."
        tokens = words(sentence)
        if len(tokens) > MAX_FILLER_WORDS or task_vocab & set(tokens) - set(".?,"):
            continue
        out.append(sentence)
    if not out:
        raise KnobError(
            f"filler_file {path!r} holds no usable sentence (sentences of at most "
            f"{MAX_FILLER_WORDS} words that use none of the task's words)"
        )
    return out


def filler_sentences(knobs, text: Text) -> list[list[int]]:
    """Token ids of the filler sentences for ``knobs`` (their words join ``text``)."""
    if knobs.filler == "file":
        task_vocab = {w.lower() for w in text.vocab if w not in SPECIAL}
        task_vocab -= {"the", "a", "an", "to", "of", "in", "is", "was", "and", "there"}
        sentences = file_sentences(knobs.filler_file, task_vocab)
    else:
        sentences = grammar_sentences()
    return [[text.word(w) for w in words(s)] for s in sentences]
