"""Checkpoints: what a resumed run needs, written whole or not at all, read as data only.

A checkpoint holds tensors and plain data (the run's identity and progress as JSON text) and is
read with ``torch.load(weights_only=True)``, so a crafted file cannot run code. It is written
through a temporary file and a rename. Before any training, every output path is checked
(``check_paths``), so a run never learns for hours and then fails to write, and an existing
checkpoint is never overwritten without ``--resume``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memtasks.errors import MemtasksError

from .settings import RunSettings

__all__ = [
    "CHECKPOINT_FORMAT",
    "check_paths",
    "identity",
    "jsonable",
    "load_checkpoint",
    "reason",
    "save_checkpoint",
    "write_json",
]

# 2: the run's settings and history are JSON text and everything else tensors, so that a
# checkpoint loads with ``weights_only=True`` (format 1 pickled Python objects)
CHECKPOINT_FORMAT = 2


def reason(exc: BaseException | None) -> str:
    """An error's message on one line (an OSError's strerror where it has one)."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def jsonable(x: Any) -> Any:
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, tuple):
        return list(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write through a temporary file and rename, so a results file is never half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, sort_keys=False, default=jsonable) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # nothing half written is left behind
        raise


def identity(cfg: RunSettings, model: str, knobs, hp, optimizer=None) -> dict[str, Any]:
    """What a checkpoint must match to be resumed by this run. ``optimizer``: a variant's
    changes to the model's optimiser (absent otherwise, so older checkpoints still match)."""
    out = {
        "model": model,
        "task": cfg.task,
        "knobs": knobs.to_dict(),
        "hparams": hp.to_dict(),
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "train_questions": cfg.train_questions,
        "valid_fraction": cfg.valid_fraction,
    }
    if optimizer:
        out["optimizer"] = dict(optimizer)
    if cfg.init_seed is not None and cfg.init_seed != cfg.seed:  # older checkpoints still match
        out["init_seed"] = cfg.init_seed
    return out


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (tensors and plain data) through a temporary file and a rename: an
    existing checkpoint stays whole when this fails. Raises OSError, however writing failed."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)
        os.replace(tmp, path)
    except BaseException as exc:  # a full disk, or Ctrl-C while writing
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # nothing half written is left behind
        if isinstance(exc, RuntimeError):  # how torch's zip writer reports a full disk
            raise OSError(reason(exc)) from exc
        raise


def load_checkpoint(
    path: Path, ours: Mapping[str, Any], device: torch.device
) -> tuple[dict, dict[str, Any]]:
    """The tensors of a checkpoint and its run's progress, after checking that it belongs to
    this run (identity ``ours``). Read with ``weights_only=True``: the unpickler builds tensors
    and plain containers only, so a crafted file is refused before any of its code could run."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise MemtasksError(f"cannot read checkpoint {path}: {reason(exc)}") from None
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
        raise MemtasksError(f"cannot read checkpoint {path}: {reason(exc)}") from None
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
    ours = json.loads(json.dumps(ours, default=jsonable))  # tuples as the file has them
    diff = [k for k in ours if theirs.get(k) != ours[k]]
    if diff:
        what = "; ".join(f"{k}: {theirs.get(k)!r} there, {ours[k]!r} here" for k in diff)
        raise MemtasksError(f"the checkpoint {path} belongs to another run ({what})")
    return state, progress


def check_paths(cfg: RunSettings) -> None:
    """Refuse, before any training, an output that could not be written when the run ends
    (hours later, with the trained model in memory only), and a checkpoint that would
    overwrite another run's. Creates nothing: a probe file is made and removed at once."""
    ckpt = cfg.checkpoint_path
    outputs = [("--out", cfg.out)] if cfg.out is not None else []
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
            raise MemtasksError(f"{flag} {path}: cannot reach {folder} ({reason(exc)})") from None
    if not folder.is_dir():
        raise MemtasksError(f"{flag} {path}: {folder} is a file, not a folder")
    try:  # permissions, a read-only or pseudo file system: only trying tells
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise MemtasksError(f"{flag} {path}: cannot write in {folder} ({reason(exc)})") from None
    os.close(fd)
    os.unlink(probe)
