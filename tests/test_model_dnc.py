"""The Differentiable Neural Computer (reference_models/dnc.py): its addressing functions on
hand-made cases, the model's shapes and invariants on the five NTM tasks, and that it learns."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from memtasks import models  # noqa: E402
from memtasks.models import dnc, ntm  # noqa: E402
from memtasks.models.dnc import (  # noqa: E402
    STATE,
    TemporalLinks,
    allocation,
    directional_weights,
    link_update,
    precedence_update,
    read_weighting,
    retention,
    usage_update,
)
from memtasks.registry import get_spec  # noqa: E402
from memtasks.torch import collate  # noqa: E402


def t(*rows):
    return torch.tensor(rows, dtype=torch.float32)


def close(a, b, atol=1e-6):
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=a.dtype), atol=atol, rtol=0)


def off_diagonal(n):
    return 1 - torch.eye(n)


# ---------------------------------------------------------------------------------------------
# Allocation
# ---------------------------------------------------------------------------------------------
def test_allocation_by_hand():
    # sorted usage: slot 1 (0.2), slot 2 (0.5), slot 0 (0.9)
    # a[1] = 0.8, a[2] = 0.5 * 0.2 = 0.1, a[0] = 0.1 * 0.2 * 0.5 = 0.01
    close(allocation(t([0.9, 0.2, 0.5]), eps=0.0), [[0.01, 0.8, 0.1]])
    # the default eps moves usage into [1e-6, 1]: the same to within that
    close(allocation(t([0.9, 0.2, 0.5])), [[0.01, 0.8, 0.1]], atol=2e-6)
    # a free slot takes everything, a full one nothing
    close(allocation(t([1.0, 0.0, 0.5]), eps=0.0), [[0.0, 1.0, 0.0]])
    a = allocation(t([1.0, 0.0, 0.5]))
    assert a[0, 1] > 0.999 and a[0, 0] == 0 and 0 < a[0, 2] < 1e-6


def test_allocation_ties_go_to_the_lowest_slot_first():
    close(allocation(t([0.5, 0.5, 0.5]), eps=0.0), [[0.5, 0.25, 0.125]])
    close(allocation(t([0.0, 0.0, 0.0]), eps=0.0), [[1.0, 0.0, 0.0]])
    close(allocation(t([0.7, 0.3, 0.3, 0.7]), eps=0.0), [[0.3 * 0.09, 0.7, 0.21, 0.7 * 0.3 * 0.09]])


def test_allocation_of_full_memory_is_zero():
    a = allocation(t([1.0, 1.0, 1.0, 1.0]))
    assert a.abs().max() < 1e-6
    a = allocation(t([0.999999, 1.0, 0.9999999]))
    assert a.sum() < 2e-6


def test_allocation_batch_rows_do_not_mix():
    usage = t([0.9, 0.2, 0.5], [0.5, 0.5, 0.5])
    both = allocation(usage, eps=0.0)
    close(both[0], [0.01, 0.8, 0.1])
    close(both[1], [0.5, 0.25, 0.125])
    for row in range(2):
        close(both[row : row + 1], allocation(usage[row : row + 1], eps=0.0))


def test_allocation_sums_to_one_minus_product_of_usage_and_has_finite_gradients():
    g = torch.Generator().manual_seed(0)
    usage = torch.rand(5, 17, generator=g)
    usage[0, :3] = 0.0  # exact zeros and ones, where a naive cumprod gradient misbehaves
    usage[1, :] = 1.0
    a = allocation(usage, eps=0.0)
    assert (a >= 0).all()
    close(a.sum(-1), 1 - usage.prod(-1), atol=1e-5)
    usage.requires_grad_(True)
    allocation(usage).pow(2).sum().backward()
    assert torch.isfinite(usage.grad).all() and usage.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------
# Usage, retention, precedence, links
# ---------------------------------------------------------------------------------------------
def test_usage_update_with_free_gates_by_hand():
    usage, write_w = t([0.5, 0.0, 1.0]), t([0.5, 1.0, 0.0])
    # u + w - u w = [0.75, 1, 1]
    free = t([1.0, 0.5])  # R = 2: head 0 frees all it read, head 1 half
    read_w = t([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    psi = retention(free, read_w)
    close(psi, [[0.0, 1.0, 0.5]])  # (1 - [1, 0, 0]) * (1 - 0.5 [0, 0, 1])
    close(usage_update(usage, write_w, psi), [[0.0, 1.0, 0.5]])
    # free gates closed: usage only grows
    keep = retention(t([0.0, 0.0]), read_w)
    close(usage_update(usage, write_w, keep), [[0.75, 1.0, 1.0]])


def test_links_after_writing_slot_0_then_slot_2():
    n, mask = 3, off_diagonal(3)
    link, p = torch.zeros(1, n, n), torch.zeros(1, n)
    w0, w2 = t([1.0, 0.0, 0.0]), t([0.0, 0.0, 1.0])
    link = link_update(link, w0, p, mask)
    p = precedence_update(p, w0)
    close(link, torch.zeros(1, n, n))  # nothing was written before slot 0
    close(p, [[1.0, 0.0, 0.0]])
    link = link_update(link, w2, p, mask)
    p = precedence_update(p, w2)
    expected = torch.zeros(1, n, n)
    expected[0, 2, 0] = 1.0  # slot 2 was written right after slot 0
    close(link, expected)
    close(p, [[0.0, 0.0, 1.0]])
    # forward from slot 0 is slot 2, backward from slot 2 is slot 0; slot 2 has no successor
    reads = t([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # R = 3 heads
    fwd, bwd = directional_weights(link, reads)
    close(fwd, [[[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    close(bwd, [[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])


def test_partial_writes_precedence_and_zero_diagonal():
    p = t([0.0, 1.0, 0.0])
    w = t([0.25, 0.0, 0.25])
    close(precedence_update(p, w), [[0.25, 0.5, 0.25]])  # (1 - 0.5) p + w
    # writing half to slot 1 right after slot 1: the self-link is dropped
    link = link_update(torch.zeros(1, 3, 3), t([0.0, 0.5, 0.5]), p, off_diagonal(3))
    close(link, [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.5, 0.0]]])


def test_link_update_matches_the_formula_elementwise():
    g = torch.Generator().manual_seed(1)
    B, N = 2, 5
    link = torch.rand(B, N, N, generator=g) / N * off_diagonal(N)
    w = torch.softmax(torch.randn(B, N, generator=g), -1) * 0.8
    p = torch.softmax(torch.randn(B, N, generator=g), -1) * 0.9
    got = link_update(link, w, p, off_diagonal(N))
    want = torch.zeros(B, N, N)
    for b in range(B):
        for i in range(N):
            for j in range(N):
                if i != j:
                    want[b, i, j] = (1 - w[b, i] - w[b, j]) * link[b, i, j] + w[b, i] * p[b, j]
    close(got, want)


def test_allocated_writes_fill_fresh_slots_and_links_follow_write_order():
    """Write four times at full strength by allocation alone: each write lands (almost
    one-hot) on a slot not written before, and the links then step forwards and backwards
    through the order of the writes. (Which free slot comes next is decided by the tiny
    residues earlier allocations left on the free slots, so it is not simply 0, 1, 2.)"""
    n, mask = 6, off_diagonal(6)
    usage, write_w, p = torch.zeros(1, n), torch.zeros(1, n), torch.zeros(1, n)
    link = torch.zeros(1, n, n)
    slots = []
    for _ in range(4):
        usage = usage_update(usage, write_w, torch.ones(1, n))
        write_w = allocation(usage)
        assert write_w.max() > 0.999
        slots.append(int(write_w.argmax()))
        link = link_update(link, write_w, p, mask)
        p = precedence_update(p, write_w)
    assert slots[0] == 0 and len(set(slots)) == 4
    close(p, torch.eye(n)[slots[-1]][None], atol=1e-5)
    fwd, bwd = directional_weights(link, torch.eye(n)[None, slots])  # one head per written slot
    for k in range(4):
        close(fwd[0, k], torch.eye(n)[slots[k + 1]] if k < 3 else torch.zeros(n), atol=1e-5)
        close(bwd[0, k], torch.eye(n)[slots[k - 1]] if k > 0 else torch.zeros(n), atol=1e-5)
    # a free gate on a read of the second slot releases it: it is the next to be allocated
    usage = usage_update(usage, write_w, retention(t([1.0]), torch.eye(n)[None, slots[1:2]]))
    assert usage[0, slots[1]] < 1e-5
    assert int(allocation(usage).argmax()) == slots[1]


def links_by_autograd(link, write_w, precedence, read_w, mask):
    new = link_update(link, write_w, precedence, mask)
    return (new, *directional_weights(new, read_w))


def test_fused_temporal_links_match_the_functions_and_their_gradients():
    g = torch.Generator().manual_seed(2)
    B, N, R = 2, 5, 2
    d = torch.float64
    mask = off_diagonal(N).to(d)
    link = (torch.rand(B, N, N, generator=g, dtype=d) / N * mask).requires_grad_()
    w = (torch.softmax(torch.randn(B, N, generator=g, dtype=d), -1) * 0.7).requires_grad_()
    p = (torch.softmax(torch.randn(B, N, generator=g, dtype=d), -1) * 0.9).requires_grad_()
    r = torch.softmax(torch.randn(B, R, N, generator=g, dtype=d), -1).requires_grad_()
    inputs = (link, w, p, r, mask)
    for got, want in zip(TemporalLinks.apply(*inputs), links_by_autograd(*inputs), strict=True):
        close(got, want, atol=1e-12)
    assert torch.autograd.gradcheck(TemporalLinks.apply, inputs)
    # the first step: nothing but the write weighting needs a gradient
    zeros = (torch.zeros(B, N, N, dtype=d), torch.zeros(B, N, dtype=d))
    assert torch.autograd.gradcheck(TemporalLinks.apply, (zeros[0], w, zeros[1], r.detach(), mask))


def test_model_gradients_equal_autograd_through_the_plain_functions(monkeypatch):
    model, batch = make("ntm/associative-recall-v1", read_heads=2)
    grads = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(dnc.TemporalLinks, "apply", links_by_autograd)
        model.zero_grad()
        models.loss(model(batch), batch).backward()
        grads.append([q.grad.clone() for q in model.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)


def test_read_weighting_mixes_modes():
    fwd, content, bwd = t([[0.0, 0.0, 1.0]]), t([[0.0, 1.0, 0.0]]), t([[1.0, 0.0, 0.0]])
    modes = t([[0.2, 0.3, 0.5]])  # (backward, content, forward)
    close(read_weighting(modes, bwd, content, fwd), [[[0.2, 0.3, 0.5]]])


def test_content_weighting_and_write_memory():
    """The DNC addresses by content and writes with the NTM's functions (eq. 13-16)."""
    memory = t([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    w = ntm.content_weights(t([[3.0, 0.0]]), t([50.0]).unsqueeze(-1), memory)
    assert w.shape == (1, 1, 3) and w[0, 0].argmax() == 0 and w[0, 0, 0] > 0.99
    # a zero memory: every slot alike, and gradients are finite
    zeros = torch.zeros(2, 4, 3, requires_grad=True)
    key = torch.zeros(2, 1, 3, requires_grad=True)
    w = ntm.content_weights(key, torch.ones(2, 1, 1), zeros)
    close(w, torch.full((2, 1, 4), 0.25))
    (w * torch.arange(4.0)).sum().backward()
    assert torch.isfinite(zeros.grad).all() and torch.isfinite(key.grad).all()
    # erase then add (eq. 13-14)
    m = ntm.write(
        memory, t([1.0, 0.5, 0.0])[:, None], t([1.0, 0.0])[:, None], t([2.0, 2.0])[:, None]
    )
    close(m, [[[2.0, 2.0], [1.0, 2.0], [1.0, 1.0]]])


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
SMALL = dict(controller_size=16, memory_size=8, memory_width=4)
TASK_KNOBS = {
    "ntm/copy-v1": dict(max_length=3),
    "ntm/repeat-copy-v1": dict(max_length=2, max_repeats=2),
    "ntm/associative-recall-v1": dict(item_length=1, max_items=3),
    "ntm/dynamic-ngrams-v1": dict(length=12),
    "ntm/priority-sort-v1": dict(num_items=4, num_outputs=2),
}


def make(task, seed=0, n=4, **hparams):
    spec = get_spec(task)
    knobs = spec.make_knobs(None, **TASK_KNOBS.get(task, {}))
    batch = collate(spec.generate(n, seed=seed, split="train", knobs=knobs))
    torch.manual_seed(seed)
    model = models.create("dnc", task, knobs=knobs, **{**SMALL, **hparams})
    return model, batch


def test_registered_with_paper_settings():
    assert "dnc" in models.list_models()
    cls = models.get_model("dnc")
    hp = models.make_hparams("dnc")
    assert (hp.controller_size, hp.controller_layers, hp.memory_size, hp.memory_width) == (
        100,
        1,
        128,
        20,
    )
    assert hp.read_heads == 1 and hp.clip == 20.0
    assert cls.optimizer.name == "rmsprop" and cls.optimizer.lr == 1e-4
    assert cls.optimizer.momentum == 0.9 and cls.optimizer.clip_value == 10.0
    assert cls.causal and not cls.amp_safe


def test_interface_size_is_the_papers():
    for R in (1, 4):
        model, _ = make("ntm/copy-v1", read_heads=R)
        W = SMALL["memory_width"]
        assert model.interface.out_features == R * W + 3 * W + 5 * R + 3


@pytest.mark.parametrize("read_heads", [1, 2])
@pytest.mark.parametrize("task", sorted(TASK_KNOBS))
def test_shapes_and_finite_gradients_on_every_ntm_task(task, read_heads):
    model, batch = make(task, read_heads=read_heads)
    logits = model(batch)
    assert logits.shape == batch["targets"].shape
    loss = models.loss(logits, batch)
    loss.backward()
    assert torch.isfinite(loss)
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.interface.weight.grad.abs().sum() > 0


def test_reads_a_token_task():
    spec = get_spec("babi/qa1-v1")
    knobs = spec.make_knobs(None)
    batch = collate(spec.generate(2, seed=0, split="train", knobs=knobs))
    model = models.create("dnc", spec, knobs=knobs, read_heads=4, embed_size=8, **SMALL)
    logits = model(batch)
    assert logits.shape == (*batch["inputs"].shape, model.io.output_size)
    models.loss(logits, batch).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_deep_controller_on_zero_input():
    model, batch = make("ntm/copy-v1", controller_layers=2, read_heads=2)
    assert model.out.in_features == 2 * 16 + 2 * 4
    batch = dict(batch, inputs=torch.zeros_like(batch["inputs"]))  # zero memory, zero input
    logits = model(batch)
    models.loss(logits, batch).backward()
    assert torch.isfinite(logits).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_allocation_gate_chooses_between_allocation_and_content():
    model, batch = make("ntm/copy-v1", read_heads=1, memory_size=6)
    sizes = model.interface_sizes  # keys, write vector, strengths, gates, read modes
    gates = sum(sizes[:3])  # gates: erase [W], free [R], allocation gate, write gate
    alloc_gate, write_gate = gates + sizes[3] - 2, gates + sizes[3] - 1
    x_t = model.reader(batch["inputs"])[:, 0]
    write_index = STATE.index("write_weights")
    with torch.no_grad():
        model.interface.weight.zero_()
        for g_a, want in ((20.0, torch.eye(6)[0]), (-20.0, torch.full((6,), 1 / 6))):
            model.interface.bias.zero_()
            model.interface.bias[write_gate] = 20.0
            model.interface.bias[alloc_gate] = g_a
            _, state = model.step(x_t, model.initial_state(x_t.shape[0]))
            # g^a = 1: the least used slot (slot 0 on an empty memory); g^a = 0: content
            # addressing of an empty memory, every slot alike
            close(state[write_index], want.expand(x_t.shape[0], 6), atol=1e-5)


def test_weightings_stay_in_range_along_an_episode():
    model, batch = make("ntm/copy-v1", n=6, read_heads=2, memory_size=6)
    with torch.no_grad():  # large interface weights: saturated gates, sharp addressing
        model.interface.weight.mul_(8.0)
        x = model.reader(batch["inputs"])
        state = model.initial_state(x.shape[0])
        idx = {name: i for i, name in enumerate(STATE)}
        tol = 1e-5
        for x_t in x.unbind(1):
            _, state = model.step(x_t, state)
            read_w = state[idx["read_weights"]]
            write_w = state[idx["write_weights"]]
            usage, link = state[idx["usage"]], state[idx["link"]]
            prec = state[idx["precedence"]]
            assert (read_w >= 0).all() and (read_w.sum(-1) <= 1 + tol).all()
            assert (write_w >= 0).all() and (write_w.sum(-1) <= 1 + tol).all()
            assert (usage >= 0).all() and (usage <= 1 + tol).all()
            assert (prec >= 0).all() and (prec.sum(-1) <= 1 + tol).all()
            assert (link >= -tol).all() and (link.diagonal(dim1=1, dim2=2) == 0).all()
            assert (link.sum(1) <= 1 + tol).all() and (link.sum(2) <= 1 + tol).all()
        assert usage.sum() > 0 and link.sum() > 0  # the episode did write and link


def test_step_is_what_forward_runs_and_compiles_without_graph_breaks():
    model, batch = make("ntm/copy-v1", read_heads=2)
    want = model(batch)
    assert model.compile_step(backend="eager", fullgraph=True) is True
    torch.testing.assert_close(model(batch), want)


def test_loss_decreases_on_a_tiny_copy_task():
    spec = get_spec("ntm/copy-v1")
    knobs = spec.make_knobs(None, max_length=3, width=4)
    torch.manual_seed(0)
    model = models.create(
        "dnc", spec, knobs=knobs, controller_size=32, memory_size=8, memory_width=8
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(60):
        batch = collate(spec.generate(32, seed=step, split="train", knobs=knobs))
        loss = models.loss(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # chance is ln 2 = 0.693 per bit; a model that cannot store and recall stays there
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert first > 0.68 and last < first - 0.05, (first, last)
