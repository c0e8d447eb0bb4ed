"""Penn Treebank word-level LM (memtasks/loaders/ptb.py) and the perplexity metric.

Fixtures are written in the release's exact format (the real files are not in the repository).
Set MEMTASKS_PTB_DIR to a folder holding Mikolov's ptb.train.txt, ptb.valid.txt and
ptb.test.txt to also check the loader against the survey's Table 6 figures on the real files."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memtasks
from memtasks.datasets import DatasetSpec, open_source
from memtasks.episode import EpisodeBatch
from memtasks.errors import KnobError, LoaderError
from memtasks.loaders import ptb
from memtasks.metrics import Perplexity


def _read(folder: Path, split: str, vocab=None):
    name = ptb.FILES[split]
    return ptb.read_split(name, (folder / name).read_bytes(), vocab)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    ptb.fixture(tmp_path)
    return tmp_path


# -- parser ---------------------------------------------------------------------------------------
def test_fixture_files_are_in_the_release_format(folder: Path):
    for name in ptb.FILES.values():
        data = (folder / name).read_bytes()
        lines = data.split(b"\n")
        assert lines[-1] == b""  # every line ends with LF
        for line in lines[:-1]:
            assert line.startswith(b" ") and line.endswith(b" ") and b"  " not in line


def test_parse_appends_eos_to_every_line():
    tokens, sentences = ptb.parse("x.txt", b" a b c \n d \n e f \n")
    assert tokens == ["a", "b", "c", "<eos>", "d", "<eos>", "e", "f", "<eos>"]
    assert sentences == 3


def test_fixture_splits_read_into_their_token_streams(folder: Path):
    train, vocab = _read(folder, "train")
    valid, _ = _read(folder, "validation", vocab)
    words = [vocab[i] for i in valid.ids]
    assert " ".join(words) == "the shares were sold <eos> mr. <unk> said it rose <eos>"
    assert (train.sentences, valid.sentences) == (4, 2)
    assert train.tokens == 9 + 1 + 7 + 1 + 8 + 1 + 4 + 1


# -- vocabulary ----------------------------------------------------------------------------------
def test_vocabulary_orders_by_count_then_code_point():
    tokens, _ = ptb.parse("x.txt", b" b a c a \n c a \n")
    # counts: a 3, <eos> 2, c 2, b 1; "<" (0x3c) sorts before "c"
    assert ptb.vocabulary(tokens) == ("<pad>", "a", "<eos>", "c", "b")


def test_fixture_vocabulary_is_built_from_the_training_file(folder: Path):
    train, vocab = _read(folder, "train")
    assert vocab[0] == "<pad>" and "<eos>" in vocab and "<unk>" in vocab
    words = (folder / "ptb.train.txt").read_text().split()
    assert set(vocab[1:]) == {*words, "<eos>"}
    counts = np.bincount(train.ids, minlength=len(vocab))[1:]
    assert np.all(np.diff(counts) <= 0)  # ids by decreasing count
    assert train.ids.min() >= 1  # id 0 is padding only


def test_a_valid_word_the_training_file_lacks_is_refused(folder: Path):
    _, vocab = _read(folder, "train")
    (folder / "ptb.valid.txt").write_bytes(b" the shares were sold \n the cat rose \n")
    with pytest.raises(LoaderError) as err:
        _read(folder, "validation", vocab)
    assert str(err.value).startswith("ptb.valid.txt:2: expected a word of ptb.train.txt's")
    assert "'cat'" in str(err.value)


# -- malformed files -----------------------------------------------------------------------------
CHAR = "expected words separated by spaces, got the character"
LAYOUT = "expected ' word word ... word ' (one space before, between and after words), got"
BAD = [
    (b"", ": the file is empty"),
    (b" a b \n a\tb \n", f":2: {CHAR} '\\t'"),
    (b" a b \r\n", f":1: {CHAR} '\\r'"),
    (b" a \n b \n c\x00 \n", f":3: {CHAR} '\\x00'"),
    (" a \n \xa0b \n".encode(), f":2: {CHAR} '\\xa0'"),
    (b" a \n b \xff \n", ":2: expected UTF-8 text, got byte 0xff"),
    (b"\xef\xbb\xbf a \n", f":1: {CHAR} '\\ufeff'"),
    (b" a \nb \n", f":2: {LAYOUT} no space before the first word"),
    (b" a \n b\n", f":2: {LAYOUT} no space after the last word"),
    (b" a \n b  c \n", f":2: {LAYOUT} two spaces in a row at column 3"),
    (b" a \n \n b \n", f":2: {LAYOUT} a line with no word"),
    (b" a \n\n", f":2: {LAYOUT} a line with no word"),
    (b" a \n b ", ":2: expected a line end (LF) after the last line"),
    (b" a <eos> \n", ":1: expected words, got <eos> (the loader adds <eos>)"),
    (b" a \n <pad> \n", ":2: expected words, got <pad> (the loader adds <eos>)"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_malformed_files_are_refused_in_one_line_naming_file_and_line(data, message):
    with pytest.raises(LoaderError) as err:
        ptb.parse("ptb.test.txt", data)
    assert str(err.value).startswith("ptb.test.txt" + message)
    assert "\n" not in str(err.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_any_bytes_parse_or_raise_a_loader_error(data):
    try:
        tokens, sentences = ptb.parse("f.txt", data)
    except LoaderError as err:
        assert str(err).startswith("f.txt")
        return
    # what parses is in the release format exactly
    assert data.count(b"\n") == sentences == tokens.count("<eos>")
    text = "".join(" " + " ".join(line) + " \n" for line in _lines(tokens))
    assert text.encode() == data


def _lines(tokens):
    line = []
    for t in tokens:
        if t == "<eos>":
            yield line
            line = []
        else:
            line.append(t)


# -- windows -------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=0, max_size=300),
    st.integers(1, 50),
    st.integers(1, 9),
)
def test_windows_cover_the_stream_exactly_once(stream, window, per_batch):
    ids = np.asarray(stream, dtype=np.int32)
    eos = 3
    batches = list(ptb.windows(ids, window, eos=eos, batch_episodes=per_batch))
    predictions = max(len(ids) - 1, 0)
    n_episodes = -(-predictions // window)
    assert len(batches) == -(-n_episodes // per_batch)
    if not batches:
        return
    joined = EpisodeBatch.concat(batches)
    assert np.array_equal(joined.index, np.arange(n_episodes))
    assert np.array_equal(joined.inputs, ids[:-1])
    assert np.array_equal(joined.targets, ids[1:])
    assert joined.mask.all() and (joined.role == 0).all()
    lengths = joined.lengths
    assert (lengths[:-1] == window).all() and 1 <= lengths[-1] <= window
    for b in range(n_episodes):  # segment: sentences closed before a position, in its episode
        inputs = joined.inputs[joined.offsets[b] : joined.offsets[b + 1]]
        expected = np.concatenate(([0], np.cumsum(inputs == eos)[:-1]))
        assert np.array_equal(joined.segment[joined.offsets[b] : joined.offsets[b + 1]], expected)


def test_fixture_windows_of_the_default_length(folder: Path):
    train, vocab = _read(folder, "train")
    (batch,) = ptb.windows(train.ids, eos=vocab.index("<eos>"), task="ptb/word-v1")
    assert len(batch) == 1 and batch.num_positions == train.tokens - 1  # 31 < 35
    assert batch.task == "ptb/word-v1"
    assert batch.inputs.dtype == np.int32 and batch.targets.dtype == np.int32


# -- the registered dataset ------------------------------------------------------------------------
def test_ptb_is_a_registered_dataset():
    spec = memtasks.get_spec("ptb/word-v1")
    assert isinstance(spec, DatasetSpec) and "ptb/word-v1" in memtasks.list_datasets("ptb")
    assert spec.splits == ("train", "validation", "test")
    assert spec.make_knobs().window == 35
    assert isinstance(spec.metric, Perplexity)
    layout = spec.layout(spec.make_knobs())
    assert (layout.input_dtype, layout.target_dtype) == ("int32", "int32")
    names = {s: [f.name for f in spec.files(spec.make_knobs(), s)] for s in spec.splits}
    assert names == {
        "train": ["ptb.train.txt"],
        "validation": ["ptb.valid.txt", "ptb.train.txt"],  # the vocabulary is train's
        "test": ["ptb.test.txt", "ptb.train.txt"],
    }
    assert all(f.sha256 == ptb.SHA256[f.name] for fs in [spec.files(spec.make_knobs(), "test")]
               for f in fs)  # fmt: skip


@pytest.mark.parametrize("window", [0, -1, 2.5, "35", True, 1_000_001])
def test_window_out_of_range_is_refused(window):
    with pytest.raises(KnobError, match="ptb/word-v1: knob 'window' must be an integer in"):
        memtasks.get_spec("ptb/word-v1").make_knobs(window=window)


def test_load_reads_the_fixture_into_windows_with_the_train_vocabulary(folder: Path):
    train, vocab = _read(folder, "train")
    test, _ = _read(folder, "test", vocab)
    batch = memtasks.load("ptb/word-v1", "test", path=folder, checksums=False, window=4)
    assert batch.task == "ptb/word-v1"
    assert np.array_equal(batch.inputs, test.ids[:-1])
    assert np.array_equal(batch.targets, test.ids[1:])
    assert list(batch.lengths) == [4] * ((test.tokens - 1) // 4) + [(test.tokens - 1) % 4] * (
        (test.tokens - 1) % 4 > 0
    )
    spec = memtasks.get_spec("ptb/word-v1")
    with open_source(spec, folder, checksums=False) as source:
        assert spec.layout_of(spec.make_knobs(), source).vocab == vocab


def test_load_reads_the_release_archive_layout(folder: Path, tmp_path_factory):
    import tarfile

    archive = tmp_path_factory.mktemp("tgz") / "simple-examples.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ptb.FILES.values():
            tar.add(folder / name, arcname=f"./simple-examples/data/{name}")
    a = memtasks.load("ptb/word-v1", "validation", path=archive, checksums=False)
    b = memtasks.load("ptb/word-v1", "validation", path=folder, checksums=False)
    assert a.equals(b)


def test_wrong_checksums_are_refused_in_one_line(folder: Path):
    with pytest.raises(LoaderError) as err:
        memtasks.load("ptb/word-v1", "train", path=folder)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{folder}/ptb.train.txt: sha256 ")
    assert f"is not the release's {ptb.SHA256['ptb.train.txt']}" in message


def test_a_malformed_line_is_named_by_its_path_and_line_through_load(folder: Path):
    (folder / "ptb.test.txt").write_bytes(b" the company \n it\trose \n")
    with pytest.raises(LoaderError) as err:
        memtasks.load("ptb/word-v1", "test", path=folder, checksums=False)
    assert str(err.value).startswith(f"{folder}/ptb.test.txt:2: {CHAR} '\\t'")


def test_without_files_the_error_says_what_to_download(monkeypatch):
    monkeypatch.delenv("MEMTASKS_DATA", raising=False)
    with pytest.raises(LoaderError) as err:
        memtasks.load("ptb/word-v1", "train")
    message = str(err.value)
    assert "\n" not in message and message.startswith("ptb/word-v1: no source files;")
    assert "simple-examples.tgz" in message and "--path" in message


def test_memtasks_load_writes_a_folder_that_reads_back_the_same_episodes(
    folder, tmp_path_factory, capsys
):
    from _cli import run

    from memtasks.storage import read_dataset

    out = tmp_path_factory.mktemp("out") / "ptb-valid"
    code, _, err = run(
        capsys, "load", "ptb/word-v1", "--path", str(folder), "--no-checksums", "-q",
        "--split", "validation", "--set", "window=3", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    expected = memtasks.load("ptb/word-v1", "validation", path=folder, checksums=False, window=3)
    assert read_dataset(out).equals(expected)
    manifest = json.loads((out / "memtasks.json").read_text())
    assert manifest["dataset"] == "ptb/word-v1" and manifest["knobs"] == {"window": 3}
    assert tuple(manifest["layout"]["vocab"]) == _read(folder, "train")[1]
    assert {s["name"] for s in manifest["sources"]} == {"ptb.train.txt", "ptb.valid.txt"}
    # a wrong checksum: one line, exit 1, nothing written
    code, _, err = run(
        capsys, "load", "ptb/word-v1", "--path", str(folder), "--out", str(out) + "2"
    )
    assert code == 1 and err.count("\n") == 1 and "is not the release's" in err
    assert not Path(str(out) + "2").exists()


# -- perplexity ----------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(st.integers(1, 100_000), st.integers(1, 400), st.integers(1, 40))
def test_a_uniform_model_over_v_words_has_perplexity_v(v, n, window):
    batch = next(ptb.windows(np.ones(n + 1, dtype=np.int32), window, eos=3, batch_episodes=10**6))
    out = Perplexity().evaluate(batch, np.full(n, -math.log(v), dtype=np.float32))
    assert out["tokens"] == n
    assert out["perplexity"] == pytest.approx(v, rel=1e-5)
    assert out["nll"] == pytest.approx(math.log(v), rel=1e-5)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30.0, 0.0), min_size=1, max_size=200), st.integers(1, 20))
def test_perplexity_is_exp_of_the_mean_nll_however_the_stream_is_cut(logps, window):
    logp = np.asarray(logps)
    batch = next(ptb.windows(np.ones(len(logp) + 1, dtype=np.int32), window, eos=3))
    out = Perplexity().evaluate(batch, logp)
    assert out["nll"] == pytest.approx(-logp.mean(), rel=1e-9, abs=1e-12)
    assert out["perplexity"] == pytest.approx(math.exp(-logp.mean()), rel=1e-9)


def test_perplexity_reads_target_logprobs_and_checks_them():
    assert Perplexity.reads == "target_logprobs"
    batch = next(ptb.windows(np.ones(5, dtype=np.int32), 2, eos=3))
    with pytest.raises(ValueError, match=r"shape \(3,\); the batch scores 4 positions"):
        Perplexity().evaluate(batch, np.zeros(3))
    with pytest.raises(ValueError, match="log-probability is a number <= 0"):
        Perplexity().evaluate(batch, np.array([0.0, -1.0, 0.5, -1.0]))
    with pytest.raises(ValueError, match="log-probability is a number <= 0"):
        Perplexity().evaluate(batch, np.array([0.0, np.nan, -1.0, -1.0]))
    certain = Perplexity().evaluate(batch, np.zeros(4))
    assert certain == {"perplexity": 1.0, "nll": 0.0, "tokens": 4}
    assert Perplexity().evaluate(batch, np.array([-np.inf, 0, 0, 0]))["perplexity"] == np.inf


# -- the real files (opt-in) ---------------------------------------------------------------------
REAL = os.environ.get("MEMTASKS_PTB_DIR")


@pytest.mark.skipif(not REAL, reason="set MEMTASKS_PTB_DIR to a folder with Mikolov's ptb.*.txt")
def test_real_files_match_the_release_and_the_survey_table_6():
    folder = Path(REAL)
    for name in ptb.FILES.values():
        data = (folder / name).read_bytes()
        assert len(data) == ptb.SIZES[name]
        assert hashlib.sha256(data).hexdigest() == ptb.SHA256[name]
    train, vocab = _read(folder, "train")
    stats = {"train": ptb.statistics(train, vocab)}
    for split in ("validation", "test"):
        stats[split] = ptb.statistics(_read(folder, split, vocab)[0], vocab)
    for split, expected in ptb.RELEASE_STATS.items():
        got = stats[split]
        assert {k: got[k] for k in expected} == expected
        print(split, got)
    # survey Table 6: 40K / 3K / 4K sentences (one significant figure), 21.1 words per
    # sentence, vocabulary 9,999
    sentences = [stats[s]["sentences"] for s in ("train", "validation", "test")]
    assert [_one_figure(n) for n in sentences] == [40_000, 3_000, 4_000]
    assert round(stats["train"]["words_per_sentence"], 1) == 21.1
    assert stats["train"]["vocabulary"] == 9_999
    assert len(vocab) == 1 + ptb.VOCAB_SIZE and vocab[0] == "<pad>"
    assert vocab[1:5] == ("the", "<unk>", "<eos>", "N")


def _one_figure(n: int) -> int:
    """``n`` rounded to one significant figure, as the survey's 40K/3K/4K are."""
    scale = 10 ** (len(str(n)) - 1)
    return round(n / scale) * scale


# -- the card --------------------------------------------------------------------------------------
def test_card_states_what_the_code_says():
    from huggingface_hub import DatasetCard

    spec = memtasks.get_spec("ptb/word-v1")
    text = spec.card.read_text(encoding="utf-8")
    assert DatasetCard(text).data.to_dict()["dataset_id"] == "ptb/word-v1"
    assert "| `window` | int | `35` | 1..1000000 |" in text
    for name, digest in ptb.SHA256.items():
        assert f"| `{name}` | `{digest}` | {ptb.SIZES[name]:,} |" in text
    stats = ptb.RELEASE_STATS
    for split, row in (("train", "training"), ("validation", "validation"), ("test", "test")):
        assert f"| {row} sentences | " in text
        assert f" | {stats[split]['sentences']:,} |" in text
    assert f"train: {stats['train']['words']:,} words" in text


# -- the fast path agrees with the plain definitions -----------------------------------------------
WORDS = st.text(alphabet="abNé<>k.'-$", min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(WORDS, min_size=1, max_size=6), min_size=1, max_size=12), st.data())
def test_read_split_equals_vocabulary_and_encode_of_the_parsed_tokens(lines, data):
    text = "".join(" " + " ".join(words) + " \n" for words in lines)
    split, vocab = ptb.read_split("f.txt", text.encode())
    tokens, sentences = ptb.parse("f.txt", text.encode())
    assert tokens == [t for words in lines for t in [*words, "<eos>"]]
    assert vocab == ptb.vocabulary(tokens)
    assert np.array_equal(split.ids, ptb.encode("f.txt", tokens, vocab))
    assert split.sentences == sentences == len(lines)
    # another file under this vocabulary: known words encode, the first unknown one is named
    other = data.draw(st.lists(st.lists(WORDS, min_size=1, max_size=4), min_size=1, max_size=5))
    other_text = "".join(" " + " ".join(words) + " \n" for words in other)
    unknown = [(n, w) for n, ws in enumerate(other, 1) for w in ws if w not in vocab]
    if unknown:
        with pytest.raises(LoaderError, match=f"^g.txt:{unknown[0][0]}: expected a word"):
            ptb.read_split("g.txt", other_text.encode(), vocab)
    else:
        got, _ = ptb.read_split("g.txt", other_text.encode(), vocab)
        expected = [vocab.index(t) for ws in other for t in [*ws, "<eos>"]]
        assert got.ids.tolist() == expected
