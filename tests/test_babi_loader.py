"""The bAbI loader (memtasks/loaders/babi.py): released text files of every variant read into
the episodes the generators make and written back byte for byte; malformed lines refused in one
line naming the file and the line; the shuffled cipher.

Fixtures are written here in the release's exact formats (the real files are not in the
repository); set MEMTASKS_BABI_DIR to an unpacked release (a folder with en/*.txt) to also
round-trip every real file."""

from __future__ import annotations

import os
import string
from pathlib import Path

import numpy as np
import pytest

import memtasks
from memtasks.episode import ROLE_ANSWER, ROLE_CONTEXT, ROLE_QUERY
from memtasks.errors import LoaderError, MemtasksError
from memtasks.loaders import babi
from memtasks.loaders.babi import (
    CIPHER_LOWER,
    CIPHER_SEED,
    CIPHER_UPPER,
    cipher,
    cipher_vocab,
    decipher,
    load,
    read_file,
    to_text,
)

# en, space before the TAB (tasks 1-3, 5-14)
EN_QA1 = (
    "1 Mary moved to the bathroom.\n"
    "2 John went to the hallway.\n"
    "3 Where is Mary? \tbathroom\t1\n"
    "4 Daniel went back to the hallway.\n"
    "5 Sandra moved to the garden.\n"
    "6 Where is John? \thallway\t2\n"
    "1 Sandra travelled to the office.\n"
    "2 Sandra went to the bathroom.\n"
    "3 Where is Sandra? \tbathroom\t2\n"
)
# qa3: supports in reasoning-chain (descending) order, three of them
EN_QA3 = (
    "1 Mary got the milk there.\n"
    "2 John moved to the bedroom.\n"
    "3 Mary journeyed to the office.\n"
    "4 Mary travelled to the garden.\n"
    "5 Where was the milk before the garden? \toffice\t4 3 1\n"
)
# qa8: a list answer, several supports, "nothing"
EN_QA8 = (
    "1 Daniel picked up the apple there.\n"
    "2 Mary went to the kitchen.\n"
    "3 Daniel took the milk.\n"
    "4 What is Daniel carrying? \tapple,milk\t1 3\n"
    "5 Daniel dropped the apple.\n"
    "6 Daniel discarded the milk there.\n"
    "7 What is Daniel carrying? \tnothing\t1 3 5 6\n"
)
# no space before the TAB (tasks 4, 15-20)
EN_QA15 = (
    "1 Mice are afraid of wolves.\n"
    "2 Gertrude is a mouse.\n"
    "3 Cats are afraid of sheep.\n"
    "4 Winona is a mouse.\n"
    "5 Sheep are afraid of wolves.\n"
    "6 Wolves are afraid of cats.\n"
    "7 Emily is a mouse.\n"
    "8 Jessica is a wolf.\n"
    "9 What is gertrude afraid of?\twolf\t2 1\n"
    "10 What is winona afraid of?\twolf\t4 1\n"
)
EN_QA19 = (
    "1 The office is east of the hallway.\n"
    "2 The kitchen is north of the office.\n"
    "3 The garden is west of the bedroom.\n"
    "4 The office is west of the garden.\n"
    "5 The bathroom is north of the garden.\n"
    "6 How do you go from the kitchen to the garden?\ts,e\t2 4\n"
)
# hn: romanised Hindi, sampled independently of en, no space before the TAB
HN_QA1 = (
    "1 Sita gusalkhaney mein gayi.\n"
    "2 Priya sayanakaksh mein gayi.\n"
    "3 Priya is samay kahan hai?\tsayanakaksh\t2\n"
    "4 Mohit rasoi ghar mein gaya.\n"
    "5 Sita galiyare mein gayi.\n"
    "6 Sita is samay kahan hai?\tgaliyara\t5\n"
)
HN_QA19 = (
    "1 Rasoi ghar daftar ke uttar mein hai.\n"
    "2 Bagicha rasoi ghar ke poorav mein hai.\n"
    "3 Aap daftar se bagiche tak kaise jaoge?\tuttar,poorav\t1 2\n"
)
HN_QA6 = (
    "1 Hari galiyare mein gaya.\n"
    "2 Kya Hari galiyare mein hai?\tsahi\t1\n"
    "3 Manoj daftar mein gaya.\n"
    "4 Kya Manoj bagiche mein hai?\tgalat\t3\n"
)
# shuffled: the release's letter cipher ("Mary moved to the bathroom." is the release's own
# example); upper and lower case have separate mappings
SHUFFLED_QA1 = (
    "1 Utxi ybnha qb qzh ptqzxbby.\n2 Kbzj rhjq qb qzh ztccrti.\n3 Rzhxh sf Utxi? \tptqzxbby\t1\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return path


# -- reading one file ------------------------------------------------------------------------
def test_a_story_becomes_the_generators_episode_layout(tmp_path):
    batch, vocab = read_file(write(tmp_path, "qa1_single-supporting-fact_train.txt", EN_QA1))
    batch.check()
    assert len(batch) == 2 and batch.index.tolist() == [0, 1]
    assert vocab[:4] == ("<pad>", "<answer>", ".", "?")
    # words in order of first appearance; "Where" and "The"-like first words are lowered, names
    # keep their capitals because they appear capitalised mid-sentence
    assert vocab[4:12] == ("Mary", "moved", "to", "the", "bathroom", "John", "went", "hallway")
    assert "where" in vocab and "Where" not in vocab
    ep = batch.episode(0)
    words = [vocab[t] for t in ep["inputs"]]
    assert words[:6] == ["Mary", "moved", "to", "the", "bathroom", "."]
    assert ep["segment"][:12].tolist() == [0] * 6 + [1] * 6
    q = words.index("where")
    assert ep["role"][q : q + 4].tolist() == [ROLE_QUERY] * 4
    assert words[q : q + 5] == ["where", "is", "Mary", "?", "<answer>"]
    a = q + 4
    assert ep["role"][a] == ROLE_ANSWER and ep["mask"][a] and vocab[ep["targets"][a]] == "bathroom"
    assert ep["mask"].sum() == 2 and (ep["targets"][~ep["mask"]] == 0).all()
    assert (ep["segment"][ep["role"] != ROLE_CONTEXT] == -1).all()
    # supports are segment ids (lines 1 and 2: segments 0 and 1), one list per question
    assert ep["support"].tolist() == [0, 1] and ep["support_answer"].tolist() == [0, 1]
    meta = batch.meta
    assert meta["task"].tolist() == [1, 1]  # from the file name
    assert meta["statements"].tolist() == [4, 2] and meta["questions"].tolist() == [2, 1]
    assert meta["question_template"].tolist() == [[-1, -1], [-1, -1]]
    # statements from the question back to its earliest support, as the generator counts
    assert meta["support_distance"].tolist() == [[2, 3], [1, -1]]
    # "Daniel" opens a line and is never written mid-sentence: lowered like "Where"
    assert "daniel" in vocab and "Daniel" not in vocab


def test_multi_word_answers_and_support_order(tmp_path):
    batch, vocab = read_file(write(tmp_path, "qa8_lists-sets_train.txt", EN_QA8))
    ep = batch.episode(0)
    answers = [vocab[t] for t in ep["targets"][ep["mask"]]]
    assert answers == ["apple", "milk", "nothing"]  # apple,milk is two answer positions
    assert (ep["inputs"][ep["mask"]] == 1).all()
    assert ep["support"].tolist() == [0, 2, 0, 2, 3, 4]
    assert ep["support_answer"].tolist() == [0, 0, 1, 1, 1, 1]
    assert batch.meta["support_distance"].tolist() == [[3, 5]]
    batch3, _ = read_file(write(tmp_path, "qa3_three-supporting-facts_train.txt", EN_QA3))
    assert batch3.support.tolist() == [3, 2, 0]  # the release's order, not sorted
    batch19, vocab19 = read_file(write(tmp_path, "qa19_path-finding_train.txt", EN_QA19))
    assert [vocab19[t] for t in batch19.targets[batch19.mask]] == ["s", "e"]
    assert batch19.meta["task"].tolist() == [19]


def test_first_word_is_lowered_unless_written_so_mid_sentence(tmp_path):
    _, vocab = read_file(write(tmp_path, "qa15_basic-deduction_train.txt", EN_QA15))
    # "Gertrude" opens lines only; the questions write "gertrude": one word, lower case
    assert "gertrude" in vocab and "Gertrude" not in vocab
    assert "mice" in vocab and "Mice" not in vocab
    assert "wolves" in vocab and "Wolves" not in vocab  # "wolves" appears mid-sentence
    _, vocab19 = read_file(write(tmp_path, "qa19_path-finding_train.txt", EN_QA19))
    assert "The" not in vocab19 and "the" in vocab19 and "how" in vocab19


FIXTURES = {
    "en/qa1_single-supporting-fact_train.txt": EN_QA1,
    "en/qa3_three-supporting-facts_test.txt": EN_QA3,
    "en-10k/qa8_lists-sets_train.txt": EN_QA8,
    "en/qa15_basic-deduction_test.txt": EN_QA15,
    "en-10k/qa19_path-finding_test.txt": EN_QA19,
    "hn/qa1_single-supporting-fact_train.txt": HN_QA1,
    "hn-10k/qa19_path-finding_train.txt": HN_QA19,
    "hn/qa6_yes-no-questions_test.txt": HN_QA6,
    "shuffled/qa1_single-supporting-fact_train.txt": SHUFFLED_QA1,
    "shuffled-10k/qa1_single-supporting-fact_test.txt": SHUFFLED_QA1,
    "en-valid/qa1_train.txt": EN_QA1,
    "en-valid/qa1_valid.txt": EN_QA1.split("1 Sandra travelled")[0],
    "en-valid-10k/qa8_test.txt": EN_QA8,
    "en-valid-10k/qa15_valid.txt": EN_QA15,
}


@pytest.mark.parametrize("name", FIXTURES)
def test_every_variant_round_trips_byte_for_byte(tmp_path, name):
    path = write(tmp_path / "tasks_1-20_v1-2", name, FIXTURES[name])
    read = read_file(path)
    batch, vocab = read
    batch.check()
    assert read.to_text().encode() == path.read_bytes()
    gap = read.space_before_tab
    assert gap == (" \t" in FIXTURES[name])
    assert to_text(batch, vocab, space_before_tab=gap) == FIXTURES[name]
    # and through load(), from the release's folder layout
    variant, file = name.split("/")
    task = int(file[2:].split("_")[0])
    split = file.rsplit("_", 1)[1][: -len(".txt")]
    loaded = load(tmp_path / "tasks_1-20_v1-2", variant, task, split)
    assert loaded.batch.equals(batch) and loaded.vocab == vocab
    assert loaded.batch.meta["task"].tolist() == [task] * len(batch)
    assert load(tmp_path / "tasks_1-20_v1-2" / variant, variant, task, split).vocab == vocab


def test_hindi_and_shuffled_words_are_tokens_like_any_other(tmp_path):
    batch, vocab = read_file(write(tmp_path, "qa19.txt", HN_QA19))
    assert [vocab[t] for t in batch.targets[batch.mask]] == ["uttar", "poorav"]
    assert batch.meta["task"].tolist() == [0]  # no release name: task unknown
    batch, vocab = read_file(write(tmp_path, "qa1_x_train.txt", SHUFFLED_QA1))
    ep = batch.episode(0)
    assert vocab[ep["targets"][ep["mask"]][0]] == "ptqzxbby"
    assert vocab[ep["inputs"][4]] == "ptqzxbby"  # the answer word is the statement's word
    assert "Utxi" in vocab and "rzhxh" in vocab  # a name keeps its capital; "Rzhxh" opens a line


def test_files_of_other_shapes_round_trip_too(tmp_path):
    no_final_newline = EN_QA1.rstrip("\n")
    crlf = EN_QA1.replace("\n", "\r\n")
    mixed = EN_QA1.replace("Where is John? \t", "Where is John?\t")
    bom = "\ufeff" + crlf  # a byte order mark is stripped on reading and written back
    for i, text in enumerate((no_final_newline, crlf, mixed, bom)):
        path = write(tmp_path, f"f{i}.txt", text)
        read = read_file(path)
        assert read.to_text() == text
    assert read_file(tmp_path / "f2.txt").space_before_tab == (True, False, True)
    assert read_file(tmp_path / "f3.txt").vocab == read_file(tmp_path / "f1.txt").vocab
    # a question with no supporting line (a hand-made file) has distance 0
    path = write(tmp_path, "nosupport.txt", "1 Mary went to the park.\n2 Where is Mary? \tpark\t\n")
    read = read_file(path)
    assert read.to_text() == path.read_text()
    assert len(read.batch.support) == 0 and read.batch.meta["support_distance"].tolist() == [[0]]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("2 Mary went home.\n", 1, "expected line id 1 to start the first story, got 2"),
        ("1 Mary went home.\n3 John went home.\n", 2, "line id 3 breaks the sequence: expected 2"),
        ("1 Mary went home.\n\n", 2, "got an empty line"),
        ("Mary went home.\n", 1, "expected 'ID sentence'"),
        ("x1 Mary went home.\n", 1, "expected 'ID sentence'"),
        ("1 Mary went home.\n2 Where is Mary? \thome\n", 2, "3 TAB-separated fields"),
        ("1 Mary went home.\n2 Where? \thome\t1\tx\n", 2, "got 4 fields"),
        ("1 Mary went home.\n2  \n", 2, "expected a sentence after the line id"),
        ("1 Mary went home.\n2 \thome\t1\n", 2, "expected a question before the first TAB"),
        ("1 Mary went home.\n2 Where is Mary? \t\t1\n", 2, "expected an answer"),
        ("1 Mary went home.\n2 Where is Mary? \tapple,,milk\t1\n", 2, "'apple,,milk'"),
        ("1 Mary went home.\n2 Where is Mary? \thome\tone\n", 2, "integer supporting line ids"),
        ("1 Mary went home.\n2 Where is Mary? \thome\t1.5\n", 2, "got '1.5'"),
        ("1 Mary went home.\n2 Where is Mary? \thome\t3\n", 2, "points to a later line"),
        ("1 Mary went home.\n2 Where is Mary? \thome\t2\n", 2, "points to this line"),
        ("1 Mary went home.\n2 Where is Mary? \thome\t0\n", 2, "points to no line"),
        (
            "1 Mary went home.\n2 Where is Mary? \thome\t1\n3 Where is Mary? \thome\t2\n",
            3,
            "supporting line id 2 points to a question line; expected a statement",
        ),
    ],
)
def test_malformed_lines_are_refused_in_one_line_naming_file_and_line(
    tmp_path, text, line, message
):
    path = write(tmp_path, "qa1_bad_train.txt", text)
    with pytest.raises(LoaderError) as info:
        read_file(path)
    shown = str(info.value)
    assert shown.startswith(f"{path}:{line}: ") and "\n" not in shown
    assert message in shown
    assert isinstance(info.value, MemtasksError)


def test_unreadable_input_is_refused_with_its_place(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"1 Mary went home.\n2 Where is Mary? \tcaf\xe9\t1\n")
    with pytest.raises(LoaderError, match=r"latin1\.txt:2: expected UTF-8 text, got byte 0xe9"):
        read_file(path)
    with pytest.raises(LoaderError, match="no such file"):
        read_file(tmp_path / "missing.txt")
    with pytest.raises(LoaderError, match="cannot be read"):
        read_file(tmp_path)


def test_load_refuses_unknown_variants_tasks_splits_and_missing_files(tmp_path):
    with pytest.raises(LoaderError, match="unknown bAbI variant 'en10k' \\(did you mean 'en-10k'"):
        load(tmp_path, "en10k")
    with pytest.raises(LoaderError, match=r"integer in \[1, 20\], got 21"):
        load(tmp_path, "en", 21)
    with pytest.raises(LoaderError, match="splits train, test, not 'valid'"):
        load(tmp_path, "en", 1, "valid")
    with pytest.raises(LoaderError, match=r"qa2_train\.txt: no such file"):
        load(tmp_path, "en-valid", 2, "train")


def test_reading_with_a_given_vocabulary(tmp_path):
    path = write(tmp_path, "qa1.txt", EN_QA1)
    own, own_vocab = read_file(path)
    bigger = ("<pad>", "<answer>", ".", "?", "office", *own_vocab[4:][::-1])
    batch, vocab = read_file(path, vocab=bigger)
    assert vocab == bigger
    assert [vocab[t] for t in batch.inputs] == [own_vocab[t] for t in own.inputs]
    with pytest.raises(LoaderError, match=r"qa1\.txt:1: word 'Mary' is not in the given vocab"):
        read_file(path, vocab=[w for w in bigger if w != "Mary"])


# -- the generators' episodes, written and read back -------------------------------------------
@pytest.mark.parametrize("knobs", [{}, {"actors": 7, "statements_per_question": 3}])
def test_text_of_generated_episodes_reads_back_to_the_same_episodes(tmp_path, knobs):
    spec = memtasks.get_spec("babi/qa1-v1")
    k = spec.make_knobs(**knobs)
    vocab = spec.layout(k).vocab
    batch = spec.generate(300, seed=4, knobs=k)
    path = write(tmp_path, "qa1_single-supporting-fact_train.txt", "")
    path.write_text(to_text(batch, vocab, space_before_tab=True))
    back, same_vocab = read_file(path, vocab=vocab)
    assert same_vocab == vocab
    for name in ("offsets", "inputs", "targets", "mask", "role", "segment", "support_offsets",
                 "support", "support_answer"):  # fmt: skip
        assert np.array_equal(getattr(back, name), getattr(batch, name)), name
    for name in ("statements", "questions", "support_distance"):
        assert np.array_equal(back.meta[name], batch.meta[name]), name
    if "task" in batch.meta:
        assert np.array_equal(back.meta["task"], batch.meta["task"])
    assert (back.meta["question_template"] == -1).all()
    # with a vocabulary built from the file, the same words at the same places
    own, own_vocab = read_file(path)
    assert [own_vocab[t] for t in own.inputs] == [vocab[t] for t in batch.inputs]
    assert [own_vocab[t] for t in own.targets] == [vocab[t] for t in batch.targets]
    assert read_file(path).to_text() == path.read_text()


def test_story_lines_and_to_text_agree_and_refuse_what_text_cannot_hold(tmp_path):
    batch, vocab = read_file(write(tmp_path, "qa8.txt", EN_QA8 + EN_QA1))
    lines = [line for i in range(len(batch)) for line in babi.story_lines(batch, i, vocab,
             space_before_tab=True)]  # fmt: skip
    assert "\n".join(lines) + "\n" == EN_QA8 + EN_QA1
    vectors = memtasks.generate("ntm/copy-v1", 2)
    with pytest.raises(ValueError, match="token episodes"):
        to_text(vectors, ())
    weird = batch[:1]
    weird.role[0] = 3
    with pytest.raises(ValueError, match="role 3 at step 0"):
        to_text(weird, vocab)


# -- the shuffled cipher ------------------------------------------------------------------
def test_cipher_key_is_two_fixed_point_free_permutations_from_its_seed():
    assert sorted(CIPHER_LOWER) == list(string.ascii_lowercase)
    assert sorted(CIPHER_UPPER) == list(string.ascii_uppercase)
    assert all(a != b for a, b in zip(string.ascii_lowercase, CIPHER_LOWER, strict=True))
    assert all(a != b for a, b in zip(string.ascii_uppercase, CIPHER_UPPER, strict=True))
    # separate mappings: an upper-case letter is not the capital of its lower-case image
    assert CIPHER_LOWER.upper() != CIPHER_UPPER
    rng = np.random.default_rng(CIPHER_SEED)

    def draw() -> np.ndarray:
        while True:
            p = rng.permutation(26)
            if not (p == np.arange(26)).any():
                return p

    assert "".join(string.ascii_lowercase[i] for i in draw()) == CIPHER_LOWER
    assert "".join(string.ascii_uppercase[i] for i in draw()) == CIPHER_UPPER


def test_cipher_round_trips_and_keeps_token_ids(tmp_path):
    text = EN_QA8 + EN_QA19
    shuffled = cipher(text)
    assert decipher(shuffled) == text and shuffled != text
    assert [line.split(" ")[0] for line in shuffled.splitlines()] == [
        line.split(" ")[0] for line in text.splitlines()
    ]  # ids, spaces, tabs, punctuation untouched
    assert cipher("Mary moved to the bathroom.") == "Qckm ehwly fh fjl gcfjkhhe."
    batch, vocab = read_file(write(tmp_path, "plain.txt", text))
    ciphered = cipher_vocab(vocab)
    assert ciphered[:4] == vocab[:4] and len(ciphered) == len(vocab)
    assert ciphered[vocab.index("milk")] == cipher("milk")
    assert to_text(batch, vocab, shuffled=True) == cipher(to_text(batch, vocab))
    # a shuffled file read as it is: its mid-sentence words are the ciphered vocabulary's
    sbatch, svocab = read_file(write(tmp_path, "shuffled.txt", shuffled))
    assert read_file(tmp_path / "shuffled.txt").to_text() == shuffled
    assert [svocab[t] for t in sbatch.targets[sbatch.mask]] == [
        ciphered[t] for t in batch.targets[batch.mask]
    ]
    # ... and deciphered first: the plain episodes
    plain = read_file(tmp_path / "shuffled.txt", memtasks_cipher=True)
    assert plain.batch.equals(batch) and plain.vocab == vocab
    assert plain.to_text() == shuffled


# -- the real release (opt-in) ------------------------------------------------------------
REAL = os.environ.get("MEMTASKS_BABI_DIR", "")


@pytest.mark.skipif(
    not REAL or not list(Path(REAL).glob("en/*.txt")),
    reason="set MEMTASKS_BABI_DIR to an unpacked bAbI release (a folder with en/*.txt)",
)
def test_every_real_release_file_round_trips_byte_for_byte():
    files = sorted(Path(REAL).glob("*/*.txt"))
    for path in files:
        read = read_file(path)
        batch, vocab = read
        batch.check()
        assert read.to_text().encode() == path.read_bytes(), path
        questions = int(batch.meta["questions"].sum())
        assert int(batch.mask.sum()) >= questions > 0
        assert len(batch.support) >= questions  # every released question names its supports
        match = babi._FILE_TASK.match(path.name)
        if match and path.parent.name in ("en", "en-10k"):
            number = int(match.group(1))
            assert read.space_before_tab == (number in babi.SPACE_BEFORE_TAB), path
