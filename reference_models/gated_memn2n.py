"""Gated end-to-end memory network, GMemN2N (Liu & Perez 2017, "Gated End-to-End Memory
Networks", arXiv:1610.04211; survey section 3.3.2, eq. 86-87).

MemN2N's hop update u^{k+1} = u^k + o^k is a residual connection; GMemN2N makes it a highway
connection, so that each hop learns, per dimension and per question, how much of what it read
to take in and how much of the state to carry over:

    T^k(u^k) = sigma(W_T^k u^k + b_T^k)                         (86) transform gate
    u^{k+1} = o^k * T^k(u^k) + u^k * (1 - T^k(u^k))             (87) gated update

Everything else is MemN2N's (``memn2n.py``: eq. 81-85, sentence encodings, temporal encoding,
the tying of A, B, C and W, linear start, random noise, the answer layer and the optimiser); this
file only replaces the update. Under layer-wise tying the gate takes the place of MemN2N's H.

The gate's own tying (``gate_tying``, the paper's two schemes): "hop" gives every hop its own
W_T^k, b_T^k (hop-specific, reported the better of the two on bAbI); "global" shares one
gate across hops. W_T starts N(0, init_std^2) like every other weight and b_T at 0, so each gate
starts near 1/2: an even mix of the read and the carried state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._base import knob
from .memn2n import MemN2N, MemN2NHparams
from .registry import register_model

__all__ = ["GatedMemN2N", "GatedMemN2NHparams", "gated_update"]


@dataclass(frozen=True)
class GatedMemN2NHparams(MemN2NHparams):
    gate_tying: str = knob(
        "hop",
        choices=("hop", "global"),
        doc="gate parameters per hop (hop-specific) or one gate for all hops (global)",
    )


def gated_update(
    u: torch.Tensor, o: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """u^{k+1} = o T + u (1 - T) with T = sigma(W_T u + b_T) (86-87); ``lerp`` is that formula
    in one kernel (u + T (o - u))."""
    gate = torch.sigmoid(torch.addmm(bias, u, weight.t()))  # (86)
    return torch.lerp(u, o, gate)  # (87)


@register_model
class GatedMemN2N(MemN2N):
    name = "gated-memn2n"
    summary = "gated end-to-end memory network (eq. 81-87): MemN2N hops joined by highway gates"
    equations = "81-87"
    Hparams = GatedMemN2NHparams
    # MemN2N's training, unchanged (memn2n.py restates its rate and clip for an averaged
    # loss); the GMemN2N paper's own optimiser settings are not reproduced here.
    optimizer = MemN2N.optimizer.replace(source="as memn2n: " + MemN2N.optimizer.source)

    def _build_update(self) -> None:
        d = self.hp.embed_size
        gates = self.hp.hops if self.hp.gate_tying == "hop" else 1
        self.H = None
        self.gate_weight = nn.Parameter(torch.randn(gates, d, d) * self.hp.init_std)
        self.gate_bias = nn.Parameter(torch.zeros(gates, d))

    def update(self, hop: int, u: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        g = hop if self.gate_weight.shape[0] > 1 else 0
        return gated_update(u, o, self.gate_weight[g], self.gate_bias[g])
