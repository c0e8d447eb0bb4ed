"""The baseline runner and ``memtasks baseline``: results file, resume, refusals."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("torch")

from memtasks import models  # noqa: E402
from memtasks.cli import main  # noqa: E402
from memtasks.errors import MemtasksError  # noqa: E402
from memtasks.models.training import RunSettings as RunConfig  # noqa: E402
from memtasks.models.training import run  # noqa: E402

TINY = {"hidden_size": 16, "num_layers": 1}
COPY = {"max_length": 4}


def tiny(tmp_path, **changes) -> RunConfig:
    values = dict(
        model="lstm",
        task="ntm/copy-v1",
        knobs=dict(COPY),
        hparams=dict(TINY),
        device="cpu",
        steps=8,
        batch_size=8,
        eval_episodes=16,
        eval_batch_size=8,
        log_every=2,
        checkpoint_every=4,
        progress=False,
        out=tmp_path / "results.json",
    )
    values.update(changes)
    return RunConfig(**values)


def test_results_file_names_the_whole_run(tmp_path):
    results = run(tiny(tmp_path, eval_every=4))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["task"] == "ntm/copy-v1" and saved["model"] == "lstm"
    assert saved["knobs"]["max_length"] == 4 and saved["hparams"]["hidden_size"] == 16
    assert saved["parameters"] == sum(
        p.numel() for p in models.create("lstm", "ntm/copy-v1", **TINY).parameters()
    )
    assert saved["seed"] == 0 and saved["steps"] == 8 and saved["episodes_seen"] == 64
    assert saved["optimizer"]["name"] == "rmsprop" and saved["optimizer"]["lr"] == 1e-4
    for key in ("wall_time_s", "train_time_s", "device", "memtasks_version", "torch_version"):
        assert saved[key], key
    assert "git_commit" in saved
    # a fixed test set and the task's extrapolate preset, each with the task's metric
    assert set(saved["metrics"]) == {"test", "extrapolate"}
    assert saved["eval_knobs"]["extrapolate"]["lengths"] == [10, 20, 30, 50, 120]
    ext = saved["metrics"]["extrapolate"]
    assert set(ext["by_length"]) == {"10", "20", "30", "50", "120"}
    assert ext["episodes"] == 16 and 0 <= ext["sequence_accuracy"] <= 1
    # evaluated at step 4 and at the end; loss logged every 2 steps
    assert [e["step"] for e in saved["evaluations"]] == [4, 8]
    assert [h["step"] for h in saved["history"]] == [2, 4, 6, 8]
    assert saved["metrics"] == json.loads(json.dumps(results["metrics"]))


def test_every_extrapolate_preset_is_an_evaluation_set(tmp_path):
    results = run(tiny(tmp_path, task="ntm/repeat-copy-v1", knobs={"max_length": 3}, steps=1))
    assert set(results["metrics"]) == {
        "test", "extrapolate", "extrapolate-length", "extrapolate-repeats"
    }  # fmt: skip
    # the presets apply over the training knobs: the width the model reads stays
    assert all(k["width"] == 8 for k in results["eval_knobs"].values())


def test_same_seed_same_run_and_different_seed_differs(tmp_path):
    a = run(tiny(tmp_path, out=None))
    b = run(tiny(tmp_path, out=None))
    c = run(tiny(tmp_path, out=None, seed=1))
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["metrics"]["test"]["loss"] == b["metrics"]["test"]["loss"]
    assert a["metrics"]["test"]["loss"] != c["metrics"]["test"]["loss"]


def _params(path):
    return torch.load(path, weights_only=False)["model"]


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    straight = tmp_path / "straight"
    split = tmp_path / "split"
    run(tiny(straight, out=straight / "r.json"))
    run(tiny(split, out=split / "r.json", steps=4))  # "interrupted" after 4 steps
    assert torch.load(split / "r.json.ckpt", weights_only=False)["step"] == 4
    resumed = run(tiny(split, out=split / "r.json", steps=8, resume=True))
    assert resumed["steps"] == 8
    a, b = _params(straight / "r.json.ckpt"), _params(split / "r.json.ckpt")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    full = json.loads((straight / "r.json").read_text())
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]


def test_checkpoint_of_another_run_is_refused(tmp_path):
    run(tiny(tmp_path, steps=4))
    with pytest.raises(MemtasksError, match="belongs to another run.*seed"):
        run(tiny(tmp_path, steps=8, seed=3, resume=True))
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(MemtasksError, match="cannot read checkpoint"):
        run(tiny(tmp_path, checkpoint=tmp_path / "junk.ckpt", resume=True))


def test_threads_setting_is_applied_and_recorded(tmp_path):
    before = torch.get_num_threads()
    try:
        results = run(tiny(tmp_path, out=None, steps=1, threads=2))
        assert results["device"].endswith("(2 threads)")
    finally:
        torch.set_num_threads(before)
    with pytest.raises(MemtasksError, match="threads must be an integer >= 1"):
        run(tiny(tmp_path, threads=0))


def test_time_limit_stops_early_and_says_so(tmp_path):
    results = run(tiny(tmp_path, steps=10_000, time_limit=0.5, checkpoint_every=0))
    assert results["stopped_by"] == "time_limit"
    assert 0 < results["steps"] < 10_000
    assert results["history"][-1]["step"] == results["steps"]


def test_bidirectional_model_refused_where_scored_positions_carry_inputs(tmp_path):
    with pytest.raises(MemtasksError, match="bilstm reads each episode in both directions"):
        run(tiny(tmp_path, model="bilstm", task="ntm/dynamic-ngrams-v1", knobs={"length": 20}))
    # copy's answer phase has blank inputs: a bidirectional model reads nothing it should not
    results = run(tiny(tmp_path, model="bilstm", out=None, steps=2))
    assert results["steps"] == 2


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"device": "tpu"}, "--device must be auto, cpu, cuda or cuda:N"),
        ({"model": "lstn"}, "unknown model 'lstn' \\(did you mean 'lstm'\\?\\)"),
        ({"hparams": {"hidden_size": 0}}, "lstm: hyperparameter 'hidden_size' must be"),
        ({"hparams": {"hiden_size": 3}}, "lstm has no hyperparameter 'hiden_size'"),
        ({"knobs": {"max_length": 0}}, "knob 'max_length' must be"),
        ({"steps": -1}, "steps must be an integer >= 0"),
        ({"lr": 0.0}, "lr must be a number in"),
        ({"model": "ntm", "amp": True}, "mixed precision is not safe"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, changes, message):
    if changes.get("model") == "ntm":
        changes["hparams"] = {}
    with pytest.raises(MemtasksError, match=message) as info:
        run(tiny(tmp_path, **changes))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "results.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is absent")
def test_cuda_without_a_gpu_is_refused(tmp_path):
    with pytest.raises(MemtasksError, match="no CUDA device is available"):
        run(tiny(tmp_path, device="cuda"))


def test_cli_baseline_writes_results_and_summary(tmp_path, capsys):
    out = tmp_path / "r.json"
    args = ["baseline", "lstm", "ntm/copy-v1", "--set", "max_length=3", "--hp", "hidden_size=8",
            "--hp", "num_layers=1", "--steps", "3", "--batch-size", "4", "--eval-episodes", "8",
            "--device", "cpu", "--quiet", "--out", str(out)]  # fmt: skip
    main(args)
    text = capsys.readouterr().out
    assert "lstm on ntm/copy-v1: 3 steps x 4 episodes" in text and "extrapolate:" in text
    saved = json.loads(out.read_text())
    assert saved["steps"] == 3 and saved["hparams"]["hidden_size"] == 8
    # running it again onto the same file is refused (nothing overwritten) unless resuming
    before = out.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "exists" in err and err.count("\n") == 1 and "Traceback" not in err
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    "args, expected",
    [
        (["lstm", "ntm/copy-v1", "--hp", "hidden=3"], "lstm has no hyperparameter 'hidden'"),
        (["lstm", "ntm/copy-v1", "--hp", "hidden_size"], "--hp takes name=value"),
        (["lstm", "ntm/nope-v1"], "unknown task"),
        (["transformer", "ntm/copy-v1", "--hp", "norm=mid"], "hyperparameter 'norm' must be"),
        (["bilstm", "ntm/dynamic-ngrams-v1", "--device", "cpu"], "both directions"),
        (["lstm"], "baseline takes MODEL and TASK"),
    ],
)
def test_cli_refusals_are_one_line(tmp_path, capsys, args, expected):
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as exit_info:
        main(["baseline", *args, "--steps", "1", "--quiet", "--out", str(out)])
    assert exit_info.value.code in (1, 2)
    err = capsys.readouterr().err
    assert expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_cli_list_models_names_every_model(capsys):
    main(["baseline", "--list-models"])
    text = capsys.readouterr().out
    for name in models.list_models():
        assert any(line.startswith(name + " ") for line in text.splitlines()), name
    assert "hyperparameters: embed_size=64, hidden_size=256, num_layers=3" in text
    assert "optimiser: rmsprop lr 0.0001, clip 10" in text
