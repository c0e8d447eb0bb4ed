"""Real datasets as registry citizens (memtasks/datasets.py, storage.load_dataset, `memtasks
load`): where source files come from (a folder, an archive with a top folder, $MEMTASKS_DATA,
never the Hub unless asked), their checksums, the folder `load` writes and what `verify` says of
it, and the one-line refusals (bad path, missing file, wrong checksum, malformed line) that
leave nothing written. The bAbI release's fixture files stand in for the real ones."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _cli import run

import memtasks
from memtasks import storage
from memtasks.datasets import DatasetSpec, Source, SourceFile, open_source, read
from memtasks.errors import LoaderError, MemtasksError, UnknownTaskError
from memtasks.loaders import babi
from memtasks.registry import get_dataset, get_task

EN = "babi/release-en-v1"
QA1 = "en/qa1_single-supporting-fact_train.txt"
RELEASES = [f"babi/release-{v}-v1" for v in babi.VARIANTS]


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """The en variant's fixture files, as the release unpacks (tasks_1-20_v1-2/en/...)."""
    root = tmp_path / "src" / "tasks_1-20_v1-2"
    babi.fixture(root, "en")
    return root


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- the registry ---------------------------------------------------------------------------
def test_the_release_variants_are_datasets_beside_the_tasks():
    assert set(RELEASES) <= set(memtasks.list_datasets("babi"))
    assert not set(memtasks.list_datasets()) & set(memtasks.list_tasks())
    for dataset in RELEASES:
        spec = memtasks.get_spec(dataset)
        assert isinstance(spec, DatasetSpec) and spec.card.is_file(), dataset
        assert spec.knobs().task == 1
    assert get_dataset("babi/release-en-valid").splits == ("train", "validation", "test")


def test_a_dataset_is_not_generated_and_a_task_is_not_loaded():
    with pytest.raises(UnknownTaskError, match="is a dataset of real data.*memtasks load"):
        get_task(EN)
    with pytest.raises(MemtasksError, match="is a dataset of real data"):
        memtasks.generate(EN, 3)
    with pytest.raises(UnknownTaskError, match="is a generated task"):
        get_dataset("ntm/copy-v1")
    with pytest.raises(MemtasksError, match="splits train, test, not 'valid'"):
        memtasks.load(EN, "valid", "nowhere")


# -- where the files come from --------------------------------------------------------------
def test_a_folder_an_archive_or_the_variants_folder_give_the_same_episodes(release, tmp_path):
    folder = memtasks.load(EN, "train", release, task=8, checksums=False)
    tgz = tmp_path / "tasks_1-20_v1-2.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(release, arcname="tasks_1-20_v1-2")
    archive = tmp_path / "babi.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in release.rglob("*.txt"):
            z.write(path, "tasks_1-20_v1-2/" + str(path.relative_to(release)))
    for path in (tgz, archive, release / "en", release.parent):
        batch = memtasks.load(EN, "train", path, task=8, checksums=False)
        assert batch.equals(folder) and batch.task == EN, path
    assert folder.meta["task"].tolist() == [8]


def test_without_a_path_memtasks_data_is_used_or_the_error_says_what_to_get(release, monkeypatch):
    monkeypatch.delenv("MEMTASKS_DATA", raising=False)
    with pytest.raises(LoaderError) as caught:
        memtasks.load(EN)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{EN}: no source files")
    assert "tasks_1-20_v1-2.tar.gz" in message and "MEMTASKS_DATA" in message
    data = release.parent.parent / "data"
    (data / "babi").mkdir(parents=True)
    os.rename(release, data / "babi" / "tasks_1-20_v1-2")
    monkeypatch.setenv("MEMTASKS_DATA", str(data))
    assert len(memtasks.load(EN, checksums=False)) == 2
    monkeypatch.setenv("MEMTASKS_DATA", str(data / "elsewhere"))
    with pytest.raises(LoaderError, match=r"no source files in \$MEMTASKS_DATA/babi"):
        memtasks.load(EN)


def test_bad_paths_are_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    for path, needle in (
        (tmp_path / "missing", "no such file or folder"),
        (tmp_path / "notes.txt", "neither a folder nor an archive"),
        (tmp_path, f"has no file {QA1}"),
    ):
        with pytest.raises(LoaderError, match=needle) as caught:
            memtasks.load(EN, "train", path)
        assert "\n" not in str(caught.value)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(LoaderError, match="cannot be read as a tar archive"):
        memtasks.load(EN, "train", broken)


def test_a_file_twice_at_the_same_depth_is_ambiguous(tmp_path):
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"a/{QA1}", "1 Mary went home.\n")
        z.writestr(f"b/{QA1}", "1 John went home.\n")
    with pytest.raises(LoaderError, match="more than once"):
        Source(archive).read_bytes(QA1)


def _hub_spec(hub_id: str | None) -> DatasetSpec:
    return dataclasses.replace(get_dataset(EN), hub_id=hub_id)


def test_the_hub_is_used_only_when_asked_and_fails_fast_offline(monkeypatch):
    with pytest.raises(LoaderError, match="has no copy on the Hugging Face Hub"):
        open_source(_hub_spec(None), hub=True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(LoaderError) as caught:
        open_source(_hub_spec("someone/babi"), hub=True)
    assert "--hub needs the network" in str(caught.value) and "\n" not in str(caught.value)


# -- checksums --------------------------------------------------------------------------------
def test_a_file_that_is_not_the_releases_is_refused_unless_asked(release):
    with pytest.raises(LoaderError) as caught:
        memtasks.load(EN, "train", release)  # fixture files are not the released ones
    message = str(caught.value)
    assert f"{QA1}: sha256 " in message and babi.RELEASE_SHA256[QA1] in message
    assert "--no-checksums" in message and "\n" not in message
    good = SourceFile(QA1, None)
    with Source(release) as source:
        data = source.read_bytes(good)
        digest = source.sources()[0]["sha256"]
    assert len(data) == source.sources()[0]["bytes"]
    with Source(release) as source:  # the right hash passes, a wrong one does not
        assert source.read_bytes(SourceFile(QA1, digest)) == data
    with Source(release) as source, pytest.raises(LoaderError, match="is not the release's"):
        source.read_bytes(SourceFile(QA1, "0" * 64))
    with Source(release, checksums=False) as source:
        assert source.read_bytes(SourceFile(QA1, "0" * 64)) == data


def test_every_split_shares_one_vocabulary(release):
    train = read(EN, "train", release, checksums=False, task=1)
    test = read(EN, "test", release, checksums=False, task=1)
    assert train.layout == test.layout
    words = train.layout.vocab
    assert "Fred" in words  # only the test file has it
    assert [s["name"] for s in train.sources] == [QA1, QA1.replace("train", "test")]
    for batch in (train.batch, test.batch):
        assert int(batch.inputs.max()) < len(words)


# -- memtasks load ----------------------------------------------------------------------------
def test_load_writes_the_folder_generate_writes_and_verify_checks_it(capsys, release, tmp_path):
    out = tmp_path / "qa8"
    args = ["--split", "test", "--set", "task=8", "--no-checksums", "-q"]
    code, stdout, err = run(capsys, "load", EN, "--path", str(release), "--out", str(out), *args)
    assert code == 0, err
    assert "wrote 2 episodes of babi/release-en-v1 (split test)" in stdout
    manifest = json.loads((out / storage.MANIFEST).read_text())
    assert manifest["dataset"] == EN and manifest["knobs"] == {"task": 8}
    assert "task" not in manifest and "seed" not in manifest
    names = [s["name"] for s in manifest["sources"]]
    # in the order read: every split's file (one vocabulary), train first
    assert names == ["en/qa8_lists-sets_train.txt", "en/qa8_lists-sets_test.txt"]
    for entry in manifest["sources"]:
        data = (release / entry["name"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert [f["path"] for f in manifest["files"]] == ["data/test-00000-of-00001.parquet"]
    stored = storage.read_dataset(out)
    expected = memtasks.load(EN, "test", release, checksums=False, task=8)
    assert stored.equals(expected) and stored.task == EN
    assert manifest["content_hash"] == expected.content_hash()
    assert manifest["layout"]["vocab"][:4] == list(babi.SPECIAL)
    code, stdout, err = run(capsys, "verify", str(out))
    assert code == 0, err
    assert (
        stdout.startswith("ok: 2 episodes of babi/release-en-v1")
        and "nothing is regenerated" in stdout
    )


def test_load_refuses_to_replace_without_overwrite(capsys, release, tmp_path):
    out = tmp_path / "out"
    args = ["load", EN, "--path", str(release), "--out", str(out), "--no-checksums", "-q"]
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args)
    assert code == 1 and "already exists; use --overwrite" in err
    assert run(capsys, *args, "--overwrite", "--set", "task=2")[0] == 0
    assert json.loads((out / storage.MANIFEST).read_text())["knobs"] == {"task": 2}


def _missing(root: Path) -> str:
    (root / QA1).unlink()
    return f"has no file {QA1}"


def _malformed(root: Path) -> str:
    path = root / QA1
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("\t", " ")  # a question whose TABs became spaces
    path.write_text("\n".join(lines) + "\n")
    return f"{QA1}:3: expected a question line"


def _bad_id(root: Path) -> str:
    path = root / QA1
    path.write_text(path.read_text().replace("2 John", "7 John", 1))
    return f"{QA1}:2: line id 7 breaks the sequence"


def _not_utf8(root: Path) -> str:
    path = root / QA1
    path.write_bytes(path.read_bytes() + b"4 \xff\n")
    return f"{QA1}:7: expected UTF-8 text"


@pytest.mark.parametrize(
    "fault,args",
    [
        (_missing, ["--no-checksums"]),
        (_malformed, ["--no-checksums"]),
        (_bad_id, ["--no-checksums"]),
        (_not_utf8, ["--no-checksums"]),
        (lambda root: f"{QA1}: sha256 ", []),  # fixture files are not the release's
        (lambda root: "no such file or folder", ["--path", "/nonexistent/babi"]),
        (lambda root: "not 'dev'", ["--split", "dev"]),
        (lambda root: "has no knob 'tsak'", ["--set", "tsak=3"]),
        (lambda root: "format must be one of", ["--format", "csv"]),
    ],
)
def test_a_fault_is_one_line_exit_1_and_nothing_written(capsys, release, tmp_path, fault, args):
    needle = fault(release)
    before = listing(tmp_path)
    out = tmp_path / "new" / "deeper" / "out"
    code, stdout, err = run(capsys, "load", EN, "--path", str(release), "--out", str(out),
                            *args, "-q")  # fmt: skip
    assert code in (1, 2) and stdout == ""
    assert code == (2 if "--format" in args else 1)
    assert err.count("\n") == 1 and err.startswith("memtasks: error: "), err
    assert needle in err
    assert listing(tmp_path) == before  # no folder, no temporary folder, no lock


# -- write_batches ----------------------------------------------------------------------------
def _manifest(split: str = "train") -> dict:
    layout = {"input_dtype": "int32", "target_dtype": "int32", "vocab": ["<pad>", "a"]}
    return {"dataset": "mine/echo-v1", "knobs": {}, "split": split, "layout": layout}


def _batches(release: Path, parts: int = 3):
    batch = memtasks.load(EN, "test", release, checksums=False, task=1)
    both = batch.concat([batch, batch])
    both.index[:] = np.arange(len(both))
    cut = np.linspace(0, len(both), parts + 1).astype(int)
    return [both[cut[k] : cut[k + 1]] for k in range(parts)], both


def test_write_batches_shards_and_round_trips(release, tmp_path):
    pieces, every = _batches(release)
    for shards in (1, 2):
        out = tmp_path / f"s{shards}"
        made = storage.write_batches(out, iter(pieces), manifest=_manifest(), shards=shards)
        assert len(made["files"]) == shards and made["num_episodes"] == len(every)
        assert storage.read_dataset(out).equals(every)
        assert storage.check_dataset(out).regenerated == 0
        assert made["content_hash"] == every.content_hash()


def test_write_batches_refuses_indices_that_skip_and_writes_nothing(release, tmp_path):
    pieces, _ = _batches(release)
    pieces[1].index[:] += 5
    with pytest.raises(MemtasksError, match="indices must rise by one"):
        storage.write_batches(tmp_path / "out", iter(pieces), manifest=_manifest())
    with pytest.raises(MemtasksError, match="no episodes to write"):
        storage.write_batches(tmp_path / "out", iter([]), manifest=_manifest())
    with pytest.raises(MemtasksError, match="manifest must name its 'task' or 'dataset'"):
        storage.write_batches(tmp_path / "out", iter(pieces), manifest={"split": "train"})
    assert not (tmp_path / "out").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".out")] == []


# -- formats and the text format's option -------------------------------------------------
def test_formats_lists_the_core_formats_and_the_familys_text(capsys):
    code, out, _ = run(capsys, "formats")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines() if not line.startswith(" ")]
    assert names[:2] == ["parquet", "jsonl"]  # the core's first, each with its options below
    assert "--format-option vectors=(text, default 'bytes')" in out
    assert "babi" in out and "--format-option shuffled=(true/false, default False)" in out


def test_info_shows_a_datasets_splits_files_and_how_to_get_them(capsys):
    code, out, _ = run(capsys, "info", "babi/release-en-valid-v1")
    assert code == 0
    for needle in ("splits: train, validation, test", "en-valid/qa1_valid.txt",
                   "tasks_1-20_v1-2.tar.gz", "MEMTASKS_DATA/babi/tasks_1-20_v1-2",
                   "data_cards/babi/release.md", "memtasks load"):  # fmt: skip
        assert needle in out, needle
    code, out, _ = run(capsys, "info", EN)
    assert f"{QA1}  sha256 {babi.RELEASE_SHA256[QA1]}" in out


# -- families from entry points ---------------------------------------------------------------
def test_another_distribution_registers_its_own_family(tmp_path):
    """A package with an entry point in the group memtasks.families registers its task on
    the registry's first use, without memtasks knowing its name."""
    package = tmp_path / "echotasks"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent("""
        from dataclasses import dataclass

        import numpy as np

        from memtasks.episode import EpisodeBatch
        from memtasks.knobs import Knobs, knob
        from memtasks.metrics import AnswerMetric
        from memtasks.registry import Layout, TaskSpec, register


        @dataclass(frozen=True)
        class EchoKnobs(Knobs):
            length: int = knob(3, lo=1, hi=10, doc="tokens")


        def generate(knobs, key, start, count):
            n = knobs.length
            return EpisodeBatch.from_lengths(
                np.full(count, n, np.int64),
                inputs=np.ones(count * n, np.int32), targets=np.ones(count * n, np.int32),
                mask=np.ones(count * n, bool), role=np.zeros(count * n, np.int8),
                segment=np.zeros(count * n, np.int32),
                index=np.arange(start, start + count, dtype=np.int64),
            )


        register(TaskSpec(
            id="echo/echo-v1", summary="say it back", knobs=EchoKnobs, generator=generate,
            layout=lambda k: Layout("int32", "int32", vocab=("<pad>", "a")),
            metric=AnswerMetric(),
        ))
    """)
    )
    info = tmp_path / "echotasks-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echotasks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[memtasks.families]\necho = echotasks\n")
    script = (
        "import memtasks; print(memtasks.list_tasks('echo')); "
        "print(len(memtasks.generate('echo/echo-v1', 2, length=4).inputs))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "MEMTASKS_QUIET": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['echo/echo-v1']", "8"]


def test_a_broken_family_is_skipped_with_a_warning(tmp_path):
    info = tmp_path / "broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[memtasks.families]\nbroken = no_such_module_here\n")
    script = "import memtasks; print(len(memtasks.list_tasks('ntm')))"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "MEMTASKS_QUIET": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5"
    assert "family 'broken' (no_such_module_here" in done.stderr and "is skipped" in done.stderr


REAL = os.environ.get("MEMTASKS_BABI_DIR", "")


@pytest.mark.skipif(
    not REAL or not list(Path(REAL).glob("en/*_train.txt")),
    reason="set MEMTASKS_BABI_DIR to an unpacked bAbI release (a folder with en/*.txt)",
)
def test_the_recorded_checksums_are_the_release_files():
    """The SHA-256 recorded in memtasks/loaders/babi.py are those of the released files."""
    checked = 0
    for name, digest in babi.RELEASE_SHA256.items():
        path = Path(REAL) / name
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
            checked += 1
    assert checked == len(list(Path(REAL).glob("en/*_train.txt"))) == 20


# -- memtasks show of a dataset --------------------------------------------------------------
def test_show_reads_a_datasets_episodes_from_its_files(release, capsys):
    """`show` renders the episodes `load` would write: a story as its release text, through the
    family's renderer, for the slice asked."""
    code, out, err = run(
        capsys, "show", EN, "--path", str(release), "--no-checksums", "-n", "1", "--start", "1"
    )
    assert code == 0, err
    whole = memtasks.load(EN, "train", release, checksums=False)
    assert f"episode {int(whole.index[1])} " in out
    first_line = (release / QA1).read_text().splitlines()[0]
    # the second story's first line is a statement of the same task: its words are printed
    second = [line for line in (release / QA1).read_text().splitlines() if line.startswith("1 ")]
    assert second[1].split(" ", 1)[1] in out and first_line.split(" ", 1)[1] not in out


def test_show_of_a_dataset_refuses_a_start_past_the_split_and_path_on_a_task(release, capsys):
    code, _, err = run(capsys, "show", EN, "--path", str(release), "--no-checksums",
                       "--start", "100000")  # fmt: skip
    assert code == 1 and err.count("\n") == 1 and "--start 100000 is past the" in err
    code, _, err = run(capsys, "show", "ntm/copy-v1", "--path", str(release))
    assert code == 1 and err.count("\n") == 1 and "is a generated task" in err
