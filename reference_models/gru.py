"""Gated recurrent unit (survey section 3.3.3, eq. 88), on cuDNN where there is a GPU.

The survey defines the GRU where the dynamic memory network's input module uses it:

    z_t = sigma(W^(z) x_t + U^(z) h_{t-1} + b^(z))              (88)  update gate
    r_t = sigma(W^(r) x_t + U^(r) h_{t-1} + b^(r))                    reset gate
    h~_t = tanh(W x_t + r_t * U h_{t-1} + b^(h))                      candidate state
    h_t = z_t * h_{t-1} + (1 - z_t) * h~_t                            hidden state

(Eq. 9-11 near the LSTM are the LSTM's cell in compact form, not the GRU.) ``nn.GRU`` computes
exactly these, for all timesteps and layers in one fused kernel; the one difference is that it
adds a second bias inside the reset product, r_t * (U h_{t-1} + b_hn), which changes nothing a
model can express. The survey gives no size for these tasks; one layer of 256 units is the
default.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ._base import Hparams, InputReader, OptimizerSettings, SequenceModel, TaskIO, knob
from .registry import register_model


@dataclass(frozen=True)
class GRUHparams(Hparams):
    hidden_size: int = knob(256, lo=1, hi=65536, doc="units per layer")
    num_layers: int = knob(1, lo=1, hi=64, doc="stacked layers")
    dropout: float = knob(0.0, lo=0.0, hi=0.9, doc="dropout between layers (training only)")


@register_model
class GRU(SequenceModel):
    name = "gru"
    summary = "gated recurrent unit (eq. 88), 1x256"
    equations = "88"
    Hparams = GRUHparams
    optimizer = OptimizerSettings(
        name="adam",
        lr=1e-3,
        eps=1e-8,
        clip_norm=1.0,
        clip_value=None,
        source="common practice; no paper setting for these tasks",
    )

    def __init__(self, io: TaskIO, hp: GRUHparams):
        super().__init__(io, hp)
        self.reader = InputReader(io, hp.embed_size)
        self.gru = nn.GRU(
            self.reader.size,
            hp.hidden_size,
            num_layers=hp.num_layers,
            dropout=hp.dropout if hp.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.out = self.head(hp.hidden_size)

    def forward(self, batch):
        # Padding after an episode's end only feeds positions nobody scores: a causal model
        # needs no packing.
        h, _ = self.gru(self.reader(batch["inputs"]))
        return self.out(h)
