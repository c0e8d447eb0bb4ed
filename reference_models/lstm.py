"""Long short-term memory (survey section 2.2, eq. 3-11), on cuDNN where there is a GPU.

    f_t = sigma(W_f [h_{t-1}, x_t] + b_f)                       (3)  forget gate
    i_t = sigma(W_i [h_{t-1}, x_t] + b_i)                       (4)  input gate
    C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)                       (5)  candidate cell
    C_t = f_t * C_{t-1} + i_t * C~_t                            (6)  cell update
    o_t = sigma(W_o [h_{t-1}, x_t] + b_o)                       (7)  output gate
    h_t = o_t * tanh(C_t)                                       (8)  hidden state

(eq. 9-11 restate the same cell in the notation of the GRU comparison.) ``nn.LSTM`` computes
exactly these, for all timesteps and layers in one fused kernel; writing the cell out in
Python would be slower and no clearer. The NTM paper's baseline is 3 layers of 256 units,
trained with RMSProp (Graves et al. 2014, sec. 4), which are the defaults here.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ._base import Hparams, InputReader, OptimizerSettings, SequenceModel, TaskIO, knob
from .registry import Variant, register_model, register_variant


@dataclass(frozen=True)
class LSTMHparams(Hparams):
    hidden_size: int = knob(256, lo=1, hi=65536, doc="units per layer")
    num_layers: int = knob(3, lo=1, hi=64, doc="stacked layers")
    dropout: float = knob(0.0, lo=0.0, hi=0.9, doc="dropout between layers (training only)")


@register_model
class LSTM(SequenceModel):
    name = "lstm"
    summary = "stacked LSTM (eq. 3-11); the NTM paper's baseline is 3x256"
    equations = "3-11"
    Hparams = LSTMHparams
    # The NTM paper trains its LSTM baseline with RMSProp, momentum 0.9, gradients clipped to
    # [-10, 10] (Graves et al. 2014, sec. 4); the rate here is the NTM's, 1e-4.
    optimizer = OptimizerSettings(lr=1e-4, source="Graves et al. 2014, sec. 4")

    def __init__(self, io: TaskIO, hp: LSTMHparams):
        super().__init__(io, hp)
        self.reader = InputReader(io, hp.embed_size)
        self.lstm = nn.LSTM(
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
        h, _ = self.lstm(self.reader(batch["inputs"]))
        return self.out(h)


# -- paper configurations (``memtasks baseline lstm.copy ntm/copy-v1``) -------------------------
register_variant(
    Variant(
        "lstm.copy",
        summary="the NTM paper's LSTM baseline: 3 layers of 256 units, RMSProp 1e-4",
        source="Graves et al. 2014, arXiv:1410.5401, sec. 4 (the LSTM baseline of every task)",
        task="ntm/copy-v1",
        hparams={"hidden_size": 256, "num_layers": 3},
    )
)
register_variant(
    Variant(
        "lstm.ptb",
        summary="Zaremba et al.'s small non-regularised LSTM on Penn Treebank: 2x200, 20 steps",
        source="Zaremba, Sutskever & Vinyals 2014, arXiv:1409.2329, sec. 4.1 (small model: "
        "2 layers of 200 units, unrolled 20 steps, batch 20, SGD rate 1 halved every epoch "
        "after the 4th, 13 epochs, gradient norm clipped at 5)",
        task="ptb/word-v1",
        hparams={"hidden_size": 200, "num_layers": 2, "embed_size": 200, "dropout": 0.0},
        training={"batch_size": 20, "epochs": 13},
        optimizer={
            "name": "sgd",
            "lr": 1.0,
            "momentum": 0.0,
            "clip_value": None,
            "clip_norm": 5.0,
            "decay_every": 1,
            "decay_start": 4,
            "decay": 0.5,
        },
        knobs={"window": 20},
        # each window here starts from a zero state (Zaremba et al. carry the state across
        # windows), so expect a higher perplexity than theirs
        reported="test perplexity 114.5, validation 120.7 (Zaremba et al. 2014, Table 1)",
    )
)
register_variant(
    Variant(
        "lstm.table2",
        summary="the LSTM of the survey's Table 2 (simulated world QA), 1x100, 100 epochs",
        source="Weston, Chopra & Bordes 2014, arXiv:1410.3916, sec. 5.2 (survey Table 2)",
        task="world/qa-v1",
        hparams={"hidden_size": 100, "num_layers": 1},
        training={"train_questions": 3000, "epochs": 100, "batch_size": 32},
        reported="accuracy 64.8 / 49.1 / 35.2 / 29.0 % (actor d=1, actor+object d=1, actor "
        "d=5, actor+object d=5; survey Table 2)",
    )
)
