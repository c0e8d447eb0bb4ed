"""Dynamic Memory Network DMN+ (Xiong, Merity & Socher 2016, arXiv:1603.01417; survey sections
3.3.3 and 3.3.8, eq. 88-90 and 101-107).

Four modules. Every GRU is the survey's (88), in the paper's orientation:

    u_i = sigma(W^(u) x_i + U^(u) h_{i-1} + b^(u))              (88) update gate
    r_i = sigma(W^(r) x_i + U^(r) h_{i-1} + b^(r))                   reset gate
    h~_i = tanh(W x_i + r_i * U h_{i-1} + b^(h))                     candidate state
    h_i = u_i * h~_i + (1 - u_i) * h_{i-1}                           hidden state

Input module (3.3.8 (1)): a sentence reader, then an input fusion layer.

    f_i = sum_j l_j * A w^i_j                                   (101) position-encoded sentence
    l_jd = (1 - j/M) - (d/D)(1 - 2j/M)                          (102) M words, D = embedding width
    f->_i = GRU_fwd(f_i, f->_{i-1});  f<-_i = GRU_bwd(f_i, f<-_{i+1})
    F_i = f->_i + f<-_i                                         (103) bidirectional fusion, summed

Question module (3.3.3 (2)): q = the final state of a GRU over the question's embedded words
(the same embedding A).

Episodic memory (3.3.8 (3)), passes t = 1..T from m^0 = q:

    z^t_i = [F_i * q; F_i * m^{t-1}; |F_i - q|; |F_i - m^{t-1}|]
    Z^t_i = W^(2) tanh(W^(1) z^t_i + b^(1)) + b^(2)
    g^t_i = exp(Z^t_i) / sum_k exp(Z^t_k)                       (104) attention gates
    h_i = g^t_i * h~_i + (1 - g^t_i) * h_{i-1}                  (105) attention-based GRU
    c^t = h_N                                                         context of pass t
    m^t = ReLU(W^t [m^{t-1}; c^t; q] + b)                       (107) untied memory update

Answer module: softmax(W [q; m^T]) (the paper's sec. 2: "for simple answers, such as a single
word, a linear layer with softmax"; it reads q and m^T), one such layer per answer word
(``AnswerHead``).

DMN+ is the paper's final model: input fusion, the attention GRU (105) and the untied ReLU
update (107). The survey also gives the ablations' forms, kept as options because they are a
few lines each: ``episode="soft"`` takes c^t = sum_i g^t_i F_i (soft attention), and
``memory_update="gru"`` takes m^t = GRU(c^t, m^{t-1}) (106) with one set of weights for every
pass (the original DMN's update). Both together are the paper's ablation "DMN2" (sec. 6.1);
``memory_update="gru"`` alone is "DMN3". (89)-(90) are the original DMN's gate, whose feature
vector (89) DMN+ shortens to the four terms of (104); its two-layer scorer (90) is the Z^t_i
above.

Choices the paper leaves open, and why:

- The attention GRU (105) keeps the GRU's reset gate and candidate and replaces only the update
  gate u_i by the scalar g^t_i. Its input projections (W^(r) F_i, W F_i) do not change from
  pass to pass, so they are computed once for all sentences and passes; the loop over
  sentences is then one [S, d] x [d, 2d] product and a few element-wise kernels per step,
  vectorised over the batch. h_0 = 0.
- Untying: the paper calls DMN+ "an untied model, using a unique set of weights for each
  pass", and (107) is the only equation that carries a pass index (W^t). Here each pass has
  its own W^t and b^t (107 writes a plain b; a bias per pass costs nothing), while one gate
  scorer (104) and one attention GRU (105) serve every pass.
- Padding: g^t_i is a softmax over each sample's real sentences (the sum in (104) runs to the
  sample's M_i), so a padding sentence gets g = 0 exactly and (105) leaves the state as it
  is; c^t is therefore the state after the last real sentence. The fusion layer runs on
  packed sequences, so the backward GRU starts at each sample's last real sentence rather
  than at the batch's padding. Sentences and question words beyond the batch's longest are
  cut off first: padding never changes an output.
- The question's GRU reads the padded question; q is its state at the last real word.
- Dropout (keep 0.9, the paper's p): on the sentence reader's output (the paper's "initial
  sentence encodings", before the fusion layer) and on the answer module's input [q; m^T].
- Initialisation (paper, sec. 6.2): Xavier uniform for every weight matrix (each GRU gate's
  block on its own, so the fan-out is d and not 3d), zero biases, word embeddings uniform in
  [-sqrt(3), sqrt(3)] (variance 1), padding row 0.
- L2 (paper, sec. 6.2: "on all weights except bias"): the published text gives no strength;
  the paper's LaTeX source keeps a commented-out "alpha = 0.001 for all tasks except QA6 and
  QA19", which is the default here. It is added to the training loss as (alpha / 2) sum W^2
  over every weight matrix and the embedding (so its gradient is alpha W, what Adam's coupled
  ``weight_decay`` would add) and not over biases, which ``weight_decay`` could not exclude.
  The held-out loss (``model.eval()``) is the cross-entropy alone.
- Memory: the paper keeps the last 70 sentences on every task but QA3, which keeps 130
  (sec. 6.2, following MemN2N); ``memory_size`` defaults to 70. On qa3 that still keeps
  every supporting fact (the earliest lies at most 47 sentences back in 5,000 generated
  questions, 40 lines in the released files) and bounds stories of up to ~300 sentences;
  pass 130 to match the paper there, 0 to keep everything.

Training in the paper (bAbI-10k, sec. 6.2): Adam, lr 0.001, batch size 128, up to 256 epochs
with early stopping after 20 epochs without a better validation loss, the last 10% of the
training set held out; the best of 10 runs (by validation loss) on QA3, QA17 and QA18.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ._base import OptimizerSettings, TaskIO, knob
from ._qa import AnswerHead, QAHparams, QAModel, bag_of_words, memory_rows, position_encoding
from .registry import Variant, register_model, register_variant

__all__ = [
    "AttentionGRU",
    "DMNPlus",
    "DMNPlusHparams",
    "attention_features",
    "masked_softmax",
]


# ---------------------------------------------------------------------------------------------
# Pieces, as functions and small modules that the tests check on hand-made cases
# ---------------------------------------------------------------------------------------------
def attention_features(facts: torch.Tensor, q: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """z_i = [F_i * q; F_i * m; |F_i - q|; |F_i - m|] (104): facts [S, N, d], q and m [S, d]
    -> [S, N, 4d]."""
    q, m = q.unsqueeze(1), m.unsqueeze(1)
    return torch.cat([facts * q, facts * m, (facts - q).abs(), (facts - m).abs()], dim=-1)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The softmax of (104) over each sample's real sentences: [S, N] scores, bool[S, N] mask;
    padding gets exactly 0. A sample with no sentence gets all zeros (its context stays h_0),
    with finite gradients: the fill is the dtype's lowest finite value, not -inf, so no row is
    ever all -inf."""
    low = torch.finfo(scores.dtype).min
    return torch.softmax(scores.masked_fill(~mask, low), dim=-1) * mask


def _xavier_gate_blocks(weight: torch.Tensor, blocks: int) -> None:
    """Xavier-uniform each of a stacked gate matrix's ``blocks`` row blocks on its own: each
    block is one gate's [out, in] matrix."""
    with torch.no_grad():
        for block in weight.chunk(blocks, dim=0):
            nn.init.xavier_uniform_(block)


class _AttentionGRUScan(torch.autograd.Function):
    """The recurrence of (105) over all sentences with a hand-written backward.

    Autograd would record ~7 operations per sentence and replay ~15 in the backward pass, with
    a gradient accumulation into U at every step; here the forward runs 6 kernels per
    sentence and the backward 3 (an element-wise product, a scaled copy and one ``addmm``),
    and every gradient that does not feed the recurrence (dP, dg, dU) is one batched
    operation after the loop. ``test_model_dmn_plus.py`` checks it against the plain
    per-step loop (``AttentionGRU.step``) and with ``gradcheck``.

    Shapes: P [N, S, 2d] projected inputs [W^(r) x + b^(r) | W x + b^(h)] (sentence-major),
    G [N, S, 1] gates, U [2d, d] = [U^(r); U]. Returns all states H [N, S, d]."""

    @staticmethod
    def forward(ctx, P, G, U):
        n, s, d2 = P.shape
        d = d2 // 2
        Ut = U.t()
        states = P.new_empty(n + 1, s, d)  # h_0 .. h_N
        states[0].zero_()
        r_all, uh_all, cand_all = P.new_empty(n, s, d), P.new_empty(n, s, d), P.new_empty(n, s, d)
        for i in range(n):
            h = states[i]
            u = h @ Ut  # [S, 2d]: [U^(r) h | U h]
            r = torch.sigmoid(P[i, :, :d] + u[:, :d], out=r_all[i])
            uh_all[i] = u[:, d:]
            cand = torch.tanh(torch.addcmul(P[i, :, d:], r, u[:, d:]), out=cand_all[i])
            torch.lerp(h, cand, G[i], out=states[i + 1])
        ctx.save_for_backward(G, U, states, r_all, uh_all, cand_all)
        return states[1:]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dH):
        G, U, states, r, uh, cand = ctx.saved_tensors
        n, s, d = r.shape
        prev = states[:-1]
        # With dh_i, the total gradient reaching h_i, and pre_h = W x + b + r * U h:
        #   d pre_h = dh * g (1 - h~^2);  d(U h) = d pre_h * r;
        #   d pre_r = d pre_h * U h * r (1 - r);  dh_{i-1} = dh (1 - g) + [d pre_r | d(U h)] U
        a = G * (1 - cand * cand)  # d pre_h / dh
        k = torch.cat([a * uh * r * (1 - r), a * r], dim=-1)  # [d pre_r | d(U h)] / dh
        keep = 1 - G
        dh_all = torch.empty_like(r)
        du_all = dH.new_empty(n, s, 2 * d)
        dh = dH.new_zeros(s, d)
        for i in range(n - 1, -1, -1):
            dh = dh + dH[i]
            dh_all[i] = dh
            du = torch.mul(dh.repeat(1, 2), k[i], out=du_all[i])
            dh = torch.addmm(dh * keep[i], du, U)
        dP = torch.cat([du_all[..., :d], dh_all * a], dim=-1)
        dG = (dh_all * (cand - prev)).sum(-1, keepdim=True)
        dU = du_all.reshape(n * s, 2 * d).t() @ prev.reshape(n * s, d)
        return dP, dG, dU


class AttentionGRU(nn.Module):
    """The attention-based GRU (105): a GRU (88) whose update gate is the attention gate g_i,
    a scalar per sample and sentence. Reset gate and candidate are the GRU's:

        r_i = sigma(W^(r) x_i + U^(r) h_{i-1} + b^(r))
        h~_i = tanh(W x_i + r_i * U h_{i-1} + b^(h))
        h_i = g_i * h~_i + (1 - g_i) * h_{i-1}

    ``inputs`` (x -> [W^(r) x + b^(r) | W x + b^(h)]) is applied to all sentences at once by
    ``project``; ``step`` is one sentence, [S, 2d] projections and [S, d] state, written with
    autograd ops (the reference); ``forward`` runs the same recurrence with a hand-written
    backward (``_AttentionGRUScan``)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.inputs = nn.Linear(input_size, 2 * hidden_size)  # [W^(r); W], [b^(r); b^(h)]
        self.hidden = nn.Linear(hidden_size, 2 * hidden_size, bias=False)  # [U^(r); U]

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.inputs(x)

    def candidate(self, projected: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """h~_i from the projected input [S, 2d] and the state h_{i-1} [S, d]."""
        x_r, x_h = projected.chunk(2, dim=-1)
        u_r, u_h = self.hidden(h).chunk(2, dim=-1)
        return torch.tanh(x_h + torch.sigmoid(x_r + u_r) * u_h)

    def step(self, projected: torch.Tensor, h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """h_i = g_i h~_i + (1 - g_i) h_{i-1} (105); g [S, 1]. ``lerp`` computes
        h + g (h~ - h), which is h itself, bit for bit, where g = 0 (padding)."""
        return torch.lerp(h, self.candidate(projected, h), g)

    def forward(self, projected: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """The final state h_N (the context c^t) over projected sentences [S, N, 2d] with
        gates [S, N], from h_0 = 0."""
        if projected.shape[1] == 0:
            return projected.new_zeros(projected.shape[0], self.hidden_size)
        states = _AttentionGRUScan.apply(
            projected.transpose(0, 1).contiguous(),
            gates.transpose(0, 1).unsqueeze(-1).contiguous(),
            self.hidden.weight,
        )
        return states[-1]

    def reference(self, projected: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """``forward`` as a plain loop of ``step`` (autograd all the way): slower, for tests."""
        h = projected.new_zeros(projected.shape[0], self.hidden_size)
        for i in range(projected.shape[1]):
            h = self.step(projected[:, i], h, gates[:, i : i + 1])
        return h


def _used(present: torch.Tensor, dims: tuple[int, ...]) -> int:
    """How many leading positions of the last axis hold a real token somewhere (at least 1)."""
    columns = present.any(dim=dims).nonzero()
    return int(columns.max()) + 1 if columns.numel() else 1


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DMNPlusHparams(QAHparams):
    embed_size: int = knob(80, lo=1, hi=65536, doc="word embedding width D (paper: d = 80)")
    hidden_size: int = knob(80, lo=1, hi=65536, doc="GRU and memory width n_H (paper: d = 80)")
    memory_size: int = knob(
        70,
        lo=0,
        hi=1_000_000,
        doc="most recent sentences read (0: all); the paper keeps 70, and 130 on QA3",
    )
    passes: int = knob(3, lo=1, hi=64, doc="episodic memory passes T (paper: 3)")
    dropout: float = knob(
        0.1,
        lo=0.0,
        hi=0.9,
        doc="dropout on the sentence encodings and the answer module's input (paper keeps 0.9)",
    )
    l2: float = knob(
        1e-3,
        lo=0.0,
        hi=1.0,
        doc="L2 strength alpha on all weights except biases: training loss + alpha/2 sum W^2",
    )
    episode: str = knob(
        "attention-gru",
        choices=("attention-gru", "soft"),
        doc="context c^t: the attention GRU's final state (105), or soft attention sum_i g_i F_i",
    )
    memory_update: str = knob(
        "relu",
        choices=("relu", "gru"),
        doc="m^t = ReLU(W^t [m; c; q] + b^t), untied (107), or GRU(c^t, m^{t-1}), tied (106)",
    )


@register_model
class DMNPlus(QAModel):
    name = "dmn-plus"
    summary = (
        "DMN+ (eq. 101-107): position-encoded sentences, bi-GRU input fusion, attention GRU, "
        "3 untied ReLU memory passes"
    )
    equations = "88-90, 101-107"
    Hparams = DMNPlusHparams
    # Adam's eps is not given in the paper; 1e-8 is Adam's own default (and TensorFlow's).
    # No gradient clipping is mentioned. L2 is in ``loss`` (see the module docstring), so
    # weight_decay stays 0 here.
    optimizer = OptimizerSettings(
        name="adam",
        lr=1e-3,
        eps=1e-8,
        clip_value=None,
        clip_norm=None,
        source="Xiong et al. 2016, sec. 6.2 (Adam, lr 0.001, batch 128; L2 in the model's loss)",
    )
    # the paper's bAbI-10k protocol: batches of 128 questions, up to 256 epochs, stopping
    # after 20 without a better held-out loss (the runner holds out 10% of the stories)
    training_defaults = {
        "batch_size": 128,
        "train_questions": 10_000,
        "epochs": 256,
        "patience": 20,
    }

    def __init__(self, io: TaskIO, hp: DMNPlusHparams):
        super().__init__(io, hp)
        e, d = hp.embed_size, hp.hidden_size
        self.embedding = nn.Embedding(io.input_size, e, padding_idx=0)
        self.drop = nn.Dropout(hp.dropout)
        self.question = nn.GRU(e, d, batch_first=True)
        self.fusion = nn.GRU(e, d, batch_first=True, bidirectional=True)  # (103)
        self.gate = nn.Sequential(nn.Linear(4 * d, d), nn.Tanh(), nn.Linear(d, 1))  # (104)
        self.attention = AttentionGRU(d, d)  # (105)
        if hp.memory_update == "relu":  # (107), W^t and b^t per pass
            self.update = nn.ModuleList(nn.Linear(3 * d, d) for _ in range(hp.passes))
        else:  # (106), one GRU for every pass
            self.update = nn.GRUCell(d, d)
        self.answer = AnswerHead(2 * d, io.output_size, hp.answer_words)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's initialisation (module docstring)."""
        for name, p in self.named_parameters():
            if p.dim() < 2:
                nn.init.zeros_(p)  # biases
            elif name.startswith(("question.", "fusion.")) or name.startswith("update.weight"):
                _xavier_gate_blocks(p, 3)  # nn.GRU / nn.GRUCell: [reset | update | candidate]
            elif name.startswith("attention."):
                _xavier_gate_blocks(p, 2)  # [reset | candidate]
            elif name == "embedding.weight":
                with torch.no_grad():
                    p.uniform_(-math.sqrt(3.0), math.sqrt(3.0))
                    p[0] = 0.0
            else:
                nn.init.xavier_uniform_(p)

    # -- modules ---------------------------------------------------------------------------------
    def sentence_reader(self, sentences: torch.Tensor) -> torch.Tensor:
        """f_i = sum_j l_j * A w^i_j (101-102): [S, N, W] ids -> [S, N, D]."""
        encoding = position_encoding(sentences, self.hp.embed_size)
        return bag_of_words(self.embedding, sentences, encoding)

    def fuse(self, facts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """F_i = f->_i + f<-_i (103) over each sample's ``counts`` real sentences, on packed
        sequences: the backward GRU starts at the sample's last real sentence. Padding rows
        come back as 0. [S, N, D] -> [S, N, d]."""
        n = facts.shape[1]
        packed = pack_padded_sequence(
            facts, counts.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.fusion(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=n)
        forward, backward = out.chunk(2, dim=-1)
        return forward + backward

    def encode_question(self, query: torch.Tensor) -> torch.Tensor:
        """q: the question GRU's state at each sample's last real word. [S, Q] -> [S, d]."""
        states, _ = self.question(self.embedding(query))
        last = ((query != 0).sum(1) - 1).clamp(min=0)
        return states[torch.arange(query.shape[0], device=query.device), last]

    def episodic_memory(
        self, facts: torch.Tensor, mask: torch.Tensor, q: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """T passes of (104)-(107) from m^0 = q. Returns m^T [S, d] and the gates [S, T, N]."""
        projected = self.attention.project(facts) if self.hp.episode == "attention-gru" else None
        m, gates = q, []
        for t in range(self.hp.passes):
            z = attention_features(facts, q, m)
            g = masked_softmax(self.gate(z).squeeze(-1), mask)  # (104)
            gates.append(g)
            if projected is not None:
                c = self.attention(projected, g)  # (105)
            else:
                c = (g.unsqueeze(-1) * facts).sum(1)  # soft attention
            m = self.update_memory(t, m, c, q)
        return m, torch.stack(gates, dim=1)

    def update_memory(
        self, t: int, m: torch.Tensor, c: torch.Tensor, q: torch.Tensor
    ) -> torch.Tensor:
        """m^t from m^{t-1}, c^t and q, for pass t = 0..T-1: ReLU(W^t [m; c; q] + b^t) (107),
        or GRU(c^t, m^{t-1}) (106)."""
        if isinstance(self.update, nn.ModuleList):
            return F.relu(self.update[t](torch.cat([m, c, q], dim=-1)))
        return self.update(c, m)

    def forward(self, batch: dict) -> dict:
        sentences, counts, query = batch["sentences"], batch["sentence_counts"], batch["query"]
        # Cut the batch's padding: the loops then run to the longest real story, and padding
        # added around the batch cannot change anything.
        n_full = sentences.shape[1]
        n = max(int(counts.max()), 1)
        sentences = sentences[:, :n, : _used(sentences != 0, (0, 1))]
        if sentences.shape[1] < n or sentences.shape[2] == 0:  # no story at all: one empty row
            sentences = sentences.new_zeros(sentences.shape[0], n, max(sentences.shape[2], 1))
        query = query[:, : _used(query != 0, (0,))]
        _, mask = memory_rows(counts, sentences.shape[1])

        facts = self.fuse(self.drop(self.sentence_reader(sentences)), counts)
        q = self.encode_question(query)
        m, gates = self.episodic_memory(facts, mask, q)
        logits = self.answer(self.drop(torch.cat([q, m], dim=-1)))
        return {"logits": logits, "gates": F.pad(gates, (0, n_full - n))[..., :n_full]}

    # -- training ---------------------------------------------------------------------------------
    def l2_penalty(self) -> torch.Tensor:
        """(alpha / 2) sum W^2 over the weight matrices and the embedding, not the biases."""
        return 0.5 * self.hp.l2 * sum(p.square().sum() for p in self.parameters() if p.dim() >= 2)

    def loss(self, out, batch: dict) -> torch.Tensor:
        """Cross-entropy of the answer words, plus the paper's L2 term while training."""
        loss = super().loss(out, batch)
        if self.training and self.hp.l2 > 0:
            loss = loss + self.l2_penalty()
        return loss


register_variant(
    Variant(
        "dmn-plus.babi-10k",
        summary="DMN+ on bAbI-10k: d=80, 3 passes, batch 128, up to 256 epochs, patience 20",
        source="Xiong, Merity & Socher 2016, arXiv:1603.01417, sec. 6.2",
        task="babi/joint-v1",
        hparams={"embed_size": 80, "hidden_size": 80, "passes": 3},
        training={"batch_size": 128, "train_questions": 10_000, "epochs": 256, "patience": 20},
    )
)
