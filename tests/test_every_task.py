"""The generic properties, checked for every registered task and dataset.

A family gets all of these by registering (``memtasks.list_tasks()``,
``registry.list_datasets()``): determinism across pieces and workers, the storage round trip,
the torch collate and stream, the padded and question-answering views, its card, and (tasks)
its golden hashes. Family tests check what a family's episodes mean; these check that they fit
the toolkit.

Sizes are tiny, and each task's episodes are generated once per module (``made``) and shared by
every check, so the file costs little beyond the compiles that the family tests pay anyway.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, IterableDataset

import memtasks
from memtasks import registry, storage, views
from memtasks.episode import EpisodeBatch
from memtasks.hashing import ContentHasher
from memtasks.torch import EpisodeStream, collate, collate_qa

TASKS = memtasks.list_tasks()
DATASETS = registry.list_datasets() if hasattr(registry, "list_datasets") else []

N, SEED, SPLIT, START = 5, 11, "validation", 3  # episodes START .. START + N - 1
PIECES = [(0, 2), (2, 3), (3, 5)]  # cuts of those N, made in reverse order
STREAM_BATCH = 2  # EpisodeStream batches of 2 episodes: 2 batches per task

GOLDEN_SCRIPT = Path(__file__).resolve().parent / "golden" / "update_golden.py"


def _load_golden():
    spec = importlib.util.spec_from_file_location("update_golden", GOLDEN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


golden = _load_golden()


@functools.cache
def made(task: str) -> EpisodeBatch:
    """Episodes START .. START + N - 1 of the task's (SEED, SPLIT) stream, default knobs."""
    return memtasks.generate(task, N, seed=SEED, split=SPLIT, start=START)


def has_queries(batch: EpisodeBatch) -> bool:
    """A token task with answers: each answer span asks its question in the role-1 run before
    it, or at its own positions (a recall probe's key), so the QA view applies."""
    return batch.inputs.ndim == 1 and bool((batch.role == 2).any())


def test_something_is_registered():
    assert TASKS, "no task is registered: every check below would pass vacuously"


# ---------------------------------------------------------------------------------------------
# The episodes themselves
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_episodes_are_valid_and_fit_the_layout(task):
    batch = made(task)
    batch.check()
    assert batch.task == task
    assert batch.index.tolist() == list(range(START, START + N))
    spec = memtasks.get_spec(task)
    layout = spec.layout(spec.make_knobs())
    if layout.vocab:  # token task: ids inside the vocabulary, id 0 (padding) never read
        assert batch.inputs.ndim == 1 and batch.inputs.dtype == np.int32
        assert batch.inputs.min() > 0 and batch.inputs.max() < len(layout.vocab)
        assert batch.targets[batch.mask].min() > 0
        assert batch.targets.max() < len(layout.vocab)
    else:
        assert batch.inputs.dtype == np.dtype(layout.input_dtype)
        assert batch.targets.dtype == np.dtype(layout.target_dtype)
        assert batch.inputs.shape[1:] == (layout.input_width,)
        assert batch.targets.shape[1:] == (layout.target_width,)
    assert batch.mask.any(), f"{task}: nothing is scored"


@pytest.mark.parametrize("task", TASKS)
def test_pieces_made_apart_in_any_order_equal_the_whole(task):
    whole = made(task)
    pieces = {}
    for lo, hi in reversed(PIECES):
        pieces[lo] = memtasks.generate(task, hi - lo, seed=SEED, split=SPLIT, start=START + lo)
    joined = EpisodeBatch.concat([pieces[lo] for lo, _ in PIECES])
    assert joined.equals(whole)
    hasher = ContentHasher()
    for lo, _ in PIECES:
        hasher.update(pieces[lo])
    assert hasher.hexdigest() == whole.content_hash()
    # another seed or split is another stream
    other = memtasks.generate(task, N, seed=SEED + 1, split=SPLIT, start=START)
    assert other.content_hash() != whole.content_hash()


@settings(max_examples=40, deadline=None)
@given(
    task=st.sampled_from(TASKS),
    seed=st.integers(0, 2**64 - 1),
    start=st.integers(0, 2**62),
    n=st.integers(1, 12),  # n = 0: test_an_empty_range_is_an_empty_batch
    data=st.data(),
)
def test_any_cuts_of_any_stream_equal_the_whole(task, seed, start, n, data):
    """The same property over drawn tasks, seeds, starts and cuts (pieces made in any order)."""
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=5), label="cuts"))
    bounds = [0, *cuts, n]
    pieces = list(zip(bounds[:-1], bounds[1:], strict=True))
    order = data.draw(st.permutations(range(len(pieces))), label="order")
    got = {}
    for k in order:
        lo, hi = pieces[k]
        got[k] = memtasks.generate(task, hi - lo, seed=seed, start=start + lo)
    whole = memtasks.generate(task, n, seed=seed, start=start)
    assert EpisodeBatch.concat([got[k] for k in range(len(pieces))]).equals(whole)
    np.testing.assert_array_equal(whole.index, np.arange(start, start + n))


@pytest.mark.parametrize("task", TASKS)
def test_an_empty_range_is_an_empty_batch(task):
    empty = memtasks.generate(task, 0, seed=SEED, split=SPLIT, start=START)
    assert len(empty) == 0 and empty.num_positions == 0
    empty.check()
    assert EpisodeBatch.concat([empty, made(task)]).equals(made(task))


class _Chained(IterableDataset):
    """Every task's stream, one after the other: one DataLoader (one pair of worker processes)
    checks them all. Each stream shards its batches over the workers itself; with an even
    number of batches per stream, the loader's round robin gives them back in stream order."""

    def __init__(self, streams):
        self.streams = streams

    def __iter__(self):
        for stream in self.streams:
            for out in stream:
                out["task"] = stream.task
                yield out


@functools.cache
def _from_two_workers() -> dict[str, list[dict]]:
    streams = [
        EpisodeStream(t, STREAM_BATCH, SEED, SPLIT, start=START, num_batches=2) for t in TASKS
    ]
    for t, stream in zip(TASKS, streams, strict=True):
        # compiled in this process first, forked workers inherit the kernels: the flat ones and
        # the padded ones the stream runs (else each worker compiles every task's for itself,
        # minutes on two cores, past the loader's timeout)
        made(t)
        list(stream)
    loader = DataLoader(_Chained(streams), batch_size=None, num_workers=2, timeout=300)
    got: dict[str, list[dict]] = {}
    for out in loader:
        got.setdefault(out.pop("task"), []).append(out)
    return got


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            assert_same_tensors(a[k], b[k])
        else:
            assert a[k].dtype == b[k].dtype, k
            assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("task", TASKS)
def test_stream_in_two_worker_processes_equals_the_episodes(task):
    """EpisodeStream batch k holds episodes START + 2k, START + 2k + 1, whichever process made
    it: the same bytes in the parent, in a single-process stream and across two workers."""
    whole = made(task)
    expected = [collate(whole[0:2]), collate(whole[2:4])]
    single = list(EpisodeStream(task, STREAM_BATCH, SEED, SPLIT, start=START, num_batches=2))
    workers = _from_two_workers()[task]
    assert len(single) == len(workers) == 2
    for want, one, two in zip(expected, single, workers, strict=True):
        assert_same_tensors(want, one)
        assert_same_tensors(want, two)


# ---------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
@pytest.mark.parametrize("task", TASKS)
def test_storage_round_trip(tmp_path, task, fmt):
    out = tmp_path / "ds"
    manifest = storage.write_dataset(
        out, task, N, seed=SEED, split=SPLIT, start=START, shards=2, format=fmt
    )
    whole = made(task)
    assert manifest["content_hash"] == whole.content_hash()
    assert manifest["knobs"] == memtasks.get_spec(task).make_knobs().to_dict()
    back = storage.read_dataset(out, verify=True)  # hash, and a regenerated sample
    assert back.equals(whole)
    assert back.task == task
    assert json.loads((out / storage.MANIFEST).read_text()) == json.loads(json.dumps(manifest))


# ---------------------------------------------------------------------------------------------
# Views and torch
# ---------------------------------------------------------------------------------------------
def check_padded(batch: EpisodeBatch, out: dict) -> None:
    """Every episode's steps equal its CSR content; every step after its end is padding."""
    assert out["lengths"].tolist() == batch.lengths.tolist()
    assert out["index"].tolist() == batch.index.tolist()
    t = int(batch.lengths.max())
    fills = {"inputs": 0, "targets": 0, "mask": False, "role": -1, "segment": -1}
    for name, fill in fills.items():
        values = np.asarray(out[name])
        assert values.shape == (len(batch), t, *getattr(batch, name).shape[1:]), name
        for i in range(len(batch)):
            episode = batch.episode(i)[name]
            np.testing.assert_array_equal(values[i, : len(episode)], episode, err_msg=name)
            assert np.all(values[i, len(episode) :] == fill), name


@pytest.mark.parametrize("task", TASKS)
def test_padded_view(task):
    batch = made(task)
    out = views.padded(batch)
    check_padded(batch, out)
    assert set(out) == set(views.PADDED_FIELDS)
    assert out["inputs"].dtype == batch.inputs.dtype
    assert out["targets"].dtype == batch.targets.dtype
    expected = {"mask": np.bool_, "role": np.int8, "segment": np.int32}
    expected |= {"lengths": np.int64, "index": np.int64}
    for name, dtype in expected.items():
        assert out[name].dtype == dtype, name


@pytest.mark.parametrize("task", TASKS)
def test_collate(task):
    batch = made(task)
    out = collate(batch)
    check_padded(batch, {k: v.numpy() for k, v in out.items() if k != "meta"})
    token = batch.inputs.ndim == 1
    assert out["inputs"].dtype == (torch.int64 if token else torch.float32)
    assert out["targets"].dtype == (torch.int64 if token else torch.float32)
    expected = {"mask": torch.bool, "role": torch.int8, "segment": torch.int64}
    expected |= {"lengths": torch.int64, "index": torch.int64}
    for name, dtype in expected.items():
        assert out[name].dtype == dtype, name
    assert out["meta"].keys() == batch.meta.keys()
    for name, values in batch.meta.items():
        np.testing.assert_array_equal(out["meta"][name].numpy(), values)


@pytest.mark.parametrize("task", TASKS)
def test_qa_view_where_the_task_asks_questions(task):
    batch = made(task)
    if not has_queries(batch):
        with pytest.raises(ValueError, match="qa needs a token task"):
            views.qa(batch)
        return
    check_qa(batch)


def check_qa(batch: EpisodeBatch) -> None:
    """One sample per answer span, whose answers are the targets the metric scores there."""
    view = views.qa(batch)
    spans = views.answer_spans(batch)  # answer spans per episode
    assert len(view) == spans.sum() > 0
    np.testing.assert_array_equal(np.bincount(view.episode, minlength=len(batch)), spans)
    scored = view.answer_positions >= 0
    np.testing.assert_array_equal(view.answer[scored], batch.targets[view.answer_positions[scored]])
    assert np.all(batch.mask[view.answer_positions[scored]])
    assert scored.sum() == batch.mask.sum()  # every scored position belongs to one sample
    assert np.all(view.query.any(axis=1))  # every sample has a question
    rows = view.support_rows
    assert np.all((rows == -1) | (rows < view.sentence_counts[:, None]))
    as_tensors = collate_qa(batch)
    for name, values in view.arrays().items():
        np.testing.assert_array_equal(as_tensors[name].numpy(), values, err_msg=name)


# ---------------------------------------------------------------------------------------------
# Card and golden hashes
# ---------------------------------------------------------------------------------------------
def check_card(spec) -> None:
    card = spec.card
    assert card.is_file(), f"{spec.id} has no card at {card}"
    text = card.read_text(encoding="utf-8")
    family_name = spec.id.rsplit("-v", 1)[0]
    assert family_name in text, f"{card} does not name {spec.id}"
    for name in spec.knobs.infos():
        assert f"`{name}`" in text, f"{card} does not list the knob {name!r} of {spec.id}"


@pytest.mark.parametrize("task", TASKS)
def test_card_names_the_task_and_lists_its_knobs(task):
    check_card(memtasks.get_spec(task))


@functools.cache
def _stored_golden() -> dict[str, dict[str, str]]:
    return golden.read_golden()


@pytest.mark.parametrize("task", TASKS)
def test_golden_hashes(task):
    """content_hash of ``generate(task, 64, seed=0, preset)`` is pinned for every preset.

    A failure means a generator's output changed: if intended, the task needs a new version
    (DESIGN.md section 3), then ``python tests/golden/update_golden.py``. A new task has none
    until that script adds it.
    """
    stored = _stored_golden().get(task)
    assert stored, f"{task} has no golden hashes: run tests/golden/update_golden.py"
    spec = memtasks.get_spec(task)
    assert sorted(stored) == sorted(spec.presets), f"{task}: presets and golden entries differ"
    for preset, pinned in stored.items():
        now = memtasks.generate(task, golden.N, seed=golden.SEED, preset=preset).content_hash()
        assert now == pinned, f"{task} {preset}: output changed; bump the task version"


def test_golden_file_holds_only_registered_tasks():
    gone = sorted(set(_stored_golden()) - set(TASKS))
    assert not gone, f"golden hashes of tasks that are gone: {gone}"
    assert golden.N == 64 and golden.SEED == 0


# ---------------------------------------------------------------------------------------------
# Datasets of real data: read from the tiny copy of their files each spec writes
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """dataset id -> a folder holding its fixture files (written once per module)."""
    folders = {}

    def get(dataset: str) -> Path:
        if dataset not in folders:
            folder = tmp_path_factory.mktemp(dataset.replace("/", "-"))
            registry.get_spec(dataset).fixture(folder)
            folders[dataset] = folder
        return folders[dataset]

    return get


def _loaded(dataset: str, folder: Path) -> dict[str, EpisodeBatch]:
    spec = registry.get_spec(dataset)
    return {
        split: memtasks.load(dataset, split, path=folder, checksums=False) for split in spec.splits
    }


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_loads_from_its_fixture(dataset, sources):
    folder = sources(dataset)
    first, again = _loaded(dataset, folder), _loaded(dataset, folder)
    spec = registry.get_spec(dataset)
    assert list(first) == list(spec.splits)
    for split, batch in first.items():
        batch.check()
        assert len(batch) > 0, split
        assert batch.task == dataset
        assert batch.index.tolist() == list(range(len(batch))), split
        assert batch.equals(again[split]), f"{dataset} {split}: two reads differ"
        assert batch.mask.any(), split


DATASET_GOLDEN = Path(__file__).resolve().parent / "golden" / "datasets.json"


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_golden_hashes(dataset, sources):
    """The reader's episodes of each split of the spec's fixture files are pinned: a reader
    change that moves them is a new dataset version (DESIGN.md section 3). A new dataset has no
    entry: add the content hashes this test prints, after checking the episodes by hand."""
    stored = json.loads(DATASET_GOLDEN.read_text()).get(dataset)
    now = {s: b.content_hash() for s, b in _loaded(dataset, sources(dataset)).items()}
    assert stored == now, f"{dataset}: golden {stored}, now {now} ({DATASET_GOLDEN.name})"


def test_dataset_golden_file_holds_only_registered_datasets():
    gone = sorted(set(json.loads(DATASET_GOLDEN.read_text())) - set(DATASETS))
    assert not gone, f"golden hashes of datasets that are gone: {gone}"


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_storage_round_trip(dataset, sources, tmp_path):
    spec = registry.get_spec(dataset)
    split = spec.splits[-1]
    expected = memtasks.load(dataset, split, path=sources(dataset), checksums=False)
    out = tmp_path / "ds"
    shards = min(2, len(expected))  # two files where the fixture's split has two episodes
    manifest = storage.load_dataset(
        out, dataset, split, path=sources(dataset), checksums=False, shards=shards
    )
    assert manifest["dataset"] == dataset and manifest["split"] == split
    assert manifest["content_hash"] == expected.content_hash()
    assert [s["name"] for s in manifest["sources"]], "the manifest names no source file"
    back = storage.read_dataset(out, verify=True)
    assert back.equals(expected)


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_views_and_collate(dataset, sources):
    spec = registry.get_spec(dataset)
    batch = memtasks.load(dataset, spec.splits[0], path=sources(dataset), checksums=False)
    batch = batch[: min(len(batch), 4)]
    check_padded(batch, views.padded(batch))
    check_padded(batch, {k: v.numpy() for k, v in collate(batch).items() if k != "meta"})
    if has_queries(batch):
        check_qa(batch)


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_card_names_it_and_lists_its_knobs(dataset):
    check_card(registry.get_spec(dataset))
