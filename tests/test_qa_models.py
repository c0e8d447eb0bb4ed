"""Every question-answering model (the ones reading the QA view): shapes, masks, independence of
the samples beside it and of padding, finite gradients, flat predictions, and training through
the runner. Each model's own equations are checked in its own file (``test_model_<name>.py``)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import memtasks  # noqa: E402
from memtasks import models  # noqa: E402
from memtasks.models import IncompatibleError  # noqa: E402

SMALL = {
    "memnn": {"embed_size": 12},
    "memn2n": {"embed_size": 12},
    "gated-memn2n": {"embed_size": 12},
    "dmn-plus": {"embed_size": 12},
    "kv-memnn": {"embed_size": 12},
}
TASKS = ("babi/qa1-v1", "babi/qa8-v1", "babi/qa19-v1", "world/qa-v1")  # lists, paths: 2-3 words


def test_every_qa_model_is_covered_here():
    qa_models = {m for m in models.list_models() if models.get_model(m).view == "qa"}
    assert qa_models == set(SMALL)


def _model(name, task):
    torch.manual_seed(0)
    model = models.create(name, task, **SMALL[name])
    model.eval()  # no dropout or random noise: outputs must be comparable
    return model


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", list(SMALL))
def test_shapes_and_independence_of_neighbours_and_padding(name, task):
    episodes = memtasks.generate(task, 6, seed=1)
    model = _model(name, task)
    batch = model.collate(episodes)
    with torch.no_grad():
        logits = model.logits_of(model(batch))
        s = len(batch["answer"])
        vocab = len(memtasks.get_spec(task).layout(memtasks.get_spec(task).make_knobs()).vocab)
        assert logits.shape == (s, model.hp.answer_words, vocab)
        assert torch.isfinite(logits).all()
        # each sample alone gives what it gave among the others (more memory rows, wider
        # sentences and questions of padding around it)
        for i in (0, s // 2, s - 1):
            alone = model.select(batch, torch.tensor([i]))
            n, w = int(alone["sentence_counts"].max()), int((alone["sentences"] != 0).sum(-1).max())
            alone["sentences"] = alone["sentences"][:, :, : max(w, 1)]
            q = int((alone["query"] != 0).sum(-1).max())
            alone["query"] = alone["query"][:, :q]
            assert alone["sentences"].shape[1] == n
            torch.testing.assert_close(
                model.logits_of(model(alone))[0], logits[i], atol=3e-5, rtol=1e-4
            )


@pytest.mark.parametrize("name", list(SMALL))
def test_finite_gradients_and_flat_predictions(name):
    episodes = memtasks.generate("babi/qa2-v1", 4, seed=0)
    model = _model(name, "babi/qa2-v1")
    model.train()
    batch = model.collate(episodes)
    out = model(batch)
    loss = model.loss(out, batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    # predictions land exactly on the scored positions, in the batch's flat layout
    flat = model.predictions(out, batch)
    assert flat.shape == (episodes.num_positions,)
    assert (flat[~episodes.mask] == 0).all()
    words = model.logits_of(out).argmax(-1)
    positions = batch["answer_positions"]
    for s in range(len(positions)):
        for j in range(positions.shape[1]):
            if positions[s, j] >= 0:
                assert flat[positions[s, j]] == words[s, j]
    metric = memtasks.get_spec("babi/qa2-v1").metric.evaluate(episodes, flat)
    assert 0 <= metric["answer_accuracy"] <= 1


@pytest.mark.parametrize("name", list(SMALL))
def test_vector_tasks_are_refused_in_one_line(name):
    with pytest.raises(IncompatibleError, match="bit vectors") as info:
        models.create(name, "ntm/copy-v1")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", list(SMALL))
def test_answers_longer_than_the_output_layer_are_refused(name):
    episodes = memtasks.generate("babi/qa19-v1", 3, seed=0)  # paths of two directions
    model = models.create(name, "babi/qa19-v1", **{**SMALL[name], "answer_words": 1})
    batch = model.collate(episodes)
    with pytest.raises(IncompatibleError, match="answer_words"):
        model.loss(model(batch), batch)


@pytest.mark.parametrize("name", list(SMALL))
def test_runner_trains_each_qa_model_in_question_batches(name, tmp_path):
    from memtasks.models.training import RunSettings as RunConfig
    from memtasks.models.training import run

    results = run(
        RunConfig(
            model=name,
            task="babi/qa1-v1",
            hparams=SMALL[name],
            device="cpu",
            train_questions=40,
            epochs=2,
            batch_size=8,
            eval_episodes=10,
            eval_batch_size=5,
            checkpoint_every=0,
            progress=False,
            out=tmp_path / "r.json",
        )  # fmt: skip
    )
    info = results["training_set"]
    assert info["batch_unit"] == "question"
    trained = info["questions"] - info["valid_questions"]
    assert results["steps"] == 2 * -(-trained // 8)  # epochs x ceil(questions / batch)
    assert 0 <= results["metrics"]["test"]["answer_accuracy"] <= 1
    assert results["metrics"]["test"]["questions"] == 50


SEQUENCE_SMALL = {
    "rnn": {"hidden_size": 8},
    "lstm": {"hidden_size": 8, "num_layers": 1},
    "gru": {"hidden_size": 8},
    "transformer": {"d_model": 8, "heads": 2, "layers": 1, "ff_size": 16},
    "transformer-encdec": {
        "d_model": 8,
        "heads": 2,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "ff_size": 16,
    },  # fmt: skip
    "ntm": {"controller_size": 8, "memory_size": 8, "memory_width": 4},
    "dnc": {"controller_size": 8, "memory_size": 8, "memory_width": 4},
}


@pytest.mark.parametrize("name", list(SEQUENCE_SMALL))
def test_sequence_models_read_the_qa_tasks_as_token_sequences(name):
    """The sequence view of a QA task: the story as tokens, answers at the answer positions."""
    episodes = memtasks.generate("babi/qa2-v1", 3, seed=0)
    torch.manual_seed(0)
    model = models.create(name, "babi/qa2-v1", **SEQUENCE_SMALL[name], embed_size=8)
    batch = model.collate(episodes)
    logits = model(batch)
    vocab = len(memtasks.get_spec("babi/qa2-v1").layout(memtasks.get_spec("babi/qa2-v1")
                                                          .make_knobs()).vocab)  # fmt: skip
    assert logits.shape == (3, int(episodes.lengths.max()), vocab)
    loss = model.loss(logits, batch)
    loss.backward()
    assert torch.isfinite(loss)
    flat = model.predictions(logits, batch)
    assert flat.shape == (episodes.num_positions,)
    assert (
        0
        <= memtasks.get_spec("babi/qa2-v1").metric.evaluate(episodes, flat)["answer_accuracy"]
        <= 1
    )


def test_a_bidirectional_model_is_refused_on_stories_with_later_facts(tmp_path):
    from memtasks.errors import MemtasksError
    from memtasks.models.training import RunSettings as RunConfig
    from memtasks.models.training import run

    with pytest.raises(MemtasksError, match="reads each episode in both directions"):
        run(RunConfig(model="bilstm", task="babi/qa1-v1", device="cpu", train_questions=10,
                      epochs=1, progress=False, out=tmp_path / "r.json"))  # fmt: skip
    assert not (tmp_path / "r.json").exists()
