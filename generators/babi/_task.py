"""What every bAbI task shares: common knobs, the world tables, and registration.

A task module (``qa1.py`` ... ``qa20.py``, ``world_qa.py``) defines its knobs (a subclass of
``BabiKnobs``), a compiled story function (see ``_story``) and ``build(knobs) -> World``, and
calls ``babi_task(...)``. Everything else (the driver, rendering, long-context filler, meta,
errors) is here and in ``_story``.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

import numpy as np
from numba.core.errors import NumbaWarning, TypingError

from memtasks.episode import EpisodeBatch
from memtasks.errors import KnobError
from memtasks.knobs import Knobs, knob
from memtasks.metrics import AnswerMetric
from memtasks.registry import Layout, TaskSpec, register

from .._kernels import FlatLayout, Kernel
from . import _story
from ._filler import filler_sentences
from ._text import Text, TextTables

# BABILong-style lengths every task offers: the story's own lines among filler prose
LONG_PRESETS = {"long-1k": {"context_tokens": 1_000}, "long-16k": {"context_tokens": 16_000}}
MAX_TRIES = 10_000  # stories drawn for one episode before the knobs are declared unsatisfiable
SOURCE = (
    "Weston et al. (2015), Towards AI-Complete Question Answering: A Set of Prerequisite Toy "
    "Tasks, arXiv:1502.05698; released data bAbI v1.2 (tasks_1-20_v1-2)"
)


@dataclass(frozen=True)
class BabiKnobs(Knobs):
    """Knobs every bAbI-style task has; tasks add their own after these."""

    min_distance: int = knob(
        0, lo=0, hi=100_000,
        doc="a question's earliest supporting fact is at least this many statements back",
        # short stories at the defaults: tasks whose stories reach further set axis_ladders
        harder="up", ladder=(0, 1, 2),
        why="every question's supporting facts lie at least this many statements back",
    )  # fmt: skip
    max_distance: int = knob(0, lo=0, hi=100_000, doc="... and at most this many (0: no bound)")
    context_tokens: int = knob(
        0, lo=0, hi=10_000_000,
        doc="long-context mode: the story's lines, in order, among filler sentences up to this "
        "many tokens (0: off; BABILong-style)",
        harder="up", ladder=(0, 1_000, 2_000, 4_000, 8_000, 16_000),
        why="the story spread through filler prose: its facts far apart among irrelevant text",
    )  # fmt: skip
    filler: str = knob(
        "grammar", choices=("grammar", "file"),
        doc="where filler sentences come from: the built-in grammar or filler_file",
    )  # fmt: skip
    filler_file: str = knob("", doc="a UTF-8 text file of filler prose (filler=file)")

    def check(self) -> None:
        self.require(
            self.max_distance == 0 or self.min_distance <= self.max_distance,
            "min_distance must be <= max_distance",
        )
        self.require(
            (self.filler == "file") == bool(self.filler_file),
            "filler=file needs filler_file, and filler_file needs filler=file",
        )


@dataclass(frozen=True)
class World:
    """A task's compiled inputs for one set of knobs (built once and cached)."""

    text: TextTables
    pools: tuple[np.ndarray, ...]  # int32 phrase ids the story function draws from
    params: np.void  # the knob record: ``_story.COMMON_KNOBS``, then the task's own fields
    max_lines: int  # lines a story can have, at most
    a_max: int  # answer phrases per question, at most
    s_max: int  # supporting lines per question, at most
    q_max: int  # questions per story, at most (width of the per-question meta)
    filler_offsets: np.ndarray
    filler_tokens: np.ndarray
    long_rows: int  # lines of a story with its filler, at most
    tags: dict[str, str]  # phrase -> its kind in the release's templates ("kitchen" -> "LOC")


# A helper shared by several tasks (``_objects.step``) is compiled for the first task's record
# and reused for a task whose record has more fields after the same ones: Numba calls that a
# record subtype (safe: the fields it reads sit at the same offsets) and warns it is
# experimental, on every first compile. The warning says nothing a user can act on.
warnings.filterwarnings(
    "ignore", message=r".*Record\(.*has been considered a subtype", category=NumbaWarning
)


def knob_record(common: dict[str, float], task_params: dict[str, float]) -> np.void:
    """The record a story function reads its knobs from by name (``p.questions``), float64
    fields: the common ones (``_story.COMMON_KNOBS``, in that order), then the task's own.

    A NumPy record is a Numba ``Record`` type, its field names part of the compiled signature:
    a story reading a field the task does not declare fails when the driver compiles (see
    ``Driver.generate``), and no field can be read by the wrong position."""
    assert tuple(common) == _story.COMMON_KNOBS, tuple(common)
    if not isinstance(task_params, dict):
        raise TypeError(f"task knobs are declared by name (named(...)), got {task_params!r}")
    clash = sorted(set(common) & set(task_params))
    if clash:
        raise ValueError(f"task knob fields {clash} shadow the common ones")
    values = {**common, **task_params}
    record = np.zeros(1, np.dtype([(name, np.float64) for name in values]))[0]
    for name, value in values.items():
        record[name] = value
    return record


def make_world(
    knobs: BabiKnobs,
    text: Text,
    pools: tuple[np.ndarray, ...],
    task_params: dict[str, float],
    *,
    max_lines: int,
    a_max: int,
    s_max: int,
    q_max: int,
    tags: dict[str, tuple[str, ...]],
) -> World:
    """Assemble a ``World``: filler (its words join the vocabulary) and the knob record.

    ``tags`` names the kind of each entity phrase as the release's template list does
    (``{"ACTOR": actors, "LOC": rooms}``): the fidelity checks abstract sentences with it."""
    filler = filler_sentences(knobs, text) if knobs.context_tokens > 0 else []
    f_offsets = np.zeros(len(filler) + 1, np.int64)
    np.cumsum([len(s) for s in filler], out=f_offsets[1:])
    f_tokens = np.asarray([t for s in filler for t in s], dtype=np.int32)
    long_rows = max_lines
    if filler:
        shortest = int(np.diff(f_offsets).min())
        long_rows += knobs.context_tokens // max(shortest, 1) + 1
    p = knob_record(
        dict(
            tries=MAX_TRIES, min_distance=knobs.min_distance, max_distance=knobs.max_distance,
            context_tokens=knobs.context_tokens, a_max=a_max, s_max=s_max,
        ),
        task_params,
    )  # fmt: skip
    return World(
        text=text.tables(),
        pools=tuple(np.ascontiguousarray(a, dtype=np.int32) for a in pools),
        params=p,
        max_lines=max_lines,
        a_max=a_max,
        s_max=s_max,
        q_max=q_max,
        filler_offsets=f_offsets,
        filler_tokens=f_tokens,
        long_rows=long_rows,
        tags={phrase: tag for tag, phrases in tags.items() for phrase in phrases},
    )


def _missing_field(message: str) -> str | None:
    match = re.search(r"KeyError: '(\w+)'|Unknown attribute '(\w+)' of type Record", message)
    return next((g for g in match.groups() if g), None) if match else None


class Driver:
    """The compiled kernel of one task: the shared driver with its story function bound in."""

    def __init__(self, task_name: str, story, weight: float, number: int):
        self.number = number
        # Named after the task: the cache keys entries by a digest of the sources
        # (``_kernels.source_digest``), so an edit to the story function compiles afresh.
        self.kernel = Kernel(
            _story.episodes, weight, f"babi_{task_name}", {"story": story}, last=True
        )

    def _run(self, task_id: str, world: World, *args) -> None:
        try:
            self.kernel(*args)
        except (KeyError, TypingError) as exc:
            # Numba's error for ``p.name`` when the record has no field ``name``, raised
            # while the driver compiles: say which knob, of which task, and what there is
            name = exc.args[0] if isinstance(exc, KeyError) else _missing_field(str(exc))
            fields = world.params.dtype.names
            if not isinstance(name, str) or name in fields:
                raise
            raise KnobError(
                f"{task_id}: its story function reads the knob {name!r}, which its knob record "
                f"does not declare (declared: {', '.join(fields)})"
            ) from None

    def generate(self, task_id: str, world: World, key, start: int, n: int) -> EpisodeBatch:
        offsets, arrays, extras = self.write(task_id, world, key, start, n, FlatLayout())
        return EpisodeBatch.from_kernel(offsets, arrays, start, **extras)

    def write(self, task_id: str, world: World, key, start: int, n: int, layout):
        """The two passes, for ``_kernels.two_layouts``: the sizes pass draws the offsets,
        ``layout`` gives the arrays and each episode's first row, and the fill pass renders
        episode b from ``rows[b]`` on (it reads no other offset, so given the padded rows it
        writes padded batches; the support goes to arrays of its own either way). Returns
        ``(offsets, arrays, extras)``, ``extras`` the keywords of ``EpisodeBatch.from_kernel``.

        The bAbI tasks use the flat layout only (``generate``): a padded one would compile
        each task's driver a second time (tens of seconds, for int64 arrays) to gain little,
        their stream being bound by generating the stories (``benchmarks/bench_stream.py``).
        """
        t = world.text
        width = _story.ANSWERS + world.a_max + world.s_max
        tables = (
            world.params, world.pools, world.max_lines, world.long_rows, width,
            t.phrase_offsets, t.phrase_tokens, t.template_offsets, t.template_tokens,
            world.filler_offsets, world.filler_tokens,
        )  # fmt: skip
        offsets = np.empty(n + 1, np.int64)
        support_offsets = np.empty(n + 1, np.int64)
        ok = np.empty(n, np.bool_)
        # the sizes pass writes none of the arrays of the fill pass: empty ones of their types
        none32, none2d = np.empty(0, np.int32), np.empty((0, 0), np.int32)
        self._run(
            task_id, world, key, start, n, False, *tables, offsets, none32, none32,
            np.empty(0, np.bool_), np.empty(0, np.int8), none32, support_offsets, none32, none32,
            none32, none2d, none2d, ok,
        )  # fmt: skip
        if not ok.all():
            bad = start + int(np.flatnonzero(~ok)[0])
            raise KnobError(
                f"{task_id}: no story meeting these knobs was found in {MAX_TRIES} tries "
                f"(episode {bad}); loosen min_distance/max_distance or the task's own knobs"
            )
        rows, arrays = layout(offsets, (None, np.int32), (None, np.int32))
        support = np.empty(int(support_offsets[-1]), np.int32)
        support_answer = np.empty(len(support), np.int32)
        n_statements = np.empty(n, np.int32)
        q_template = np.empty((n, world.q_max), np.int32)
        q_distance = np.empty((n, world.q_max), np.int32)
        self._run(
            task_id, world, key, start, n, True, *tables, rows, *arrays, support_offsets,
            support, support_answer, n_statements, q_template, q_distance, ok,
        )  # fmt: skip
        meta = {
            # which task each story is of, so that joint training sets of several tasks
            # (concatenated batches) keep it: the bAbI task number, 0 for other tasks
            "task": np.full(n, self.number, np.int8),
            "statements": n_statements,
            "questions": (q_template >= 0).sum(axis=1).astype(np.int32),
            "question_template": q_template,
            "support_distance": q_distance,
        }
        extras = dict(support=(support_offsets, support), support_answer=support_answer,
                      meta=meta, task=task_id)  # fmt: skip
        return offsets, arrays, extras


def babi_task(
    task_id: str,
    summary: str,
    knobs: type[BabiKnobs],
    story,
    build,
    *,
    presets: dict | None = None,
    weight: float = 4.0,
    source: str = SOURCE,
    superseded_by: str = "",
    superseded_why: str = "",
) -> TaskSpec:
    """Register a bAbI-style task. ``build(knobs) -> World`` is cached per knobs."""
    name, version = task_id.split("/")[1].rsplit("-v", 1)
    name = name.replace("-", "_")
    number = int(name[2:]) if task_id.startswith("babi/qa") else 0
    # a later version has a driver of its own: the on-disk cache keys compiled code by this
    # name, and a v2 binds another story function (or the same one with another knob record)
    suffix = "" if version == "1" else f"_v{version}"
    driver = Driver(f"{task_id.split('/')[0]}_{name}{suffix}", story, weight, number)
    cached_build = functools.lru_cache(maxsize=64)(build)

    def generator(k: Knobs, key, start: int, n: int) -> EpisodeBatch:
        return driver.generate(task_id, cached_build(k), key, start, n)

    def layout(k: Knobs) -> Layout:
        return Layout("int32", "int32", vocab=cached_build(k).text.vocab)

    spec = TaskSpec(
        id=task_id,
        summary=summary,
        knobs=knobs,
        generator=generator,
        layout=layout,
        metric=AnswerMetric(),
        presets={**(presets or {}), **LONG_PRESETS},
        source=source,
        superseded_by=superseded_by,
        superseded_why=superseded_why,
    )
    spec_world[task_id] = cached_build
    return register(spec)


# task id -> build(knobs) -> World; the text writer and tests read templates and phrases here
spec_world: dict[str, object] = {}


def world_of(task_id: str, knobs: Knobs) -> World:
    return spec_world[task_id](knobs)
