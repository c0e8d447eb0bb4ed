"""Needle in a haystack: key-value facts hidden in bAbI's long-context filler.

``recall/needle-v1`` is RULER's needle-in-a-haystack family (Hsieh et al. 2024: one task with
single, multikey, multivalue and multiquery variants) written as a bAbI story (DESIGN.md
section 2): the haystack is the filler prose of bAbI's long-context mode (BABILong-style), the
needles are sentences stating a secret code of a key ("the secret code of the amber badger is
4 8 2 9 1 0 3 ."), and after the haystack one question per queried key asks for its code(s).

- Keys are adjective-animal pairs (1,024 of them, two tokens each, as RULER's keys are
  adjective-noun words); values are numbers of ``digits`` digits (RULER's 7 by default, first
  digit never 0), one token per digit, or single words.
- ``queries`` keys are asked about, ``distractors`` more keys have needles that are never asked
  (RULER's multikey), ``values`` needles per key (multivalue; the answer is every value, in the
  order the needles appear). With ``haystack=needles`` the haystack itself is distractor needles
  of other keys (RULER's multikey_2) instead of filler.
- Depth: each needle at a depth drawn without replacement from ``depth_steps`` evenly spaced
  fractions of the haystack (RULER: 40 depths from 0 to 100 %), or every needle at ``depth``.
  A needle at depth d goes before the first haystack sentence that starts at or after d times
  the haystack's tokens (the needle sits within one sentence of its depth).
- The episode's tokens (haystack, needles, questions and answer positions) reach
  ``context_tokens``, overshooting by less than one haystack sentence, as bAbI's long-context
  mode counts them.

The story function below writes the haystack, needles and questions as symbolic lines (filler
sentences as ``FILLER`` lines, needles as statements); bAbI's compiled driver
(``generators/babi/_story.py``) renders them into the episode arrays, with the needles as the
questions' supporting facts. The driver's own filler weaving stays off (knob record
``context_tokens=0``): it spreads filler uniformly between a story's lines, so it could not put
a needle at a chosen depth; a ``FILLER`` line renders the same whoever wrote it. A number's
digits fill up to three template slots as groups of up to three digits (phrases "4",
"8 2 9", ...), so any 1-9 digit number renders through the driver's four-slot templates.

Card: ``data_cards/recall/needle.md``. Tests: ``tests/test_recall_needle.py``. Benchmark:
``benchmarks/bench_needle.py``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from memtasks.knobs import Knobs, knob
from memtasks.metrics import AnswerMetric
from memtasks.registry import Layout, TaskSpec, register
from memtasks.rng import next_below

from .._kernels import Kernel, njit, two_layouts
from ..babi import _story
from ..babi._filler import filler_sentences
from ..babi._story import (
    FILLER,
    KIND,
    N_ANSWER,
    N_SUPPORT,
    TEMPLATE,
    add_answer,
    add_support,
    statement,
)
from ..babi._story import question as question_line
from ..babi._task import Driver, World, knob_record
from ..babi._text import Text

TASK_ID = "recall/needle-v1"
RULER = (
    "Hsieh et al. (2024), RULER: What's the Real Context Size of Your Long-Context Language "
    "Models?, arXiv:2404.06654 (the NIAH tasks)"
)
BABILONG = (
    "Kuratov et al. (2024), BABILong: Testing the Limits of LLMs with Long Context "
    "Reasoning-in-a-Haystack, arXiv:2406.10149 (facts hidden in long filler prose)"
)

# Keys: adjective-animal pairs, two tokens each (RULER's keys are adjective-noun words). None of
# these words, nor the value words, is a word of the filler grammar (tests check it).
KEY_ADJECTIVES = (
    "amber", "azure", "beige", "bronze", "cobalt", "copper", "coral", "crimson", "cyan",
    "emerald", "indigo", "ivory", "jade", "khaki", "lilac", "maroon", "ochre", "olive", "pearl",
    "plum", "ruby", "rusty", "sable", "saffron", "scarlet", "silver", "slate", "tawny", "teal",
    "topaz", "umber", "violet",
)  # fmt: skip
KEY_ANIMALS = (
    "badger", "beaver", "bison", "camel", "cobra", "condor", "coyote", "crane", "dingo",
    "eagle", "falcon", "ferret", "gecko", "heron", "hyena", "ibis", "jackal", "koala", "lemur",
    "lynx", "marmot", "moose", "newt", "otter", "panda", "puffin", "raven", "salmon", "tapir",
    "toucan", "walrus", "yak",
)  # fmt: skip
KEYS = tuple(f"{a} {b}" for a in KEY_ADJECTIVES for b in KEY_ANIMALS)
VALUE_WORDS = (
    "anchor", "anvil", "apricot", "banjo", "barrel", "basket", "biscuit", "bottle", "brush",
    "bucket", "button", "cabbage", "cactus", "candle", "carrot", "cherry", "chisel", "compass",
    "cookie", "crayon", "cupcake", "dagger", "drum", "feather", "fiddle", "garlic", "goblet",
    "hammer", "helmet", "kettle", "ladder", "lantern", "lemon", "magnet", "mango", "marble",
    "mitten", "muffin", "nutmeg", "onion", "oyster", "pebble", "pepper", "pickle", "pillow",
    "pretzel", "pumpkin", "quill", "radish", "ribbon", "saddle", "shovel", "spoon", "sponge",
    "teapot", "thimble", "tulip", "turnip", "umbrella", "violin", "walnut", "whistle", "wrench",
    "zipper",
)  # fmt: skip
DIGITS = tuple("0123456789")
MAX_DIGITS = 9  # three template slots of up to three digits each
GROUP = 3  # digits per slot (the first slot takes the rest: 7 digits are 1 + 3 + 3)

# Our wording (not RULER's): one sentence per needle, one question per queried key. With several
# values per key the needle says "one secret code" and the question asks for "the codes".
NEEDLE = ("the secret code of the {0} is", "one secret code of the {0} is")
QUESTION = ("what is the secret code of the {0}?", "what are the secret codes of the {0}?")


def _needle_template(values: int, slots: int) -> str:
    return NEEDLE[values > 1] + " " + " ".join(f"{{{k + 1}}}" for k in range(slots)) + "."


def groups(digits: int) -> tuple[int, ...]:
    """Sizes of the digit groups that fill a number's template slots: 7 -> (1, 3, 3)."""
    n = (digits + GROUP - 1) // GROUP
    return (digits - GROUP * (n - 1),) + (GROUP,) * (n - 1)


def _digit_phrases(size: int) -> list[str]:
    """Every group of ``size`` digits as a phrase of one word per digit ("0 4 2")."""
    return [" ".join(f"{x:0{size}d}") for x in range(10**size)]


@dataclass(frozen=True)
class NeedleKnobs(Knobs):
    context_tokens: int = knob(
        1_000, lo=0, hi=1_000_000,
        doc="tokens of the episode (haystack, needles, questions, answers): the haystack is "
        "drawn until the episode reaches this many, overshooting by less than one sentence",
        harder="up", ladder=(250, 500, 1_000, 2_000, 4_000, 8_000, 16_000),
        why="a longer haystack: the needles lie farther back among more irrelevant sentences",
    )  # fmt: skip
    depth: float = knob(
        -1.0, lo=-1.0, hi=1.0,
        doc="where the needles lie, as a fraction of the haystack's tokens (0: before it, 1: "
        "after it); -1: each needle at its own depth drawn from depth_steps evenly spaced ones",
        harder="down", ladder=(1.0, 0.5, 0.0),
        why="needles nearer the start of the haystack: held across more of it before the "
        "question",
    )  # fmt: skip
    depth_steps: int = knob(
        40, lo=2, hi=10_000,
        doc="depth=-1: the depths k / (depth_steps - 1), k = 0 .. depth_steps - 1, drawn "
        "without replacement (RULER: 40 depths from 0 to 100 %)",
    )  # fmt: skip
    queries: int = knob(
        1, lo=1, hi=64, doc="keys asked about, one question each (RULER's multiquery: 4)",
        harder="up", ladder=(1, 2, 4, 8),
        why="more keys whose codes must all be held until their questions",
    )  # fmt: skip
    distractors: int = knob(
        0, lo=0, hi=64, doc="other keys with needles that are never asked (RULER's multikey: 3)",
        harder="up", ladder=(0, 1, 3, 7, 15),
        why="more keys' codes in the haystack: the queried key's must be told apart from them",
    )  # fmt: skip
    values: int = knob(
        1, lo=1, hi=16,
        doc="needles (values) per key; a question's answer is all of its key's values, in "
        "the order of their needles (RULER's multivalue: 4)",
        harder="up", ladder=(1, 2, 4, 8),
        why="more values per key, all of which the answer must give",
    )  # fmt: skip
    value_kind: str = knob(
        "numbers", choices=("numbers", "words"),
        doc="numbers of `digits` digits (one token per digit), or single words",
    )  # fmt: skip
    digits: int = knob(7, lo=1, hi=MAX_DIGITS, doc="digits of a number value (RULER: 7)")
    haystack: str = knob(
        "filler", choices=("filler", "needles"),
        doc="the haystack: bAbI's filler prose, or needles of other keys that are never "
        "asked (RULER's multikey_2)",
    )  # fmt: skip
    filler: str = knob(
        "grammar", choices=("grammar", "file"),
        doc="where filler sentences come from: bAbI's built-in grammar or filler_file",
    )  # fmt: skip
    filler_file: str = knob("", doc="a UTF-8 text file of filler prose (filler=file)")

    @property
    def keys(self) -> int:
        """Keys with needles in an episode."""
        return self.queries + self.distractors

    @property
    def needles(self) -> int:
        return self.keys * self.values

    def check(self) -> None:
        self.require(
            self.depth == -1.0 or self.depth >= 0.0,
            "depth must be -1 (each needle at a depth drawn from depth_steps) or a fraction "
            "in [0, 1]",
        )
        self.require(
            self.depth >= 0.0 or self.needles <= self.depth_steps,
            f"depth=-1 draws each needle's depth without replacement, so the needles "
            f"((queries + distractors) * values = {self.needles}) must be <= depth_steps",
        )
        if self.value_kind == "words":
            self.require(
                self.needles <= len(VALUE_WORDS),
                f"value_kind=words gives every needle its own word, so (queries + distractors) "
                f"* values = {self.needles} must be <= {len(VALUE_WORDS)}",
            )
        else:
            distinct = 9 * 10 ** (self.digits - 1)
            self.require(
                self.needles <= distinct,
                f"every needle has its own number, so (queries + distractors) * values = "
                f"{self.needles} must be <= {distinct:,} (the numbers of {self.digits} digits)",
            )
        self.require(
            (self.filler == "file") == bool(self.filler_file),
            "filler=file needs filler_file, and filler_file needs filler=file",
        )


# ---------------------------------------------------------------------------------------------
# The story function: haystack, needles at their depths, questions (bAbI's driver renders it)
# ---------------------------------------------------------------------------------------------
@njit
def _shuffle_head(state, items, k):
    """Partial Fisher-Yates: ``items[:k]`` becomes a uniform sample without replacement, in
    random order."""
    n = len(items)
    for j in range(k):
        state, r = next_below(state, n - j)
        t = items[j]
        items[j] = items[j + r]
        items[j + r] = t
    return state


@njit
def _draw_value(state, p, n_words):
    """A random value: an index into the value words, or a number of ``p.digits`` digits whose
    first digit is not 0 (RULER draws uniformly in [10^(d-1), 10^d))."""
    if p.words > 0:
        return next_below(state, n_words)
    lo = np.int64(10) ** (np.int64(p.digits) - 1)
    state, x = next_below(state, 9 * lo)
    return state, lo + x


@njit
def _value_slots(p, value, words, first_groups, triples, slots):
    """The phrase ids that spell ``value`` in the needle's value slots (in ``slots``)."""
    if p.words > 0:
        slots[0] = words[value]
        return 1
    n = np.int64(p.groups)
    for g in range(n):
        power = np.int64(1000) ** (n - 1 - g)
        if g == 0:
            slots[0] = first_groups[value // power]
        else:
            slots[g] = triples[(value // power) % 1000]
    return n


@njit
def _needle(lines, n, template, key, p, value, words, first_groups, triples, slots):
    """Append the needle "the secret code of the <key> is <value>." as a statement."""
    k = _value_slots(p, value, words, first_groups, triples, slots)
    a1 = slots[0]
    a2 = slots[1] if k > 1 else -1
    a3 = slots[2] if k > 2 else -1
    return statement(lines, n, template, key, a1, a2, a3)


@njit
def story(state, p, pools, lines):
    keys, words, first_groups, triples, filler_lengths, templates = pools
    n_keys = np.int64(p.queries) + np.int64(p.distractors)
    per_key = np.int64(p.values)
    n_needles = n_keys * per_key
    a_max = np.int64(p.a_max)
    slots = np.full(3, -1, np.int64)

    # the episode's keys (the first `queries` are asked, in this order) and distinct values
    key_order = np.arange(len(keys))
    state = _shuffle_head(state, key_order, n_keys)
    value_of = np.empty(n_needles, np.int64)  # needle m: key m // per_key, its value
    if p.words > 0:
        word_order = np.arange(len(words))
        state = _shuffle_head(state, word_order, n_needles)
        for m in range(n_needles):
            value_of[m] = word_order[m]
    else:
        for m in range(n_needles):
            while True:  # redraw a number another needle already has (rare at 7 digits)
                state, x = _draw_value(state, p, len(words))
                fresh = True
                for j in range(m):
                    if value_of[j] == x:
                        fresh = False
                        break
                if fresh:
                    break
            value_of[m] = x

    # the haystack: filler sentences (or other keys' needles) until the episode is long enough
    max_units = np.int64(p.max_units)
    unit = np.empty(max_units, np.int64)  # a filler sentence, or a distractor needle's key
    unit_value = np.empty(max_units, np.int64)  # a distractor needle's value
    start = np.empty(max_units + 1, np.int64)  # haystack tokens before unit u
    target = np.int64(p.haystack_tokens)
    needle_haystack = p.needle_haystack > 0
    u = 0
    total = 0
    start[0] = 0
    while total < target:
        if needle_haystack:
            # a key none of the episode's needles has, and any value
            state, r = next_below(state, len(keys) - n_keys)
            unit[u] = np.int64(keys[key_order[n_keys + r]])
            state, unit_value[u] = _draw_value(state, p, len(words))
            total += np.int64(p.needle_tokens)
        else:
            state, f = next_below(state, len(filler_lengths))
            unit[u] = f
            total += filler_lengths[f]
        u += 1
        start[u] = total

    # each needle slot's boundary: before the first unit that starts at or after its depth
    boundary = np.empty(n_needles, np.int64)
    if p.depth >= 0.0:
        b = 0
        while b < u and start[b] < p.depth * total:
            b += 1
        for j in range(n_needles):
            boundary[j] = b
    else:
        steps = np.int64(p.depth_steps)
        grid = np.arange(steps)
        state = _shuffle_head(state, grid, n_needles)
        depths = np.sort(grid[:n_needles])
        b = 0
        for j in range(n_needles):  # exact: start[b] / total >= k / (steps - 1)
            while b < u and start[b] * (steps - 1) < depths[j] * total:
                b += 1
            boundary[j] = b
    # which needle takes which slot: a random order (RULER shuffles its needles)
    order = np.arange(n_needles)
    state = _shuffle_head(state, order, n_needles)

    # the lines: haystack units with the needles at their boundaries
    needle_t, question_t = templates[0], templates[1]
    seen = np.zeros(n_keys, np.int64)
    line_of = np.empty((n_keys, per_key), np.int64)  # each key's needles in text order
    value_at = np.empty((n_keys, per_key), np.int64)
    n = 0
    j = 0
    for b in range(u + 1):
        while j < n_needles and boundary[j] == b:
            m = order[j]
            k = m // per_key
            n = _needle(lines, n, needle_t, np.int64(keys[key_order[k]]), p, value_of[m], words,
                        first_groups, triples, slots)  # fmt: skip
            line_of[k, seen[k]] = n - 1
            value_at[k, seen[k]] = value_of[m]
            seen[k] += 1
            j += 1
        if b < u:
            if needle_haystack:
                n = _needle(lines, n, needle_t, unit[b], p, unit_value[b], words, first_groups,
                            triples, slots)  # fmt: skip
            else:
                lines[n, KIND] = FILLER
                lines[n, TEMPLATE] = unit[b]
                lines[n, N_ANSWER] = 0
                lines[n, N_SUPPORT] = 0
                n += 1

    # one question per queried key: its values in text order, supported by their needles
    for k in range(np.int64(p.queries)):
        n = question_line(lines, n, question_t, keys[key_order[k]])
        for c in range(per_key):
            g = _value_slots(p, value_at[k, c], words, first_groups, triples, slots)
            for s in range(g):
                add_answer(lines, n - 1, slots[s], a_max)
            add_support(lines, n - 1, line_of[k, c], a_max)
    return state, n


# ---------------------------------------------------------------------------------------------
# Tables: the vocabulary is the same for every knob value (filler=file adds the file's words),
# so an episode renders with the task's default layout
# ---------------------------------------------------------------------------------------------
def _text() -> Text:
    text = Text()
    for values in (1, 2):
        for slots in (1, 2, 3):
            text.template(_needle_template(values, slots))
        text.template(QUESTION[values > 1])
    for phrase in KEYS:
        text.phrase(phrase)
    for w in VALUE_WORDS:
        text.phrase(w)
    for d in DIGITS:
        text.word(d)
    return text


def _shortest(lengths: np.ndarray) -> int:
    # a Python int: a NumPy int32 here would type the driver's sizes anew (a second compile)
    return max(1, int(lengths.min())) if len(lengths) else 1


@functools.lru_cache(maxsize=64)
def build(k: NeedleKnobs) -> World:
    text = _text()
    keys = text.phrases(KEYS)
    words = text.phrases(VALUE_WORDS)
    numbers = k.value_kind == "numbers"
    sizes = groups(k.digits) if numbers else (1,)
    first_groups = text.phrases(_digit_phrases(sizes[0])) if numbers else np.zeros(0, np.int32)
    triples = text.phrases(_digit_phrases(GROUP)) if len(sizes) > 1 else np.zeros(0, np.int32)
    slots = len(sizes)
    needle_t = text.template(_needle_template(k.values, slots))
    question_t = text.template(QUESTION[k.values > 1])
    # the filler's words join the vocabulary after the task's own, for every haystack (grammar
    # filler always: the vocabulary does not depend on the knobs)
    filler = filler_sentences(k, text)
    f_offsets = np.zeros(len(filler) + 1, np.int64)
    np.cumsum([len(s) for s in filler], out=f_offsets[1:])
    f_tokens = np.asarray([t for s in filler for t in s], dtype=np.int32)
    filler_lengths = np.diff(f_offsets).astype(np.int32)

    value_tokens = k.digits if numbers else 1
    tables = text.tables()

    def words_of(template: int) -> int:  # tokens of a template's own words (slots excluded)
        lo, hi = tables.template_offsets[template], tables.template_offsets[template + 1]
        return int((tables.template_tokens[lo:hi] >= 0).sum())

    needle_tokens = words_of(needle_t) + 2 + value_tokens  # a key is two words
    question_tokens = words_of(question_t) + 2
    fixed = k.needles * needle_tokens + k.queries * (question_tokens + k.values * value_tokens)
    haystack_tokens = max(0, k.context_tokens - fixed)
    shortest = needle_tokens if k.haystack == "needles" else _shortest(filler_lengths)
    max_units = haystack_tokens // shortest + 1
    a_max = k.values * slots
    s_max = k.values
    record = knob_record(
        dict(tries=1, min_distance=0, max_distance=0, context_tokens=0, a_max=a_max,
             s_max=s_max),
        _story.named(
            haystack_tokens=haystack_tokens, depth=k.depth, depth_steps=k.depth_steps,
            queries=k.queries, distractors=k.distractors, values=k.values,
            words=float(not numbers), digits=k.digits, groups=slots,
            needle_haystack=float(k.haystack == "needles"), needle_tokens=needle_tokens,
            max_units=max_units,
        ),
    )  # fmt: skip
    pools = (keys, words, first_groups, triples, filler_lengths,
             np.asarray([needle_t, question_t], np.int32))  # fmt: skip
    max_lines = int(k.needles + k.queries + max_units)
    return World(
        text=tables,
        pools=tuple(np.ascontiguousarray(a, dtype=np.int32) for a in pools),
        params=record,
        max_lines=max_lines,
        a_max=a_max,
        s_max=s_max,
        q_max=k.queries,
        filler_offsets=f_offsets,
        filler_tokens=f_tokens,
        long_rows=max_lines,  # unused: the driver's own filler weaving is off (context_tokens=0)
        tags={},
    )


class _NeedleDriver(Driver):
    """bAbI's driver with this task's story function bound in, under this task's name; it
    writes flat episodes or padded batches (``write``)."""

    def __init__(self) -> None:
        self.number = 0  # meta "task": not a bAbI task
        self.kernel = Kernel(_story.episodes, 4.0, "recall_needle", {"story": story}, last=True)

    def write(self, task_id: str, world: World, key, start: int, n: int, layout):
        """bAbI's two passes (``Driver.write``), into either layout."""
        offsets, arrays, extras = super().write(task_id, world, key, start, n, layout)
        # bAbI's meta minus what means nothing here (the bAbI task number, template ids): left
        # are `statements` (haystack and needle sentences), `questions` and, per question,
        # `support_distance` (sentences from the question back to its key's earliest needle)
        del extras["meta"]["task"], extras["meta"]["question_template"]
        return offsets, arrays, extras


_driver = _NeedleDriver()


@two_layouts
def generate(k: NeedleKnobs, key, start: int, n: int, layout):
    return _driver.write(TASK_ID, build(k), key, start, n, layout)


def layout(k: NeedleKnobs) -> Layout:
    return Layout("int32", "int32", vocab=build(k).text.vocab)


# ---------------------------------------------------------------------------------------------
# `memtasks show`: bAbI's numbered story lines, numbers written as numbers
# ---------------------------------------------------------------------------------------------
_DIGIT_RUN = re.compile(r"(?<=\b\d) (?=\d\b)")  # between one-digit tokens only


def render_story(batch, i: int, layout) -> list[str] | None:
    """A needle episode as the lines of bAbI's text format, with a number's digit tokens
    written together ("4829103") and a multi-value answer's numbers apart ("4829103,5551234");
    None for other tasks of the family (the generic rendering)."""
    # imported here so that generating never loads the renderers (no compiled code reads
    # them: tests/test_compile_cache.py lists them as Python-side only)
    from memtasks import show
    from memtasks.loaders import babi

    vocab = layout.vocab if layout else ()
    if (
        not batch.task.startswith("recall/needle")
        or batch.is_vector
        or not vocab
        or not show.is_story(batch.episode(i))
    ):
        return None
    out = []
    for line in babi.story_lines(batch, i, vocab):
        parts = line.split("\t")  # question lines: text, answer, supporting line numbers
        parts[0] = _DIGIT_RUN.sub("", parts[0])
        if len(parts) == 3 and all(w in DIGITS for w in parts[1].split(",")):
            # every value of a question has the same number of digits; one needle supports each
            digits, n_values = parts[1].split(","), max(1, len(parts[2].split()))
            size = len(digits) // n_values
            parts[1] = ",".join("".join(digits[v * size : (v + 1) * size]) for v in
                                range(n_values))  # fmt: skip
        out.append("  " + "   ".join(parts))
    return out


def _register_renderer() -> None:
    from memtasks import show

    show.register_renderer("recall", render_story)


_register_renderer()

# RULER's NIAH variants as presets (single_1 is the default), each a knob change, and words
PRESETS = {
    "paper": {},
    "extrapolate": {"context_tokens": 4_000},
    "multikey": {"distractors": 3},
    "multikey-needles": {"haystack": "needles"},
    "multivalue": {"values": 4},
    "multiquery": {"queries": 4},
    # one-token values: a memory network that stores each sentence as one vector (MemN2N,
    # MemNN) cannot give 7 digits back in order, but finds the needle (measured: the card)
    "words": {"value_kind": "words"},
}

SPEC = register(
    TaskSpec(
        id=TASK_ID,
        summary="needle in a haystack: recall the secret code(s) of a key hidden among bAbI's "
        "long-context filler (RULER's NIAH: single, multikey, multivalue, multiquery)",
        knobs=NeedleKnobs,
        generator=generate,
        layout=layout,
        metric=AnswerMetric(),
        presets=PRESETS,
        source=f"{RULER}; {BABILONG}",
    )
)
