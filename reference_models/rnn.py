"""Elman recurrent network (survey section 2.1, eq. 1-2), on cuDNN where there is a GPU.

    s_t = f(U x_t + W s_{t-1})                                  (1)  hidden state, f = tanh
    o_t = softmax(V s_t)                                        (2)  output

``nn.RNN`` computes eq. 1 for all timesteps and layers in one fused kernel (it also adds a bias
to each product, which the survey leaves out). Eq. 2's ``V`` is the output head; it returns
logits, and the loss applies the normalisation: a softmax over the vocabulary on token tasks,
as in eq. 2, or one sigmoid per target bit on vector tasks (the bits are independent).
The survey gives no size for these tasks; one layer of 256 units is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ._base import Hparams, InputReader, OptimizerSettings, SequenceModel, TaskIO, knob
from .registry import Variant, register_model, register_variant


@dataclass(frozen=True)
class RNNHparams(Hparams):
    hidden_size: int = knob(256, lo=1, hi=65536, doc="units per layer")
    num_layers: int = knob(1, lo=1, hi=64, doc="stacked layers")
    nonlinearity: str = knob("tanh", choices=("tanh", "relu"), doc="f of eq. 1")
    dropout: float = knob(0.0, lo=0.0, hi=0.9, doc="dropout between layers (training only)")


@register_model
class RNN(SequenceModel):
    name = "rnn"
    summary = "Elman RNN (eq. 1-2), tanh, 1x256"
    equations = "1-2"
    Hparams = RNNHparams
    # A plain RNN's gradients explode easily: Adam with norm clipping is the usual recipe.
    optimizer = OptimizerSettings(
        name="adam",
        lr=1e-3,
        eps=1e-8,
        clip_norm=1.0,
        clip_value=None,
        source="common practice; no paper setting for these tasks",
    )

    def __init__(self, io: TaskIO, hp: RNNHparams):
        super().__init__(io, hp)
        self.reader = InputReader(io, hp.embed_size)
        self.rnn = nn.RNN(  # eq. 1: U is weight_ih, W is weight_hh
            self.reader.size,
            hp.hidden_size,
            num_layers=hp.num_layers,
            nonlinearity=hp.nonlinearity,
            dropout=hp.dropout if hp.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.out = self.head(hp.hidden_size)  # eq. 2: V

    def forward(self, batch):
        # Padding after an episode's end only feeds positions nobody scores: a causal model
        # needs no packing.
        s, _ = self.rnn(self.reader(batch["inputs"]))
        return self.out(s)


register_variant(
    Variant(
        "rnn.table2",
        summary="the RNN of the survey's Table 2 (simulated world QA), 100 units, 100 epochs",
        source="Weston, Chopra & Bordes 2014, arXiv:1410.3916, sec. 5.2 (survey Table 2)",
        task="world/qa-v1",
        hparams={"hidden_size": 100},
        training={"train_questions": 3000, "epochs": 100, "batch_size": 32},
        reported="accuracy 60.9 / 27.9 / 23.8 / 17.8 % (survey Table 2)",
    )
)
