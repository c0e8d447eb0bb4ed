"""Neural Turing Machine (Graves, Wayne & Danihelka 2014; survey section 2.3, eq. 12-19).

A controller (an LSTM or a feed-forward network) reads the input and the previous step's read
vectors, and emits, for every head, the parameters of one addressing step over an N x M memory:

    r = sum_i w(i) M(i)                                         (12) read
    M~(i) = M(i) [1 - w(i) e]                                   (13) erase
    M(i) = M~(i) + w(i) a                                       (14) add
    w^c(i) = softmax_i(beta K(k, M(i)))                         (15) content weighting
    K(u, v) = u.v / (|u| |v|)                                   (16) cosine similarity
    w^g = g w^c + (1 - g) w_{t-1}                               (17) interpolation
    w~(i) = sum_j w^g(j) s(i - j)                               (18) circular shift
    w(i) = w~(i)^gamma / sum_j w~(j)^gamma                      (19) sharpening

The addressing pieces are pure functions at module level (``content_weights``, ``interpolate``,
``shift``, ``sharpen``, ``address``, ``read``, ``write``) over all heads at once: weightings are
``[B, H, N]`` tensors, so one step costs the same number of kernels whatever the head count.

Choices the paper leaves open, and the numerically safe forms (Collier & Beel 2018,
"Implementing Neural Turing Machines", arXiv:1807.08518, and common public reproductions):

- Head parameters: k = tanh (the range that ``a`` writes), beta = softplus (>= 0),
  g = sigmoid, s = softmax over the 2 * shift_range + 1 offsets -S..S, gamma = 1 + softplus;
  write heads also emit e = sigmoid, a = tanh. Every head's parameters come from ONE linear
  layer over the controller output, clipped to [-clip, clip] first (Collier & Beel 2018).
- Cosine similarity (16) puts its epsilon inside the square roots, u.v / sqrt((|u|^2 + eps)
  (|v|^2 + eps)): a zero memory row gives similarity 0 and a finite gradient (the common
  |u||v| + eps form still differentiates |v| at v = 0).
- Sharpening (19) runs in log space, softmax(gamma * log(w~ + eps)): w~^gamma underflows.
- Order within a step: every head addresses the memory left by the previous step; reads see
  that memory, then the writes apply. With several write heads the erases multiply and the adds
  sum, M <- M * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T (both commute across heads, as Graves
  et al. note), so head order never matters.
- Initial state: memory is ``memory_init`` (a constant 1e-6 everywhere by default, the best of
  Collier & Beel's three schemes; "random" is a fixed N(0, 0.5^2) draw; "learned" a parameter
  starting from such a draw), the same for every episode. Initial weightings are learned:
  softmax of a bias that starts with 99% of the mass on location 0, which breaks the symmetry
  a constant memory has (content addressing over identical rows is uniform, and shifting or
  sharpening a uniform weighting leaves it uniform). Initial reads are tanh of a learned bias
  that starts at 0. Controller state starts at zero.
- The output layer reads [controller output, this step's reads].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._base import Hparams, InputReader, OptimizerSettings, SequenceModel, TaskIO, knob
from .registry import Variant, register_model, register_variant

__all__ = [
    "EPS",
    "NTM",
    "NTMHparams",
    "address",
    "content_weights",
    "interpolate",
    "read",
    "sharpen",
    "shift",
    "shift_index",
    "write",
]

EPS = 1e-8  # in the cosine's norms (16) and in sharpening's log (19)


# ---------------------------------------------------------------------------------------------
# Addressing (eq. 15-19), reading (12) and writing (13-14): pure functions over [B, H, ...].
# Shapes: memory [B, N, M]; weightings [B, H, N]; key [B, H, M]; beta, g, gamma [B, H, 1];
# shift distributions s [B, H, 2S+1], s[..., k] the weight of offset k - S.
# ---------------------------------------------------------------------------------------------
def content_weights(
    key: torch.Tensor, beta: torch.Tensor, memory: torch.Tensor, eps: float = EPS
) -> torch.Tensor:
    """w^c = softmax(beta K(k, M(i))) (15) with the cosine K of (16), for all heads at once."""
    # beta / |k| scales the (small) key before the matmul; 1 / |M(i)| scales its result.
    key = key * (beta * (key * key).sum(-1, keepdim=True).add(eps).rsqrt())  # [B, H, M]
    mem_scale = (memory * memory).sum(-1).add(eps).rsqrt().unsqueeze(1)  # [B, 1, N]
    return torch.softmax((key @ memory.transpose(1, 2)) * mem_scale, dim=-1)


def interpolate(w_content: torch.Tensor, w_prev: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """w^g = g w^c + (1 - g) w_{t-1} (17): g = 1 looks up by content, g = 0 keeps the last
    location (for the shift to move it). ``lerp`` is that formula in one kernel."""
    return torch.lerp(w_prev, w_content, g)


def shift_index(n: int, shift_range: int, device: torch.device | None = None) -> torch.Tensor:
    """Gather indices for (18): ``index[k, i] = (i - (k - S)) mod N``, so that
    ``w[..., index][..., k, i]`` is the weight that offset k - S carries onto location i."""
    offsets = torch.arange(-shift_range, shift_range + 1, device=device)
    return (torch.arange(n, device=device)[None, :] - offsets[:, None]) % n


def shift(w: torch.Tensor, s: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
    """w~(i) = sum_j w(j) s(i - j) (18), circular, for every batch element and head at once:
    one gather of the 2S+1 rotated copies of w, weighted by s. Pass ``index`` (from
    ``shift_index``, made once) to avoid rebuilding it every step."""
    *lead, n = w.shape
    k = s.shape[-1]
    if index is None:
        index = shift_index(n, (k - 1) // 2, w.device)
    # gather on expanded views: no copy of w or of the index, one kernel each way
    rotated = w.unsqueeze(-2).expand(*lead, k, n).gather(-1, index.expand(*lead, k, n))
    return (rotated * s.unsqueeze(-1)).sum(-2)  # [B, H, 2S+1, N] -> [B, H, N]


def sharpen(w: torch.Tensor, gamma: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """w(i) = w~(i)^gamma / sum_j w~(j)^gamma (19), as softmax(gamma log(w~ + eps)): the power
    underflows in float32 for gamma near 20, the log-space form does not."""
    return torch.softmax(gamma * torch.log(w + eps), dim=-1)


def address(
    key: torch.Tensor,
    beta: torch.Tensor,
    g: torch.Tensor,
    s: torch.Tensor,
    gamma: torch.Tensor,
    w_prev: torch.Tensor,
    memory: torch.Tensor,
    index: torch.Tensor | None = None,
    eps: float = EPS,
) -> torch.Tensor:
    """The whole addressing pipeline (15-19): content, interpolate, shift, sharpen."""
    w = interpolate(content_weights(key, beta, memory, eps), w_prev, g)
    return sharpen(shift(w, s, index), gamma, eps)


def read(memory: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """r = sum_i w(i) M(i) (12) for every read head: [B, R, N] x [B, N, M] -> [B, R, M]."""
    return w @ memory


def write(
    memory: torch.Tensor, w: torch.Tensor, erase: torch.Tensor, add: torch.Tensor
) -> torch.Tensor:
    """Erase (13) then add (14) for every write head: w [B, W, N], erase/add [B, W, M].

    Several heads erase by the product of their (1 - w_h(i) e_h) and add the sum of their
    w_h(i) a_h, so the result does not depend on the heads' order."""
    wt = w.transpose(1, 2)  # [B, N, W]
    if w.shape[1] == 1:  # the common case: M - M * (w e^T) + w a^T in three kernels
        return torch.baddbmm(torch.addcmul(memory, memory, wt @ erase, value=-1.0), wt, add)
    keep = (1.0 - w.unsqueeze(-1) * erase.unsqueeze(2)).prod(1)  # [B, W, N, M] -> [B, N, M]
    return torch.baddbmm(memory * keep, wt, add)


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NTMHparams(Hparams):
    controller: str = knob("lstm", choices=("lstm", "ff"), doc="LSTM or feed-forward controller")
    controller_size: int = knob(100, lo=1, hi=65536, doc="units per controller layer")
    controller_layers: int = knob(1, lo=1, hi=16, doc="controller layers")
    memory_size: int = knob(128, lo=1, hi=1_000_000, doc="N, memory locations")
    memory_width: int = knob(20, lo=1, hi=65536, doc="M, numbers per location")
    read_heads: int = knob(1, lo=1, hi=64, doc="read heads")
    write_heads: int = knob(1, lo=1, hi=64, doc="write heads")
    shift_range: int = knob(1, lo=0, hi=1000, doc="S: a head shifts by -S..S locations per step")
    clip: float = knob(
        20.0,
        lo=1e-3,
        hi=1e6,
        doc="controller outputs are clipped to [-clip, clip] before they become head "
        "parameters (Collier & Beel 2018)",
    )
    memory_init: str = knob(
        "constant",
        choices=("constant", "random", "learned"),
        doc="initial memory: 1e-6 everywhere (best in Collier & Beel 2018), a fixed random "
        "draw, or a learned parameter",
    )

    def check(self):
        self.require(
            2 * self.shift_range + 1 <= self.memory_size,
            "2 * shift_range + 1 must be <= memory_size (each offset a distinct location)",
        )


@register_model
class NTM(SequenceModel):
    name = "ntm"
    summary = "Neural Turing Machine (eq. 12-19): LSTM/FF controller, content+location heads"
    equations = "12-19"
    Hparams = NTMHparams
    optimizer = OptimizerSettings(
        name="rmsprop", lr=1e-4, momentum=0.9, clip_value=10.0, source="Graves et al. 2014, sec. 4"
    )
    causal = True
    amp_safe = False  # cosine, softmax(beta K) and log-space sharpening want float32

    def __init__(self, io: TaskIO, hp: NTMHparams):
        super().__init__(io, hp)
        self.reader = InputReader(io, hp.embed_size)
        n, m, c = hp.memory_size, hp.memory_width, hp.controller_size
        self.num_read, self.num_write = hp.read_heads, hp.write_heads
        heads = self.num_read + self.num_write

        # Controller: reads [x_t, previous reads]. Each LSTM layer is one linear map of
        # [input, h] to the four gates (one matmul per layer and step); gates are laid out
        # [input, forget, output | candidate] so one sigmoid covers three of them.
        in_size = self.reader.size + self.num_read * m
        sizes = [in_size] + [c] * (hp.controller_layers - 1)
        if hp.controller == "lstm":
            self.layers = nn.ModuleList(nn.Linear(s + c, 4 * c) for s in sizes)
        else:
            self.layers = nn.ModuleList(nn.Linear(s, c) for s in sizes)

        # Every head's parameters from ONE linear layer, split afterwards. Per head:
        # [k (M) | beta, gamma | g | s (2S+1)]; then per write head [e (M) | a (M)].
        self.head_params = m + 3 + 2 * hp.shift_range + 1
        self.params = nn.Linear(c, heads * self.head_params + self.num_write * 2 * m)

        # Initial state (see the module docstring).
        if hp.memory_init == "constant":
            self.register_buffer("memory0", torch.full((n, m), 1e-6))
        elif hp.memory_init == "random":
            self.register_buffer("memory0", torch.randn(n, m) * 0.5)
        else:
            self.memory0 = nn.Parameter(torch.randn(n, m) * 0.5)
        bias = torch.zeros(heads, n)
        if n > 1:  # softmax puts 99% on location 0
            bias[:, 0] = math.log(99.0 * (n - 1))
        self.weights0 = nn.Parameter(bias)
        self.reads0 = nn.Parameter(torch.zeros(self.num_read * m))

        # The circular shift's gather indices (18), made once.
        self.register_buffer("shift_idx", shift_index(n, hp.shift_range), persistent=False)

        self.out = self.head(c + self.num_read * m)
        self._step = self.step
        self._compiled = False

    def compile_step(self, **options) -> bool:
        self._step = torch.compile(self.step, **options)
        self._compiled = True
        return True

    def initial_state(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """(memory [B, N, M], weightings [B, R+W, N] (read heads first), reads [B, R*M],
        then h, c per LSTM layer [B, C]). Made contiguous once per sequence, so a compiled
        ``step`` sees the same strides at every call."""
        b = batch_size
        memory = self.memory0.expand(b, *self.memory0.shape).contiguous()
        weights = torch.softmax(self.weights0, -1).expand(b, *self.weights0.shape).contiguous()
        reads = torch.tanh(self.reads0).expand(b, -1).contiguous()
        state = (memory, weights, reads)
        if self.hp.controller == "lstm":
            zero = memory.new_zeros(b, self.hp.controller_size)
            state += (zero,) * (2 * self.hp.controller_layers)
        if self._compiled and torch.is_grad_enabled():
            # A compiled step guards on requires_grad; later steps' states require it, so give
            # the first step's the same flags and one graph serves every step instead of two
            # (the price: one step's gradient into these throwaway leaves, once per sequence).
            state = tuple(t if t.requires_grad else t.detach().requires_grad_() for t in state)
        return state

    def step(
        self, x_t: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One timestep: x_t [B, D_in] -> (features [B, C + R*M] for the output layer, state)."""
        memory, w_prev, reads, *ctrl = state
        b = x_t.shape[0]
        m, r = self.hp.memory_width, self.num_read

        # Controller. ``split`` (not slicing) so that backward joins the pieces' gradients in
        # one kernel instead of zero-filling a full-size gradient per slice.
        new_ctrl: list[torch.Tensor] = []
        if self.hp.controller == "lstm":
            c_size = self.hp.controller_size
            inputs = [x_t, reads]  # layer 1 reads [x_t, reads]; later layers the one below
            for i, layer in enumerate(self.layers):
                h_prev, c_prev = ctrl[2 * i], ctrl[2 * i + 1]
                ifo, cand = layer(torch.cat([*inputs, h_prev], -1)).split([3 * c_size, c_size], -1)
                in_gate, forget, out_gate = torch.sigmoid(ifo).chunk(3, -1)
                cell = torch.addcmul(forget * c_prev, in_gate, torch.tanh(cand))
                h = out_gate * torch.tanh(cell)
                new_ctrl += [h, cell]
                inputs = [h]
        else:
            h = torch.cat([x_t, reads], -1)
            for layer in self.layers:
                h = torch.tanh(layer(h))  # bounded, like an LSTM's h, before the clip below

        # Head parameters, all heads at once, clipped before their nonlinearities.
        p = self.params(h).clamp(-self.hp.clip, self.hp.clip)
        heads = self.num_read + self.num_write
        addressing, ea = p.split([heads * self.head_params, self.num_write * 2 * m], -1)
        key, beta_gamma, g, s = addressing.reshape(b, heads, self.head_params).split(
            [m, 2, 1, self.head_params - m - 3], -1
        )
        beta, gamma = F.softplus(beta_gamma).split(1, -1)
        erase, add = ea.reshape(b, self.num_write, 2 * m).split(m, -1)

        # Address every head against the previous memory (15-19), read (12), then write (13-14).
        w = address(
            torch.tanh(key),
            beta,
            torch.sigmoid(g),
            torch.softmax(s, -1),
            gamma + 1.0,
            w_prev,
            memory,
            self.shift_idx,
        )
        reads = read(memory, w[:, :r]).reshape(b, r * m)
        memory = write(memory, w[:, r:], torch.sigmoid(erase), torch.tanh(add))
        return torch.cat([h, reads], -1), (memory, w, reads, *new_ctrl)

    def forward(self, batch):
        x = self.reader(batch["inputs"])
        state = self.initial_state(x.shape[0])
        features = []
        for x_t in x.unbind(1):  # a loop over time only
            f, state = self._step(x_t, state)
            features.append(f)
        # The output layer runs once over all timesteps rather than once per step.
        return self.out(torch.stack(features, 1))


# -- paper configurations ------------------------------------------------------------------------
register_variant(
    Variant(
        "ntm.copy",
        summary="the NTM of the copy experiment: LSTM controller of 100 units, N=128, M=20, "
        "one read and one write head, RMSProp 1e-4 with momentum 0.9, clip 10",
        source="Graves et al. 2014, arXiv:1410.5401, sec. 4.1 and Tables 1-3",
        task="ntm/copy-v1",
        hparams={
            "controller": "lstm",
            "controller_size": 100,
            "controller_layers": 1,
            "memory_size": 128,
            "memory_width": 20,
            "read_heads": 1,
            "write_heads": 1,
            "shift_range": 1,
        },
        reported="near-zero bit errors on lengths 1-20, generalising to 30 and 50 (Fig. 4-5)",
    )
)
