"""The runner's fixed training sets (bAbI-1k/10k), model defaults, epochs, and its scores on the
bAbI release's own files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import memtasks  # noqa: E402
from memtasks.errors import MemtasksError  # noqa: E402
from memtasks.loaders import babi as release  # noqa: E402
from memtasks.models import _base  # noqa: E402
from memtasks.models.training import RunSettings as RunConfig  # noqa: E402
from memtasks.models.training import (  # noqa: E402
    answer_spans,
    fixed_training_set,
    resolve,
    run,
)

TINY = {"hidden_size": 8, "num_layers": 1, "embed_size": 8}


def babi(tmp_path, **changes) -> RunConfig:
    values = dict(
        model="lstm",
        task="babi/qa1-v1",
        hparams=dict(TINY),
        device="cpu",
        train_questions=60,
        epochs=3,
        batch_size=4,
        eval_episodes=20,
        eval_batch_size=10,
        log_every=1,
        checkpoint_every=0,
        progress=False,
        out=tmp_path / "results.json",
    )
    values.update(changes)
    return RunConfig(**values)


def test_answer_spans_counts_runs_of_answer_positions_per_episode():
    batch = memtasks.generate("babi/qa8-v1", 30, seed=0)  # lists: answers of several words
    spans = answer_spans(batch)
    from memtasks.views import qa

    assert spans.tolist() == np.bincount(qa(batch).episode, minlength=len(batch)).tolist()
    assert spans.tolist() == batch.meta["questions"].tolist()


@pytest.mark.parametrize("task, questions", [("babi/qa1-v1", 37), ("babi/qa16-v1", 10)])
def test_fixed_set_is_the_first_stories_holding_the_questions(task, questions):
    spec = memtasks.get_spec(task)
    knobs = spec.make_knobs()
    chosen, info = fixed_training_set(spec, knobs, 3, questions)
    assert chosen.equals(spec.generate(len(chosen), 3, "train", knobs=knobs))
    spans = answer_spans(chosen)
    # enough questions, and without its last story it would not be enough
    assert spans.sum() >= questions > spans[:-1].sum()
    assert info["questions"] == spans.sum() and info["episodes"] == len(chosen)


def test_joint_fixed_set_has_the_questions_of_every_task():
    spec = memtasks.get_spec("babi/joint-v1")
    knobs = spec.make_knobs(tasks=(1, 4, 19))
    chosen, info = fixed_training_set(spec, knobs, 0, 25)
    assert set(info["questions_per_task"]) == {"1", "4", "19"}
    spans, task = answer_spans(chosen), chosen.meta["task"]
    for t in (1, 4, 19):
        mine = spans[task == t]
        assert mine.sum() >= 25 > mine[:-1].sum(), t
        assert info["questions_per_task"][str(t)] == mine.sum()


def test_model_training_defaults_fill_what_the_run_leaves_open(monkeypatch):
    lstm = _base.SequenceModel  # any model class: patch the defaults of the one we use
    from memtasks.models import get_model

    cls = get_model("lstm")
    monkeypatch.setattr(cls, "training_defaults", {"batch_size": 32, "train_questions": 1000,
                                                   "epochs": 100})  # fmt: skip
    assert issubclass(cls, lstm)
    cfg = resolve(RunConfig(model="lstm", task="babi/qa1-v1"))
    assert (cfg.batch_size, cfg.train_questions, cfg.epochs) == (32, 1000, 100)
    # asking for steps means a stream, unless a fixed set is asked for too
    cfg = resolve(RunConfig(model="lstm", task="babi/qa1-v1", steps=50))
    assert (cfg.train_questions, cfg.epochs, cfg.steps) == (None, None, 50)
    cfg = resolve(RunConfig(model="lstm", task="babi/qa1-v1", train_questions=0))
    assert cfg.train_questions is None and cfg.steps == 10_000
    cfg = resolve(RunConfig(model="lstm", task="babi/qa1-v1", train_questions=200, steps=7))
    assert (cfg.train_questions, cfg.epochs, cfg.steps) == (200, None, 7)
    monkeypatch.setattr(cls, "training_defaults", {})
    cfg = resolve(RunConfig(model="lstm", task="babi/qa1-v1"))
    assert (cfg.batch_size, cfg.train_questions, cfg.steps) == (64, None, 10_000)


def test_epochs_over_a_fixed_set_with_a_held_out_part_and_the_models_hook(tmp_path, monkeypatch):
    from memtasks.models import get_model

    seen = []

    def hook(self, epoch, valid_loss):
        seen.append((epoch, valid_loss))
        return "switched" if epoch == 2 else None

    monkeypatch.setattr(get_model("lstm"), "end_of_epoch", hook)
    results = run(babi(tmp_path))
    info = results["training_set"]
    assert info["questions"] == 60 and info["episodes"] == 12  # qa1: 5 questions a story
    assert info["valid_episodes"] == 1 and info["valid_questions"] == 5
    per_epoch = math.ceil(11 / 4)  # stories, batch 4
    assert results["steps"] == 3 * per_epoch and results["stopped_by"] == "epochs"
    assert [e["epoch"] for e in results["epochs"]] == [1, 2, 3]
    assert [e["step"] for e in results["epochs"]] == [per_epoch, 2 * per_epoch, 3 * per_epoch]
    assert [s[0] for s in seen] == [1, 2, 3]
    assert [e["valid_loss"] for e in results["epochs"]] == [s[1] for s in seen]
    assert [e.get("event") for e in results["epochs"]] == [None, "switched", None]
    assert all(0 <= e["valid_answer_accuracy"] <= 1 for e in results["epochs"])


def test_epochs_resume_exactly(tmp_path):
    straight = run(babi(tmp_path / "a", out=tmp_path / "a" / "r.json"))
    config = babi(tmp_path / "b", out=tmp_path / "b" / "r.json", checkpoint_every=2)
    run(babi(tmp_path / "b", out=tmp_path / "b" / "r.json", epochs=1))  # stopped after one
    resumed = run(RunConfig(**{**config.__dict__, "resume": True}))
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in straight["history"]]
    assert resumed["epochs"] == straight["epochs"]


def test_learning_rate_decays_per_epoch_of_the_fixed_set():
    settings = _base.OptimizerSettings(name="sgd", lr=0.01, decay_every=2, decay=0.5)
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = settings.build([param])
    schedule = settings.schedule(optimizer, steps_per_epoch=3)
    rates = []
    for _ in range(13):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == [0.01] * 6 + [0.005] * 6 + [0.0025]
    # a stream has no epochs: no decay
    optimizer = settings.build([param])
    schedule = settings.schedule(optimizer, steps_per_epoch=None)
    for _ in range(10):
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == 0.01


def _write_release(folder, task_number, episodes, split="test"):
    spec = memtasks.get_spec(f"babi/qa{task_number}-v1")
    vocab = spec.layout(spec.make_knobs()).vocab
    path = release.release_path(folder, "en", task_number, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(release.to_text(episodes, vocab))
    return path


def test_release_files_score_as_the_same_stories_generated(tmp_path):
    """Written in the release's format and read back, the test stories score exactly as the
    generated ones: the release files go through the same vocabulary and metric."""
    test = memtasks.generate("babi/qa1-v1", 20, seed=0, split="test")
    _write_release(tmp_path / "rel", 1, test)
    results = run(babi(tmp_path, release_dir=tmp_path / "rel"))
    assert results["release"]["split"] == "test" and results["release"]["tasks"] == [1]
    generated, released = results["metrics"]["test"], results["metrics"]["release-test"]
    for key in ("answer_accuracy", "questions", "episodes"):
        assert released[key] == generated[key], key
    assert released["loss"] == pytest.approx(generated["loss"], rel=1e-5)


def test_release_training_files_stand_in_when_there_are_no_test_files(tmp_path):
    _write_release(tmp_path / "rel", 1, memtasks.generate("babi/qa1-v1", 6, seed=9), "train")
    results = run(babi(tmp_path, release_dir=tmp_path / "rel", epochs=1))
    assert results["release"]["split"] == "train" and "unseen" in results["release"]["note"]
    assert results["metrics"]["release-train"]["episodes"] == 6


def test_joint_runs_report_each_task(tmp_path):
    results = run(babi(tmp_path, task="babi/joint-v1", knobs={"tasks": (1, 6)}, epochs=1,
                       train_questions=10))  # fmt: skip
    by_task = results["metrics"]["test"]["by_task"]
    assert set(by_task) == {"1", "6"}
    total = sum(v["questions"] for v in by_task.values())
    assert total == results["metrics"]["test"]["questions"]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 2, "train_questions": 0}, "--epochs needs --train-questions"),
        ({"valid_fraction": 1.0}, "valid_fraction must be a number in [0, 1)"),
        ({"train_questions": -3}, "train_questions must be an integer >= 0"),
    ],
)
def test_bad_fixed_set_settings_are_one_line_errors(tmp_path, changes, message):
    with pytest.raises(MemtasksError, match=message.replace("[", r"\[").replace(")", r"\)")):
        run(babi(tmp_path, **changes))
    assert not (tmp_path / "results.json").exists()


def test_a_release_folder_without_the_tasks_files_is_refused(tmp_path):
    (tmp_path / "rel" / "en").mkdir(parents=True)
    with pytest.raises(MemtasksError, match="holds neither the test nor the training files"):
        run(babi(tmp_path, release_dir=tmp_path / "rel"))
    assert not (tmp_path / "results.json").exists()


def test_cli_fixed_set_flags(tmp_path, capsys):
    from memtasks.cli import main

    out = tmp_path / "r.json"
    args = ["baseline", "lstm", "babi/qa1-v1", "--device", "cpu", "--train-questions", "20",
            "--epochs", "1", "--batch-size", "4", "--eval-episodes", "5", "--quiet",
            "--hp", "hidden_size=8", "--hp", "num_layers=1", "--out", str(out)]  # fmt: skip
    main(args)  # returns normally on success (errors exit nonzero)
    saved = json.loads(out.read_text())
    assert saved["training_set"]["questions"] == 20 and saved["epochs_requested"] == 1
    assert "x 4 episodes" in capsys.readouterr().out


def test_patience_stops_and_ends_with_the_best_epochs_weights(tmp_path, monkeypatch):
    from memtasks.models.training import evaluation

    scripted = iter([3.0, 2.0, 2.5, 2.6, 2.7, 2.8])
    real = evaluation.evaluate

    def evaluate(model, spec, batch, *args, **kwargs):
        out = real(model, spec, batch, *args, **kwargs)
        if len(batch) == 1:  # the held-out story (the test set has 20)
            out["loss"] = next(scripted)
        return out

    monkeypatch.setattr(evaluation, "evaluate", evaluate)
    results = run(babi(tmp_path / "a", out=tmp_path / "a" / "r.json", epochs=6, patience=2))
    per_epoch = math.ceil(11 / 4)
    assert results["stopped_by"] == "patience" and results["best_epoch"] == 2
    assert results["steps"] == 4 * per_epoch  # epochs 3 and 4 did not beat epoch 2
    monkeypatch.setattr(evaluation, "evaluate", real)
    two = run(babi(tmp_path / "b", out=tmp_path / "b" / "r.json", epochs=2))
    assert results["metrics"]["test"] == two["metrics"]["test"]  # epoch 2's weights
    ended = torch.load(tmp_path / "a" / "r.json.ckpt", weights_only=False)["model"]
    at_two = torch.load(tmp_path / "b" / "r.json.ckpt", weights_only=False)["model"]
    for k in at_two:
        torch.testing.assert_close(ended[k], at_two[k], rtol=0, atol=0)


# -- several initialisations: the paper's best of 10 ---------------------------------------------
def test_inits_keep_the_lowest_training_error_and_member_0_is_the_plain_run(tmp_path):
    plain = run(babi(tmp_path, out=tmp_path / "one.json"))
    best = run(babi(tmp_path, inits=3, out=tmp_path / "three.json"))
    inits = best.initialisations
    assert inits["count"] == 3 and inits["select"] == "answer_error"
    assert [m["init_seed"] for m in inits["members"]] == [0, 1, 2]
    keys = [(m["train"]["answer_error"], m["train"]["loss"]) for m in inits["members"]]
    assert inits["chosen"] == keys.index(min(keys))
    kept = inits["members"][inits["chosen"]]
    assert best.init_seed == kept["init_seed"]
    for name, metrics in best.metrics.items():  # the run's metrics are the kept member's
        assert {k: v for k, v in metrics.items() if isinstance(v, float)} == kept["metrics"][name]
    # member 0 is the run --inits 1 makes: same seeds, same data, same weights
    assert inits["members"][0]["metrics"]["test"] == {
        k: v for k, v in plain.metrics["test"].items() if isinstance(v, float)
    }
    assert plain.initialisations is None and plain.init_seed == 0
    saved = json.loads((tmp_path / "three.json").read_text())
    assert saved["initialisations"]["chosen"] == inits["chosen"]


def test_init_seed_changes_the_weights_and_not_the_data(tmp_path):
    a = run(babi(tmp_path, out=tmp_path / "a.json"))
    b = run(babi(tmp_path, init_seed=5, out=tmp_path / "b.json"))
    assert a.training_set == b.training_set and b.init_seed == 5 and b.seed == a.seed
    assert a.epochs[0]["valid_loss"] != b.epochs[0]["valid_loss"]  # other weights


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"inits": 2, "train_questions": 0, "epochs": None, "steps": 3},
         "--inits 2: choosing among initialisations by training error needs a fixed training "
         "set"),
        ({"inits": 2, "resume": True}, "--inits 2 keeps no checkpoint to resume"),
        ({"inits": 0}, "inits must be an integer in [1, 1000]"),
    ],
)  # fmt: skip
def test_bad_inits_are_one_line_errors(tmp_path, changes, message):
    with pytest.raises(MemtasksError, match=message.replace("[", r"\[").replace(")", r"\)")) as e:
        run(babi(tmp_path, **changes))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "results.json").exists()


def test_cli_inits_say_which_initialisation_was_kept(tmp_path, capsys):
    from memtasks.cli import main

    out = tmp_path / "r.json"
    args = ["baseline", "lstm", "babi/qa1-v1", "--device", "cpu", "--train-questions", "20",
            "--epochs", "1", "--batch-size", "4", "--eval-episodes", "5", "--quiet",
            "--hp", "hidden_size=8", "--hp", "num_layers=1", "--inits", "2", "--init-seed", "4",
            "--out", str(out)]  # fmt: skip
    main(args)
    saved = json.loads(out.read_text())
    seeds = [m["init_seed"] for m in saved["initialisations"]["members"]]
    assert seeds == [4, 5] and saved["init_seed"] in seeds
    assert f"kept init seed {saved['init_seed']} of 2" in capsys.readouterr().out


def test_a_run_without_a_held_out_set_still_tells_the_model_each_epoch(tmp_path):
    """With no held-out stories the model's end-of-epoch hook still runs (with NaN): MemN2N's
    linear start ends at its cap, where it once never ended."""
    results = run(babi(tmp_path, model="memn2n", valid_fraction=0.0, epochs=3,
                       hparams={"embed_size": 8, "linear_epochs": 2}))  # fmt: skip
    events = [e.get("event", "") for e in results.epochs]
    assert "no held-out set" in events[1] and events[0] == events[2] == ""
    assert all("valid_loss" not in e for e in results.epochs)
