"""``memtasks baseline MODEL TASK``: the command, its options generated from ``RunSettings``.

Each run setting with ``cli=True`` becomes an option (``--train-questions`` for
``train_questions``) with the setting's type, range and help, so the command line and the
library accept exactly the same values and ``--help`` shows the ranges the settings check. Only
what is not a setting is written here: the arguments, ``--set``/``--hp`` pairs, ``--quiet`` and
``--list-models``. ``memtasks.cli`` loads this module when the command is first used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from memtasks.errors import KnobError, MemtasksError

from ..registry import get_variant, list_models, list_variants, lookup
from .loop import RunInterrupted
from .results import Results
from .run import run
from .settings import RunSettings, Setting, fields

__all__ = ["baseline", "list_models_text", "model_values", "summary"]


def _option(name: str, default, s: Setting):
    """The click option of run setting ``name``."""
    flag = "--" + name.replace("_", "-")
    kw: dict = {"help": s.help or None, "metavar": s.metavar}
    if s.kind is bool:
        if not s.optional and default is False:
            return click.option(flag, name, is_flag=True, default=False, **kw)
        return click.option(f"{flag}/--no-{flag[2:]}", name, default=default,
                            show_default=default is not None, **kw)  # fmt: skip
    if s.kind in (int, float):
        kind = click.IntRange if s.kind is int else click.FloatRange
        kw["type"] = kind(s.lo, s.hi, min_open=s.lo_open, max_open=s.hi_open)
    elif s.kind is Path:
        kw["type"] = click.Path(path_type=Path)
    return click.option(flag, name, default=default, show_default=default is not None, **kw)


def _settings_options(command):
    for name, (default, s) in reversed(fields().items()):
        if s.cli:
            command = _option(name, default, s)(command)
    return command


def _pairs(kind, items: tuple[str, ...], flag: str, example: str) -> dict:
    """``FLAG name=value`` pairs parsed to the types of a ``Knobs`` class's fields."""
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise KnobError(f"{flag} takes name=value (e.g. {flag} {example}), got {item!r}")
        values[name.strip()] = kind.parse(name.strip(), text)
    return values


def model_values(model: str, items: tuple[str, ...]) -> dict:
    """``--hp k=v`` pairs parsed to the model's hyperparameter types."""
    return _pairs(lookup(model)[0].Hparams, items, "--hp", "memory_size=256")


def list_models_text() -> str:
    """The models, their hyperparameters, optimisers and variants; then each variant."""
    lines = []
    for name in list_models():
        cls = lookup(name)[0]
        opt = cls.optimizer
        lines.append(f"{name:<20} {cls.summary}")
        hps = ", ".join(f"{k}={v!r}" for k, (v, _) in cls.Hparams.infos().items())
        lines.append(f"{'':<20} hyperparameters: {hps}")
        clip = f", clip {opt.clip_value:g}" if opt.clip_value else ""
        clip += f", clip norm {opt.clip_norm:g}" if opt.clip_norm else ""
        lines.append(f"{'':<20} optimiser: {opt.name} lr {opt.lr:g}{clip}")
        if list_variants(name):
            lines.append(f"{'':<20} variants: {', '.join(list_variants(name))}")
    lines += ["", "Variants (MODEL.CONFIG): a paper's configuration; --hp and the other options "
              "go on top"]  # fmt: skip
    for name in list_variants():
        v = get_variant(name)
        lines.append(f"{name:<24} {v.summary}" + (f" [{v.task}]" if v.task else ""))
        settings = {**v.hparams, **v.training, **{f"knob {k}": x for k, x in v.knobs.items()}}
        if settings:
            shown = ", ".join(f"{k}={x!r}" for k, x in settings.items())
            lines.append(f"{'':<24} {shown}")
        if v.optimizer:
            lines.append(f"{'':<24} optimiser: " + ", ".join(f"{k}={x!r}" for k, x in
                                                              v.optimizer.items()))  # fmt: skip
        lines.append(f"{'':<24} source: {v.source}")
        if v.reported:
            lines.append(f"{'':<24} reported: {v.reported}")
    return "\n".join(lines)


_UNITS = {"story": "episodes", "question": "questions"}


def summary(results: Results, out: Path | None) -> str:
    """What a finished run reached, in a few lines."""
    unit = _UNITS[results.training_set.get("batch_unit", "story")]
    name = results.variant or results.model
    lines = [
        f"{name} on {results.task}: {results.steps:,} steps x {results.batch_size} {unit}, "
        f"{results.parameters:,} parameters, {results.train_time_s:.1f} s training on "
        f"{results.device}"
    ]
    for set_name, metrics in results.metrics.items():
        shown = ", ".join(
            f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float) and k != "loss"
        )
        lines.append(f"  {set_name}: {shown}")
    inits = results.initialisations
    if inits:
        chosen = inits["members"][inits["chosen"]]
        lines.append(
            f"  kept init seed {chosen['init_seed']} of {inits['count']} (lowest training "
            f"{inits['select']}: {chosen['train'][inits['select']]:.4g}); metrics above are its"
        )
    if out is not None:
        lines.append(f"results: {out}")
    return "\n".join(lines)


@click.command("baseline")
@click.argument("model", required=False)
@click.argument("task", required=False)
@click.option("--list-models", is_flag=True, help="the models, their variants, and exit")
@click.option("--set", "knob_items", multiple=True, metavar="KNOB=VALUE",
              help="set a knob (repeatable)")  # fmt: skip
@click.option("--hp", "hp_items", multiple=True, metavar="NAME=VALUE",
              help="set a model hyperparameter (repeatable; see --list-models)")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@_settings_options
def baseline(model, task, list_models, knob_items, hp_items, quiet, **values) -> None:
    """Train reference MODEL (or a variant MODEL.CONFIG) on TASK: streaming episodes, in epochs
    over a fixed training set, or over a dataset's train split; evaluate; write a results JSON."""
    if list_models:
        click.echo(list_models_text())
        return
    if model is None or task is None:
        raise click.UsageError("baseline takes MODEL and TASK (or --list-models)")
    from memtasks.registry import get_spec

    spec = get_spec(task)
    knobs = _pairs(spec.knobs, knob_items, "--set", "max_length=30")
    spec.make_knobs(values["preset"], **knobs)  # a bad knob or preset: refused now
    out = values["out"]
    if out is not None and out.exists() and not values["resume"]:
        raise MemtasksError(f"{out} exists; choose another --out, or --resume that run")
    cfg = RunSettings(model=model, task=spec.id, knobs=knobs, hparams=model_values(model, hp_items),
                      progress=not quiet, **values)  # fmt: skip
    try:
        results = run(cfg)
    except RunInterrupted as exc:  # the checkpoint is saved: say how to resume, exit as a signal
        click.echo(f"memtasks: {exc}", err=True)
        sys.exit(130)
    click.echo(summary(results, out))
