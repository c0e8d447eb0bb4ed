"""Views of an ``EpisodeBatch`` in the shapes that models read (DESIGN.md section 2).

Two views, both NumPy only (``memtasks.torch`` wraps them as tensors):

``padded(batch)``
    Batch-first arrays ``[B, T, ...]`` padded to the longest episode: what sequence models
    (RNN, LSTM, NTM, DNC, Transformer...) read. Every vector task needs nothing more.

``qa(batch)``
    Token tasks as question-answering samples, one per answer span: the sentences of the story
    before the question, the question, the answer and its supporting sentences. This is what
    memory networks (MemNN, MemN2N, DMN, KV-MemNN...) read. An episode with five questions gives
    five samples.

Both are vectorised over episodes: they work on the flat CSR arrays with index arithmetic (which
position belongs to which episode, at which step), never with a Python loop over episodes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numba import njit

from .episode import POSITION_FIELDS, ROLE_ANSWER, ROLE_CONTEXT, ROLE_QUERY, EpisodeBatch

PADDED_FIELDS = ("inputs", "targets", "mask", "role", "segment", "lengths", "index")


def position_coordinates(batch: EpisodeBatch) -> tuple[np.ndarray, np.ndarray]:
    """For every flat position, its episode row and its step within the episode.

    Returns ``(episode, step)``, both ``int64[N]``: position ``p`` is step ``step[p]`` of episode
    ``episode[p]``, so ``padded[episode[p], step[p]] == flat[p]``.
    """
    lengths = batch.lengths
    episode = np.repeat(np.arange(len(batch), dtype=np.int64), lengths)
    step = np.arange(batch.num_positions, dtype=np.int64) - batch.offsets[episode]
    return episode, step


def padded(
    batch: EpisodeBatch,
    pad_input: int | float = 0,
    pad_target: int | float = 0,
    *,
    max_length: int | None = None,
    dtypes: Mapping[str, np.dtype | type] | None = None,
) -> dict[str, np.ndarray]:
    """The batch as batch-first padded arrays, ``T`` = the longest episode (or ``max_length``).

    ================ =========================================== ===============
    key              array                                       padding value
    ================ =========================================== ===============
    ``inputs``       ``[B, T, D_in]`` vectors or ``[B, T]`` tokens ``pad_input``
    ``targets``      ``[B, T, D_out]`` or ``[B, T]``              ``pad_target``
    ``mask``         ``bool[B, T]``                              False
    ``role``         ``int8[B, T]``                              -1
    ``segment``      ``int32[B, T]``                             -1
    ``lengths``      ``int64[B]``                                (episode lengths)
    ``index``        ``int64[B]``                                (episode indices)
    ================ =========================================== ===============

    ``inputs`` and ``targets`` keep the batch's dtype unless ``dtypes`` names another for a key
    (e.g. ``{"inputs": np.float32, "segment": np.int64}``); the cast happens while padding, so
    it costs no extra copy. ``max_length`` pads every batch to the same ``T`` (for compiled
    models or fixed-shape buffers) and refuses an episode longer than that. The arrays are new;
    they never share memory with the batch (whose arrays may be read-only Arrow buffers).
    """
    dtypes = dict(dtypes or {})
    unknown = set(dtypes) - set(PADDED_FIELDS)
    if unknown:
        raise ValueError(f"dtypes names unknown fields {sorted(unknown)}; fields: {PADDED_FIELDS}")
    b = len(batch)
    lengths = batch.lengths
    longest = int(lengths.max()) if b else 0
    if max_length is None:
        t = longest
    else:
        if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)):
            raise ValueError(f"max_length must be a non-negative integer, got {max_length!r}")
        t = int(max_length)
        if t < 0:
            raise ValueError(f"max_length must be a non-negative integer, got {max_length!r}")
        if longest > t:
            row = int(np.argmax(lengths))
            raise ValueError(
                f"episode {int(batch.index[row])} (row {row}) has {longest} positions, more than "
                f"max_length={t}"
            )

    def pad(name: str, values: np.ndarray, fill, default_dtype) -> np.ndarray:
        dtype = np.dtype(dtypes.get(name, default_dtype))
        width = values.shape[1] if values.ndim == 2 else 1
        out = np.empty((b, t, width), dtype=dtype)
        steps = np.full(1, t, np.int64)
        _pad_batches(batch.offsets, max(b, 1), steps, _rows(values), out.reshape(-1),
                     dtype.type(fill))  # fmt: skip
        return out if values.ndim == 2 else out.reshape(b, t)

    out = {
        "inputs": pad("inputs", batch.inputs, pad_input, batch.inputs.dtype),
        "targets": pad("targets", batch.targets, pad_target, batch.targets.dtype),
        "mask": pad("mask", batch.mask, False, np.bool_),
        "role": pad("role", batch.role, -1, np.int8),
        "segment": pad("segment", batch.segment, -1, np.int32),
        "lengths": lengths.astype(dtypes.get("lengths", np.int64), copy=True),
        "index": batch.index.astype(dtypes.get("index", np.int64), copy=True),
    }
    return out


def _rows(values: np.ndarray) -> np.ndarray:
    """Per-position values as ``[N, width]`` (a view; tokens are one column wide)."""
    return values if values.ndim == 2 else values.reshape(len(values), 1)


@njit(cache=True, nogil=True)
def _pad_batches(offsets, batch_size, steps, values, out, fill):
    """Pad the episodes of ``values`` (``[N, W]`` rows, episode e at ``offsets[e]:offsets[e+1]``)
    into the flat ``out``: consecutive batches of ``batch_size`` episodes, batch g padded to
    ``steps[g]`` rows per episode, the batches back to back (``[B, steps[g], W]`` each).
    Every element of ``out`` that a batch covers is written once; the cast (uint8 to float32,
    int32 to int64) happens on the way.

    The indices are unsigned: with signed ones Numba checks every index for wrapping around
    from the end, which keeps LLVM from vectorising the copy (8x slower, measured), and a slice
    assignment per episode (the previous form) costs 40 ns of set-up per slice, more than the
    copy of a short episode.
    """
    width = np.uint64(values.shape[1])
    flat = values.reshape(-1)
    one = np.uint64(1)
    dst = np.uint64(0)
    for e in range(len(offsets) - 1):
        row_end = np.uint64(steps[e // batch_size]) * width
        src = np.uint64(offsets[e]) * width
        size = np.uint64(offsets[e + 1] - offsets[e]) * width
        j = np.uint64(0)
        while j < size:
            out[dst + j] = flat[src + j]
            j += one
        while j < row_end:
            out[dst + j] = fill
            j += one
        dst += row_end


# ---------------------------------------------------------------------------------------------
# Padded batches made in bulk: what memtasks.torch.EpisodeStream hands to training
# ---------------------------------------------------------------------------------------------
# Collate's dtypes: vectors as float32 (what a model computes with), token ids as int64 (what
# embedding layers index with), segment ids as int64; padding as in ``padded``.
PADDED_DTYPES = {"mask": np.bool_, "role": np.int8, "segment": np.int64}
PADDING = {"inputs": 0, "targets": 0, "mask": False, "role": -1, "segment": -1}
_ALIGN = 64  # each field's region starts on a cache line


def value_dtype(vector: bool) -> np.dtype:
    """The dtype of padded ``inputs`` and ``targets``: float32 for vectors, int64 for tokens."""
    return np.dtype(np.float32 if vector else np.int64)


@dataclass(eq=False)
class PaddedBatches:
    """Consecutive batches of ``batch_size`` episodes, each padded to its own longest episode,
    in flat arrays (one region per batch, the batches back to back).

    Made in one pass by ``pad_batches`` (any task) or by a task's own padded generator
    (``padded_generator``), into memory from ``allocate`` (a buffer pool, pinned memory).
    ``arrays(g)`` gives batch g in the layout of ``padded`` with collate's dtypes, as views.

    ====================== ======================================================================
    field                  meaning
    ====================== ======================================================================
    steps                  ``int64[G]``: T of batch g (its longest episode)
    starts                 ``int64[G + 1]``: the row where batch g begins (``B * T`` rows each)
    fields                 ``{name: flat array}`` of inputs, targets, mask, role, segment
    widths                 ``{name: W or None}``: row width (None: one value per position)
    lengths, index         ``int64[n]``: every episode's length and stream index
    meta                   ``{name: [n] or [n, k] array}``
    ====================== ======================================================================
    """

    batch_size: int
    steps: np.ndarray
    starts: np.ndarray
    fields: dict[str, np.ndarray]
    widths: dict[str, int | None]
    lengths: np.ndarray
    index: np.ndarray
    meta: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        # what arrays(g) reads, as plain Python values: a training loop asks for thousands of
        # batches, and NumPy scalars and dict lookups cost as much as the views themselves
        self._steps, self._starts = self.steps.tolist(), self.starts.tolist()
        self._columns = [(k, v, self.widths[k] or 1, bool(self.widths[k]))
                         for k, v in self.fields.items()]  # fmt: skip

    def __len__(self) -> int:
        return len(self._steps)

    def span(self, g: int) -> tuple[int, int]:
        """(first, stop): the episodes of batch ``g`` in ``lengths``, ``index`` and ``meta``."""
        first = g * self.batch_size
        return first, min(first + self.batch_size, len(self.index))

    def arrays(self, g: int) -> dict[str, np.ndarray]:
        """Batch ``g`` as ``padded`` gives it (views of the flat arrays, no copy)."""
        first, stop = self.span(g)
        b, t, lo, hi = stop - first, self._steps[g], self._starts[g], self._starts[g + 1]
        out = {
            name: flat[lo * width : hi * width].reshape((b, t, width) if vector else (b, t))
            for name, flat, width, vector in self._columns
        }
        out["lengths"] = self.lengths[first:stop]
        out["index"] = self.index[first:stop]
        return out

    def meta_of(self, g: int) -> dict[str, np.ndarray]:
        """Batch ``g``'s meta fields (views)."""
        first, stop = self.span(g)
        return {k: v[first:stop] for k, v in self.meta.items()}


def padded_outputs(
    starts: np.ndarray, widths: dict[str, int | None], values: np.dtype, allocate=None
) -> dict[str, np.ndarray]:
    """The flat field arrays of padded batches of ``starts[-1]`` rows in all, with the padded
    dtypes (``values`` for inputs and targets), carved from one buffer of ``allocate(nbytes)``
    (uint8; default ``np.empty``): a buffer pool hands out one block per chunk of batches, and
    pinned memory is one allocation."""
    rows = int(starts[-1])
    layout, nbytes = [], 0
    for name, itemsize, dtype, width in _field_layout(tuple(widths.items()), np.dtype(values)):
        count = rows * width
        layout.append((name, dtype, count, nbytes))
        nbytes += -(-count * itemsize // _ALIGN) * _ALIGN
    buffer = (allocate or _empty)(nbytes)
    return {name: np.ndarray(count, dtype, buffer, at) for name, dtype, count, at in layout}


@functools.lru_cache(maxsize=64)
def _field_layout(widths: tuple, values: np.dtype) -> list[tuple[str, int, np.dtype, int]]:
    """(name, itemsize, dtype, row width) of each padded field, in ``POSITION_FIELDS`` order."""
    dtypes = {"inputs": values, "targets": values, **PADDED_DTYPES}
    widths = dict(widths)
    return [
        (name, np.dtype(dtypes[name]).itemsize, np.dtype(dtypes[name]), widths[name] or 1)
        for name in POSITION_FIELDS
    ]


@njit(cache=True, nogil=True)
def _plan_batches(offsets, batch_size, steps, starts, lengths):
    """``steps[g]``: the longest episode of batch g; ``starts[g]``: its first row
    (``batch_size * steps[g]`` rows each, a last shorter batch fewer); ``lengths[e]``."""
    n = len(offsets) - 1
    starts[0] = 0
    for g in range(len(steps)):
        first, stop = g * batch_size, min((g + 1) * batch_size, n)
        longest = 0
        for e in range(first, stop):
            lengths[e] = offsets[e + 1] - offsets[e]
            longest = max(longest, lengths[e])
        steps[g] = longest
        starts[g + 1] = starts[g] + (stop - first) * longest


def _empty(nbytes: int) -> np.ndarray:
    return np.empty(nbytes, np.uint8)


def pad_batches(batch: EpisodeBatch, batch_size: int, allocate=None) -> PaddedBatches:
    """The episodes of ``batch`` as consecutive padded batches of ``batch_size`` (the last may
    be shorter), with collate's dtypes: one pass of one compiled loop per field over the whole
    chunk, so the fixed cost of a call is paid once per chunk, not per batch and field."""
    n = len(batch)
    groups = -(-n // batch_size)
    steps, starts = np.empty(groups, np.int64), np.empty(groups + 1, np.int64)
    lengths = np.empty(n, np.int64)
    _plan_batches(batch.offsets, batch_size, steps, starts, lengths)
    columns = [(name, _rows(getattr(batch, name))) for name in POSITION_FIELDS]
    widths = {name: rows.shape[1] if getattr(batch, name).ndim == 2 else None
              for name, rows in columns}  # fmt: skip
    fields = padded_outputs(starts, widths, value_dtype(batch.is_vector), allocate)
    for name, rows in columns:
        out = fields[name]
        _pad_batches(batch.offsets, batch_size, steps, rows, out, out.dtype.type(PADDING[name]))
    # the index copied, as by ``padded``: the batch's may be read-only Arrow memory
    return PaddedBatches(batch_size, steps, starts, fields, widths, lengths, batch.index.copy(),
                         dict(batch.meta))  # fmt: skip


def padded_batches(
    spec, knobs, key, start: int, n: int, batch_size: int, allocate=None
) -> PaddedBatches:
    """Episodes ``start .. start + n - 1`` of a task's stream ``key`` as padded batches of
    ``batch_size``: generated straight into the padded layout by the task's own padded
    generator where it has one, else generated and padded in one pass per field
    (``pad_batches``). The same values either way (tests/test_torch.py).

    A task's padded generator is an attribute of its generator function (so that a family
    adds one without importing this module): ``generator.padded(knobs, key, start, n,
    batch_size, outputs) -> meta`` makes the episodes ``generator(knobs, key, start, n)``
    makes: it draws the lengths, asks ``outputs(steps, starts, lengths, widths, vector)`` for
    the flat field arrays (``steps``: each batch's longest episode; ``starts``: each batch's
    first row, then the rows in all; ``lengths``: every episode's; ``widths``: each field's row
    width, None for one value per position; ``vector``: float32 values, else int64), writes
    every element of them (padding with ``PADDING``), and returns the meta fields.
    ``generators._kernels.padded_arrays`` does all but the writing for a task whose fill
    kernel writes each episode from its offset on.
    """
    fast = getattr(spec.generator, "padded", None)
    if fast is None:
        return pad_batches(spec.generator(knobs, key, start, n), batch_size, allocate)
    made: dict = {}

    def outputs(steps, starts, lengths, widths, vector):
        fields = padded_outputs(starts, widths, value_dtype(vector), allocate)
        made.update(steps=steps, starts=starts, lengths=lengths, widths=widths, fields=fields)
        return fields

    meta = fast(knobs, key, start, n, batch_size, outputs)
    return PaddedBatches(
        batch_size, made["steps"], made["starts"], made["fields"], made["widths"],
        made["lengths"], np.arange(start, start + n, dtype=np.int64), meta,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The question-answering view
# ---------------------------------------------------------------------------------------------
@dataclass(eq=False)
class QABatch:
    """Question-answering samples of a token batch: one per answer span (see ``qa``).

    ``S`` samples; token arrays are zero-padded (token id 0 is padding in every vocabulary),
    index arrays are padded with -1.

    =================== ===================================== =====================================
    field               array                                 meaning
    =================== ===================================== =====================================
    sentences           ``int32[S, n_sentences, sentence_len]`` the story before the question, one
                                                              row per context item (``segment``)
    sentence_counts     ``int64[S]``                          rows of ``sentences`` in use
    sentence_segment    ``int32[S, n_sentences]``             the ``segment`` id of each row, -1
    query               ``int32[S, query_len]``               the question's tokens
    answer              ``int32[S, answer_len]``              targets at the answer's scored steps
    answer_positions    ``int64[S, answer_len]``              where those steps are in the batch's
                                                              flat layout (-1 padding): how a
                                                              model's answers go back to the
                                                              positions the metric scores
    support             ``int32[S, max_support]``             supporting items (segment ids), -1
    support_rows        ``int64[S, max_support]``             the rows of ``sentences`` holding
                                                              them; -1 for padding or a support
                                                              item not among the rows
    episode             ``int64[S]``                          row of the episode in the batch
    index               ``int64[S]``                          the episode's index in its stream
    answer_ordinal      ``int64[S]``                          which answer span of the episode
                                                              (0, 1, ...; ``support_answer``)
    =================== ===================================== =====================================
    """

    sentences: np.ndarray
    sentence_counts: np.ndarray
    sentence_segment: np.ndarray
    query: np.ndarray
    answer: np.ndarray
    answer_positions: np.ndarray
    support: np.ndarray
    support_rows: np.ndarray
    episode: np.ndarray
    index: np.ndarray
    answer_ordinal: np.ndarray

    def __len__(self) -> int:
        return len(self.episode)

    def arrays(self) -> dict[str, np.ndarray]:
        """All fields as a dict (for converting to tensors or saving)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def __repr__(self) -> str:
        s, n, w = self.sentences.shape
        return (
            f"QABatch(samples={s}, sentences=[{s}, {n}, {w}], query={list(self.query.shape)}, "
            f"answer={list(self.answer.shape)}, support={list(self.support.shape)})"
        )


def qa(batch: EpisodeBatch, *, max_sentences: int | None = None) -> QABatch:
    """Split a token batch into question-answering samples, one per answer span.

    An answer span is a maximal run of ``role == 2`` positions in an episode; spans are numbered
    0, 1, ... in episode order (the ``answer_ordinal``, which ``support_answer`` refers to).
    For each span:

    - ``query``: the ``inputs`` of the last maximal run of ``role == 1`` positions before the
      span and after the episode's previous span (positions of other roles between the two,
      e.g. a separator, are allowed); a span with no such question asks it at its own
      positions, and its own ``inputs`` are the query (a recall probe scores the value at the
      position that reads the key: MQAR, induction heads);
    - ``sentences``: the ``inputs`` of the context positions (``role == 0`` with
      ``segment >= 0``) before that query, grouped by ``segment``: one row per context item,
      rows in the order the items first appear, tokens in position order. Earlier questions and
      answers of the same story are not sentences. With ``max_sentences``, only the last
      ``max_sentences`` items are kept (End-To-End Memory Networks keep the 50 most recent);
    - ``answer``: the ``targets`` at the span's scored (``mask``) positions;
    - ``support``: the episode's support items whose ``support_answer`` is this span's ordinal,
      and ``support_rows``, where they are in ``sentences``. When an episode numbers its
      items 0, 1, 2, ... in order (as bAbI does), row ``r`` of ``sentences`` is item ``r``
      and ``support_rows == support``.

    Vector batches (NTM tasks) have no sentences or questions to speak of: use ``padded``.
    """
    if batch.is_vector or batch.targets.ndim != 1:
        raise ValueError(
            f"qa needs a token task (int32[N] inputs and targets); {batch.task or 'this batch'} "
            f"holds vectors {batch.inputs.dtype}[N, {batch.inputs.shape[-1]}]: use padded(batch)"
        )
    if max_sentences is not None and (
        isinstance(max_sentences, bool)
        or not isinstance(max_sentences, (int, np.integer))
        or max_sentences < 1
    ):
        raise ValueError(f"max_sentences must be a positive integer, got {max_sentences!r}")

    n_episodes = len(batch)
    offsets = batch.offsets
    episode_of, _ = position_coordinates(batch)
    episode_start = _episode_starts(batch)

    # -- answer spans and their questions --------------------------------------------------------
    answer_start, answer_end = _runs(batch.role == ROLE_ANSWER, episode_start)
    n_samples = len(answer_start)
    sample_episode = episode_of[answer_start]
    spans_per_episode = np.bincount(sample_episode, minlength=n_episodes)
    first_sample = _offsets(spans_per_episode)
    ordinal = np.arange(n_samples, dtype=np.int64) - first_sample[sample_episode]

    query_start, query_end = _runs(batch.role == ROLE_QUERY, episode_start)
    # the last question run that ends before the answer starts, if it is in the same episode
    # and after the episode's previous answer (else the span reads its own question)
    which = np.searchsorted(query_end, answer_start, side="right") - 1
    if not len(query_end):  # no question anywhere: every span reads its own
        query_start = query_end = np.zeros(1, dtype=answer_start.dtype)
    found = which >= 0
    found[found] = episode_of[query_end[which[found]] - 1] == sample_episode[found]
    after_previous = np.ones(n_samples, dtype=bool)
    same = ordinal[1:] > 0  # the previous span is in the same episode
    after_previous[1:][same] = query_end[np.maximum(which[1:][same], 0)] > answer_end[:-1][same]
    found &= after_previous
    q_start = np.where(found, query_start[np.maximum(which, 0)], answer_start)
    q_end = np.where(found, query_end[np.maximum(which, 0)], answer_end)
    query = _pad_ranges(batch.inputs, q_start, q_end - q_start, fill=0)

    scored = np.flatnonzero((batch.role == ROLE_ANSWER) & batch.mask)
    scored_sample = np.searchsorted(answer_start, scored, side="right") - 1
    answer = _pad_groups(batch.targets[scored], scored_sample, n_samples, fill=0)
    answer_positions = _pad_groups(scored, scored_sample, n_samples, fill=-1)

    # -- sentences ------------------------------------------------------------------------------
    context = np.flatnonzero((batch.role == ROLE_CONTEXT) & (batch.segment >= 0))
    ctx_episode = episode_of[context]
    ctx_segment = batch.segment[context].astype(np.int64)
    # items are (episode, segment) groups; sort positions by item, then by position
    by_item = np.lexsort((context, ctx_segment, ctx_episode))
    new_item = np.ones(len(context), dtype=bool)
    new_item[1:] = (np.diff(ctx_episode[by_item]) != 0) | (np.diff(ctx_segment[by_item]) != 0)
    item_of_sorted = np.cumsum(new_item) - 1  # item id in (episode, segment) order
    item_first_sorted = np.flatnonzero(new_item)
    n_items = len(item_first_sorted)
    item_episode = ctx_episode[by_item][item_first_sorted]
    item_segment = ctx_segment[by_item][item_first_sorted]
    item_first_pos = context[by_item][item_first_sorted]  # lexsort put the first one first
    token_col = np.empty(len(context), dtype=np.int64)  # step within its item
    token_col[by_item] = np.arange(len(context)) - item_first_sorted[item_of_sorted]
    token_item = np.empty(len(context), dtype=np.int64)
    token_item[by_item] = item_of_sorted

    # Rank items within their episode by first appearance. Flat positions grow with the
    # episode row, so ordering by first position orders by episode too.
    by_appearance = np.argsort(item_first_pos, kind="stable")
    appearance_pos = item_first_pos[by_appearance]
    episode_first_item = np.searchsorted(appearance_pos, offsets[:-1])
    item_rank = np.empty(n_items, dtype=np.int64)
    item_rank[by_appearance] = np.arange(n_items) - episode_first_item[item_episode[by_appearance]]

    # items seen before each sample's question, and how many of them are kept
    seen = np.searchsorted(appearance_pos, q_start) - episode_first_item[sample_episode]
    kept = seen if max_sentences is None else np.minimum(seen, max_sentences)
    dropped = seen - kept

    # context tokens before each question: a contiguous range of ``context`` per sample
    lo = np.searchsorted(context, offsets[sample_episode])
    hi = np.searchsorted(context, q_start)
    sample_of_token, token = _expand(lo, hi - lo)
    rows = item_rank[token_item[token]] - dropped[sample_of_token]
    keep = rows >= 0
    sample_of_token, token, rows = sample_of_token[keep], token[keep], rows[keep]
    cols = token_col[token]
    n_sentences = int(kept.max()) if n_samples else 0
    sentence_len = int(cols.max()) + 1 if len(cols) else 0
    sentences = np.zeros((n_samples, n_sentences, sentence_len), dtype=np.int32)
    sentences[sample_of_token, rows, cols] = batch.inputs[context[token]]

    sample_of_row, row_rank = _expand(dropped, kept)  # row_rank: rank of the item in its episode
    sentence_segment = np.full((n_samples, n_sentences), -1, dtype=np.int32)
    row_item = by_appearance[episode_first_item[sample_episode[sample_of_row]] + row_rank]
    sentence_segment[sample_of_row, row_rank - dropped[sample_of_row]] = item_segment[row_item]

    # -- support ------------------------------------------------------------------------------
    support_episode = np.repeat(
        np.arange(n_episodes, dtype=np.int64), np.diff(batch.support_offsets)
    )
    support_answer = batch.support_answer.astype(np.int64)
    bad = (support_answer < 0) | (support_answer >= spans_per_episode[support_episode])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        e = int(support_episode[k])
        raise ValueError(
            f"episode {int(batch.index[e])} has a support item for answer "
            f"{int(support_answer[k])}, but only {int(spans_per_episode[e])} answer span(s)"
        )
    support_sample = first_sample[support_episode] + support_answer
    support = _pad_groups(batch.support, support_sample, n_samples, fill=-1)

    # where each support item sits in its sample's sentences (-1 when it is not there)
    key_span = int(item_segment.max()) + 1 if n_items else 1
    item_key = item_episode * key_span + item_segment  # sorted: items are in (episode, segment)
    support_item = batch.support.astype(np.int64)
    wanted = support_episode * key_span + support_item
    hit = np.searchsorted(item_key, wanted)
    hit_ok = (support_item >= 0) & (support_item < key_span) & (hit < n_items)
    hit_ok[hit_ok] = item_key[hit[hit_ok]] == wanted[hit_ok]
    row_of_support = np.full(len(support_item), -1, dtype=np.int64)
    rank = item_rank[hit[hit_ok]]
    in_view = (rank < seen[support_sample[hit_ok]]) & (rank >= dropped[support_sample[hit_ok]])
    row_of_support[np.flatnonzero(hit_ok)[in_view]] = (
        rank[in_view] - dropped[support_sample[hit_ok]][in_view]
    )
    support_rows = _pad_groups(row_of_support, support_sample, n_samples, fill=-1)

    return QABatch(
        sentences=sentences,
        sentence_counts=kept.astype(np.int64),
        sentence_segment=sentence_segment,
        query=query.astype(np.int32, copy=False),
        answer=answer.astype(np.int32, copy=False),
        answer_positions=answer_positions.astype(np.int64, copy=False),
        support=support.astype(np.int32, copy=False),
        support_rows=support_rows.astype(np.int64, copy=False),
        episode=sample_episode.astype(np.int64),
        index=batch.index[sample_episode].copy(),
        answer_ordinal=ordinal,
    )


def answer_spans(batch: EpisodeBatch) -> np.ndarray:
    """``int64[B]``: the questions of each episode, i.e. its answer spans (maximal runs of
    ``role == 2`` positions), as ``qa`` counts them."""
    starts, _ = _runs(batch.role == ROLE_ANSWER, _episode_starts(batch))
    episode, _ = position_coordinates(batch)
    return np.bincount(episode[starts], minlength=len(batch)).astype(np.int64)


def _episode_starts(batch: EpisodeBatch) -> np.ndarray:
    """``bool[N]``: the first position of each (non-empty) episode."""
    starts = np.zeros(batch.num_positions, dtype=bool)
    starts[batch.offsets[:-1][batch.lengths > 0]] = True
    return starts


def _offsets(counts: np.ndarray) -> np.ndarray:
    """``int64[len(counts) + 1]`` starts of consecutive groups of the given sizes."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _runs(flags: np.ndarray, episode_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the maximal runs of True, cut at episode boundaries."""
    starts = flags.copy()
    starts[1:] &= ~flags[:-1] | episode_start[1:]
    ends = flags.copy()
    ends[:-1] &= ~flags[1:] | episode_start[1:]
    return np.flatnonzero(starts), np.flatnonzero(ends) + 1


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(g, starts[g] + j)`` for every group ``g`` and ``j < counts[g]``, in order."""
    counts = np.asarray(counts, dtype=np.int64)
    group = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    total = len(group)
    within = np.arange(total, dtype=np.int64) - np.repeat(_offsets(counts)[:-1], counts)
    return group, np.asarray(starts, dtype=np.int64)[group] + within


def _pad_ranges(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, fill) -> np.ndarray:
    """``[G, max(lengths)]``: row g holds ``values[starts[g]:starts[g] + lengths[g]]``."""
    group, source = _expand(starts, lengths)
    width = int(lengths.max()) if len(lengths) else 0
    out = np.full((len(lengths), width), fill, dtype=values.dtype)
    out[group, source - np.asarray(starts, dtype=np.int64)[group]] = values[source]
    return out


def _pad_groups(values: np.ndarray, group: np.ndarray, n_groups: int, fill) -> np.ndarray:
    """``[n_groups, widest]``: row g holds the values whose group is g, in their order."""
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    counts = np.bincount(sorted_group, minlength=n_groups)
    col = np.arange(len(order), dtype=np.int64) - _offsets(counts)[sorted_group]
    out = np.full((n_groups, int(counts.max()) if n_groups else 0), fill, dtype=values.dtype)
    out[sorted_group, col] = values[order]
    return out
