"""Every reference model on every NTM task: shapes, padding, causality, finite gradients, learning.

Each architecture has its own file of exact checks (``test_model_ntm.py``, ``test_model_dnc.py``,
``test_model_seq.py``); this file holds the properties every model must share, run on all of
them in small configurations.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from memtasks import models  # noqa: E402
from memtasks.registry import get_spec  # noqa: E402
from memtasks.torch import collate  # noqa: E402

SMALL = {
    "rnn": {"hidden_size": 16},
    "lstm": {"hidden_size": 16, "num_layers": 1},
    "gru": {"hidden_size": 16},
    "bilstm": {"hidden_size": 16, "num_layers": 1},
    "transformer": {"d_model": 16, "heads": 2, "layers": 1, "ff_size": 32},
    "transformer-encdec": {
        "d_model": 16,
        "heads": 2,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "ff_size": 32,
    },
    "ntm": {"controller_size": 16, "memory_size": 8, "memory_width": 6},
    "dnc": {"controller_size": 16, "memory_size": 8, "memory_width": 6},
}
TASKS = {
    "ntm/copy-v1": {"max_length": 4},
    "ntm/repeat-copy-v1": {"max_length": 3, "max_repeats": 2},
    "ntm/associative-recall-v1": {"max_items": 3},
    "ntm/dynamic-ngrams-v1": {"length": 12},
    "ntm/priority-sort-v1": {"num_items": 5, "num_outputs": 3},
}


def test_every_sequence_model_is_covered_here():
    # the models that read the QA view are covered by test_qa_models.py
    sequence = [m for m in models.list_models() if models.get_model(m).view == "padded"]
    assert set(sequence) == set(SMALL)


def _model(name, task, knobs, **extra):
    torch.manual_seed(0)
    return models.create(name, task, knobs=knobs, **{**SMALL[name], **extra})


def _batch(task, n=6, start=0):
    spec = get_spec(task)
    knobs = spec.make_knobs(None, **TASKS[task])
    return spec, knobs, spec.generate(n, seed=0, split="train", start=start, knobs=knobs)


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("name", list(SMALL))
def test_shapes_padding_and_finite_gradients(name, task):
    spec, knobs, episodes = _batch(task)
    model = _model(name, spec, knobs)
    batch = collate(episodes)
    logits = model(batch)
    assert logits.shape == batch["targets"].shape
    loss = models.loss(logits, batch)
    loss.backward()
    assert torch.isfinite(loss)
    for pname, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), pname
    # An episode's outputs do not depend on the episodes padded beside it: compare it alone
    # with it inside the batch, over its own positions (catches packing and masking bugs).
    model.eval()
    with torch.no_grad():
        together = model(batch)
        for i in range(len(episodes)):
            alone = model(collate(episodes[i]))
            n = int(batch["lengths"][i])
            torch.testing.assert_close(together[i, :n], alone[0, :n], atol=2e-5, rtol=1e-4)
    # predictions come back in the episode batch's flat layout, which the metric reads
    metrics = spec.metric.evaluate(episodes, models.predictions(together, batch))
    assert metrics["bits_per_sequence"] > 0


@pytest.mark.parametrize("name", [n for n in SMALL if models.get_model(n).causal])
def test_causal_models_do_not_read_ahead(name):
    spec, knobs, episodes = _batch("ntm/dynamic-ngrams-v1", n=2)
    model = _model(name, spec, knobs).eval()
    batch = collate(episodes)
    t = 6
    changed = {**batch, "inputs": batch["inputs"].clone()}
    changed["inputs"][:, t:] = 1.0 - changed["inputs"][:, t:]
    with torch.no_grad():
        a, b = model(batch), model(changed)
    torch.testing.assert_close(a[:, :t], b[:, :t], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(a[:, t:], b[:, t:])


@pytest.mark.parametrize("name", ["ntm", "dnc"])
def test_zero_memory_gives_no_nan(name):
    spec, knobs, episodes = _batch("ntm/copy-v1")
    model = _model(name, spec, knobs)
    for buffer_name, buf in model.named_buffers():
        if "memory" in buffer_name:
            buf.zero_()
    for pname, p in model.named_parameters():
        if "memory" in pname:
            p.data.zero_()
    batch = collate(episodes)
    loss = models.loss(model(batch), batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", list(SMALL))
def test_loss_decreases_when_fitting_a_batch(name):
    """Every model can fit a fixed batch of copy episodes: its gradients reach every part
    that decides the output (a wiring bug leaves the loss near log 2)."""
    spec = get_spec("ntm/copy-v1")
    knobs = spec.make_knobs(None, max_length=3)
    model = _model(name, spec, knobs)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = collate(spec.generate(8, seed=0, split="train", knobs=knobs))
    losses = []
    for _ in range(80):
        loss = models.loss(model(batch), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize("name", list(SMALL))
def test_token_task_gives_vocabulary_logits(name):
    spec = get_spec("babi/qa1-v1")
    episodes = spec.generate(3, seed=0, split="train")
    model = _model(name, spec, spec.make_knobs(None), embed_size=8)
    batch = collate(episodes)
    logits = model(batch)
    vocab = len(spec.layout(spec.make_knobs(None)).vocab)
    assert logits.shape == (*batch["targets"].shape, vocab)
    loss = models.loss(logits, batch)
    assert torch.isfinite(loss)
    right = spec.metric.evaluate(episodes, models.predictions(logits, batch))
    assert 0 <= right["answer_accuracy"] <= 1
