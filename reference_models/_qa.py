"""What the question-answering models share (MemNN, MemN2N, Gated MemN2N, DMN+, KV-MemNN).

They read the QA view (``memtasks.views.qa``, as tensors by ``memtasks.torch.collate_qa``): one
sample per question, with the story's sentences before it, the question's words, the answer's
words and the supporting sentences. ``QAModel.collate`` builds that view from episodes, so the
runner treats these models like any other: it hands them episodes, they return answers, and
``predictions`` puts the answers back at the flat positions the task's metric scores.

The batch (``dict`` of int64 tensors):

======================= ================================== =====================================
key                     shape                              meaning
======================= ================================== =====================================
``sentences``           ``[S, N, W]``                      the memories: the story's sentences,
                                                           oldest first, 0-padded
``sentence_counts``     ``[S]``                            rows of ``sentences`` in use
``query``               ``[S, Q]``                         the question's words
``answer``              ``[S, A]``                         the answer's words (0: padding)
``answer_positions``    ``[S, A]``                         their flat positions (-1: padding)
``support_rows``        ``[S, K]``                         rows of the supporting sentences, in
                                                           the order the task gives them (-1)
``num_positions``       ``[]``                             positions of the episode batch
======================= ================================== =====================================

An answer of several words (bAbI's lists "apple,milk" and paths "n,w") is predicted word by
word from the model's final state, one output layer per answer position (``answer_words`` of
them): the papers give such answers one vocabulary entry each, which a fixed vocabulary of
words cannot hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from memtasks.episode import EpisodeBatch

from ._base import Hparams, IncompatibleError, SequenceModel, TaskIO, knob

__all__ = [
    "AnswerHead",
    "QAHparams",
    "QAModel",
    "bag_of_words",
    "memory_rows",
    "position_encoding",
    "position_terms",
]


@dataclass(frozen=True)
class QAHparams(Hparams):
    embed_size: int = knob(20, lo=1, hi=65536, doc="word embedding width d")
    memory_size: int = knob(
        50, lo=0, hi=1_000_000, doc="most recent sentences held in memory (0: all of them)"
    )
    answer_words: int = knob(
        3, lo=1, hi=64, doc="answer words predicted (bAbI lists and paths have up to 3)"
    )


class QAModel(SequenceModel):
    """Base class of the models that read the QA view. ``forward(qa)`` returns answer logits
    ``[S, answer_words, V]`` (or a dict holding them under ``"logits"``, with whatever else the
    model's ``loss`` needs)."""

    view: ClassVar[str] = "qa"
    Hparams: ClassVar[type[Hparams]] = QAHparams
    # The models here attend over a whole memory at once; none needs per-step float32 care,
    # but none is large enough for bfloat16 to pay either.
    amp_safe: ClassVar[bool] = False

    def __init__(self, io: TaskIO, hp: QAHparams):
        super().__init__(io, hp)
        if io.is_vector:
            raise IncompatibleError(
                f"{self.name} answers questions about stories of words; {io.task} is a task of "
                f"bit vectors (use a sequence model: lstm, ntm, dnc, ...)"
            )

    # -- data -----------------------------------------------------------------------------------
    def collate(self, episodes: EpisodeBatch, device: torch.device | str | None = None) -> dict:
        from memtasks.torch import collate_qa

        batch = collate_qa(episodes, device, max_sentences=self.hp.memory_size or None)
        batch["num_positions"] = torch.tensor(episodes.num_positions)
        return batch

    @staticmethod
    def select(batch: dict, rows: torch.Tensor) -> dict:
        """Samples ``rows`` of a collated batch (a training step's share of a fixed set),
        with the memory trimmed to the longest story among them."""
        out = {k: v[rows] for k, v in batch.items() if v.dim() > 0}
        n = int(out["sentence_counts"].max()) if len(rows) else 0
        out["sentences"] = out["sentences"][:, :n]
        out["sentence_segment"] = out["sentence_segment"][:, :n]
        out["num_positions"] = batch["num_positions"]
        return out

    # -- outputs --------------------------------------------------------------------------------
    @staticmethod
    def logits_of(out: torch.Tensor | dict[str, Any]) -> torch.Tensor:
        return out["logits"] if isinstance(out, dict) else out

    def _answers(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        """The answer words ``[S, A]``, refusing answers longer than the output layer."""
        answer = batch["answer"]
        if answer.shape[1] > logits.shape[1] and bool((answer[:, logits.shape[1] :] != 0).any()):
            raise IncompatibleError(
                f"{self.io.task} has answers of {answer.shape[1]} words and {self.name} predicts "
                f"{logits.shape[1]} (raise the hyperparameter answer_words)"
            )
        return answer[:, : logits.shape[1]]

    def loss(self, out, batch: dict) -> torch.Tensor:
        """Cross-entropy of each answer word, averaged over the answer words of the batch."""
        logits = self.logits_of(out)
        answer = self._answers(logits, batch)
        scored = answer != 0
        return F.cross_entropy(logits[:, : answer.shape[1]][scored].float(), answer[scored])

    def predictions(self, out, batch: dict) -> np.ndarray:
        """Predicted word ids in the episode batch's flat layout (0 where nothing is scored)."""
        logits = self.logits_of(out).detach()
        positions = batch["answer_positions"]
        words = logits.argmax(-1)[:, : positions.shape[1]]
        flat = torch.zeros(int(batch["num_positions"]), dtype=torch.int64, device=logits.device)
        at = positions[:, : words.shape[1]]
        valid = at >= 0
        flat[at[valid]] = words[valid]
        return flat.cpu().numpy()


class AnswerHead(nn.Module):
    """The output layer: ``answer_words`` linear maps from the final state to the vocabulary,
    one per answer position (the first is the papers' single ``W``)."""

    def __init__(self, size: int, vocab: int, answer_words: int, bias: bool = True):
        super().__init__()
        self.vocab, self.answer_words = vocab, answer_words
        self.linear = nn.Linear(size, vocab * answer_words, bias=bias)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.linear(state).view(*state.shape[:-1], self.answer_words, self.vocab)


def position_terms(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two word weights of the position encoding below, ``(a, b)``, both ``[..., W]``:
    ``l_kj = a_j + (k/d) b_j`` with ``a_j = 1 - j/J`` and ``b_j = 2j/J - 1``. The encoding is a
    sum of two terms, each separable in the word and the dimension, which is what lets MemN2N
    encode a sentence as two weighted bags of words (``MemN2N.encode``). Padding weighs 0."""
    present = tokens != 0
    length = present.sum(-1, keepdim=True).clamp_min(1).float()  # J per sentence
    jj = torch.arange(1, tokens.shape[-1] + 1, device=tokens.device).float() / length
    return (1 - jj) * present, (2 * jj - 1) * present


def position_encoding(tokens: torch.Tensor, size: int) -> torch.Tensor:
    """MemN2N's position encoding (Sukhbaatar et al. 2015, sec. 4.1), used by DMN+ too:
    ``l_kj = (1 - j/J) - (k/d)(1 - 2j/J)`` for word j of J (1-based) and dimension k of d, so a
    sentence's representation depends on its word order. J is each sentence's own length
    (padding excluded); padding positions get weight 0. Returns ``[..., W, d]`` float."""
    a, b = position_terms(tokens)
    k = torch.arange(1, size + 1, device=tokens.device).float() / size
    return a.unsqueeze(-1) + b.unsqueeze(-1) * k


def bag_of_words(
    embedding: nn.Embedding, tokens: torch.Tensor, encoding: torch.Tensor | None = None
) -> torch.Tensor:
    """``sum_j l_j * A x_j`` over a sentence's words: ``[..., W]`` ids to ``[..., d]``. Without
    ``encoding`` a plain bag of words (padding id 0 embeds to zero)."""
    vectors = embedding(tokens)
    if encoding is not None:
        vectors = vectors * encoding
    return vectors.sum(-2)


def memory_rows(counts: torch.Tensor, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ages, present)``, both ``[S, rows]``, of a memory of sentences stored oldest first
    (the QA view's ``sentences``): row r of a story with c sentences holds the sentence of age
    c - 1 - r (0: the most recent); rows past c are padding (age 0, not present: to be given
    -inf before a softmax)."""
    row = torch.arange(rows, device=counts.device)[None, :]
    present = row < counts[:, None]
    return (counts[:, None] - 1 - row).clamp_min(0), present
