"""``run(settings)``: set a run up, train it, write its results (DESIGN.md section 6).

Set-up refuses, each in one line and before any training: an unknown model or variant, settings
out of range, outputs that could not be written, a bidirectional model on a task whose scored
positions carry inputs, a missing CUDA device, mixed precision for a model that keeps float32,
a checkpoint of another run. Then ``loop.Trainer`` trains, and the results (``results.Results``)
are written through a temporary file and a rename; a save that fails at the end still writes
whatever else it can and says what was kept.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from memtasks.episode import EpisodeBatch
from memtasks.errors import MemtasksError
from memtasks.registry import get_spec

from .. import _base
from ..registry import list_models, lookup, make_hparams
from . import data as data_module
from . import evaluation
from .checkpoints import check_paths, identity, load_checkpoint
from .evaluation import evaluation_hook
from .loop import Progress, Trainer, save_failure
from .results import Results, write_results
from .settings import RunSettings, resolve

__all__ = ["check_readable", "device_name", "git_commit", "prepare", "run", "train_initialisations"]


def run(cfg: RunSettings) -> Results:
    """Train ``cfg.model`` on ``cfg.task``; return (and write to ``cfg.out``) the results."""
    started = time.time()
    commit, dirty = git_commit()  # the code as it was when the run started
    trainer, variant = prepare(cfg)
    chosen = None
    if trainer.cfg.inits > 1:
        trainer, chosen = train_initialisations(trainer)
    else:
        trainer.train()
        trainer.finish()
    checkpoint_error = None
    try:
        trainer.save()
    except OSError as exc:  # the results are still written below
        checkpoint_error = exc
    results = _results(trainer, variant, started, commit, dirty)
    results.initialisations = chosen
    out_error = None
    if trainer.cfg.out is not None:
        try:
            write_results(trainer.cfg.out, results)
        except OSError as exc:
            out_error = exc
    if checkpoint_error is not None or out_error is not None:
        raise MemtasksError(save_failure(trainer.cfg, checkpoint_error, out_error))
    return results


def prepare(cfg: RunSettings):
    """Everything a run needs, checked: the trainer, and the variant run (or None)."""
    model_cls, variant = lookup(cfg.model)  # an unknown model is refused before anything else
    spec = get_spec(cfg.task)
    dataset = data_module.is_dataset(spec)
    cfg = resolve(cfg, dataset=dataset)
    check_paths(cfg)
    if cfg.path is not None and not dataset:
        raise MemtasksError(
            f"--path: {spec.id} is a generated task; --path names a dataset's source files"
        )
    own = variant is not None and variant.task == spec.id  # the experiment's own task
    knobs = spec.make_knobs(cfg.preset, **{**(variant.knobs if own else {}), **cfg.knobs})
    hook = evaluation_hook(spec)
    hooked = hook is not None and hook.applies(spec, knobs)
    if cfg.release_dir is not None and not hooked:
        what = (f"is not a task of {hook.what}" if hook is not None else
                f"has no release files to score (the family {spec.family} declares no "
                f"evaluation hook)")  # fmt: skip
        raise MemtasksError(
            f"--release-dir: {spec.id} {what}, so there is nothing to score there; "
            f"drop --release-dir"
        )
    hp = make_hparams(cfg.model, cfg.hparams)
    device = _device(cfg.device)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    splits = data_module.DatasetSplits(spec, knobs, cfg) if dataset else None
    check_readable(model_cls, spec, data_module.probe(spec, knobs, cfg, splits))

    torch.manual_seed(cfg.init_seed)
    layout = splits("train").layout if splits is not None else None  # the files' vocabulary
    model = model_cls(_base.TaskIO.of(spec, knobs, layout), hp).to(device)
    training = data_module.training_data(spec, knobs, cfg, model, device, splits)
    total_steps = cfg.epochs * training.steps_per_epoch if cfg.epochs is not None else cfg.steps
    changes = dict(variant.optimizer) if variant is not None else {}
    settings = model_cls.optimizer
    if changes:  # a variant's optimiser: say where it comes from
        settings = settings.replace(**changes, source=f"{variant.name}: {variant.source}")
    settings = settings if cfg.lr is None else settings.replace(lr=cfg.lr)
    optimizer = settings.build(model.parameters())
    scheduler = settings.schedule(optimizer, training.steps_per_epoch)
    amp = (device.type == "cuda" and model_cls.amp_safe) if cfg.amp is None else bool(cfg.amp)
    if amp and not model_cls.amp_safe:
        raise MemtasksError(
            f"{model_cls.name} keeps its memory addressing in float32: mixed precision is not "
            f"safe for it (drop --amp)"
        )
    want_compile = device.type == "cuda" if cfg.compile is None else bool(cfg.compile)
    compiled = model.compile_step() if want_compile else False

    trainer = Trainer(
        cfg=cfg, spec=spec, model=model, optimizer=optimizer, scheduler=scheduler,
        settings=settings, data=training, device=device, amp=amp, compiled=compiled,
        knobs=knobs, hp=hp, total_steps=total_steps,
        identity=identity(cfg, model_cls.name, knobs, hp, changes),
    )  # fmt: skip
    ckpt = cfg.checkpoint_path
    if cfg.resume and ckpt is not None and ckpt.exists():
        state, saved = load_checkpoint(ckpt, trainer.identity, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"].cpu())  # map_location moved it to the device
        trainer.progress = Progress.from_json(saved)
        trainer.best_state = state.get("best_state")
        trainer.saved_step = trainer.progress.step
        if trainer.progress.step > total_steps:
            raise MemtasksError(
                f"the checkpoint {ckpt} is at step {trainer.progress.step}, past the "
                f"{total_steps} steps asked"
            )

    trainer.eval_sets, trainer.eval_knobs = data_module.eval_sets(spec, knobs, cfg, splits)
    folder = cfg.release_dir
    if folder is None and hooked and hook.envvar:
        folder = os.environ.get(hook.envvar) or None
    if folder is not None:
        extra, trainer.release = hook.sets(spec, knobs, Path(folder))
        trainer.eval_sets.update(extra)
    if cfg.progress:
        from tqdm.auto import tqdm

        trainer.bar = tqdm(total=total_steps, initial=trainer.progress.step,
                           desc=f"{cfg.model} {cfg.task}", unit="step")  # fmt: skip
    model.train()
    return trainer, variant


def train_initialisations(first: Trainer, make=None) -> tuple[Trainer, dict]:
    """``--inits N``: train N initialisations (init seeds s .. s+N-1) on the same data, one
    after the other, and keep the one with the lowest training error (MemN2N's paper: "we
    repeated each training 10 times with different random initializations, and picked the one
    with the lowest training error"). Ties, common at 0 %, go to the lower training loss.
    Returns the kept run's trainer (its evaluations are the run's metrics) and what every
    initialisation reached, for the results' ``initialisations``.

    ``make(settings)`` sets up each further initialisation's trainer (default: ``prepare``; a
    benchmark may swap its data). The members keep no checkpoint: a run of N is started
    again, not resumed (``resolve``)."""
    make = make or (lambda settings: prepare(settings)[0])
    cfg = first.cfg
    member_cfg = cfg.replace(out=None, checkpoint=None, inits=1)
    first.cfg = member_cfg
    best, best_key, members = None, None, []
    for k in range(cfg.inits):
        seed = (cfg.init_seed + k) % 2**64  # torch seeds are 64-bit
        trainer = first if k == 0 else make(member_cfg.replace(init_seed=seed))
        trainer.train()
        trainer.finish()
        fit = evaluation.evaluate(trainer.model, trainer.spec, trainer.data.train,
                                  trainer.device, cfg.eval_batch_size, trainer.amp)  # fmt: skip
        select = "answer_error" if "answer_error" in fit else "loss"
        train = {key: fit[key] for key in dict.fromkeys((select, "loss"))}
        last = trainer.progress.evaluations[-1]["sets"]
        members.append({
            "init_seed": seed,
            "train": train,
            "train_time_s": trainer.progress.train_time_s,
            "metrics": {name: {m: v for m, v in values.items() if isinstance(v, float)}
                        for name, values in last.items()},
        })  # fmt: skip
        key = (train[select], train["loss"])
        if best is None or key < best_key:
            best, best_key, chosen = trainer, key, k
        else:
            del trainer  # only the kept run's weights stay in memory
    best.cfg = cfg.replace(init_seed=members[chosen]["init_seed"])  # outputs as the run asked
    return best, {"count": cfg.inits, "select": select, "chosen": chosen, "members": members}


def _results(trainer: Trainer, variant, started: float, commit, dirty) -> Results:
    cfg, p, device = trainer.cfg, trainer.progress, trainer.device
    return Results(
        task=trainer.spec.id,
        model=type(trainer.model).name,
        variant=variant.name if variant is not None else None,
        preset=cfg.preset,
        knobs=trainer.knobs.to_dict(),
        eval_knobs={name: k.to_dict() for name, k in trainer.eval_knobs.items()},
        hparams=trainer.hp.to_dict(),
        parameters=trainer.model.num_parameters(),
        optimizer=trainer.settings.to_dict(),
        seed=cfg.seed,
        init_seed=cfg.init_seed,
        steps=p.step,
        steps_requested=trainer.total_steps,
        epochs_requested=cfg.epochs,
        training_set=trainer.data.info,
        release=trainer.release,
        stopped_by=trainer.stopped_by,
        patience=cfg.patience,
        best_epoch=p.best_epoch if cfg.patience else None,
        time_limit_s=cfg.time_limit,
        batch_size=cfg.batch_size,
        episodes_seen=p.step * cfg.batch_size,
        wall_time_s=time.time() - started,
        train_time_s=p.train_time_s,
        device=device_name(device),
        device_type=device.type,
        amp=trainer.amp,
        compiled_step=trainer.compiled,
        memtasks_version=_version(),
        git_commit=commit,
        git_dirty=dirty,
        torch_version=torch.__version__,
        eval_episodes=cfg.eval_episodes,
        metrics=p.evaluations[-1]["sets"],
        evaluations=p.evaluations,
        epochs=p.epochs,
        history=p.history,
    )


# ---------------------------------------------------------------------------------------------
# Set-up: the device, what a model may read; provenance
# ---------------------------------------------------------------------------------------------
def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise MemtasksError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise MemtasksError(f"--device {name}: no CUDA device is available here (use cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise MemtasksError(
                f"--device {name}: there are {torch.cuda.device_count()} CUDA devices"
            )
    elif device.type != "cpu":
        raise MemtasksError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return device


def device_name(device: torch.device) -> str:
    """The accelerator or CPU model, as results files name it."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    threads = torch.get_num_threads()
    return f"{cpu} ({threads} thread{'' if threads == 1 else 's'})"


def check_readable(model_cls, spec, probe: EpisodeBatch) -> None:
    """Refuse a non-causal model on a task whose inputs at or after a scored position carry
    information: reading the episode backwards, it would see the answers (dynamic N-grams give
    the next bit as the next input; a language model's next word is its next input) or facts
    told after the question (bAbI)."""
    if model_cls.causal:
        return
    episode = np.repeat(np.arange(len(probe)), probe.lengths)
    scored = np.where(probe.mask)[0]
    if len(scored) == 0:
        return
    first_scored = np.full(len(probe), np.iinfo(np.int64).max)
    np.minimum.at(first_scored, episode[scored], scored)
    position = np.arange(len(episode))
    late = position >= first_scored[episode]
    inputs = probe.inputs
    carries = inputs.any(axis=1) if inputs.ndim == 2 else inputs != 0
    if np.any(late & carries):
        causal = ", ".join(m for m in list_models() if lookup(m)[0].causal)
        raise MemtasksError(
            f"{model_cls.name} reads each episode in both directions, and {spec.id} has inputs "
            f"at or after its scored positions, so it would read the answers; use a causal "
            f"model ({causal})"
        )


def _git(*args: str) -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), *args], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit() -> tuple[str | None, bool | None]:
    """The commit of the checkout this package runs from (if it runs from one), and whether
    tracked files differ from it."""
    commit = _git("rev-parse", "HEAD") or None
    if commit is None:
        return None, None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("memtasks")
    except PackageNotFoundError:
        return "unknown"
