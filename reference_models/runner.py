"""The baseline runner behind ``memtasks baseline MODEL TASK`` (DESIGN.md section 6).

It trains one reference model on one task and writes a results JSON that says exactly what was
run and what it reached:

- training episodes stream from the generator (``EpisodeStream``): batch ``k`` is always the
  same episodes, so a run is reproducible from its seed and a resumed run sees exactly the
  batches an uninterrupted one would have seen;
- the model's own optimiser settings (the paper's where it gives them: RMSProp 1e-4 with
  momentum 0.9 and gradients clipped to [-10, 10] for the NTM);
- bfloat16 autocast on a GPU for models whose numerics allow it (``amp_safe``); the memory
  models keep their addressing in float32;
- evaluation on a fixed test set (the ``test`` stream of the same knobs) and on each of the
  task's ``extrapolate*`` presets (longer sequences, more items), with the task's metric, broken
  down by small integer meta fields (sequence length, number of items...);
- a checkpoint every ``checkpoint_every`` steps and at the end; ``resume=True`` continues from
  it after checking that it belongs to the same run. A checkpoint holds tensors and plain data
  only (the run's settings and history as JSON text) and is read with ``weights_only=True``,
  so a crafted file cannot run code;
- every output path is checked before training (so a run never learns for hours and then
  fails to write), an existing checkpoint is never overwritten without ``resume``, and a save
  that fails at the end still writes whatever else it can and says what was kept;
- Ctrl-C or SIGTERM during training saves a checkpoint of the last whole step and raises
  ``RunInterrupted``, whose one line says how to resume.

Every refusal (unknown model, bad hyperparameter, a bidirectional model on a task whose scored
positions carry inputs, a missing CUDA device, a checkpoint of another run) is one
``MemtasksError`` line, which the command line prints without a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pickle
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memtasks.episode import EpisodeBatch
from memtasks.errors import MemtasksError
from memtasks.knobs import Knobs
from memtasks.registry import TaskSpec, get_spec
from memtasks.torch import EpisodeStream
from memtasks.views import answer_spans

from . import _base, get_model, make_hparams

__all__ = ["LR_RANGE", "RunConfig", "RunInterrupted", "evaluate", "run"]

EVAL_SPLIT = "test"
# 2: the run's settings and history are JSON text and everything else tensors, so that a
# checkpoint loads with ``weights_only=True`` (format 1 pickled Python objects)
CHECKPOINT_FORMAT = 2
# The learning rates a run accepts, both ends excluded; ``memtasks baseline --lr`` shows this
# range in its help (tests/test_runner_faults.py checks that the two agree).
LR_RANGE = (0.0, 10.0)


class RunInterrupted(MemtasksError):
    """Training stopped by Ctrl-C or SIGTERM. The message says at which step, what was saved,
    and the flags that resume the run; the command line prints it and exits with 130."""


@dataclass
class RunConfig:
    """Everything that defines a baseline run; ``memtasks baseline`` fills it from its flags."""

    model: str
    task: str
    preset: str | None = None
    knobs: dict[str, Any] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    steps: int | None = None  # None: the model's default (``training_defaults``), else 10,000
    time_limit: float | None = None  # seconds of training; stops early, records steps reached
    # A fixed training set instead of a stream: the first N questions (answer spans) of the
    # train split, N per task for babi/joint-v1 (bAbI-1k: 1000, bAbI-10k: 10000), in whole
    # stories; training passes over it in shuffled epochs, and ``valid_fraction`` of its
    # stories are held out for the models' end-of-epoch hooks (MemN2N's linear start).
    # None: the model's default; 0: stream.
    train_questions: int | None = None
    epochs: int | None = None  # with train_questions: passes over it (None: the model's)
    valid_fraction: float = 0.1
    # With a fixed set: stop once the held-out loss has not improved for this many epochs, and
    # end with the weights of the best epoch (DMN+ trains so, with 20). None: the model's
    # default; 0: never.
    patience: int | None = None
    # The bAbI release (a folder holding en/ or the variant's files); its test files (else its
    # training files, which the model never saw) are evaluated too. None: $MEMTASKS_BABI_DIR.
    release_dir: Path | None = None
    batch_size: int | None = None  # None: the model's default, else 64
    seed: int = 0
    lr: float | None = None
    eval_every: int = 0  # 0: only at the end
    eval_episodes: int = 1000
    eval_batch_size: int = 250
    extrapolate: bool = True
    amp: bool | None = None  # None: on for amp_safe models on a GPU
    compile: bool | None = None  # None: compile the step function on a GPU
    threads: int | None = None  # CPU threads for torch (None: torch's default, all cores)
    log_every: int = 50
    checkpoint: Path | None = None  # None: next to `out` (`<out>.ckpt`), or no checkpoints
    checkpoint_every: int = 1000
    resume: bool = False
    out: Path | None = None
    progress: bool = True


# ---------------------------------------------------------------------------------------------
# Set-up: the task, the model, the device; each refusal is one line.
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


def check_readable(model_cls, spec: TaskSpec, probe: EpisodeBatch) -> None:
    """Refuse a non-causal model on a task whose inputs at or after a scored position carry
    information: reading the episode backwards, it would see the answers (dynamic N-grams give
    the next bit as the next input) or facts told after the question (bAbI)."""
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
        causal = ", ".join(n for n in _causal_models())
        raise MemtasksError(
            f"{model_cls.name} reads each episode in both directions, and {spec.id} has inputs "
            f"at or after its scored positions, so it would read the answers; use a causal "
            f"model ({causal})"
        )


def _causal_models() -> list[str]:
    from . import list_models

    return [m for m in list_models() if get_model(m).causal]


def _extrapolate_knobs(spec: TaskSpec, knobs: Knobs) -> dict[str, Knobs]:
    """Each of the task's ``extrapolate*`` presets applied over the training knobs (so widths
    and the like stay what the model reads), by preset name."""
    return {
        name: spec.knobs.from_values({**knobs.to_dict(), **values})
        for name, values in spec.presets.items()
        if name.startswith("extrapolate")
    }


# ---------------------------------------------------------------------------------------------
# A fixed training set (bAbI-1k, bAbI-10k) and the release's own files
# ---------------------------------------------------------------------------------------------
def _task_of(batch: EpisodeBatch) -> np.ndarray:
    """Which task each episode is of (a joint set's ``meta["task"]``; 0 for one task)."""
    task = batch.meta.get("task")
    return np.zeros(len(batch), np.int64) if task is None else np.asarray(task, np.int64)


def fixed_training_set(
    spec: TaskSpec, knobs: Knobs, seed: int, questions: int
) -> tuple[EpisodeBatch, dict[str, Any]]:
    """The first stories of the train split holding ``questions`` questions of each task (whole
    stories, so the last one may bring a few more), and a summary of what it holds."""
    parts, start, chunk = [], 0, 256
    while True:  # generate in doubling chunks until every task has its questions
        parts.append(spec.generate(chunk, seed, "train", start=start, knobs=knobs))
        start += chunk
        batch = EpisodeBatch.concat(parts)
        spans, task = answer_spans(batch), _task_of(batch)
        tasks = np.unique(task[: len(parts[0])])  # the first chunk holds every task of a joint set
        if all(spans[task == t].sum() >= questions for t in tasks):
            break
        chunk *= 2
    # the questions each task has before each story (exclusive running count per task)
    before = np.zeros(len(batch), np.int64)
    for t in tasks:
        sel = task == t
        before[sel] = np.cumsum(spans[sel]) - spans[sel]
    keep = np.flatnonzero(before < questions)
    chosen = batch.take(keep)
    chosen_spans, chosen_task = spans[keep], task[keep]
    summary = {
        "split": "train",
        "seed": seed,
        "episodes": len(chosen),
        "questions": int(chosen_spans.sum()),
        "questions_per_task": {
            str(int(t)): int(chosen_spans[chosen_task == t].sum()) for t in tasks
        },
    }
    return chosen, summary


def _release_tasks(spec: TaskSpec, knobs: Knobs) -> list[int] | None:
    """The numbers of the bAbI release's tasks that this task (with these knobs) is, or None
    for a task the release does not have."""
    from memtasks.loaders import babi as release

    numbers = list(knobs.tasks) if hasattr(knobs, "tasks") else [release.task_number(spec.id) or 0]
    return numbers if all(numbers) and spec.family == "babi" else None


def _release_sets(
    spec: TaskSpec, knobs: Knobs, folder: Path | None
) -> tuple[dict[str, EpisodeBatch], dict[str, Any] | None]:
    """The bAbI release's files of this task (every task of a joint set), with their words
    mapped to the task's vocabulary: the test files where the folder has them, else the
    training files (which a model trained on generated data never saw)."""
    numbers = _release_tasks(spec, knobs)
    if folder is None or numbers is None:
        return {}, None
    from memtasks.loaders import babi as release

    vocab = spec.layout(knobs).vocab
    for split in ("test", "train"):
        paths = [release.release_path(folder, "en", n, split) for n in numbers]
        if not all(p.is_file() for p in paths):
            continue
        # read in the task's own word ids; a word outside them (knobs other than the
        # release's) is a one-line LoaderError naming the file and line
        batches = [
            release.read_file(path, vocab=vocab, task=n).batch
            for path, n in zip(paths, numbers, strict=True)
        ]
        if len(batches) > 1:  # per-question fields differ in width by task: left out, as
            for b in batches:  # babi/joint-v1 leaves them out
                b.meta = {k: v for k, v in b.meta.items() if v.ndim == 1}
        joint = EpisodeBatch.concat(batches)
        info = {"folder": str(folder), "variant": "en", "split": split, "tasks": numbers}
        if split == "train":
            info["note"] = "no test files there: the release's training files, unseen in training"
        return {f"release-{split}": joint}, info
    expected = release.release_path(folder, "en", numbers[0])
    raise MemtasksError(
        f"{folder} holds neither the test nor the training files of bAbI task(s) "
        f"{', '.join(map(str, numbers))} (expected e.g. {expected})"
    )


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------
def _group_by_meta(batch: EpisodeBatch, per: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per-episode metrics averaged by each small integer meta field (at most 32 values):
    ``{"by_length": {"20": {...}, "30": {...}}}``. This is how the NTM paper reports copy."""
    out: dict[str, Any] = {}
    for name, values in batch.meta.items():
        values = np.asarray(values)
        if values.ndim != 1 or values.dtype.kind not in "iu":
            continue
        keys = np.unique(values)
        if len(keys) < 2 or len(keys) > 32:
            continue
        groups = {}
        for k in keys:
            sel = values == k
            group = {m: float(v[sel].mean()) for m, v in per.items()}
            if "bit_errors_per_sequence" in per:
                group["sequence_accuracy"] = float(
                    (per["bit_errors_per_sequence"][sel] == 0).mean()
                )
            group["episodes"] = int(sel.sum())
            groups[str(int(k))] = group
        out[f"by_{name}"] = groups
    return out


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    spec: TaskSpec,
    batch: EpisodeBatch,
    device: torch.device,
    batch_size: int = 250,
    amp: bool = False,
) -> dict[str, Any]:
    """The task's metric of ``model`` on ``batch`` (evaluated in slices of ``batch_size``),
    with per-episode breakdowns where the metric has them, and the mean loss per scored unit."""
    was_training = model.training
    model.eval()
    preds, losses, weights = [], [], []
    for lo in range(0, len(batch), batch_size):
        episodes = batch[lo : lo + batch_size]
        part = model.collate(episodes, device)
        with _autocast(device, amp):
            out = model(part)
        losses.append(float(model.loss(out, part)))
        weights.append(int(episodes.mask.sum()))
        preds.append(model.predictions(out, part))
    model.train(was_training)
    predictions = np.concatenate(preds)
    metrics: dict[str, Any] = dict(spec.metric.evaluate(batch, predictions))
    metrics["loss"] = float(np.average(losses, weights=weights)) if sum(weights) else math.nan
    metrics["episodes"] = len(batch)
    if hasattr(spec.metric, "per_episode"):
        metrics.update(_group_by_meta(batch, spec.metric.per_episode(batch, predictions)))
    task = batch.meta.get("task")
    if task is not None and len(np.unique(task)) > 1:  # a joint set: the metric of each task
        position_task = np.repeat(np.asarray(task), batch.lengths)
        metrics["by_task"] = {
            str(int(t)): dict(
                spec.metric.evaluate(
                    batch.take(np.flatnonzero(task == t)), predictions[position_task == t]
                )
            )
            for t in np.unique(task)
        }
    return metrics


def _autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------
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


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write through a temporary file and rename, so a results file is never half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, sort_keys=False, default=_jsonable) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # nothing half written is left behind
        raise


def _jsonable(x: Any) -> Any:
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, tuple):
        return list(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def _identity(cfg: RunConfig, knobs: Knobs, hp) -> dict[str, Any]:
    """What a checkpoint must match to be resumed by this run."""
    return {
        "model": cfg.model,
        "task": cfg.task,
        "knobs": knobs.to_dict(),
        "hparams": hp.to_dict(),
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "train_questions": cfg.train_questions,
        "valid_fraction": cfg.valid_fraction,
    }


def _checkpoint_path(cfg: RunConfig) -> Path | None:
    if cfg.checkpoint is not None:
        return Path(cfg.checkpoint)
    if cfg.out is not None:
        out = Path(cfg.out)
        return out.with_name(out.name + ".ckpt")
    return None


def resolve(cfg: RunConfig) -> RunConfig:
    """``cfg`` with the values it leaves open (None) taken from the model's
    ``training_defaults`` (its paper's: MemN2N trains 100 epochs over bAbI-1k in batches of 32
    questions), else the runner's (a stream, 10,000 steps of 64 stories)."""
    defaults = dict(get_model(cfg.model).training_defaults)
    changes: dict[str, Any] = {}
    if cfg.batch_size is None:
        changes["batch_size"] = defaults.get("batch_size", 64)
    questions = cfg.train_questions
    if questions is None:
        questions = defaults.get("train_questions", 0) if cfg.steps is None else 0
    changes["train_questions"] = questions or None
    epochs = cfg.epochs
    if epochs is None and questions and cfg.steps is None:
        epochs = defaults.get("epochs")
    changes["epochs"] = epochs
    if cfg.patience is None:
        changes["patience"] = defaults.get("patience", 0)
    if cfg.steps is None and epochs is None:
        changes["steps"] = defaults.get("steps", 10_000)
    return dataclasses.replace(cfg, **changes)


def _check_config(cfg: RunConfig) -> None:
    for name in ("steps", "batch_size", "eval_episodes", "eval_batch_size", "log_every"):
        value = getattr(cfg, name)
        if name == "steps" and value is None and cfg.epochs is not None:
            continue
        if not isinstance(value, int) or value < (0 if name == "steps" else 1):
            low = 0 if name == "steps" else 1
            raise MemtasksError(f"{name} must be an integer >= {low}, got {value!r}")
    for name in ("eval_every", "checkpoint_every"):
        value = getattr(cfg, name)
        if not isinstance(value, int) or value < 0:
            raise MemtasksError(f"{name} must be an integer >= 0 (0: never), got {value!r}")
    if cfg.time_limit is not None and not cfg.time_limit > 0:
        raise MemtasksError(f"time_limit must be a number of seconds > 0, got {cfg.time_limit!r}")
    if cfg.threads is not None and not (isinstance(cfg.threads, int) and cfg.threads >= 1):
        raise MemtasksError(f"threads must be an integer >= 1, got {cfg.threads!r}")
    low, high = LR_RANGE
    if cfg.lr is not None and not (isinstance(cfg.lr, (int, float)) and low < cfg.lr < high):
        raise MemtasksError(f"lr must be a number in ({low:g}, {high:g}), got {cfg.lr!r}")
    if not (isinstance(cfg.patience, int) and cfg.patience >= 0) or isinstance(cfg.patience, bool):
        raise MemtasksError(f"patience must be an integer >= 0 (0: never), got {cfg.patience!r}")
    for name in ("train_questions", "epochs"):
        value = getattr(cfg, name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise MemtasksError(f"{name} must be an integer >= 1, got {value!r}")
    if cfg.epochs is not None and cfg.train_questions is None:
        raise MemtasksError(
            "--epochs needs --train-questions (a stream has no epochs; use --steps)"
        )
    if not (isinstance(cfg.valid_fraction, (int, float)) and 0 <= cfg.valid_fraction < 1):
        raise MemtasksError(f"valid_fraction must be in [0, 1), got {cfg.valid_fraction!r}")
    if cfg.resume and _checkpoint_path(cfg) is None:
        raise MemtasksError("--resume needs --checkpoint PATH or --out PATH (<out>.ckpt)")


def _check_paths(cfg: RunConfig) -> None:
    """Refuse, before any training, an output that could not be written when the run ends
    (hours later, with the trained model in memory only), and a checkpoint that would
    overwrite another run's. Creates nothing: a probe file is made and removed at once."""
    ckpt = _checkpoint_path(cfg)
    outputs = [("--out", Path(cfg.out))] if cfg.out is not None else []
    outputs += [("--checkpoint", ckpt)] if ckpt is not None else []
    if len(outputs) == 2 and os.path.abspath(outputs[0][1]) == os.path.abspath(outputs[1][1]):
        raise MemtasksError(
            f"--out and --checkpoint are the same file ({ckpt}); give the checkpoint another name"
        )
    for flag, path in outputs:
        _check_writable(flag, path)
    if ckpt is not None and not cfg.resume and ckpt.exists():
        hint = "--checkpoint" if cfg.checkpoint is not None else "--out (or --checkpoint)"
        raise MemtasksError(
            f"the checkpoint {ckpt} exists (another run's?) and would be overwritten; continue "
            f"that run with --resume, or choose another {hint}"
        )


def _check_writable(flag: str, path: Path) -> None:
    """``path`` can be written through a temporary file and a rename: it is not a folder, and
    its folder is one (or can be made) in which a file can be created."""
    if path.is_dir():
        raise MemtasksError(f"{flag} {path} is a folder; give a file path inside it")
    folder = path.parent
    while True:  # the nearest folder above that exists: the run makes the rest
        try:
            folder.stat()
            break
        except (FileNotFoundError, NotADirectoryError):  # missing, or below a file
            folder = folder.parent
        except OSError as exc:
            raise MemtasksError(f"{flag} {path}: cannot reach {folder} ({_reason(exc)})") from None
    if not folder.is_dir():
        raise MemtasksError(f"{flag} {path}: {folder} is a file, not a folder")
    try:  # permissions, a read-only or pseudo file system: only trying tells
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise MemtasksError(f"{flag} {path}: cannot write in {folder} ({_reason(exc)})") from None
    os.close(fd)
    os.unlink(probe)


def _reason(exc: BaseException) -> str:
    """An error's message on one line (an OSError's strerror where it has one)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def run(cfg: RunConfig) -> dict[str, Any]:
    """Train ``cfg.model`` on ``cfg.task`` and return (and write to ``cfg.out``) the results."""
    model_cls = get_model(cfg.model)  # an unknown model is refused before anything else
    cfg = resolve(cfg)
    _check_config(cfg)
    _check_paths(cfg)
    started = time.time()
    commit, dirty = git_commit()  # the code as it was when the run started
    spec = get_spec(cfg.task)
    knobs = spec.make_knobs(cfg.preset, **cfg.knobs)
    # An explicit release folder for a task the release does not have would be silently
    # ignored; $MEMTASKS_BABI_DIR, set once for every run, is (it only serves bAbI tasks).
    has_release = _release_tasks(spec, knobs) is not None
    if cfg.release_dir is not None and not has_release:
        raise MemtasksError(
            f"--release-dir: {spec.id} is not a task of the bAbI release (babi/qa1-v1 .. "
            f"babi/qa20-v1, babi/joint-v1), so there is nothing to score there; drop --release-dir"
        )
    hp = make_hparams(cfg.model, cfg.hparams)
    device = _device(cfg.device)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    probe = spec.generate(min(cfg.batch_size, 256), cfg.seed, "train", knobs=knobs)
    check_readable(model_cls, spec, probe)

    torch.manual_seed(cfg.seed)
    model = model_cls(_base.TaskIO.of(spec, knobs), hp).to(device)

    # -- the training data: a stream, or a fixed set passed over in epochs ----------------------
    fixed = cfg.train_questions is not None
    training_set, valid_set, train_units, steps_per_epoch = None, None, None, None
    if fixed:
        chosen, training_info = fixed_training_set(spec, knobs, cfg.seed, cfg.train_questions)
        held = np.random.default_rng([cfg.seed, 1]).permutation(len(chosen))
        n_valid = int(round(cfg.valid_fraction * len(chosen)))
        valid_set = chosen.take(np.sort(held[:n_valid])) if n_valid else None
        train_episodes = chosen.take(np.sort(held[n_valid:]))
        training_info.update(
            valid_episodes=n_valid,
            valid_questions=int(answer_spans(valid_set).sum()) if n_valid else 0,
        )
        if model_cls.view == "qa":  # memory networks batch questions, not stories
            training_set = model.collate(train_episodes, device)
            train_units = len(training_set["answer"])
        else:
            training_set, train_units = train_episodes, len(train_episodes)
        training_info["batch_unit"] = "question" if model_cls.view == "qa" else "story"
        steps_per_epoch = math.ceil(train_units / cfg.batch_size)
    else:
        training_info = {"split": "train", "seed": cfg.seed, "stream": True}
    total_steps = cfg.epochs * steps_per_epoch if cfg.epochs is not None else cfg.steps

    settings = model_cls.optimizer if cfg.lr is None else model_cls.optimizer.replace(lr=cfg.lr)
    optimizer = settings.build(model.parameters())
    scheduler = settings.schedule(optimizer, steps_per_epoch)
    amp = (device.type == "cuda" and model_cls.amp_safe) if cfg.amp is None else bool(cfg.amp)
    if amp and not model_cls.amp_safe:
        raise MemtasksError(
            f"{cfg.model} keeps its memory addressing in float32: mixed precision is not safe "
            f"for it (drop --amp)"
        )
    want_compile = device.type == "cuda" if cfg.compile is None else bool(cfg.compile)
    compiled = model.compile_step() if want_compile else False

    identity = _identity(cfg, knobs, hp)
    ckpt_path = _checkpoint_path(cfg)
    step, history, evaluations, train_time, epochs_log = 0, [], [], 0.0, []
    best: dict[str, Any] = {"loss": math.inf, "epoch": 0, "state": None}  # for patience
    # the loss summed since the last log line; in a checkpoint too, so that a run resumed
    # between two log lines logs exactly what an unbroken one would
    running, running_n = 0.0, 0
    saved_step = None  # the step of the checkpoint on disk, if any
    if cfg.resume and ckpt_path is not None and ckpt_path.exists():
        state, saved = _load_checkpoint(ckpt_path, identity, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"].cpu())  # map_location moved it to the device
        step, history, evaluations = saved["step"], saved["history"], saved["evaluations"]
        train_time, epochs_log = saved["train_time_s"], saved["epochs"]
        best = {"loss": saved["best_loss"], "epoch": saved["best_epoch"], "state": None}
        best["state"] = state.get("best_state")
        running, running_n = saved["running_loss"], saved["running_n"]
        saved_step = step
        if step > total_steps:
            raise MemtasksError(
                f"the checkpoint {ckpt_path} is at step {step}, past the {total_steps} steps asked"
            )

    test_set = spec.generate(cfg.eval_episodes, cfg.seed, EVAL_SPLIT, knobs=knobs)
    extra_knobs = _extrapolate_knobs(spec, knobs) if cfg.extrapolate else {}
    eval_sets = {"test": test_set}
    for name, values in extra_knobs.items():
        eval_sets[name] = spec.generate(cfg.eval_episodes, cfg.seed, EVAL_SPLIT, knobs=values)
    release_dir = cfg.release_dir or (os.environ.get("MEMTASKS_BABI_DIR") if has_release else None)
    release_sets, release_info = _release_sets(
        spec, knobs, Path(release_dir) if release_dir else None
    )
    eval_sets.update(release_sets)

    def evaluate_all() -> dict[str, Any]:
        return {
            name: evaluate(model, spec, data, device, cfg.eval_batch_size, amp)
            for name, data in eval_sets.items()
        }

    def save_checkpoint(rng: torch.Tensor | None = None) -> None:
        """Write the checkpoint of step ``step`` through a temporary file and a rename (an
        existing one stays whole when this fails). Raises OSError, however writing failed."""
        nonlocal saved_step
        if ckpt_path is None:
            return
        progress = {
            "step": step,
            "history": history,
            "evaluations": evaluations,
            "epochs": epochs_log,
            "best_loss": best["loss"],
            "best_epoch": best["epoch"],
            "train_time_s": train_time,
            "running_loss": float(running),
            "running_n": running_n,
        }
        payload = {  # tensors and plain data only: read back with weights_only=True
            "format": CHECKPOINT_FORMAT,
            "identity": json.dumps(identity, default=_jsonable),
            "progress": json.dumps(progress, default=_jsonable),
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state() if rng is None else rng,
            "best_state": best["state"],
        }
        tmp = ckpt_path.with_name(ckpt_path.name + ".tmp")
        try:
            ckpt_path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(payload, tmp)
            os.replace(tmp, ckpt_path)
        except BaseException as exc:  # a full disk, or Ctrl-C while writing
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)  # nothing half written is left behind
            if isinstance(exc, RuntimeError):  # how torch's zip writer reports a full disk
                raise OSError(_reason(exc)) from exc
            raise
        saved_step = step

    def fixed_batches():
        """Step s's batch: its share of epoch s // steps_per_epoch's permutation, which depends
        on the seed and the epoch only, so a resumed run sees what an unbroken one would."""
        for s in range(step, total_steps):
            epoch, j = divmod(s, steps_per_epoch)
            order = np.random.default_rng([cfg.seed, 2, epoch]).permutation(train_units)
            rows = np.sort(order[j * cfg.batch_size : (j + 1) * cfg.batch_size])
            if model_cls.view == "qa":
                yield model.select(training_set, torch.from_numpy(rows).to(device))
            else:
                yield model.collate(training_set.take(rows), device)

    if fixed:
        batches = fixed_batches()
    else:
        batches = EpisodeStream(
            cfg.task,
            cfg.batch_size,
            cfg.seed,
            "train",
            knobs=knobs,
            start=step * cfg.batch_size,
            num_batches=total_steps - step,
            device=device,
            prefetch=2,
            collate_fn=None if model_cls.view == "padded" else model.collate,
        )
    bar = None
    if cfg.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, initial=step, desc=f"{cfg.model} {cfg.task}", unit="step")
    model.train()
    stopped_by = "steps" if cfg.epochs is None else "epochs"
    tick = time.perf_counter()

    def trained() -> float:
        """Seconds of training so far (evaluation and checkpoints are left out)."""
        nonlocal train_time, tick
        now = time.perf_counter()
        train_time, tick = train_time + now - tick, now
        return train_time

    @contextlib.contextmanager
    def paused():
        nonlocal tick
        trained()
        yield
        tick = time.perf_counter()

    def end_of_epoch(epoch: int) -> bool:
        """The held-out loss and accuracy after a pass, and the model's hook; whether the
        patience has run out."""
        entry: dict[str, Any] = {"epoch": epoch, "step": step}
        if valid_set is None:
            epochs_log.append(entry)
            return False
        valid = evaluate(model, spec, valid_set, device, cfg.eval_batch_size, amp)
        entry["valid_loss"] = valid["loss"]
        entry["valid_" + spec.metric.name] = valid.get(spec.metric.name)
        event = model.end_of_epoch(epoch, valid["loss"])
        if event:
            entry["event"] = event
            if bar is not None:
                bar.write(f"{cfg.model} {cfg.task}: {event}")
        epochs_log.append(entry)
        if not cfg.patience:
            return False
        if valid["loss"] < best["loss"]:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best.update(loss=valid["loss"], epoch=epoch, state=state)
        return epoch - best["epoch"] >= cfg.patience

    def warn(message: str) -> None:
        if bar is not None:
            bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    # A step can be abandoned while it reads its batch and runs forward and backward (the
    # weights, the optimiser and the step count are as the last step left them, and the RNG
    # state is taken at each step's end); from the update on it must finish with its
    # evaluation and checkpoint. Ctrl-C or SIGTERM in the first part stops at once, in the
    # second at the step's end, so the checkpoint saved on the way out is one of a whole step.
    signals = _Signals()
    boundary_rng = torch.get_rng_state()
    iterator = iter(batches)
    try:
        with signals:
            signals.abandonable = True
            for batch in iterator:
                with _autocast(device, amp):
                    out = model(batch)
                value = model.loss(out, batch)
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                if settings.clip_value is not None:
                    torch.nn.utils.clip_grad_value_(model.parameters(), settings.clip_value)
                if settings.clip_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
                signals.abandonable = False
                optimizer.step()
                scheduler.step()
                step += 1
                running = running + value.detach()  # stays on the device: no sync per step
                running_n += 1
                if step % cfg.log_every == 0 or step == total_steps:
                    running = float(running)
                    if not math.isfinite(running):
                        raise MemtasksError(
                            f"{cfg.model} on {cfg.task}: the loss became {running} by step "
                            f"{step}; lower --lr (now {settings.lr:g})"
                        )
                    history.append(
                        {"step": step, "loss": running / running_n, "train_time_s": trained()}
                    )
                    if bar is not None:
                        bar.set_postfix(loss=f"{running / running_n:.4f}")
                    running, running_n = 0.0, 0
                if bar is not None:
                    bar.update(1)
                if fixed and step % steps_per_epoch == 0:
                    with paused():
                        out_of_patience = end_of_epoch(step // steps_per_epoch)
                    if out_of_patience:
                        stopped_by = "patience"
                        break
                if cfg.eval_every and step % cfg.eval_every == 0 and step < total_steps:
                    with paused():
                        evaluations.append({"step": step, "sets": evaluate_all()})
                every = cfg.checkpoint_every
                if every and step % every == 0 and step < total_steps and ckpt_path is not None:
                    with paused():
                        try:
                            save_checkpoint()
                        except OSError as exc:  # training goes on; the end tries again
                            warn(
                                f"memtasks: warning: could not save the checkpoint {ckpt_path} "
                                f"at step {step} ({_reason(exc)}); training goes on"
                            )
                if cfg.time_limit is not None and trained() >= cfg.time_limit:
                    stopped_by = "time_limit"
                    break
                boundary_rng = torch.get_rng_state()  # before the step can be abandoned
                signals.abandonable = True
                if signals.requested:  # a signal during the update: stop here, whole
                    raise KeyboardInterrupt
            signals.abandonable = False
    except KeyboardInterrupt:
        # raised by _Signals, or by Python's own Ctrl-C where no handler could be installed
        # (a thread other than the main one)
        trained()
        raise RunInterrupted(
            _interrupted(
                cfg,
                signals,
                step,
                total_steps,
                ckpt_path,
                saved_step,
                save_checkpoint,
                boundary_rng,
            )
        ) from None
    finally:
        if hasattr(iterator, "close"):  # stop the prefetching thread
            iterator.close()
        if bar is not None:
            bar.close()
    trained()
    restored = bool(cfg.patience and best["state"] is not None)
    if restored:  # end with the weights of the best held-out epoch
        model.load_state_dict(best["state"])
    if running_n:  # the steps since the last log line (a time limit stopped the run)
        history.append(
            {"step": step, "loss": float(running) / running_n, "train_time_s": train_time}
        )
        running, running_n = 0.0, 0
    if restored or not evaluations or evaluations[-1]["step"] != step:
        evaluations.append({"step": step, "sets": evaluate_all()})
    checkpoint_error = None
    try:
        save_checkpoint()
    except OSError as exc:  # the results are still written below
        checkpoint_error = exc

    results = {
        "task": spec.id,
        "preset": cfg.preset,
        "knobs": knobs.to_dict(),
        "eval_knobs": {name: k.to_dict() for name, k in extra_knobs.items()},
        "model": cfg.model,
        "hparams": hp.to_dict(),
        "parameters": model.num_parameters(),
        "optimizer": settings.to_dict(),
        "seed": cfg.seed,
        "steps": step,
        "steps_requested": total_steps,
        "epochs_requested": cfg.epochs,
        "training_set": training_info,
        "release": release_info,
        "stopped_by": stopped_by,
        "patience": cfg.patience,
        "best_epoch": best["epoch"] if cfg.patience else None,
        "time_limit_s": cfg.time_limit,
        "batch_size": cfg.batch_size,
        "episodes_seen": step * cfg.batch_size,
        "wall_time_s": time.time() - started,
        "train_time_s": train_time,
        "device": device_name(device),
        "device_type": device.type,
        "amp": amp,
        "compiled_step": compiled,
        "memtasks_version": _version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "torch_version": torch.__version__,
        "eval_episodes": cfg.eval_episodes,
        "metrics": evaluations[-1]["sets"],
        "evaluations": evaluations,
        "epochs": epochs_log,
        "history": history,
    }
    out_error = None
    if cfg.out is not None:
        try:
            _write_json(Path(cfg.out), results)
        except OSError as exc:
            out_error = exc
    if checkpoint_error is not None or out_error is not None:
        raise MemtasksError(_save_failure(cfg, ckpt_path, checkpoint_error, out_error))
    return results


class _Signals:
    """SIGINT and SIGTERM while training (the main thread only: Python runs handlers there).

    While ``abandonable`` a signal raises KeyboardInterrupt at once; otherwise it is noted in
    ``requested`` and the loop stops at the end of the step. A second signal stops at once.
    The handlers in place before are put back on leaving."""

    def __init__(self) -> None:
        self.abandonable = False
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for sig, handler in self._previous.items():  # None: set outside Python
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.abandonable or self.requested:
            self.requested = self.requested or name
            raise KeyboardInterrupt
        self.requested = name
        # a handler can run in the middle of another write to stderr (the progress bar's),
        # where a second one raises; the stop is noted all the same
        with contextlib.suppress(RuntimeError, OSError):
            print(
                f"memtasks: {name}: stopping at the end of this step (again to stop at once)",
                file=sys.stderr,
            )


def _resume_flags(cfg: RunConfig) -> str:
    """The flags that continue this run: --resume and the same output paths."""
    flags = ["--resume"]
    if cfg.out is not None:
        flags += ["--out", shlex.quote(str(cfg.out))]
    if cfg.checkpoint is not None:
        flags += ["--checkpoint", shlex.quote(str(cfg.checkpoint))]
    return " ".join(flags)


def _interrupted(
    cfg: RunConfig,
    signals: _Signals,
    step: int,
    total_steps: int,
    ckpt_path: Path | None,
    saved_step: int | None,
    save_checkpoint,
    rng: torch.Tensor,
) -> str:
    """Save what can be resumed exactly and say, in one line, what was kept and how to go on."""
    what = f"interrupted ({signals.requested or 'SIGINT'}) at step {step} of {total_steps}"
    again = f"to continue, run the same command with {_resume_flags(cfg)}"
    if ckpt_path is None:
        return f"{what}; nothing was saved (no --out or --checkpoint)"
    if signals.abandonable:  # at a step boundary: the state is that of step `step`
        try:
            save_checkpoint(rng)
        except OSError as exc:
            kept = f"; {ckpt_path} (step {saved_step}) was kept" if saved_step is not None else ""
            return f"{what}; could not save the checkpoint ({_reason(exc)}){kept}"
        return f"{what}: checkpoint saved to {ckpt_path}; {again}"
    # in the middle of an update or of the end-of-step work: no whole step to save
    if saved_step is None:
        return f"{what}, in the middle of a step; nothing was saved"
    kept = f"the checkpoint {ckpt_path} of step {saved_step} was kept"
    return f"{what}, in the middle of a step; {kept}; {again}"


def _save_failure(
    cfg: RunConfig,
    ckpt_path: Path | None,
    checkpoint_error: OSError | None,
    out_error: OSError | None,
) -> str:
    """One line: which output of a finished run could not be written, and what was kept."""
    if out_error is None:
        kept = (
            f"the results were written to {cfg.out}"
            if cfg.out is not None
            else ("the results were not kept (no --out)")
        )
        return f"could not save the checkpoint {ckpt_path} ({_reason(checkpoint_error)}); {kept}"
    if checkpoint_error is None and ckpt_path is not None:
        return (
            f"could not write the results {cfg.out} ({_reason(out_error)}); the finished run is "
            f"in the checkpoint {ckpt_path}: run the same command with {_resume_flags(cfg)} to "
            f"write them"
        )
    ckpt = f" nor the checkpoint {ckpt_path} ({_reason(checkpoint_error)})" if ckpt_path else ""
    return f"could not write the results {cfg.out} ({_reason(out_error)}){ckpt}; nothing was kept"


def _load_checkpoint(
    path: Path, identity: Mapping[str, Any], device: torch.device
) -> tuple[dict, dict[str, Any]]:
    """The tensors of a checkpoint and its run's progress, after checking that it belongs to
    this run. Read with ``weights_only=True``: the unpickler builds tensors and plain containers
    only, so a crafted file is refused before any of its code could run."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise MemtasksError(f"cannot read checkpoint {path}: {_reason(exc)}") from None
    if magic != b"PK\x03\x04":  # torch.save writes a zip archive
        raise MemtasksError(f"cannot read checkpoint {path}: not a file written by torch.save")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise MemtasksError(
            f"cannot read checkpoint {path}: it holds objects other than tensors and plain "
            f"data, which memtasks checkpoints never do; it was not loaded"
        ) from None
    except Exception as exc:  # a truncated or foreign file: say so in one line
        raise MemtasksError(f"cannot read checkpoint {path}: {_reason(exc)}") from None
    if not isinstance(state, dict) or not isinstance(state.get("format"), int):
        raise MemtasksError(f"{path} is not a memtasks baseline checkpoint")
    if state["format"] != CHECKPOINT_FORMAT:
        raise MemtasksError(
            f"{path} is a checkpoint of format {state['format']} (this memtasks reads format "
            f"{CHECKPOINT_FORMAT}); start the run anew with another --checkpoint or --out"
        )
    try:
        theirs, progress = json.loads(state["identity"]), json.loads(state["progress"])
    except (KeyError, TypeError, ValueError):
        raise MemtasksError(f"{path} is not a memtasks baseline checkpoint") from None
    ours = json.loads(json.dumps(identity, default=_jsonable))  # tuples as the file has them
    diff = [k for k in ours if theirs.get(k) != ours[k]]
    if diff:
        what = "; ".join(f"{k}: {theirs.get(k)!r} there, {ours[k]!r} here" for k in diff)
        raise MemtasksError(f"the checkpoint {path} belongs to another run ({what})")
    return state, progress
