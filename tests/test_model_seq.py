"""The sequence reference models: rnn, gru, bilstm, transformer, transformer-encdec.

Small configurations on the CPU. What is checked: output shapes on every NTM task and on a
token task; that an episode's outputs do not depend on the batch it is in or on what its
padding holds (catches packing and mask bugs); causality for the causal models; that the
bidirectional LSTM really reads the future; the encoder-decoder's split, empty source and
scatter back; pre- vs post-norm; and that a few Adam steps lower the loss.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from memtasks import models  # noqa: E402
from memtasks.models import TaskIO  # noqa: E402
from memtasks.registry import get_spec  # noqa: E402
from memtasks.torch import collate  # noqa: E402

SMALL = {
    "rnn": {"hidden_size": 16},
    "gru": {"hidden_size": 16},
    "bilstm": {"hidden_size": 16},
    "transformer": {"d_model": 32, "heads": 4, "layers": 2, "ff_size": 64},
    "transformer-encdec": {
        "d_model": 32,
        "heads": 4,
        "encoder_layers": 1,
        "decoder_layers": 2,
        "ff_size": 64,
    },
}
MODELS = list(SMALL)
CAUSAL = [m for m in MODELS if m != "bilstm"]

# task -> (knobs of the model and of most episodes, knobs of one longer episode)
TASKS = {
    "ntm/copy-v1": ({"max_length": 4}, {"min_length": 6, "max_length": 6}),
    "ntm/repeat-copy-v1": (
        {"max_length": 3, "max_repeats": 2},
        {"min_length": 4, "max_length": 4, "max_repeats": 2},
    ),
    "ntm/associative-recall-v1": ({"max_items": 3}, {"min_items": 4, "max_items": 4}),
    "ntm/dynamic-ngrams-v1": ({"length": 8}, {"length": 12}),
    "ntm/priority-sort-v1": (
        {"num_items": 4, "num_outputs": 2},
        {"num_items": 6, "num_outputs": 3},
    ),
}
TOKEN_TASK = "babi/qa1-v1"


def build(name: str, task: str, knobs, **overrides):
    torch.manual_seed(0)
    model = models.create(name, task, knobs=knobs, **{**SMALL[name], **overrides})
    return model.eval()


def episodes(task: str):
    """(knobs, singles, batch): three short episodes and one longer one, each collated alone
    (no padding) and all four in one padded batch, the longest last."""
    spec = get_spec(task)
    if task == TOKEN_TASK:
        knobs = spec.make_knobs(None)
        parts = [spec.generate(4, seed=0, split="train", knobs=knobs)]
    else:
        short, long = TASKS[task]
        knobs = spec.make_knobs(None, **short)
        long_knobs = spec.make_knobs(None, **long)
        assert TaskIO.of(spec, long_knobs) == TaskIO.of(spec, knobs)  # same widths
        parts = [
            spec.generate(3, seed=1, split="train", knobs=knobs),
            spec.generate(1, seed=2, split="train", knobs=long_knobs),
        ]
    batch = collate(parts)
    singles = [collate(p[i]) for p in parts for i in range(len(p))]
    lengths = batch["lengths"]
    assert len(set(lengths.tolist())) > 1, "the batch must have padding to test"
    return knobs, singles, batch


def perturbed(inputs: torch.Tensor, b: int, t, io: TaskIO) -> torch.Tensor:
    """A copy of ``inputs`` with episode b's input at position(s) t changed."""
    out = inputs.clone()
    if io.is_vector:
        out[b, t] += 1.0
    else:
        out[b, t] = out[b, t] % (io.input_size - 1) + 1  # another non-padding id
    return out


def run(model, batch, inputs=None) -> torch.Tensor:
    with torch.no_grad():
        return model(batch if inputs is None else {**batch, "inputs": inputs})


# ---------------------------------------------------------------------------------------------
# every model on every task
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", [*TASKS, TOKEN_TASK])
@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_padding_independence(name, task):
    knobs, singles, batch = episodes(task)
    model = build(name, task, knobs)
    out = run(model, batch)
    targets = batch["targets"]
    if model.io.is_vector:
        assert out.shape == targets.shape
    else:
        assert out.shape == (*targets.shape, model.io.output_size)
    assert torch.isfinite(out).all()
    assert models.loss(out, batch).isfinite()

    # Each episode alone (no padding at all) gives the outputs it gets inside the batch.
    for b, single in enumerate(singles):
        n = int(single["lengths"][0])
        torch.testing.assert_close(run(model, single)[0, :n], out[b, :n], atol=1e-5, rtol=1e-5)

    # Whatever the padding holds, real positions do not see it.
    valid = torch.arange(targets.shape[1])[None, :] < batch["lengths"][:, None]
    noisy = batch["inputs"].clone()
    if model.io.is_vector:
        noisy[~valid] = torch.rand_like(noisy[~valid]) * 4 - 2
    else:
        noisy[~valid] = torch.randint_like(noisy[~valid], 1, model.io.input_size)
    torch.testing.assert_close(run(model, batch, noisy)[valid], out[valid], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("task", [*TASKS, TOKEN_TASK])
@pytest.mark.parametrize("name", CAUSAL)
def test_causal_models_do_not_read_the_future(name, task):
    knobs, _, batch = episodes(task)
    model = build(name, task, knobs)
    assert model.causal
    out = run(model, batch)
    b = len(batch["lengths"]) - 1  # the longest episode
    n = int(batch["lengths"][b])
    t = n // 2
    changed = run(model, batch, perturbed(batch["inputs"], b, t, model.io))
    torch.testing.assert_close(changed[b, :t], out[b, :t], atol=1e-6, rtol=0)  # past: same
    assert not torch.allclose(changed[b, t:n], out[b, t:n], atol=1e-6)  # the change is read
    others = torch.arange(len(batch["lengths"])) != b
    torch.testing.assert_close(changed[others], out[others], atol=1e-6, rtol=0)  # no leaks


# ---------------------------------------------------------------------------------------------
# bidirectional LSTM
# ---------------------------------------------------------------------------------------------
def test_bilstm_reads_the_whole_episode_but_not_its_padding():
    knobs, _, batch = episodes("ntm/copy-v1")
    model = build("bilstm", "ntm/copy-v1", knobs)
    assert not model.causal
    out = run(model, batch)
    lengths = batch["lengths"]
    b = int(torch.argmin(lengths))  # a short episode: it has padding after it
    n = int(lengths[b])
    assert n < batch["inputs"].shape[1]
    # Its first output depends on its last input: the backward direction starts there...
    last = run(model, batch, perturbed(batch["inputs"], b, n - 1, model.io))
    assert not torch.allclose(last[b, 0], out[b, 0], atol=1e-6)
    # ...and not at the end of the padding.
    pad = run(model, batch, perturbed(batch["inputs"], b, slice(n, None), model.io))
    torch.testing.assert_close(pad[b, :n], out[b, :n], atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------
# encoder-decoder
# ---------------------------------------------------------------------------------------------
def source_lengths(batch) -> torch.Tensor:
    mask = batch["mask"]
    return torch.where(mask.any(1), mask.to(torch.uint8).argmax(1), batch["lengths"])


def test_encdec_runs_on_an_empty_source():
    task = "ntm/dynamic-ngrams-v1"  # scored from position 0: nothing for the encoder to read
    knobs, _, batch = episodes(task)
    assert (source_lengths(batch) == 0).all()
    model = build("transformer-encdec", task, knobs)
    out = run(model, batch)
    assert torch.isfinite(out).all()
    assert (out[:, 0] != 0).any()  # position 0 is the decoder's, not a zero-filled source slot
    changed = run(model, batch, perturbed(batch["inputs"], 0, 0, model.io))
    assert not torch.allclose(changed[0, 0], out[0, 0], atol=1e-6)


@pytest.mark.parametrize("task", ["ntm/copy-v1", "ntm/associative-recall-v1"])
def test_encdec_outputs_are_scattered_back_in_place(task):
    knobs, _, batch = episodes(task)
    model = build("transformer-encdec", task, knobs)
    out = run(model, batch)
    src_len, lengths = source_lengths(batch), batch["lengths"]
    assert len(set(src_len.tolist())) > 1  # episodes split at different positions
    for b in range(len(lengths)):
        s, n = int(src_len[b]), int(lengths[b])
        assert (out[b, :s] == 0).all()  # source positions carry no output
        # A source input reaches the decoder's outputs (through cross-attention)...
        src = run(model, batch, perturbed(batch["inputs"], b, 0, model.io))
        assert not torch.allclose(src[b, s:n], out[b, s:n], atol=1e-6)
        # ...and a decoder input at t changes outputs from t on, never before: the first
        # output that moves is exactly at t, so decoder slot j lands on position s + j.
        for t in range(s, n):
            dec = run(model, batch, perturbed(batch["inputs"], b, t, model.io))
            moved = (dec[b] - out[b]).abs().amax(-1) > 1e-6
            assert int(moved.to(torch.uint8).argmax()) == t and moved[t], (b, t)


@pytest.mark.parametrize("name", ["transformer", "transformer-encdec"])
def test_pre_and_post_norm_both_run_and_differ(name):
    knobs, _, batch = episodes("ntm/copy-v1")
    pre = run(build(name, "ntm/copy-v1", knobs, norm="pre"), batch)
    post = run(build(name, "ntm/copy-v1", knobs, norm="post"), batch)
    assert torch.isfinite(pre).all() and torch.isfinite(post).all()
    valid = batch["mask"]
    assert not torch.allclose(pre[valid], post[valid], atol=1e-4)


def test_transformer_hparams_are_checked():
    with pytest.raises(ValueError, match="heads must divide d_model"):
        models.make_hparams("transformer", {"d_model": 30, "heads": 4})
    with pytest.raises(ValueError, match="even"):
        models.make_hparams("transformer-encdec", {"d_model": 33, "heads": 3})


# ---------------------------------------------------------------------------------------------
# a token task, and training
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_token_task_shapes(name):
    spec = get_spec(TOKEN_TASK)
    batch = collate(spec.generate(4, seed=0, split="train"))
    model = build(name, TOKEN_TASK, None, embed_size=16)
    out = run(model, batch)
    B, T = batch["inputs"].shape
    assert out.shape == (B, T, model.io.output_size)
    assert model.io.output_size == model.io.input_size > 2


@pytest.mark.parametrize("name", MODELS)
def test_a_few_adam_steps_lower_the_loss(name):
    spec = get_spec("ntm/copy-v1")
    knobs = spec.make_knobs(None, max_length=3)
    batch = collate(spec.generate(16, seed=0, split="train", knobs=knobs))
    model = build(name, "ntm/copy-v1", knobs).train()
    # The model's own settings, without the transformer's warmup (30 steps is all of it).
    settings = model.optimizer.replace(warmup=0, lr=1e-2)
    assert settings.name == "adam"
    opt = settings.build(model.parameters())
    losses = []
    for _ in range(30):
        loss = models.loss(model(batch), batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses
