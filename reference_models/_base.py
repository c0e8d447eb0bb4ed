"""What every reference model shares: how it reads a task, its hyperparameters, its loss.

A model is built for one task layout (``TaskIO``): vector tasks (the NTM tasks) give it
``float32[B, T, D_in]`` inputs and want one logit per target bit, ``[B, T, D_out]``; token tasks
(bAbI) give it ``int64[B, T]`` token ids and want vocabulary logits, ``[B, T, V]``. Either way
the model reads the padded batch of ``memtasks.torch.collate`` and returns outputs aligned with
``batch["targets"]``; only positions where ``batch["mask"]`` is true are scored (``loss``), so
what a model writes on padding never matters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from memtasks.errors import MemtasksError
from memtasks.knobs import Knobs, knob
from memtasks.registry import Layout, TaskSpec

__all__ = [
    "Hparams",
    "IncompatibleError",
    "InputReader",
    "OptimizerSettings",
    "SequenceModel",
    "TaskIO",
    "knob",
    "loss",
    "predictions",
]


class IncompatibleError(MemtasksError, ValueError):
    """A model that cannot read a task (or a task's data), or hyperparameters that do not fit."""


@dataclass(frozen=True)
class TaskIO:
    """The shapes a model must read and write for one task with its knobs."""

    task: str
    kind: str  # "vector" or "token"
    input_size: int  # D_in (vector) or vocabulary size (token)
    output_size: int  # D_out bits (vector) or vocabulary size (token)
    # what a vector task's output channels are, from its metric's ``output``: "bits"
    # (independent Bernoulli, BitMetric), "real" (numbers, ThresholdRegression) or "classes"
    # (one-hot, ClassMetric); the loss and the predictions follow it
    output: str = "bits"

    @classmethod
    def of(cls, spec: TaskSpec, knobs: Knobs, layout: Layout | None = None) -> TaskIO:
        """``layout``: where the spec's own lacks what its files give (a dataset's vocabulary,
        ``DatasetSpec.layout_of``)."""
        layout = layout if layout is not None else spec.layout(knobs)
        if layout.vocab:
            return cls(spec.id, "token", len(layout.vocab), len(layout.vocab))
        if not layout.input_width or not layout.target_width:
            raise IncompatibleError(f"{spec.id} declares neither channels nor a vocabulary")
        output = getattr(spec.metric, "output", "bits")
        return cls(spec.id, "vector", layout.input_width, layout.target_width, output)

    @property
    def is_vector(self) -> bool:
        return self.kind == "vector"


@dataclass(frozen=True)
class Hparams(Knobs):
    """A model's hyperparameters: typed, ranged, validated on construction (``memtasks.knobs``).

    ``embed_size`` is used only on token tasks (the width of the token embedding); vector tasks
    feed their channels to the model as they are.
    """

    noun: ClassVar[str] = "hyperparameter"
    embed_size: int = knob(64, lo=1, hi=65536, doc="token embedding width (token tasks only)")


@dataclass(frozen=True)
class OptimizerSettings:
    """A model's default optimiser, from its paper where the paper gives one.

    ``clip_value`` clips every gradient element to [-v, v] (the NTM paper's choice);
    ``clip_norm`` rescales the whole gradient to at most that L2 norm. ``warmup`` > 0 selects
    the Transformer schedule of the survey's eq. 29: lr * min(step^-0.5, step * warmup^-1.5),
    normalised to peak at ``lr``. ``decay_every`` > 0 multiplies the rate by ``decay`` every
    that many epochs (MemN2N halves it every 25), when training passes over a fixed training
    set; a stream has no epochs, so it is ignored there. ``decay_start`` > 0 keeps the rate for
    that many epochs first and decays from the next one on (Zaremba et al. 2014 halve it every
    epoch after the 4th).
    """

    name: str = "rmsprop"  # "rmsprop" (centred, as in Graves 2013/2014), "adam" or "sgd"
    lr: float = 1e-4
    momentum: float = 0.9
    alpha: float = 0.95  # RMSProp's squared-gradient decay (Graves 2013 uses 0.95)
    # Graves 2013 adds 1e-4 inside the square root; torch adds eps outside it. 1e-6 keeps a
    # parameter whose gradient barely varies from taking huge centred steps.
    eps: float = 1e-6
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    clip_value: float | None = 10.0
    clip_norm: float | None = None
    warmup: int = 0
    decay_every: int = 0  # epochs
    decay: float = 0.5
    decay_start: int = 0  # epochs at the full rate before decaying (0: decay_every's rule)
    source: str = ""

    def replace(self, **changes: Any) -> OptimizerSettings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    def build(self, params) -> torch.optim.Optimizer:
        if self.name == "rmsprop":
            return torch.optim.RMSprop(
                params,
                lr=self.lr,
                alpha=self.alpha,
                eps=self.eps,
                momentum=self.momentum,
                centered=True,
                weight_decay=self.weight_decay,
            )
        if self.name == "adam":
            return torch.optim.Adam(
                params, lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay
            )
        if self.name == "sgd":
            return torch.optim.SGD(
                params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
            )
        raise IncompatibleError(
            f"optimizer must be one of 'rmsprop', 'adam', 'sgd', got {self.name!r}"
        )

    def schedule(
        self, optimizer: torch.optim.Optimizer, steps_per_epoch: int | None = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """The per-step learning-rate schedule; ``steps_per_epoch`` is the length of a pass
        over a fixed training set (None when training streams)."""
        if self.decay_every > 0 and steps_per_epoch and self.decay_start > 0:
            start, spe = self.decay_start, steps_per_epoch
            every, decay = self.decay_every, self.decay

            def after_start(step: int) -> float:
                epoch = step // spe
                return 1.0 if epoch < start else decay ** ((epoch - start) // every + 1)

            return torch.optim.lr_scheduler.LambdaLR(optimizer, after_start)
        if self.decay_every > 0 and steps_per_epoch:
            every, decay = self.decay_every * steps_per_epoch, self.decay
            return torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: decay ** (step // every)
            )
        if self.warmup <= 0:
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        w = self.warmup

        def factor(step: int) -> float:  # eq. 29, scaled so that the peak (step == w) is 1
            s = step + 1
            return min(s**-0.5, s * w**-1.5) * w**0.5

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class InputReader(nn.Module):
    """Turns the batch's ``inputs`` into float features ``[B, T, size]``.

    Vector tasks pass their channels through unchanged (bits are already features); token
    tasks look ids up in an embedding whose row 0, the padding id, stays zero.
    """

    def __init__(self, io: TaskIO, embed_size: int):
        super().__init__()
        self.is_vector = io.is_vector
        if self.is_vector:
            self.size = io.input_size
            self.embedding = None
        else:
            self.size = embed_size
            self.embedding = nn.Embedding(io.input_size, embed_size, padding_idx=0)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:
            return inputs.float()
        return self.embedding(inputs)


class SequenceModel(nn.Module):
    """Base class: ``model(batch)`` returns logits aligned with ``batch["targets"]``.

    Subclasses define ``forward(batch)`` (``nn.Module`` refuses a call without one), set
    ``name``, ``summary``, ``Hparams`` and ``optimizer``, and say whether they
    are ``causal`` (the output at t reads inputs up to t only; a bidirectional model is not,
    and the runner refuses it on tasks whose scored positions carry inputs) and whether
    bfloat16 autocast is safe for them (``amp_safe``; the memory models' addressing is not).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    equations: ClassVar[str] = ""  # the survey's equation numbers the file implements
    Hparams: ClassVar[type[Hparams]] = Hparams
    optimizer: ClassVar[OptimizerSettings] = OptimizerSettings()
    causal: ClassVar[bool] = True
    amp_safe: ClassVar[bool] = True
    view: ClassVar[str] = "padded"  # what ``collate`` gives forward: padded episodes, or "qa"
    # the runner's settings this model's paper trains with, where a run leaves them open:
    # steps, batch_size, train_questions (a fixed training set), epochs, patience
    training_defaults: ClassVar[Mapping[str, int]] = {}

    def __init__(self, io: TaskIO, hp: Hparams):
        super().__init__()
        self.io = io
        self.hp = hp

    def head(self, size: int) -> nn.Linear:
        """The output layer: one logit per target bit, or one per vocabulary entry."""
        return nn.Linear(size, self.io.output_size)

    # -- the runner's interface: episodes in, loss and flat predictions out --------------------
    def collate(self, episodes, device: torch.device | str | None = None) -> dict[str, Any]:
        """The batch ``forward`` reads, made from an ``EpisodeBatch``."""
        from memtasks.torch import collate

        return collate(episodes, device)

    def loss(self, out, batch: Mapping[str, Any]) -> torch.Tensor:
        """The training loss of ``out = self(batch)``."""
        return loss(out, batch, self.io.output)

    def predictions(self, out, batch: Mapping[str, Any]) -> np.ndarray:
        """``out`` in the episode batch's flat layout, for ``spec.metric.evaluate``."""
        return predictions(out, batch, self.io.output)

    def target_logprobs(self, out, batch: Mapping[str, Any]) -> np.ndarray:
        """The log-probability (nats) ``out`` gives each scored target, in the flat order of
        ``batch.targets[batch.mask]``: what a metric with ``reads = "target_logprobs"``
        (perplexity) reads. Per position: the target token's log-softmax (token tasks), or the
        sum over target bits of their Bernoulli log-likelihoods (vector tasks)."""
        if self.view != "padded":
            raise IncompatibleError(
                f"{self.name} reads questions, not positions: it gives no per-position "
                f"log-probabilities (perplexity); use a sequence model"
            )
        mask, targets = batch["mask"], batch["targets"]
        scored = out.detach()[mask].float()
        if targets.dim() == 3:  # vector task: bits
            per = F.binary_cross_entropy_with_logits(scored, targets[mask], reduction="none")
            return (-per.sum(-1)).cpu().numpy()
        logp = torch.log_softmax(scored, dim=-1)
        return logp.gather(1, targets[mask][:, None])[:, 0].cpu().numpy()

    def end_of_epoch(self, epoch: int, valid_loss: float) -> str | None:
        """Called by the runner after each pass over a fixed training set, with the loss on
        its held-out part (NaN where the run has none); a model that changes its training
        schedule here (MemN2N's linear start) returns a line saying what it did, which the
        results record."""
        return None

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def compile_step(self, **options: Any) -> bool:
        """Compile the per-timestep function with ``torch.compile`` (models that have one).
        Returns whether anything was compiled."""
        return False


def loss(
    logits: torch.Tensor, batch: Mapping[str, torch.Tensor], output: str = "bits"
) -> torch.Tensor:
    """Mean loss over the scored positions: binary cross-entropy per target bit (vector tasks),
    or cross-entropy per answer token (token tasks), in nats; for vector tasks whose channels
    are numbers (``output == "real"``) the squared error per channel, and for one-hot classes
    (``"classes"``) the cross-entropy of the class per scored row."""
    mask = batch["mask"]
    targets = batch["targets"]
    if logits.dim() == 3 and targets.dim() == 3 and output == "real":
        per = ((logits.float() - targets) ** 2).sum(-1)
        return (per * mask).sum() / (mask.sum() * targets.shape[-1]).clamp_min(1)
    if logits.dim() == 3 and targets.dim() == 3 and output == "classes":
        return F.cross_entropy(logits[mask].float(), targets[mask].argmax(-1))
    if logits.dim() == 3 and targets.dim() == 3:  # vector task: [B, T, D]
        per = F.binary_cross_entropy_with_logits(logits.float(), targets, reduction="none")
        per = per.sum(-1)  # bits of a position
        return (per * mask).sum() / (mask.sum() * targets.shape[-1]).clamp_min(1)
    scored = logits[mask].float()
    return F.cross_entropy(scored, targets[mask])


def predictions(
    logits: torch.Tensor, batch: Mapping[str, torch.Tensor], output: str = "bits"
) -> np.ndarray:
    """Predictions in the episode batch's flat layout, for ``spec.metric.evaluate``:
    probabilities ``[N, D_out]`` (vector tasks: per bit, or per class with ``output ==
    "classes"``; the outputs themselves with ``"real"``) or token ids ``[N]`` (token tasks),
    where N counts every position of every episode in order (padding dropped)."""
    lengths = batch["lengths"].to(logits.device)
    valid = torch.arange(logits.shape[1], device=logits.device)[None, :] < lengths[:, None]
    flat = logits.detach()[valid].float()
    if batch["targets"].dim() == 3 and output == "real":
        return flat.cpu().numpy()
    if batch["targets"].dim() == 3 and output == "classes":
        return torch.softmax(flat, dim=-1).cpu().numpy()
    if batch["targets"].dim() == 3:
        return torch.sigmoid(flat).cpu().numpy()
    return flat.argmax(-1).cpu().numpy()
