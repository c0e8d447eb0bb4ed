"""EpisodeBatch: construction checks, selection, concatenation, hashing, Arrow and printing.

Two kinds of batches are used: hand-built ones (token or vector, with random supports and meta,
drawn by hypothesis) for the format itself, and generated NTM batches for the round trips that
must hold on every real task.
"""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.episode import POSITION_FIELDS, ROLE_NAMES, EpisodeBatch
from memtasks.hashing import ContentHasher
from memtasks.show import OFF, ON

NTM_TASKS = memtasks.list_tasks("ntm")
FAST = settings(max_examples=30, deadline=None)


# -- hand-built batches ------------------------------------------------------------------------
def build_batch(
    rng: np.random.Generator,
    lengths: list[int],
    support_lengths: list[int],
    vector: bool,
) -> EpisodeBatch:
    """A batch with random values in every field, tokens or vectors, with two meta fields."""
    b = len(lengths)
    n = int(sum(lengths))
    k = int(sum(support_lengths))
    if vector:
        inputs = rng.integers(0, 2, size=(n, 5), dtype=np.uint8)
        targets = rng.random((n, 3), dtype=np.float32)
    else:
        inputs = rng.integers(0, 50, size=n, dtype=np.int32)
        targets = rng.integers(0, 50, size=n, dtype=np.int32)
    return EpisodeBatch.from_lengths(
        lengths=np.asarray(lengths, dtype=np.int64),
        inputs=inputs,
        targets=targets,
        mask=rng.random(n) < 0.5,
        role=rng.integers(0, 4, size=n, dtype=np.int8),
        segment=rng.integers(-1, 6, size=n, dtype=np.int32),
        index=np.arange(100, 100 + b, dtype=np.int64),
        meta={
            "count": rng.integers(0, 9, size=b, dtype=np.int32),
            "pair": rng.random((b, 2), dtype=np.float32),
        },
        support_lengths=np.asarray(support_lengths, dtype=np.int64),
        support=rng.integers(0, 6, size=k, dtype=np.int32),
        support_answer=rng.integers(0, 3, size=k, dtype=np.int32),
        task="test/hand-built-v1",
    )


@st.composite
def batches(draw, min_episodes: int = 0, max_episodes: int = 7) -> EpisodeBatch:
    """Random hand-built batches, including empty episodes and episodes without support."""
    b = draw(st.integers(min_episodes, max_episodes))
    lengths = draw(st.lists(st.integers(0, 6), min_size=b, max_size=b))
    support_lengths = draw(st.lists(st.integers(0, 3), min_size=b, max_size=b))
    vector = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return build_batch(np.random.default_rng(seed), lengths, support_lengths, vector)


def fields_of(batch: EpisodeBatch) -> dict[str, np.ndarray]:
    """Every array of a batch by name (meta fields as ``meta.<name>``)."""
    names = [*POSITION_FIELDS, "offsets", "support_offsets", "support", "support_answer", "index"]
    out = {name: getattr(batch, name) for name in names}
    out.update({f"meta.{k}": v for k, v in batch.meta.items()})
    return out


def assert_episode_equal(a: dict, b: dict) -> None:
    """Two ``batch.episode(i)`` dicts hold the same values."""
    assert a.keys() == b.keys()
    assert a["index"] == b["index"]
    for name in (*POSITION_FIELDS, "support", "support_answer"):
        assert a[name].dtype == b[name].dtype
        np.testing.assert_array_equal(a[name], b[name])
    assert a["meta"].keys() == b["meta"].keys()
    for k in a["meta"]:
        np.testing.assert_array_equal(a["meta"][k], b["meta"][k])


def valid_kwargs() -> dict:
    """Constructor arguments of a valid 2-episode token batch (lengths 2 and 1)."""
    return {
        "offsets": np.array([0, 2, 3]),
        "inputs": np.array([1, 2, 3], dtype=np.int32),
        "targets": np.array([0, 5, 6], dtype=np.int32),
        "mask": np.array([False, True, True]),
        "role": np.array([0, 2, 2], dtype=np.int8),
        "segment": np.array([0, -1, -1], dtype=np.int32),
        "support_offsets": np.array([0, 1, 1]),
        "support": np.array([0], dtype=np.int32),
        "index": np.array([0, 1]),
        "meta": {"count": np.array([1, 2], dtype=np.int32)},
    }


# -- construction ------------------------------------------------------------------------------
def test_valid_construction_casts_the_fixed_dtypes():
    kwargs = valid_kwargs()
    kwargs["offsets"] = [0, 2, 3]  # plain lists are accepted and cast
    kwargs["mask"] = [0, 1, 1]
    batch = EpisodeBatch(**kwargs)
    assert batch.offsets.dtype == np.int64
    assert batch.mask.dtype == np.bool_
    assert batch.role.dtype == np.int8
    assert batch.segment.dtype == np.int32
    assert batch.index.dtype == np.int64
    np.testing.assert_array_equal(batch.support_answer, [0])  # defaults to answer 0
    assert len(batch) == 2
    np.testing.assert_array_equal(batch.lengths, [2, 1])
    assert batch.num_positions == 3
    assert not batch.is_vector


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"offsets": np.array([1, 2, 3])}, "offsets must be non-decreasing"),
        ({"offsets": np.array([0, 3, 2])}, "offsets must be non-decreasing"),
        ({"offsets": np.array([0, 3])}, "offsets must be non-decreasing"),
        ({"offsets": np.array([[0, 2, 3]])}, "offsets must be non-decreasing"),
        ({"support_offsets": np.array([0, 2, 1])}, "support_offsets must be non-decreasing"),
        ({"inputs": np.array([1, 2], dtype=np.int32)}, "inputs has 2 positions, offsets say 3"),
        ({"targets": np.zeros(4, dtype=np.int32)}, "targets has 4 positions"),
        ({"mask": np.array([True, False])}, "mask has 2 positions"),
        ({"role": np.zeros(5, dtype=np.int8)}, "role has 5 positions"),
        ({"segment": np.zeros(0, dtype=np.int32)}, "segment has 0 positions"),
        ({"inputs": np.array([1, 2, 3], dtype=np.int64)}, "inputs must be int32[N] tokens"),
        ({"targets": np.zeros(3, dtype=np.float64)}, "targets must be int32[N] tokens"),
        ({"inputs": np.zeros((3, 2, 2), dtype=np.uint8)}, "inputs must be int32[N] tokens"),
        ({"inputs": np.zeros(3, dtype=np.bool_)}, "inputs must be int32[N] tokens"),
        ({"support": np.array([0, 1], dtype=np.int32)}, "support length does not match"),
        ({"support_answer": np.array([0, 0], dtype=np.int32)}, "one entry per support item"),
        ({"meta": {"count": np.array([1, 2, 3])}}, "meta['count'] must have shape [2]"),
        ({"meta": {"count": np.zeros((2, 2, 2))}}, "meta['count'] must have shape [2]"),
        ({"index": np.array([0, 1, 2])}, "offsets must be non-decreasing int64[4]"),
    ],
)
def test_construction_errors(change, message):
    kwargs = valid_kwargs()
    kwargs.update(change)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        EpisodeBatch(**kwargs)


def test_from_lengths_without_support_has_empty_support():
    kwargs = valid_kwargs()
    batch = EpisodeBatch.from_lengths(
        lengths=np.array([2, 1]),
        **{f: kwargs[f] for f in POSITION_FIELDS},
        index=kwargs["index"],
    )
    np.testing.assert_array_equal(batch.offsets, [0, 2, 3])
    np.testing.assert_array_equal(batch.support_offsets, [0, 0, 0])
    assert len(batch.support) == 0 and batch.meta == {}


def test_size_properties_of_a_generated_batch():
    batch = memtasks.generate("ntm/copy-v1", 6, seed=3)
    assert len(batch) == 6
    assert batch.is_vector
    assert batch.num_positions == int(batch.lengths.sum()) == len(batch.inputs)
    expected = sum(a.nbytes for a in fields_of(batch).values())
    assert batch.nbytes == expected


# -- selection ---------------------------------------------------------------------------------
@FAST
@given(batches(min_episodes=1), st.data())
def test_contiguous_slices_are_views(batch, data):
    b = len(batch)
    start = data.draw(st.integers(0, b), label="start")
    stop = data.draw(st.integers(start, b), label="stop")
    part = batch[start:stop]
    assert len(part) == stop - start
    np.testing.assert_array_equal(part.index, batch.index[start:stop])
    for i in range(len(part)):
        assert_episode_equal(part.episode(i), batch.episode(start + i))
    if part.num_positions:
        for name in POSITION_FIELDS:
            assert np.shares_memory(getattr(part, name), getattr(batch, name)), name
    if len(part.support):
        assert np.shares_memory(part.support, batch.support)
    if len(part):
        assert np.shares_memory(part.index, batch.index)
        for k in batch.meta:
            assert np.shares_memory(part.meta[k], batch.meta[k]), k
    # writing through the view writes the parent: views, not copies
    if part.num_positions:
        part.segment[0] += 1000
        assert batch.segment[batch.offsets[start]] == part.segment[0]


@FAST
@given(batches(min_episodes=1), st.data())
def test_take_any_order_with_repeats_and_negative_indices(batch, data):
    b = len(batch)
    rows = data.draw(st.lists(st.integers(-b, b - 1), max_size=12), label="rows")
    taken = batch.take(np.asarray(rows, dtype=np.int64))
    assert len(taken) == len(rows)
    for j, r in enumerate(rows):
        assert_episode_equal(taken.episode(j), batch.episode(r % b))
    # fancy indexing is the same as take; a copy, so the parent is not touched
    assert batch[rows].equals(taken)
    if taken.num_positions:
        assert not np.shares_memory(taken.inputs, batch.inputs)


def test_take_out_of_range_and_empty():
    batch = memtasks.generate("ntm/copy-v1", 4, seed=0)
    with pytest.raises(IndexError, match="out of range for a batch of 4"):
        batch.take(np.array([0, 4]))
    with pytest.raises(IndexError, match="out of range for a batch of 4"):
        batch.take(np.array([-5]))
    empty = batch.take(np.array([], dtype=np.int64))
    assert len(empty) == 0 and empty.num_positions == 0
    assert empty.inputs.shape == (0, batch.inputs.shape[1])


def test_integer_and_stepped_indexing():
    batch = memtasks.generate("ntm/associative-recall-v1", 7, seed=1)
    last = batch[-1]
    assert len(last) == 1 and int(last.index[0]) == 6
    assert_episode_equal(last.episode(0), batch.episode(6))
    assert batch[np.int64(2)].equals(batch[2:3])
    assert batch[::2].equals(batch.take(np.array([0, 2, 4, 6])))
    assert batch[::-1].equals(batch.take(np.arange(6, -1, -1)))
    assert len(batch[5:2]) == 0
    with pytest.raises(IndexError, match="episode 7 out of range"):
        batch[7]
    with pytest.raises(IndexError, match="episode -8 out of range"):
        batch[-8]


def test_boolean_mask_selects_episodes():
    batch = memtasks.generate("ntm/copy-v1", 8, seed=3)
    long = batch.meta["length"] > 10
    assert 0 < long.sum() < 8
    selected = batch[long]
    assert selected.equals(batch.take(np.flatnonzero(long)))
    assert np.all(selected.meta["length"] > 10)
    assert len(batch[np.zeros(8, dtype=bool)]) == 0
    with pytest.raises(IndexError, match="boolean mask over 8 episodes has shape"):
        batch[np.ones(3, dtype=bool)]


def test_episode_dict_and_iteration():
    batch = memtasks.generate("ntm/associative-recall-v1", 3, seed=2)
    ep = batch.episode(1)
    lo, hi = batch.offsets[1], batch.offsets[2]
    assert ep["index"] == 1 and isinstance(ep["index"], int)
    for name in POSITION_FIELDS:
        np.testing.assert_array_equal(ep[name], getattr(batch, name)[lo:hi])
        assert np.shares_memory(ep[name], getattr(batch, name))
    np.testing.assert_array_equal(ep["support"], batch.support[2:4])
    assert ep["meta"] == {k: v[1] for k, v in batch.meta.items()}
    assert ep["meta"]["num_items"].shape == ()
    assert_episode_equal(batch.episode(-1), batch.episode(2))
    episodes = list(batch)
    assert len(episodes) == 3
    assert_episode_equal(episodes[1], ep)


# -- concat and equals ---------------------------------------------------------------------------
@FAST
@given(batches(), st.data())
def test_concat_of_any_partition_is_the_batch(batch, data):
    b = len(batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, b), max_size=5), label="cuts"))
    bounds = [0, *cuts, b]
    pieces = [batch[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    joined = EpisodeBatch.concat(pieces)
    assert joined.equals(batch)
    assert joined.task == batch.task


def test_concat_refuses_mismatched_batches():
    copy = memtasks.generate("ntm/copy-v1", 2, seed=0)
    recall = memtasks.generate("ntm/associative-recall-v1", 2, seed=0)
    with pytest.raises(ValueError, match="at least one batch"):
        EpisodeBatch.concat([])
    with pytest.raises(ValueError, match="different meta fields"):
        EpisodeBatch.concat([copy, recall])
    wide = memtasks.generate("ntm/copy-v1", 2, seed=0, width=4)
    with pytest.raises(ValueError, match="cannot concatenate inputs"):
        EpisodeBatch.concat([copy, wide])


@FAST
@given(batches(min_episodes=1))
def test_equals(batch):
    twin = batch.take(np.arange(len(batch)))
    assert twin is not batch and batch.equals(twin) and twin.equals(batch)
    twin.task = "another/name-v1"  # the task name is not compared
    assert batch.equals(twin)
    assert not batch.equals("not a batch")
    assert not batch.equals(batch[1:])
    shifted = batch.take(np.arange(len(batch)))
    shifted.index += 1
    assert not batch.equals(shifted)
    retyped = batch.take(np.arange(len(batch)))
    retyped.meta["count"] = retyped.meta["count"].astype(np.int64)  # same values, other dtype
    assert not batch.equals(retyped)
    fewer = batch.take(np.arange(len(batch)))
    del fewer.meta["pair"]
    assert not batch.equals(fewer)


# -- hashing -----------------------------------------------------------------------------------
def test_equal_content_gives_equal_episode_hashes():
    whole = memtasks.generate("ntm/repeat-copy-v1", 10, seed=5)
    alone = memtasks.generate("ntm/repeat-copy-v1", 3, seed=5, start=4)
    np.testing.assert_array_equal(whole.episode_hashes()[4:7], alone.episode_hashes())
    assert whole.episode_hashes().dtype == np.uint64
    # the index is not content: the same episode at another index has the same episode hash,
    # but the content hash (which covers indices and order) changes
    moved = alone.take(np.arange(3))
    moved.index += 50
    np.testing.assert_array_equal(moved.episode_hashes(), alone.episode_hashes())
    assert moved.content_hash() != alone.content_hash()
    assert alone[::-1].content_hash() != alone.content_hash()


def _perturb(array: np.ndarray, flat: int) -> None:
    """Change one value of ``array`` in place (row-major element ``flat``)."""
    view = array.reshape(-1)
    if view.dtype == np.bool_:
        view[flat] = not view[flat]
    elif view.dtype == np.uint8:
        view[flat] ^= 1
    elif view.dtype.kind == "f":
        view[flat] = view[flat] + 0.5 if view[flat] < 1e6 else 0.0
    else:
        view[flat] = view[flat] + 1 if view[flat] < 100 else 0


def _owner(batch: EpisodeBatch, name: str, flat: int) -> int:
    """The episode that element ``flat`` of field ``name`` belongs to."""
    if name.startswith("meta."):
        arr = batch.meta[name[5:]]
        return flat // (arr.shape[1] if arr.ndim == 2 else 1)
    arr = getattr(batch, name)
    row = flat // (arr.shape[1] if arr.ndim == 2 else 1)
    offsets = batch.support_offsets if name.startswith("support") else batch.offsets
    return int(np.searchsorted(offsets, row, side="right") - 1)


HASHED_FIELDS = [*POSITION_FIELDS, "support", "support_answer", "meta"]


@pytest.mark.parametrize("field", HASHED_FIELDS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_changing_any_single_value_changes_exactly_that_episode_hash(field, data):
    """Every field of every task is covered: the field is a parameter, the rest is drawn."""
    if field == "meta":
        tasks = [t for t in NTM_TASKS if memtasks.generate(t, 1).meta]
    else:
        tasks = [t for t in NTM_TASKS if getattr(memtasks.generate(t, 1), field).size]
    task = data.draw(st.sampled_from(tasks), label="task")
    batch = memtasks.generate(task, 5, seed=data.draw(st.integers(0, 2**32), label="seed"))
    if field == "meta":
        name = "meta." + data.draw(st.sampled_from(sorted(batch.meta)), label="meta field")
    else:
        name = field
    changed = batch.take(np.arange(len(batch)))  # a deep copy to modify
    array = changed.meta[name[5:]] if name.startswith("meta.") else getattr(changed, name)
    flat = data.draw(st.integers(0, array.size - 1), label="element")
    _perturb(array, flat)
    owner = _owner(batch, name, flat)
    before, after = batch.episode_hashes(), changed.episode_hashes()
    assert before[owner] != after[owner]
    others = np.arange(len(batch)) != owner
    np.testing.assert_array_equal(before[others], after[others])
    assert batch.content_hash() != changed.content_hash()


def test_hash_covers_dtype_and_width_not_just_bytes():
    batch = build_batch(np.random.default_rng(0), [4, 2], [1, 0], vector=True)
    # the same bytes seen as [N, 5] uint8 and as int32 tokens are different content
    as_bits = batch.take(np.arange(2))
    as_float = batch.take(np.arange(2))
    as_float.targets = as_float.targets.view(np.int32).reshape(-1, 3)
    assert as_bits.targets.tobytes() == as_float.targets.tobytes()
    assert not np.array_equal(as_bits.episode_hashes(), as_float.episode_hashes())


@FAST
@given(batches(), st.data())
def test_content_hash_is_independent_of_how_the_batch_is_split(batch, data):
    b = len(batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, b), max_size=5), label="cuts"))
    bounds = [0, *cuts, b]
    hasher = ContentHasher()
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        hasher.update(batch[lo:hi])
    assert hasher.episodes == b
    assert hasher.hexdigest() == batch.content_hash()
    assert len(batch.content_hash()) == 64
    int(batch.content_hash(), 16)  # a hex digest


# -- Arrow and Hugging Face ----------------------------------------------------------------------
def _flat_values(column: pa.ChunkedArray) -> pa.Array:
    """The primitive value array under a list<scalar> or list<fixed_size_list> column."""
    values = column.chunk(0).values
    return values.values if pa.types.is_fixed_size_list(values.type) else values


@pytest.mark.parametrize("task", NTM_TASKS)
def test_arrow_round_trip_is_zero_copy_both_ways(task):
    batch = memtasks.generate(task, 9, seed=11)
    table = batch.to_arrow()
    assert table.num_rows == 9
    assert table.column_names[:1] == ["index"]
    # batch -> Arrow: the value buffers are the batch's own memory
    for name in ("inputs", "targets", "role", "segment", "support"):
        array = getattr(batch, name)
        if array.size:
            address = _flat_values(table.column(name)).buffers()[1].address
            assert address == array.ctypes.data, name
    assert table.column("index").chunk(0).buffers()[1].address == batch.index.ctypes.data
    # Arrow -> batch: the arrays read back are views of the same memory
    back = EpisodeBatch.from_arrow(table, task=task)
    assert back.equals(batch) and back.task == task
    for name in ("inputs", "targets", "role", "segment", "index"):
        assert np.shares_memory(getattr(back, name), getattr(batch, name)), name
    for k in batch.meta:
        assert np.shares_memory(back.meta[k], batch.meta[k]), k
    np.testing.assert_array_equal(back.mask, batch.mask)  # Arrow packs booleans: a copy


@pytest.mark.parametrize("task", NTM_TASKS)
def test_arrow_round_trip_from_a_record_batch_and_of_an_empty_batch(task):
    batch = memtasks.generate(task, 3, seed=0)
    record_batch = batch.to_arrow().to_batches()[0]
    assert EpisodeBatch.from_arrow(record_batch).equals(batch)
    empty = memtasks.generate(task, 0, seed=0)
    assert EpisodeBatch.from_arrow(empty.to_arrow()).equals(empty)


@FAST
@given(batches(), st.data())
def test_arrow_round_trip_of_hand_built_batches_and_slices(batch, data):
    table = batch.to_arrow()
    assert EpisodeBatch.from_arrow(table).equals(batch)
    b = len(batch)
    lo = data.draw(st.integers(0, b), label="lo")
    hi = data.draw(st.integers(lo, b), label="hi")
    # an Arrow slice keeps the parent's buffers with an offset: it must read back as the slice
    assert EpisodeBatch.from_arrow(table.slice(lo, hi - lo)).equals(batch[lo:hi])
    # and a view of a batch (values starting mid-buffer) writes correctly too
    assert EpisodeBatch.from_arrow(batch[lo:hi].to_arrow()).equals(batch[lo:hi])


def test_arrow_table_with_several_chunks_reads_back_as_the_concatenation():
    first = memtasks.generate("ntm/priority-sort-v1", 3, seed=0)
    second = memtasks.generate("ntm/priority-sort-v1", 2, seed=0, start=3)
    table = pa.concat_tables([first.to_arrow(), second.to_arrow()])
    assert table.column("inputs").num_chunks == 2
    whole = memtasks.generate("ntm/priority-sort-v1", 5, seed=0)
    assert EpisodeBatch.from_arrow(table).equals(whole)


def test_from_arrow_refuses_tables_that_are_not_episodes():
    table = memtasks.generate("ntm/copy-v1", 3, seed=0).to_arrow()
    with pytest.raises(ValueError, match=r"missing columns \['mask'\]"):
        EpisodeBatch.from_arrow(table.drop_columns(["mask"]))
    with_null = table.set_column(
        table.column_names.index("role"),
        "role",
        pa.array([[0], None, [1]], type=pa.list_(pa.int8())),
    )
    with pytest.raises(ValueError, match="'role' has nulls"):
        EpisodeBatch.from_arrow(with_null)
    other = memtasks.generate("ntm/copy-v1", 3, seed=1).to_arrow()
    mixed = table.set_column(table.column_names.index("role"), "role", other.column("role"))
    with pytest.raises(ValueError, match="different episode lengths"):
        EpisodeBatch.from_arrow(mixed)


@pytest.mark.parametrize("task", NTM_TASKS)
def test_to_hf_rows_match_the_episodes(task):
    batch = memtasks.generate(task, 4, seed=7)
    dataset = batch.to_hf()
    assert isinstance(dataset, datasets.Dataset)
    assert len(dataset) == 4
    for i in range(4):
        row, ep = dataset[i], batch.episode(i)
        assert row["index"] == ep["index"]
        for name in (*POSITION_FIELDS, "support", "support_answer"):
            np.testing.assert_array_equal(np.asarray(row[name]), ep[name], err_msg=name)
        for k, v in ep["meta"].items():
            np.testing.assert_allclose(np.asarray(row["meta"][k]), v, err_msg=k)


def test_to_hf_shares_the_value_buffers():
    batch = memtasks.generate("ntm/copy-v1", 50, seed=1)
    table = batch.to_hf().data.table
    inputs = table.column("inputs").chunk(0).values.values  # list -> fixed-size list -> uint8
    segment = table.column("segment").chunk(0).values
    assert inputs.buffers()[1].address == batch.inputs.ctypes.data
    assert segment.buffers()[1].address == batch.segment.ctypes.data


# -- printing ----------------------------------------------------------------------------------
def test_repr_states_the_shape_of_the_batch():
    batch = memtasks.generate("ntm/repeat-copy-v1", 4, seed=0)
    text = repr(batch)
    assert text.startswith("EpisodeBatch(task=ntm/repeat-copy-v1, episodes=4, ")
    assert f"positions={batch.num_positions} " in text
    assert f"(per episode {batch.lengths.min()}..{batch.lengths.max()})" in text
    assert "inputs=float32[N, 10]" in text and "targets=uint8[N, 9]" in text
    assert f"scored={int(batch.mask.sum())}" in text
    assert "meta=[length, repeats]" in text
    tokens = build_batch(np.random.default_rng(0), [], [], vector=False)
    assert "episodes=0" in repr(tokens) and "inputs=int32[N]" in repr(tokens)


def _grid_row(column: np.ndarray) -> str:
    return "".join(ON if v else OFF for v in column)


def test_pretty_shows_channel_names_and_bit_grids():
    batch = memtasks.generate("ntm/copy-v1", 5, seed=4)
    text = batch.pretty(limit=2)
    layout = memtasks.get_spec("ntm/copy-v1").layout(memtasks.get_spec("ntm/copy-v1").knobs())
    for name in (*layout.input_channels, *layout.target_channels):
        assert name in text
    for i in range(2):
        ep = batch.episode(i)
        head = f"episode {ep['index']}  ({len(ep['mask'])} steps, length={ep['meta']['length']})"
        assert head in text
        for c, name in enumerate(layout.input_channels):
            assert f"{name:<9} {_grid_row(ep['inputs'][:, c])}" in text
        for c, name in enumerate(layout.target_channels):
            assert f"{name:<9} {_grid_row(ep['targets'][:, c])}" in text
        assert "".join("^" if m else " " for m in ep["mask"]) in text
    assert "episode 2 " not in text
    assert "... 3 more episodes" in text
    assert f"roles: {ROLE_NAMES[0]} " in text


def test_pretty_of_number_channels_and_support():
    batch = memtasks.generate("ntm/repeat-copy-v1", 1, seed=0)
    text = batch.pretty()
    ep = batch.episode(0)
    length = int(ep["meta"]["length"])
    value = float(ep["inputs"][length, -1])
    assert f"repeats: t{length}={value:+.3f}" in text
    assert "end" in text
    recall = memtasks.generate("ntm/associative-recall-v1", 1, seed=0)
    q = int(recall.meta["query"][0])
    assert f"support: {q} {q + 1}" in recall.pretty()


def test_pretty_does_not_name_channels_of_another_width():
    # the batch does not carry its knobs; the default layout (8 bits + delimiter) must not
    # label the delimiter of a 3-bit copy task "bit 3"
    batch = memtasks.generate("ntm/copy-v1", 1, seed=0, width=3)
    text = batch.pretty()
    ep = batch.episode(0)
    assert "bit 3" not in text and "delimiter" not in text
    assert f"{'ch 3':<8} {_grid_row(ep['inputs'][:, 3])}" in text


def test_pretty_of_token_batches_uses_ids_without_a_task():
    batch = build_batch(np.random.default_rng(1), [3], [0], vector=False)
    batch.task = ""
    text = batch.pretty()
    assert "inputs : " + " ".join(str(int(x)) for x in batch.inputs) in text
    scored = [str(int(x)) for x, m in zip(batch.targets, batch.mask, strict=True) if m]
    assert "targets: " + " ".join(scored) in text


def test_pretty_wraps_long_episodes_in_blocks_of_steps():
    from memtasks.show import STEPS_PER_BLOCK

    batch = memtasks.generate("ntm/copy-v1", 1, seed=3, lengths=(70,))  # 141 steps
    text = batch.pretty()
    assert "steps 0..99" in text and "steps 100..140" in text
    rows = [line for line in text.splitlines() if line.startswith("  bit 0")]
    assert len(rows) == 4  # inputs and targets, in two blocks
    cells = [row.split()[-1] for row in rows]
    assert [len(c) for c in cells] == [STEPS_PER_BLOCK, STEPS_PER_BLOCK, 41, 41]
    ep = batch.episode(0)
    expected = "".join("█" if v else "·" for v in ep["inputs"][:, 0])
    assert cells[0] + cells[2] == expected


def test_pretty_of_a_token_batch_beyond_its_default_vocabulary_prints_ids():
    """bAbI's long-context filler uses words the default knobs' vocabulary lacks: pretty()
    prints the ids as numbers instead of failing (or naming a wrong word)."""
    batch = memtasks.generate("babi/qa1-v1", 1, seed=0, context_tokens=100)
    spec = memtasks.get_spec("babi/qa1-v1")
    assert batch.inputs.max() >= len(spec.layout(spec.knobs()).vocab)
    text = batch.pretty()
    assert f" {int(batch.inputs.max())} " in text + " "
    layout = spec.layout(spec.make_knobs(None, context_tokens=100))  # the batch's own
    assert layout.vocab[int(batch.inputs.max())] in batch.pretty(layout=layout)
