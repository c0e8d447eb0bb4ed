"""The path into training: collated batches per second, side by side in one process, one thread.

    python benchmarks/bench_stream.py                 # one task per family (a few minutes)
    python benchmarks/bench_stream.py --quick         # a smoke test of the whole script
    python benchmarks/bench_stream.py --tasks ntm/copy-v1 --batches 4000
    python benchmarks/bench_stream.py --tasks all     # every task of issue 14's families

For each task, batches of 64 (``--batch-size``), Numba and torch on one thread, each figure the
median of ``--repeats`` runs made in turn (so that a busy machine slows them all alike):

- ``generate``: ``spec.generate(64, ...)`` per batch (knobs made once): the episodes in memory,
  not collated; what the stream is measured against;
- ``before``: the path into training as it was (issue 14): generate, then ``collate`` of the
  time (kept here as ``collate_before``: one padding pass per field, episode by episode, then
  ``torch.from_numpy``), per batch; over the generators of today, so where a generator got
  faster (the copy task) this understates the gain;
- ``stream``: ``memtasks.torch.EpisodeStream`` (chunks of batches generated straight into the
  padded layout, into a pool of buffers reused across batches);
- ``prefetch=2``: the same with its background thread;
- ``pytorch-ntm``: the loaders of ``loudinthecloud/pytorch-ntm`` (``tasks/copytask.py``,
  ``tasks/repeatcopytask.py``) as described in ``docs/generators-ii-sources.md`` section 5,
  re-implemented here (``PytorchNTMCopy``): one length per batch, bits from
  ``np.random.binomial(1, 0.5, (L, B, 8))``, time-major float tensors, no padding, no mask.
  Every family's stream is compared with its copy loader (the reference figure of the issue),
  the repeat-copy task also with its repeat-copy loader. Episodes of other tasks are longer
  than the copy task's (22 steps on average), so ``steps/ptntm`` also gives the ratio in time
  steps per second (unpadded positions; the copy loader's 2L + 1 per episode).

Then, for the copy task, each source again with a training step after every batch, as long as
the plain stream's batch: a wait that leaves the core free (what a GPU step is to the host) and
matmuls that keep it busy but release the GIL (a CPU step): what a prefetching thread can
hide. Prints episodes/s and the ratios of issue 14's targets (stream >= 3x before, >= 5x
pytorch-ntm, prefetch a gain), and the load of the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from typing import Any

import numba
import numpy as np
import torch
from numba import njit

import memtasks
from memtasks.episode import EpisodeBatch
from memtasks.torch import EpisodeStream, _to_tensor

TASKS = (
    "ntm/copy-v1",
    "ntm/repeat-copy-v1",
    "longterm/adding-v1",
    "alstm/episodic-copy-v1",
    "ham/sort-v1",
    "recall/mqar-v1",
    "babi/qa1-v1",
)
BATCH = 64
# --tasks all: issue 14's families and the NTM tasks ("for every family of this issue as well
# as the NTM tasks"), and bAbI beside them
FAMILIES = ("ntm", "longterm", "alstm", "ham", "recall")
PTNTM_STEPS = 2 * 10.5 + 1  # pytorch-ntm's copy: L uniform in 1 .. 20, L + 1 steps in, L out


# ---------------------------------------------------------------------------------------------
# before: collate as it was before issue 14 (memtasks/views.py and memtasks/torch.py then)
# ---------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _pad_into_before(offsets, values, out, fill):
    """One field, episode by episode, a slice copy and a slice fill each (as it was)."""
    steps, width = out.shape[1], out.shape[2]
    flat_out = out.reshape(-1)
    flat_values = values.reshape(-1)
    for b in range(len(offsets) - 1):
        src = offsets[b] * width
        size = (offsets[b + 1] - offsets[b]) * width
        dst = b * steps * width
        flat_out[dst : dst + size] = flat_values[src : src + size]
        flat_out[dst + size : dst + steps * width] = fill


def collate_before(batch: EpisodeBatch) -> dict[str, Any]:
    """``memtasks.torch.collate`` before issue 14: ``views.padded`` field by field, then
    ``torch.from_numpy``."""
    b, lengths = len(batch), batch.lengths
    t = int(lengths.max()) if b else 0
    values = np.float32 if batch.is_vector else np.int64

    def pad(array: np.ndarray, fill, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        width = array.shape[1] if array.ndim == 2 else 1
        out = np.empty((b, t, width), dtype=dtype)
        _pad_into_before(batch.offsets, array.reshape(len(array), width), out, dtype.type(fill))
        return out if array.ndim == 2 else out.reshape(b, t)

    arrays = {
        "inputs": pad(batch.inputs, 0, values),
        "targets": pad(batch.targets, 0, values),
        "mask": pad(batch.mask, False, np.bool_),
        "role": pad(batch.role, -1, np.int8),
        "segment": pad(batch.segment, -1, np.int64),
        "lengths": lengths.astype(np.int64, copy=True),
        "index": batch.index.astype(np.int64, copy=True),
    }
    tensors: dict[str, Any] = {k: torch.from_numpy(v) for k, v in arrays.items()}
    tensors["meta"] = {k: _to_tensor(v) for k, v in batch.meta.items()}
    return tensors


# ---------------------------------------------------------------------------------------------
# pytorch-ntm's loaders, re-implemented from their description (sources doc, section 5)
# ---------------------------------------------------------------------------------------------
class PytorchNTMCopy:
    """Batches of the copy task as pytorch-ntm's loader makes them: a length per batch drawn
    with ``random.randint(lo, hi)``, the bits by ``np.random.binomial(1, 0.5, (L, B, width))``
    made a tensor, the input ``(L + 1, B, width + 1)`` zeros with the bits and the delimiter
    written in, the target a copy of the bits; both as float tensors."""

    def __init__(self, batches: int, batch_size: int, width: int = 8, lo: int = 1, hi: int = 20):
        self.batches, self.batch_size, self.width, self.lo, self.hi = (
            batches, batch_size, width, lo, hi
        )  # fmt: skip

    def __iter__(self):
        b, w = self.batch_size, self.width
        for number in range(1, self.batches + 1):
            length = random.randint(self.lo, self.hi)
            bits = torch.from_numpy(np.random.binomial(1, 0.5, (length, b, w)))  # noqa: NPY002
            x = torch.zeros(length + 1, b, w + 1)
            x[:length, :, :w] = bits
            x[length, :, w] = 1.0
            yield number, x.float(), bits.clone().float()


class PytorchNTMRepeatCopy:
    """The repeat-copy loader likewise: a length and a repeat count per batch; the input
    ``(L + 2, B, width + 2)`` with the delimiter and the normalised count on their own
    channels, the target the bits ``R`` times then the end marker, ``(L * R + 1, B, width + 1)``."""

    def __init__(self, batches: int, batch_size: int, width: int = 8, lengths=(1, 10),
                 repeats=(1, 10)):  # fmt: skip
        self.batches, self.batch_size, self.width = batches, batch_size, width
        self.lengths, self.repeats = lengths, repeats
        lo, hi = repeats
        self.mean, self.std = (lo + hi) / 2, math.sqrt(((hi - lo + 1) ** 2 - 1) / 12)

    def __iter__(self):
        b, w = self.batch_size, self.width
        for number in range(1, self.batches + 1):
            length = random.randint(*self.lengths)
            reps = random.randint(*self.repeats)
            bits = torch.from_numpy(np.random.binomial(1, 0.5, (length, b, w)))  # noqa: NPY002
            x = torch.zeros(length + 2, b, w + 2)
            x[:length, :, :w] = bits
            x[length, :, w] = 1.0
            x[length + 1, :, w + 1] = (reps - self.mean) / self.std
            y = torch.zeros(length * reps + 1, b, w + 1)
            y[: length * reps, :, :w] = bits.clone().repeat(reps, 1, 1)
            y[length * reps, :, w] = 1.0
            yield number, x.float(), y.float()


# ---------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------
def sources(task: str, batches: int, step=None) -> dict[str, Any]:
    """name -> a function that makes ``batches`` batches of ``task`` (and runs ``step`` after
    each, when given) and returns the episodes made."""
    spec = memtasks.get_spec(task)
    knobs = spec.make_knobs()

    def run(iterable) -> int:
        for item in iterable:
            if step is not None:
                step(item)
        return batches * BATCH

    def generate() -> int:
        return run(spec.generate(BATCH, 0, "train", start=k * BATCH, knobs=knobs)
                   for k in range(batches))  # fmt: skip

    def before() -> int:
        return run(collate_before(spec.generate(BATCH, 0, "train", start=k * BATCH, knobs=knobs))
                   for k in range(batches))  # fmt: skip

    out = {
        "generate": generate,
        "before": before,
        "stream": lambda: run(EpisodeStream(task, BATCH, num_batches=batches)),
        "prefetch=2": lambda: run(EpisodeStream(task, BATCH, num_batches=batches, prefetch=2)),
        "pytorch-ntm copy": lambda: run(PytorchNTMCopy(batches, BATCH)),
    }
    if task == "ntm/repeat-copy-v1":
        out["pytorch-ntm repeat-copy"] = lambda: run(PytorchNTMRepeatCopy(batches, BATCH))
    if step is not None:
        del out["generate"]
    return out


def mean_steps(task: str) -> float:
    """Positions per episode of ``task`` at its default knobs (over 1,024 episodes)."""
    return memtasks.generate(task, 1024, seed=0).num_positions / 1024


def measure(task: str, batches: int, repeats: int, step=None) -> dict[str, float]:
    """Median episodes/s of every source, the sources run in turn in each repeat."""
    made = sources(task, batches, step)
    for run in made.values():  # compile, load and warm everything first
        run()
    rates: dict[str, list[float]] = {name: [] for name in made}
    for _ in range(repeats):
        for name, run in made.items():
            began = time.perf_counter()
            episodes = run()
            rates[name].append(episodes / (time.perf_counter() - began))
    return {name: statistics.median(values) for name, values in rates.items()}


def calibrated_step(seconds: float, kind: str):
    """A training step stand-in about ``seconds`` long: ``"matmul"`` computes on this core
    (torch releases the GIL: a CPU training step), ``"wait"`` sleeps, leaving the core free
    (a GPU training step, where the host waits for the device; Linux sleeps at least about
    60 us, so it is often longer). Returns (step, its measured duration)."""
    if kind == "wait":

        def step(_batch) -> None:
            time.sleep(seconds)

    else:
        a = torch.randn(96, 96)
        began, calls = time.perf_counter(), 200
        for _ in range(calls):
            a @ a
        count = max(1, round(seconds / ((time.perf_counter() - began) / calls)))

        def step(_batch) -> None:
            for _ in range(count):
                a @ a

    began = time.perf_counter()
    for _ in range(200):
        step(None)
    return step, (time.perf_counter() - began) / 200


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--batches", type=int, default=2000, help="batches per figure")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also save the figures as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.repeats = 20, 1
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    os.environ.setdefault("MEMTASKS_QUIET", "1")
    known = set(memtasks.list_tasks())
    if args.tasks == ["all"]:
        args.tasks = [t for f in FAMILIES for t in memtasks.list_tasks(f)] + ["babi/qa1-v1"]
    tasks = [t for t in args.tasks if t in known]
    load = os.getloadavg()
    figures: dict[str, Any] = {}
    print(f"batches of {BATCH}, {args.batches} batches per figure, median of {args.repeats}; "
          f"one Numba and one torch thread; episodes/s")  # fmt: skip
    header = (f"{'task':<30}{'generate':>10}{'before':>10}{'stream':>10}{'prefetch':>10}"
              f"{'ptntm':>10}  stream/before  stream/ptntm  steps/ptntm"
              "  prefetch/stream")  # fmt: skip
    print(header)
    for task in tasks:
        rates = measure(task, args.batches, args.repeats)
        steps = mean_steps(task)
        figures[task] = {**rates, "mean_steps": steps}
        ntm = rates.get("pytorch-ntm repeat-copy", rates["pytorch-ntm copy"])
        ntm_steps = rates["pytorch-ntm copy"] * PTNTM_STEPS
        print(
            f"{task:<30}{rates['generate'] / 1e6:>9.3f}M{rates['before'] / 1e6:>9.3f}M"
            f"{rates['stream'] / 1e6:>9.3f}M{rates['prefetch=2'] / 1e6:>9.3f}M{ntm / 1e6:>9.3f}M"
            f"  {_ratio(rates['stream'], rates['before']):>13}"
            f"  {_ratio(rates['stream'], ntm):>12}"
            f"  {_ratio(rates['stream'] * steps, ntm_steps):>11}"
            f"  {_ratio(rates['prefetch=2'], rates['stream']):>15}",
            flush=True,
        )
    copy = "ntm/copy-v1"
    if copy in figures:
        per_batch = BATCH / figures[copy]["stream"]
        for kind in ("wait", "matmul"):
            step, seconds = calibrated_step(per_batch, kind)
            with_step = measure(copy, args.batches, args.repeats, step)
            figures[f"with_{kind}_step"] = {"step_seconds": seconds, **with_step}
            what = ("a wait that leaves the core (a GPU step)" if kind == "wait" else
                    "matmuls on this core, releasing the GIL (a CPU step)")  # fmt: skip
            print(f"\n{copy} with a training step of {seconds * 1e6:.0f} us after every batch, "
                  f"{what}, episodes/s:")  # fmt: skip
            for name, rate in with_step.items():
                print(f"  {name:<24}{rate / 1e6:8.3f}M")
            ratio = _ratio(with_step["prefetch=2"], with_step["stream"])
            print(f"  prefetch=2 / stream: {ratio}")
    after = os.getloadavg()
    print(f"\nload average {load[0]:.2f} before, {after[0]:.2f} after; {os.cpu_count()} CPUs")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"batch_size": BATCH, "batches": args.batches, "repeats": args.repeats,
                       "load": [load, after], "figures": figures}, f, indent=2)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
