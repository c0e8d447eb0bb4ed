"""The baseline runner under faults: crafted checkpoints, outputs that cannot be written, a full
disk at save time, Ctrl-C and SIGTERM during training, and flags the runner would ignore.

Every fault is injected (a patched function raises, a signal is sent at a chosen step), and a
run that was interrupted and resumed must end exactly as an unbroken one (DESIGN.md section 6).
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import signal

import pytest

torch = pytest.importorskip("torch")

from _cli import run as cli_run  # noqa: E402

import memtasks  # noqa: E402
from memtasks.cli import cli  # noqa: E402
from memtasks.errors import MemtasksError  # noqa: E402
from memtasks.loaders import babi as release  # noqa: E402
from memtasks.models import get_model  # noqa: E402
from memtasks.models.training import (  # noqa: E402
    CHECKPOINT_FORMAT,
    LR_RANGE,
    RunInterrupted,
    run,
)
from memtasks.models.training import RunSettings as RunConfig  # noqa: E402
from memtasks.models.training import data as training_data  # noqa: E402

TINY = {"hidden_size": 16, "num_layers": 1}
STEPS = 8


def tiny(folder: pathlib.Path, **changes) -> RunConfig:
    values = dict(
        model="lstm",
        task="ntm/copy-v1",
        knobs={"max_length": 4},
        hparams=dict(TINY),
        device="cpu",
        steps=STEPS,
        batch_size=8,
        eval_episodes=16,
        eval_batch_size=8,
        log_every=2,
        checkpoint_every=4,
        progress=False,
        out=folder / "r.json",
    )
    values.update(changes)
    return RunConfig(**values)


CLI_TINY = ["baseline", "lstm", "ntm/copy-v1", "--set", "max_length=4", "--hp", "hidden_size=16",
            "--hp", "num_layers=1", "--steps", str(STEPS), "--batch-size", "8",
            "--eval-episodes", "16", "--device", "cpu", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An unbroken run: what every interrupted and resumed run must end as."""
    folder = tmp_path_factory.mktemp("straight")
    results = run(tiny(folder))
    return results, torch.load(folder / "r.json.ckpt", weights_only=True)["model"]


def assert_same_run(results: dict, ckpt: pathlib.Path, straight) -> None:
    expected, weights = straight
    assert results["steps"] == expected["steps"] == STEPS
    assert [(h["step"], h["loss"]) for h in results["history"]] == [
        (h["step"], h["loss"]) for h in expected["history"]
    ]
    assert results["metrics"] == json.loads(json.dumps(expected["metrics"]))
    ours = torch.load(ckpt, weights_only=True)["model"]
    assert ours.keys() == weights.keys()
    for k in ours:
        torch.testing.assert_close(ours[k], weights[k], rtol=0, atol=0)


def one_line(message: str) -> None:
    assert message and "\n" not in message.rstrip("\n") and "Traceback" not in message


def no_temporaries(folder: pathlib.Path) -> None:
    assert not [p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".probe"))]


# -- item 4: a checkpoint is data, never code ----------------------------------------------------
class Payload:
    """Unpickled by a full pickle loader, this calls ``Path.touch(marker)``: code from the file."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.mark.parametrize("where", ["identity", "model"])
def test_a_crafted_checkpoint_runs_no_code(tmp_path, capsys, where):
    marker = tmp_path / "code-ran"
    ckpt = tmp_path / "r.json.ckpt"
    crafted = {"format": CHECKPOINT_FORMAT, "identity": "{}", "progress": "{}"}
    crafted[where] = Payload(marker)
    torch.save(crafted, ckpt)
    with pytest.raises(MemtasksError, match="holds objects other than tensors") as info:
        run(tiny(tmp_path, resume=True))
    one_line(str(info.value))
    assert not marker.exists()
    code, _, err = cli_run(capsys, *CLI_TINY, "--out", str(tmp_path / "r.json"), "--resume")
    assert code == 1 and err.startswith("memtasks: error: cannot read checkpoint")
    one_line(err)
    assert not marker.exists()
    assert not (tmp_path / "r.json").exists()


def test_a_checkpoint_holds_tensors_and_plain_data_only(tmp_path):
    run(tiny(tmp_path, steps=4))
    state = torch.load(tmp_path / "r.json.ckpt", weights_only=True)  # raises on anything else
    assert state["format"] == CHECKPOINT_FORMAT and state["step"] == 4
    progress = json.loads(state["progress"])
    assert progress["step"] == 4 and [h["step"] for h in progress["history"]] == [2, 4]
    assert json.loads(state["identity"])["knobs"]["max_length"] == 4


def test_a_file_that_is_no_checkpoint_is_one_line(tmp_path):
    (tmp_path / "r.json.ckpt").write_bytes(b"not a checkpoint\n")
    with pytest.raises(MemtasksError, match="not a file written by torch.save") as info:
        run(tiny(tmp_path, resume=True))
    one_line(str(info.value))


# -- item 5: outputs checked before training -------------------------------------------------------
def _no_training(monkeypatch):
    """Training streams its batches: a refusal must come before the stream is made."""

    def stream(*args, **kwargs):
        raise AssertionError("training started before the refusal")

    monkeypatch.setattr(training_data, "EpisodeStream", stream)


@pytest.mark.parametrize(
    "paths, message",
    [
        (lambda t: {"out": pathlib.Path("/proc/memtasks-test/r.json")}, "--out .*cannot write in"),
        (lambda t: {"checkpoint": pathlib.Path("/proc/r.ckpt")}, "--checkpoint .*cannot write in"),
        (lambda t: {"out": t / "file" / "r.json"}, "--out .*file is a file, not a folder"),
        (lambda t: {"out": t / "file" / "deeper" / "r.json"}, "file is a file, not a folder"),
        (lambda t: {"checkpoint": t / "file" / "c.ckpt"}, "--checkpoint .*is a file, not a"),
        (lambda t: {"out": t / "folder"}, "--out .*folder is a folder; give a file path"),
        (lambda t: {"checkpoint": t / "folder"}, "--checkpoint .*folder is a folder"),
        (lambda t: {"checkpoint": t / "r.json"}, "--out and --checkpoint are the same file"),
    ],
)
def test_unwritable_outputs_are_refused_before_training(tmp_path, monkeypatch, paths, message):
    (tmp_path / "file").write_text("a file where a folder is expected\n")
    (tmp_path / "folder").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    _no_training(monkeypatch)
    with pytest.raises(MemtasksError, match=message) as info:
        run(tiny(tmp_path, **paths(tmp_path)))
    one_line(str(info.value))
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing made, nothing lost


def test_cli_refuses_an_unwritable_out_in_one_line(tmp_path, capsys, monkeypatch):
    _no_training(monkeypatch)
    (tmp_path / "file").write_text("")
    code, out, err = cli_run(capsys, *CLI_TINY, "--out", str(tmp_path / "file" / "r.json"))
    assert code == 1 and out == ""
    assert err.startswith("memtasks: error: --out ") and "is a file, not a folder" in err
    one_line(err)


# -- item 5: a save that fails at the end keeps what it can ----------------------------------------
def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_checkpoint_save_failing_at_the_end_still_writes_the_results(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", _full_disk)
    with pytest.raises(MemtasksError) as info:
        run(tiny(tmp_path, checkpoint_every=0))
    message = str(info.value)
    one_line(message)
    assert message.startswith(f"could not save the checkpoint {tmp_path / 'r.json.ckpt'}")
    assert "No space left on device" in message
    assert f"the results were written to {tmp_path / 'r.json'}" in message
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["steps"] == STEPS and saved["metrics"]["test"]["episodes"] == 16
    assert not (tmp_path / "r.json.ckpt").exists()
    no_temporaries(tmp_path)


def test_results_failing_at_the_end_keep_the_checkpoint_and_resume_writes_them(
    tmp_path, monkeypatch, straight
):
    out = tmp_path / "r.json"
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if pathlib.Path(dst) == out:
            _full_disk()
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(MemtasksError) as info:
        run(tiny(tmp_path))
    message = str(info.value)
    one_line(message)
    assert message.startswith(f"could not write the results {out} (No space left on device)")
    assert f"the checkpoint {out}.ckpt: run the same command with --resume --out {out}" in message
    assert not out.exists()
    no_temporaries(tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)  # the disk has room again
    resumed = run(tiny(tmp_path, resume=True))
    assert json.loads(out.read_text())["steps"] == STEPS
    assert_same_run(resumed, tmp_path / "r.json.ckpt", straight)


def test_both_saves_failing_say_nothing_was_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", _full_disk)
    monkeypatch.setattr(os, "replace", _full_disk)
    with pytest.raises(MemtasksError, match="nor the checkpoint .*; nothing was kept") as info:
        run(tiny(tmp_path, checkpoint_every=0))
    one_line(str(info.value))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_checkpoint_failing_during_training_warns_and_training_goes_on(
    tmp_path, monkeypatch, capsys, straight
):
    real_save = torch.save
    calls = []

    def save_once_failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the checkpoint at step 4
            _full_disk()
        return real_save(*args, **kwargs)

    monkeypatch.setattr(torch, "save", save_once_failing)
    # folders that do not exist yet pass the checks before training, and are made
    out, ckpt = tmp_path / "a" / "b" / "r.json", tmp_path / "c" / "r.ckpt"
    results = run(tiny(tmp_path, out=out, checkpoint=ckpt))
    err = capsys.readouterr().err
    assert f"warning: could not save the checkpoint {ckpt} at step 4" in err
    assert len(calls) == 2  # step 4 (failed) and the end
    assert json.loads(out.read_text())["steps"] == STEPS
    assert_same_run(results, ckpt, straight)
    no_temporaries(tmp_path)


# -- item 5: Ctrl-C and SIGTERM save a checkpoint of a whole step --------------------------------
def _on_call(monkeypatch, owner, name: str, at: int, action) -> None:
    """Do ``action()`` when ``owner.name`` is called for the ``at``-th time (1-based)."""
    real = getattr(owner, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            action()
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


def _raise_keyboard_interrupt():
    raise KeyboardInterrupt


def _sigterm():
    os.kill(os.getpid(), signal.SIGTERM)


def _sigint():
    os.kill(os.getpid(), signal.SIGINT)


# model.loss runs in the part of a step that can be abandoned (the weights are untouched), the
# scheduler's step in the update, which must finish. Call k of loss is in training step k; the
# scheduler steps once when it is made, so its call k + 1 is in training step k.
LOSS = (get_model("lstm"), "loss")
SCHEDULER = (torch.optim.lr_scheduler.LambdaLR, "step")


@pytest.mark.parametrize(
    "where, action, signal_name, saved_at",
    [
        (LOSS, _raise_keyboard_interrupt, "SIGINT", 5),  # Ctrl-C in forward: step 6 dropped
        (LOSS, _sigterm, "SIGTERM", 5),
        (LOSS, _sigint, "SIGINT", 5),
        (SCHEDULER, _sigterm, "SIGTERM", 6),  # in the update: step 6 finishes, then stops
        (SCHEDULER, _sigint, "SIGINT", 6),
    ],
)
def test_interrupted_run_saves_and_resumes_exactly(
    tmp_path, monkeypatch, capsys, straight, where, action, signal_name, saved_at
):
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    _on_call(monkeypatch, *where, at=6 if where is LOSS else 7, action=action)
    with pytest.raises(RunInterrupted) as info:
        run(tiny(tmp_path))
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    out, ckpt = tmp_path / "r.json", tmp_path / "r.json.ckpt"
    assert str(info.value) == (
        f"interrupted ({signal_name}) at step {saved_at} of {STEPS}: checkpoint saved to {ckpt}; "
        f"to continue, run the same command with --resume --out {out}"
    )
    assert torch.load(ckpt, weights_only=True)["step"] == saved_at  # not step 4's
    assert not out.exists()
    no_temporaries(tmp_path)
    capsys.readouterr()
    monkeypatch.undo()
    resumed = run(tiny(tmp_path, resume=True))
    assert_same_run(resumed, ckpt, straight)


def test_interrupt_in_the_middle_of_an_update_keeps_the_last_checkpoint(
    tmp_path, monkeypatch, straight
):
    """A KeyboardInterrupt that no handler deferred (raised in the update itself) leaves no
    whole step to save: the checkpoint of step 4 stays, and resuming from it ends the same."""
    _on_call(monkeypatch, *SCHEDULER, at=7, action=_raise_keyboard_interrupt)  # step 6
    ckpt = tmp_path / "r.json.ckpt"
    with pytest.raises(RunInterrupted, match=f"the checkpoint {ckpt} of step 4 was kept") as info:
        run(tiny(tmp_path))
    one_line(str(info.value))
    assert torch.load(ckpt, weights_only=True)["step"] == 4
    monkeypatch.undo()
    assert_same_run(run(tiny(tmp_path, resume=True)), ckpt, straight)


def test_interrupt_without_a_checkpoint_path_says_nothing_was_saved(tmp_path, monkeypatch):
    _on_call(monkeypatch, *LOSS, at=3, action=_raise_keyboard_interrupt)
    with pytest.raises(RunInterrupted, match="at step 2 of 8; nothing was saved"):
        run(tiny(tmp_path, out=None))
    assert list(tmp_path.iterdir()) == []


def test_cli_interrupt_exits_130_with_the_resume_flags(tmp_path, monkeypatch, capsys, straight):
    out, ckpt = tmp_path / "r.json", tmp_path / "c.ckpt"
    args = [*CLI_TINY, "--checkpoint-every", "4", "--out", str(out), "--checkpoint", str(ckpt)]
    _on_call(monkeypatch, *LOSS, at=6, action=_sigterm)
    code, stdout, err = cli_run(capsys, *args)
    assert code == 130 and stdout == ""
    assert err == (
        f"memtasks: interrupted (SIGTERM) at step 5 of {STEPS}: checkpoint saved to {ckpt}; "
        f"to continue, run the same command with --resume --out {out} --checkpoint {ckpt}\n"
    )
    monkeypatch.undo()
    code, _, err = cli_run(capsys, *args)  # without --resume: refused, the checkpoint kept
    assert code == 1 and "--resume" in err
    one_line(err)
    assert torch.load(ckpt, weights_only=True)["step"] == 5
    code, stdout, err = cli_run(capsys, *args, "--resume")
    assert code == 0, err
    assert f"results: {out}" in stdout
    # the command line logs every 50 steps: an unbroken run of the same command to compare
    unbroken = tmp_path / "unbroken.json"
    code, _, err = cli_run(capsys, *args[:-4], "--out", str(unbroken))
    assert code == 0, err
    expected = json.loads(unbroken.read_text())
    weights = torch.load(tmp_path / "unbroken.json.ckpt", weights_only=True)["model"]
    assert_same_run(json.loads(out.read_text()), ckpt, (expected, weights))


# -- item 6: another run's checkpoint is never overwritten -----------------------------------------
def test_an_existing_checkpoint_is_refused_without_resume(tmp_path, monkeypatch):
    run(tiny(tmp_path, steps=4))
    (tmp_path / "r.json").unlink()  # a run that was stopped before it wrote its results
    ckpt = tmp_path / "r.json.ckpt"
    before = ckpt.read_bytes()
    _no_training(monkeypatch)
    with pytest.raises(MemtasksError) as info:
        run(tiny(tmp_path))
    assert str(info.value) == (
        f"the checkpoint {ckpt} exists (another run's?) and would be overwritten; continue that "
        f"run with --resume, or choose another --out (or --checkpoint)"
    )
    # a second run sharing an explicit --checkpoint with another --out
    with pytest.raises(MemtasksError, match="choose another --checkpoint$"):
        run(tiny(tmp_path, out=tmp_path / "other.json", checkpoint=ckpt))
    assert ckpt.read_bytes() == before
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "other.json").exists()


def test_cli_refuses_an_existing_checkpoint_in_one_line(tmp_path, capsys):
    ckpt = tmp_path / "shared.ckpt"
    first = [*CLI_TINY, "--steps", "2", "--checkpoint", str(ckpt)]
    code, _, err = cli_run(capsys, *first, "--out", str(tmp_path / "a.json"))
    assert code == 0, err
    before = ckpt.read_bytes()
    code, out, err = cli_run(capsys, *first, "--out", str(tmp_path / "b.json"))
    assert code == 1 and out == ""
    assert err.startswith(f"memtasks: error: the checkpoint {ckpt} exists")
    one_line(err)
    assert ckpt.read_bytes() == before and not (tmp_path / "b.json").exists()


# -- --lr: what --help shows is what the runner accepts -------------------------------------------
def _lr_option():
    return next(p for p in cli.commands["baseline"].params if p.name == "lr")


def test_lr_range_of_the_help_is_the_runners():
    kind = _lr_option().type
    assert (kind.min, kind.max) == LR_RANGE
    assert kind.min_open and kind.max_open  # the runner excludes both ends


@pytest.mark.parametrize("lr", ["0", "10", "10.0", "-1"])
def test_lr_outside_the_shown_range_is_a_usage_error(tmp_path, capsys, lr):
    code, _, err = cli_run(capsys, *CLI_TINY, "--lr", lr, "--out", str(tmp_path / "r.json"))
    assert code == 2 and "--lr" in err and "0<x<10" in err
    one_line(err)
    with pytest.raises(MemtasksError, match=r"lr must be a number in \(0, 10\)"):
        run(tiny(tmp_path, lr=float(lr)))
    assert not (tmp_path / "r.json").exists()


def test_lr_just_inside_the_shown_range_runs(tmp_path, capsys):
    code, out, err = cli_run(capsys, "baseline", "--help")
    assert "[0<x<10]" in " ".join(out.split())
    out_file = tmp_path / "r.json"
    args = [*CLI_TINY, "--steps", "0", "--lr", "9.999", "--out", str(out_file)]
    code, _, err = cli_run(capsys, *args)
    assert code == 0, err
    assert json.loads(out_file.read_text())["optimizer"]["lr"] == 9.999


# -- --release-dir: refused where there is no release; the variable only serves bAbI tasks -------
def test_release_dir_is_refused_for_a_task_without_a_release(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MEMTASKS_BABI_DIR", raising=False)
    (tmp_path / "rel").mkdir()
    out = tmp_path / "r.json"
    args = [*CLI_TINY, "--release-dir", str(tmp_path / "rel"), "--out", str(out)]
    code, _, err = cli_run(capsys, *args)
    assert code == 1
    assert err == (
        "memtasks: error: --release-dir: ntm/copy-v1 has no release files to score (the family "
        "ntm declares no evaluation hook), so there is nothing to score there; "
        "drop --release-dir\n"
    )
    assert not out.exists() and not (tmp_path / "r.json.ckpt").exists()


def test_babi_dir_variable_serves_babi_tasks_only(tmp_path, capsys, monkeypatch):
    not_a_folder = tmp_path / "babi.txt"  # set for bAbI runs, wrong here: must not matter
    not_a_folder.write_text("")
    monkeypatch.setenv("MEMTASKS_BABI_DIR", str(not_a_folder))
    out = tmp_path / "r.json"
    code, _, err = cli_run(capsys, *CLI_TINY, "--steps", "1", "--out", str(out))
    assert code == 0, err
    assert json.loads(out.read_text())["release"] is None
    # and a bAbI run still reads the release through it
    spec = memtasks.get_spec("babi/qa1-v1")
    path = release.release_path(tmp_path / "rel", "en", 1, "test")
    path.parent.mkdir(parents=True)
    episodes = memtasks.generate("babi/qa1-v1", 5, seed=0, split="test")
    path.write_text(release.to_text(episodes, spec.layout(spec.make_knobs()).vocab))
    monkeypatch.setenv("MEMTASKS_BABI_DIR", str(tmp_path / "rel"))
    out = tmp_path / "babi.json"
    args = ["baseline", "lstm", "babi/qa1-v1", "--device", "cpu", "--train-questions", "10",
            "--epochs", "1", "--batch-size", "4", "--eval-episodes", "5", "--quiet",
            "--hp", "hidden_size=8", "--hp", "num_layers=1", "--out", str(out)]  # fmt: skip
    code, _, err = cli_run(capsys, *args)
    assert code == 0, err
    saved = json.loads(out.read_text())
    assert saved["release"]["split"] == "test"
    assert saved["release"]["folder"] == str(tmp_path / "rel")
    assert saved["metrics"]["release-test"]["episodes"] == 5
