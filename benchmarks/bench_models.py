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

Table 3: the question-answering models on bAbI-10k-sized data: training examples (questions)
per second, each model with its default hyperparameters, on a fixed set of 2,000 questions of
``babi/joint-v1`` (all 20 tasks, as in joint bAbI-10k training), rotating through its batches:
the memory networks in batches of 32 questions (MemN2N's), the sequence models (which read
whole stories) in batches of 8 stories. Beside each, the time one epoch of bAbI-10k (200,000
questions) would take at that rate, and the ratio to MemN2N in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import torch

import memtasks.models as reference_models
from memtasks.models.training import device_name
from memtasks.registry import get_spec
from memtasks.torch import collate

TASK = "ntm/copy-v1"
LENGTH = 20
BATCH = 64
MEMORY_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)
QA_TASK = "babi/joint-v1"
QA_QUESTIONS = 2000
QA_BATCH = 32  # questions, for the memory networks
SEQ_BATCH = 8  # stories, for the sequence models
EPOCH_10K = 200_000  # questions in one pass over joint bAbI-10k
QA_MODELS = ("memn2n", "gated-memn2n", "memnn", "kv-memnn", "dmn-plus", "lstm", "transformer",
             "ntm", "dnc")  # fmt: skip


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
    parser.add_argument("--qa-models", default=",".join(QA_MODELS),
                        help="models of the QA table (empty: skip it)")  # fmt: skip
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

    def loss(self, out, batch):
        return reference_models.loss(out, batch)


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
        step_batch = batch[i % len(batch)] if isinstance(batch, list) else batch
        loss = model.loss(model(step_batch), step_batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) - base
    first = batch[0] if isinstance(batch, list) else batch
    with SavedBytes() as saved:
        loss = model.loss(model(first), first)
    del loss
    return {"step_s": statistics.median(times), "peak_bytes": peak, "saved_bytes": saved.bytes}


def qa_batches(model, episodes, device, quick: bool) -> tuple[list, list[int]]:
    """The fixed set cut into training batches the way the runner cuts it, and the questions in
    each: batches of 32 questions for the memory networks, of 8 stories for sequence models."""
    from memtasks.views import answer_spans

    if model.view == "qa":
        whole = model.collate(episodes, device)
        n = len(whole["answer"])
        size = 4 if quick else QA_BATCH
        order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
        rows = [order[i : i + size].sort().values for i in range(0, n - size + 1, size)]
        return [model.select(whole, r.to(device)) for r in rows], [size] * len(rows)
    spans = answer_spans(episodes)
    size = 2 if quick else SEQ_BATCH
    starts = range(0, len(episodes) - size + 1, size)
    batches = [model.collate(episodes[i : i + size], device) for i in starts]
    return batches, [int(spans[i : i + size].sum()) for i in starts]


def qa_table(names: list[str], device: torch.device, args) -> list[dict]:
    from memtasks.models.training import fixed_training_set

    spec = get_spec(QA_TASK)
    knobs = spec.make_knobs()
    per_task = max(1, (40 if args.quick else QA_QUESTIONS) // 20)
    episodes, info = fixed_training_set(spec, knobs, 0, per_task)
    print(
        f"\n# QA models: training questions per second on {QA_TASK} ({info['questions']:,} "
        f"questions, {info['episodes']:,} stories), on {device_name(device)}"
    )
    print(f"{'model':<16}{'params':>11}{'batch':>15}{'step ms':>10}{'questions/s':>13}"
          f"{'10k epoch':>11}{'vs memn2n':>11}")  # fmt: skip
    rows, base = [], None
    for name in names:
        torch.manual_seed(0)
        model = reference_models.create(name, spec, knobs=knobs).to(device)
        batches, questions = qa_batches(model, episodes, device, args.quick)
        repeats = min(len(batches), max(2, args.repeats))
        timed = time_step(model, batches, device, repeats, args.warmup)
        # the steps timed are batches warmup .. warmup + repeats - 1 of the rotation
        asked = [questions[i % len(batches)] for i in range(args.warmup, args.warmup + repeats)]
        rate = statistics.mean(asked) / timed["step_s"]
        base = base or (rate if name == "memn2n" else None)
        unit = "questions" if model.view == "qa" else "stories"
        row = {
            "model": name,
            "parameters": model.num_parameters(),
            "batch": len(batches[0]["answer" if model.view == "qa" else "inputs"]),
            "batch_unit": unit,
            **timed,
            "questions_per_step": statistics.mean(asked),
            "questions_per_s": rate,
            "epoch_10k_s": EPOCH_10K / rate,
        }
        rows.append(row)
        ratio = f"{rate / base:>10.2f}x" if base else f"{'-':>11}"
        print(
            f"{name:<16}{row['parameters']:>11,}{str(row['batch']) + ' ' + unit:>15}"
            f"{timed['step_s'] * 1e3:>10.2f}{rate:>13,.0f}{EPOCH_10K / rate / 60:>9.1f} m{ratio}"
        )
        del model
    print("# 10k epoch: minutes for one pass over 200,000 questions at that rate")
    return rows


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
    names = [m for m in args.models.split(",") if m] or [
        m for m in reference_models.list_models() if reference_models.get_model(m).view == "padded"
    ]
    out: dict[str, Any] = {
        "device": device_name(device),
        "torch": torch.__version__,
        "task": TASK,
        "length": LENGTH,
        "timesteps": int(batch["inputs"].shape[1]),
        "batch": BATCH,
        "models": [],
        "curve": [],
        "qa": [],
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
    qa_models = [m for m in args.qa_models.split(",") if m]
    if qa_models:
        out["qa"] = qa_table(qa_models, device, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
