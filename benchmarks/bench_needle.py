"""Throughput of ``recall/needle-v1`` beside a vectorised NumPy generator of the same arrays.

    python benchmarks/bench_needle.py            # 20 million tokens per setting, one thread
    python benchmarks/bench_needle.py --quick    # tiny sizes: a smoke test of the script

For the single-needle settings (``paper``: 1,000 tokens; ``extrapolate``: 4,000), one call of
``memtasks.generate`` with Numba on one thread makes ``--episodes`` episodes (``extrapolate``:
a quarter as many, the same tokens), and a NumPy function written the straightforward
vectorised way makes the same flat arrays from the same
tables (the task's vocabulary, keys, filler sentences): inputs, targets, mask, role, segment,
offsets and the supporting needle, by the same rules (filler sentences drawn uniformly until
the episode reaches its length, the needle before the first sentence at or past a depth drawn
from 40, a 7-digit value, the question and its 7 answer positions), with NumPy's own random
draws. Both are timed as the median of ``--repeats`` runs after a warm-up; the ratio is
NumPy's time over ours. The NumPy arrays are checked against the task's rules before timing.
"""

from __future__ import annotations

import json
import sys

import numba
import numpy as np
from numpy_baselines import machine_info, side_by_side_args  # beside this script

import memtasks
from memtasks import bench
from memtasks.generators.recall import needle

TASK = "recall/needle-v1"
SETTINGS = {"paper": 1_000, "extrapolate": 4_000}
ANSWER = 1


class Tables:
    """What both generators read: the task's token ids for the default knobs."""

    def __init__(self) -> None:
        world = needle.build(memtasks.get_spec(TASK).make_knobs())
        vocab = world.text.vocab
        ids = {w: i for i, w in enumerate(vocab)}
        self.filler_offsets = world.filler_offsets
        self.filler_tokens = world.filler_tokens
        self.filler_lengths = np.diff(world.filler_offsets)
        self.keys = np.array([[ids[w] for w in k.split()] for k in needle.KEYS], np.int32)
        self.digits = np.array([ids[d] for d in needle.DIGITS], np.int32)
        # the words of the needle and the question before their key (``needle.NEEDLE[0]``...)
        self.opening = np.array([ids[w] for w in needle.NEEDLE[0].split()[:-2]], np.int32)
        self.is_, self.period, self.qmark = ids["is"], ids["."], ids["?"]
        self.question = np.array([ids[w] for w in needle.QUESTION[0].split()[:-1]], np.int32)


def numpy_needle(n: int, rng: np.random.Generator, t: Tables, context: int = 1_000,
                 steps: int = 40, digits: int = 7):  # fmt: skip
    """``n`` single-needle episodes as flat arrays, vectorised over episodes."""
    needle_len = len(t.opening) + 2 + 1 + digits + 1
    question_len = len(t.question) + 2 + 1
    fixed = needle_len + question_len + digits
    target = max(0, context - fixed)
    # filler: enough draws per episode for the shortest sentences, cut where the target is met
    most = target // int(t.filler_lengths.min()) + 1
    picks = rng.integers(0, len(t.filler_lengths), (n, most))
    lengths = t.filler_lengths[picks]
    ends = np.cumsum(lengths, axis=1)
    count = (ends < target).sum(axis=1) + (target > 0)  # units drawn per episode
    rows = np.arange(n)
    haystack = np.where(count > 0, ends[rows, np.maximum(count - 1, 0)], 0)
    starts = ends - lengths
    # the needle's boundary: the first unit starting at or past depth k / (steps - 1)
    k = rng.integers(0, steps, n)
    cols = np.arange(most)
    past = (starts * (steps - 1) >= (k * haystack)[:, None]) & (cols < count[:, None])
    b = np.where(past.any(axis=1), past.argmax(axis=1), count)
    # the needle and question tokens of every episode
    key = t.keys[rng.integers(0, len(t.keys), n)]
    value = rng.integers(10 ** (digits - 1), 10**digits, n)
    value_digits = t.digits[(value[:, None] // 10 ** np.arange(digits - 1, -1, -1)) % 10]
    needles = np.concatenate(
        [np.broadcast_to(t.opening, (n, len(t.opening))), key, np.full((n, 1), t.is_),
         value_digits, np.full((n, 1), t.period)], axis=1,
    ).astype(np.int32)  # fmt: skip
    questions = np.concatenate(
        [np.broadcast_to(t.question, (n, len(t.question))), key, np.full((n, 1), t.qmark)],
        axis=1,
    ).astype(np.int32)
    # one source table; each item (a filler sentence, the needle, the question, the answer
    # positions) is a span of it
    base_needle = len(t.filler_tokens)
    base_question = base_needle + needles.size
    base_answer = base_question + questions.size
    table = np.concatenate([t.filler_tokens, needles.ravel(), questions.ravel(),
                            np.full(digits, ANSWER, np.int32)])  # fmt: skip
    # items in a grid of slots [n, most + 3]: units 0 .. b-1, the needle, units b .., question,
    # answer; slot j of a row is its j-th item
    width = most + 3
    src = np.zeros((n, width), np.int64)
    size = np.zeros((n, width), np.int64)
    role = np.zeros((n, width), np.int8)
    slot = cols[None, :] + (cols[None, :] >= b[:, None])
    unit = cols[None, :] < count[:, None]
    r, c = np.nonzero(unit)
    src[r, slot[r, c]] = t.filler_offsets[picks[r, c]]
    size[r, slot[r, c]] = lengths[r, c]
    src[rows, b] = base_needle + rows * needle_len
    size[rows, b] = needle_len
    src[rows, count + 1] = base_question + rows * question_len
    size[rows, count + 1] = question_len
    role[rows, count + 1] = 1
    src[rows, count + 2] = base_answer
    size[rows, count + 2] = digits
    role[rows, count + 2] = 2
    used = np.arange(width)[None, :] < (count + 3)[:, None]
    item_src, item_size, item_role = src[used], size[used], role[used]
    item_segment = np.where(item_role == 0, np.nonzero(used)[1], -1).astype(np.int32)
    # positions: each item's span of the table, laid end to end
    total = int(item_size.sum())
    out_start = np.cumsum(item_size) - item_size
    inputs = table[np.repeat(item_src - out_start, item_size) + np.arange(total)]
    role_at = np.repeat(item_role, item_size)
    segment = np.repeat(item_segment, item_size)
    mask = role_at == 2
    targets = np.zeros(total, np.int32)
    targets[mask] = value_digits.ravel()
    offsets = np.concatenate(([0], np.cumsum(haystack + fixed))).astype(np.int64)
    support = b.astype(np.int32)  # the needle's segment: one supporting fact per episode
    return inputs, targets, mask, role_at, segment, offsets, support


def same_rules(arrays, context: int, t: Tables) -> None:
    """The NumPy arrays are episodes of the task: our dtypes, the length rule, and the answer
    is the needle's value (a check before timing: a faster generator of other arrays would
    prove nothing)."""
    ours = memtasks.generate(TASK, 16, seed=0, context_tokens=context)
    inputs, targets, mask, role, segment, offsets, support = arrays
    for name, theirs in (("inputs", inputs), ("targets", targets), ("mask", mask),
                         ("role", role), ("segment", segment), ("offsets", offsets)):  # fmt: skip
        mine = getattr(ours, name)
        if theirs.dtype != mine.dtype:
            raise AssertionError(f"NumPy {name} is {theirs.dtype}, ours {mine.dtype}")
    longest = int(t.filler_lengths.max())
    for i in range(len(offsets) - 1):
        o, e = offsets[i], offsets[i + 1]
        if not context <= e - o < context + longest:
            raise AssertionError(f"NumPy episode {i} has {e - o} tokens for {context}")
        seg = segment[o:e]
        needle_tokens = inputs[o:e][seg == support[i]]
        answer = targets[o:e][mask[o:e]]
        if not np.array_equal(needle_tokens[-1 - len(answer) : -1], answer):
            raise AssertionError(f"NumPy episode {i}: the answer is not the needle's value")
        if (inputs[o:e][mask[o:e]] != ANSWER).any() or (role[o:e][mask[o:e]] != 2).any():
            raise AssertionError(f"NumPy episode {i}: answer positions are not scored answers")


def run(episodes: int, repeats: int) -> list[dict]:
    numba.set_num_threads(1)
    tables = Tables()
    rows = []
    for name, context in SETTINGS.items():
        # the same tokens per call in every setting (a call of 20,000 4,000-token episodes
        # would time first-touch page faults of a gigabyte of arrays more than generating)
        n = max(1, episodes * SETTINGS["paper"] // context)
        memtasks.generate(TASK, 64, seed=0, preset=name)  # compile (or load) first: warm
        rng = np.random.default_rng(0)
        same_rules(numpy_needle(64, rng, tables, context), context, tables)
        ours = bench.median_seconds(
            lambda p=name, k=n: memtasks.generate(TASK, k, seed=0, preset=p), repeats
        )
        theirs = bench.median_seconds(
            lambda c=context, g=rng, k=n: numpy_needle(k, g, tables, c), repeats
        )
        rows.append({"setting": name, "context_tokens": context, "episodes": n,
                     "ours_s": ours, "numpy_s": theirs,
                     "ours_episodes_per_s": n / ours,
                     "numpy_episodes_per_s": n / theirs,
                     "ours_tokens_per_s": n * context / ours,
                     "ratio": theirs / ours})  # fmt: skip
    return rows


def main(argv=None) -> None:
    args, episodes, repeats = side_by_side_args(__doc__, argv)
    rows = run(episodes, repeats)
    info = machine_info()
    print(f"{info['cpu']}, one thread; {episodes:,} episodes of 1,000 tokens, or as many tokens "
          f"in longer ones, per setting; median of {repeats}")  # fmt: skip
    print(f"{'setting (tokens x episodes)':30} {'ours ep/s':>12} {'NumPy ep/s':>12} "
          f"{'NumPy/ours':>10} {'ours tokens/s':>14}")  # fmt: skip
    for r in rows:
        label = f"{r['setting']} ({r['context_tokens']:,} x {r['episodes']:,})"
        print(f"{label:30} {r['ours_episodes_per_s']:12,.0f} {r['numpy_episodes_per_s']:12,.0f} "
              f"{r['ratio']:9.1f}x {r['ours_tokens_per_s']:14,.0f}")  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
