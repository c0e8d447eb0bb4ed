"""The episode format: a batch of episodes as flat arrays with offsets (DESIGN.md section 2).

Episode ``b`` occupies positions ``offsets[b]:offsets[b + 1]`` of every per-position array:

=========== ============================================ =====================================
field       array                                        meaning
=========== ============================================ =====================================
inputs      ``int32[N]`` tokens or ``[N, D_in]`` vectors  what the model reads
targets     ``int32[N]`` or ``[N, D_out]``                what it should output at each position
mask        ``bool[N]``                                   positions that are scored
role        ``int8[N]``                                   0 context, 1 query, 2 answer, 3 control
segment     ``int32[N]``                                  context item of a position, -1 outside
support     ``int32[K]`` with ``support_offsets[B + 1]``  context items that support the answers
support_answer ``int32[K]``                              which answer span (0, 1, ... in episode
                                                         order) each support item belongs to
index       ``int64[B]``                                  the episode's index in its stream
meta        ``{name: [B] or [B, k] array}``               per-episode facts
=========== ============================================ =====================================

This is exactly Arrow's layout for list columns, so ``to_arrow`` hands the same value buffers to
Arrow without copying them (the only copies are the offsets, cast to int32, and the mask, which
Arrow stores as bits), and ``from_arrow`` reads them back without copying either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

ROLE_CONTEXT, ROLE_QUERY, ROLE_ANSWER, ROLE_CONTROL = 0, 1, 2, 3
ROLE_NAMES = {ROLE_CONTEXT: "context", ROLE_QUERY: "query", ROLE_ANSWER: "answer", 3: "control"}

# Columns in the order they are stored; meta comes last as one struct column.
POSITION_FIELDS = ("inputs", "targets", "mask", "role", "segment")
_FIXED_DTYPES = {"mask": np.bool_, "role": np.int8, "segment": np.int32}
_VALUE_DTYPES = (np.int32, np.uint8, np.float32)


def _offsets_from_lengths(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


@dataclass(eq=False, repr=False)
class EpisodeBatch:
    """A batch of episodes in CSR form. Construct it from arrays; it checks their shapes."""

    offsets: np.ndarray
    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    role: np.ndarray
    segment: np.ndarray
    support_offsets: np.ndarray
    support: np.ndarray
    index: np.ndarray
    support_answer: np.ndarray | None = None  # None: every support item belongs to answer 0
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    task: str = ""

    def __post_init__(self) -> None:
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        self.support_offsets = np.ascontiguousarray(self.support_offsets, dtype=np.int64)
        self.index = np.ascontiguousarray(self.index, dtype=np.int64)
        self.support = _exact("support", self.support, np.int32)
        if self.support_answer is None:
            self.support_answer = np.zeros(len(self.support), dtype=np.int32)
        self.support_answer = _exact("support_answer", self.support_answer, np.int32)
        for name, dtype in _FIXED_DTYPES.items():
            setattr(self, name, _exact(name, getattr(self, name), dtype))
        self.inputs = np.ascontiguousarray(self.inputs)
        self.targets = np.ascontiguousarray(self.targets)
        self.meta = {k: np.ascontiguousarray(v) for k, v in self.meta.items()}
        self._validate()

    def _validate(self) -> None:
        b = len(self.index)
        for name in ("offsets", "support_offsets"):
            off = getattr(self, name)
            if off.ndim != 1 or len(off) != b + 1 or off[0] != 0 or np.any(np.diff(off) < 0):
                raise ValueError(f"{name} must be non-decreasing int64[{b + 1}] starting at 0")
        n = int(self.offsets[-1])
        for name in POSITION_FIELDS:
            arr = getattr(self, name)
            if len(arr) != n:
                raise ValueError(f"{name} has {len(arr)} positions, offsets say {n}")
        for name in ("inputs", "targets"):
            arr = getattr(self, name)
            if arr.dtype.type not in _VALUE_DTYPES or arr.ndim not in (1, 2):
                raise ValueError(
                    f"{name} must be int32[N] tokens or [N, D] uint8/float32 vectors, "
                    f"got {arr.dtype}{list(arr.shape)}"
                )
        if len(self.support) != self.support_offsets[-1]:
            raise ValueError("support length does not match support_offsets")
        if len(self.support_answer) != len(self.support):
            raise ValueError("support_answer must have one entry per support item")
        for k, v in self.meta.items():
            if len(v) != b or v.ndim not in (1, 2):
                raise ValueError(f"meta[{k!r}] must have shape [{b}] or [{b}, k], got {v.shape}")

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def trusted(cls, **fields) -> EpisodeBatch:
        """Build without converting or checking: for arrays a generator kernel made, which are
        right by construction (the tests check every task's output with ``check()``).

        Checking costs more than generating a batch of 64 episodes, and a training loop makes
        thousands of those.
        """
        batch = object.__new__(cls)
        fields.setdefault("meta", {})
        fields.setdefault("task", "")
        if fields.get("support_answer") is None:
            fields["support_answer"] = np.zeros(len(fields["support"]), dtype=np.int32)
        batch.__dict__.update(fields)
        return batch

    @classmethod
    def from_kernel(
        cls,
        offsets: np.ndarray,
        arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        start: int,
        *,
        support: tuple[np.ndarray, np.ndarray] | None = None,
        support_answer: np.ndarray | None = None,
        meta: dict[str, np.ndarray] | None = None,
        task: str = "",
    ) -> EpisodeBatch:
        """The batch a generator made: episodes ``start, start + 1, ...`` of its stream.

        ``arrays`` are the per-position arrays in ``POSITION_FIELDS`` order (inputs, targets,
        mask, role, segment; as ``generators._kernels.allocate`` returns them), ``support`` the
        pair (support_offsets, support), None for a task without supporting facts. Unchecked,
        as ``trusted``: the one place every generator builds its batches, so that a new field
        of the format is added here once.
        """
        n = len(offsets) - 1
        if support is None:
            support = (np.zeros(n + 1, np.int64), np.zeros(0, np.int32))
        inputs, targets, mask, role, segment = arrays
        return cls.trusted(
            offsets=offsets,
            inputs=inputs,
            targets=targets,
            mask=mask,
            role=role,
            segment=segment,
            support_offsets=support[0],
            support=support[1],
            support_answer=support_answer,
            index=np.arange(start, start + n, dtype=np.int64),
            meta={} if meta is None else meta,
            task=task,
        )

    def check(self) -> EpisodeBatch:
        """Raise ``ValueError`` if the arrays are inconsistent; return the batch."""
        self._validate()
        return self

    @classmethod
    def from_lengths(
        cls,
        lengths: np.ndarray,
        inputs: np.ndarray,
        targets: np.ndarray,
        mask: np.ndarray,
        role: np.ndarray,
        segment: np.ndarray,
        index: np.ndarray,
        meta: dict[str, np.ndarray] | None = None,
        support_lengths: np.ndarray | None = None,
        support: np.ndarray | None = None,
        support_answer: np.ndarray | None = None,
        task: str = "",
    ) -> EpisodeBatch:
        """Build from per-episode lengths instead of offsets."""
        b = len(lengths)
        if support_lengths is None:
            support_lengths = np.zeros(b, dtype=np.int64)
            support = np.zeros(0, dtype=np.int32)
        return cls(
            offsets=_offsets_from_lengths(np.asarray(lengths)),
            inputs=inputs,
            targets=targets,
            mask=mask,
            role=role,
            segment=segment,
            support_offsets=_offsets_from_lengths(np.asarray(support_lengths)),
            support=support,
            index=index,
            support_answer=support_answer,
            meta=meta or {},
            task=task,
        )

    # -- size ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    @property
    def lengths(self) -> np.ndarray:
        """Positions per episode, ``int64[B]``."""
        return np.diff(self.offsets)

    @property
    def num_positions(self) -> int:
        return int(self.offsets[-1])

    @property
    def is_vector(self) -> bool:
        """True when inputs are fixed-width vectors (NTM tasks), False for token ids."""
        return self.inputs.ndim == 2

    @property
    def nbytes(self) -> int:
        """Bytes held in all arrays (what a plain memory copy of the batch would move)."""
        arrays = [getattr(self, f) for f in POSITION_FIELDS]
        arrays += [self.offsets, self.support_offsets, self.support, self.support_answer]
        arrays.append(self.index)
        arrays += list(self.meta.values())
        return sum(a.nbytes for a in arrays)

    # -- selection -------------------------------------------------------------------------------
    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray) -> EpisodeBatch:
        """``batch[i]``, ``batch[a:b]`` (values are views, no copy), ``batch[[i, j, ...]]`` or
        ``batch[boolean mask over episodes]`` (copies)."""
        b = len(self)
        if isinstance(key, (int, np.integer)):
            i = int(key) + b if key < 0 else int(key)
            if not 0 <= i < b:
                raise IndexError(f"episode {key} out of range for a batch of {b}")
            return self[i : i + 1]
        if isinstance(key, slice):
            start, stop, step = key.indices(b)
            if step == 1:
                return self._contiguous(start, max(start, stop))
            key = np.arange(start, stop, step)
        key = np.asarray(key)
        if key.size and key.dtype.kind not in "iub":
            raise IndexError(f"episodes are selected by integers or booleans, not {key.dtype}")
        if key.dtype == np.bool_:  # a mask over episodes, as in NumPy (not indices 0 and 1)
            if key.shape != (b,):
                raise IndexError(f"a boolean mask over {b} episodes has shape {key.shape}")
            key = np.flatnonzero(key)
        return self.take(key.astype(np.int64))

    def _contiguous(self, start: int, stop: int) -> EpisodeBatch:
        lo, hi = self.offsets[start], self.offsets[stop]
        slo, shi = self.support_offsets[start], self.support_offsets[stop]
        return EpisodeBatch(
            offsets=self.offsets[start : stop + 1] - lo,
            **{f: getattr(self, f)[lo:hi] for f in POSITION_FIELDS},
            support_offsets=self.support_offsets[start : stop + 1] - slo,
            support=self.support[slo:shi],
            support_answer=self.support_answer[slo:shi],
            index=self.index[start:stop],
            meta={k: v[start:stop] for k, v in self.meta.items()},
            task=self.task,
        )

    def take(self, rows: np.ndarray) -> EpisodeBatch:
        """The episodes at ``rows`` (any order, repeats allowed), copied into a new batch."""
        b = len(self)
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < -b or rows.max() >= b):
            raise IndexError(f"episode indices out of range for a batch of {b}")
        rows = np.where(rows < 0, rows + b, rows)
        pos = _gather_ranges(self.offsets, rows)
        spos = _gather_ranges(self.support_offsets, rows)
        return EpisodeBatch(
            offsets=_offsets_from_lengths(self.lengths[rows]),
            **{f: getattr(self, f)[pos] for f in POSITION_FIELDS},
            support_offsets=_offsets_from_lengths(np.diff(self.support_offsets)[rows]),
            support=self.support[spos],
            support_answer=self.support_answer[spos],
            index=self.index[rows],
            meta={k: v[rows] for k, v in self.meta.items()},
            task=self.task,
        )

    def episode(self, i: int) -> dict[str, np.ndarray]:
        """One episode as a dict of views: per-position fields, ``support``, ``index``, meta."""
        one = self[i]
        out = {f: getattr(one, f) for f in POSITION_FIELDS}
        out["support"] = one.support
        out["support_answer"] = one.support_answer
        out["index"] = int(one.index[0])
        out["meta"] = {k: v[0] for k, v in one.meta.items()}
        return out

    def __iter__(self):
        for i in range(len(self)):
            yield self.episode(i)

    @staticmethod
    def concat(batches: Iterable[EpisodeBatch]) -> EpisodeBatch:
        """Episodes of several batches, in order, in one new batch."""
        batches = list(batches)
        if not batches:
            raise ValueError("concat needs at least one batch")
        first = batches[0]
        for other in batches[1:]:
            if other.meta.keys() != first.meta.keys():
                raise ValueError("cannot concatenate batches with different meta fields")
            for f in ("inputs", "targets"):
                a, b = getattr(first, f), getattr(other, f)
                if a.dtype != b.dtype or a.shape[1:] != b.shape[1:]:
                    raise ValueError(
                        f"cannot concatenate {f} {a.dtype}{a.shape[1:]} and {b.dtype}{b.shape[1:]}"
                    )
        return EpisodeBatch(
            offsets=_offsets_from_lengths(np.concatenate([b.lengths for b in batches])),
            **{f: np.concatenate([getattr(b, f) for b in batches]) for f in POSITION_FIELDS},
            support_offsets=_offsets_from_lengths(
                np.concatenate([np.diff(b.support_offsets) for b in batches])
            ),
            support=np.concatenate([b.support for b in batches]),
            support_answer=np.concatenate([b.support_answer for b in batches]),
            index=np.concatenate([b.index for b in batches]),
            meta={k: np.concatenate([b.meta[k] for b in batches]) for k in first.meta},
            task=first.task,
        )

    # -- comparison and hashing -----------------------------------------------------------------
    def equals(self, other: EpisodeBatch) -> bool:
        """Same episodes, same indices, same values and dtypes (the task name is not compared)."""
        if not isinstance(other, EpisodeBatch) or self.meta.keys() != other.meta.keys():
            return False
        names = [*POSITION_FIELDS, "offsets", "support_offsets", "support", "support_answer"]
        names.append("index")
        pairs = [(getattr(self, f), getattr(other, f)) for f in names]
        pairs += [(self.meta[k], other.meta[k]) for k in self.meta]
        return all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in pairs)

    def episode_hashes(self) -> np.ndarray:
        """A 64-bit hash of each episode's content (not its index): ``uint64[B]``."""
        from .hashing import episode_hashes

        return episode_hashes(self)

    def content_hash(self) -> str:
        """Hex digest of the episodes, their indices and their order; independent of batching."""
        from .hashing import content_hash

        return content_hash(self)

    # -- Arrow and Hugging Face ------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """An Arrow table, one row per episode, sharing the value buffers of this batch."""
        from .arrow import batch_to_arrow

        return batch_to_arrow(self)

    @classmethod
    def from_arrow(cls, table: pa.Table | pa.RecordBatch, task: str = "") -> EpisodeBatch:
        """The inverse of ``to_arrow``; zero-copy where the table has a single chunk."""
        from .arrow import arrow_to_batch

        return arrow_to_batch(table, task=task)

    def to_hf(self, **kwargs):
        """A ``datasets.Dataset`` over the Arrow table (no copy of the value buffers)."""
        import datasets

        return datasets.Dataset(self.to_arrow(), **kwargs)

    # -- printing ---------------------------------------------------------------------------
    def __repr__(self) -> str:
        def shape(a: np.ndarray) -> str:
            tail = "" if a.ndim == 1 else f", {a.shape[1]}"
            return f"{a.dtype}[N{tail}]"

        lens = self.lengths
        span = f"{lens.min()}..{lens.max()}" if len(lens) else "-"
        meta = ", ".join(self.meta) or "-"
        return (
            f"EpisodeBatch(task={self.task or '?'!s}, episodes={len(self)}, "
            f"positions={self.num_positions} (per episode {span}), "
            f"inputs={shape(self.inputs)}, targets={shape(self.targets)}, "
            f"scored={int(self.mask.sum())}, support={len(self.support)}, meta=[{meta}])"
        )

    def pretty(self, limit: int = 3, layout=None) -> str:
        """Readable text of the first ``limit`` episodes (bit grids for vector tasks).

        ``layout`` (``spec.layout(knobs)``) names the channels; by default the task's layout
        for its default knobs is used when its widths match the batch.
        """
        from .show import render_batch

        return render_batch(self, limit=limit, layout=layout)


def _exact(name: str, values, dtype) -> np.ndarray:
    """``values`` as a contiguous array of ``dtype``, refusing casts that change a value (a
    role of 300 must not wrap to 44)."""
    arr = np.asarray(values)
    if arr.dtype == dtype:
        return np.ascontiguousarray(arr)
    out = np.ascontiguousarray(arr, dtype=dtype)
    if arr.size and not np.array_equal(out, arr):
        raise ValueError(f"{name} has values that do not fit {np.dtype(dtype).name}")
    return out


def _gather_ranges(offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Flat positions of the episodes ``rows``, in that order (vectorised, no Python loop)."""
    starts = offsets[rows]
    lens = offsets[rows + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    # position p of output episode r is starts[r] + (p - out_start[r])
    out_start = np.zeros(len(rows), dtype=np.int64)
    np.cumsum(lens[:-1], out=out_start[1:])
    base = np.repeat(starts - out_start, lens)
    return base + np.arange(total, dtype=np.int64)
