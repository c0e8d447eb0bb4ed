"""The run configuration: one validated settings object.

Every field of ``RunSettings`` carries its type, its range and its help in a ``Setting``
(its dataclass metadata, as task knobs carry a ``KnobInfo``). The object checks itself on
construction, so a ``RunSettings`` that exists is in range, and ``memtasks baseline``'s options are
generated from the same fields (``command.py``): one set of ranges, one set of messages.

``None`` in an optional field means "the model's (or variant's) default": ``resolve`` fills those
from the variant's ``training``, the model's ``training_defaults``, then the runner's own
defaults (a stream, 10,000 steps of 64 episodes), and checks what depends on more than one field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memtasks.errors import MemtasksError

__all__ = ["LR_RANGE", "RunSettings", "Setting", "fields", "resolve", "setting"]


@dataclass(frozen=True)
class Setting:
    """What a run setting allows, and how the command line shows it."""

    kind: type  # int, float, bool, str, Path or dict
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # the bound itself is excluded
    hi_open: bool = False
    optional: bool = False  # None allowed: the model's default
    help: str = ""
    cli: bool = True  # an option of `memtasks baseline` (False: library only, or made by hand)
    metavar: str | None = None

    def allowed(self) -> str:
        """The allowed values in words, for messages."""
        what = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
                Path: "a path", dict: "a mapping"}[self.kind]  # fmt: skip
        lo, hi = _number(self.lo), _number(self.hi)
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            return f"{what} in {left}{lo}, {hi}{right}"
        if self.lo is not None:
            return f"{what} {'>' if self.lo_open else '>='} {lo}"
        if self.hi is not None:
            return f"{what} {'<' if self.hi_open else '<='} {hi}"
        return what

    def check(self, name: str, value: Any) -> Any:
        """``value`` as the setting's type, or a one-line MemtasksError."""
        if value is None and self.optional:
            return None

        def bad() -> MemtasksError:
            unset = " (or unset: the model's default)" if self.optional else ""
            return MemtasksError(f"{name} must be {self.allowed()}{unset}, got {value!r}")

        kind = self.kind
        if kind is bool:
            if not isinstance(value, bool):
                raise bad()
            return value
        if kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad()
            if kind is int and not (isinstance(value, int) or float(value).is_integer()):
                raise bad()
            out = int(value) if kind is int else float(value)
            if out != out:  # NaN
                raise bad()
            if self.lo is not None and (out < self.lo or (self.lo_open and out == self.lo)):
                raise bad()
            if self.hi is not None and (out > self.hi or (self.hi_open and out == self.hi)):
                raise bad()
            return out
        if kind is Path:
            if not isinstance(value, (str, Path)):
                raise bad()
            return Path(value)
        if kind is dict:
            if not isinstance(value, Mapping):
                raise bad()
            return dict(value)
        if not isinstance(value, str):
            raise bad()
        return value


def _number(x: float | None) -> str:
    """A bound as text: integers in full (2**64 - 1, not 1.84467e+19), other numbers short."""
    return str(x) if isinstance(x, int) else f"{x:g}" if x is not None else ""


def setting(default: Any, kind: type, **info: Any):
    """Declare a run setting: a dataclass field carrying its ``Setting``."""
    meta = {"setting": Setting(kind=kind, **info)}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunSettings:
    """Everything that defines a baseline run; ``memtasks baseline`` is generated from it."""

    model: str = setting("", str, cli=False, help="a model or a variant MODEL.CONFIG")
    task: str = setting("", str, cli=False, help="a task or dataset id")
    preset: str | None = setting(
        None, str, optional=True, help="named knob values (see `memtasks info TASK`)"
    )
    knobs: dict[str, Any] = setting({}, dict, cli=False)  # --set k=v
    hparams: dict[str, Any] = setting({}, dict, cli=False)  # --hp k=v
    path: Path | None = setting(
        None, Path, optional=True, metavar="DIR",
        help="a dataset's source files (a folder or archive; default: $MEMTASKS_DATA/...); "
        "datasets only",
    )  # fmt: skip
    checksums: bool = setting(
        True, bool,
        help="check a dataset's source files against the release's SHA-256 (--no-checksums: "
        "a modified copy)",
    )  # fmt: skip
    device: str = setting("auto", str, help="auto, cpu, cuda or cuda:N")
    threads: int | None = setting(
        None, int, lo=1, optional=True, help="CPU threads for torch (default: all cores)"
    )
    steps: int | None = setting(
        None, int, lo=0, optional=True,
        help="training steps, on a stream unless --train-questions is given, or over a "
        "dataset's train split (default: the model's, else 10,000)",
    )  # fmt: skip
    # A fixed training set instead of a stream: the first N questions (answer spans) of the
    # train split, N per task for babi/joint-v1 (bAbI-1k: 1000, bAbI-10k: 10000), in whole
    # stories, passed over in shuffled epochs. None: the model's default; 0: stream.
    train_questions: int | None = setting(
        None, int, lo=0, optional=True, metavar="N",
        help="train on a fixed set: the first N questions of the train split (N per task for "
        "babi/joint-v1; bAbI-1k is 1000), in epochs; 0 streams fresh episodes (default: the "
        "model's)",
    )  # fmt: skip
    epochs: int | None = setting(
        None, int, lo=1, optional=True,
        help="passes over the fixed training set or the dataset's train split (default: the "
        "model's)",
    )  # fmt: skip
    # With a fixed set: stop once the held-out loss has not improved for this many epochs, and
    # end with the weights of the best epoch (DMN+ trains so, with 20). 0: never.
    patience: int | None = setting(
        None, int, lo=0, optional=True,
        help="with a fixed set: stop after this many epochs without a better held-out loss and "
        "keep the best epoch's weights; 0: never (default: the model's)",
    )  # fmt: skip
    valid_fraction: float = setting(
        0.1, float, lo=0, hi=1, hi_open=True,
        help="stories of the fixed training set held out",
    )  # fmt: skip
    # Scored by the task family's evaluation hook (``evaluation.py``); where it is not given,
    # the hook may read its own environment variable.
    release_dir: Path | None = setting(
        None, Path, optional=True,
        help="the folder of the task's original release: its files are evaluated too, by the "
        "task family's evaluation hook (bAbI; default: the hook's environment variable, "
        "$MEMTASKS_BABI_DIR)",
    )  # fmt: skip
    time_limit: float | None = setting(
        None, float, lo=0, lo_open=True, optional=True, metavar="SECONDS",
        help="stop training after SECONDS; the steps reached are recorded",
    )  # fmt: skip
    batch_size: int | None = setting(
        None, int, lo=1, optional=True,
        help="episodes per step, or questions for memory networks (default: the model's, "
        "else 64)",
    )  # fmt: skip
    seed: int = setting(0, int, lo=0, hi=2**64 - 1)
    # The data (training set, its order, test stories) come from --seed; the weights (and the
    # model's own randomness: dropout, MemN2N's random noise) from --init-seed, so that several
    # initialisations can be trained on the same data.
    init_seed: int | None = setting(
        None, int, lo=0, hi=2**64 - 1, optional=True,
        help="seed of the initial weights and the model's own randomness (default: --seed)",
    )  # fmt: skip
    inits: int | None = setting(
        None, int, lo=1, hi=1000, optional=True, metavar="N",
        help="train N initialisations (init seeds --init-seed .. +N-1) on the same data and "
        "keep the one with the lowest training error, as MemN2N's paper picks the best of 10 "
        "(default: the model's, else 1); fixed training sets only",
    )  # fmt: skip
    lr: float | None = setting(
        None, float, lo=0, hi=10, lo_open=True, hi_open=True, optional=True,
        help="learning rate (default: the model's, from its paper where known)",
    )  # fmt: skip
    eval_every: int = setting(0, int, lo=0, help="evaluate every N steps (0: at the end only)")
    eval_episodes: int = setting(
        1000, int, lo=1,
        help="episodes in the test set and in each extrapolation set (a dataset's splits are "
        "evaluated whole)",
    )  # fmt: skip
    eval_batch_size: int = setting(250, int, lo=1, cli=False)
    extrapolate: bool = setting(True, bool, help="also evaluate on the task's extrapolate presets")
    amp: bool | None = setting(
        None, bool, optional=True,
        help="bfloat16 autocast (default: on a GPU where the model allows it)",
    )  # fmt: skip
    compile: bool | None = setting(
        None, bool, optional=True, help="torch.compile the per-step function (default: on a GPU)"
    )
    log_every: int = setting(50, int, lo=1, cli=False)
    checkpoint: Path | None = setting(
        None, Path, optional=True, help="checkpoint file (default: <out>.ckpt)"
    )
    checkpoint_every: int = setting(1000, int, lo=0, help="steps between checkpoints (0: end)")
    resume: bool = setting(False, bool, help="continue from the checkpoint if there is one")
    out: Path | None = setting(None, Path, optional=True, help="results JSON")
    progress: bool = setting(True, bool, cli=False)  # --quiet

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = f.metadata["setting"].check(f.name, getattr(self, f.name))
            object.__setattr__(self, f.name, value)

    def replace(self, **changes: Any) -> RunSettings:
        return dataclasses.replace(self, **changes)

    @property
    def checkpoint_path(self) -> Path | None:
        """``checkpoint``, else ``<out>.ckpt`` next to the results, else no checkpoints."""
        if self.checkpoint is not None:
            return self.checkpoint
        if self.out is not None:
            return self.out.with_name(self.out.name + ".ckpt")
        return None


def fields() -> dict[str, tuple[Any, Setting]]:
    """name -> (default, Setting), in declaration order."""
    return {
        f.name: ({} if f.default is dataclasses.MISSING else f.default, f.metadata["setting"])
        for f in dataclasses.fields(RunSettings)
    }


_lr = fields()["lr"][1]
# The learning rates a run accepts, both ends excluded (``--lr`` shows this range).
LR_RANGE = (_lr.lo, _lr.hi)

# what a variant's or model's training defaults may set
_TRAINING = ("steps", "batch_size", "train_questions", "epochs", "patience", "inits")


def resolve(cfg: RunSettings, *, dataset: bool = False) -> RunSettings:
    """``cfg`` with the values it leaves open (None) taken from the variant's ``training``, the
    model's ``training_defaults`` (its paper's: MemN2N trains 100 epochs over bAbI-1k in batches
    of 32 questions), else the runner's (a stream, 10,000 steps of 64 episodes); and the checks
    that involve more than one setting. ``dataset``: the task is a dataset, whose train split is
    the fixed training set (so there are epochs, and no ``train_questions``)."""
    from ..registry import lookup

    cls, variant = lookup(cfg.model)
    defaults = {**cls.training_defaults, **(variant.training if variant else {})}
    unknown = sorted(set(defaults) - set(_TRAINING))
    if unknown:
        raise MemtasksError(f"{cfg.model}: training defaults {unknown} are not run settings")
    changes: dict[str, Any] = {}
    if cfg.batch_size is None:
        changes["batch_size"] = defaults.get("batch_size", 64)
    if dataset:
        if cfg.train_questions:
            raise MemtasksError(
                f"--train-questions: {cfg.task} is a dataset; training passes over its train "
                f"split (use --epochs or --steps)"
            )
        questions = None
    else:
        questions = cfg.train_questions
        if questions is None:
            questions = defaults.get("train_questions", 0) if cfg.steps is None else 0
    changes["train_questions"] = questions or None
    epochs = cfg.epochs
    if epochs is None and (questions or dataset) and cfg.steps is None:
        epochs = defaults.get("epochs")
    changes["epochs"] = epochs
    if cfg.patience is None:
        changes["patience"] = defaults.get("patience", 0)
    if cfg.steps is None and epochs is None:
        changes["steps"] = defaults.get("steps", 10_000)
    if cfg.inits is None:
        changes["inits"] = defaults.get("inits", 1)
    if cfg.init_seed is None:
        changes["init_seed"] = cfg.seed
    out = dataclasses.replace(cfg, **changes)
    if out.epochs is not None and out.train_questions is None and not dataset:
        raise MemtasksError(
            "--epochs needs --train-questions (a stream has no epochs; use --steps)"
        )
    if out.inits > 1 and out.epochs is None:
        raise MemtasksError(
            f"--inits {out.inits}: choosing among initialisations by training error needs a "
            f"fixed training set (--train-questions N with --epochs, or a dataset)"
        )
    if out.inits > 1 and out.resume:
        raise MemtasksError(
            f"--inits {out.inits} keeps no checkpoint to resume; drop --resume (or run one "
            f"initialisation with --init-seed)"
        )
    if out.resume and out.checkpoint_path is None:
        raise MemtasksError("--resume needs --checkpoint PATH or --out PATH (<out>.ckpt)")
    return out
