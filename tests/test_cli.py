"""The memtasks command line: what it prints, what it writes, and how it refuses bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _cli import run

import memtasks
from memtasks import storage


def test_list_shows_every_task_with_its_summary(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    ids = [line.split()[0] for line in lines]
    assert ids == sorted(memtasks.list_tasks() + memtasks.list_datasets())
    assert all(("[dataset]" in line) == (line.split()[0] in memtasks.list_datasets())
               for line in lines)  # fmt: skip
    assert "copy a sequence" in out


def test_info_lists_knobs_presets_layout_and_metric(capsys):
    code, out, _ = run(capsys, "info", "ntm/repeat-copy-v1")
    assert code == 0
    for word in ("max_repeats", "norm_min_repeats", "extrapolate-length", "repeats", "end",
                 "bits_per_sequence", "repeat-copy.md"):  # fmt: skip
        assert word in out


def test_list_and_info_say_a_version_is_superseded_and_why(capsys):
    code, out, _ = run(capsys, "list", "babi")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("babi/qa5-v1 "))
    assert "[superseded by babi/qa5-v2]" in line
    new = next(x for x in out.splitlines() if x.startswith("babi/qa5-v2 "))
    assert "superseded" not in new
    code, out, _ = run(capsys, "info", "babi/qa16-v1")
    assert code == 0
    why = memtasks.get_spec("babi/qa16-v1").superseded_why
    assert f"superseded by babi/qa16-v2: {why}" in out
    code, out, _ = run(capsys, "info", "babi/qa16")  # the newest: not superseded
    assert code == 0 and out.startswith("babi/qa16-v2:") and "superseded" not in out
    assert "peer_mix" in out


def test_show_prints_bit_grids_with_the_set_knobs(capsys):
    code, out, _ = run(capsys, "show", "ntm/copy-v1", "-n", "2", "--set", "max_length=3",
                       "--seed", "7")  # fmt: skip
    assert code == 0
    assert out.count("episode ") == 2
    assert "delimiter" in out and "█" in out
    expected = memtasks.generate("ntm/copy-v1", 2, seed=7, max_length=3).pretty(limit=2)
    assert out.strip() == expected.strip()


def test_generate_writes_a_dataset_and_reports_its_hash(capsys, tmp_path):
    out = tmp_path / "copy"
    code, stdout, _ = run(capsys, "generate", "ntm/copy-v1", "-n", "300", "--seed", "0",
                          "--out", str(out), "--shards", "3", "-q")  # fmt: skip
    assert code == 0
    manifest = storage.read_manifest(out)
    assert manifest["num_episodes"] == 300 and len(manifest["files"]) == 3
    assert manifest["content_hash"][:16] in stdout
    assert storage.read_dataset(out).equals(memtasks.generate("ntm/copy-v1", 300, seed=0))


def test_generate_with_preset_knobs_and_jsonl(capsys, tmp_path):
    out = tmp_path / "recall"
    code, _, _ = run(capsys, "generate", "ntm/associative-recall-v1", "-n", "5", "--out",
                     str(out), "--preset", "extrapolate", "--set", "item_width=4",
                     "--format", "jsonl", "-q")  # fmt: skip
    assert code == 0
    manifest = storage.read_manifest(out)
    assert manifest["preset"] == "extrapolate"
    assert manifest["knobs"]["min_items"] == 7 and manifest["knobs"]["item_width"] == 4
    lines = (out / "data" / "train-00000-of-00001.jsonl").read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == list(range(5))


@pytest.mark.parametrize(
    ("args", "status", "needle"),
    [
        (["info", "ntm/cpy-v1"], 1, "did you mean 'ntm/copy-v1'"),
        (["show", "ntm/copy-v1", "--set", "lenght=3"], 1, "did you mean 'lengths'"),
        (["show", "ntm/copy-v1", "--set", "max_length=0"], 1, "must be an integer in [1, 100000]"),
        (["show", "ntm/copy-v1", "--set", "width=eight"], 1, "got 'eight'"),
        (["show", "ntm/copy-v1", "--set", "width"], 1, "--set takes name=value"),
        (
            ["show", "ntm/copy-v1", "--set", "min_length=9", "--set", "max_length=3"],
            1,
            "min_length must be <= max_length",
        ),
        (["show", "ntm/copy-v1", "--preset", "papr"], 1, "did you mean 'paper'"),
        (["show", "ntm/copy-v1", "-n", "0"], 2, "-n"),
        (["generate", "ntm/copy-v1", "--out", "x"], 2, "Missing option '-n'"),
        (["generate", "ntm/copy-v1", "-n", "5", "--out", "x", "--format", "csv"], 2, "csv"),
        (["generate", "ntm/copy-v1", "-n", "5", "--out", "x", "--split", "a/b"], 1, "split"),
        (["generate", "ntm/copy-v1", "-n", "5", "--out", "x", "--format", "babi"], 1, "bAbI text"),
        (["generate", "ntm/copy-v1", "-n", "5", "--out", "x", "--dedup-against", "2"], 1, "train"),
        (
            ["generate", "ntm/copy-v1", "-n", "5", "--out", "x", "--format-option", "shuffled=1"],
            1,
            "shuffled applies to format",
        ),
        (
            ["generate", "ntm/copy-v1", "-n", "5", "--out", "x", "--format-option", "shufled=1"],
            1,
            "did you mean",
        ),
        (["lsit"], 2, "Did you mean 'list'"),
        (["list", "bbai"], 1, "no family 'bbai'"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(
    capsys, tmp_path, monkeypatch, args, status, needle
):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *args)
    assert code == status
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("memtasks: error: ")
    assert needle in err
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []  # nothing written


def test_generate_refuses_to_overwrite_and_keeps_the_old_data(capsys, tmp_path):
    out = tmp_path / "ds"
    assert run(capsys, "generate", "ntm/copy-v1", "-n", "5", "--out", str(out), "-q")[0] == 0
    before = storage.read_manifest(out)["content_hash"]
    code, _, err = run(capsys, "generate", "ntm/copy-v1", "-n", "5", "--seed", "1", "--out",
                       str(out), "-q")  # fmt: skip
    assert code == 1 and "already exists" in err and "--overwrite" in err
    assert storage.verify_dataset(out) == before
    code, _, _ = run(capsys, "generate", "ntm/copy-v1", "-n", "5", "--seed", "1", "--out",
                     str(out), "-q", "--overwrite")  # fmt: skip
    assert code == 0 and storage.verify_dataset(out) != before


def test_verify_command(capsys, tmp_path):
    out = tmp_path / "ds"
    storage.write_dataset(out, "ntm/copy-v1", 8)
    code, stdout, _ = run(capsys, "verify", str(out))
    assert code == 0 and stdout.startswith("ok: 8 episodes of ntm/copy-v1")
    code, _, err = run(capsys, "verify", str(tmp_path / "nothing"))
    assert code == 1 and "is not a folder" in err


def test_installed_entry_point_reports_errors_without_traceback(tmp_path):
    """The real console script, in a fresh process, as a user would run it."""
    result = subprocess.run(
        [sys.executable, "-m", "memtasks.cli", "generate", "ntm/copy-v1", "-n", "3", "--out",
         str(tmp_path / "ds"), "--set", "width=2000"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "memtasks: error: ntm/copy-v1: knob 'width' must be an integer in [1, 1024], got 2000"
    ]
    assert not (tmp_path / "ds").exists()
