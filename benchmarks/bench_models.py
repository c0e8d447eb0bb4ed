"""Training-step cost of every reference model, beside ``nn.LSTM`` in the same run.

    python benchmarks/bench_models.py                     # GPU if there is one, else CPU
    python benchmarks/bench_models.py --device cpu --threads 1
    python benchmarks/bench_models.py --compile           # also the torch.compile'd step
    python benchmarks/bench_models.py --quick             # tiny sizes: a smoke test
    python benchmarks/bench_models.py --json out.json

Table 1: one training step (forward, backward, optimiser update) of each model with its default
hyperparameters on ``ntm/copy-v1`` with every sequence of length 20 (41 timesteps), batch 64,
the median of ``--repeats`` timed steps after warm-up. Beside it, in the same process and on the
same device, the step of a one-layer ``nn.LSTM`` of the model's hidden size (cuDNN on a GPU),
and the ratio. The issue's target: the NTM within 5x of that LSTM.

Memory: on a GPU, the peak allocated during the step (``torch.cuda.max_memory_allocated``,
above what was allocated before it); on any device, the bytes autograd saves for the backward
pass (``saved_tensors_hooks``), which is what grows with sequence length and memory size.

Table 2: the NTM's and the DNC's step over memory size N = 64 ... 4096 (the DNC's temporal link
matrix is N x N per episode, so it grows quadratically; the NTM linearly).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import torch

import reference_models
from memtasks.registry import get_spec
from memtasks.torch import collate
from reference_models.runner import device_name

TASK = "ntm/copy-v1"
LENGTH = 20
BATCH = 64
MEMORY_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    parser.add_argument("--models", default="", help="comma-separated (default: all)")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--compile", action="store_true", help="also torch.compile the step")
    parser.add_argument("--no-curve", action="store_true", help="skip the memory-size curve")
    parser.add_argument("--sizes", default=",".join(map(str, MEMORY_SIZES)))
    parser.add_argument(
        "--max-gb",
        type=float,
        default=0,
        help="skip memory sizes whose step would keep more than this for backward "
        "(default: 6 GB on a CPU, 60%% of the GPU's memory)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also save every figure as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup, args.sizes = 2, 1, "64,128"
    return args


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class SavedBytes:
    """Counts the bytes autograd keeps for the backward pass (each storage once)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.bytes = 0

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key not in self.seen:
            self.seen.add(key)
            self.bytes += storage.nbytes()
        return t

    def __enter__(self):
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


class LSTMReference(torch.nn.Module):
    """``nn.LSTM(D_in, H)`` and a linear read-out: the cuDNN reference step."""

    def __init__(self, d_in: int, hidden: int, d_out: int):
        super().__init__()
        self.lstm = torch.nn.LSTM(d_in, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, d_out)

    def forward(self, batch):
        return self.out(self.lstm(batch["inputs"])[0])


def hidden_size(model: reference_models.SequenceModel) -> int:
    hp = model.hp
    for name in ("controller_size", "hidden_size", "d_model"):
        if hasattr(hp, name):
            return int(getattr(hp, name))
    raise ValueError(f"{model.name}: no hidden size")


def time_step(model: torch.nn.Module, batch, device, repeats: int, warmup: int) -> dict:
    """Median seconds of forward + backward + Adam update, peak memory and saved bytes."""
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    peak = None
    for i in range(warmup + repeats):
        _sync(device)
        if device.type == "cuda" and i == warmup:
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        t0 = time.perf_counter()
        loss = reference_models.loss(model(batch), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) - base
    with SavedBytes() as saved:
        loss = reference_models.loss(model(batch), batch)
    del loss
    return {"step_s": statistics.median(times), "peak_bytes": peak, "saved_bytes": saved.bytes}


def estimated_bytes(name: str, n: int, timesteps: int) -> int:
    """What a step keeps for backward, roughly (measured: 0.85 GB for the DNC at N = 256, 2.4 GB
    for the NTM at N = 4096): the DNC about one N x N link matrix per timestep and episode and
    half as much again, the NTM a few N x M memories."""
    if name == "dnc":
        return 3 * BATCH * timesteps * n * n * 4 // 2
    return 4 * BATCH * timesteps * n * 20 * 4


def _mb(x: int | None) -> str:
    return "-" if x is None else f"{x / 2**20:,.1f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    spec = get_spec(TASK)
    knobs = spec.make_knobs(None, lengths=(LENGTH,))
    batch = collate(spec.generate(BATCH, seed=0, split="train", knobs=knobs), device=device)
    names = [m for m in args.models.split(",") if m] or reference_models.list_models()
    out: dict[str, Any] = {
        "device": device_name(device),
        "torch": torch.__version__,
        "task": TASK,
        "length": LENGTH,
        "timesteps": int(batch["inputs"].shape[1]),
        "batch": BATCH,
        "models": [],
        "curve": [],
    }
    print(
        f"# one training step, {TASK} length {LENGTH} ({out['timesteps']} timesteps), batch "
        f"{BATCH}, on {out['device']}, torch {torch.__version__}"
    )
    references: dict[int, dict] = {}

    def reference(hidden: int) -> dict:
        if hidden not in references:
            torch.manual_seed(0)
            ref = LSTMReference(batch["inputs"].shape[-1], hidden, batch["targets"].shape[-1])
            references[hidden] = time_step(ref, batch, device, args.repeats, args.warmup)
        return references[hidden]

    header = (
        f"{'model':<22}{'params':>11}{'step ms':>10}{'LSTM ms':>9}{'ratio':>8}"
        f"{'peak MB':>10}{'saved MB':>10}"
    )
    print(header)
    variants = [(n, False) for n in names]
    if args.compile:
        variants += [(n, True) for n in names if n in ("ntm", "dnc")]
    for name, compiled in variants:
        torch.manual_seed(0)
        model = reference_models.create(name, spec, knobs=knobs)
        label = name
        if compiled:
            if not model.compile_step():
                continue
            label += " (compiled)"
        began = time.perf_counter()
        row = time_step(model, batch, device, args.repeats, args.warmup)
        row["first_steps_s"] = time.perf_counter() - began  # includes any compile
        ref = reference(hidden_size(model))
        row.update(
            model=name,
            compiled=compiled,
            parameters=model.num_parameters(),
            hidden=hidden_size(model),
            lstm_step_s=ref["step_s"],
            ratio=row["step_s"] / ref["step_s"],
        )
        out["models"].append(row)
        print(
            f"{label:<22}{row['parameters']:>11,}{row['step_s'] * 1e3:>10.2f}"
            f"{ref['step_s'] * 1e3:>9.2f}{row['ratio']:>7.1f}x{_mb(row['peak_bytes']):>10}"
            f"{_mb(row['saved_bytes']):>10}"
        )
        del model
    print("# LSTM: one-layer nn.LSTM of the model's hidden size (cuDNN on a GPU), same batch")

    curve_models = [n for n in names if n in ("ntm", "dnc")]
    if not args.no_curve and curve_models:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        print(f"\n# memory size N: one training step, same batch ({out['device']})")
        print(f"{'model':<8}{'N':>6}{'step ms':>10}{'vs N=' + str(sizes[0]):>9}"
              f"{'peak MB':>10}{'saved MB':>10}")  # fmt: skip
        budget = args.max_gb * 2**30
        if not budget:
            if device.type == "cuda":
                budget = 0.6 * torch.cuda.get_device_properties(device).total_memory
            else:
                budget = 6 * 2**30
        for name in curve_models:
            first = None
            for n in sizes:
                need = estimated_bytes(name, n, out["timesteps"])
                if need > budget:
                    print(f"{name:<8}{n:>6}   skipped: needs about {need / 2**30:,.0f} GB "
                          f"(budget {budget / 2**30:,.0f} GB)")  # fmt: skip
                    out["curve"].append({"model": name, "memory_size": n, "skipped": True})
                    continue
                torch.manual_seed(0)
                model = reference_models.create(name, spec, knobs=knobs, memory_size=n)
                row = time_step(model, batch, device, max(2, args.repeats // 4), args.warmup)
                first = first or row["step_s"]
                row.update(model=name, memory_size=n)
                out["curve"].append(row)
                print(
                    f"{name:<8}{n:>6}{row['step_s'] * 1e3:>10.2f}{row['step_s'] / first:>8.1f}x"
                    f"{_mb(row['peak_bytes']):>10}{_mb(row['saved_bytes']):>10}"
                )
                del model
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
