"""Bad input on the command line, drawn by hypothesis: one line on stderr, no traceback.

For each command and each of its numeric or choice options, values out of range (far out too:
10**30, negatives), of the wrong type (floats, words, empty strings, any Unicode) and unknown
names must end with exit status 2 (malformed command line) or 1 (a value the library refuses),
one line on stderr starting with ``memtasks: error:``, nothing on stdout, and nothing written.

The commands run in this process through ``memtasks.cli.main``, so an exception other than
``SystemExit`` escapes and fails the test: that is what a traceback would be in a terminal.
Values never contain NUL: a real command line cannot (execve takes C strings).

Each base command is one that would succeed quickly, so that a bad value taken for a good one
shows up as exit status 0 within seconds (not as a run that trains for hours).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from memtasks.cli import main
from memtasks.errors import MemtasksError
from memtasks.registry import INDEX_STOP, check_split, get_spec

COPY = get_spec("ntm/copy-v1")
EXAMPLES = settings(max_examples=35, deadline=None)


def run(*args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `memtasks ARGS`, in this process."""
    out, err = io.StringIO(), io.StringIO()
    # A cold process announces compiling on stderr before any error (generators._kernels); the
    # line under test here is the error, so the notice is silenced.
    with (
        mock.patch.dict(os.environ, MEMTASKS_QUIET="1"),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_refused(code: int, out: str, err: str) -> None:
    assert code in (1, 2), f"exit status {code}; stderr: {err!r}"
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("memtasks: error: "), err
    assert "Traceback" not in err


def parses(kind, text: str) -> bool:
    try:
        kind(text)
    except (ValueError, OverflowError):
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Strategies: bad values as the text a user types
# ---------------------------------------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=12)  # fmt: skip
WORDS = st.sampled_from(["", " ", "1.5", "1e3", "-0.5", "nan", "inf", "0x10", "five", "٣.٣",
                         "1,000", "10**30", "true", "None", "é", "🙂", "--", "-"])  # fmt: skip
NOT_INT = st.one_of(WORDS, TEXT, st.floats().map(repr)).filter(lambda s: not parses(int, s))
NOT_FLOAT = st.one_of(WORDS, TEXT).filter(lambda s: not parses(float, s))
HUGE = 10**40


def below(lo: int) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(-HUGE, lo - 1), st.just(-(10**30))).map(str)


def above(hi: int) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(hi + 1, max(hi + 1, HUGE)), st.just(10**30 + hi)).map(str)


def bad_int(lo: int, hi: int | None = None) -> st.SearchStrategy[str]:
    """An integer option out of [lo, hi] or not an integer at all."""
    return st.one_of(below(lo), NOT_INT, *([above(hi)] if hi is not None else []))


def bad_float(lo: float, hi: float) -> st.SearchStrategy[str]:
    """A float option outside the open range (lo, hi), NaN, or not a number."""
    return st.one_of(
        st.floats(max_value=lo).map(repr),
        st.floats(min_value=hi).map(repr),
        st.sampled_from(["nan", "-nan", "inf", "-inf", str(lo), str(hi)]),
        NOT_FLOAT,
    )


def unknown(names) -> st.SearchStrategy[str]:
    """A name none of ``names`` is (after the stripping the parsers do)."""
    known = {str(n) for n in names}
    return TEXT.filter(lambda s: s.strip() and s.strip() not in known and "=" not in s)


def bad_pairs(cls, flag: str) -> st.SearchStrategy[list[str]]:
    """``FLAG name=value`` with an unknown name, no '=', an empty name, or a value of a known
    name (a ``Knobs`` class's field) out of its range or of the wrong type."""
    infos = cls.infos()
    values = []
    for name, (_, info) in infos.items():
        if info.choices is not None:
            bad = TEXT.filter(lambda s, c=info.choices: s.strip() not in map(str, c))
        elif info.kind is tuple:  # a list with one element out of range or not a number
            elem = bad_int(int(info.lo), int(info.hi)) if info.elem is int else NOT_FLOAT
            bad = elem.filter(lambda s: "," not in s and s.strip()).map(lambda s: f"3,{s}")
        elif info.kind is bool:
            bad = TEXT.filter(lambda s: s.strip().lower() not in
                              {"1", "0", "true", "false", "yes", "no", "on", "off"})  # fmt: skip
        elif info.kind is int:
            bad = bad_int(int(info.lo), int(info.hi))
        elif info.kind is float:
            bad = st.one_of(st.floats(max_value=info.lo, exclude_max=True).map(repr),
                            st.floats(min_value=info.hi, exclude_min=True).map(repr),
                            st.just("nan"), NOT_FLOAT)  # fmt: skip
        else:
            continue
        values.append(bad.map(lambda v, n=name: f"{n}={v}"))
    return st.one_of(
        unknown(infos).map(lambda s: f"{s}=1"),
        TEXT.filter(lambda s: "=" not in s),
        TEXT.map(lambda s: f"=={s}" if s.strip() else f"{s}=1"),  # no name before the '='
        *values,
    ).map(lambda item: [flag, item])


PRESETS = unknown(COPY.presets).map(lambda s: ["--preset", s])
SPLITS = TEXT.filter(lambda s: not _allowed(check_split, s)).map(lambda s: ["--split", s])
SEEDS = bad_int(0, 2**64 - 1).map(lambda s: ["--seed", s])


def _allowed(check, value) -> bool:
    try:
        check(value)
    except MemtasksError:
        return False
    return True


def unknown_task() -> st.SearchStrategy[str]:
    # not starting with '-': that is an option (`-h` prints help and exits 0, as it should)
    return TEXT.filter(lambda s: not s.startswith("-") and not _allowed(get_spec, s))


# ---------------------------------------------------------------------------------------------
# generate: refused before anything is written, temporary folders included
# ---------------------------------------------------------------------------------------------
GENERATE_OPTIONS = st.one_of(
    # -n: below 1 (click), or so many that no disk holds them or past int64 (the library)
    st.one_of(below(1), NOT_INT, st.integers(10**15, HUGE).map(str)).map(lambda s: ["-n", s]),
    SEEDS,
    st.one_of(below(0), NOT_INT, above(INDEX_STOP - 5)).map(lambda s: ["--start", s]),
    bad_int(1, 5).map(lambda s: ["--shards", s]),  # at most one shard per episode (-n 5)
    st.one_of(below(1), NOT_INT).map(lambda s: ["--workers", s]),  # more than shards: capped
    # with the train split any N > 0 is refused; huge N on other splits: see the test below
    bad_int(0, 0).map(lambda s: ["--dedup-against", s]),
    TEXT.filter(lambda s: s not in ("parquet", "jsonl")).map(lambda s: ["--format", s]),
    st.just(["--format-option", "shuffled=true"]),  # an option of --format babi only
    SPLITS,
    PRESETS,
    bad_pairs(COPY.knobs, "--set"),
    st.tuples(st.integers(2, 100_000), st.integers(1, 100_000))
    .filter(lambda t: t[0] > t[1])
    .map(lambda t: ["--set", f"min_length={t[0]}", "--set", f"max_length={t[1]}"]),
    unknown_task().map(lambda s: ["--task", s]),
)


@EXAMPLES
@given(GENERATE_OPTIONS)
def test_generate_refuses_bad_values_in_one_line_and_writes_nothing(option):
    with tempfile.TemporaryDirectory() as parent:
        out = Path(parent) / "ds"
        task = option[1] if option[0] == "--task" else "ntm/copy-v1"
        extra = [] if option[0] == "--task" else option
        assert_refused(*run("generate", task, "-n", "5", "--out", str(out), "-q", *extra))
        assert not out.exists()
        assert os.listdir(parent) == []  # no hidden temporary folder left either


def test_generate_refuses_dedup_against_beyond_the_episode_indices(tmp_path):
    # hashing the training stories is the work that must not begin: it stands in for the hang
    def hashing(*args, **kwargs):
        raise AssertionError("began hashing 10**30 training episodes instead of refusing")

    with mock.patch("memtasks.dedup._hash_stream", hashing):
        result = run("generate", "ntm/copy-v1", "-n", "5", "--split", "test", "--out",
                     str(tmp_path / "ds"), "-q", "--dedup-against", str(10**30))  # fmt: skip
    assert_refused(*result)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# show, info
# ---------------------------------------------------------------------------------------------
SHOW_OPTIONS = st.one_of(
    bad_int(1, 1000).map(lambda s: ["-n", s]),
    SEEDS,
    # past the last int64 index for -n 2 (the library), or beyond the option's own range
    st.one_of(below(0), NOT_INT, above(INDEX_STOP - 2)).map(lambda s: ["--start", s]),
    st.one_of(below(0), NOT_INT).map(lambda s: ["--max-chars", s]),
    SPLITS,
    PRESETS,
    bad_pairs(COPY.knobs, "--set"),
)


@EXAMPLES
@given(st.one_of(SHOW_OPTIONS, unknown_task().map(lambda s: ["--task", s])))
def test_show_refuses_bad_values_in_one_line(option):
    if option[0] == "--task":
        assert_refused(*run("show", option[1]))
    else:
        assert_refused(*run("show", "ntm/copy-v1", "-n", "2", *option))


@EXAMPLES
@given(unknown_task())
def test_info_refuses_an_unknown_task_in_one_line(task):
    assert_refused(*run("info", task))


# ---------------------------------------------------------------------------------------------
# verify: whatever the folder holds, it is read and refused, never trusted
# ---------------------------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-HUGE, HUGE) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
MANIFEST_KEYS = ["task", "num_episodes", "seed", "split", "knobs", "files", "content_hash",
                 "format", "format_version", "start", "memtasks_version"]  # fmt: skip
MANIFESTS = st.one_of(
    st.binary(max_size=64),
    JSON.map(lambda v: json.dumps(v).encode()),
    # an object with the manifest's keys but values of any type
    st.fixed_dictionaries({}, optional=dict.fromkeys(MANIFEST_KEYS, JSON)).map(
        lambda d: json.dumps(d).encode()
    ),
)
NAMES = TEXT.filter(lambda s: s.strip() and "/" not in s and s not in (".", ".."))


@EXAMPLES
@given(st.one_of(
    NAMES.map(lambda name: ("missing", name, b"")),
    st.tuples(st.just("file"), NAMES, st.binary(max_size=32)),
    st.tuples(st.just("manifest"), st.just("ds"), MANIFESTS),
), st.booleans())  # fmt: skip
def test_verify_refuses_what_is_not_a_dataset_in_one_line(target, regenerate):
    kind, name, content = target
    with tempfile.TemporaryDirectory() as parent:
        path = Path(parent) / name
        if kind == "file":
            path.write_bytes(content)
        elif kind == "manifest":
            path.mkdir()
            (path / "memtasks.json").write_bytes(content)
        before = sorted(os.walk(parent))
        flag = "--regenerate" if regenerate else "--no-regenerate"
        assert_refused(*run("verify", str(path), flag))
        assert sorted(os.walk(parent)) == before  # verifying writes nothing


# Keys of a real manifest whose change verify must notice (with --regenerate: without it the
# task, knobs, seed and split are taken on trust, as it says). A dataset is written once.
CHECKED_KEYS = ["format_version", "task", "task_version", "knobs", "seed", "split", "start",
                "num_episodes", "num_positions", "format", "files", "content_hash",
                "dedup_against", "dedup_dropped"]  # fmt: skip
_DATASET = {}


def _real_dataset() -> Path:
    if not _DATASET:
        from memtasks import storage

        folder = Path(tempfile.mkdtemp(prefix="memtasks-bad-input-")) / "ds"
        storage.write_dataset(folder, "ntm/copy-v1", 8, shards=2)
        _DATASET["path"] = folder
    return _DATASET["path"]


def near(value) -> st.SearchStrategy:
    """Values a slip or an edit would leave: an integer off by a little, one entry of a list
    or an object changed (recursively), a string with a character more."""
    if isinstance(value, bool) or value is None:
        return JSON
    if isinstance(value, int):
        return st.integers(-3, 3).map(lambda d: value + d)
    if isinstance(value, str):
        return st.one_of(TEXT.map(lambda c: value + c), TEXT.map(lambda c: c + value))
    if isinstance(value, list) and value:
        return st.integers(0, len(value) - 1).flatmap(
            lambda i: near(value[i]).map(lambda v: [*value[:i], v, *value[i + 1 :]])
        )
    if isinstance(value, dict) and value:
        return st.sampled_from(sorted(value)).flatmap(
            lambda k: near(value[k]).map(lambda v: {**value, k: v})
        )
    return JSON


@EXAMPLES
@given(st.sampled_from(CHECKED_KEYS), st.booleans(), st.data())
def test_verify_refuses_a_manifest_with_one_value_changed_in_one_line(key, slight, data):
    source = _real_dataset()
    manifest = json.loads((source / "memtasks.json").read_text())
    value = data.draw(near(manifest[key]) if slight else JSON)
    assume(value != manifest[key])
    manifest[key] = value
    with tempfile.TemporaryDirectory() as parent:
        copy = Path(parent) / "ds"
        shutil.copytree(source, copy)
        (copy / "memtasks.json").write_text(json.dumps(manifest))
        assert_refused(*run("verify", str(copy)))


# ---------------------------------------------------------------------------------------------
# bench: refused before any measurement
# ---------------------------------------------------------------------------------------------
BENCH_OPTIONS = st.one_of(
    st.one_of(below(64), NOT_INT).map(lambda s: ["--episodes", s]),
    bad_int(1, 64).map(lambda s: ["--batch-size", s]),  # at most --episodes (64 here)
    unknown_task().map(lambda s: ["--task", s]),
)


@EXAMPLES
@given(BENCH_OPTIONS)
def test_bench_refuses_bad_values_in_one_line(option):
    tasks = ["ntm/copy-v1", option[1]] if option[0] == "--task" else ["ntm/copy-v1"]
    extra = [] if option[0] == "--task" else option
    assert_refused(*run("bench", *tasks, "--no-compile", "--episodes", "64", *extra))


def test_bench_refuses_episodes_beyond_the_episode_indices():
    def measuring(*args, **kwargs):  # the measurement stands in for the endless run
        raise AssertionError("began measuring 10**30 episodes instead of refusing")

    with mock.patch("memtasks.bench.bench_task", measuring):
        assert_refused(*run("bench", "ntm/copy-v1", "--no-compile", "--episodes", str(10**30)))


# ---------------------------------------------------------------------------------------------
# baseline: cheap refusals only, before any training
# ---------------------------------------------------------------------------------------------
def _baseline_options():
    from memtasks.models import get_model, list_models

    def valid_device(s: str) -> bool:
        import torch

        if s == "auto":
            return True
        try:
            return torch.device(s).type in ("cpu", "cuda")
        except Exception:  # noqa: BLE001  (the CLI must cope with it: keep the example)
            return False

    return st.one_of(
        unknown(list_models())
        .filter(lambda s: not s.startswith("-"))
        .map(lambda s: ["--model", s]),  # fmt: skip
        unknown_task().map(lambda s: ["--task", s]),
        PRESETS,
        bad_pairs(COPY.knobs, "--set"),
        bad_pairs(get_model("lstm").Hparams, "--hp"),
        bad_float(0, 10).map(lambda s: ["--lr", s]),
        st.one_of(below(0), NOT_INT).map(lambda s: ["--steps", s]),
        # past what memory holds (10**14 episodes: 800 TB of offsets) or past int64
        st.one_of(below(1), NOT_INT, st.integers(10**14, HUGE).map(str)).map(
            lambda s: ["--batch-size", s]
        ),  # fmt: skip
        st.one_of(below(1), NOT_INT, st.integers(10**14, HUGE).map(str)).map(
            lambda s: ["--eval-episodes", s]
        ),  # fmt: skip
        st.one_of(
            TEXT,
            st.sampled_from(
                [
                    "gpu",
                    "mps",
                    "meta",
                    "CPU",
                    "cuda:x",
                    "cuda:-1",
                    "cpu:x",
                    "tpu:0",
                    "cuda:" + "9" * 30,
                ]
            ),
        )
        .filter(lambda s: not valid_device(s))
        .map(lambda s: ["--device", s]),  # fmt: skip
        SEEDS,
    )


@EXAMPLES
@given(st.data())
def test_baseline_refuses_bad_values_in_one_line_before_training(data):
    pytest.importorskip("torch")
    option = data.draw(_baseline_options())
    model, task = "lstm", "ntm/copy-v1"
    if option[0] == "--model":
        model, option = option[1], []
    elif option[0] == "--task":
        task, option = option[1], []
    with tempfile.TemporaryDirectory() as parent:
        # a run that would take a second if the bad value were taken for a good one
        base = ["--device", "cpu", "--steps", "1", "--eval-episodes", "8", "--no-extrapolate",
                "-q", "--out", str(Path(parent) / "results.json")]  # fmt: skip
        assert_refused(*run("baseline", model, task, *base, *option))
        assert os.listdir(parent) == []  # neither results nor a checkpoint


# 10**14 episodes: 800 TB of offsets, past any machine's address space (a MemoryError from the
# kernel); 2**60 - 1: past what an array may hold at all (Numba says "array is too big", a
# ValueError); both below the int64 bound on episode indices that the library checks first
TOO_MANY = [10**14, 2**60 - 1]


@pytest.mark.parametrize("episodes", TOO_MANY)
@pytest.mark.parametrize("option", ["--eval-episodes", "--batch-size"])
def test_baseline_refuses_more_episodes_than_memory_holds(tmp_path, option, episodes):
    pytest.importorskip("torch")
    code, out, err = run("baseline", "lstm", "ntm/copy-v1", "--device", "cpu", "--steps", "1",
                         "--eval-episodes", "8", "--no-extrapolate", "-q", "--out",
                         str(tmp_path / "r.json"), option, str(episodes))  # fmt: skip
    assert_refused(code, out, err)
    assert code == 1 and f"{episodes:,} episodes at once do not fit in memory" in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("episodes", TOO_MANY)
def test_a_kernel_out_of_memory_is_a_memtasks_error_and_still_a_memory_error(episodes):
    # library users who catch MemoryError keep doing so; the command line sees a MemtasksError
    from memtasks.generators import ntm

    choices = ntm._choices(1, 20, ())
    with pytest.raises(MemtasksError, match="do not fit in memory") as caught:
        ntm._copy_sizes(np.uint64(1), 0, episodes, choices)
    assert isinstance(caught.value, MemoryError)


def test_allocating_more_positions_than_an_array_holds_is_a_memtasks_error():
    from memtasks.generators._kernels import allocate

    for total in (10**14, 2**62):  # a MemoryError from NumPy, then its "array is too big"
        with pytest.raises(MemtasksError, match="positions of episodes at once") as caught:
            allocate(total, (9, np.uint8), (8, np.uint8))
        assert isinstance(caught.value, MemoryError)
