"""Bidirectional LSTM (survey section 3.2.2, end; Graves et al.), on cuDNN where there is a GPU.

The survey describes it in words, without an equation: a forward LSTM (eq. 3-11) reads the
sequence left to right, a backward LSTM reads it right to left, and the state at each time is
the two hidden states concatenated, [h->_t ; h<-_t], so every output sees the whole episode.

That makes it non-causal (``causal = False``): the output at t reads inputs after t, so on tasks
whose scored positions carry inputs the answer could be read off the future, and the runner
refuses it there. It is a reference for how much seeing the whole sequence helps.

Padding matters here, unlike in a causal model: run over the padded batch, the backward LSTM
would start at the end of the padding and carry it into every real position. The batch is
packed with each episode's ``lengths``, so the backward direction starts at its real end.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ._base import Hparams, InputReader, OptimizerSettings, SequenceModel, TaskIO, knob
from .registry import register_model


@dataclass(frozen=True)
class BiLSTMHparams(Hparams):
    hidden_size: int = knob(128, lo=1, hi=65536, doc="units per layer and direction")
    num_layers: int = knob(2, lo=1, hi=64, doc="stacked bidirectional layers")
    dropout: float = knob(0.0, lo=0.0, hi=0.9, doc="dropout between layers (training only)")


@register_model
class BiLSTM(SequenceModel):
    name = "bilstm"
    summary = "bidirectional LSTM (sec. 3.2.2), 2x128 per direction; non-causal"
    equations = "3-11"
    Hparams = BiLSTMHparams
    optimizer = OptimizerSettings(
        name="adam",
        lr=1e-3,
        eps=1e-8,
        clip_norm=1.0,
        clip_value=None,
        source="common practice; no paper setting for these tasks",
    )
    causal = False

    def __init__(self, io: TaskIO, hp: BiLSTMHparams):
        super().__init__(io, hp)
        self.reader = InputReader(io, hp.embed_size)
        self.lstm = nn.LSTM(
            self.reader.size,
            hp.hidden_size,
            num_layers=hp.num_layers,
            dropout=hp.dropout if hp.num_layers > 1 else 0.0,
            batch_first=True,
            bidirectional=True,
        )
        self.out = self.head(2 * hp.hidden_size)  # reads [forward ; backward]

    def forward(self, batch):
        x = self.reader(batch["inputs"])
        T = x.shape[1]
        # pack_padded_sequence wants the lengths on the CPU (one small copy from the GPU); an
        # episode is never empty, but a zero length would make packing fail, so clamp it.
        lengths = batch["lengths"].cpu().clamp(1, T)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        # Back to [B, T, 2H]; positions past an episode's end come back as zeros (never scored).
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=T)
        return self.out(h)
