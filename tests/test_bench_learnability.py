"""benchmarks/bench_learnability.py: the release split, how runs are named and summarised, and
the flag; one tiny end-to-end run on a stand-in release folder (generated stories written in
the release's format). No figure of learning is asserted, only what the check computes."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import memtasks  # noqa: E402
from memtasks.views import answer_spans  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
bench = importlib.import_module("bench_learnability")


@pytest.mark.parametrize("questions", [1, 7, 40, 1000])
def test_release_split_keeps_whole_stories_and_the_first_questions(questions):
    batch = memtasks.generate("babi/qa2-v1", 60, seed=3)
    head, tail = bench.split_release(batch, questions)
    spans = answer_spans(batch)
    assert len(head) + len(tail) == len(batch)
    assert answer_spans(head).sum() + answer_spans(tail).sum() == spans.sum()
    # the head is the stories that start before question `questions`, in order
    n = int(np.searchsorted(np.cumsum(spans) - spans, questions))
    assert np.array_equal(head.index, batch.index[:n])
    assert answer_spans(head).sum() >= min(questions, spans.sum())
    assert answer_spans(head)[:-1].sum() < questions or len(head) == 0


def test_runs_are_named_by_generator_for_generated_data_and_by_task_for_the_release():
    assert bench.unit_file("babi/qa5-v2", "generated", 1) == "qa5-v2__generated__seed1.json"
    assert bench.unit_file("babi/qa5-v2", "release", 0) == "qa5__release__seed0.json"
    assert bench.newest(1) == "babi/qa1-v1" or bench.newest(1).startswith("babi/qa1-v")
    with pytest.raises(SystemExit, match="bAbI tasks are 1..20"):
        bench._parse_tasks("0-3")
    assert bench._parse_tasks("3,1-2,20") == [3, 1, 2, 20]


def _record(task_id, source, seed, tail_errors, test_errors=None, train_errors=None):
    members = []
    for k, e in enumerate(tail_errors):
        metrics = {"release-tail": {"answer_error": e / 100}}
        if source == "generated":
            metrics["test"] = {"answer_error": (test_errors or tail_errors)[k] / 100}
            metrics["release-file"] = {"answer_error": e / 100}
        members.append({"init_seed": k, "metrics": metrics,
                        "train": {"answer_error": (train_errors or [0] * 9)[k]}})  # fmt: skip
    chosen = min(range(len(members)), key=lambda k: members[k]["train"]["answer_error"])
    task = int(task_id.split("qa")[1].split("-")[0])
    return {"task": task, "task_id": task_id, "source": source, "data_seed": seed,
            "initialisations": {"count": len(members), "chosen": chosen,
                                "members": members}}  # fmt: skip


def test_a_task_is_flagged_when_the_sources_differ_by_more_than_the_noise(tmp_path):
    files = {
        "qa5__release__seed0.json": _record("babi/qa5-v1", "release", 0, [10, 12, 14]),
        # v1 of the generator: 20 points worse on the release tail, noise 4 -> flagged
        "qa5-v1__generated__seed0.json": _record("babi/qa5-v1", "generated", 0, [30, 32, 34],
                                                 test_errors=[5, 3, 4], train_errors=[2, 1, 3]),
        "qa5-v1__generated__seed1.json": _record("babi/qa5-v1", "generated", 1, [34]),
        # v2: within the noise -> not flagged
        "qa5-v2__generated__seed0.json": _record("babi/qa5-v2", "generated", 0, [11, 15, 13]),
    }  # fmt: skip
    for name, record in files.items():
        (tmp_path / name).write_text(json.dumps(record))
    rows = {r["task_id"]: r for r in bench.summarise(tmp_path)}
    v1, v2 = rows["babi/qa5-v1"], rows["babi/qa5-v2"]
    assert v1["release_tail_from_release"] == pytest.approx((12.0, 10.0, 14.0, 3))
    assert v1["release_tail_from_generated"][0] == pytest.approx(32.5)
    assert (
        v1["noise"] == pytest.approx(4.0)
        and v1["flagged"]
        and v1["difference"] == pytest.approx(20.5)
    )
    assert v1["best_test"] == pytest.approx(3.0)  # init 1: the lowest training error
    assert v1["data_seeds"] == [0, 1]
    assert not v2["flagged"] and v2["difference"] == pytest.approx(1.0)
    table = bench.table(list(rows.values()))
    assert "| babi/qa5-v1 |" in table and "**yes**" in table


def test_the_noise_is_never_under_the_tails_own_resolution(tmp_path):
    """Every initialisation at 0 % on one side and 1 % on the other: one question of 100 is
    no evidence, however steady the initialisations are."""
    release = _record("babi/qa12-v1", "release", 0, [1.0, 1.0, 1.0])
    release["tail_questions"] = 100
    (tmp_path / "qa12__release__seed0.json").write_text(json.dumps(release))
    (tmp_path / "qa12-v1__generated__seed0.json").write_text(
        json.dumps(_record("babi/qa12-v1", "generated", 0, [0.0] * 5))
    )
    (row,) = bench.summarise(tmp_path)
    pooled = 3 / 8 / 100  # three runs at 1 %, five at 0 %
    assert row["noise"] == pytest.approx(200 * (pooled * (1 - pooled) / 100) ** 0.5)
    assert row["difference"] == pytest.approx(-1.0) and not row["flagged"]
    assert bench._sampling(100, [50.0]) == pytest.approx(10.0)  # 2 * sqrt(.25 / 100)
    assert bench._sampling(None, [50.0]) == 0.0


def test_one_tiny_run_on_a_stand_in_release(tmp_path, monkeypatch):
    from memtasks import storage
    from memtasks.loaders import babi

    made = tmp_path / "made"
    storage.write_dataset(made, "babi/qa1-v1", 60, seed=9, split="train", format="babi")
    (tmp_path / "rel" / "en").mkdir(parents=True)
    name = babi.text_file_name("babi/qa1-v1", "train")
    (tmp_path / "rel" / "en" / name).write_text((made / name).read_text())
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(bench, "TRAIN_QUESTIONS", 200)  # 60 stories of 5 questions: 40 + 20
    done = bench.run_unit("babi/qa1-v1", "release", 0, 2, str(tmp_path / "rel"), str(out), 1)
    record = json.loads((out / done).read_text())
    assert done == "qa1__release__seed0.json" and record["train_questions"] == 200
    members = record["initialisations"]["members"]
    assert [m["init_seed"] for m in members] == [0, 1]
    assert {"test", "release-tail"} <= set(members[0]["metrics"])
    assert record["tail_questions"] == 100
    assert members[0]["metrics"]["release-tail"]["questions"] == 100
