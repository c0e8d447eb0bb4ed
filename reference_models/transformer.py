"""Transformer (survey section 2.5, eq. 25-29): a decoder-only model and an encoder-decoder.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V                     (25)
    MultiHead(Q, K, V) = Concat(head_1..head_h) W^O,
        head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)                     (26)
    PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),
    PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))                         (27)
    lr = d_model^-0.5 min(step^-0.5, step warmup^-1.5)                   (29)

Eq. 28 in the survey is the identity sin(pos + k) = sin(pos)cos(k) + cos(pos)sin(k) (and the
same for cos), which is why eq. 27 lets attention find relative positions; the survey names
the residual connections, dropout and layer normalisation around each sub-layer in the text
after eq. 29 without an equation, and the position-wise feed-forward network
FFN(x) = max(0, x W_1 + b_1) W_2 + b_2 only in words. All of them are here.

The layers are written out (not ``nn.TransformerEncoderLayer``) so that each equation has its
line; eq. 25 itself is ``F.scaled_dot_product_attention``, which picks a fused kernel (flash or
memory-efficient attention on a GPU) and computes exactly softmax(Q K^T / sqrt(d_k)) V.
Eq. 29 is the runner's schedule (``OptimizerSettings.warmup``), normalised to peak at ``lr``.

Two registered models:

``transformer``
    decoder-only (one causally masked stack, as in GPT): the output at t attends to positions
    up to t. Padding comes only after an episode's end, so the causal mask already keeps it out
    of every real position; no key-padding mask is needed.

``transformer-encdec``
    encoder-decoder, as in Vaswani et al.: each episode is split at its first scored position
    (``batch["mask"]``). The encoder reads the part before it (the source: for copy, the
    vectors to copy and the delimiter) with full self-attention; the decoder reads the rest
    with causal self-attention and cross-attention to the encoder (eq. 25 with Q from the
    decoder, K and V from the encoder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._base import Hparams, InputReader, OptimizerSettings, SequenceModel, TaskIO, knob
from .registry import register_model

# Vaswani et al. train with Adam(0.9, 0.98, 1e-9) and 4000 warmup steps on WMT; these tasks
# train for thousands rather than hundreds of thousands of steps, so warmup is shorter.
TRANSFORMER_OPTIMIZER = OptimizerSettings(
    name="adam",
    lr=1e-3,
    betas=(0.9, 0.98),
    eps=1e-9,
    warmup=400,
    clip_norm=1.0,
    clip_value=None,
    source="Vaswani et al. 2017 (survey eq. 29), shorter warmup for small tasks",
)


@dataclass(frozen=True)
class _TransformerHparams(Hparams):
    """The knobs both models share."""

    d_model: int = knob(128, lo=2, hi=65536, doc="width of every position's vector (even)")
    heads: int = knob(4, lo=1, hi=1024, doc="attention heads (eq. 26); must divide d_model")
    ff_size: int = knob(512, lo=1, hi=262144, doc="hidden width of the position-wise FFN")
    dropout: float = knob(0.0, lo=0.0, hi=0.9, doc="dropout on attention and sub-layer outputs")
    norm: str = knob(
        "pre",
        choices=("pre", "post"),
        doc="LayerNorm before each sub-layer (pre, stabler) or after the residual (post, paper)",
    )

    def check(self) -> None:
        self.require(self.d_model % 2 == 0, "d_model must be even (eq. 27 pairs sin and cos)")
        self.require(self.d_model % self.heads == 0, "heads must divide d_model (eq. 26)")


# -- building blocks ----------------------------------------------------------------------------


class SinusoidalPositions(nn.Module):
    """Eq. 27, computed for whatever length is asked: there is no maximum length, so a model
    trained on short episodes runs on longer ones (how well is what extrapolation measures)."""

    def __init__(self, d_model: int):
        super().__init__()
        # 1 / 10000^(2i / d_model) for i = 0 .. d_model/2 - 1; a buffer so it follows .to(device)
        inv_freq = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, length: int) -> torch.Tensor:
        """[length, d_model]: sin in even dimensions, cos in odd ones."""
        pos = torch.arange(length, device=self.inv_freq.device, dtype=torch.float32)
        angle = pos[:, None] * self.inv_freq[None, :]  # [L, d/2]
        return torch.stack((angle.sin(), angle.cos()), dim=-1).flatten(-2)


class MultiHeadAttention(nn.Module):
    """Eq. 26: h heads, each eq. 25 on its own projections, concatenated and mixed by W^O.

    The per-head projections W_i^Q are one d_model x d_model matrix whose output is reshaped
    into h slices of d_k = d_model / h: the same maths as h separate matrices, one matmul.
    """

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.q = nn.Linear(d_model, d_model)  # W^Q of all heads
        self.k = nn.Linear(d_model, d_model)  # W^K
        self.v = nn.Linear(d_model, d_model)  # W^V
        self.o = nn.Linear(d_model, d_model)  # W^O

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """[B, L, d_model] -> [B, h, L, d_k]"""
        B, L, D = x.shape
        return x.view(B, L, self.heads, D // self.heads).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        source: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
    ) -> torch.Tensor:
        """``query`` [B, Lq, d] attends to ``source`` [B, Lk, d]; ``mask`` (bool, broadcastable
        to [B, h, Lq, Lk]) is True where a key may be attended; ``causal`` masks the future."""
        q, k, v = self.split(self.q(query)), self.split(self.k(source)), self.split(self.v(source))
        p = self.dropout if self.training else 0.0
        heads = F.scaled_dot_product_attention(  # eq. 25, scaled by 1/sqrt(d_k)
            q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal
        )
        B, _, Lq, _ = heads.shape
        return self.o(heads.transpose(1, 2).reshape(B, Lq, -1))  # Concat(head_i) W^O


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, applied to every position on its own."""

    def __init__(self, d_model: int, ff_size: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, ff_size), nn.ReLU(), nn.Linear(ff_size, d_model)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    """One layer: self-attention, then (in an encoder-decoder's decoder) cross-attention to
    the encoder, then the FFN; each sub-layer wrapped in a residual connection and LayerNorm.

    ``norm="post"`` is the paper's LayerNorm(x + Sublayer(x)); ``"pre"`` is
    x + Sublayer(LayerNorm(x)), which keeps an identity path from input to output and trains
    without warmup tricks on deep stacks (Xiong et al. 2020); it needs one LayerNorm after the
    last layer (``Stack``).
    """

    def __init__(self, hp: _TransformerHparams, cross: bool):
        super().__init__()
        self.pre = hp.norm == "pre"
        self.self_attn = MultiHeadAttention(hp.d_model, hp.heads, hp.dropout)
        self.cross_attn = MultiHeadAttention(hp.d_model, hp.heads, hp.dropout) if cross else None
        self.ffn = FeedForward(hp.d_model, hp.ff_size)
        self.norms = nn.ModuleList(nn.LayerNorm(hp.d_model) for _ in range(3 if cross else 2))
        self.drop = nn.Dropout(hp.dropout)

    def residual(self, x: torch.Tensor, norm: nn.LayerNorm, sublayer) -> torch.Tensor:
        if self.pre:
            return x + self.drop(sublayer(norm(x)))
        return norm(x + self.drop(sublayer(x)))

    def forward(self, x, self_mask=None, causal=False, memory=None, memory_mask=None):
        norms = iter(self.norms)
        x = self.residual(x, next(norms), lambda h: self.self_attn(h, h, self_mask, causal))
        if self.cross_attn is not None:
            x = self.residual(x, next(norms), lambda h: self.cross_attn(h, memory, memory_mask))
        return self.residual(x, next(norms), self.ffn)


class Stack(nn.Module):
    """``n`` blocks, plus the final LayerNorm that pre-norm blocks leave to the stack."""

    def __init__(self, hp: _TransformerHparams, n: int, cross: bool = False):
        super().__init__()
        self.blocks = nn.ModuleList(Block(hp, cross) for _ in range(n))
        self.final = nn.LayerNorm(hp.d_model) if hp.norm == "pre" else nn.Identity()

    def forward(self, x, **kwargs):
        for block in self.blocks:
            x = block(x, **kwargs)
        return self.final(x)


class Embed(nn.Module):
    """Inputs to d_model-wide vectors: token embeddings (token tasks) or the task's channels
    (vector tasks), then a linear map to d_model. Positions are added by the caller, which
    knows where each position sits in its own sequence."""

    def __init__(self, io: TaskIO, hp: _TransformerHparams):
        super().__init__()
        self.reader = InputReader(io, hp.embed_size)
        self.proj = nn.Linear(self.reader.size, hp.d_model)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.proj(self.reader(inputs))


# -- decoder-only -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformerHparams(_TransformerHparams):
    layers: int = knob(3, lo=1, hi=256, doc="causally masked layers")


@register_model
class Transformer(SequenceModel):
    name = "transformer"
    summary = "decoder-only Transformer (eq. 25-29), causal self-attention, 3x128"
    equations = "25-29"
    Hparams = TransformerHparams
    optimizer = TRANSFORMER_OPTIMIZER

    def __init__(self, io: TaskIO, hp: TransformerHparams):
        super().__init__(io, hp)
        self.embed = Embed(io, hp)
        self.positions = SinusoidalPositions(hp.d_model)
        self.drop = nn.Dropout(hp.dropout)
        self.stack = Stack(hp, hp.layers)
        self.out = self.head(hp.d_model)

    def forward(self, batch):
        x = self.embed(batch["inputs"])
        x = self.drop(x + self.positions(x.shape[1]))  # eq. 27
        # Causal self-attention only: padding follows each episode's end, so no real position
        # ever sees it, and what padded positions compute is never scored.
        return self.out(self.stack(x, causal=True))


# -- encoder-decoder ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformerEncDecHparams(_TransformerHparams):
    encoder_layers: int = knob(2, lo=1, hi=256, doc="encoder layers (full self-attention)")
    decoder_layers: int = knob(2, lo=1, hi=256, doc="decoder layers (causal, cross-attention)")


@register_model
class TransformerEncDec(SequenceModel):
    name = "transformer-encdec"
    summary = "encoder-decoder Transformer (eq. 25-29): source = inputs before the first answer"
    equations = "25-29"
    Hparams = TransformerEncDecHparams
    optimizer = TRANSFORMER_OPTIMIZER
    # Causal in the runner's sense: the output at t reads only inputs up to t. The encoder
    # reads only positions before the episode's first scored one (so before any t that is
    # scored), and the decoder's self-attention is causally masked. Its full attention over the
    # source never lets an answer see inputs from its own or a later position.
    causal = True

    def __init__(self, io: TaskIO, hp: TransformerEncDecHparams):
        super().__init__(io, hp)
        self.embed = Embed(io, hp)
        self.positions = SinusoidalPositions(hp.d_model)
        self.drop = nn.Dropout(hp.dropout)
        # One learned slot always present in the encoder's output, so that cross-attention has
        # something to attend to when the source is empty (dynamic N-grams score from
        # position 0) and never meets a row of keys that are all masked (softmax of nothing).
        self.memory_slot = nn.Parameter(torch.randn(1, 1, hp.d_model) * 0.02)
        self.encoder = Stack(hp, hp.encoder_layers)
        self.decoder = Stack(hp, hp.decoder_layers, cross=True)
        self.out = self.head(hp.d_model)

    def forward(self, batch):
        x = self.embed(batch["inputs"])  # [B, T, d], positions added per part below
        mask, lengths = batch["mask"], batch["lengths"].to(x.device)
        B, T, D = x.shape
        # Where each episode splits: its first scored position, or its length if none is.
        # (argmax returns the first of equal maxima; it takes no bool, hence the cast)
        mask = mask.to(x.device)
        first = mask.to(torch.uint8).argmax(1)
        src_len = torch.where(mask.any(1), first, lengths)
        dec_len = lengths - src_len
        # Shapes need the longest source and target: one small device-to-host copy per batch.
        max_src, max_dec = torch.stack((src_len.max(), dec_len.max())).tolist()
        max_dec = max(max_dec, 1)  # a batch that scores nothing still runs a decoder of 1

        # Encoder: [memory slot, source positions 0 .. max_src-1]; keys past an episode's own
        # source (later positions of a shorter source) are masked out.
        src = x[:, :max_src] + self.positions(max_src)  # eq. 27
        src = torch.cat((self.memory_slot.expand(B, 1, D).to(src.dtype), src), dim=1)
        j = torch.arange(max_src, device=x.device)
        keep = torch.cat((src_len.new_ones(B, 1, dtype=torch.bool), j < src_len[:, None]), 1)
        keep = keep[:, None, None, :]  # [B, 1, 1, 1 + max_src]: same for every head and query
        memory = self.encoder(self.drop(src), self_mask=keep)

        # Decoder: episode b's positions src_len[b] .. length[b]-1, left-aligned, with their
        # positions counted from the split. Slots past an episode's end read some clamped
        # position: they come after its real ones, so causal attention keeps them out.
        k = torch.arange(max_dec, device=x.device)
        dec_index = (src_len[:, None] + k).clamp(max=T - 1)  # [B, max_dec]
        tgt = x.gather(1, dec_index[:, :, None].expand(B, max_dec, D))
        tgt = tgt + self.positions(max_dec)  # eq. 27
        y = self.decoder(self.drop(tgt), causal=True, memory=memory, memory_mask=keep)
        y = self.out(y)  # [B, max_dec, D_out]

        # Back to the batch's layout: out[b, t] = y[b, t - src_len[b]] for t >= src_len[b];
        # positions before the split get zeros (never scored).
        t = torch.arange(T, device=x.device)
        back = t[None, :] - src_len[:, None]  # [B, T]
        out = y.gather(1, back.clamp(0, max_dec - 1)[:, :, None].expand(B, T, y.shape[-1]))
        return out.masked_fill((back < 0)[:, :, None], 0.0)
