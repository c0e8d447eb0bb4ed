"""``verify`` and the readers on damaged folders and lying manifests ("Reliability first").

A damaged file or a malformed manifest is one ``StorageError`` line naming the file and what is
wrong, from the library and from ``memtasks verify`` (exit 1, one stderr line), never another
exception. A manifest whose task, knobs, seed, split, start or files do not describe the stored
episodes fails ``verify``, which regenerates a sample of them; no reader opens a file outside
the dataset folder. The last part is a property suite: random corruptions of small real
folders in every format are refused or, where they change nothing the data holds, accepted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _cli import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memtasks
from memtasks import storage
from memtasks.errors import StorageError

TASK = "ntm/copy-v1"
BABI = "babi/qa1-v1"
SHARD = "data/train-00000-of-00002.parquet"
N = 20
WRITES = {
    "parquet": (TASK, {"shards": 2}),
    "jsonl": (TASK, {"shards": 2, "format": "jsonl"}),
    "babi": (BABI, {"format": "babi"}),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One small real dataset folder per format, written once; tests change copies of it."""
    root = tmp_path_factory.mktemp("written")
    for fmt, (task, kwargs) in WRITES.items():
        storage.write_dataset(root / fmt, task, N, seed=1, **kwargs)
    return root


@pytest.fixture
def copy(written, tmp_path):
    def make(fmt: str = "parquet"):
        out = tmp_path / fmt
        shutil.copytree(written / fmt, out, symlinks=True)
        return out

    return make


def edit(folder, change) -> None:
    """Rewrite the folder's manifest after ``change(manifest)``."""
    file = folder / storage.MANIFEST
    manifest = json.loads(file.read_text())
    change(manifest)
    file.write_text(json.dumps(manifest))


def one_line_error(capsys, folder) -> str:
    """`memtasks verify FOLDER` fails with exit 1 and one stderr line; returns that line."""
    code, out, err = run(capsys, "verify", str(folder))
    assert code == 1 and out == ""
    assert err.startswith("memtasks: error: ") and err.endswith("\n")
    assert len(err.splitlines()) == 1, err
    return err


READERS = {
    "verify_dataset": storage.verify_dataset,
    "read_dataset": storage.read_dataset,
    "read_dataset(verify)": lambda p: storage.read_dataset(p, verify=True),
    "iter_batches": lambda p: list(storage.iter_batches(p)),
}
CHECKERS = {k: READERS[k] for k in ("verify_dataset", "read_dataset(verify)")}


def refused(capsys, folder, pattern: str, readers=READERS) -> None:
    """Every reader, and `memtasks verify`, refuse ``folder`` in one line matching ``pattern``."""
    for read in readers.values():
        with pytest.raises(StorageError, match=pattern) as caught:
            read(folder)
        assert len(str(caught.value).splitlines()) == 1
    assert re.search(pattern, one_line_error(capsys, folder))


# -- item 8: damaged files and malformed manifests --------------------------------------------
def _flip(file, offset: int) -> None:
    data = bytearray(file.read_bytes())
    data[offset] ^= 0x5A
    file.write_bytes(bytes(data))


def _inputs_chunk(file) -> tuple[int, int]:
    column = pq.ParquetFile(file).metadata.row_group(0).column(1)  # inputs
    return column.data_page_offset, column.total_compressed_size


@pytest.mark.parametrize("where", ["page header", "compressed values", "footer"])  # its length
def test_a_flipped_byte_in_a_parquet_shard_is_one_line(capsys, copy, where):
    folder = copy()
    shard = folder / SHARD
    start, size = _inputs_chunk(shard)
    offset = {"page header": start + 2, "compressed values": start + size // 2,
              "footer": shard.stat().st_size - 6}[where]  # fmt: skip
    _flip(shard, offset)
    # a flip the decompressor does not notice still changes the episodes: the content hash
    refused(capsys, folder, r"train-00000-of-00002\.parquet|content hash .* does not match",
            CHECKERS)  # fmt: skip


@pytest.mark.parametrize(
    "damage, pattern",
    [
        (
            lambda f: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]),
            "not a readable Parquet",
        ),
        (lambda f: f.write_bytes(b""), "not a readable Parquet file .*0 bytes"),
        (lambda f: pq.write_table(pa.table({"a": [1, 2]}), f), "missing columns"),
        (
            lambda f: pq.write_table(memtasks.generate("ntm/repeat-copy-v1", 10).to_arrow(), f),
            r"meta fields .* are not the ones features\.meta",
        ),  # fmt: skip
        (lambda f: f.write_text("PAR1 not parquet PAR1"), "not a readable Parquet"),
    ],
    ids=["truncated", "empty", "foreign", "other-task", "text"],
)
def test_a_truncated_empty_or_foreign_shard_is_one_line_naming_it(capsys, copy, damage, pattern):
    folder = copy()
    damage(folder / SHARD)
    refused(capsys, folder, rf"train-00000-of-00002\.parquet.*{pattern}")


@pytest.mark.parametrize(
    "damage, pattern",
    [
        (lambda t: t.replace(b'"index":0', b'"index":' + b"9" * 5000, 1), ":1: not a JSON object"),
        (lambda t: b"[1, 2]\n" + t, r":1: not a JSON object \(got an array\)"),
        (lambda t: b"[" * 100_000 + b"]" * 100_000 + b"\n" + t, ":1: not a JSON object"),
        (lambda t: t.replace(b'"index":0', b'"index":' + str(2**70).encode(), 1), "do not match"),
        (lambda t: t[:30] + b"\xff" + t[31:], "not UTF-8 text"),
    ],
    ids=["huge-int", "array", "deep", "index-past-int64", "not-utf8"],
)
def test_damaged_jsonl_is_one_line_naming_the_file(capsys, copy, damage, pattern):
    folder = copy("jsonl")
    file = folder / "data" / "train-00000-of-00002.jsonl"
    file.write_bytes(damage(file.read_bytes()))
    refused(capsys, folder, rf"train-00000-of-00002\.jsonl.*{pattern}")


_MANIFEST_FAULTS = {
    "files-a-string": (lambda m: m.update(files="data"), "files must be a non-empty list"),
    "unknown-format": (lambda m: m.update(format="csv"), "format must be one of parquet"),
    "no-path": (lambda m: m["files"][0].pop("path"), r"files\[0\] must be \{path"),
    "negative-count": (lambda m: m.update(num_episodes=-1), "num_episodes must be an integer"),
    "count-off": (lambda m: m.update(num_episodes=21), r"num_episodes 21 \+ dedup_dropped 0"),
    "short-hash": (lambda m: m.update(content_hash="abc"), "content_hash must be 64"),
    "knobs-a-list": (lambda m: m.update(knobs=[1]), "knobs must be an object"),
    "seed-a-string": (lambda m: m.update(seed="1"), "seed must be an integer"),
    "seed-a-bool": (lambda m: m.update(seed=True), "seed must be an integer"),
    "split-a-path": (lambda m: m.update(split="../x"), "split must be a name"),
    "reversed-range": (lambda m: m["files"][1].update(episodes=[20, 10]), r"files\[1\]\.episodes"),
    "negative-positions": (lambda m: m["files"][0].update(positions=-1), r"files\[0\] must be"),
    "object-dtype": (
        lambda m: m["features"].update(inputs=["object", 9]),
        r"features\.inputs must be \[dtype",
    ),
    "huge-width": (lambda m: m["features"]["meta"].update(length=["int32", 2**40]), "width up to"),
    "no-task": (lambda m: m.pop("task"), "lacks task"),
    "task-unversioned": (lambda m: m.update(task="ntm/copy"), "task must be a versioned task id"),
    "version-contradicts-id": (lambda m: m.update(task_version=2), "task_version must be 1"),
    "newer-format": (lambda m: m.update(format_version=2), "format_version must be 1"),
    "positions-sum": (lambda m: m.update(num_positions=1), "num_positions is 1"),
    "phantom-drops": (lambda m: m.update(dedup_dropped=1), "files end at stream index 20"),
    "name-too-long": (lambda m: m["files"][0].update(path="a" * 300), "cannot be opened"),
}


@pytest.mark.parametrize("fault", _MANIFEST_FAULTS)
def test_a_malformed_manifest_is_one_line_naming_the_field(capsys, copy, fault):
    change, pattern = _MANIFEST_FAULTS[fault]
    folder = copy()
    edit(folder, change)
    refused(capsys, folder, rf"memtasks\.json: .*{pattern}")


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("[1, 2]", "must be a JSON object, got an array"),
        ('"memtasks"', "must be a JSON object, got a string"),
        ('{"num_episodes": ' + "1" * 5000 + "}", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ("{}", "lacks format_version, task"),
    ],
    ids=["array", "string", "huge-int", "deep", "empty-object"],
)
def test_a_manifest_that_is_not_an_object_is_one_line(capsys, copy, text, pattern):
    folder = copy()
    (folder / storage.MANIFEST).write_text(text)
    refused(capsys, folder, rf"memtasks\.json.*{pattern}")
    (folder / storage.MANIFEST).write_bytes(b'{"task": "\xff"}')
    refused(capsys, folder, r"memtasks\.json is not UTF-8 text")


def test_babi_entry_faults_are_one_line(capsys, copy):
    folder = copy("babi")
    faults = [
        (lambda m: m["babi"].update(indices=[[0, 10**12]]), r"babi\.indices must be ranges"),
        (lambda m: m["babi"].update(indices="0-20"), r"babi\.indices must be ranges"),
        (lambda m: m["babi"].update(read_back_hash=1), r"babi\.read_back_hash must be 64"),
        (lambda m: m["babi"].update(shuffled="no"), r"babi\.shuffled must be true or false"),
        (lambda m: m["layout"].update(vocab=None), r"needs layout\.vocab"),
        (  # the reader pads question rows to this width: it must not be told to allocate GBs
            lambda m: m["features"]["meta"].update(question_template=["int32", 2**20]),
            r"features\.meta\.question_template has width 1048576; a story task records at most",
        ),
    ]
    original = (folder / storage.MANIFEST).read_text()
    for change, pattern in faults:
        (folder / storage.MANIFEST).write_text(original)
        edit(folder, change)
        refused(capsys, folder, pattern)


# -- item 9: manifests that lie ---------------------------------------------------------------
def _other_task(m):  # another registered task, with its own valid knobs
    m.update(task="ntm/repeat-copy-v1", knobs=memtasks.get_spec("ntm/repeat-copy-v1").knobs()
             .to_dict())  # fmt: skip


def _shift(m, by=5):  # start and every range moved consistently: only the indices can tell
    m["start"] += by
    for entry in m["files"]:
        entry["episodes"] = [i + by for i in entry["episodes"]]
    if "babi" in m:
        m["babi"]["indices"] = [[lo + by, hi + by] for lo, hi in m["babi"]["indices"]]


_LIES = {
    "task": (_other_task, "ntm/repeat-copy-v1"),
    "knobs": (lambda m: m["knobs"].update(max_length=7), "stored episode 0 is not episode 0"),
    "seed": (lambda m: m.update(seed=2), "regenerated with the manifest's knobs, seed 2"),
    "split": (lambda m: m.update(split="test"), "seed 1 and split 'test'"),
    "start": (lambda m: m.update(start=1), r"files\[0\]\.episodes \[0, 10\] must be a range"),
    "start-and-ranges": (_shift, "(stored episode index 0 is outside|0 is before start 5)"),
    "layout": (lambda m: m["layout"].update(input_channels=["x"]), "layout is not the one"),
    "metric": (lambda m: m.update(metric="accuracy"), "metric 'accuracy' is not"),
    "features": (lambda m: m["features"]["meta"].pop("length"), "meta fields"),
}


@pytest.mark.parametrize("lie", _LIES)
def test_a_manifest_that_does_not_describe_the_data_fails_verify(capsys, copy, lie):
    change, pattern = _LIES[lie]
    folder = copy()
    assert storage.verify_dataset(folder)
    edit(folder, change)
    refused(capsys, folder, pattern, CHECKERS)


@pytest.mark.parametrize(
    "lie, pattern",
    [
        (lambda m: m["knobs"].update(recent=4), "the manifest does not describe this data"),
        (lambda m: m.update(seed=7), "the manifest does not describe this data"),
        (lambda m: m["knobs"].update(rooms=5), "layout is not the one babi/qa1-v1 has"),
    ],
    ids=["knobs", "seed", "vocabulary"],
)
def test_babi_text_lies_are_caught_on_the_read_back_episodes(capsys, copy, lie, pattern):
    folder = copy("babi")
    edit(folder, lie)
    refused(capsys, folder, pattern, CHECKERS)


def test_a_newer_generator_version_needs_no_regenerate(capsys, copy):
    folder = copy()
    digest = storage.verify_dataset(folder)
    edit(folder, lambda m: m.update(task="ntm/copy-v2", task_version=2))
    refused(capsys, folder, r"made by version 2 of the ntm/copy generator .* has ntm/copy-v1, so "
            r"its episodes cannot be regenerated.*--no-regenerate", CHECKERS)  # fmt: skip
    assert storage.verify_dataset(folder, regenerate=False) == digest
    assert storage.read_dataset(folder, verify=True, regenerate=False).task == "ntm/copy-v2"
    code, out, _ = run(capsys, "verify", str(folder), "--no-regenerate")
    assert code == 0 and out.startswith("ok: 20 episodes of ntm/copy-v2")
    assert "not regenerated (--no-regenerate)" in out
    edit(folder, lambda m: m.update(task="ntm/nope-v1", task_version=1))
    refused(capsys, folder, "task 'ntm/nope-v1' is not registered", CHECKERS)
    assert storage.verify_dataset(folder, regenerate=False) == digest


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "symlinked-folder"])
def test_no_reader_opens_a_file_outside_the_folder(capsys, copy, tmp_path, how):
    pytest.importorskip("datasets")
    outside = copy()  # a complete, valid dataset elsewhere: reading it would "work"
    folder = tmp_path / "lying"
    shutil.copytree(outside, folder)
    if how == "absolute":
        edit(folder, lambda m: m["files"][0].update(path=str(outside / SHARD)))
    elif how == "dotdot":
        edit(folder, lambda m: m["files"][0].update(path="../parquet/" + SHARD))
    elif how == "symlink":
        (folder / SHARD).unlink()
        os.symlink(outside / SHARD, folder / SHARD)
    else:
        shutil.rmtree(folder / "data")
        os.symlink(outside / "data", folder / "data")
    pattern = "must be a relative path inside" if how in ("absolute", "dotdot") else "leads outside"
    readers = {**READERS, "hf_dataset": storage.hf_dataset}
    refused(capsys, folder, rf"memtasks\.json: file path .*{pattern}", readers)
    if how == "symlink":  # a link that stays inside the folder is followed
        (folder / SHARD).unlink()
        shutil.copy(outside / SHARD, folder / "elsewhere.parquet")
        os.symlink(folder / "elsewhere.parquet", folder / SHARD)
        assert storage.verify_dataset(folder) == storage.verify_dataset(outside)


def test_verify_says_what_it_checked(capsys, copy):
    for fmt in WRITES:
        folder = copy(fmt)
        result = storage.check_dataset(folder)
        # the first, the last and others drawn by the content hash: at most 16, distinct
        assert 3 <= result.regenerated <= 16 and result.episodes == N
        code, out, _ = run(capsys, "verify", str(folder))
        assert code == 0
        assert (
            f"{result.regenerated} episodes (the first, the last and others at random) "
            "regenerated from its task, knobs, seed 1 and split 'train' match"
        ) in out
        assert "stored indices match the files' episode ranges" in out


def test_a_shard_holding_another_shards_episodes_is_caught(capsys, copy):
    # two shards swapped under each other's names: same episodes, same hash order broken
    folder = copy()
    first, second = folder / SHARD, folder / "data" / "train-00001-of-00002.parquet"
    first.rename(folder / "swap")
    second.rename(first)
    (folder / "swap").rename(second)
    refused(capsys, folder, r"(outside files\[0\]|must rise strictly)", CHECKERS)


_TINY = {"width": 2, "max_length": 2}  # 20 distinct stories: held-out ones repeat training ones


@pytest.fixture(scope="module")
def deduped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dedup") / "ds"
    storage.write_dataset(folder, TASK, 30, seed=2, split="test", knobs=_TINY, dedup_against=8,
                          shards=3)  # fmt: skip
    return folder


def test_verify_checks_the_dedup_against_training_stories(capsys, deduped):
    result = storage.check_dataset(deduped)
    assert result.manifest["dedup_dropped"] > 0 and result.left_out > 0
    code, out, _ = run(capsys, "verify", str(deduped))
    assert (
        code == 0
        and (
            "dedup: their stories are not among training episodes 0..7, and those of the "
            f"{result.left_out} left-out episodes checked are"
        )
        in out
    )


@pytest.mark.parametrize(
    "lie, pattern",
    [
        (lambda m: m.update(dedup_dropped=m["dedup_dropped"] + 1), r"num_episodes 30 \+ dedup_"),
        (lambda m: m.update(dedup_against=1), "left out, yet its story is not one of training"),
        (lambda m: m.update(dedup_against=100), "stored, yet its story is one of training"),
        (lambda m: m.update(split="train"), "cannot be used when writing split 'train'"),
    ],
    ids=["dropped", "fewer-training", "more-training", "train-split"],
)
def test_a_manifest_that_lies_about_dedup_fails_verify(capsys, deduped, tmp_path, lie, pattern):
    folder = shutil.copytree(deduped, tmp_path / "ds")
    edit(folder, lie)
    refused(capsys, folder, pattern, CHECKERS)


def test_dedup_against_is_checked_where_nothing_was_dropped(capsys, tmp_path):
    # a held-out split written without dedup, whose manifest claims dedup against training 0..99:
    # with 20 distinct stories some stored ones are training stories
    folder = tmp_path / "ds"
    storage.write_dataset(folder, TASK, 30, seed=2, split="test", knobs=_TINY)
    assert storage.check_dataset(folder).left_out == 0
    edit(folder, lambda m: m.update(dedup_against=100))
    refused(capsys, folder, "stored, yet its story is one of training episodes 0..99", CHECKERS)


# -- the property suite -----------------------------------------------------------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)  # fmt: skip
_TRICKY = st.sampled_from(
    [-1, 0, 1, 19, 20, 21, 2**63 - 1, 2**63, 2**64, 10**40, 1.0, True, None, "", "..",
     "/etc/passwd", "../parquet/memtasks.json", "data", "x" * 64, "0" * 64, [], {}, [0, 0],
     [5, 2], [0, 20], ["int32", None], "train", "test", "ntm/copy-v2", "babi/qa2-v1", "a" * 300,
     "x/" * 3000]
)  # fmt: skip
# fields verify cannot hold to the data: which memtasks wrote it, the preset's name (its values
# are in knobs), bAbI's prose and the content hash of the generated episodes (text does not keep
# question templates; the read-back hash is checked instead)
_UNCHECKED = {("memtasks_version",), ("preset",), ("babi", "read_back")}
_UNCHECKED_BABI = {("content_hash",)}
# fields a manifest may lack: descriptions (and dedup_dropped, 0 when absent; parquet's vector
# layout, absent in folders written before it existed, whose shards each name their own layout)
_OPTIONAL = {("memtasks_version",), ("preset",), ("dedup_against",), ("metric",), ("layout",),
             ("num_positions",), ("dedup_dropped",), ("babi", "read_back"),
             ("babi", "space_before_tab"), ("babi", "cipher"), ("parquet",)}  # fmt: skip


def _paths(value, prefix=()):
    """Every (key or index) path into a manifest, parents before their children."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _settle(capsys, folder, original, may_pass: bool) -> None:
    """The property: verify raises StorageError of one line, or passes only where allowed and
    only with the original episodes; the command line agrees (exit 1 and one stderr line)."""
    try:
        storage.verify_dataset(folder)
    except StorageError as exc:
        assert len(str(exc).splitlines()) == 1 and str(exc)
        one_line_error(capsys, folder)
        return
    assert may_pass, "verify passed a changed dataset"
    assert storage.read_dataset(folder).equals(original)
    assert run(capsys, "verify", str(folder))[0] == 0


@pytest.fixture(scope="module")
def originals(written):
    return {fmt: storage.read_dataset(written / fmt) for fmt in WRITES}


# one test per kind of corruption, over all three formats (each example draws one)
_SUITE = settings(max_examples=50, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
_FORMAT = st.sampled_from(sorted(WRITES))


def _scratch_copy(written, scratch: str, fmt: str) -> Path:
    return Path(shutil.copytree(written / fmt, os.path.join(scratch, fmt), symlinks=True))


def _any_file(data, folder: Path) -> Path:
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return folder / data.draw(st.sampled_from(files), label="file")


@_SUITE
@given(fmt=_FORMAT, data=st.data())
def test_flipped_bytes_are_refused_or_change_nothing(capsys, written, originals, tmp_path, fmt,
                                                      data):  # fmt: skip
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        folder = _scratch_copy(written, scratch, fmt)
        file = _any_file(data, folder)  # a shard, the text, or memtasks.json itself
        raw = bytearray(file.read_bytes())
        for _ in range(data.draw(st.integers(1, 4), label="flips")):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
        file.write_bytes(bytes(raw))
        # may pass: a flip in Parquet statistics, or in prose of the manifest, changes no episode
        _settle(capsys, folder, originals[fmt], may_pass=True)


@_SUITE
@given(fmt=_FORMAT, data=st.data())
def test_truncated_files_are_refused(capsys, written, originals, tmp_path, fmt, data):
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        folder = _scratch_copy(written, scratch, fmt)
        file = _any_file(data, folder)
        raw = file.read_bytes()
        length = data.draw(st.integers(0, len(raw) - 1), label="length")
        file.write_bytes(raw[:length])
        # only a final newline (or other trailing blanks) may go without changing anything
        _settle(capsys, folder, originals[fmt], may_pass=not raw[length:].strip())


@_SUITE
@given(fmt=_FORMAT, value=_JSON)
def test_a_random_json_manifest_is_refused(capsys, written, originals, tmp_path, fmt, value):
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        folder = _scratch_copy(written, scratch, fmt)
        (folder / storage.MANIFEST).write_text(json.dumps(value))
        _settle(capsys, folder, originals[fmt], may_pass=False)


@_SUITE
@given(fmt=_FORMAT, data=st.data())
def test_one_mutated_manifest_field_is_refused_unless_it_is_a_no_op(
    capsys, written, originals, tmp_path, fmt, data
):
    manifest = json.loads((written / fmt / storage.MANIFEST).read_text())
    # every field and item, but not each word of a vocabulary (it would crowd out the rest)
    paths = [p for p in _paths(manifest) if p and not (p[:2] == ("layout", "vocab") and p[2:])]
    path = data.draw(st.sampled_from(paths), label="field")
    delete = data.draw(st.booleans(), label="delete")
    value = None if delete else data.draw(_JSON | _TRICKY | st.integers(), label="value")
    changed = json.loads(json.dumps(manifest))
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    same = json.dumps(changed, sort_keys=True) == json.dumps(manifest, sort_keys=True)
    unchecked = _UNCHECKED | (_UNCHECKED_BABI if fmt == "babi" else set())
    may_pass = same or path in unchecked or (delete and path in _OPTIONAL)
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        folder = _scratch_copy(written, scratch, fmt)
        (folder / storage.MANIFEST).write_text(json.dumps(changed))
        _settle(capsys, folder, originals[fmt], may_pass)


def test_the_sample_is_reproducible_and_bounded():
    first = storage._sample(10**12, "ab" * 32)
    assert np.array_equal(first, storage._sample(10**12, "ab" * 32))
    assert first[0] == 0 and first[-1] == 10**12 - 1 and len(first) <= 16
    assert storage._sample(5, "ab" * 32).tolist() == [0, 1, 2, 3, 4]
