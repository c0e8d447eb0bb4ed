"""DMN+ (reference_models/dmn_plus.py): its pieces on hand-made cases, the whole forward pass
against a slow per-sample reference written out from eq. 88 and 101-107, padding and batch
independence, and that it learns bAbI qa1."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import memtasks  # noqa: E402
from memtasks import models  # noqa: E402
from memtasks.models import IncompatibleError  # noqa: E402
from memtasks.models._qa import position_encoding  # noqa: E402
from memtasks.models.dmn_plus import (  # noqa: E402
    AttentionGRU,
    _AttentionGRUScan,
    attention_features,
    masked_softmax,
)

SMALL = {"embed_size": 12, "hidden_size": 10, "answer_words": 1}


def _model(task="babi/qa2-v1", **extra):
    torch.manual_seed(0)
    return models.create("dmn-plus", task, **{**SMALL, **extra})


def _batch(model, task="babi/qa2-v1", n=3, seed=0):
    return model.collate(memtasks.generate(task, n, seed=seed))


def _sample(batch, i):
    """Question i of a QA batch, alone, with the batch's padding trimmed to its own."""
    n = int(batch["sentence_counts"][i])
    sentences = batch["sentences"][i : i + 1, : max(n, 1)]
    words = int((sentences != 0).sum(-1).max())
    q_words = int((batch["query"][i] != 0).sum())
    return {
        "sentences": sentences[:, :, :words],
        "sentence_counts": batch["sentence_counts"][i : i + 1],
        "query": batch["query"][i : i + 1, :q_words],
    }


def close(a, b, atol=1e-6, rtol=0.0):
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=a.dtype), atol=atol, rtol=rtol)


# ---------------------------------------------------------------------------------------------
# The GRU of eq. 88 written out (torch's gate order: reset, update, candidate), for references
# ---------------------------------------------------------------------------------------------
def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    xr, xz, xn = (w_ih @ x + b_ih).chunk(3)
    hr, hz, hn = (w_hh @ h + b_hh).chunk(3)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)  # torch's z is the survey's "keep" gate: h = z h + (1 - z) h~
    cand = torch.tanh(xn + r * hn)
    return z * h + (1 - z) * cand


def gru_weights(gru, suffix=""):
    return [
        getattr(gru, f"{k}_l0{suffix}") for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]


def slow_fusion(model, facts, count):
    """(103) for one sample: forward GRU over rows 0..count-1, backward GRU from row count-1
    down to 0, summed; facts [N, D] -> [count, d]."""
    d = model.hp.hidden_size
    fwd, bwd = gru_weights(model.fusion), gru_weights(model.fusion, "_reverse")
    h, forward = torch.zeros(d), []
    for i in range(count):
        h = gru_cell(facts[i], h, *fwd)
        forward.append(h)
    h, backward = torch.zeros(d), [None] * count
    for i in reversed(range(count)):
        h = gru_cell(facts[i], h, *bwd)
        backward[i] = h
    return torch.stack([f + b for f, b in zip(forward, backward, strict=True)])


def slow_question(model, query):
    """q: the question GRU's state after the last real word; query [Q] ids."""
    h = torch.zeros(model.hp.hidden_size)
    for w in query[query != 0]:
        h = gru_cell(model.embedding.weight[w], h, *gru_weights(model.question))
    return h


def slow_forward(model, sentences, count, query):
    """Logits [A, V] and gates [T, count] of one sample, every equation written out."""
    hp = model.hp
    # (101)-(102): f_i = sum_j l_j * A w_j, with l_jd = (1 - j/M) - (d/D)(1 - 2j/M)
    f = []
    for i in range(count):
        words = sentences[i][sentences[i] != 0]
        big_m, big_d = len(words), hp.embed_size
        total = torch.zeros(big_d)
        for j, w in enumerate(words, start=1):
            dd = torch.arange(1, big_d + 1, dtype=torch.float32)
            l_j = (1 - j / big_m) - (dd / big_d) * (1 - 2 * j / big_m)
            total = total + l_j * model.embedding.weight[w]
        f.append(total)
    facts = slow_fusion(model, torch.stack(f), count)  # (103)
    q = slow_question(model, query)
    w1, b1 = model.gate[0].weight, model.gate[0].bias
    w2, b2 = model.gate[2].weight, model.gate[2].bias
    att = model.attention
    wr, wh = att.inputs.weight.chunk(2)
    br, bh = att.inputs.bias.chunk(2)
    ur, uh = att.hidden.weight.chunk(2)
    m, all_gates = q, []
    for t in range(hp.passes):
        scores = []
        for i in range(count):  # (104)
            z = torch.cat([facts[i] * q, facts[i] * m, (facts[i] - q).abs(), (facts[i] - m).abs()])
            scores.append((w2 @ torch.tanh(w1 @ z + b1) + b2)[0])
        g = torch.softmax(torch.stack(scores), 0)
        all_gates.append(g)
        if hp.episode == "attention-gru":  # (105)
            h = torch.zeros(hp.hidden_size)
            for i in range(count):
                r = torch.sigmoid(wr @ facts[i] + br + ur @ h)
                cand = torch.tanh(wh @ facts[i] + bh + r * (uh @ h))
                h = g[i] * cand + (1 - g[i]) * h
            c = h
        else:  # soft attention
            c = (g[:, None] * facts).sum(0)
        if hp.memory_update == "relu":  # (107)
            lin = model.update[t]
            m = torch.relu(lin.weight @ torch.cat([m, c, q]) + lin.bias)
        else:  # (106)
            u = model.update
            m = gru_cell(c, m, u.weight_ih, u.weight_hh, u.bias_ih, u.bias_hh)
    a = model.answer.linear
    logits = (a.weight @ torch.cat([q, m]) + a.bias).view(hp.answer_words, -1)
    return logits, torch.stack(all_gates)


# ---------------------------------------------------------------------------------------------
# Pieces on hand-made cases
# ---------------------------------------------------------------------------------------------
def test_attention_features_by_hand():
    f = torch.tensor([[[1.0, -2.0], [0.0, 3.0]]])  # S=1, N=2, d=2
    q, m = torch.tensor([[2.0, 1.0]]), torch.tensor([[-1.0, 0.5]])
    z = attention_features(f, q, m)
    close(z[0, 0], [2, -2, -1, -1, 1, 3, 2, 2.5])
    close(z[0, 1], [0, 3, 0, 1.5, 2, 2, 1, 2.5])


def test_masked_softmax_sums_to_one_over_real_rows_and_zero_on_padding():
    scores = torch.tensor([[1.0, 2.0, 50.0], [0.0, 0.0, 0.0], [3.0, -1.0, 7.0]])
    mask = torch.tensor([[True, True, False], [False, False, False], [True, True, True]])
    g = masked_softmax(scores, mask)
    e = math.exp(1.0)
    close(g[0], [1 / (1 + e), e / (1 + e), 0.0])  # the padding's huge score is ignored
    close(g[1], [0.0, 0.0, 0.0])  # no sentence: no attention, not NaN
    close(g[2], torch.softmax(scores[2], 0))
    scores.requires_grad_(True)
    masked_softmax(scores, mask).pow(2).sum().backward()
    assert torch.isfinite(scores.grad).all() and (scores.grad[1] == 0).all()


def _hand_attention_gru():
    """d = 2: W^(r) = I, W = [[1, 1], [0, -1]], b^(h) = [0.5, 0]; U^(r) = [[0, 1], [1, 0]],
    U = [[1, 0], [0, 2]]."""
    cell = AttentionGRU(2, 2)
    with torch.no_grad():
        cell.inputs.weight.copy_(torch.tensor([[1.0, 0], [0, 1], [1, 1], [0, -1]]))
        cell.inputs.bias.copy_(torch.tensor([0.0, 0, 0.5, 0]))
        cell.hidden.weight.copy_(torch.tensor([[0.0, 1], [1, 0], [1, 0], [0, 2]]))
    return cell


def test_attention_gru_step_by_hand():
    cell = _hand_attention_gru()
    x, h = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.5, -0.5]])
    # r = sigma(W^(r) x + U^(r) h) = sigma([1 - 0.5, -1 + 0.5])
    # h~ = tanh(W x + b^(h) + r * U h) = tanh([0.5 + r_1 * 0.5, 1 + r_2 * (-1)])
    s = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    cand = [math.tanh(0.5 + s(0.5) * 0.5), math.tanh(1 - s(-0.5))]
    with torch.no_grad():
        p = cell.project(x)
        close(cell.step(p, h, torch.tensor([[1.0]])), [cand])  # g = 1: the candidate
        assert torch.equal(cell.step(p, h, torch.tensor([[0.0]])), h)  # g = 0: unchanged
        mixed = [0.25 * c + 0.75 * v for c, v in zip(cand, [0.5, -0.5], strict=True)]
        close(cell.step(p, h, torch.tensor([[0.25]])), [mixed])
        # the scan gives the same: two sentences, the second gated off entirely
        xs = torch.tensor([[[1.0, -1.0], [5.0, 5.0]]])
        out = cell(cell.project(xs), torch.tensor([[1.0, 0.0]]))
        first = cell.step(cell.project(xs[:, 0]), torch.zeros(1, 2), torch.tensor([[1.0]]))
        assert torch.equal(out, first)


def test_attention_gru_scan_matches_the_autograd_loop_and_gradcheck():
    torch.manual_seed(1)
    cell = AttentionGRU(3, 4).double()
    p = torch.randn(5, 6, 8, dtype=torch.double, requires_grad=True)
    g = torch.rand(5, 6, dtype=torch.double)
    g[1, 3:] = 0.0  # a padded sample
    g.requires_grad_(True)
    fast, slow = cell(p, g), cell.reference(p, g)
    close(fast, slow, atol=1e-12)
    w = torch.randn_like(fast)
    params = [p, g, cell.hidden.weight]
    grads_fast = torch.autograd.grad((fast * w).sum(), params)
    grads_slow = torch.autograd.grad((slow * w).sum(), params)
    for a, b in zip(grads_fast, grads_slow, strict=True):
        close(a, b, atol=1e-12)
    args = (
        p.detach().transpose(0, 1).contiguous().requires_grad_(),
        g.detach().t().unsqueeze(-1).contiguous().requires_grad_(),
        cell.hidden.weight.detach().clone().requires_grad_(),
    )
    assert torch.autograd.gradcheck(_AttentionGRUScan.apply, args)


def test_memory_update_by_hand():
    model = _model(embed_size=4, hidden_size=2)
    w = torch.tensor([[1.0, 0, 2, 0, -1, 0], [0, 1, 0, -1, 0, 3]])  # W^1 on [m; c; q]
    with torch.no_grad():
        model.update[0].weight.copy_(w)
        model.update[0].bias.copy_(torch.tensor([0.5, -0.5]))
    m, c, q = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, 4.0]]), torch.tensor([[3.0, -1.0]])
    # row 1: 1 + 2 * 0.5 - 3 + 0.5 = -0.5 -> ReLU 0;  row 2: 2 - 4 - 3 - 0.5 = -5.5 -> 0
    close(model.update_memory(0, m, c, q), [[0.0, 0.0]])
    q = torch.tensor([[-3.0, 3.0]])
    # row 1: 1 + 1 + 3 + 0.5 = 5.5;  row 2: 2 - 4 + 9 - 0.5 = 6.5
    close(model.update_memory(0, m, c, q), [[5.5, 6.5]])
    # the passes are untied: pass 2 has weights of its own
    assert model.update[1].weight.data_ptr() != model.update[0].weight.data_ptr()


def test_fusion_backward_direction_starts_at_each_samples_last_sentence():
    model = _model()
    torch.manual_seed(2)
    counts = torch.tensor([2, 5, 1, 4])
    facts = torch.randn(4, 5, model.hp.embed_size)
    with torch.no_grad():
        fused = model.fuse(facts, counts)
        for s, n in enumerate(counts.tolist()):
            close(fused[s, :n], slow_fusion(model, facts[s], n), atol=1e-5)
            assert (fused[s, n:] == 0).all()
        # padding rows full of garbage, and more of them, change nothing
        padded = torch.cat([facts, torch.randn(4, 3, model.hp.embed_size)], dim=1)
        padded[0, 2:] = 7.0
        close(model.fuse(padded, counts)[:, :5], fused, atol=1e-6)


def test_question_state_is_taken_at_the_last_real_word():
    model = _model()
    query = torch.tensor([[5, 6, 7, 0, 0], [8, 0, 0, 0, 0]])
    with torch.no_grad():
        q = model.encode_question(query)
        for s in range(2):
            close(q[s], slow_question(model, query[s]), atol=1e-5)
        close(model.encode_question(torch.cat([query, torch.zeros(2, 4, dtype=torch.long)], 1)), q)


def test_position_encoding_is_the_papers_l_jd():
    tokens = torch.tensor([[4, 9, 2, 0]])  # M = 3 words, D = 2
    l = position_encoding(tokens, 2)[0]
    for j in (1, 2, 3):
        for d in (1, 2):
            assert l[j - 1, d - 1].item() == pytest.approx((1 - j / 3) - (d / 2) * (1 - 2 * j / 3))
    assert (l[3] == 0).all()


# ---------------------------------------------------------------------------------------------
# The whole model
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"episode": "soft"},
        {"memory_update": "gru"},
    ],
)
def test_forward_matches_the_slow_reference(variant):
    model = _model(**variant).eval()
    batch = _batch(model, n=2)
    with torch.no_grad():
        out = model(batch)
        for i in range(0, batch["query"].shape[0], 3):
            n = int(batch["sentence_counts"][i])
            logits, gates = slow_forward(model, batch["sentences"][i], n, batch["query"][i])
            close(out["logits"][i], logits, atol=1e-4)
            close(out["gates"][i, :, :n], gates, atol=1e-5)


def test_shapes_gates_loss_and_finite_gradients():
    model = _model(dropout=0.0, answer_words=3)
    batch = _batch(model)
    out = model(batch)
    s, n = batch["sentences"].shape[:2]
    assert out["logits"].shape == (s, 3, model.io.output_size)
    assert out["gates"].shape == (s, model.hp.passes, n)
    real = torch.arange(n)[None, :] < batch["sentence_counts"][:, None]
    gates = out["gates"].detach()
    close(gates.sum(-1), torch.ones(s, model.hp.passes), atol=1e-5)
    assert (gates[~real[:, None, :].expand_as(gates)] == 0).all()
    # training loss = cross-entropy + (alpha / 2) sum of squared weights, biases excluded
    loss = model.loss(out, batch)
    weights = sum(p.square().sum() for n_, p in model.named_parameters() if "bias" not in n_)
    close(loss - model.eval().loss(out, batch), 0.5 * model.hp.l2 * weights, atol=1e-5, rtol=1e-5)
    model.train()
    loss.backward()
    assert torch.isfinite(loss)
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    flat = model.predictions(out, batch)
    assert flat.shape == (int(batch["num_positions"]),)
    with pytest.raises(IncompatibleError):
        models.create("dmn-plus", "ntm/copy-v1")


def test_samples_are_independent_of_the_batch_and_of_padding():
    model = _model().eval()
    batch = _batch(model, n=3)
    counts = batch["sentence_counts"]
    assert counts.min() < counts.max()  # the batch pads some samples' stories
    with torch.no_grad():
        together = model(batch)
        for i in range(counts.shape[0]):
            alone = model(_sample(batch, i))
            close(alone["logits"][0], together["logits"][i], atol=2e-5)
            n = int(counts[i])
            close(alone["gates"][0, :, :n], together["gates"][i, :, :n], atol=2e-6)
        # extra padding sentences, words and question words change nothing
        padded = dict(batch)
        padded["sentences"] = torch.nn.functional.pad(batch["sentences"], (0, 3, 0, 4))
        padded["query"] = torch.nn.functional.pad(batch["query"], (0, 2))
        out = model(padded)
        close(out["logits"], together["logits"])
        assert (out["gates"][..., -4:] == 0).all()


def test_a_sample_without_sentences_stays_finite():
    model = _model(dropout=0.0)
    batch = _batch(model, n=1)
    batch["sentence_counts"] = batch["sentence_counts"].clone()
    batch["sentence_counts"][0] = 0
    batch["sentences"] = batch["sentences"].clone()
    batch["sentences"][0] = 0
    out = model(batch)
    assert (out["gates"][0] == 0).all()
    model.loss(out, batch).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    # a batch of questions without stories, trimmed to no memory rows at all
    batch["sentence_counts"] = torch.zeros_like(batch["sentence_counts"])
    batch["sentences"] = batch["sentences"][:, :0]
    out = model(batch)
    assert out["gates"].shape[-1] == 0 and torch.isfinite(out["logits"]).all()


def test_learns_babi_qa1():
    """300 Adam steps of 32 questions (d = 20, lr 0.01, about 6 s on one thread) take test
    accuracy from below chance (1/6: six rooms) to >= 90 % (0.97-1.0 measured over 3 seeds)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = _model("babi/qa1-v1", embed_size=20, hidden_size=20)
        train = model.collate(memtasks.generate("babi/qa1-v1", 200, seed=0))
        test = model.collate(memtasks.generate("babi/qa1-v1", 60, seed=1, split="test"))
        keys = [k for k in train if k != "num_positions"]
        optimizer = model.optimizer.replace(lr=0.01).build(model.parameters())
        generator = torch.Generator().manual_seed(0)

        def accuracy():
            model.eval()
            with torch.no_grad():
                logits = model(test)["logits"][:, 0]
            model.train()
            return (logits.argmax(-1) == test["answer"][:, 0]).float().mean().item()

        before = accuracy()
        for _ in range(300):
            idx = torch.randperm(train["query"].shape[0], generator=generator)[:32]
            batch = {k: train[k][idx] for k in keys}
            loss = model.loss(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        after = accuracy()
    finally:
        torch.set_num_threads(threads)
    assert before < 0.4
    assert after >= 0.9, (before, after)
