"""Throughput of the Associative LSTM task generators beside a vectorised NumPy generator of the
same arrays (issue 14: "every other family against a vectorised NumPy generator").

    python benchmarks/bench_alstm.py            # 20,000 episodes per task, one thread
    python benchmarks/bench_alstm.py --quick    # tiny sizes: a smoke test of the script

For each task at its default (``paper``) knobs, ``memtasks.generate`` with Numba on one thread
makes ``--episodes`` episodes in one call, and a NumPy function written the straightforward
vectorised way makes the same flat arrays (inputs, targets, mask, role, segment, the offsets,
and the support items where the task has them: same dtypes, the same rules; other random draws,
since NumPy's generator is not ours). NumPy has no loop over episodes: it builds every episode's
characters at once in a padded ``[episodes, width]`` buffer, one column block per tag or
assignment (a Python loop over the longest episode's tags, not over episodes), and cuts the
buffer into the flat arrays with one boolean mask. Both are timed as the median of
``--repeats`` runs after a warm-up; the ratio is NumPy's time over ours. The NumPy functions are
checked against the task's rules before timing.
"""

from __future__ import annotations

import re
import sys

import numpy as np
from numpy_baselines import side_by_side, side_by_side_main  # beside this script

import memtasks
from memtasks.generators import alstm as A

CONTEXT, QUERY, ANSWER = A.CONTEXT, A.QUERY, A.ANSWER


# ---------------------------------------------------------------------------------------------
# The padded character buffer, cut into the flat language-model arrays
# ---------------------------------------------------------------------------------------------
def flatten(text: np.ndarray, kind: np.ndarray, seg: np.ndarray, length: np.ndarray):
    """Episodes' characters ``text[b, :length[b]]`` (with each character's kind and context
    item) as the flat arrays: position t reads character t, its target is character t + 1."""
    positions = length - 1
    valid = np.arange(text.shape[1] - 1) < positions[:, None]
    inputs = text[:, :-1][valid]
    targets = text[:, 1:][valid]
    mask = (kind[:, 1:] == ANSWER)[valid]
    kind_in = kind[:, :-1][valid]
    role = np.where(mask, 2, np.where(kind_in == QUERY, 1, 0)).astype(np.int8)
    segment = np.where((role == 0) & (kind_in == CONTEXT), seg[:, :-1][valid], -1)
    offsets = np.concatenate(([0], np.cumsum(positions))).astype(np.int64)
    return inputs, targets, mask, role, segment.astype(np.int32), offsets


def scatter(text, kind, seg, rows, at, chars, kinds, segs, widths):
    """Write row ``r``'s ``chars[r, :widths[r]]`` at columns ``at[r]`` .. of the buffers."""
    cols = np.arange(chars.shape[1])
    ok = cols < widths[:, None]
    r = np.broadcast_to(rows[:, None], chars.shape)[ok]
    c = (at[:, None] + cols)[ok]
    text[r, c] = chars[ok]
    kind[r, c] = kinds[ok]
    seg[r, c] = np.broadcast_to(segs[:, None], chars.shape)[ok]


# ---------------------------------------------------------------------------------------------
# NumPy generators of the same arrays
# ---------------------------------------------------------------------------------------------
def numpy_episodic_copy(n: int, rng: np.random.Generator, delay=100, positions=10, symbols=8):
    size = 2 * positions + delay
    pattern = A.LETTER0 + rng.integers(0, symbols, (n, positions), dtype=np.int32)
    inputs = np.full((n, size), A.BLANK, np.int32)
    inputs[:, :positions] = pattern
    inputs[:, positions + delay - 1] = A.MARK
    targets = np.full((n, size), A.BLANK, np.int32)
    targets[:, positions + delay :] = pattern
    mask = np.zeros((n, size), bool)
    mask[:, positions + delay :] = True
    role = np.zeros((n, size), np.int8)
    role[:, positions + delay - 1] = 1
    role[:, positions + delay :] = 2
    segment = np.full((n, size), -1, np.int32)
    segment[:, :positions] = np.arange(positions)
    offsets = np.arange(n + 1, dtype=np.int64) * size
    return (inputs.ravel(), targets.ravel(), mask.ravel(), role.ravel(), segment.ravel(),
            offsets, None)  # fmt: skip


def numpy_xml(n: int, rng: np.random.Generator, length=256, max_depth=4, min_name=1,
              max_name=10, open_rate=0.5):  # fmt: skip
    tag = 1 + max_depth + 3 + max_name  # the widest tag line: break, indentation, </name>
    width = length + (max_depth + 1) * tag
    text = np.zeros((n, width), np.int32)
    kind = np.zeros((n, width), np.int8)
    seg = np.full((n, width), -1, np.int32)
    j = np.zeros(n, np.int64)
    depth = np.zeros(n, np.int64)
    elements = np.zeros(n, np.int64)
    stack_len = np.zeros((n, max_depth), np.int64)
    stack_name = np.zeros((n, max_depth, max_name), np.int32)
    stack_owner = np.zeros((n, max_depth), np.int64)
    closed_owner, closed_episode = [], []
    cols = np.arange(tag)
    while True:
        active = ~((j >= length) & (depth == 0))
        rows = np.flatnonzero(active)
        if not len(rows):
            break
        jr, dr = j[rows], depth[rows]
        coin = rng.random(len(rows)) < open_rate
        free = np.where(dr == max_depth, False, coin)  # open or close, where both may happen
        opening = np.where(jr >= length, False, np.where(dr == 0, True, free))
        closing = ~opening
        level = np.where(opening, dr, dr - 1)  # the stack level the tag opens or closes
        new_len = rng.integers(min_name, max_name + 1, len(rows))
        new_name = A.LETTER0 + rng.integers(0, 26, (len(rows), max_name), dtype=np.int32)
        name_len = np.where(opening, new_len, stack_len[rows, level])
        name = np.where(opening[:, None], new_name, stack_name[rows, level])
        pre = np.where(jr > 0, 1 + level, 0)  # the line break and the indentation
        start = pre + 1 + closing  # where the name begins: after "<" or "</"
        end = start + name_len  # the ">"
        c = cols[None, :]
        p, s, e, shut = pre[:, None], start[:, None], end[:, None], closing[:, None]
        chars = np.where(c < p, A.SPACE, 0)
        chars = np.where((c == 0) & (p > 0), A.NEWLINE, chars)
        chars = np.where(c == p, A.LT, chars)
        chars = np.where((c == p + 1) & shut, A.SLASH, chars)
        letter = np.take_along_axis(name, np.clip(c - s, 0, max_name - 1), axis=1)
        chars = np.where((c >= s) & (c < e), letter, chars)
        chars = np.where(c == e, A.GT, chars)
        kinds = np.where(shut & (c >= p), np.where(c < s, QUERY, ANSWER), CONTEXT)
        segs = np.where(opening, elements[rows], -1)
        scatter(text, kind, seg, rows, jr, chars.astype(np.int32), kinds.astype(np.int8), segs,
                end + 1)  # fmt: skip
        o, cl = rows[opening], rows[closing]
        stack_len[o, dr[opening]] = new_len[opening]
        stack_name[o, dr[opening]] = new_name[opening]
        stack_owner[o, dr[opening]] = elements[o]
        closed_owner.append(stack_owner[cl, level[closing]])
        closed_episode.append(cl)
        elements[o] += 1
        depth[rows] = np.where(opening, dr + 1, dr - 1)
        j[rows] = jr + end + 1
    arrays = flatten(text, kind, seg, j)
    # the support: each closing tag's element, episode by episode in order (a stable sort of
    # the closing tags by episode keeps each episode's in the order they closed)
    episode = np.concatenate(closed_episode)
    order = np.argsort(episode, kind="stable")
    support = np.concatenate(closed_owner)[order].astype(np.int32)
    return (*arrays, support)


def numpy_variable_assignment(n: int, rng: np.random.Generator, min_assignments=1,
                              max_assignments=10, min_name=1, max_name=4, values=26):  # fmt: skip
    item = 6 + max_name  # s(name,v),
    width = max_assignments * item + 3 + max_name + 1
    text = np.zeros((n, width), np.int32)
    kind = np.zeros((n, width), np.int8)
    seg = np.full((n, width), -1, np.int32)
    k = rng.integers(min_assignments, max_assignments + 1, n)
    queried = rng.integers(0, k)
    names = A.LETTER0 + rng.integers(0, 26, (n, max_assignments, max_name), dtype=np.int32)
    lens = rng.integers(min_name, max_name + 1, (n, max_assignments))
    vals = A.LETTER0 + rng.integers(0, values, (n, max_assignments), dtype=np.int32)
    # a name as one integer (base 27, 0 past its end), to find the last assignment to it
    digits = np.where(np.arange(max_name) < lens[..., None], names - A.LETTER0 + 1, 0)
    code = (digits * 27 ** np.arange(max_name)).sum(axis=2)
    rows = np.arange(n)
    same = (code == code[rows, queried][:, None]) & (np.arange(max_assignments) < k[:, None])
    answering = max_assignments - 1 - np.argmax(same[:, ::-1], axis=1)
    c = np.arange(item)[None, :]
    j = np.zeros(n, np.int64)
    for i in range(max_assignments):
        live = np.flatnonzero(i < k)
        m = lens[live, i][:, None]
        chars = np.where(c == 0, A.ID["s"], A.LPAREN)
        letter = np.take_along_axis(names[live, i], np.clip(c - 2, 0, max_name - 1), axis=1)
        chars = np.where((c >= 2) & (c < 2 + m), letter, chars)
        chars = np.where(c == 2 + m, A.COMMA, chars)
        chars = np.where(c == 3 + m, vals[live, i][:, None], chars)
        chars = np.where(c == 4 + m, A.RPAREN, chars)
        chars = np.where(c == 5 + m, A.COMMA, chars)
        scatter(text, kind, seg, live, j[live], chars.astype(np.int32),
                np.zeros(chars.shape, np.int8), np.full(len(live), i), m[:, 0] + 6)  # fmt: skip
        j[live] += m[:, 0] + 6
    m = lens[rows, queried][:, None]
    qc = np.arange(3 + max_name + 1)[None, :]
    chars = np.where(qc == 0, A.ID["q"], A.LPAREN)
    letter = np.take_along_axis(names[rows, queried], np.clip(qc - 2, 0, max_name - 1), axis=1)
    chars = np.where((qc >= 2) & (qc < 2 + m), letter, chars)
    chars = np.where(qc == 2 + m, A.RPAREN, chars)
    chars = np.where(qc == 3 + m, vals[rows, answering][:, None], chars)
    kinds = np.where(qc == 3 + m, ANSWER, QUERY).astype(np.int8)
    scatter(text, kind, seg, rows, j, chars.astype(np.int32), kinds, np.full(n, -1), m[:, 0] + 4)
    arrays = flatten(text, kind, seg, j + m[:, 0] + 4)
    return (*arrays, answering.astype(np.int32))


def numpy_arithmetic(n: int, rng: np.random.Generator, min_digits=1, max_digits=8,
                     difference_rate=0.5):  # fmt: skip
    def operand():
        d = rng.integers(min_digits, max_digits + 1, n)
        low = np.where(d > 1, 10 ** (d - 1), 0)
        return d, rng.integers(low, 10**d)

    da, a = operand()
    minus = rng.random(n) < difference_rate
    db, b = operand()
    r = np.where(minus, a - b, a + b)
    width = 2 * max_digits + 2 + (max_digits + 1) + 2
    kind = np.full((n, width), QUERY, np.int8)
    c = np.arange(width)[None, :]

    def place(value, digits, at):  # the digits of value, most significant first, from at
        k = c - at[:, None]
        power = np.clip(digits[:, None] - 1 - k, 0, max_digits)
        return np.where((k >= 0) & (k < digits[:, None]),
                        A.DIGIT0 + (value[:, None] // 10**power) % 10, 0)  # fmt: skip

    at_b = da + 1
    chars = place(a, da, np.zeros(n, np.int64)) + place(b, db, at_b)
    chars = np.where(c == da[:, None], np.where(minus, A.MINUS, A.PLUS)[:, None], chars)
    eq = at_b + db
    chars = np.where(c == eq[:, None], A.EQUALS, chars)
    mag = np.abs(r)
    dr = np.maximum(1, np.floor(np.log10(np.maximum(mag, 1))).astype(np.int64) + 1)
    k = c - (eq + 1)[:, None]
    power = np.clip(k, 0, max_digits + 1)
    reversed_digits = A.DIGIT0 + (mag[:, None] // 10**power) % 10
    result = (k >= 0) & (k < dr[:, None])
    chars = np.where(result, reversed_digits, chars)
    sign = (r < 0).astype(np.int64)
    chars = np.where((k == dr[:, None]) & (sign[:, None] == 1), A.MINUS, chars)
    end = eq + 1 + dr + sign
    chars = np.where(c == end[:, None], A.PERIOD, chars)
    kind = np.where((k >= 0) & (c <= end[:, None]), ANSWER, kind).astype(np.int8)
    seg = np.full((n, width), -1, np.int32)
    return (*flatten(chars.astype(np.int32), kind, seg, end + 1), None)


NUMPY = {
    "alstm/episodic-copy-v1": numpy_episodic_copy,
    "alstm/xml-v1": numpy_xml,
    "alstm/variable-assignment-v1": numpy_variable_assignment,
    "alstm/arithmetic-v1": numpy_arithmetic,
}


def check_rules(task: str, arrays) -> None:
    """The NumPy arrays have the dtypes of ours and the task's rules (a check before timing: a
    faster generator of other arrays would prove nothing)."""
    ours = memtasks.generate(task, 64, seed=0)
    inputs, targets, mask, role, segment, offsets, support = arrays
    for name, theirs in (("inputs", inputs), ("targets", targets), ("mask", mask),
                         ("role", role), ("segment", segment)):  # fmt: skip
        mine = getattr(ours, name)
        if theirs.dtype != mine.dtype or theirs.ndim != mine.ndim:
            raise AssertionError(f"{task}: NumPy {name} {theirs.dtype}{theirs.shape} vs ours "
                                 f"{mine.dtype}{mine.shape}")  # fmt: skip
    if not (role[mask] == 2).all() or int(mask.sum()) != int((role == 2).sum()):
        raise AssertionError(f"{task}: NumPy answer positions are not the scored positions")
    if (support is None) != (len(ours.support) == 0):
        raise AssertionError(f"{task}: NumPy support items where ours have none, or the reverse")
    batch = memtasks.EpisodeBatch.trusted(
        offsets=offsets, inputs=inputs, targets=targets, mask=mask, role=role, segment=segment,
        support_offsets=np.zeros(len(offsets), np.int64), support=np.zeros(0, np.int32),
        index=np.arange(len(offsets) - 1), meta={}, task=task,
    )  # fmt: skip
    for i in range(len(batch)):  # the text means what ours means
        o, e = offsets[i], offsets[i + 1]
        text = A.text_of(inputs[o : o + 1]) + A.text_of(targets[o:e])
        if task == "alstm/arithmetic-v1":
            left, right = text[:-1].split("=")
            x = left.replace("-", "+-", 1) if "-" in left else left
            assert right == str(sum(int(v) for v in x.split("+")))[::-1], text
        elif task == "alstm/variable-assignment-v1":
            memory = dict(re.findall(r"s\(([a-z]+),([a-z])\),", text))  # the last one wins
            asked, value = re.search(r"q\(([a-z]+)\)([a-z])$", text).groups()
            assert memory[asked] == value, text
        elif task == "alstm/xml-v1":
            stack = []
            for tag in text.replace("\n", "").replace(" ", "").replace("><", ">\0<").split("\0"):
                if tag.startswith("</"):
                    assert stack.pop() == tag[2:-1], text
                else:
                    stack.append(tag[1:-1])
            assert not stack
        elif task == "alstm/episodic-copy-v1":
            p = (e - o - 100) // 2
            assert (targets[e - p : e] == inputs[o : o + p]).all()


def run(episodes: int, repeats: int) -> list[dict]:
    return side_by_side(NUMPY, check_rules, episodes, repeats)


def main(argv=None) -> None:
    side_by_side_main(__doc__, NUMPY, check_rules, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
