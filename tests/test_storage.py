"""Dataset folders: round trips, sharding, Hugging Face loading, atomic writes, verification."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memtasks
from memtasks import storage
from memtasks.errors import MemtasksError, StorageError
from memtasks.formats import get_format


def _leftovers(folder) -> list[str]:
    """Hidden temporary or moved-aside folders that a write left behind."""
    return [p for p in os.listdir(folder) if p.startswith(".")]


# The round trip of every task in both formats is in test_every_task.py; here, what the manifest
# records about the shards.
@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_manifest_records_counts_shards_and_version(tmp_path, fmt):
    task = "ntm/repeat-copy-v1"
    out = tmp_path / "ds"
    manifest = storage.write_dataset(out, task, 37, seed=5, split="test", format=fmt, shards=3)
    expected = memtasks.generate(task, 37, seed=5, split="test")
    assert storage.read_dataset(out).equals(expected)
    assert manifest["content_hash"] == expected.content_hash()
    assert manifest["num_positions"] == expected.num_positions
    assert [f["episodes"] for f in manifest["files"]] == [[0, 12], [12, 24], [24, 37]]
    on_disk = json.loads((out / storage.MANIFEST).read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert on_disk["knobs"] == memtasks.get_spec(task).knobs().to_dict()
    assert on_disk["memtasks_version"] == memtasks.__version__


def test_start_offset_and_knobs_are_honoured(tmp_path):
    out = tmp_path / "ds"
    storage.write_dataset(out, "ntm/copy-v1", 10, seed=1, start=100, knobs={"max_length": 4})
    back = storage.read_dataset(out)
    assert back.equals(memtasks.generate("ntm/copy-v1", 10, seed=1, start=100, max_length=4))
    assert back.index.tolist() == list(range(100, 110))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(shards=st.integers(1, 40))
def test_sharding_never_changes_content(tmp_path_factory, shards):
    out = tmp_path_factory.mktemp("sharded") / "ds"
    manifest = storage.write_dataset(out, "ntm/associative-recall-v1", 40, seed=2, shards=shards)
    reference = memtasks.generate("ntm/associative-recall-v1", 40, seed=2)
    assert manifest["content_hash"] == reference.content_hash()
    assert storage.read_dataset(out).equals(reference)
    names = sorted(p.name for p in (out / "data").iterdir())
    assert names == [f"train-{s:05d}-of-{shards:05d}.parquet" for s in range(shards)]


def test_worker_processes_write_the_same_dataset(tmp_path):
    one = storage.write_dataset(tmp_path / "one", "ntm/copy-v1", 400, seed=3)
    many = storage.write_dataset(tmp_path / "many", "ntm/copy-v1", 400, seed=3, shards=4,
                                 workers=2)  # fmt: skip
    assert one["content_hash"] == many["content_hash"]
    assert storage.read_dataset(tmp_path / "many").equals(storage.read_dataset(tmp_path / "one"))


def _rows_of_bytes(rows: list, dtype) -> np.ndarray:
    """A vector column's episode as ``datasets`` reads the bytes layout: one row of bytes per
    position (``formats.parquet``), the dtype from the manifest's features."""
    return np.frombuffer(b"".join(rows), dtype=dtype).reshape(len(rows), -1)


def _write_vectors_as(monkeypatch, vectors: str) -> None:
    """Write Parquet vector columns as ``vectors`` (this process only; the default is bytes)."""
    monkeypatch.setattr(get_format("parquet"), "vectors", vectors)


@pytest.mark.parametrize("vectors", ["bytes", "lists"])
def test_datasets_load_dataset_reads_the_folder(tmp_path, monkeypatch, vectors):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "ds"
    _write_vectors_as(monkeypatch, vectors)
    manifest = storage.write_dataset(out, "ntm/repeat-copy-v1", 30, seed=4, shards=2)
    assert manifest["parquet"] == {"vectors": vectors}
    files = sorted(str(p) for p in (out / "data").glob("*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=files, split="train",
                               cache_dir=str(tmp_path / "hf"))  # fmt: skip
    expected = memtasks.generate("ntm/repeat-copy-v1", 30, seed=4)
    assert len(ds) == 30
    for i in (0, 17, 29):
        row, episode = ds[i], expected.episode(i)
        assert row["index"] == i
        if vectors == "lists":  # nested lists of numbers, as datasets shows them
            inputs, targets = np.asarray(row["inputs"], np.float32), np.asarray(row["targets"])
        else:  # a row of bytes per position
            inputs = _rows_of_bytes(row["inputs"], manifest["features"]["inputs"][0])
            targets = _rows_of_bytes(row["targets"], manifest["features"]["targets"][0])
        assert np.array_equal(inputs, episode["inputs"])
        assert np.array_equal(targets, episode["targets"])
        assert row["mask"] == episode["mask"].tolist()
        assert row["meta"] == {k: int(v) for k, v in episode["meta"].items()}
    # the shard names follow the Hub's convention, so the folder itself is a loadable dataset
    by_folder = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf2"))
    assert by_folder["index"] == list(range(30))
    # storage.hf_dataset gives either layout as nested lists: [T, D] arrays under numpy
    hf = storage.hf_dataset(out).with_format("numpy")
    for i in (0, 29):
        episode = expected.episode(i)
        assert np.array_equal(np.stack(hf[i]["inputs"]), episode["inputs"])
        assert np.array_equal(np.stack(hf[i]["targets"]), episode["targets"])


@pytest.mark.parametrize("task", ["ntm/copy-v1", "ntm/repeat-copy-v1", "longterm/adding-v1"])
def test_both_vector_layouts_read_back_the_same_episodes(tmp_path, monkeypatch, task):
    """Bits (uint8), floats, one and several channels: the bytes layout (the default) and the
    nested lists read back exactly; a folder mixing the two (a shard rewritten in the other
    layout) reads back and verifies all the same."""
    expected = memtasks.generate(task, 40, seed=7)
    sizes = {}
    for vectors in ("bytes", "lists"):
        out = tmp_path / vectors
        _write_vectors_as(monkeypatch, vectors)
        storage.write_dataset(out, task, 40, seed=7, shards=2)
        assert storage.read_dataset(out).equals(expected)
        assert storage.verify_dataset(out)
        sizes[vectors] = sum(f.stat().st_size for f in (out / "data").iterdir())
        schema = pq.read_schema(next((out / "data").iterdir()))
        stored_type = schema.field("inputs").type.value_type
        assert pa.types.is_fixed_size_binary(stored_type) == (vectors == "bytes")
    if task == "ntm/copy-v1":  # bits: rows of bytes compress better than lists of them
        assert sizes["bytes"] < sizes["lists"]
    shard = tmp_path / "bytes" / "data" / "train-00001-of-00002.parquet"
    pq.write_table(memtasks.generate(task, 20, seed=7, start=20).to_arrow(), shard)  # lists
    assert storage.read_dataset(tmp_path / "bytes").equals(expected)
    assert storage.verify_dataset(tmp_path / "bytes")


def test_the_vector_layout_is_a_format_option_that_reaches_worker_processes(tmp_path, capsys):
    """`--format-option vectors=lists` writes Arrow's nested lists (what a plain
    `load_dataset("parquet")` shows as numbers), also from worker processes; a layout that
    does not exist is one line, exit 1, and nothing written."""
    from _cli import run

    out = tmp_path / "lists"
    option = ("--format-option", "vectors=lists")
    code, _, err = run(capsys, "generate", "ntm/copy-v1", "-n", "400", "--workers", "2",
                       "--shards", "2", "--out", str(out), *option)  # fmt: skip
    assert code == 0, err
    assert json.loads((out / storage.MANIFEST).read_text())["parquet"] == {"vectors": "lists"}
    for shard in (out / "data").iterdir():
        stored_type = pq.read_schema(shard).field("inputs").type.value_type
        assert pa.types.is_fixed_size_list(stored_type), shard.name
    assert storage.read_dataset(out).equals(memtasks.generate("ntm/copy-v1", 400))
    code, _, err = run(capsys, "generate", "ntm/copy-v1", "-n", "4", "--out",
                       str(tmp_path / "bad"), "--format-option", "vectors=nested")  # fmt: skip
    assert code == 1 and "Traceback" not in err
    assert "option vectors must be one of bytes, lists, got 'nested'" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()


def test_a_manifest_naming_an_unknown_vector_layout_is_refused(tmp_path):
    out = tmp_path / "ds"
    storage.write_dataset(out, "ntm/copy-v1", 5)
    manifest = json.loads((out / storage.MANIFEST).read_text())
    assert manifest["parquet"] == {"vectors": "bytes"}
    manifest["parquet"] = {"vectors": "rows"}
    (out / storage.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(StorageError, match="parquet must be an object with vectors one of"):
        storage.read_dataset(out)
    del manifest["parquet"]  # a folder written before the entry existed: nested lists
    (out / storage.MANIFEST).write_text(json.dumps(manifest))
    assert storage.read_dataset(out).equals(memtasks.generate("ntm/copy-v1", 5))


def test_existing_output_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "ds"
    first = storage.write_dataset(out, "ntm/copy-v1", 5, seed=0)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(StorageError, match="already exists.*--overwrite"):
        storage.write_dataset(out, "ntm/copy-v1", 5, seed=1)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    second = storage.write_dataset(out, "ntm/copy-v1", 5, seed=1, overwrite=True)
    assert second["content_hash"] != first["content_hash"]
    assert storage.read_manifest(out)["seed"] == 1
    assert _leftovers(tmp_path) == []


def test_overwrite_never_replaces_a_folder_that_is_not_a_dataset(tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(StorageError, match="not a memtasks dataset folder"):
            storage.write_dataset(out, "ntm/copy-v1", 5, overwrite=overwrite)
    assert (out / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "a_file"
    a_file.write_text("also mine")
    with pytest.raises(StorageError, match="not a memtasks dataset folder"):
        storage.write_dataset(a_file, "ntm/copy-v1", 5, overwrite=True)
    assert a_file.read_text() == "also mine"


class _Interrupt(BaseException):
    """Stands in for Ctrl-C or a killed worker in the middle of a write."""


def _interrupt_after_first_piece(monkeypatch):
    real = storage._run_job

    def failing(job, on_chunk):
        real(job, on_chunk)
        raise _Interrupt

    monkeypatch.setattr(storage, "_run_job", failing)


def test_interrupted_write_leaves_nothing_that_looks_like_a_dataset(tmp_path, monkeypatch):
    _interrupt_after_first_piece(monkeypatch)
    out = tmp_path / "ds"
    with pytest.raises(_Interrupt):
        storage.write_dataset(out, "ntm/copy-v1", 50, shards=2)
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_interrupted_overwrite_keeps_the_old_dataset(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    old = storage.write_dataset(out, "ntm/copy-v1", 20, seed=0)
    _interrupt_after_first_piece(monkeypatch)
    with pytest.raises(_Interrupt):
        storage.write_dataset(out, "ntm/copy-v1", 20, seed=9, overwrite=True)
    assert storage.verify_dataset(out) == old["content_hash"]
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be at least 1"),
        ({"n": 5, "shards": 6}, r"shards must be an integer in \[1, n=5\]"),
        ({"n": 5, "format": "csv"}, "format must be one of parquet, jsonl"),
        ({"n": 5, "workers": 0}, "workers must be an integer >= 1"),
        ({"n": 5, "seed": -1}, "seed must be an integer"),
        ({"n": 5, "split": "no/slash"}, "split must be a name"),
        ({"n": 5, "knobs": {"width": 0}}, "knob 'width' must be an integer in"),
        ({"n": 5, "preset": "nope"}, "has no preset 'nope'"),
        ({"n": 5, "format": "babi"}, "ntm/copy-v1 cannot be written as bAbI text"),
        ({"n": 5, "shuffled": True}, "shuffled applies to format 'babi' only"),
        ({"n": 5, "dedup_against": 3}, "cannot be used when writing split 'train'"),
        ({"n": 5, "split": "test", "dedup_against": -1}, "dedup_against must be a non-negative"),
        (
            {"n": 5, "split": "test", "dedup_against": 100, "knobs": {"width": 1, "max_length": 1}},
            "too few distinct stories",
        ),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, kwargs, message):
    out = tmp_path / "ds"
    args = {"out": out, "task": "ntm/copy-v1", **kwargs}
    with pytest.raises(MemtasksError, match=message):
        storage.write_dataset(**args)
    assert os.listdir(tmp_path) == []


def test_verify_detects_changed_content(tmp_path):
    out = tmp_path / "ds"
    storage.write_dataset(out, "ntm/copy-v1", 30, seed=0, shards=2)
    assert storage.verify_dataset(out)
    shard = out / "data" / "train-00001-of-00002.parquet"
    table = pq.read_table(shard)
    other = memtasks.generate("ntm/copy-v1", 15, seed=1, start=15).to_arrow()
    assert table.num_rows == other.num_rows
    pq.write_table(other, shard)
    with pytest.raises(StorageError, match="does not match"):
        storage.verify_dataset(out)


def test_reading_something_that_is_not_a_dataset_names_the_problem(tmp_path):
    with pytest.raises(StorageError, match="is not a folder"):
        storage.read_dataset(tmp_path / "missing")
    with pytest.raises(StorageError, match="no memtasks.json"):
        storage.read_dataset(tmp_path)
    (tmp_path / storage.MANIFEST).write_text("{not json")
    with pytest.raises(StorageError, match="not valid JSON"):
        storage.read_manifest(tmp_path)


def test_missing_shard_and_malformed_jsonl_are_reported_with_their_place(tmp_path):
    out = tmp_path / "ds"
    storage.write_dataset(out, "ntm/copy-v1", 6, format="jsonl", shards=2)
    first = out / "data" / "train-00000-of-00002.jsonl"
    lines = first.read_text().splitlines()
    first.write_text(lines[0] + "\n{broken\n")
    with pytest.raises(StorageError, match=r"train-00000-of-00002\.jsonl:2: not a JSON object"):
        storage.read_dataset(out)
    first.unlink()
    with pytest.raises(StorageError, match="listed in memtasks.json but missing"):
        storage.read_dataset(out)


def test_iter_batches_streams_in_index_order(tmp_path):
    out = tmp_path / "ds"
    storage.write_dataset(out, "ntm/dynamic-ngrams-v1", 25, seed=0, shards=3)
    pieces = list(storage.iter_batches(out))
    assert len(pieces) == 3
    assert np.concatenate([p.index for p in pieces]).tolist() == list(range(25))


def test_jsonl_is_one_readable_object_per_episode(tmp_path):
    out = tmp_path / "ds"
    storage.write_dataset(out, "ntm/priority-sort-v1", 3, format="jsonl",
                          knobs={"num_items": 4, "num_outputs": 2})  # fmt: skip
    lines = (out / "data" / "train-00000-of-00001.jsonl").read_text().splitlines()
    assert len(lines) == 3
    record = json.loads(lines[1])
    assert record["index"] == 1
    assert len(record["inputs"]) == 4 + 1 + 2 and len(record["inputs"][0]) == 8 + 2
    assert record["mask"] == [False] * 5 + [True] * 2
    assert sorted(record["support"]) == sorted(set(record["support"]))


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_every_episode_once(tmp_path, workers):
    counts: list[int] = []
    storage.write_dataset(tmp_path / "ds", "ntm/copy-v1", 700, shards=3, workers=workers,
                          progress=counts.append)  # fmt: skip
    assert sum(counts) == 700
    assert counts[0] == 0  # the first call says every check passed, before any work
    assert all(c >= 0 for c in counts)


# one or two bits, one or two vectors: 20 distinct episodes, so held-out ones repeat training ones
_TINY_COPY = {"width": 2, "max_length": 2}


def test_dedup_with_shards_and_workers_matches_one_shard(tmp_path):
    from memtasks import dedup
    from memtasks.hashing import story_hashes

    one = storage.write_dataset(tmp_path / "one", "ntm/copy-v1", 60, seed=2, split="test",
                                knobs=_TINY_COPY, dedup_against=8)  # fmt: skip
    many = storage.write_dataset(tmp_path / "many", "ntm/copy-v1", 60, seed=2, split="test",
                                 knobs=_TINY_COPY, dedup_against=8, shards=3,
                                 workers=2)  # fmt: skip
    assert one["content_hash"] == many["content_hash"]
    assert one["dedup_dropped"] == many["dedup_dropped"] > 0
    back = storage.read_dataset(tmp_path / "many", verify=True)
    assert back.equals(storage.read_dataset(tmp_path / "one"))
    pieces = list(storage.iter_batches(tmp_path / "many"))
    assert [len(p) for p in pieces] == [20, 20, 20]  # shards split the kept episodes evenly
    for piece, entry in zip(pieces, many["files"], strict=True):
        lo, hi = entry["episodes"]  # a shard's range of stream indices, left-out ones included
        assert piece.index[0] == lo and piece.index[-1] == hi - 1
    train = story_hashes(memtasks.generate("ntm/copy-v1", 8, seed=2, **_TINY_COPY))
    assert not np.isin(story_hashes(back), train).any()
    expected = dedup.generate("ntm/copy-v1", 60, seed=2, split="test", against=8, **_TINY_COPY)
    assert back.equals(expected) and back.index[-1] == 59 + many["dedup_dropped"]
