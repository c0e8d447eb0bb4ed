"""Can the streaming generator feed a GPU training loop? (run on a machine with CUDA)

Measures, for ``ntm/copy-v1`` (width 8, lengths 1-20) at batch 64, in one run:

1. correctness on the device: ``collate(..., device="cuda")`` equals the CPU tensors, and an
   ``EpisodeStream`` read through DataLoaders with 0 and several workers gives identical batches;
2. the reference step: a cuDNN ``nn.LSTM`` (1 layer, 100 units) + linear read-out, forward +
   backward + RMSprop update on one fixed padded batch, timed with CUDA events;
3. the data pipeline alone: batches/s from ``EpisodeStream`` through a DataLoader with
   ``pin_memory=True`` and a non-blocking copy to the GPU, for several worker counts;
4. the two together: training steps/s fed by the stream against steps/s on a fixed batch. The
   stream keeps up when the ratio is near 1.

Usage: ``python benchmarks/gpu_stream.py [--quick] [--json PATH]``. Without CUDA it runs on the
CPU (for a smoke test only: the figures then mean nothing about GPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numba
import torch
from torch import nn
from torch.utils.data import DataLoader

import memtasks
from memtasks.torch import EpisodeStream, collate

TASK = "ntm/copy-v1"
BATCH = 64


class LSTMReader(nn.Module):
    """The smallest sequence model of the NTM paper's kind: LSTM + sigmoid read-out."""

    def __init__(self, inputs: int, hidden: int, outputs: int):
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden, batch_first=True)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(x)[0])


def train_step(model, optimiser, batch) -> torch.Tensor:
    logits = model(batch["inputs"])
    loss = nn.functional.binary_cross_entropy_with_logits(
        logits, batch["targets"], reduction="none"
    )
    loss = (loss.sum(-1) * batch["mask"]).sum() / batch["mask"].sum()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, steps: int, device: torch.device) -> float:
    """Median milliseconds of ``step()`` over ``steps`` calls (CUDA events on the GPU)."""
    times = []
    for _ in range(steps):
        if device.type == "cuda":
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            step()
            end.record()
            end.synchronize()
            times.append(begin.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def to_device(batch, device):
    return {k: v.to(device, non_blocking=True) for k, v in batch.items() if k != "meta"}


def check_correctness(device: torch.device, workers: int) -> dict:
    batch = memtasks.generate(TASK, BATCH, seed=1)
    cpu, dev = collate(batch), collate(batch, device=device)
    same_collate = all(torch.equal(cpu[k], dev[k].cpu()) for k in cpu if k != "meta")
    runs = {}
    for w, prefetch in ((0, 0), (workers, 0), ("prefetch", 2)):
        stream = EpisodeStream(TASK, BATCH, seed=3, num_batches=12, prefetch=prefetch)
        w = 0 if w == "prefetch" else w
        loader = DataLoader(
            stream, batch_size=None, num_workers=w, pin_memory=device.type == "cuda"
        )
        runs[w if not prefetch else "prefetch"] = [to_device(b, device) for b in loader]

    def same(x, y) -> bool:
        return all(torch.equal(a[k], b[k]) for a, b in zip(x, y, strict=True) for k in a)

    indices = torch.cat([b["index"] for b in runs[workers]]).cpu().tolist()
    return {
        "collate_on_device_equals_cpu": same_collate,
        f"stream_workers_0_equals_{workers}": same(runs[0], runs[workers]),
        "stream_prefetch_equals_plain": same(runs[0], runs["prefetch"]),
        "stream_indices_exact": indices == list(range(12 * BATCH)),
    }


def source(device: torch.device, config: tuple[int, int, bool], batches: int):
    """Batches on the device from EpisodeStream: ``config`` is (DataLoader workers, prefetch,
    whether the stream itself moves batches to the device)."""
    workers, prefetch, on_device = config
    stream = EpisodeStream(TASK, BATCH, seed=0, num_batches=batches, prefetch=prefetch,
                           device=device if on_device else None)  # fmt: skip
    if on_device:
        return iter(stream)
    loader = DataLoader(stream, batch_size=None, num_workers=workers,
                        pin_memory=device.type == "cuda",
                        prefetch_factor=4 if workers else None)  # fmt: skip
    return (to_device(b, device) for b in loader)


def describe(config: tuple[int, int, bool]) -> str:
    workers, prefetch, on_device = config
    text = f"{workers} workers" if workers else "main process"
    text += f" + prefetch {prefetch}" if prefetch else ""
    return text + (" + stream moves to GPU" if on_device else "")


def pipeline_rate(device: torch.device, config, batches: int) -> float:
    """Batches/s delivered to the device by EpisodeStream."""
    it = source(device, config, batches + 20)
    for _ in range(20):  # warm-up: worker start, first compiles
        next(it)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    sync(device)
    return batches / (time.perf_counter() - t0)


def training_rate(device, model, optimiser, steps: int, config=None, fixed=None) -> float:
    """Training steps/s, fed by the stream (or by one fixed batch when ``fixed`` is given)."""
    batches = iter(lambda: fixed, None) if fixed is not None else source(device, config, steps + 20)
    for _ in range(20):
        train_step(model, optimiser, next(batches))
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimiser, next(batches))
    sync(device)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cores = os.cpu_count() or 1
    worker_counts = [w for w in (0, 1, 2, 4, 8) if w <= cores]
    batches = 40 if args.quick else 600
    steps = 30 if args.quick else 600

    results: dict = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "numba": numba.__version__,
        "numba_threading_layer": None,
        "cpu_cores": cores,
        "memtasks": memtasks.__version__,
    }
    t0 = time.perf_counter()
    memtasks.generate(TASK, BATCH, seed=0)  # compiles (or loads) the serial kernels
    memtasks.generate(TASK, 1 << 16, seed=0)  # and the parallel ones, starting the threads
    results["first_generate_s"] = round(time.perf_counter() - t0, 2)
    results["numba_threading_layer"] = numba.threading_layer()
    results["checks"] = check_correctness(device, min(4, cores))

    torch.manual_seed(0)
    model = LSTMReader(9, 100, 8).to(device)
    optimiser = torch.optim.RMSprop(model.parameters(), lr=1e-4, momentum=0.9)
    fixed = to_device(collate(memtasks.generate(TASK, BATCH, seed=0, min_length=20)), device)
    results["fixed_batch_steps"] = int(fixed["inputs"].shape[1])
    results["lstm_step_ms"] = round(
        time_steps(lambda: train_step(model, optimiser, fixed), steps, device), 3
    )
    # (DataLoader workers, prefetch, stream moves batches to the GPU itself)
    configs = [(0, 0, False), (0, 2, False), (0, 0, True), (0, 2, True)]
    configs += [(w, 0, False) for w in worker_counts if w]
    if device.type != "cuda":
        configs = [c for c in configs if not c[2]]
    results["pipeline_batches_per_s"] = {
        describe(c): round(pipeline_rate(device, c, batches), 1) for c in configs
    }
    fixed_rate = training_rate(device, model, optimiser, steps, fixed=fixed)
    train = {"fixed_batch": round(fixed_rate, 1)}
    with_workers = [c for c in configs if c[0]]
    best = max(with_workers, key=lambda c: results["pipeline_batches_per_s"][describe(c)])
    for c in [c for c in configs if not c[0]] + [best]:
        rate = training_rate(device, model, optimiser, steps, config=c)
        train[f"stream, {describe(c)}"] = round(rate, 1)
        train[f"stream, {describe(c)} / fixed"] = round(rate / fixed_rate, 3)
    results["train_steps_per_s"] = train

    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    print(json.dumps(results, indent=2))
    print(f"\n{TASK}, batch {BATCH}, on {results['device']} ({cores} CPU cores)")
    print(f"  LSTM 1x100 train step (fixed batch, T={results['fixed_batch_steps']}): "
          f"{results['lstm_step_ms']} ms")  # fmt: skip
    for label, rate in results["pipeline_batches_per_s"].items():
        print(f"  stream -> device, {label:<42} {rate:>9.1f} batches/s "
              f"({1e3 / rate:.3f} ms per batch)")  # fmt: skip
    for label, value in results["train_steps_per_s"].items():
        print(f"  training steps/s, {label}: {value}")
    print(f"  checks: {results['checks']}")


if __name__ == "__main__":
    main()
