"""models.ntm: the addressing of eq. 12-19 against a float64 NumPy transcription of
the survey's equations, zero memory, every NTM task with both controllers and several heads,
learning a tiny copy task, and the compiled step."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from memtasks import models  # noqa: E402
from memtasks.errors import KnobError  # noqa: E402
from memtasks.models import ntm  # noqa: E402
from memtasks.registry import get_spec  # noqa: E402
from memtasks.torch import collate  # noqa: E402

EPS = ntm.EPS


# ---------------------------------------------------------------------------------------------
# NumPy reference: eq. 12-19 written out location by location, in float64
# ---------------------------------------------------------------------------------------------
def np_cosine(u, v):  # (16), with the model's epsilon inside the norms
    return u @ v / np.sqrt((u @ u + EPS) * (v @ v + EPS))


def np_softmax(z):
    z = np.exp(z - z.max())
    return z / z.sum()


def np_content(key, beta, memory):  # (15): key [B, H, M], beta [B, H], memory [B, N, M]
    b_, h_, _ = key.shape
    out = np.zeros((b_, h_, memory.shape[1]))
    for b in range(b_):
        for h in range(h_):
            sims = np.array([np_cosine(key[b, h], row) for row in memory[b]])
            out[b, h] = np_softmax(beta[b, h] * sims)
    return out


def np_interpolate(wc, w_prev, g):  # (17): g [B, H]
    return g[..., None] * wc + (1 - g[..., None]) * w_prev


def np_shift(w, s):  # (18): s[..., k] weighs offset k - S; s(d) = 0 for other offsets
    n, k = w.shape[-1], s.shape[-1]
    span = (k - 1) // 2
    out = np.zeros_like(w)
    for i in range(n):
        for j in range(n):
            d = (i - j) % n  # the offset that carries location j onto i, taken in -S..S
            d = d - n if d > n // 2 else d
            if -span <= d <= span:
                out[..., i] += w[..., j] * s[..., d + span]
    return out


def np_sharpen(w, gamma):  # (19): gamma [B, H]
    p = (w + EPS) ** gamma[..., None]
    return p / p.sum(-1, keepdims=True)


def np_read(memory, w):  # (12)
    b_, h_, n = w.shape
    out = np.zeros((b_, h_, memory.shape[2]))
    for b in range(b_):
        for h in range(h_):
            for i in range(n):
                out[b, h] += w[b, h, i] * memory[b, i]
    return out


def np_write(memory, w, erase, add):  # (13) erase by every head, then (14) add by every head
    out = memory.copy()
    b_, h_, n = w.shape
    for b in range(b_):
        for i in range(n):
            for h in range(h_):
                out[b, i] = out[b, i] * (1 - w[b, h, i] * erase[b, h])
            for h in range(h_):
                out[b, i] = out[b, i] + w[b, h, i] * add[b, h]
    return out


def random_inputs(seed, b, h, n, m, span):
    rng = np.random.default_rng(seed)
    k = 2 * span + 1
    return {
        "key": rng.normal(size=(b, h, m)),
        "beta": rng.uniform(0, 20, size=(b, h)),
        "g": rng.uniform(0, 1, size=(b, h)),
        "s": rng.dirichlet(np.ones(k), size=(b, h)),
        "gamma": rng.uniform(1, 20, size=(b, h)),
        "w_prev": rng.dirichlet(np.ones(n), size=(b, h)),
        "memory": rng.normal(size=(b, n, m)),
        "erase": rng.uniform(0, 1, size=(b, h, m)),
        "add": rng.uniform(-1, 1, size=(b, h, m)),
    }


def t64(x):
    return torch.from_numpy(np.asarray(x, dtype=np.float64))


CASES = [  # (seed, batch, heads, N, M, shift_range): N prime, small, or the paper's 128
    (0, 2, 1, 7, 5, 1),
    (1, 3, 3, 13, 4, 2),
    (2, 2, 2, 128, 20, 1),
    (3, 1, 4, 5, 3, 2),
    (4, 2, 2, 11, 6, 0),
]


@pytest.mark.parametrize(("seed", "b", "h", "n", "m", "span"), CASES)
def test_addressing_matches_numpy(seed, b, h, n, m, span):
    x = random_inputs(seed, b, h, n, m, span)
    col = {k: t64(x[k])[..., None] for k in ("beta", "g", "gamma")}  # [B, H, 1]
    key, memory, w_prev, s = t64(x["key"]), t64(x["memory"]), t64(x["w_prev"]), t64(x["s"])

    wc = ntm.content_weights(key, col["beta"], memory)
    np.testing.assert_allclose(wc.numpy(), np_content(x["key"], x["beta"], x["memory"]), 1e-10)
    wg = ntm.interpolate(wc, w_prev, col["g"])
    np.testing.assert_allclose(wg.numpy(), np_interpolate(wc.numpy(), x["w_prev"], x["g"]), 1e-12)
    index = ntm.shift_index(n, span)
    ws = ntm.shift(wg, s, index)
    np.testing.assert_allclose(ws.numpy(), np_shift(wg.numpy(), x["s"]), 1e-12)
    np.testing.assert_allclose(ntm.shift(wg, s).numpy(), ws.numpy())  # index built on the fly
    w = ntm.sharpen(ws, col["gamma"])
    np.testing.assert_allclose(w.numpy(), np_sharpen(ws.numpy(), x["gamma"]), 1e-9)

    # the whole pipeline against the NumPy pipeline
    want = np_sharpen(
        np_shift(
            np_interpolate(np_content(x["key"], x["beta"], x["memory"]), x["w_prev"], x["g"]),
            x["s"],
        ),
        x["gamma"],
    )
    got = ntm.address(key, col["beta"], col["g"], s, col["gamma"], w_prev, memory, index)
    np.testing.assert_allclose(got.numpy(), want, 1e-9)
    np.testing.assert_allclose(got.sum(-1).numpy(), 1.0, 1e-12)

    # read (12) with every head; write (13-14) with one head and with all of them
    np.testing.assert_allclose(ntm.read(memory, w).numpy(), np_read(x["memory"], w.numpy()), 1e-12)
    erase, add = t64(x["erase"]), t64(x["add"])
    for heads in (slice(0, 1), slice(None)):
        got = ntm.write(memory, w[:, heads], erase[:, heads], add[:, heads])
        want = np_write(x["memory"], w.numpy()[:, heads], x["erase"][:, heads], x["add"][:, heads])
        np.testing.assert_allclose(got.numpy(), want, 1e-12)


def test_shift_moves_a_one_hot_weighting_around_the_circle():
    n = 6
    w = torch.zeros(1, 1, n, dtype=torch.float64)
    w[0, 0, n - 1] = 1.0
    plus_one = torch.tensor([[[0.0, 0.0, 1.0]]], dtype=torch.float64)  # all mass on offset +1
    minus_one = plus_one.flip(-1)
    assert ntm.shift(w, plus_one)[0, 0].argmax() == 0  # wraps from the last location to 0
    assert ntm.shift(w, minus_one)[0, 0].argmax() == n - 2


def test_sharpening_is_finite_where_the_power_underflows():
    w = torch.tensor([[[0.5, 0.3, 1e-30, 0.0, 0.2 - 1e-30]]])  # float32
    out = ntm.sharpen(w, torch.tensor([[[20.0]]]))
    assert torch.isfinite(out).all()
    assert out.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert out[0, 0, 0] > 0.99


def test_cosine_of_zero_memory_and_zero_key_is_uniform_with_finite_gradients():
    key = torch.zeros(2, 3, 4, requires_grad=True)
    memory = torch.zeros(2, 5, 4, requires_grad=True)
    beta = torch.full((2, 3, 1), 5.0, requires_grad=True)
    w = ntm.content_weights(key, beta, memory)
    torch.testing.assert_close(w, torch.full_like(w, 0.2))
    (w * torch.randn_like(w)).sum().backward()
    for t in (key, memory, beta):
        assert torch.isfinite(t.grad).all()


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
SMALL = {"controller_size": 16, "memory_size": 10, "memory_width": 6}
TASKS = {
    "ntm/copy-v1": {"max_length": 3},
    "ntm/repeat-copy-v1": {"max_length": 3, "max_repeats": 2},
    "ntm/associative-recall-v1": {"max_items": 3},
    "ntm/dynamic-ngrams-v1": {"length": 12},
    "ntm/priority-sort-v1": {"num_items": 5, "num_outputs": 3},
}


def make(task, knobs, **hp):
    torch.manual_seed(0)
    return models.create("ntm", task, knobs=knobs, **{**SMALL, **hp})


def task_batch(task, n=4, seed=0, **knob_values):
    spec = get_spec(task)
    knobs = spec.make_knobs(None, **{**TASKS[task], **knob_values})
    return spec, knobs, collate(spec.generate(n, seed=seed, split="train", knobs=knobs))


@pytest.mark.parametrize("controller", ["lstm", "ff"])
@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_with_both_controllers_and_two_heads_each(task, controller):
    spec, knobs, batch = task_batch(task)
    model = make(spec, knobs, controller=controller, read_heads=2, write_heads=2, shift_range=2)
    logits = model(batch)
    assert logits.shape == batch["targets"].shape

    # forward is the step loop plus the output layer; every weighting is a distribution
    x = model.reader(batch["inputs"])
    state = model.initial_state(x.shape[0])
    assert len(state) == (5 if controller == "lstm" else 3)
    features = []
    for x_t in x.unbind(1):
        f, state = model.step(x_t, state)
        memory, w, reads = state[:3]
        assert memory.shape == (x.shape[0], 10, 6)
        assert w.shape == (x.shape[0], 4, 10)  # 2 read + 2 write heads
        assert reads.shape == (x.shape[0], 2 * 6)
        assert (w >= 0).all()
        torch.testing.assert_close(w.sum(-1), torch.ones(x.shape[0], 4))
        features.append(f)
    torch.testing.assert_close(model.out(torch.stack(features, 1)), logits)


def test_initial_state_and_memory_init_choices():
    spec, knobs, batch = task_batch("ntm/copy-v1")
    constant = make(spec, knobs)
    memory, w, reads, h, c = constant.initial_state(3)
    assert (memory == 1e-6).all() and memory.shape == (3, 10, 6)
    assert (w[:, :, 0] > 0.98).all()  # the learned initial weighting starts near location 0
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2))
    assert (reads == 0).all() and (h == 0).all() and (c == 0).all()
    assert "memory0" in dict(constant.named_buffers())

    random = make(spec, knobs, memory_init="random")
    assert "memory0" in dict(random.named_buffers()) and random.memory0.std() > 0.1
    learned = make(spec, knobs, memory_init="learned")
    assert "memory0" in dict(learned.named_parameters())
    models.loss(learned(batch), batch).backward()
    assert learned.memory0.grad.abs().sum() > 0
    assert learned.num_parameters() == constant.num_parameters() + 10 * 6


def test_zero_memory_gives_no_nan_in_forward_or_gradients():
    for task in ("ntm/copy-v1", "ntm/associative-recall-v1"):
        spec, knobs, batch = task_batch(task)
        for controller in ("lstm", "ff"):
            model = make(spec, knobs, controller=controller, write_heads=2)
            with torch.no_grad():
                model.memory0.zero_()
            loss = models.loss(model(batch), batch)
            loss.backward()
            assert torch.isfinite(loss)
            for name, p in model.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_outputs_do_not_depend_on_later_inputs():
    spec, knobs, batch = task_batch("ntm/dynamic-ngrams-v1", n=2)
    model = make(spec, knobs).eval()
    changed = {**batch, "inputs": batch["inputs"].clone()}
    changed["inputs"][:, 5:] = 1.0 - changed["inputs"][:, 5:]
    with torch.no_grad():
        a, b = model(batch), model(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_hyperparameters_settings_and_parameter_count():
    with pytest.raises(KnobError, match="shift_range"):
        models.create("ntm", "ntm/copy-v1", memory_size=4, shift_range=2)
    with pytest.raises(KnobError):
        models.create("ntm", "ntm/copy-v1", memory_init="zeros")
    opt = ntm.NTM.optimizer
    assert (opt.name, opt.lr, opt.momentum, opt.clip_value) == ("rmsprop", 1e-4, 0.9, 10.0)
    assert ntm.NTM.causal and not ntm.NTM.amp_safe

    # ntm/copy-v1 with the defaults: 9 inputs, 8 outputs, LSTM of 100, N = 128, M = 20.
    c, n, m, d_in, d_out, heads = 100, 128, 20, 9, 8, 2
    lstm = 4 * c * (d_in + m + c) + 4 * c
    params = (c + 1) * (heads * (m + 3 + 3) + 2 * m)  # k, beta, gamma, g, 3 shifts; e, a
    initial = heads * n + m  # initial weighting logits, initial read
    out = (c + m + 1) * d_out
    model = models.create("ntm", "ntm/copy-v1")
    assert model.num_parameters() == lstm + params + initial + out == 62_536
    ff = (d_in + m + 1) * c
    assert models.create("ntm", "ntm/copy-v1", controller="ff").num_parameters() == (
        ff + params + initial + out
    )


def test_loss_decreases_on_a_tiny_copy_task():
    spec = get_spec("ntm/copy-v1")
    knobs = spec.make_knobs(None, max_length=3)
    model = make(spec, knobs, controller_size=32, memory_size=16, memory_width=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(80):  # a fresh batch every step: it must learn the task, not a batch
        batch = collate(spec.generate(16, seed=1, start=16 * step, split="train", knobs=knobs))
        loss = models.loss(model(batch), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:5]), np.mean(losses[-10:])
    assert last < 0.8 * first  # about 0.69 (chance) down to about 0.5, (first, last)


def test_compile_step_traces_the_step_as_one_graph():
    spec, knobs, batch = task_batch("ntm/copy-v1", n=3)
    model = make(spec, knobs, read_heads=2, write_heads=2)
    with torch.no_grad():
        model.memory0.zero_()  # the compiled backward must be NaN-free on zero memory too
    want = model(batch)
    want_grads = torch.autograd.grad(models.loss(want, batch), model.parameters())
    # "aot_eager" traces the step with Dynamo (fullgraph: a graph break fails) and its
    # backward with AOTAutograd's decompositions, without Inductor's slow C++ compile (the
    # benchmark measures Inductor).
    torch._dynamo.reset()
    assert model.compile_step(backend="aot_eager", fullgraph=True) is True
    assert model._compiled and model._step != model.step
    got = model(batch)
    got_grads = torch.autograd.grad(models.loss(got, batch), model.parameters())
    torch.testing.assert_close(got, want)
    for g, w in zip(got_grads, want_grads, strict=True):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g, w)
    torch._dynamo.reset()
