"""Throughput and memory of the recall probes beside the authors' generators and a vectorised
NumPy generator of the same arrays, on one thread (issue 14).

    python benchmarks/bench_recall.py                 # everything below, about two minutes
    python benchmarks/bench_recall.py --quick          # tiny sizes: a smoke test of the script
    python benchmarks/bench_recall.py --compare        # only MQAR's laws beside zoology's

1. MQAR at zoology's published configuration (Zoology figure 2: vocabulary 8,192, length 256,
   16 pairs, ``random_non_queries=False``): zoology's own ``multiquery_ar`` and
   ``memtasks.generate`` in one process, one thread, the same number of examples, median of
   ``--repeats`` interleaved runs: examples/s of each and the ratio. Then the peak memory per
   example of each at two batch sizes, each measured in a fresh process (the growth of its
   resident set during the call, sampled every millisecond, over the batch size).
2. The other probes at their ``paper`` knobs beside a vectorised NumPy generator of the same
   arrays (inputs, targets, mask, role, segment, offsets; same rules, NumPy's random draws) and,
   where its code is found, the authors' generator: MAD's noisy and fuzzy recall instances,
   safari's induction heads, the S4 repository's selective copying.
3. ``--compare``: the laws of our MQAR beside zoology's at the same configuration: the query
   slots' histogram (total variation distance), the mean slot of each pair, key and value
   ranges; and how often MAD's fuzzy recall ends on a query whose key never appeared.

The authors' code is not part of memtasks. It is imported from ``--peer`` (default: the folder
``peer`` beside the repository, or ``$MEMTASKS_PEER``): ``zoology/`` (HazyResearch/zoology;
its ``zoology.utils`` imports wandb, so a stand-in for that one module is used when wandb is
missing), ``mad-lab/`` (athms/mad-lab ``mad/data/instances.py``), ``safari/``
(HazyResearch/safari ``src/dataloaders/synthetics.py``) and ``s4/`` (state-spaces/s4
``src/dataloaders/datasets/copying.py``); each missing one is skipped with a message.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread everywhere, before NumPy, Numba, torch load

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numpy_baselines import machine_info  # noqa: E402  (beside this script)

import memtasks  # noqa: E402
from memtasks.generators.recall.probes import power_law, to_zoology  # noqa: E402

PAPER_MQAR = {"vocab_size": 8192, "input_seq_len": 256, "num_kv_pairs": 16,
              "random_non_queries": False}  # fmt: skip
DEFAULT_PEER = Path(os.environ.get("MEMTASKS_PEER", Path(__file__).resolve().parents[2] / "peer"))


# ---------------------------------------------------------------------------------------------
# The authors' generators, imported from the peer folder
# ---------------------------------------------------------------------------------------------
def _load_file(name: str, path: Path, stubs: dict[str, types.ModuleType]):
    """Import one file as module ``name`` with ``stubs`` standing in for its imports."""
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def _stub(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    module.__path__ = []  # a package, so that submodules can be stubbed under it
    return module


def load_zoology(peer: Path):
    """zoology's ``multiquery_ar``, or None with a message."""
    root = peer / "zoology"
    if not (root / "zoology" / "data" / "multiquery_ar.py").is_file():
        print(f"zoology not found under {root}: its columns are skipped", file=sys.stderr)
        return None
    sys.path.insert(0, str(root))
    try:
        from zoology.data.multiquery_ar import multiquery_ar
    except ImportError:  # zoology.utils imports wandb and pandas for logging only
        sys.modules["zoology.utils"] = _stub("zoology.utils", import_from_str=lambda path: None)
        from zoology.data.multiquery_ar import multiquery_ar
    return multiquery_ar


def load_mad(peer: Path):
    path = peer / "mad-lab" / "mad" / "data" / "instances.py"
    if not path.is_file():
        print(f"MAD's instances.py not found at {path}: its columns are skipped", file=sys.stderr)
        return None
    return _load_file("mad_instances", path, {})


def load_safari(peer: Path):
    path = peer / "safari" / "src" / "dataloaders" / "synthetics.py"
    if not path.is_file():
        print(f"safari's synthetics.py not found at {path}: skipped", file=sys.stderr)
        return None
    base = _stub("src.dataloaders.base", SequenceDataset=object)
    stubs = {"src": _stub("src"), "src.dataloaders": _stub("src.dataloaders"),
             "src.dataloaders.base": base}  # fmt: skip
    return _load_file("safari_synthetics", path, stubs)


def load_s4(peer: Path):
    path = peer / "s4" / "src" / "dataloaders" / "datasets" / "copying.py"
    if not path.is_file():
        print(f"S4's copying.py not found at {path}: skipped", file=sys.stderr)
        return None
    stubs = {"src": _stub("src"), "src.utils": _stub("src.utils", distributed=None)}
    return _load_file("s4_copying", path, stubs)


# ---------------------------------------------------------------------------------------------
# Vectorised NumPy generators of the same arrays
# ---------------------------------------------------------------------------------------------
def _distinct_rows(rng, lo: int, hi: int, shape: tuple[int, int]) -> np.ndarray:
    """Rows of distinct integers in [lo, hi): draw, redraw the rows with a repeat."""
    out = rng.integers(lo, hi, shape)
    while True:
        s = np.sort(out, axis=1)
        bad = (s[:, 1:] == s[:, :-1]).any(axis=1)
        if not bad.any():
            return out
        out[bad] = rng.integers(lo, hi, (int(bad.sum()), shape[1]))


def _flat(n, length, *arrays):
    offsets = np.arange(n + 1, dtype=np.int64) * length
    return (*(a.reshape(-1) for a in arrays), offsets)


def numpy_mqar(n, rng, vocab_size=8192, input_seq_len=256, num_kv_pairs=16, num_passes=1,
               power_a=0.01, random_non_queries=True):  # fmt: skip
    v, length, pairs = vocab_size, input_seq_len, num_kv_pairs
    half = v // 2
    keys = _distinct_rows(rng, 1, half, (n, pairs))
    values = _distinct_rows(rng, half, v, (n, pairs))
    context = 2 * pairs * num_passes
    slots = (length - context) // 2
    # successive sampling without replacement = the order of Gumbel-perturbed log weights
    noisy = np.log(power_law(slots, power_a)) - np.log(-np.log(rng.random((n, slots))))
    top = np.argpartition(-noisy, pairs - 1, axis=1)[:, :pairs]
    order = np.argsort(-np.take_along_axis(noisy, top, axis=1), axis=1)
    gaps = np.take_along_axis(top, order, axis=1)
    rows = np.arange(n)[:, None]
    pos = context + 2 * gaps
    inputs = np.full((n, length), v, np.int32)
    pairs_row = np.empty((n, 2 * pairs), np.int32)
    pairs_row[:, 0::2], pairs_row[:, 1::2] = keys, values
    inputs[:, :context] = np.tile(pairs_row, num_passes)
    role = np.full((n, length), 1, np.int8)
    role[:, :context] = 0
    if random_non_queries:
        r = rng.integers(0, v, (n, length), dtype=np.int32)
        fill = role == 1
        inputs[fill] = np.where(r == 0, v, r)[fill]
    inputs[rows, pos] = keys
    targets = np.zeros((n, length), np.int32)
    targets[rows, pos] = values
    mask = np.zeros((n, length), bool)
    mask[rows, pos] = True
    role[rows, pos] = 2
    segment = np.full((n, length), -1, np.int32)
    segment[:, :context] = np.arange(context) // 2
    return _flat(n, length, inputs, targets, mask, role, segment)


def numpy_selective_copy(n, rng, vocab_size=16, seq_len=4096, num_tokens_to_copy=16):
    a, length, m = vocab_size, seq_len, num_tokens_to_copy
    region = length - m
    pos = np.sort(np.argpartition(rng.random((n, region)), m - 1, axis=1)[:, :m], axis=1)
    tokens = rng.integers(1, a - 1, (n, m), dtype=np.int32)
    rows = np.arange(n)[:, None]
    inputs = np.full((n, length), a, np.int32)
    inputs[rows, pos] = tokens
    inputs[:, region:] = a - 1
    targets = np.zeros((n, length), np.int32)
    targets[:, region:] = tokens
    mask = np.zeros((n, length), bool)
    mask[:, region:] = True
    role = np.zeros((n, length), np.int8)
    role[:, region:] = 2
    segment = np.full((n, length), -1, np.int32)
    segment[rows, pos] = np.arange(m)
    return _flat(n, length, inputs, targets, mask, role, segment)


def numpy_induction(n, rng, vocab_size=16, seq_len=256, num_triggers=1, induction_len=1):
    length, k = seq_len, induction_len
    body = rng.integers(2, vocab_size, (n, length), dtype=np.int32)
    single = rng.random(n) < 0.5
    pos = rng.integers(0, length - 1 - k, (n, num_triggers))
    pos[single, 1:] = np.iinfo(np.int64).max  # one trigger in half of the episodes
    pos = np.sort(pos, axis=1)
    keep = np.zeros((n, num_triggers), bool)
    keep[:, 0] = True
    last = pos[:, 0].copy()
    for j in range(1, num_triggers):  # safari's filter: drop a trigger within k of the last
        ok = (pos[:, j] < length) & (pos[:, j] - last > k)
        keep[:, j] = ok
        last = np.where(ok, pos[:, j], last)
    rows = np.arange(n)
    copied = body[rows[:, None], pos[:, :1] + 1 + np.arange(k)]
    for j in range(num_triggers):
        r = rows[keep[:, j]]
        p = pos[keep[:, j], j]
        body[r, p] = 1
        body[r[:, None], p[:, None] + 1 + np.arange(k)] = copied[keep[:, j]]
    inputs = np.concatenate([body, np.ones((n, 1), np.int32), copied[:, :-1]], axis=1)
    total = length + k
    targets = np.zeros((n, total), np.int32)
    targets[:, length:] = copied
    mask = np.zeros((n, total), bool)
    mask[:, length:] = True
    role = np.zeros((n, total), np.int8)
    role[:, length:] = 2
    segment = np.full((n, total), -1, np.int32)
    segment[:, :length] = np.arange(length)
    return _flat(n, total, inputs, targets, mask, role, segment)


def numpy_noisy_recall(n, rng, vocab_size=32, seq_len=128, noise_vocab_size=16, frac_noise=0.2):
    v, noise = vocab_size, noise_vocab_size
    plain = v - noise
    keys, slots = plain // 2, seq_len // 2
    p = slots - 1  # pair slots before the probe
    rows = np.arange(n)[:, None]
    sure = rng.integers(0, p, n)
    is_noise = rng.random((n, p)) < frac_noise
    is_noise[np.arange(n), sure] = False
    key = rng.integers(0, keys, (n, p))
    fresh_value = rng.integers(keys, plain, (n, p))
    noise_tok = rng.integers(plain, v, (n, p, 2)) if noise else np.zeros((n, p, 2), np.int64)
    slot = np.broadcast_to(np.arange(p), (n, p))
    first = np.full((n, keys), p)  # each key's first pair slot
    pair = ~is_noise
    np.minimum.at(first, (np.broadcast_to(rows, (n, p))[pair], key[pair]), slot[pair])
    first_of = first[rows, key]
    value = fresh_value[rows, np.minimum(first_of, p - 1)]
    seen = pair & (slot > first_of)
    shown = first < p
    pick = np.floor(rng.random(n) * shown.sum(axis=1)).astype(np.int64)
    probe = np.argmax(np.cumsum(shown, axis=1) > pick[:, None], axis=1)
    probe_value = fresh_value[np.arange(n), first[np.arange(n), probe]]
    total = seq_len - 1
    inputs = np.empty((n, total), np.int64)
    inputs[:, 0 : 2 * p : 2] = np.where(is_noise, noise_tok[:, :, 0], key)
    inputs[:, 1 : 2 * p : 2] = np.where(is_noise, noise_tok[:, :, 1], value)
    inputs[:, -1] = probe
    inputs[inputs == 0] = v  # MAD's 0 is our id V
    targets = np.zeros((n, total), np.int32)
    targets[:, 0 : 2 * p : 2] = np.where(seen, value, 0)
    targets[:, -1] = probe_value
    mask = targets > 0
    role = np.where(mask, 2, 0).astype(np.int8)
    segment = np.full((n, total), -1, np.int32)
    segment[:, 0 : 2 * p : 2] = np.where(pair & ~seen, slot, -1)
    segment[:, 1 : 2 * p : 2] = np.where(pair, slot, -1)
    return _flat(n, total, inputs.astype(np.int32), targets, mask, role, segment)


def numpy_fuzzy_recall(n, rng, vocab_size=16, seq_len=128, k_motif_size=3, v_motif_size=3,
                       noise_vocab_size=0, frac_noise=0.0, max_size_keys=False):  # fmt: skip
    """MAD's fuzzy recall over all episodes at once: one step (a pair, noise or the probe) of
    every episode per iteration, the episodes' key tables as arrays."""
    v, length, kmax, vmax = vocab_size, seq_len, k_motif_size, v_motif_size
    plain = v - 1 - noise_vocab_size
    keys, values, pad, base = plain // 2, plain - plain // 2, v - 1, v + 1
    idx = np.arange(n)
    powers = base ** np.arange(max(kmax, vmax), dtype=np.int64)

    def sizes(top, fixed=False):
        return np.full(n, top) if fixed else rng.integers(1, top + 1, n)

    def motifs(size, lo, count, width):
        t = rng.integers(0, count, (n, width))
        used = np.arange(width) < size[:, None]
        while True:
            same = (t[:, :, None] == t[:, None, :]) & used[:, :, None] & used[:, None, :]
            bad = same.sum(axis=(1, 2)) > size  # the diagonal counts size times
            if not bad.any():
                return t + lo, used
            t[bad] = rng.integers(0, count, (int(bad.sum()), width))

    def code(t, used):
        return ((t + 1) * powers[: t.shape[1]] * used).sum(axis=1)

    tok = np.full((n, length + 1), -1, np.int64)
    lab = np.full((n, length + 1), -1, np.int64)
    brole = np.zeros((n, length + 1), np.int8)
    seg = np.full((n, length + 1), -1, np.int32)

    def put(sel, at, t, used, labelled, role, item):
        for i in range(t.shape[1]):
            s = sel & used[:, i]
            tok[s, at[s] + i] = t[s, i]
            lab[s, at[s] + i] = np.where(labelled[s], t[s, i], -1)
            brole[s, at[s] + i] = role[s] if isinstance(role, np.ndarray) else role
            seg[s, at[s] + i] = item[s]

    kp, vp = sizes(kmax, max_size_keys), sizes(vmax)
    pk, pk_used = motifs(kp, 0, keys, kmax)
    pv, pv_used = motifs(vp, keys, values, vmax)
    probe_at = np.floor(rng.random(n) * (length - 2 * (kp + vp))).astype(np.int64)
    probe_code = code(pk, pk_used)
    cap = length // 2 + 2
    table_k = np.zeros((n, cap), np.int64)
    table_v = np.zeros((n, cap), np.int64)
    shown = np.zeros((n, cap), bool)
    count = np.ones(n, np.int64)
    table_k[:, 0], table_v[:, 0] = probe_code, code(pv, pv_used)
    bound = length - (kp + vp) - (kmax + vmax)
    cl = np.zeros(n, np.int64)
    item = np.zeros(n, np.int64)
    added = np.zeros(n, bool)
    never = np.zeros(n, bool)
    while True:
        active = cl < bound
        if not active.any():
            break
        ks, vs = sizes(kmax, max_size_keys), sizes(vmax)
        ins = active & ~added & ((cl >= probe_at) | (cl + ks + vs >= bound))
        put(ins, cl, pk, pk_used, never, 0, item)
        put(ins, cl + kp, pv, pv_used, never, 0, item)
        shown[ins, 0] = True
        cl[ins] += kp[ins] + vp[ins]
        item[ins] += 1
        added |= ins
        rest = active & ~ins
        if frac_noise > 0:
            nz = rest & (rng.random(n) < frac_noise)
            width = kmax + vmax
            t = rng.integers(plain, plain + noise_vocab_size, (n, width))
            put(nz, cl, t, np.arange(width) < (ks + vs)[:, None], never, 0, np.full(n, -1))
            cl[nz] += ks[nz] + vs[nz]
            rest &= ~nz
        kt, k_used = motifs(ks, 0, keys, kmax)
        kc = code(kt, k_used)
        match = (table_k == kc[:, None]) & (np.arange(cap) < count[:, None])
        found = match.any(axis=1)
        slot = np.argmax(match, axis=1)
        new = rest & ~found
        vt, v_used = motifs(vs, keys, values, vmax)
        slot[new] = count[new]
        table_k[new, count[new]] = kc[new]
        table_v[new, count[new]] = code(vt, v_used)[new]
        count[new] += 1
        again = rest & shown[idx, slot]
        added |= rest & (kc == probe_code)
        vcode = table_v[idx, slot]
        digits = (vcode[:, None] // powers[:vmax]) % base
        vt, v_used = digits - 1, digits > 0
        vsize = v_used.sum(axis=1)
        put(rest, cl, kt, k_used, never, np.where(again, 1, 0).astype(np.int8),
            np.where(again, -1, item))  # fmt: skip
        put(rest, cl + ks, vt, v_used, again, 0, item)
        shown[idx[rest], slot[rest]] = True
        cl[rest] += ks[rest] + vsize[rest]
        item[rest] += 1
    put(np.ones(n, bool), cl, pk, pk_used, never, 1, np.full(n, -1))
    put(np.ones(n, bool), cl + kp, pv, pv_used, np.ones(n, bool), 0, np.full(n, -1))
    cl += kp + vp
    left = length + 1 - cl  # left padding, then MAD's shift
    src = np.arange(length + 1)[None, :] - left[:, None]
    inside = src >= 0
    srcc = np.clip(src, 0, length)
    padded_tok = np.where(inside, tok[idx[:, None], srcc], pad)
    padded_lab = np.where(inside, lab[idx[:, None], srcc], -1)
    padded_role = np.where(inside, brole[idx[:, None], srcc], 0)
    padded_seg = np.where(inside, seg[idx[:, None], srcc], -1)
    inputs = padded_tok[:, :-1]
    inputs = np.where(inputs == 0, v, inputs).astype(np.int32)
    label = padded_lab[:, 1:]
    mask = label >= 0
    label = np.where(label == 0, v, label)
    targets = np.where(mask, label, 0).astype(np.int32)
    role = np.where(mask, 2, padded_role[:, :-1]).astype(np.int8)
    segment = np.where(role == 0, padded_seg[:, :-1], -1).astype(np.int32)
    return _flat(n, length, inputs, targets, mask, role, segment)


NUMPY = {
    "recall/mqar-v1": lambda n, rng: numpy_mqar(n, rng, **PAPER_MQAR),
    "recall/selective-copy-v1": numpy_selective_copy,
    "recall/induction-heads-v1": numpy_induction,
    "recall/noisy-recall-v1": numpy_noisy_recall,
    "recall/fuzzy-recall-v1": numpy_fuzzy_recall,
}
KNOBS = {"recall/mqar-v1": PAPER_MQAR}


def same_layout(task: str, arrays) -> None:
    """The NumPy arrays have our shapes, dtypes, scored rows and vocabulary (a check before
    timing: a faster generator of other arrays would prove nothing)."""
    ours = memtasks.generate(task, 64, seed=0, **KNOBS.get(task, {}))
    inputs, targets, mask, role, segment, offsets = arrays
    for name, theirs in (("inputs", inputs), ("targets", targets), ("mask", mask),
                         ("role", role), ("segment", segment)):  # fmt: skip
        mine = getattr(ours, name)
        if theirs.dtype != mine.dtype or theirs.ndim != mine.ndim:
            raise AssertionError(f"{task}: NumPy {name} {theirs.dtype} vs ours {mine.dtype}")
    lengths = np.diff(offsets)
    if (lengths != np.diff(ours.offsets)[0]).any():
        raise AssertionError(f"{task}: NumPy episodes of other lengths")
    if not (role[mask] == 2).all() or (role[~mask] == 2).any() or (targets[mask] <= 0).any():
        raise AssertionError(f"{task}: NumPy answer rows are not the scored rows")
    if inputs.min() < 1 or inputs.max() > ours.inputs.max() + 200:
        raise AssertionError(f"{task}: NumPy inputs outside the vocabulary")
    if abs(mask.mean() - ours.mask.mean()) > 0.25 * ours.mask.mean() + 0.01:
        raise AssertionError(f"{task}: NumPy scores {mask.mean():.3f} of positions, ours "
                             f"{ours.mask.mean():.3f}")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The authors' generators, as their data modules call them
# ---------------------------------------------------------------------------------------------
def authors(peer: Path) -> dict:
    """task -> (name, fn(n)) for the authors' generators found."""
    out = {}
    mad = load_mad(peer)
    if mad is not None:
        rng = np.random.default_rng(0)

        def mad_noisy(n):
            return [mad.generate_noisy_in_context_recall_instance(
                vocab_size=32, seq_len=128, noise_vocab_size=16, frac_noise=0.2,
                is_training=False, rng=rng, multi_query=True) for _ in range(n)]  # fmt: skip

        def mad_fuzzy(n):
            return [mad.generate_fuzzy_in_context_recall_instance(
                vocab_size=16, seq_len=128, k_motif_size=3, v_motif_size=3, is_training=True,
                rng=rng, multi_query=True) for _ in range(n)]  # fmt: skip

        out["recall/noisy-recall-v1"] = ("MAD (per instance)", mad_noisy)
        out["recall/fuzzy-recall-v1"] = ("MAD (per instance)", mad_fuzzy)
    safari = load_safari(peer)
    if safari is not None:
        vocab = safari.Vocab(16 - 2, special_vocabs={"copy_prefix": "=>", "noop": "."})
        tokenizer = safari.Tokenizer(vocab)

        safari_rng = np.random.default_rng(0)

        def safari_induction(n):
            make = safari.generate_induction_head
            return [tokenizer.tokenize(make(vocab, 256, "=>", 1, 1, safari_rng),
                                       return_tensor=True) for _ in range(n)]  # fmt: skip

        out["recall/induction-heads-v1"] = ("safari (per example)", safari_induction)
    s4 = load_s4(peer)
    if s4 is not None:

        def s4_copying(n):
            return s4.torch_copying_data(4096 - 32, 16, 16, variable=True, batch_shape=(n,))

        out["recall/selective-copy-v1"] = ("S4 (batched torch)", s4_copying)
    return out


# ---------------------------------------------------------------------------------------------
# Timing and memory
# ---------------------------------------------------------------------------------------------
def interleaved(works: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each work, the works run in turn ``repeats`` times (a machine that
    slows down slows all of them alike)."""
    times = {k: [] for k in works}
    for _ in range(repeats):
        for name, work in works.items():
            t0 = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(which: str, n: int, peer: Path) -> dict:
    """In a fresh process: the peak growth of the resident set while making ``n`` examples."""
    if which == "zoology":
        import torch

        torch.set_num_threads(1)
        fn = load_zoology(peer)

        def make(k):
            return fn(num_examples=k, seed=0, **PAPER_MQAR)
    else:

        def make(k):
            return memtasks.generate("recall/mqar-v1", k, seed=0, **PAPER_MQAR)

    make(16)  # imports and compiled code loaded before measuring
    before = _rss()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.001)

    watcher = threading.Thread(target=sample, daemon=True)
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    watcher.start()
    result = make(n)
    done.set()
    watcher.join()
    peak[0] = max(peak[0], _rss())
    max_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if max_after > max_before:  # the kernel's own high-water mark, if above the samples
        peak[0] = max(peak[0], max_after)
    del result
    return {"which": which, "n": n, "peak_growth_bytes": peak[0] - before,
            "bytes_per_example": (peak[0] - before) / n}  # fmt: skip


def memory(which: str, n: int, peer: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", which, str(n), "--peer", str(peer)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "MEMTASKS_QUIET": "1"},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_mqar(episodes: int, repeats: int, peer: Path, batches: list[int]) -> dict:
    spec = memtasks.get_spec("recall/mqar-v1")
    knobs = spec.make_knobs(**PAPER_MQAR)
    spec.generate(64, knobs=knobs)  # compiled (or loaded) first: timings are warm
    works = {"ours": lambda: spec.generate(episodes, seed=1, knobs=knobs)}
    zoology = load_zoology(peer)
    if zoology is not None:
        import torch

        torch.set_num_threads(1)
        works["zoology"] = lambda: zoology(num_examples=episodes, seed=1, **PAPER_MQAR)
        works["zoology"]()  # warm
    numpy_rng = np.random.default_rng(0)
    works["numpy"] = lambda: numpy_mqar(episodes, numpy_rng, **PAPER_MQAR)
    same_layout("recall/mqar-v1", numpy_mqar(64, np.random.default_rng(0), **PAPER_MQAR))
    seconds = interleaved(works, repeats)
    out = {"episodes": episodes, "seconds": seconds,
           "per_s": {k: episodes / v for k, v in seconds.items()}, "memory": []}  # fmt: skip
    for n in batches:
        out["memory"].append(memory("ours", n, peer))
        if zoology is not None:
            out["memory"].append(memory("zoology", n, peer))
    return out


def run_probes(episodes: int, repeats: int, peer: Path, author_episodes: int) -> list[dict]:
    found = authors(peer)
    rows = []
    for task, make in NUMPY.items():
        if task == "recall/mqar-v1":
            continue
        spec = memtasks.get_spec(task)
        spec.generate(64, seed=0)
        same_layout(task, make(64, np.random.default_rng(0)))
        n = max(1, episodes // 16) if task == "recall/selective-copy-v1" else episodes
        rng = np.random.default_rng(0)
        seconds = interleaved({"ours": lambda s=spec, k=n: s.generate(k, seed=1),
                               "numpy": lambda m=make, k=n, g=rng: m(k, g)}, repeats)  # fmt: skip
        row = {"task": task, "episodes": n, "ours_per_s": n / seconds["ours"],
               "numpy_per_s": n / seconds["numpy"],
               "numpy_ratio": seconds["numpy"] / seconds["ours"]}  # fmt: skip
        if task in found:
            name, fn = found[task]
            k = max(1, author_episodes // (16 if "copy" in task else 1))
            fn(min(k, 8))  # warm
            took = statistics.median(_timed(fn, k) for _ in range(max(1, repeats // 2)))
            row.update(author=name, author_episodes=k, author_per_s=k / took,
                       author_ratio=row["ours_per_s"] * took / k)  # fmt: skip
        rows.append(row)
    return rows


def _timed(fn, n) -> float:
    t0 = time.perf_counter()
    fn(n)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# The laws beside zoology's (and MAD's unanswerable final queries)
# ---------------------------------------------------------------------------------------------
def compare(peer: Path, n: int) -> dict:
    """Our MQAR beside zoology's at the paper configuration, ``n`` examples each."""
    zoology = load_zoology(peer)
    out = {"n": n}
    ours = memtasks.generate("recall/mqar-v1", n, seed=0, **PAPER_MQAR)
    x, y = to_zoology(ours, PAPER_MQAR["vocab_size"])
    sets = {"ours": (x, y)}
    if zoology is not None:
        data = zoology(num_examples=n, seed=0, **PAPER_MQAR)
        sets["zoology"] = (data.inputs.numpy(), data.labels.numpy())
    pairs, c = PAPER_MQAR["num_kv_pairs"], 2 * PAPER_MQAR["num_kv_pairs"]
    slots = (PAPER_MQAR["input_seq_len"] - c) // 2
    for name, (inputs, labels) in sets.items():
        keys, values = inputs[:, 0:c:2], inputs[:, 1:c:2]
        scored = labels != -100
        where = np.nonzero(scored)
        slot = (where[1] - c) // 2
        # the pair each query asks for: the position of its key in the context
        key_at = np.argmax(inputs[where[0], 0:c:2] == inputs[where][:, None], axis=1)
        mean_slot = np.bincount(key_at, weights=slot, minlength=pairs) / np.bincount(
            key_at, minlength=pairs)  # fmt: skip
        out[name] = {
            "slot_histogram": (np.bincount(slot, minlength=slots) / len(slot)).tolist(),
            "mean_slot_by_pair": mean_slot.tolist(),
            "key_range": [int(keys.min()), int(keys.max())],
            "value_range": [int(values.min()), int(values.max())],
            "distinct_keys_per_example": float(np.mean([len(set(r)) for r in keys[:2000]])),
            "labels_are_the_paired_values": bool((labels[where] == values[where[0], key_at]).all()),
            "queries_per_example": float(scored.sum(axis=1).mean()),
            "filler_zero_share": float((inputs[:, c:][~scored[:, c:]] == 0).mean()),
        }
    if "zoology" in out:
        # total variation distance of the slot histograms, beside that of two samples of ours
        # from two seeds (the noise of n examples from one law)
        again = memtasks.generate("recall/mqar-v1", n, seed=1, **PAPER_MQAR)
        slot2 = (np.nonzero(again.mask.reshape(n, -1))[1] - c) // 2
        h2 = np.bincount(slot2, minlength=slots) / len(slot2)
        a, b = np.array(out["ours"]["slot_histogram"]), np.array(out["zoology"]["slot_histogram"])
        out["slot_tv_ours_vs_zoology"] = float(0.5 * np.abs(a - b).sum())
        out["slot_tv_ours_vs_ours_other_seed"] = float(0.5 * np.abs(a - h2).sum())
    mad = load_mad(peer)
    if mad is not None:
        rng = np.random.default_rng(0)
        misses, trials = 0, 2000
        for _ in range(trials):
            x, t = mad.generate_fuzzy_in_context_recall_instance(
                vocab_size=16, seq_len=128, k_motif_size=3, v_motif_size=3, is_training=False,
                rng=rng, multi_query=True)  # fmt: skip
            misses += _final_key_unseen(x, 16)
        out["mad_fuzzy_final_query_never_seen"] = misses / trials
    return out


def _final_key_unseen(x: np.ndarray, vocab: int) -> bool:
    """Whether the final query of MAD's fuzzy recall (test instance) has a key that appears
    nowhere before it: key tokens 0 .. 6, value tokens 7 .. 14 at vocabulary 16."""
    keys = (vocab - 1) // 2
    kind = np.where(x < keys, 0, np.where(x < vocab - 1, 1, 2))
    runs, start = [], 0
    for i in range(1, len(x) + 1):
        if i == len(x) or kind[i] != kind[start]:
            runs.append((int(kind[start]), tuple(x[start:i].tolist())))
            start = i
    key_runs = [r for k, r in runs if k == 0]
    return key_runs[-1] not in key_runs[:-1]


# ---------------------------------------------------------------------------------------------
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20_000, help="MQAR and probe examples")
    parser.add_argument("--author-episodes", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", default="1000,10000", help="batch sizes of the memory rows")
    parser.add_argument("--peer", type=Path, default=DEFAULT_PEER)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--compare", action="store_true", help="only the laws beside zoology's")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--memory-child", nargs=2, metavar=("WHICH", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child[0], int(args.memory_child[1]),
                                      args.peer)))  # fmt: skip
        return
    numba.set_num_threads(1)
    if args.compare:
        result = compare(args.peer, 2000 if args.quick else args.episodes)
        print(json.dumps(result, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
        return
    episodes, repeats = (200, 1) if args.quick else (args.episodes, args.repeats)
    author_episodes = 20 if args.quick else args.author_episodes
    batches = [100, 400] if args.quick else [int(b) for b in args.batches.split(",")]
    mqar = run_mqar(episodes, repeats, args.peer, batches)
    probes = run_probes(episodes, repeats, args.peer, author_episodes)
    info = machine_info()
    print(f"{info['cpu']}, one thread (Numba, NumPy, torch); median of {repeats}, interleaved")
    per_s = mqar["per_s"]
    print(f"\nMQAR, zoology's figure 2 configuration (V 8192, L 256, 16 pairs), "
          f"{mqar['episodes']:,} examples per call:")  # fmt: skip
    for name in per_s:
        ratio = per_s["ours"] / per_s[name]
        print(f"  {name:8} {per_s[name]:12,.0f} examples/s  ours / this {ratio:7.1f}x")
    print("  peak memory growth per example (fresh process each):")
    for m in mqar["memory"]:
        print(f"    {m['which']:8} batch {m['n']:>7,}: {m['bytes_per_example'] / 1024:8.1f} KiB")
    head = f"{'task':28} {'ours ep/s':>11} {'NumPy ep/s':>11} {'NumPy/ours':>10}"
    print(f"\n{head}   authors' generator")
    for r in probes:
        extra = ""
        if "author" in r:
            extra = (
                f"   {r['author']}: {r['author_per_s']:,.0f} ep/s, ours {r['author_ratio']:,.0f}x"
            )
        print(f"{r['task']:28} {r['ours_per_s']:11,.0f} {r['numpy_per_s']:11,.0f} "
              f"{r['numpy_ratio']:9.1f}x{extra}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "mqar": mqar, "probes": probes},
                                              indent=2), encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
