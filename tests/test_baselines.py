"""The committed baseline results: complete, named by device, and what the cards show."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = sorted((ROOT / "baselines" / "results").glob("*/*.json"))
KEYS = {
    "task", "knobs", "model", "hparams", "parameters", "optimizer", "seed", "steps",
    "batch_size", "wall_time_s", "train_time_s", "device", "memtasks_version", "git_commit",
    "torch_version", "metrics", "history",
}  # fmt: skip


def _make_tables():
    spec = importlib.util.spec_from_file_location("make_tables", ROOT / "baselines/make_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", RESULTS, ids=[f"{p.parent.name}/{p.name}" for p in RESULTS])
def test_results_file_is_complete(path):
    from memtasks.registry import get_spec

    results = json.loads(path.read_text())
    assert set(results) >= KEYS, KEYS - set(results)
    spec = get_spec(results["task"])
    assert results["device"] and results["steps"] > 0
    assert "test" in results["metrics"]
    if spec.family == "ntm":
        assert path.name == f"{results['task'].split('/')[1]}__{results['model']}.json"
        assert spec.make_knobs(None).to_dict() == results["knobs"]  # the default knobs
        for metrics in results["metrics"].values():
            assert metrics["episodes"] >= 1000
            assert metrics["bits_per_sequence"] >= 0
        return
    if results["task"] in _make_tables().SEQUENCE_TASKS:  # streamed, scored by their papers
        assert path.name == f"{results['task'].split('/')[1]}__{results['model']}.json"
        # the `paper` knobs (the defaults, except where the defaults are a source's own, as
        # recall/mqar's are zoology's)
        assert spec.make_knobs("paper").to_dict() == results["knobs"]
        extrapolate = {p for p in spec.presets if p.startswith("extrapolate")}
        assert set(results["metrics"]) == {"test"} | extrapolate
        for metrics in results["metrics"].values():
            assert metrics["episodes"] >= 128
            value = metrics[spec.metric.name]  # the metric the card's table leads with
            unbounded = spec.metric.name.startswith("bits_per")  # a cost, not a share
            assert value >= 0 and (value <= 1 or unbounded)
        return
    # question answering: <task>[-<preset>]__<run>.json, trained on that preset's knobs
    match = _make_tables().RUN.match(path.name)
    assert match and match["task"] == results["task"].split("/")[1], path.name
    assert match["preset"] == results["preset"]
    assert spec.make_knobs(results["preset"]).to_dict() == results["knobs"]
    assert results["training_set"]["questions"] > 0
    for name, metrics in results["metrics"].items():
        assert metrics["episodes"] >= 1000 or name.startswith("release"), name
        assert 0 <= metrics["answer_accuracy"] <= 1
    if spec.id == "babi/joint-v1":
        assert len(results["metrics"]["test"]["by_task"]) == len(results["knobs"]["tasks"])


def test_cards_show_the_committed_results():
    """The cards' Baselines sections are exactly what make_tables.py writes from the files."""
    module = _make_tables()
    for task_name in module.PAPER:
        card = ROOT / "data_cards" / "ntm" / f"{task_name}.md"
        assert module.rewrite(card, task_name, f"ntm/{task_name}-v1") == card.read_text(), (
            f"{card.name}: run python baselines/make_tables.py"
        )


def test_qa_cards_show_the_committed_results():
    module = _make_tables()
    for card, body in module.qa_cards().items():
        assert module.rewrite_section(card, body) == card.read_text(), (
            f"{card.name}: run python baselines/make_tables.py"
        )


def test_sequence_cards_show_the_committed_results():
    """Every streamed sequence task of issue 14 (long-term dependency problems and after) has a
    card whose Baselines section is what make_tables.py writes from the results files."""
    import memtasks

    module = _make_tables()
    families = {spec.family for spec in map(memtasks.get_spec, module.SEQUENCE_TASKS)}
    assert families >= {"longterm"}
    for task_id, reported in module.SEQUENCE_TASKS.items():
        family, name = task_id.split("/")
        card = ROOT / "data_cards" / family / f"{name[:-3]}.md"
        body = module.sequence_section(task_id, reported)
        assert "No baseline has been run yet." not in body, f"{task_id}: no baseline results"
        assert module.rewrite_section(card, body) == card.read_text(), (
            f"{card.name}: run python baselines/make_tables.py"
        )


def _qa_script():
    path = ROOT / "baselines/run_qa_baselines.py"
    spec = importlib.util.spec_from_file_location("run_qa_baselines", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("quick", [False, True])
def test_every_qa_baseline_command_is_one_the_cli_accepts(quick, tmp_path):
    """Each run of each set parses as `memtasks baseline` flags, with hyperparameters the model
    takes and a preset the task has (so a typo fails here, not an hour into a run)."""
    import argparse

    import click

    from memtasks.cli import cli
    from memtasks.models.training.command import model_values
    from memtasks.registry import get_spec

    script = _qa_script()
    args = argparse.Namespace(device="cpu", seed=0, eval_episodes=1000, quick=quick,
                              time_limit=60, release_dir=None)  # fmt: skip
    for set_name, make in script.SETS.items():
        names = set()  # each set writes its own folder
        for run in make():
            assert run.file not in names, run.file  # no two runs write one file
            names.add(run.file)
            argv = script.command(run, args, tmp_path / run.file)
            assert argv[1:5] == ["-m", "memtasks.cli", "baseline", run.model]
            ctx = cli.commands["baseline"].make_context("baseline", argv[4:])
            assert ctx.params["model"] == run.model and ctx.params["task"] == run.task
            model_values(run.model, ctx.params["hp_items"])  # raises on a bad --hp
            if run.preset:
                get_spec(run.task).make_knobs(run.preset)
            assert ("--time-limit" in argv) == run.timed, (set_name, run.file)
            assert _make_tables().RUN.match(run.file), run.file
    with pytest.raises(click.UsageError):
        cli.commands["baseline"].make_context("baseline", ["memn2n", "babi/qa1-v1", "--bogus"])


def test_a_results_readme_keeps_its_tables_and_code_in_the_cards():
    """A README's paragraphs are rewrapped for the card; its tables and indented commands are
    kept line for line (rewrapping ran a table's rows together into one paragraph)."""
    text = (
        "A paragraph   that\nruns over lines.\n\n    python run.py --flag\n\n"
        "| task | error |\n|---|---|\n| qa1 | 0.0 |\n"
    )
    out = _make_tables()._markdown(text)
    assert out.split("\n\n") == [
        "A paragraph that runs over lines.",
        "    python run.py --flag",
        "| task | error |\n|---|---|\n| qa1 | 0.0 |",
    ]
