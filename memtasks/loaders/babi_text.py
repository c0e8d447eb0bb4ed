"""The bAbI text format as a dataset format (``--format babi``) and the story renderer of
``memtasks show``, registered by the bAbI family (``memtasks.formats``, ``memtasks.show``).

``format="babi"`` writes the story tasks (babi, world families) as one text file in the
released bAbI format, named as the release names it (``qa1_single-supporting-fact_train.txt``),
next to ``memtasks.json``; the option ``shuffled`` writes it under memtasks' letter cipher. The
manifest's ``babi`` entry says how to read it back: ``read_dataset`` re-reads the text with the
task's vocabulary and gives the same episodes except ``meta.question_template``, which text does
not record (-1); ``verify`` checks the re-read episodes against ``babi.read_back_hash``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..episode import EpisodeBatch
from ..errors import LoaderError, MemtasksError, StorageError
from ..formats import READ_ERRORS, Format, FormatOption, WriteContext, reason, register_format
from . import babi

MANIFEST = "memtasks.json"
# question rows a bAbI text reader pads meta to (the story tasks' knobs allow up to 1,000
# questions per story): a manifest cannot make it allocate more
MAX_QUESTIONS = 4096


def as_read_back(batch: EpisodeBatch) -> EpisodeBatch:
    """The episodes as bAbI text gives them back: every ``question_template`` unknown (-1)."""
    if "question_template" not in batch.meta:
        return batch
    meta = dict(batch.meta)
    meta["question_template"] = np.full_like(meta["question_template"], -1)
    return EpisodeBatch.trusted(**{**batch.__dict__, "meta": meta})


def _show(value: Any, limit: int = 60) -> str:
    """A manifest's value for a message: its repr cut to ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of {abs(value).bit_length()} bits"
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4,300 digits inside a list
        return "a value holding a huge integer"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**63 - 1


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= set("0123456789abcdef")


class BabiTextFormat(Format):
    """The released bAbI text, one file (story tasks only); option shuffled: memtasks' cipher."""

    name = "babi"
    title = "bAbI text"
    suffix = "txt"
    size_factor = 1.0  # words in text take about what their ids take in memory
    single_file = True
    lossy = True  # text does not record question templates
    options = {
        "shuffled": FormatOption(
            "shuffled", bool, False, "write the text under memtasks' letter cipher (as the "
            "release's shuffled variant does with its own)"
        ),
    }  # fmt: skip

    def check(self, spec: Any, layout: Any, options) -> None:
        babi.check_text_task(spec, layout)
        if not hasattr(spec, "generate"):
            raise MemtasksError(
                f"{spec.id} is read from the release's own text files; format 'babi' writes "
                "generated stories (use parquet or jsonl)"
            )

    def shards_error(self, shards: Any) -> str:
        return (
            f"format 'babi' writes one text file, as the release does; shards must be 1, "
            f"got {shards!r}"
        )

    def file_name(self, task: str, split: str) -> str:
        return babi.text_file_name(task, split)

    def write(self, path: str, batches: Iterable[EpisodeBatch], context: WriteContext,
              on_batch: Callable[[EpisodeBatch], None]) -> None:  # fmt: skip
        vocab = context.layout.vocab
        gap = babi.task_space_before_tab(context.task)
        shuffled = bool(context.options.get("shuffled"))
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            for batch in batches:
                out.write(babi.to_text(batch, vocab, space_before_tab=gap, shuffled=shuffled))
                on_batch(batch)

    def read_back(self, batch: EpisodeBatch) -> EpisodeBatch:
        return as_read_back(batch)

    def manifest_entry(self, context: WriteContext, indices, read_back_hash) -> dict[str, Any]:
        shuffled = bool(context.options.get("shuffled"))
        return {
            "read_back": (
                "memtasks.storage.read_dataset(DIR): memtasks.loaders.babi.read_file(FILE, "
                "vocab=layout.vocab, memtasks_cipher=babi.shuffled), stories numbered by "
                "babi.indices, meta widths as in features; meta.question_template is -1 (text "
                "does not record templates). verify compares those episodes with read_back_hash"
            ),
            "space_before_tab": babi.task_space_before_tab(context.task),
            "shuffled": shuffled,
            "cipher": (
                {"lower": babi.CIPHER_LOWER, "upper": babi.CIPHER_UPPER} if shuffled else None
            ),
            "indices": indices,
            "read_back_hash": read_back_hash,
        }

    def expected_hash(self, manifest: dict[str, Any]) -> str:
        return manifest["babi"]["read_back_hash"]

    def check_manifest(self, manifest: dict[str, Any], folder: Path) -> None:
        _babi_manifest(manifest, folder)

    def check_generator(self, spec, knobs, manifest, bad) -> None:
        task = manifest["task"]
        try:
            babi.check_text_task(spec, spec.layout(knobs))
        except MemtasksError as exc:
            raise bad(str(exc)) from None
        gap = manifest["babi"].get("space_before_tab", babi.task_space_before_tab(task))
        if gap != babi.task_space_before_tab(task):
            raise bad(f"babi.space_before_tab is {_show(gap)}; {task}'s text has the other")

    def read(self, file: Path, manifest: dict[str, Any]) -> Iterator[EpisodeBatch]:
        yield _read_babi(file, manifest)


def _babi_manifest(manifest: dict[str, Any], where: Path) -> dict[str, Any]:
    """The manifest's ``babi`` entry, checked: what reading the text back relies on."""
    file = where / MANIFEST
    entry = manifest.get("babi")
    layout = manifest.get("layout")
    vocab = layout.get("vocab") if isinstance(layout, dict) else None
    needed = {"read_back_hash", "indices", "shuffled"}
    if (
        not isinstance(entry, dict)
        or needed - set(entry)
        or not isinstance(vocab, list)
        or not vocab
        or not all(isinstance(word, str) for word in vocab)
    ):
        raise StorageError(
            f"{where}: a babi text dataset's {MANIFEST} needs layout.vocab and babi."
            f"{{{', '.join(sorted(needed))}}} to be read back"
        )
    if not _is_hash(entry["read_back_hash"]):
        raise StorageError(
            f"{file}: babi.read_back_hash must be 64 lowercase hex digits, "
            f"got {_show(entry['read_back_hash'])}"
        )
    if not isinstance(entry["shuffled"], bool):
        raise StorageError(
            f"{file}: babi.shuffled must be true or false, got {_show(entry['shuffled'])}"
        )
    cipher = {"lower": babi.CIPHER_LOWER, "upper": babi.CIPHER_UPPER} if entry["shuffled"] else None
    if "cipher" in entry and entry["cipher"] != cipher:
        raise StorageError(
            f"{file}: babi.cipher is not memtasks' cipher for shuffled={entry['shuffled']}"
        )
    if "space_before_tab" in entry and not isinstance(entry["space_before_tab"], bool):
        raise StorageError(f"{file}: babi.space_before_tab must be true or false")
    # the stories' stream indices: ranges in order, from the file's first to its last index,
    # as many as num_episodes (checked before any index array is made of them)
    indices, span = entry["indices"], manifest["files"][0]["episodes"]
    stop, count = span[0], 0
    ranges_ok = isinstance(indices, list) and bool(indices)
    for pair in indices if ranges_ok else ():
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(_is_int(i) for i in pair)
            and stop <= pair[0] < pair[1]
        ):  # fmt: skip
            ranges_ok = False
            break
        stop, count = pair[1], count + pair[1] - pair[0]
    if not ranges_ok or indices[0][0] != span[0] or stop != span[1]:
        raise StorageError(
            f"{file}: babi.indices must be ranges [lo, hi) in order from {span[0]} to "
            f"{span[1]} (files[0].episodes), got {_show(indices)}"
        )
    if count != manifest["num_episodes"]:
        raise StorageError(
            f"{file}: babi.indices hold {count} indices, num_episodes says "
            f"{manifest['num_episodes']}"
        )
    return entry


def _read_babi(file: Path, manifest: dict[str, Any]) -> EpisodeBatch:
    """A babi text file as the episodes it was written from (question_template unknown)."""
    entry = _babi_manifest(manifest, file.parent)
    try:
        batch, _ = babi.read_file(
            file,
            vocab=manifest["layout"]["vocab"],
            memtasks_cipher=bool(entry["shuffled"]),
            task=babi.task_number(manifest["task"]) or 0,
        )
    except LoaderError as exc:
        raise StorageError(" ".join(str(exc).splitlines())) from None
    except MemtasksError:
        raise
    except READ_ERRORS as exc:
        raise StorageError(f"{file} cannot be read as bAbI text ({reason(exc)})") from None
    count = sum(hi - lo for lo, hi in entry["indices"])
    if count != len(batch):
        raise StorageError(
            f"{file} holds {len(batch)} stories; {MANIFEST} lists {count} episode indices"
        )
    index = np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in entry["indices"]])
    meta = dict(batch.meta)
    widths = {k: w for k, (_, w) in manifest["features"]["meta"].items()}
    for k in ("question_template", "support_distance"):
        width = widths.get(k)
        if width is not None and width > MAX_QUESTIONS:
            raise StorageError(
                f"{file.parent / MANIFEST}: features.meta.{k} has width {width}; a story task "
                f"records at most {MAX_QUESTIONS} questions per story"
            )
        if width is not None and k in meta and meta[k].ndim == 2 and meta[k].shape[1] != width:
            # the generator's width is its knobs' question bound; the text's is its longest story
            fitted = np.full((len(batch), width), -1, np.int32)
            keep = min(width, meta[k].shape[1])
            fitted[:, :keep] = meta[k][:, :keep]
            meta[k] = fitted
    try:
        for k, (dtype, _) in manifest["features"]["meta"].items():
            if k in meta:
                meta[k] = meta[k].astype(dtype, copy=False)
    except (TypeError, ValueError, OverflowError) as exc:
        raise StorageError(f"{file}: meta does not fit features.meta ({reason(exc)})") from None
    if widths.get("question_template") is not None and "questions" in meta:
        # the generator counts the questions it records a template for
        meta["questions"] = np.minimum(meta["questions"], widths["question_template"])
    return EpisodeBatch.trusted(**{**batch.__dict__, "index": index, "meta": meta,
                                   "task": manifest["task"]})  # fmt: skip


def render_story(batch: EpisodeBatch, i: int, layout) -> list[str] | None:
    """``memtasks show``'s lines of a story episode: the released text's numbered sentences,
    questions with their answer and supporting line numbers; None for other episodes."""
    from ..show import is_story

    vocab = layout.vocab if layout else ()
    if batch.is_vector or not vocab or not is_story(batch.episode(i)):
        return None
    return ["  " + s.replace("\t", "   ") for s in babi.story_lines(batch, i, vocab)]


def _register() -> None:
    from ..show import register_renderer

    register_format(BabiTextFormat())
    for family in babi.TEXT_FAMILIES:
        register_renderer(family, render_story)


_register()
