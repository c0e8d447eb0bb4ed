"""The training loop, and how it stops: steps, epochs, patience, a time limit, or a signal.

``Trainer.train`` is the loop; each step is ``forward_backward`` (which can be abandoned: the
weights, the optimiser and the step count are as the last step left them, and the RNG state is
taken at each step's end), ``update`` and ``end_of_step`` (which must finish, with its evaluation
and checkpoint). Ctrl-C or SIGTERM in the first part stops at once, in the second at the step's
end, so the checkpoint saved on the way out is always one of a whole step, and a resumed run
ends bit-identical (on a CPU) to an unbroken one.
"""

from __future__ import annotations

import contextlib
import json
import math
import shlex
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from memtasks.errors import MemtasksError

from . import evaluation
from .checkpoints import jsonable, reason, save_checkpoint
from .data import TrainingData
from .settings import RunSettings

__all__ = ["Progress", "RunInterrupted", "Trainer"]


class RunInterrupted(MemtasksError):
    """Training stopped by Ctrl-C or SIGTERM. The message says at which step, what was saved,
    and the flags that resume the run; the command line prints it and exits with 130."""


@dataclass
class Progress:
    """Where a run stands: what a checkpoint holds besides the tensors (as JSON text)."""

    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_loss: float = math.inf  # for patience
    best_epoch: int = 0
    train_time_s: float = 0.0
    # the loss summed since the last log line (a tensor on the device between log lines: no
    # sync per step); saved, so a run resumed between two log lines logs what an unbroken one
    # would
    running_loss: Any = 0.0
    running_n: int = 0

    def to_json(self) -> str:
        values = asdict(self)
        values["running_loss"] = float(self.running_loss)
        return json.dumps(values, default=jsonable)

    @classmethod
    def from_json(cls, text: dict[str, Any]) -> Progress:
        return cls(**{k: text[k] for k in cls.__dataclass_fields__})


class Clock:
    """Seconds of training (evaluation and checkpoints left out, through ``paused``)."""

    def __init__(self, total: float = 0.0) -> None:
        self.total, self.tick = total, time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        self.total, self.tick = self.total + now - self.tick, now
        return self.total

    @contextlib.contextmanager
    def paused(self):
        self.lap()
        yield
        self.tick = time.perf_counter()


@dataclass
class Trainer:
    """One run's model, optimiser, data and progress (set up by ``run.prepare``)."""

    cfg: RunSettings
    spec: Any
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    settings: Any  # OptimizerSettings (its clip_value, clip_norm apply here)
    data: TrainingData
    device: torch.device
    amp: bool
    compiled: bool
    knobs: Any
    hp: Any
    total_steps: int
    identity: dict[str, Any]  # what a checkpoint must match to be resumed by this run
    eval_sets: dict[str, Any] = field(default_factory=dict)  # name -> EpisodeBatch
    eval_knobs: dict[str, Any] = field(default_factory=dict)  # extrapolation sets' knobs
    release: dict[str, Any] | None = None  # what the family's evaluation hook scored
    progress: Progress = field(default_factory=Progress)
    best_state: dict | None = None  # the weights of the best held-out epoch (patience)
    saved_step: int | None = None  # the step of the checkpoint on disk, if any
    stopped_by: str = "steps"
    bar: Any = None

    def train(self) -> None:
        """Train from ``progress.step`` to ``total_steps`` (or an earlier stop)."""
        p, signals = self.progress, _Signals()
        self.stopped_by = "steps" if self.cfg.epochs is None else "epochs"
        batches = iter(self.data.batches(p.step, self.total_steps))
        self.clock = Clock(p.train_time_s)
        boundary_rng = torch.get_rng_state()
        try:
            with signals:
                signals.abandonable = True
                for batch in batches:
                    loss = self.forward_backward(batch)
                    signals.abandonable = False  # from the update on, the step must finish
                    self.update(loss)
                    stop = self.end_of_step()
                    if stop:
                        self.stopped_by = stop
                        break
                    boundary_rng = torch.get_rng_state()  # before the step can be abandoned
                    signals.abandonable = True
                    if signals.requested:  # a signal during the update: stop here, whole
                        raise KeyboardInterrupt
                signals.abandonable = False
        except KeyboardInterrupt:
            # raised by _Signals, or by Python's own Ctrl-C where no handler could be
            # installed (a thread other than the main one)
            p.train_time_s = self.clock.lap()
            raise RunInterrupted(self.interrupted(signals, boundary_rng)) from None
        finally:
            if hasattr(batches, "close"):  # stop the prefetching thread
                batches.close()
            if self.bar is not None:
                self.bar.close()
        p.train_time_s = self.clock.lap()

    # -- one step -----------------------------------------------------------------------------
    def forward_backward(self, batch) -> torch.Tensor:
        with evaluation.autocast(self.device, self.amp):
            out = self.model(batch)
        value = self.model.loss(out, batch)
        self.optimizer.zero_grad(set_to_none=True)
        value.backward()
        if self.settings.clip_value is not None:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), self.settings.clip_value)
        if self.settings.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.clip_norm)
        return value

    def update(self, value: torch.Tensor) -> None:
        self.optimizer.step()
        self.scheduler.step()
        p = self.progress
        p.step += 1
        p.running_loss = p.running_loss + value.detach()  # stays on the device
        p.running_n += 1

    def end_of_step(self) -> str | None:
        """Log, end an epoch, evaluate, checkpoint; the reason to stop, if any."""
        cfg, p = self.cfg, self.progress
        if p.step % cfg.log_every == 0 or p.step == self.total_steps:
            self.log()
        if self.bar is not None:
            self.bar.update(1)
        if self.data.fixed and p.step % self.data.steps_per_epoch == 0:
            with self.clock.paused():
                if self.end_of_epoch(p.step // self.data.steps_per_epoch):
                    return "patience"
        if cfg.eval_every and p.step % cfg.eval_every == 0 and p.step < self.total_steps:
            with self.clock.paused():
                p.evaluations.append({"step": p.step, "sets": self.evaluate_all()})
        every = cfg.checkpoint_every
        if every and p.step % every == 0 and p.step < self.total_steps:
            with self.clock.paused():
                self.try_save()
        if cfg.time_limit is not None and self.clock.lap() >= cfg.time_limit:
            return "time_limit"
        return None

    def log(self) -> None:
        p = self.progress
        running = float(p.running_loss)
        if not math.isfinite(running):
            raise MemtasksError(
                f"{self.cfg.model} on {self.cfg.task}: the loss became {running} by step "
                f"{p.step}; lower --lr (now {self.optimizer.defaults['lr']:g})"
            )
        mean = running / p.running_n
        p.history.append({"step": p.step, "loss": mean, "train_time_s": self.clock.lap()})
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{mean:.4f}")
        p.running_loss, p.running_n = 0.0, 0

    def end_of_epoch(self, epoch: int) -> bool:
        """The held-out loss and metric after a pass, and the model's hook; whether the
        patience has run out."""
        p, metric = self.progress, self.spec.metric.name
        entry: dict[str, Any] = {"epoch": epoch, "step": p.step}
        p.epochs.append(entry)
        valid = {"loss": math.nan}  # no held-out set: the model's hook still hears of the epoch
        if self.data.valid is not None:
            valid = evaluation.evaluate(self.model, self.spec, self.data.valid, self.device,
                                        self.cfg.eval_batch_size, self.amp)  # fmt: skip
            entry["valid_loss"] = valid["loss"]
            entry["valid_" + metric] = valid.get(metric)
        event = self.model.end_of_epoch(epoch, valid["loss"])
        if event:
            entry["event"] = event
            if self.bar is not None:
                self.bar.write(f"{self.cfg.model} {self.cfg.task}: {event}")
        if not self.cfg.patience or self.data.valid is None:
            return False
        if valid["loss"] < p.best_loss:
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            p.best_loss, p.best_epoch = valid["loss"], epoch
        return epoch - p.best_epoch >= self.cfg.patience

    def evaluate_all(self) -> dict[str, Any]:
        return {
            name: evaluation.evaluate(
                self.model, self.spec, data, self.device, self.cfg.eval_batch_size, self.amp
            )  # fmt: skip
            for name, data in self.eval_sets.items()
        }

    # -- the end, and checkpoints --------------------------------------------------------------
    def finish(self) -> None:
        """After training: the best epoch's weights (patience), the last log line and the
        final evaluation."""
        p = self.progress
        restored = bool(self.cfg.patience and self.best_state is not None)
        if restored:
            self.model.load_state_dict(self.best_state)
        if p.running_n:  # the steps since the last log line (a time limit stopped the run)
            p.history.append({"step": p.step, "loss": float(p.running_loss) / p.running_n,
                              "train_time_s": p.train_time_s})  # fmt: skip
            p.running_loss, p.running_n = 0.0, 0
        if restored or not p.evaluations or p.evaluations[-1]["step"] != p.step:
            p.evaluations.append({"step": p.step, "sets": self.evaluate_all()})

    def save(self, rng: torch.Tensor | None = None) -> None:
        """The checkpoint of step ``progress.step``; raises OSError, however writing failed."""
        path = self.cfg.checkpoint_path
        if path is None:
            return
        if hasattr(self, "clock"):
            self.progress.train_time_s = self.clock.total
        save_checkpoint(path, {  # tensors and plain data only: read with weights_only=True
            "identity": json.dumps(self.identity, default=jsonable),
            "progress": self.progress.to_json(),
            "step": self.progress.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": torch.get_rng_state() if rng is None else rng,
            "best_state": self.best_state,
        })  # fmt: skip
        self.saved_step = self.progress.step

    def try_save(self) -> None:
        """A checkpoint during training: a failure is a warning, and training goes on (the end
        tries again)."""
        try:
            self.save()
        except OSError as exc:
            message = (
                f"memtasks: warning: could not save the checkpoint {self.cfg.checkpoint_path} "
                f"at step {self.progress.step} ({reason(exc)}); training goes on"
            )
            if self.bar is not None:
                self.bar.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr)

    def interrupted(self, signals: _Signals, rng: torch.Tensor) -> str:
        """Save what can be resumed exactly and say, in one line, what was kept and how to go
        on."""
        step, path = self.progress.step, self.cfg.checkpoint_path
        what = f"interrupted ({signals.requested or 'SIGINT'}) at step {step} of {self.total_steps}"
        again = f"to continue, run the same command with {resume_flags(self.cfg)}"
        if path is None:
            return f"{what}; nothing was saved (no --out or --checkpoint)"
        if signals.abandonable:  # at a step boundary: the state is that of step `step`
            try:
                self.save(rng)
            except OSError as exc:
                kept = (
                    f"; {path} (step {self.saved_step}) was kept"
                    if self.saved_step is not None
                    else ""
                )
                return f"{what}; could not save the checkpoint ({reason(exc)}){kept}"
            return f"{what}: checkpoint saved to {path}; {again}"
        # in the middle of an update or of the end-of-step work: no whole step to save
        if self.saved_step is None:
            return f"{what}, in the middle of a step; nothing was saved"
        kept = f"the checkpoint {path} of step {self.saved_step} was kept"
        return f"{what}, in the middle of a step; {kept}; {again}"


def resume_flags(cfg: RunSettings) -> str:
    """The flags that continue this run: --resume and the same output paths."""
    flags = ["--resume"]
    if cfg.out is not None:
        flags += ["--out", shlex.quote(str(cfg.out))]
    if cfg.checkpoint is not None:
        flags += ["--checkpoint", shlex.quote(str(cfg.checkpoint))]
    return " ".join(flags)


def save_failure(
    cfg: RunSettings, checkpoint_error: OSError | None, out_error: OSError | None
) -> str:
    """One line: which output of a finished run could not be written, and what was kept."""
    ckpt_path: Path | None = cfg.checkpoint_path
    if out_error is None:
        kept = (
            f"the results were written to {cfg.out}"
            if cfg.out is not None
            else "the results were not kept (no --out)"
        )
        return f"could not save the checkpoint {ckpt_path} ({reason(checkpoint_error)}); {kept}"
    if checkpoint_error is None and ckpt_path is not None:
        return (
            f"could not write the results {cfg.out} ({reason(out_error)}); the finished run is "
            f"in the checkpoint {ckpt_path}: run the same command with {resume_flags(cfg)} to "
            f"write them"
        )
    ckpt = f" nor the checkpoint {ckpt_path} ({reason(checkpoint_error)})" if ckpt_path else ""
    return f"could not write the results {cfg.out} ({reason(out_error)}){ckpt}; nothing was kept"


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
