"""Throughput of the Hierarchical Attentive Memory generators beside a vectorised NumPy generator
of the same arrays (issue 14: "every other family against a vectorised NumPy generator").

    python benchmarks/bench_ham.py            # 20,000 episodes per task, one thread
    python benchmarks/bench_ham.py --quick    # tiny sizes: a smoke test of the script

For each task at its default (``paper``) knobs, ``memtasks.generate`` with Numba on one thread
makes ``--episodes`` episodes in one call, and a NumPy function written the straightforward
vectorised way makes the same flat arrays (inputs, targets, mask, role, segment, the offsets:
same shapes and dtypes, the same rules; other random draws, since NumPy's generator is not
ours). The algorithmic tasks are whole-batch array operations (a stable argsort for sort, a
comparison for the first matching key, a loop over the bit positions for the carries); the
data structures loop over the operations, each step vectorised over the episodes. Both are timed
as the median of ``--repeats`` runs after a warm-up; the ratio is NumPy's time over ours. The
NumPy functions are checked against the task's rules before timing.
"""

from __future__ import annotations

import heapq
import sys

import numpy as np
from numpy_baselines import side_by_side, side_by_side_main  # beside this script

import memtasks

PAD, ANSWER = 0, 1
CONTEXT, QUERY, SCORED, CONTROL = 0, 1, 2, 3


# ---------------------------------------------------------------------------------------------
# NumPy generators of the same arrays
# ---------------------------------------------------------------------------------------------
def _flat(inputs, targets, role, segment):
    """Flat arrays and offsets of episodes of one length (rows of [n, T] matrices)."""
    n, t = inputs.shape
    return (
        inputs.astype(np.int32).ravel(),
        targets.astype(np.int32).ravel(),
        (role == SCORED).ravel(),
        role.astype(np.int8).ravel(),
        segment.astype(np.int32).ravel(),
        np.arange(n + 1, dtype=np.int64) * t,
    )


def _full(n, width, value):
    return np.full((n, width), value, np.int64)


def numpy_reverse(n, rng, m=32, values=32):
    base = 3
    x = rng.integers(0, values, (n, m)) + base
    inputs = np.hstack([x, _full(n, 1, 2), _full(n, m, ANSWER)])
    targets = np.hstack([_full(n, m + 1, PAD), x[:, ::-1]])
    role = np.hstack([_full(n, m, CONTEXT), _full(n, 1, QUERY), _full(n, m, SCORED)])
    segment = np.hstack([np.broadcast_to(np.arange(m), (n, m)), _full(n, m + 1, -1)])
    return _flat(inputs, targets, role, segment)


def numpy_search(n, rng, m=32, keys=32, values=32):
    base = 3
    k = np.sort(rng.integers(0, keys, (n, m)), axis=1)
    v = rng.integers(0, values, (n, m))
    q = k[np.arange(n), rng.integers(0, m, n)]
    first = np.argmax(k == q[:, None], axis=1)  # the first pair with the query's key
    answer = v[np.arange(n), first] + base
    pairs = np.stack([k, v], axis=2).reshape(n, 2 * m) + base
    inputs = np.hstack([pairs, _full(n, 1, 2), q[:, None] + base, _full(n, 1, ANSWER)])
    targets = np.hstack([_full(n, 2 * m + 2, PAD), answer[:, None]])
    role = np.hstack([_full(n, 2 * m, CONTEXT), _full(n, 2, QUERY), _full(n, 1, SCORED)])
    segment = np.hstack([np.broadcast_to(np.arange(2 * m) // 2, (n, 2 * m)), _full(n, 3, -1)])
    return _flat(inputs, targets, role, segment)


def numpy_merge(n, rng, m=32, keys=300, values=32):
    base = 4
    rows = np.arange(n)[:, None]
    # m distinct priorities per episode, sorted; a random a of them form the first sequence
    prio = np.sort(np.argpartition(rng.random((n, keys)), m, axis=1)[:, :m], axis=1)
    a = rng.integers(1, m, n)
    in_first = np.argsort(rng.random((n, m)), axis=1) < a[:, None]
    v = rng.integers(0, values, (n, m))
    rank_first = np.cumsum(in_first, axis=1) - 1
    rank_second = np.cumsum(~in_first, axis=1) - 1
    where = np.where(in_first, 2 * rank_first, 2 * a[:, None] + 1 + 2 * rank_second)
    t = 3 * m + 2
    inputs = _full(n, t, ANSWER)
    targets = _full(n, t, PAD)
    role = _full(n, t, SCORED)
    segment = _full(n, t, -1)
    order = np.where(in_first, rank_first, a[:, None] + rank_second)  # item index in the input
    for shift, tokens in ((0, prio), (1, v)):
        inputs[rows, where + shift] = tokens + base
        role[rows, where + shift] = CONTEXT
        segment[rows, where + shift] = order
    bar = 2 * a
    inputs[np.arange(n), bar], role[np.arange(n), bar] = 2, CONTROL
    inputs[:, 2 * m + 1], role[:, 2 * m + 1] = 3, QUERY
    targets[:, 2 * m + 2 :] = v + base  # sorted priorities: the merged order
    return _flat(inputs, targets, role, segment)


def numpy_sort(n, rng, m=32, keys=32, values=32):
    base = 3
    k = rng.integers(0, keys, (n, m))
    v = rng.integers(0, values, (n, m))
    out = np.take_along_axis(v, np.argsort(k, axis=1, kind="stable"), axis=1) + base
    pairs = np.stack([k, v], axis=2).reshape(n, 2 * m) + base
    inputs = np.hstack([pairs, _full(n, 1, 2), _full(n, m, ANSWER)])
    targets = np.hstack([_full(n, 2 * m + 1, PAD), out])
    role = np.hstack([_full(n, 2 * m, CONTEXT), _full(n, 1, QUERY), _full(n, m, SCORED)])
    segment = np.hstack([np.broadcast_to(np.arange(2 * m) // 2, (n, 2 * m)), _full(n, m + 1, -1)])
    return _flat(inputs, targets, role, segment)


def numpy_add(n, rng, m=32):
    zero = 4
    a = rng.integers(0, 2, (n, m))
    b = rng.integers(0, 2, (n, m))
    total = np.zeros((n, m + 1), np.int64)
    carry = np.zeros(n, np.int64)
    for i in range(m):  # the carries run along the bits: one vectorised step per bit
        s = a[:, i] + b[:, i] + carry
        total[:, i], carry = s & 1, s >> 1
    total[:, m] = carry
    inputs = np.hstack([a + zero, _full(n, 1, 2), b + zero, _full(n, 1, 3), _full(n, m + 1, 1)])
    targets = np.hstack([_full(n, 2 * m + 2, PAD), total + zero])
    role = np.hstack([_full(n, m, CONTEXT), _full(n, 1, CONTROL), _full(n, m, CONTEXT),
                      _full(n, 1, QUERY), _full(n, m + 1, SCORED)])  # fmt: skip
    second = np.broadcast_to(np.arange(m, 2 * m), (n, m))
    segment = np.hstack([np.broadcast_to(np.arange(m), (n, m)), _full(n, 1, -1), second,
                         _full(n, m + 2, -1)])  # fmt: skip
    return _flat(inputs, targets, role, segment)


def numpy_structure(n, rng, kind, m=32, values=32, priorities=32, push_prob=0.5):
    """Operations chosen step by step for all episodes at once; each op is a row of up to three
    tokens in an [n, m, 3] grid, and the flat arrays are the grid's used slots in order."""
    base = 4
    width = 3 if kind == "priority-queue" else 2
    rows = np.arange(n)
    held = np.zeros((n, m), np.int64)  # values (stack, queue) or priority keys (heap)
    size = np.zeros(n, np.int64)
    head = np.zeros(n, np.int64)
    pops = np.zeros(n, np.int64)
    pushes = np.zeros(n, np.int64)
    value_of = np.zeros((n, m), np.int64)  # value of push j
    u = rng.random((n, m))
    v = rng.integers(0, values, (n, m))
    p = rng.integers(0, priorities, (n, m))
    inputs = np.zeros((n, m, 3), np.int64)
    targets = np.zeros((n, m, 3), np.int64)
    role = np.zeros((n, m, 3), np.int64)
    segment = np.full((n, m, 3), -1, np.int64)
    used = np.zeros((n, m, 3), bool)
    for k in range(m):
        push = (size == 0) | ((u[:, k] < push_prob) & ~((k == m - 1) & (pops == 0)))
        pr, po = rows[push], rows[~push]
        # pushes
        j = pushes[pr]
        value_of[pr, j] = v[pr, k]
        inputs[pr, k, 0], inputs[pr, k, 1], inputs[pr, k, 2] = 2, v[pr, k] + base, p[pr, k] + base
        segment[pr, k, :] = j[:, None]
        used[pr, k, :width] = True
        if kind == "stack":
            held[pr, size[pr]] = j
        elif kind == "queue":
            held[pr, head[pr] + size[pr]] = j
        else:  # the slot of push j holds its key: higher priority first, then the earlier
            held[pr, j] = p[pr, k] * (m + 1) + (m - j)
        pushes[pr] += 1
        size[pr] += 1
        # pops
        if kind == "stack":
            src = held[po, size[po] - 1]
        elif kind == "queue":
            src = held[po, head[po]]
            head[po] += 1
        else:
            top = np.argmax(np.where(np.arange(m) < pushes[po, None], held[po], -1), axis=1)
            src = top
            held[po, top] = -1
        size[po] -= 1
        inputs[po, k, 0], inputs[po, k, 1] = 3, ANSWER
        targets[po, k, 1] = value_of[po, src] + base
        role[po, k, 0], role[po, k, 1] = QUERY, SCORED
        used[po, k, :2] = True
        pops[po] += 1
    lengths = used.sum(axis=(1, 2))
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    r = role[used]
    return (inputs[used].astype(np.int32), targets[used].astype(np.int32), r == SCORED,
            r.astype(np.int8), segment[used].astype(np.int32), offsets)  # fmt: skip


NUMPY = {
    "ham/reverse-v1": numpy_reverse,
    "ham/search-v1": numpy_search,
    "ham/merge-v1": numpy_merge,
    "ham/sort-v1": numpy_sort,
    "ham/add-v1": numpy_add,
    "ham/stack-v1": lambda n, rng: numpy_structure(n, rng, "stack"),
    "ham/queue-v1": lambda n, rng: numpy_structure(n, rng, "queue"),
    "ham/priority-queue-v1": lambda n, rng: numpy_structure(n, rng, "priority-queue"),
}


# ---------------------------------------------------------------------------------------------
# Checks before timing: the NumPy arrays follow the task's rules
# ---------------------------------------------------------------------------------------------
def _words(task: str, tokens) -> list[str]:
    spec = memtasks.get_spec(task)
    vocab = spec.layout(spec.make_knobs()).vocab
    return [vocab[t] for t in tokens]


def _replay(kind: str, words: list[str]) -> list[str]:
    """The values the pops of one episode must return (Python's list, deque, heapq)."""
    held, out, t, pushes = [], [], 0, 0
    while t < len(words):
        if words[t + 1] == "<answer>":
            if kind == "stack":
                out.append(held.pop()[1])
            elif kind == "queue":
                out.append(held.pop(0)[1])
            else:
                out.append(heapq.heappop(held)[2])
            t += 2
        else:
            if kind == "priority-queue":
                heapq.heappush(held, (-int(words[t + 2]), pushes, words[t + 1]))
                t += 3
            else:
                held.append((pushes, words[t + 1]))
                t += 2
            pushes += 1
    return out


def rebuild(task: str, words: list[str]) -> list[str]:
    """The answers of one episode from its input words, by the task's rule."""
    go = next((i for i, w in enumerate(words) if w == "<answer>"), len(words))
    if task.endswith(("stack-v1", "queue-v1")):
        return _replay(task.split("/")[1].removesuffix("-v1"), words)
    if task == "ham/reverse-v1":
        return words[: go - 1][::-1]
    if task == "ham/add-v1":
        m = (go - 2) // 2
        a = int("".join(reversed(words[:m])), 2)
        b = int("".join(reversed(words[m + 1 : 2 * m + 1])), 2)
        return list(reversed(format(a + b, f"0{m + 1}b")))
    if task == "ham/search-v1":
        kv = [(words[i], words[i + 1]) for i in range(0, go - 2, 2)]
        return [next(v for k, v in kv if k == words[go - 1])]
    items = [w for w in words[: go - 1] if w != "|"]
    kv = [(int(items[i]), items[i + 1]) for i in range(0, len(items), 2)]
    return [v for _, v in sorted(kv, key=lambda p: p[0])]  # merge and sort: stable by key


def same_layout(task: str, arrays) -> None:
    """The NumPy arrays have the dtypes of ours and the task's answers (a check before timing:
    a faster generator of other arrays would prove nothing)."""
    ours = memtasks.generate(task, 64, seed=0)
    inputs, targets, mask, role, segment, offsets = arrays
    for name, theirs in (("inputs", inputs), ("targets", targets), ("mask", mask),
                         ("role", role), ("segment", segment)):  # fmt: skip
        mine = getattr(ours, name)
        if theirs.dtype != mine.dtype or theirs.shape[1:] != mine.shape[1:]:
            raise AssertionError(f"{task}: NumPy {name} {theirs.dtype}{theirs.shape} vs ours "
                                 f"{mine.dtype}{mine.shape}")  # fmt: skip
    if not (role[mask] == SCORED).all() or not (inputs[mask] == ANSWER).all():
        raise AssertionError(f"{task}: NumPy answer positions are not the scored ones")
    for i in range(len(offsets) - 1):
        r = slice(offsets[i], offsets[i + 1])
        want = rebuild(task, _words(task, inputs[r]))
        if _words(task, targets[r][mask[r]]) != want:
            raise AssertionError(f"{task}: NumPy episode {i} answers differ from the rule")


def run(episodes: int, repeats: int) -> list[dict]:
    return side_by_side(NUMPY, same_layout, episodes, repeats)


def main(argv=None) -> None:
    side_by_side_main(__doc__, NUMPY, same_layout, argv, knobs=" (n = 32)")


if __name__ == "__main__":
    main(sys.argv[1:])
