"""Dataset file formats as plug-ins (DESIGN.md section 2).

A format says how a dataset folder's data files are written and read back; the folder itself
(``memtasks.json``, atomic writes, locking, hashes, verify) is ``memtasks.storage``'s and the
same for every format. The core registers ``parquet`` (the default; what the Hugging Face
``datasets`` library reads) and ``jsonl`` (the human export); a family registers its own text
format with ``register_format`` when its module is imported (the bAbI text:
``memtasks.loaders.babi_text``). ``get_format(name)`` finds a format, loading the families first
if it is not known yet.

A format may declare options (``FormatOption``), given as ``--format-option name=value`` on the
command line and as keyword arguments of ``storage.write_dataset``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from ..episode import EpisodeBatch
from ..errors import MemtasksError, StorageError, did_you_mean

# Readers meet folders memtasks did not write, or that changed since: a flipped bit, a truncated
# or empty file, a foreign Parquet file, an edited manifest. pyarrow, numpy and json report
# those as any of these; each becomes one StorageError line naming the file.
READ_ERRORS = (
    pa.ArrowException, OSError, ValueError, KeyError, IndexError, TypeError, OverflowError,
    RecursionError, MemoryError, EOFError, NotImplementedError,
)  # fmt: skip
JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
              int: "a number", float: "a number", type(None): "null"}  # fmt: skip


def reason(exc: BaseException) -> str:
    """A library's exception as one short line (pyarrow's span several)."""
    if isinstance(exc, MemoryError):
        return "reading it would need more memory than there is"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, KeyError):
        text = f"missing {text}"
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass(frozen=True)
class FormatOption:
    """An option a format takes: its type (``bool``, ``int`` or ``str``), default and meaning."""

    name: str
    kind: type
    default: Any
    doc: str = ""

    def parse(self, fmt: str, value: Any) -> Any:
        """The option's value from Python or from ``--format-option name=text``."""
        if isinstance(value, str) and self.kind is not str:
            text = value.strip().lower()
            if self.kind is bool and text in ("1", "true", "yes", "on"):
                return True
            if self.kind is bool and text in ("0", "false", "no", "off"):
                return False
            if self.kind is int and text.lstrip("-").isdigit():
                return int(text)
        elif isinstance(value, self.kind) and (self.kind is not int or not isinstance(value, bool)):
            return value
        what = {bool: "true or false", int: "an integer", str: "a string"}[self.kind]
        raise MemtasksError(f"format {fmt!r} option {self.name} must be {what}, got {value!r}")


@dataclass(frozen=True)
class WriteContext:
    """What a writer knows about the data: the task or dataset id, its layout, the split and the
    format's options (checked)."""

    task: str
    layout: Any  # memtasks.registry.Layout
    split: str
    options: Mapping[str, Any] = field(default_factory=dict)


class Format(abc.ABC):
    """Base class of formats. Subclasses set the class attributes and implement ``write`` and
    ``read`` (abstract: a format without them cannot be made); the other hooks have defaults
    that fit a format storing episodes exactly."""

    name: ClassVar[str]
    title: ClassVar[str] = ""  # how messages name it ("bAbI text"); the name where empty
    suffix: ClassVar[str]  # data/<split>-NNNNN-of-NNNNN.<suffix>
    size_factor: ClassVar[float] = 1.0  # bytes on disk per byte of episodes in memory (estimate)
    single_file: ClassVar[bool] = False  # one file per dataset (workers' pieces are joined)
    lossy: ClassVar[bool] = False  # read back, episodes differ from those written (read_back)
    options: ClassVar[Mapping[str, FormatOption]] = {}

    # -- writing ----------------------------------------------------------------------------
    def check(self, spec: Any, layout: Any, options: Mapping[str, Any]) -> None:
        """Refuse (one-line ``MemtasksError``) a task or dataset this format cannot hold."""
        return None  # nothing to refuse by default

    def shards_error(self, shards: Any) -> str:
        """The message refusing ``shards`` other than 1 for a single-file format."""
        return f"format {self.name!r} writes one file; shards must be 1, got {shards!r}"

    def file_name(self, task: str, split: str) -> str:
        """The one file's name of a single-file format."""
        return f"{split}.{self.suffix}"

    @abc.abstractmethod
    def write(
        self,
        path: str,
        batches: Iterable[EpisodeBatch],
        context: WriteContext,
        on_batch: Callable[[EpisodeBatch], None],
    ) -> None:
        """Write ``batches`` to the file ``path``, calling ``on_batch`` after each."""

    def read_back(self, batch: EpisodeBatch) -> EpisodeBatch:
        """The episodes as reading the written file gives them back (``lossy`` formats)."""
        return batch

    def manifest_entry(self, context: WriteContext, indices: list[list[int]],
                       read_back_hash: str | None) -> dict[str, Any] | None:  # fmt: skip
        """What the manifest records under the format's name (None: nothing).
        ``indices``: the stored stream indices as ranges [lo, hi)."""
        return None

    # -- reading ----------------------------------------------------------------------------
    @abc.abstractmethod
    def read(self, file: Path, manifest: dict[str, Any]) -> Iterator[EpisodeBatch]:
        """The episodes of one listed file, in order (``StorageError`` for damage)."""

    def check_manifest(self, manifest: dict[str, Any], folder: Path) -> None:
        """Refuse (``StorageError``) a manifest entry of this format that readers cannot use."""
        return None  # nothing to refuse by default

    def expected_hash(self, manifest: dict[str, Any]) -> str:
        """The content hash verify compares the stored episodes with."""
        return manifest["content_hash"]

    def check_generator(self, spec: Any, knobs: Any, manifest: dict[str, Any],
                        bad: Callable[[str], Exception]) -> None:  # fmt: skip
        """Refuse a manifest whose format entry disagrees with the installed generator."""
        return None  # nothing to refuse by default

    def describe(self) -> str:
        """One line for ``memtasks info`` / help texts."""
        return (type(self).__doc__ or self.name).strip().splitlines()[0]


_FORMATS: dict[str, Format] = {}


def register_format(fmt: Format) -> Format:
    """Add a format (an instance of a ``Format`` subclass)."""
    if not isinstance(fmt, Format):
        raise TypeError(f"register_format takes a Format, got {type(fmt).__name__}")
    if fmt.name in _FORMATS and type(_FORMATS[fmt.name]) is not type(fmt):
        raise ValueError(f"format {fmt.name!r} is registered twice")
    _FORMATS[fmt.name] = fmt
    return fmt


def names() -> list[str]:
    """The registered formats' names, the core ones first (after loading the families)."""
    from ..registry import _ensure_loaded

    _ensure_loaded()
    return list(_FORMATS)


def get_format(name: Any) -> Format:
    """The format ``name``; a one-line ``MemtasksError`` naming the formats there are."""
    if isinstance(name, str) and name in _FORMATS:
        return _FORMATS[name]
    known = names()
    if isinstance(name, str) and name in _FORMATS:
        return _FORMATS[name]
    hint = did_you_mean(name, known) if isinstance(name, str) else ""
    raise MemtasksError(f"format must be one of {', '.join(known)}, got {name!r}{hint}")


def check_options(fmt: Format, values: Mapping[str, Any]) -> dict[str, Any]:
    """The format's options with ``values`` on top, parsed and checked (one-line errors; an
    option of another format says which format takes it)."""
    out = {name: option.default for name, option in fmt.options.items()}
    for name, value in values.items():
        option = fmt.options.get(name)
        if option is None:
            owners = [n for n in names() if name in _FORMATS[n].options]
            if owners:
                raise MemtasksError(
                    f"{name} applies to format {' or '.join(repr(o) for o in owners)} only, "
                    f"not {fmt.name!r}"
                )
            takes = ", ".join(fmt.options) or "none"
            hint = did_you_mean(name, fmt.options)
            if not hint:  # a misspelt option of another format
                others = {o: n for n in names() for o in _FORMATS[n].options}
                hint = did_you_mean(name, others)
                if hint:
                    close = hint.split("'")[1]
                    hint = f" (did you mean {close!r}, an option of format {others[close]!r}?)"
            raise MemtasksError(
                f"format {fmt.name!r} has no option {name!r}{hint}; its options: {takes}"
            )
        out[name] = option.parse(fmt.name, value)
    return out


def storage_error(file: Path, what: str) -> StorageError:
    return StorageError(f"{file}: {what}")


from . import jsonl, parquet  # noqa: E402  (the core formats register themselves)

register_format(parquet.ParquetFormat())
register_format(jsonl.JsonlFormat())

__all__ = [
    "Format",
    "FormatOption",
    "WriteContext",
    "check_options",
    "get_format",
    "names",
    "register_format",
]
