"""Where a strongly supervised MemNN loses a bAbI task: its hops or its answer.

    python baselines/investigations/memnn_hops.py 4,6 --hp hops=3 --hp match_features=true

Trains ``memnn`` as ``memtasks baseline memnn babi/qaN-v1 --train-questions 1000`` does (the
same first 1,000 questions of the train split, the same 10 % held out, the same shuffled
batches of 32, plain SGD with the model's rate and norm clip), then scores generated test
stories and prints per task: the answer error, each hop's accuracy (the hop picked the memory
its supervision names: the support, or nil once the supports run out), and the answer error on
the questions whose hops were all right. A task whose answers fail with its hops right has a
response that cannot express the answer; one whose hops fail cannot find the facts.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import time

import numpy as np
import torch

from memtasks.models.registry import create, lookup
from memtasks.models.training.data import fixed_training_set
from memtasks.registry import get_spec


def value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        with contextlib.suppress(ValueError):  # not a number of this kind: try the next
            return kind(text)
    return text


def run(
    task: str,
    hp: dict,
    epochs: int,
    seed: int,
    stories: int,
    lr: float | None = None,
    model_name: str = "memnn",
    opt: dict | None = None,
) -> tuple[float, list, float]:
    spec = get_spec(task)
    knobs = spec.make_knobs(None)
    torch.manual_seed(seed)
    model = create(model_name, spec, **hp)
    chosen, _ = fixed_training_set(spec, knobs, seed, 1000)
    held = np.random.default_rng([seed, 1]).permutation(len(chosen))
    train = chosen.take(np.sort(held[int(round(0.1 * len(chosen))) :]))
    batch = model.collate(train)
    units = len(batch["answer"])
    _, variant = lookup(model_name)  # a variant's optimizer changes, as the trainer applies them
    settings = model.optimizer.replace(**(variant.optimizer if variant else {}))
    if lr is not None:
        settings = dataclasses.replace(settings, lr=lr)
    settings = dataclasses.replace(settings, **(opt or {}))
    optimizer = settings.build(model.parameters())
    steps = math.ceil(units / 32)
    scheduler = settings.schedule(optimizer, steps)  # per step, as the trainer steps it
    for epoch in range(epochs):
        order = np.random.default_rng([seed, 2, epoch]).permutation(units)
        model.train()
        for j in range(steps):
            rows = torch.from_numpy(np.sort(order[j * 32 : (j + 1) * 32]))
            b = model.select(batch, rows)
            loss = model.loss(model(b), b)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
            optimizer.step()
            scheduler.step()
    test = model.collate(spec.generate(stories, seed, "test", knobs=knobs))
    model.eval()
    with torch.no_grad():
        out = model(test)
    logits = out["logits"]
    answer = test["answer"][:, : logits.shape[1]]
    right = ((logits.argmax(-1)[:, : answer.shape[1]] == answer) | (answer == 0)).all(1)
    target, choice = out["hop_targets"], out["choices"]
    hop_right = (choice == target) | (target < 0)
    hops = [float(hop_right[:, h].float().mean()) for h in range(choice.shape[1])]
    given = float(right[hop_right.all(1)].float().mean())
    return 1 - float(right.float().mean()), hops, 1 - given


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", help="bAbI task numbers, comma-separated")
    parser.add_argument("--hp", action="append", default=[], help="NAME=VALUE (repeatable)")
    parser.add_argument(
        "--model", default="memnn", help="model or variant, e.g. memnn.babi-1k (default: memnn)"
    )
    parser.add_argument(
        "--opt", action="append", default=[], help="optimizer NAME=VALUE, e.g. decay_every=1"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stories", type=int, default=300, help="generated test stories")
    parser.add_argument(
        "--lr", type=float, default=None, help="learning rate (default: the model's)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    hp = {k: value(v) for k, v in (item.split("=", 1) for item in args.hp)}
    opt = {k: value(v) for k, v in (item.split("=", 1) for item in args.opt)}
    for n in args.tasks.split(","):
        start = time.time()
        err, hops, given = run(
            f"babi/qa{n}-v1", hp, args.epochs, args.seed, args.stories, args.lr, args.model, opt
        )
        print(f"qa{n}: error {100 * err:5.1f} %  hops right {[round(100 * h, 1) for h in hops]} %"
              f"  error with every hop right {100 * given:5.1f} %  ({time.time() - start:.0f} s)",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
