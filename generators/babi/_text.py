"""The words of a bAbI task: vocabulary, entity phrases and sentence templates as integer tables.

Stories are simulated over integer ids and rendered inside compiled code, so everything textual
is turned into arrays here, once per (task, knobs):

- the **vocabulary**: id -> word. Id 0 is padding and id 1 is the token an answer position reads
  (``<answer>``); then ``.`` and ``?``; then every word in order of first use. Words are stored
  in the case they have in the middle of a sentence ("Mary", "the"); capitalising the first
  letter of a line is rendering, done only when text is written.
- **phrases**: what fills a template's slot, one or more words ("kitchen", "box of chocolates",
  "this morning"). Stories name entities by phrase id.
- **templates**: a sentence with numbered slots, ``"{0} went to the {1}."``; stored as token
  ids with ``-1 - k`` standing for slot ``k``. A template's first word is stored in lower case
  ("Where is {0}?" reads "where is {0}?"), as the loader stores the first word of a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

PAD, ANSWER, PERIOD, QUESTION_MARK = 0, 1, 2, 3
SPECIAL = ("<pad>", "<answer>", ".", "?")
_SLOT = re.compile(r"\{(\d)\}")


def words(text: str) -> list[str]:
    """Tokens of a sentence: words split on spaces, with ``.``, ``?`` and ``,`` on their own."""
    return re.sub(r"([.?,])", r" \1 ", text).split()


@dataclass(frozen=True)
class TextTables:
    """The arrays a compiled story renderer reads (see the module docstring)."""

    vocab: tuple[str, ...]
    phrase_offsets: np.ndarray  # int64[P + 1]
    phrase_tokens: np.ndarray  # int32
    template_offsets: np.ndarray  # int64[T + 1]
    template_tokens: np.ndarray  # int32, -1 - k for slot k
    templates: tuple[str, ...]  # the template strings, for tests and the symbolic form
    phrases: tuple[str, ...]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.phrase_offsets, self.phrase_tokens, self.template_offsets, self.template_tokens


class Text:
    """Builds a task's ``TextTables``; ids are given in order of first use, so the same calls
    in the same order always give the same ids."""

    def __init__(self) -> None:
        self.vocab: list[str] = list(SPECIAL)
        self._word_ids = {w: i for i, w in enumerate(self.vocab)}
        self._phrases: list[str] = []
        self._phrase_ids: dict[str, int] = {}
        self._templates: list[str] = []
        self._template_ids: dict[str, int] = {}

    def word(self, w: str) -> int:
        if w not in self._word_ids:
            self._word_ids[w] = len(self.vocab)
            self.vocab.append(w)
        return self._word_ids[w]

    def phrase(self, text: str) -> int:
        """The id of an entity phrase (its words enter the vocabulary)."""
        if text not in self._phrase_ids:
            for w in words(text):
                self.word(w)
            self._phrase_ids[text] = len(self._phrases)
            self._phrases.append(text)
        return self._phrase_ids[text]

    def phrases(self, texts) -> np.ndarray:
        return np.asarray([self.phrase(t) for t in texts], dtype=np.int32)

    def template(self, text: str) -> int:
        """The id of a sentence template such as ``"{0} went to the {1}."``."""
        # the first word is stored as it reads mid-sentence: capitals are for rendering
        text = text[:1].lower() + text[1:] if not text.startswith("{") else text
        if text not in self._template_ids:
            for w in words(_SLOT.sub(" ", text)):
                self.word(w)
            self._template_ids[text] = len(self._templates)
            self._templates.append(text)
        return self._template_ids[text]

    def templates(self, texts) -> np.ndarray:
        return np.asarray([self.template(t) for t in texts], dtype=np.int32)

    def tables(self) -> TextTables:
        def csr(items: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
            offsets = np.zeros(len(items) + 1, np.int64)
            np.cumsum([len(x) for x in items], out=offsets[1:])
            flat = np.asarray([t for x in items for t in x], dtype=np.int32)
            return offsets, flat

        phrase_offsets, phrase_tokens = csr(
            [[self._word_ids[w] for w in words(p)] for p in self._phrases]
        )
        template_offsets, template_tokens = csr(
            [
                [-1 - int(m[1:-1]) if _SLOT.fullmatch(m) else self._word_ids[m] for m in
                 words(_SLOT.sub(lambda s: f" {s.group(0)} ", t))]
                for t in self._templates
            ]
        )  # fmt: skip
        return TextTables(
            vocab=tuple(self.vocab),
            phrase_offsets=phrase_offsets,
            phrase_tokens=phrase_tokens,
            template_offsets=template_offsets,
            template_tokens=template_tokens,
            templates=tuple(self._templates),
            phrases=tuple(self._phrases),
        )
