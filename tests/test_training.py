"""The training package: one settings object behind the command's options, the versioned results
schema (the committed files still load), training on a real dataset (Penn Treebank fixture),
evaluation hooks, and the lazy command."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _cli import run as cli_run  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import memtasks  # noqa: E402
from memtasks.errors import MemtasksError  # noqa: E402
from memtasks.models.training import (  # noqa: E402
    SCHEMA_VERSION,
    EvaluationHook,
    Results,
    RunSettings,
    evaluation_hook,
    load_results,
    register_evaluation,
    run,
)
from memtasks.models.training import command as command_module  # noqa: E402
from memtasks.models.training import evaluation as evaluation  # noqa: E402
from memtasks.models.training import settings as settings_module  # noqa: E402
from memtasks.models.training.results import migrate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted((ROOT / "baselines" / "results").glob("*/*.json"))
TINY_LSTM = {"hidden_size": 16, "num_layers": 1, "embed_size": 8}


# -- the settings object and the options generated from it ----------------------------------------
def _options() -> dict[str, click.Option]:
    return {p.name: p for p in command_module.baseline.params if isinstance(p, click.Option)}


def test_every_command_line_setting_is_an_option_with_the_settings_range():
    options = _options()
    for name, (default, s) in settings_module.fields().items():
        if not s.cli:
            assert name not in options, name
            continue
        option = options[name]
        assert option.default == default, name
        assert option.help == s.help or not s.help, name
        if s.kind in (int, float):
            kind = option.type
            assert (kind.min, kind.max, kind.min_open, kind.max_open) == (
                s.lo, s.hi, s.lo_open, s.hi_open
            ), name  # fmt: skip
    # and the command line has nothing else but its own flags
    own = {"list_models", "knob_items", "hp_items", "quiet"}
    cli_settings = {n for n, (_, s) in settings_module.fields().items() if s.cli}
    assert set(options) == cli_settings | own


def _numeric_settings():
    return [(n, s) for n, (_, s) in settings_module.fields().items() if s.kind in (int, float)]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_numeric_settings()), st.floats(-1e12, 1e12) | st.integers(-(2**70), 2**70))
def test_library_and_command_line_accept_the_same_numbers(item, value):
    """The settings object and the generated click type agree on every number: both accept it or
    both refuse it (the ranges exist once)."""
    name, s = item
    option = _options().get(name)
    if s.kind is int and isinstance(value, float):
        value = int(value) if math.isfinite(value) else 0
    try:
        RunSettings(model="lstm", task="ntm/copy-v1", **{name: value})
        library = True
    except MemtasksError as exc:
        assert str(exc).startswith(f"{name} must be "), exc
        library = False
    if option is None:
        return
    try:
        option.type.convert(str(value), option, None)
        command_line = True
    except click.BadParameter:
        command_line = False
    assert library == command_line, (name, value)


def test_settings_refuse_wrong_types_in_one_line():
    for changes, message in [
        ({"steps": True}, "steps must be an integer >= 0"),
        ({"lr": float("nan")}, "lr must be a number in (0, 10)"),
        ({"amp": "yes"}, "amp must be true or false"),
        ({"out": 3}, "out must be a path"),
        ({"knobs": [1]}, "knobs must be a mapping"),
    ]:
        with pytest.raises(MemtasksError) as info:
            RunSettings(model="lstm", task="ntm/copy-v1", **changes)
        assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_resolve_takes_a_variants_training_over_the_models():
    cfg = settings_module.resolve(RunSettings(model="memn2n.babi-1k", task="babi/qa1-v1"))
    assert (cfg.train_questions, cfg.epochs, cfg.batch_size, cfg.inits) == (1000, 120, 32, 10)
    assert cfg.init_seed == cfg.seed == 0
    cfg = settings_module.resolve(RunSettings(model="dmn-plus.babi-10k", task="babi/joint-v1",
                                              epochs=3))  # fmt: skip
    assert (cfg.train_questions, cfg.epochs, cfg.patience) == (10_000, 3, 20)
    cfg = settings_module.resolve(RunSettings(model="lstm.ptb", task="ptb/word-v1"), dataset=True)
    assert (cfg.epochs, cfg.batch_size, cfg.train_questions, cfg.steps) == (13, 20, None, None)


# -- results: a versioned schema; the committed files load -----------------------------------------
@pytest.mark.parametrize("path", COMMITTED, ids=[f"{p.parent.name}/{p.name}" for p in COMMITTED])
def test_committed_results_load_through_the_schema(path):
    raw = json.loads(path.read_text())
    results = load_results(path)
    assert results.schema_version == SCHEMA_VERSION
    for key, value in raw.items():  # nothing read is lost or changed (but the version)
        assert key == "schema_version" or getattr(results, key) == value, key
    again = Results.from_dict(results.to_dict())
    assert again == results


def test_results_written_and_read_by_the_same_code(tmp_path):
    out = tmp_path / "r.json"
    written = run(_copy_run(out))
    saved = json.loads(out.read_text())
    assert saved["schema_version"] == SCHEMA_VERSION and saved["variant"] is None
    assert list(saved) == [f.name for f in dataclasses.fields(Results)]
    assert load_results(out) == Results.from_dict(written.to_dict())


def test_results_of_an_unknown_schema_or_no_results_are_one_line(tmp_path):
    newer = {"schema_version": SCHEMA_VERSION + 1}
    newest = f"schema version {SCHEMA_VERSION + 1}; this memtasks reads versions 1..3"
    with pytest.raises(MemtasksError, match=newest):
        migrate(newer, source="x.json")
    with pytest.raises(MemtasksError, match="x.json: not a results file .*task"):
        migrate({"model": "lstm"}, source="x.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(MemtasksError, match="cannot read results") as info:
        load_results(bad)
    assert "\n" not in str(info.value)


def test_version_1_results_get_the_fields_they_lacked():
    old = json.loads(COMMITTED[0].read_text())
    old.pop("training_set", None)
    old.pop("epochs", None)
    old.pop("schema_version", None)
    migrated = migrate(old)
    assert migrated["training_set"]["stream"] is True and migrated["epochs"] == []
    assert migrated["schema_version"] == SCHEMA_VERSION


def test_version_2_results_were_one_initialisation_seeded_by_the_run_seed():
    old = {**json.loads(COMMITTED[0].read_text()), "schema_version": 2, "seed": 7}
    old.pop("init_seed", None)
    old.pop("initialisations", None)
    migrated = migrate(old)
    assert migrated["init_seed"] == 7 and migrated["initialisations"] is None
    assert migrated["schema_version"] == SCHEMA_VERSION == 3


# -- training on a dataset: Penn Treebank's fixture files -----------------------------------------
@pytest.fixture(scope="module")
def ptb_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ptb")
    memtasks.get_spec("ptb/word-v1").fixture(folder)
    return folder


def _ptb_run(folder, out, **changes) -> RunSettings:
    values = dict(model="lstm", task="ptb/word-v1", path=folder, checksums=False,
                  knobs={"window": 4}, hparams=dict(TINY_LSTM), device="cpu", epochs=3,
                  batch_size=3, log_every=1, checkpoint_every=2, progress=False,
                  out=out)  # fmt: skip
    values.update(changes)
    return RunSettings(**values)


def test_lstm_on_ptb_reports_perplexity_of_validation_and_test(ptb_folder, tmp_path):
    results = run(_ptb_run(ptb_folder, tmp_path / "r.json"))
    assert set(results.metrics) == {"validation", "test"}
    info = results.training_set
    assert info["dataset"] == "ptb/word-v1" and info["sources"][0]["name"] == "ptb.train.txt"
    train = memtasks.load("ptb/word-v1", "train", ptb_folder, checksums=False, window=4)
    assert info["episodes"] == len(train) and info["scored"] == int(train.mask.sum())
    assert results.steps == 3 * math.ceil(len(train) / 3) and results.stopped_by == "epochs"
    for split in ("validation", "test"):
        m = results.metrics[split]
        whole = memtasks.load("ptb/word-v1", split, ptb_folder, checksums=False, window=4)
        assert m["tokens"] == int(whole.mask.sum()) and m["episodes"] == len(whole)
        # the metric's nll is the mean cross-entropy per token, which is the loss
        assert m["perplexity"] == pytest.approx(math.exp(m["nll"]))
        assert m["nll"] == pytest.approx(m["loss"], rel=1e-5)
    # the validation split is the held-out set of each epoch
    assert [e["epoch"] for e in results.epochs] == [1, 2, 3]
    assert all(e["valid_perplexity"] > 1 for e in results.epochs)


def test_ptb_run_resumes_exactly(ptb_folder, tmp_path):
    straight = run(_ptb_run(ptb_folder, tmp_path / "a.json"))
    run(_ptb_run(ptb_folder, tmp_path / "b.json", epochs=1))
    resumed = run(_ptb_run(ptb_folder, tmp_path / "b.json", resume=True))
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    assert resumed.metrics == straight.metrics


def test_target_logprobs_are_in_the_flat_order_of_the_scored_targets(ptb_folder):
    batch = memtasks.load("ptb/word-v1", "validation", ptb_folder, checksums=False, window=3)
    batch = batch[: min(len(batch), 5)]
    from memtasks.datasets import read

    layout = read("ptb/word-v1", "train", ptb_folder, checksums=False, window=3).layout
    spec = memtasks.get_spec("ptb/word-v1")
    from memtasks.models import TaskIO, get_model, make_hparams

    torch.manual_seed(0)
    model = get_model("lstm")(TaskIO.of(spec, spec.make_knobs(window=3), layout),
                              make_hparams("lstm", TINY_LSTM)).eval()  # fmt: skip
    together = model.target_logprobs(model(model.collate(batch)), model.collate(batch))
    one_by_one = np.concatenate([
        model.target_logprobs(model(model.collate(batch[i : i + 1])),
                              model.collate(batch[i : i + 1]))
        for i in range(len(batch))
    ])  # fmt: skip
    assert together.shape == (int(batch.mask.sum()),)
    np.testing.assert_allclose(together, one_by_one, rtol=1e-5, atol=1e-6)
    assert (together <= 0).all()


def test_dataset_refusals_are_one_line(ptb_folder, tmp_path, capsys):
    with pytest.raises(MemtasksError, match="--train-questions: ptb/word-v1 is a dataset"):
        run(_ptb_run(ptb_folder, None, train_questions=100))
    with pytest.raises(MemtasksError, match="bilstm reads each episode in both directions"):
        run(_ptb_run(ptb_folder, None, model="bilstm", hparams={"hidden_size": 4}))
    with pytest.raises(MemtasksError, match="--path: ntm/copy-v1 is a generated task"):
        run(_copy_run(None, path=ptb_folder))
    # the release's checksums are checked unless --no-checksums
    code, _, err = cli_run(capsys, "baseline", "lstm", "ptb/word-v1", "--path", str(ptb_folder),
                           "--device", "cpu", "--quiet", "--epochs", "1")  # fmt: skip
    assert code == 1 and "sha256" in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_cli_trains_lstm_on_ptb(ptb_folder, tmp_path, capsys):
    out = tmp_path / "ptb.json"
    code, stdout, err = cli_run(
        capsys, "baseline", "lstm", "ptb/word-v1", "--path", str(ptb_folder), "--no-checksums",
        "--set", "window=5", "--hp", "hidden_size=8", "--hp", "num_layers=1", "--epochs", "1",
        "--batch-size", "4", "--device", "cpu", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "validation: perplexity" in stdout and "test: perplexity" in stdout
    assert load_results(out).metrics["test"]["perplexity"] > 1


# -- evaluation hooks ------------------------------------------------------------------------------
def test_hooks_are_found_by_family_and_a_specs_own_comes_first():
    babi = evaluation_hook(memtasks.get_spec("babi/qa1-v1"))
    assert babi is not None and babi.envvar == "MEMTASKS_BABI_DIR"
    assert evaluation_hook(memtasks.get_spec("ntm/copy-v1")) is None
    own = EvaluationHook(what="x", applies=lambda s, k: True, sets=lambda s, k, f: ({}, {}))

    @dataclasses.dataclass
    class FakeSpec:
        family: str = "babi"
        evaluate: object = own
        id: str = "babi/fake-v1"

    assert evaluation_hook(FakeSpec()) is own
    with pytest.raises(MemtasksError, match="x/y-v1: its evaluate hook must be"):
        evaluation_hook(FakeSpec(evaluate=print, id="x/y-v1"))
    with pytest.raises(ValueError, match="has an evaluation hook already"):
        register_evaluation("babi", own)


def test_a_registered_hook_adds_its_sets_to_the_run(tmp_path, monkeypatch):
    calls = []

    def sets(spec, knobs, folder):
        calls.append(folder)
        return {"extra": spec.generate(4, 9, "test", knobs=knobs)}, {"folder": str(folder)}

    hook = EvaluationHook(what="a test hook", applies=lambda s, k: True, sets=sets)
    monkeypatch.setitem(evaluation._HOOKS, "ntm", hook)
    results = run(_copy_run(None, release_dir=tmp_path))
    assert calls == [tmp_path] and results.release == {"folder": str(tmp_path)}
    assert results.metrics["extra"]["episodes"] == 4


# -- the command -------------------------------------------------------------------------------
def _copy_run(out, **changes) -> RunSettings:
    values = dict(model="lstm", task="ntm/copy-v1", knobs={"max_length": 3},
                  hparams={"hidden_size": 8, "num_layers": 1}, device="cpu", steps=2,
                  batch_size=4, eval_episodes=8, checkpoint_every=0, progress=False,
                  out=out)  # fmt: skip
    values.update(changes)
    return RunSettings(**values)


def test_cli_runs_a_variant_with_options_on_top(tmp_path, capsys):
    out = tmp_path / "r.json"
    code, stdout, err = cli_run(
        capsys, "baseline", "lstm.copy", "ntm/copy-v1", "--set", "max_length=3", "--hp",
        "hidden_size=8", "--steps", "2", "--batch-size", "4", "--eval-episodes", "8",
        "--device", "cpu", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    saved = load_results(out)
    assert saved.variant == "lstm.copy" and saved.model == "lstm"
    assert saved.hparams["hidden_size"] == 8 and saved.hparams["num_layers"] == 3  # the variant's
    assert stdout.startswith("lstm.copy on ntm/copy-v1: 2 steps x 4 episodes")


def test_list_models_shows_variants_with_their_sources(capsys):
    code, out, _ = cli_run(capsys, "baseline", "--list-models")
    assert code == 0
    from memtasks.models import get_variant, list_variants

    for name in list_variants():
        line = next(i for i, t in enumerate(out.splitlines()) if t.startswith(name + " "))
        block = "\n".join(out.splitlines()[line : line + 6])
        assert f"source: {get_variant(name).source}" in block, name
    assert "variants: memn2n.babi-1k, memn2n.babi-1k-joint" in out


def test_importing_the_command_line_loads_no_model_and_no_torch():
    code = "import sys, memtasks.cli; print(sorted(m for m in sys.modules if m.startswith(('torch', 'memtasks.models'))))"  # noqa: E501
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_command_whose_module_needs_a_missing_package_says_what_to_install(capsys):
    from memtasks.cli import _LazyCommand

    command = _LazyCommand("x", "no_such_package_here.sub:cmd", "", needs="no_such_package_here")
    with pytest.raises(MemtasksError, match="memtasks x needs no_such_package_here: pip install"):
        command.real()
    other = _LazyCommand("y", "no_such_package_here:cmd", "", needs="torch")
    with pytest.raises(ModuleNotFoundError):  # a missing module other than the one it needs
        other.real()
