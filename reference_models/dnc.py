"""Differentiable Neural Computer (Graves et al. 2016, "Hybrid computing using a neural network
with dynamic external memory", Nature 538; the equations of its Methods section).

The DNC is the NTM's successor and is not in the survey. It keeps the NTM's memory matrix
M [N, W], its reads (eq. 12), its erase-then-add write (eq. 13-14) and its content addressing
(eq. 15-16), and replaces the NTM's location addressing (eq. 17-19: interpolation, circular
shift, sharpening) with two mechanisms that do not depend on where a slot sits in the matrix:

* dynamic allocation: a usage u in [0, 1] per slot, raised by writes and lowered by free gates,
  and an allocation weighting that points at the least used slots;
* temporal links: a matrix L [N, N] recording that slot i was written right after slot j, so a
  read head can step forwards or backwards through memory in the order it was written.

One step t (Methods, in order; w^r and w^w are the read and write weightings):

    psi_t = prod_i (1 - f^i_t w^{r,i}_{t-1})                          retention vector
    u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} * w^w_{t-1}) * psi_t         usage
    phi_t = slots sorted by u_t, ascending                            free list
    a_t[phi_t[j]] = (1 - u_t[phi_t[j]]) prod_{i<j} u_t[phi_t[i]]     allocation weighting
    c^w_t = C(M_{t-1}, k^w_t, beta^w_t)                               content weighting (15-16)
    w^w_t = g^w_t [g^a_t a_t + (1 - g^a_t) c^w_t]                     write weighting
    M_t = M_{t-1} * (E - w^w_t e_t^T) + w^w_t v_t^T                   erase, add (13-14)
    L_t[i,j] = (1 - w^w_t[i] - w^w_t[j]) L_{t-1}[i,j]
               + w^w_t[i] p_{t-1}[j],  L_t[i,i] = 0                   temporal link matrix
    p_t = (1 - sum_i w^w_t[i]) p_{t-1} + w^w_t                        precedence weighting
    f^i_t = L_t w^{r,i}_{t-1},  b^i_t = L_t^T w^{r,i}_{t-1}           forward/backward weightings
    c^{r,i}_t = C(M_t, k^{r,i}_t, beta^{r,i}_t)                       content weighting (15-16)
    w^{r,i}_t = pi^i_t[1] b^i_t + pi^i_t[2] c^{r,i}_t + pi^i_t[3] f^i_t  read modes
    r^i_t = M_t^T w^{r,i}_t                                           read (12)

All of it is batched over [B, R, N]: no loop over the batch, the slots or the read heads; the
sort of the allocation is one ``torch.sort`` per step. The link matrix is O(N^2) per step, in
time and in what backward keeps (one N x N matrix per step and episode: B T N^2 floats, 11 GB
at B = 64, T = 41, N = 1024): that is the DNC's nature (its sparse variant, Rae et al. 2016,
is a different model). Its update and the reads through it run as one autograd function with
a hand-written backward (``TemporalLinks``); the plain functions are the reference the tests
hold it to. The model's state is a tuple of tensors and ``step`` is one timestep, so
``compile_step`` can hand it to ``torch.compile``. The paper's settings are
RMSProp, learning rate 1e-4, momentum 0.9; the memory and controller sizes here default to the
NTM's (N = 128, W = 20, a 100-unit LSTM) so that the two compare like for like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._base import Hparams, InputReader, OptimizerSettings, SequenceModel, TaskIO, knob
from .ntm import content_weights, write  # eq. 13-16 are the NTM's, unchanged in the DNC
from .registry import Variant, register_model, register_variant

# The slack that keeps the allocation's products finite (usage exactly 0 or 1); the cosine
# similarity's epsilon is the NTM's (ntm.EPS).
EPS = 1e-6

__all__ = [
    "DNC",
    "STATE",
    "DNCHparams",
    "TemporalLinks",
    "allocation",
    "directional_weights",
    "link_update",
    "precedence_update",
    "read_weighting",
    "retention",
    "usage_update",
]


# ---------------------------------------------------------------------------------------------
# The addressing, as pure functions of tensors (the tests check them on hand-made cases).
# Shapes: B batch, N slots, W slot width, H heads (R read heads, or the one write head).
# ---------------------------------------------------------------------------------------------
def retention(free_gates: torch.Tensor, read_weights: torch.Tensor) -> torch.Tensor:
    """psi_t = prod_i (1 - f^i_t w^{r,i}_{t-1}): how much of each slot survives the free gates.

    free_gates [B, R], read_weights (last step's) [B, R, N] -> [B, N]. A head frees the slots it
    has just read, in proportion to its free gate.
    """
    return torch.prod(1 - free_gates.unsqueeze(-1) * read_weights, dim=1)


def usage_update(
    usage: torch.Tensor, write_weights: torch.Tensor, retention: torch.Tensor
) -> torch.Tensor:
    """u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} * w^w_{t-1}) * psi_t, all [B, N].

    The bracket is a probabilistic OR: a slot is used if it was used or has just been written;
    then the free gates release what the heads chose to free.
    """
    return torch.addcmul(usage + write_weights, usage, write_weights, value=-1) * retention


def allocation(usage: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """a_t[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i], phi the slots sorted by usage ascending.

    usage [B, N] -> [B, N]. The least used slot gets most of the weight, each next one only
    what the slots before it leave (the product of their usages), so sum_i a[i] = 1 - prod_i u[i]:
    a full memory allocates nothing. Usage is first moved into [eps, 1] (as in DeepMind's
    implementation) so that no usage is exactly 0: the cumulative product's gradient then takes
    its fast path, which divides by the factors. The gradient reaches u through the sorted
    values only, not through the permutation (the paper does the same). Ties keep slot order
    (a stable sort), so equal usages allocate to the lowest index first, on every device.
    """
    usage = eps + (1 - eps) * usage
    sorted_usage, order = torch.sort(usage, dim=-1, stable=True)
    # exclusive cumulative product: prod_{i<j}, with an empty product (1) in front
    before = torch.cumprod(F.pad(sorted_usage[..., :-1], (1, 0), value=1.0), dim=-1)
    sorted_allocation = (1 - sorted_usage) * before
    # back to slot order: order is a permutation, so the scatter writes every slot once
    return torch.zeros_like(usage).scatter(-1, order, sorted_allocation)


def link_update(
    link: torch.Tensor,
    write_weights: torch.Tensor,
    precedence: torch.Tensor,
    off_diagonal: torch.Tensor,
) -> torch.Tensor:
    """L_t[i,j] = (1 - w[i] - w[j]) L_{t-1}[i,j] + w[i] p_{t-1}[j], and L_t[i,i] = 0.

    link [B, N, N], write_weights [B, N], last step's precedence [B, N], off_diagonal [N, N]
    (1 - I, a buffer). Writing slot i weakens the old links out of i and into i and links i to
    the slots written just before (the precedence p). Computed as
    L - w[i] L - L w[j] + w[i] p[j]: every product then saves for backward only L_{t-1}, which
    backward keeps anyway, and vectors, so a step adds one N x N matrix (L_t) to the autograd
    graph instead of two ((1 - w[i] - w[j]) would be a second).
    """
    w_i = write_weights.unsqueeze(-1)  # [B, N, 1]
    new = link * (1 - w_i)
    new = torch.addcmul(new, link, write_weights.unsqueeze(-2), value=-1)
    new = torch.addcmul(new, w_i, precedence.unsqueeze(-2))
    return new * off_diagonal  # no slot links to itself


def precedence_update(precedence: torch.Tensor, write_weights: torch.Tensor) -> torch.Tensor:
    """p_t = (1 - sum_i w^w_t[i]) p_{t-1} + w^w_t, [B, N]: where the last write went.

    A full-strength write replaces p with its own weighting; a write gated off leaves p alone.
    """
    return torch.addcmul(write_weights, 1 - write_weights.sum(-1, keepdim=True), precedence)


def directional_weights(
    link: torch.Tensor, read_weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward f = L_t w^r_{t-1} and backward b = L_t^T w^r_{t-1} weightings, each [B, R, N].

    link [B, N, N], read_weights (last step's) [B, R, N]. The weightings are rows, so
    f = w^r L^T and b = w^r L: f moves a head to the slot written after the one it read,
    b to the slot written before it.
    """
    return torch.bmm(read_weights, link.transpose(1, 2)), torch.bmm(read_weights, link)


def read_weighting(
    modes: torch.Tensor, backward: torch.Tensor, content: torch.Tensor, forward: torch.Tensor
) -> torch.Tensor:
    """w^r_t = pi[1] b_t + pi[2] c_t + pi[3] f_t: modes [B, R, 3] (softmax), the rest [B, R, N].

    A convex mix of three weightings whose sums are at most 1 (the rows and columns of L sum
    to at most 1), so a read weighting sums to at most 1 too.
    """
    mixed = modes[..., 1:2] * content
    mixed = torch.addcmul(mixed, modes[..., 0:1], backward)
    return torch.addcmul(mixed, modes[..., 2:3], forward)


class TemporalLinks(torch.autograd.Function):
    """``link_update`` then ``directional_weights``, fused, with a hand-written backward.

    ``TemporalLinks.apply(link, write_weights, precedence, read_weights, off_diagonal)``
    returns (L_t, f_t, b_t), the same numbers as the two functions above. The model uses this
    because the link matrix is the DNC's cost (O(N^2) per step, all else is O(N W)), and
    autograd spends it badly: every N x N product of the update gets its own backward kernel
    and fresh buffer, and L_t's three uses (next step's update, f and b) each allocate a
    gradient that is then summed. Measured on one CPU thread, copy task T = 41, a training
    step (forward and backward) is about 30% faster at N = 128 (batch 64) and 3 times faster
    at N = 1024 (batch 16), where a fresh N x N buffer costs more than the arithmetic on it,
    and gradients agree with autograd's (the tests check both, and gradcheck). Here forward
    makes one new N x N tensor per step (L_t, also the one thing backward keeps) and backward
    two (the summed gradient reaching L_t and the one passed to L_{t-1}); all other work is
    in place or in matrix-vector products.

    Backward, with X = L - w[i] L - L w[j] + w[i] p[j] and L_t = X * m (m = off_diagonal):

        G = (dL_t + df^T r + r^T db) * m       all gradient reaching X
        dr = df L_t + db L_t^T                 from f = r L_t^T and b = r L_t
        dL_{t-1} = G * (1 - w[i] - w[j])
        dw = G p - rowsum(G * L) - colsum(G * L)
        dp = w G                               (w and p as row vectors)
    """

    @staticmethod
    def forward(ctx, link, write_weights, precedence, read_weights, off_diagonal):
        w_i = write_weights.unsqueeze(-1)
        new = link * (1 - w_i)  # the one fresh N x N buffer; the rest is in place
        new.addcmul_(link, write_weights.unsqueeze(-2), value=-1)
        new.addcmul_(w_i, precedence.unsqueeze(-2))
        new.mul_(off_diagonal)
        forward = torch.bmm(read_weights, new.transpose(1, 2))
        backward = torch.bmm(read_weights, new)
        ctx.save_for_backward(link, write_weights, precedence, read_weights, off_diagonal, new)
        return new, forward, backward

    @staticmethod
    def backward(ctx, grad_new, grad_forward, grad_backward):
        link, w, p, r, off_diagonal, new = ctx.saved_tensors
        needs_link, needs_w, needs_p, needs_r, _ = ctx.needs_input_grad
        grad_r = None
        if needs_r:
            grad_r = torch.baddbmm(torch.bmm(grad_backward, new.transpose(1, 2)), grad_forward, new)
        g = torch.baddbmm(grad_new, grad_forward.transpose(1, 2), r)
        g.baddbmm_(r.transpose(1, 2), grad_backward)
        g.mul_(off_diagonal)
        # Products with a vector are taken as row vector times matrix: on CPU, bmm is several
        # times faster that way round than as matrix times column.
        w_row = w.unsqueeze(1)
        grad_p = torch.bmm(w_row, g).squeeze(1) if needs_p else None
        grad_link = None
        if needs_link:
            grad_link = g * (1 - w.unsqueeze(-1))
            grad_link.addcmul_(g, w_row, value=-1)
        grad_w = None
        if needs_w:
            grad_w = torch.bmm(p.unsqueeze(1), g.transpose(1, 2)).squeeze(1)  # G p
            g.mul_(link)  # G * L, in place: g is not needed any more
            grad_w = grad_w - g.sum(-1) - g.sum(-2)
        return grad_link, grad_w, grad_p, grad_r, None


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DNCHparams(Hparams):
    controller_size: int = knob(100, lo=1, hi=65536, doc="LSTM units per controller layer")
    controller_layers: int = knob(1, lo=1, hi=16, doc="stacked controller LSTM layers")
    memory_size: int = knob(128, lo=1, hi=1 << 16, doc="N, memory slots")
    memory_width: int = knob(20, lo=1, hi=65536, doc="W, numbers per slot")
    read_heads: int = knob(1, lo=1, hi=64, doc="R, read heads (the paper uses 4 on bAbI)")
    clip: float = knob(
        20.0,
        lo=0.0,
        hi=1e6,
        doc="clip the controller's cell state and the output to +-clip (0: off)",
    )


# Where each piece of a step's state sits in the state tuple (the controller's h and c follow).
STATE = ("memory", "usage", "link", "precedence", "write_weights", "read_weights", "reads")


@register_model
class DNC(SequenceModel):
    name = "dnc"
    summary = "Differentiable Neural Computer (Graves et al. 2016): eq. 12-16 + allocation, links"
    equations = "12-16"
    Hparams = DNCHparams
    # Methods (training details): RMSProp, learning rate 1e-4, momentum 0.9.
    optimizer = OptimizerSettings(
        name="rmsprop", lr=1e-4, momentum=0.9, clip_value=10.0, source="Graves et al. 2016, Methods"
    )
    causal = True
    amp_safe = False  # sorts, cumulative products and normalised weightings want float32

    def __init__(self, io: TaskIO, hp: DNCHparams):
        super().__init__(io, hp)
        self.reader = InputReader(io, hp.embed_size)
        N, W, R, H = hp.memory_size, hp.memory_width, hp.read_heads, hp.controller_size
        # The paper's deep controller: every layer reads the input, last step's reads and the
        # layer below; the controller's output is all layers' h together. With one layer (the
        # default) this is a plain LSTM on [x_t, r_{t-1}].
        chi = self.reader.size + R * W
        self.cells = nn.ModuleList(
            nn.LSTMCell(chi + (H if layer else 0), H) for layer in range(hp.controller_layers)
        )
        out = hp.controller_layers * H
        # The interface vector xi_t, from one fused layer, laid out so that each activation is
        # one operation on one contiguous slice:
        #   keys [(R+1) W]: R read keys, then the write key          (used as they are)
        #   write vector v [W]                                        (used as it is)
        #   strengths [R+1]: R read strengths, then the write one     oneplus
        #   gates [W + R + 2]: erase e, R free gates f, g^a, g^w      sigmoid
        #   read modes [3R]                                           softmax over each 3
        # R W + 3 W + 5 R + 3 numbers in all, the paper's count.
        self.interface_sizes = ((R + 1) * W, W, R + 1, W + R + 2, 3 * R)
        self.interface = nn.Linear(out, sum(self.interface_sizes))
        self.out = self.head(out + R * W)  # y_t from [controller output, r_t^1..r_t^R]
        self.register_buffer("off_diagonal", 1 - torch.eye(N), persistent=False)
        self._step = self.step

    def initial_state(self, batch_size: int, device=None, dtype=None) -> tuple[torch.Tensor, ...]:
        """Everything starts at zero: empty memory, nothing used, no links, no reads."""
        hp = self.hp
        B, N, W, R, H = (
            batch_size,
            hp.memory_size,
            hp.memory_width,
            hp.read_heads,
            hp.controller_size,
        )
        z = dict(device=device, dtype=dtype)
        memory_state = (
            torch.zeros(B, N, W, **z),  # memory M
            torch.zeros(B, N, **z),  # usage u
            torch.zeros(B, N, N, **z),  # link matrix L
            torch.zeros(B, N, **z),  # precedence p
            torch.zeros(B, N, **z),  # write weighting w^w
            torch.zeros(B, R, N, **z),  # read weightings w^r
            torch.zeros(B, R * W, **z),  # reads r, flattened
        )
        controller = tuple(torch.zeros(B, H, **z) for _ in range(2 * hp.controller_layers))
        return memory_state + controller  # then h of each layer, then c of each layer

    def step(
        self, x_t: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One timestep: x_t [B, D] -> ([controller output, reads] [B, L H + R W], new state)."""
        hp = self.hp
        R, W, layers = hp.read_heads, hp.memory_width, hp.controller_layers
        memory, usage, link, precedence, write_w, read_w, reads = state[:7]
        hs, cs = state[7 : 7 + layers], state[7 + layers :]

        # Controller: chi_t = [x_t, r_{t-1}] into every layer.
        chi = torch.cat((x_t, reads), dim=-1)
        new_h, new_c = [], []
        below = None
        for cell, h, c in zip(self.cells, hs, cs, strict=True):
            h, c = cell(chi if below is None else torch.cat((chi, below), dim=-1), (h, c))
            if hp.clip:  # the cell state can grow without bound; h = o tanh(c) cannot
                c = c.clamp(-hp.clip, hp.clip)
            new_h.append(h)
            new_c.append(c)
            below = h
        out = new_h[0] if layers == 1 else torch.cat(new_h, dim=-1)

        # Interface vector xi_t.
        keys, add, strengths, gates, modes = self.interface(out).split(self.interface_sizes, dim=-1)
        keys = keys.unflatten(-1, (R + 1, W))
        strengths = 1 + F.softplus(strengths)  # oneplus: strengths >= 1
        erase, free, alloc_gate, write_gate = torch.sigmoid(gates).split((W, R, 1, 1), dim=-1)
        modes = torch.softmax(modes.unflatten(-1, (R, 3)), dim=-1)  # (backward, content, forward)

        # Dynamic allocation: free what was read, then point at the least used slots.
        usage = usage_update(usage, write_w, retention(free, read_w))
        alloc = allocation(usage)

        # Write weighting: g^w [g^a a + (1 - g^a) c^w], the mix written as a lerp.
        write_content = content_weights(keys[:, R:], strengths[:, R:, None], memory).squeeze(1)
        write_w = torch.lerp(write_content, alloc, alloc_gate) * write_gate
        memory = write(memory, write_w[:, None], erase[:, None], add[:, None])  # eq. 13-14

        # Temporal links and the forward/backward weightings read from them (link_update and
        # directional_weights, fused); the precedence used is last step's, so update it after.
        link, forward, backward = TemporalLinks.apply(
            link, write_w, precedence, read_w, self.off_diagonal
        )
        precedence = precedence_update(precedence, write_w)

        # Read weightings and reads (eq. 12), on the memory just written.
        read_content = content_weights(keys[:, :R], strengths[:, :R, None], memory)  # eq. 15-16
        read_w = read_weighting(modes, backward, read_content, forward)
        reads = torch.bmm(read_w, memory).flatten(1)  # r^i = M^T w^{r,i}, eq. 12

        features = torch.cat((out, reads), dim=-1)
        state = (memory, usage, link, precedence, write_w, read_w, reads, *new_h, *new_c)
        return features, state

    def compile_step(self, **options: Any) -> bool:
        self._step = torch.compile(self.step, **options)
        return True

    def forward(self, batch):
        x = self.reader(batch["inputs"])  # [B, T, D]
        state = self.initial_state(x.shape[0], x.device, x.dtype)
        features = []
        for x_t in x.unbind(1):  # time only; padding steps feed positions nobody scores
            y_t, state = self._step(x_t, state)
            features.append(y_t)
        # The output layer is applied once to all steps: one matrix product instead of T.
        logits = self.out(torch.stack(features, dim=1))
        return logits.clamp(-self.hp.clip, self.hp.clip) if self.hp.clip else logits


# Graves et al. 2016 (Nature 538), Methods, "bAbI": one model trained on all 20 tasks of the
# 10k set, an LSTM controller of 256 units, a memory of 256 slots of width 64, 4 read heads,
# RMSProp (this model's default, 1e-4). Batch 32 is our choice (a GPU's), not the paper's.
register_variant(
    Variant(
        "dnc.babi-10k",
        summary="DNC on bAbI-10k, jointly: LSTM 256, N=256, W=64, R=4",
        source="Graves et al. 2016, Nature 538, Methods (bAbI); best 3.8 %, mean 16.7 +- 7.6 "
        "over 20 runs (their Table 1)",
        task="babi/joint-v1",
        hparams={"controller_size": 256, "memory_size": 256, "memory_width": 64, "read_heads": 4},
        training={"batch_size": 32, "train_questions": 10_000, "epochs": 100},
    )
)
