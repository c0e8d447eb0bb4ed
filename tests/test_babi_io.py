"""bAbI text datasets and train/test hygiene: ``memtasks generate --format babi
[--format-option shuffled=true]`` writes the released format next to memtasks.json, ``verify``
and ``read_dataset`` read it back;
``--dedup-against N`` leaves out held-out stories that are training stories."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from _cli import run

import memtasks
from memtasks import dedup, storage
from memtasks.errors import MemtasksError, StorageError
from memtasks.hashing import story_hashes
from memtasks.loaders.babi import cipher, read_file, text_file_name, to_text
from memtasks.loaders.babi_text import as_read_back

TASK = "babi/qa1-v1"
FILE = "qa1_single-supporting-fact_{}.txt"
# one actor moving between two rooms, one move and one question per story: a tiny state
# space, so that test stories often repeat training stories
TINY = {"actors": 1, "rooms": 2, "questions": 1, "statements_per_question": 1}


def vocab(**knobs) -> tuple[str, ...]:
    spec = memtasks.get_spec(TASK)
    return spec.layout(spec.make_knobs(**knobs)).vocab


def test_generate_format_babi_writes_the_release_format_and_reads_back(capsys, tmp_path):
    out = tmp_path / "qa1"
    code, stdout, err = run(capsys, "generate", TASK, "-n", "1000", "--format", "babi", "--out",
                            str(out), "-q")  # fmt: skip
    assert code == 0, err
    assert sorted(os.listdir(out)) == ["memtasks.json", FILE.format("train")]
    expected = memtasks.generate(TASK, 1000)
    text = (out / FILE.format("train")).read_text()
    assert text == to_text(expected, vocab(), space_before_tab=True)
    assert text.startswith("1 ") and " \t" in text and text.count("\n1 ") == 999
    manifest = storage.read_manifest(out)
    assert manifest["format"] == "babi" and manifest["num_episodes"] == 1000
    assert manifest["content_hash"] == expected.content_hash()  # as parquet would record
    assert manifest["content_hash"][:16] in stdout
    babi = manifest["babi"]
    assert babi["indices"] == [[0, 1000]] and babi["shuffled"] is False
    assert babi["space_before_tab"] is True and "read_file" in babi["read_back"]
    assert manifest["layout"]["vocab"] == list(vocab())
    assert manifest["dedup_against"] == 0 and manifest["dedup_dropped"] == 0
    # read back: the same episodes, except the question templates text does not record
    back = storage.read_dataset(out, verify=True)
    assert back.task == TASK
    assert back.equals(as_read_back(expected))
    assert (back.meta["question_template"] == -1).all()
    assert not back.equals(expected)
    code, stdout, _ = run(capsys, "verify", str(out))
    assert code == 0 and stdout.startswith("ok: 1,000 episodes of babi/qa1-v1, bAbI text")


def test_shuffled_text_is_the_cipher_of_the_plain_text(tmp_path):
    out = tmp_path / "shuffled"
    manifest = storage.write_dataset(out, TASK, 50, seed=3, split="test", start=5,
                                     format="babi", shuffled=True, knobs={"rooms": 8})  # fmt: skip
    expected = memtasks.generate(TASK, 50, seed=3, split="test", start=5, rooms=8)
    text = (out / FILE.format("test")).read_text()
    assert text == cipher(to_text(expected, vocab(rooms=8), space_before_tab=True))
    assert "Mary" not in text and "Where" not in text
    assert manifest["babi"]["cipher"]["lower"][:3] == "cgb"
    back = storage.read_dataset(out, verify=True)
    assert back.index.tolist() == list(range(5, 55))
    assert back.equals(as_read_back(expected))
    # the loader alone gives the same stories (vocabulary in file order)
    plain, words = read_file(out / FILE.format("test"), memtasks_cipher=True)
    assert [words[t] for t in plain.inputs] == [vocab(rooms=8)[t] for t in expected.inputs]


def test_verify_notices_edited_and_broken_text(tmp_path):
    out = tmp_path / "ds"
    storage.write_dataset(out, TASK, 20, format="babi")
    file = out / FILE.format("train")
    text = file.read_text()
    assert storage.verify_dataset(out)
    first_answer = text.split("\t")[1]
    other = "kitchen" if first_answer != "kitchen" else "garden"
    file.write_text(text.replace(f"\t{first_answer}\t", f"\t{other}\t", 1))
    with pytest.raises(StorageError, match="does not match"):
        storage.verify_dataset(out)
    lines = text.splitlines()
    lines[4] = "7" + lines[4][1:]
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(StorageError, match=r"qa1_single-supporting-fact_train\.txt:5: line id 7"):
        storage.read_dataset(out)
    file.write_text(text.replace("Mary", "Maria"))
    with pytest.raises(StorageError, match="'Maria' is not in the given vocabulary"):
        storage.verify_dataset(out)
    file.unlink()
    with pytest.raises(StorageError, match="listed in memtasks.json but missing"):
        storage.verify_dataset(out)


def test_babi_format_keeps_the_overwrite_rules(capsys, tmp_path):
    out = tmp_path / "ds"
    args = ["generate", TASK, "-n", "5", "--format", "babi", "--out", str(out), "-q"]
    assert run(capsys, *args)[0] == 0
    before = (out / FILE.format("train")).read_bytes()
    code, _, err = run(capsys, *args, "--seed", "1")
    assert code == 1 and "already exists" in err and "--overwrite" in err
    assert (out / FILE.format("train")).read_bytes() == before
    assert run(capsys, *args, "--seed", "1", "--overwrite")[0] == 0
    assert (out / FILE.format("train")).read_bytes() != before
    assert storage.read_manifest(out)["seed"] == 1
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ntm/copy-v1", "--format", "babi"], "ntm/copy-v1 cannot be written as bAbI text"),
        ([TASK, "--format", "babi", "--shards", "2"], "shards must be 1"),
        ([TASK, "--format-option", "shuffled=true"], "shuffled applies to format 'babi' only"),
        ([TASK, "--dedup-against", "10"], "cannot be used when writing split 'train'"),
        ([TASK, "--split", "test", "--dedup-against", "1000"] + [
            f"--set={k}={v}" for k, v in TINY.items()
        ], "too few distinct stories for dedup_against=1000"),
    ],
)  # fmt: skip
def test_refusals_are_one_line_and_write_nothing(capsys, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "generate", *args, "-n", "5", "--out", "x", "-q")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("memtasks: error: ")
    assert needle in err
    assert os.listdir(tmp_path) == []


def test_babi_file_names():
    assert text_file_name("babi/qa1-v1", "train") == "qa1_single-supporting-fact_train.txt"
    assert text_file_name("babi/qa20-v2", "test") == "qa20_agents-motivations_test.txt"
    assert text_file_name("world/qa-v1", "validation") == "world-qa_validation.txt"


def test_workers_write_pieces_joined_into_one_file(tmp_path, monkeypatch):
    knobs = {"questions": 1, "statements_per_question": 1}
    one = storage.write_dataset(tmp_path / "one", TASK, 600, format="babi", knobs=knobs)
    # two workers write two pieces; they run one after the other here (spawning processes
    # that compile the task costs minutes), the processes' own path is test_storage's
    real = storage._write_all
    jobs_seen = []

    def serial(jobs, workers, *rest):
        jobs_seen.append(len(jobs))
        return real(jobs, 1, *rest)

    monkeypatch.setattr(storage, "_write_all", serial)
    two = storage.write_dataset(tmp_path / "two", TASK, 600, format="babi", knobs=knobs,
                                workers=2)  # fmt: skip
    assert jobs_seen == [2]
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
    name = FILE.format("train")
    assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert one["content_hash"] == two["content_hash"]
    assert one["babi"] == two["babi"]


def test_a_worker_returns_the_hashes_of_the_text_as_read_back(tmp_path, monkeypatch):
    import queue

    monkeypatch.setattr(storage, "_done_episodes", queue.Queue())
    spec = memtasks.get_spec(TASK)
    knobs = spec.knobs().to_dict()
    job = storage._ShardJob(TASK, knobs, 0, "test", 10, 30, 8, str(tmp_path / "piece.txt"),
                            "babi", np.array([12, 13]))  # fmt: skip
    positions, pieces = storage._worker(job)
    index = np.concatenate([p[0] for p in pieces])
    assert index.tolist() == [10, 11, *range(14, 30)]
    expected = memtasks.generate(TASK, 20, split="test", start=10)[
        np.isin(np.arange(10, 30), index)
    ]
    assert positions == expected.num_positions
    assert np.concatenate([p[1] for p in pieces]).tolist() == expected.episode_hashes().tolist()
    back = as_read_back(expected).episode_hashes()
    assert np.concatenate([p[2] for p in pieces]).tolist() == back.tolist()
    assert (tmp_path / "piece.txt").read_text() == to_text(expected, vocab(), space_before_tab=True)


# -- dedup ---------------------------------------------------------------------------------
def train_hashes(n: int) -> np.ndarray:
    return story_hashes(memtasks.generate(TASK, n, **TINY))


def test_without_dedup_a_tiny_task_repeats_training_stories():
    test = memtasks.generate(TASK, 200, split="test", **TINY)
    repeated = np.isin(story_hashes(test), train_hashes(4))
    assert 0.1 < repeated.mean() < 0.9


@pytest.mark.parametrize("fmt", ["parquet", "babi"])
def test_dedup_leaves_out_training_stories_and_keeps_stream_indices(tmp_path, fmt):
    out = tmp_path / "test"
    manifest = storage.write_dataset(out, TASK, 200, seed=0, split="test", knobs=TINY,
                                     format=fmt, dedup_against=4)  # fmt: skip
    back = storage.read_dataset(out, verify=True)
    train = train_hashes(4)
    assert len(back) == 200 and not np.isin(story_hashes(back), train).any()
    index = back.index
    assert (np.diff(index) > 0).all() and index[0] >= 0
    stop = int(index[-1]) + 1
    assert manifest["dedup_against"] == 4 and manifest["dedup_dropped"] == stop - 200 > 0
    # kept episodes are the stream's own episodes; every left-out one is a training story
    stream = memtasks.generate(TASK, stop, split="test", **TINY)
    kept = np.isin(stream.index, index)
    expected = stream[kept]
    assert back.equals(as_read_back(expected) if fmt == "babi" else expected)
    assert np.isin(story_hashes(stream[~kept]), train).all()
    assert manifest["content_hash"] == expected.content_hash()
    assert dedup.generate(TASK, 200, split="test", against=4, **TINY).equals(expected)
    if fmt == "babi":
        ranges = manifest["babi"]["indices"]
        assert np.concatenate([np.arange(a, b) for a, b in ranges]).tolist() == index.tolist()


def test_dedup_against_zero_and_its_checks():
    plain = memtasks.generate(TASK, 30, split="test", **TINY)
    assert dedup.generate(TASK, 30, split="test", against=0, **TINY).equals(plain)
    with pytest.raises(MemtasksError, match="cannot be used when writing split 'train'"):
        dedup.generate(TASK, 5, split="train", against=3)
    with pytest.raises(MemtasksError, match="dedup_against must be a non-negative integer"):
        dedup.generate(TASK, 5, against=-1)


def test_cli_dedup_reports_what_it_left_out(capsys, tmp_path):
    out = tmp_path / "test"
    settings = [f"--set={k}={v}" for k, v in TINY.items()]
    code, stdout, err = run(capsys, "generate", TASK, "-n", "40", "--split", "test",
                            "--dedup-against", "4", "--out", str(out), "-q", *settings)  # fmt: skip
    assert code == 0, err
    manifest = json.loads((out / "memtasks.json").read_text())
    assert f"left out {manifest['dedup_dropped']:,} whose story" in stdout
    assert "training episodes 0..3" in stdout
