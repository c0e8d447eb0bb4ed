"""Real datasets as registry citizens (DESIGN.md section 5).

A real dataset (the bAbI release, Penn Treebank...) is registered like a task, under the same
kind of id (``family/name-vN``), with a ``DatasetSpec``: its knobs, splits, the original files
each split reads (with the release's SHA-256 where known), the reader of those files into
episodes, metric, card and how to acquire the files. ``memtasks.load(id, split, path)`` reads a
split into memory; ``memtasks.storage.load_dataset`` (``memtasks load``) writes the same folder
``memtasks generate`` writes.

Where the files come from (``open_source``): the ``path`` given (a folder, or a ``.tar.gz``,
``.tgz``, ``.tar`` or ``.zip`` archive as downloaded), else ``$MEMTASKS_DATA/<env_subdir>``; the
Hugging Face Hub only when asked (``hub=True``, ``--hub``), and never silently. Without any of
them the error says, in one line, what to download and where to put it.

A file is found under its name (``en/qa1_single-supporting-fact_train.txt``) at the top of the
folder or archive, or under one or two folders (``tasks_1-20_v1-2/``, ``simple-examples/data/``)
as archives unpack; a folder named like the name's first part (``en/``) may be given itself.
Every file read is hashed; a file whose SHA-256 differs from the release's is refused unless
``checksums=False`` (the hashes read are recorded either way: ``Source.read_log``).
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import socket
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .episode import EpisodeBatch
from .errors import LoaderError, MemtasksError, did_you_mean
from .knobs import Knobs
from .registry import Layout, SpecBase, get_dataset

ENV_ROOT = "MEMTASKS_DATA"  # the environment variable naming the root of local copies
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip")


@dataclass(frozen=True)
class SourceFile:
    """One original file of a dataset: its path inside the release folder or archive and the
    SHA-256 of the released file (None where not known)."""

    name: str
    sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec(SpecBase):
    """Everything about one versioned real dataset (the counterpart of ``TaskSpec``).

    ``files(knobs, split)`` names the source files a split reads; ``read(source, knobs, split)``
    parses them and yields ``EpisodeBatch``es in order (indices 0, 1, 2... across batches);
    ``layout(knobs)`` is what the episodes hold. A dataset whose vocabulary comes from its own
    files declares ``vocab(source, knobs)``: then ``layout_of(knobs, source)`` puts it into the
    layout (``layout(knobs)`` alone leaves it empty). ``fixture(folder)`` writes a tiny copy of
    the source files in the exact original format (tests). ``evaluate`` is an optional scoring
    hook for the runner.
    """

    id: str
    summary: str
    knobs: type[Knobs]
    splits: tuple[str, ...]
    files: Callable[[Knobs, str], tuple[SourceFile, ...]]
    read: Callable[[Source, Knobs, str], Iterator[EpisodeBatch]]
    layout: Callable[[Knobs], Layout]
    metric: Any
    acquire: str
    fixture: Callable[[Path], None]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    env_subdir: str = ""
    hub_id: str | None = None
    evaluate: Callable | None = None
    vocab: Callable[[Source, Knobs], tuple[str, ...]] | None = None
    card_name: str | None = None  # several datasets may share one card (data_cards/<family>/)
    source: str = ""  # the paper or release the data comes from

    @property
    def card(self) -> Path:
        if self.card_name is None:
            return super().card
        return super().card.with_name(f"{self.card_name}.md")

    def check_split(self, split: Any) -> str:
        if split not in self.splits:
            shown = split if isinstance(split, str) else repr(split)
            raise MemtasksError(
                f"{self.id} has the splits {', '.join(self.splits)}, not {shown!r}"
                f"{did_you_mean(str(split), self.splits)}"
            )
        return split

    def layout_of(self, knobs: Knobs, source: Source | None = None) -> Layout:
        """The layout, with the vocabulary read from ``source`` where the dataset's comes from
        its files."""
        layout = self.layout(knobs)
        if self.vocab is not None and source is not None:
            layout = dataclasses.replace(layout, vocab=tuple(self.vocab(source, knobs)))
        return layout

    def acquire_line(self) -> str:
        """``acquire`` on one line (error messages are one line)."""
        return " ".join(self.acquire.split())


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _archive_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if any(name.endswith(s) for s in ARCHIVE_SUFFIXES):
        return "tar"
    return None


class Source:
    """The original files of a dataset, in a folder or an archive.

    ``read_bytes(file)``/``read_text(file)`` return a named file's contents (``file`` a
    ``SourceFile`` or a name), checking its SHA-256 against the release's when known and
    ``checksums`` is on; ``where(name)`` is how messages name it (``archive.tgz/member`` for a
    member of an archive). ``read_log`` lists what was read: name, sha256, bytes.
    """

    def __init__(self, root: str | os.PathLike, *, label: str = "", checksums: bool = True):
        self.root = Path(root)
        self.label = label  # the dataset id, for messages
        self.checksums = checksums
        self.kind = "folder" if self.root.is_dir() else _archive_kind(self.root)
        if self.kind is None:
            raise LoaderError(
                f"{self.root}: not a folder or a {'/'.join(ARCHIVE_SUFFIXES)} archive"
            )
        self._members: dict[str, Any] | None = None
        self._archive: Any = None
        self._cache: dict[str, bytes] = {}
        self.read_log: list[dict[str, Any]] = []
        self.memo: dict[Any, Any] = {}  # what a dataset's reader keeps across reads of one source

    def __repr__(self) -> str:
        return f"Source({str(self.root)!r}, {self.kind})"

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    # -- finding ----------------------------------------------------------------------------
    def _open_archive(self) -> dict[str, Any]:
        if self._members is not None:
            return self._members
        try:
            if self.kind == "zip":
                self._archive = zipfile.ZipFile(self.root)  # noqa: SIM115
                infos = [i for i in self._archive.infolist() if not i.is_dir()]
                members = {i.filename: i for i in infos}
            else:
                # kept open across reads (closed by close()), so members are listed only once
                self._archive = tarfile.open(self.root, "r:*")  # noqa: SIM115
                members = {m.name: m for m in self._archive.getmembers() if m.isfile()}
        except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise LoaderError(
                f"{self.root}: cannot be read as a {self.kind} archive ({_one_line(exc)})"
            ) from None
        self._members = {_clean(name): info for name, info in members.items()}
        return self._members

    def find(self, name: str) -> str | None:
        """The file's path in the folder (or member name in the archive), or None."""
        name = _clean(name)
        if self.kind == "folder":
            return self._find_in_folder(name)
        members = self._open_archive()
        if name in members:
            return name
        # one or two folders above the release's names, as archives unpack
        found = sorted(
            (m for m in members if m.endswith("/" + name) and m.count("/") - name.count("/") <= 2),
            key=lambda m: (m.count("/"), m),
        )
        if len(found) > 1 and found[0].count("/") == found[1].count("/"):
            raise LoaderError(
                f"{self.root}: holds {name} more than once ({found[0]}, {found[1]}); pass the "
                "folder that holds the one to read"
            )
        return found[0] if found else None

    def _find_in_folder(self, name: str) -> str | None:
        root = self.root
        candidates = [root / name]
        head, _, rest = name.partition("/")
        if rest and root.name == head:  # the variant's own folder (en/) was given
            candidates.append(root / rest)
        escaped = glob.escape(name)
        for pattern in (f"*/{escaped}", f"*/*/{escaped}"):
            candidates.extend(sorted(root.glob(pattern)))
        for path in candidates:
            if path.is_file():
                return str(path)
        return None

    def has(self, file: SourceFile | str) -> bool:
        return self.find(_name(file)) is not None

    def where(self, file: SourceFile | str) -> str:
        """The file as messages name it: its path, or ``archive/member``."""
        found = self.find(_name(file))
        if found is None:
            return f"{self.root}/{_name(file)}"
        return found if self.kind == "folder" else f"{self.root}/{found}"

    # -- reading ----------------------------------------------------------------------------
    def read_bytes(self, file: SourceFile | str) -> bytes:
        """The file's bytes, its SHA-256 checked (see the class doc)."""
        name = _name(file)
        if name in self._cache:
            return self._cache[name]
        found = self.find(name)
        if found is None:
            raise LoaderError(f"{self.root}: has no file {name}{self._missing_hint()}")
        try:
            if self.kind == "folder":
                data = Path(found).read_bytes()
            else:
                handle = self._archive.open(self._members[found]) if self.kind == "zip" else (
                    self._archive.extractfile(self._members[found])
                )  # fmt: skip
                with handle:
                    data = handle.read()
        except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise LoaderError(f"{self.where(name)}: cannot be read ({_one_line(exc)})") from None
        digest = hashlib.sha256(data).hexdigest()
        expected = file.sha256 if isinstance(file, SourceFile) else None
        if self.checksums and expected is not None and digest != expected:
            raise LoaderError(
                f"{self.where(name)}: sha256 {digest} is not the release's {expected}; the file "
                "was changed or is from another release (download it again, or pass "
                "--no-checksums / checksums=False to read it anyway)"
            )
        self._cache[name] = data
        self.read_log.append(
            {"name": name, "sha256": digest, "bytes": len(data),
             "release_sha256": expected, "checked": bool(self.checksums and expected)}
        )  # fmt: skip
        return data

    def read_text(self, file: SourceFile | str, encoding: str = "utf-8") -> str:
        data = self.read_bytes(file)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise LoaderError(
                f"{self.where(file)}:{line}: expected {encoding} text, got byte "
                f"0x{data[exc.start]:02x}"
            ) from None

    def _missing_hint(self) -> str:
        return f" (is {self.root} the {self.label} release?)" if self.label else ""

    def sources(self) -> list[dict[str, Any]]:
        """What the manifest records of the files read: name, sha256, bytes, in reading order."""
        return [{k: r[k] for k in ("name", "sha256", "bytes")} for r in self.read_log]


def _name(file: SourceFile | str) -> str:
    return file.name if isinstance(file, SourceFile) else str(file)


def _clean(name: str) -> str:
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in (".", "/")]
    return "/".join(parts)


# -- where the files come from ----------------------------------------------------------------
def open_source(
    spec: DatasetSpec | str,
    path: str | os.PathLike | None = None,
    *,
    hub: bool = False,
    checksums: bool = True,
) -> Source:
    """The source files of ``spec``: ``path`` (a folder or an archive) if given, else the Hub if
    ``hub``, else ``$MEMTASKS_DATA/<env_subdir>``; otherwise a one-line ``LoaderError`` saying
    what to download and where to put it."""
    if isinstance(spec, str):
        spec = get_dataset(spec)
    if path is not None:
        given = Path(path).expanduser()
        if not given.exists():
            raise LoaderError(f"{spec.id}: {path}: no such file or folder; {spec.acquire_line()}")
        if not given.is_dir() and _archive_kind(given) is None:
            raise LoaderError(
                f"{spec.id}: {path} is neither a folder nor an archive "
                f"({', '.join(ARCHIVE_SUFFIXES)}); {spec.acquire_line()}"
            )
        return Source(given, label=spec.id, checksums=checksums)
    if hub:
        return Source(_from_hub(spec), label=spec.id, checksums=checksums)
    root = os.environ.get(ENV_ROOT)
    if root:
        folder = Path(root).expanduser() / spec.env_subdir
        if folder.exists():
            return Source(folder, label=spec.id, checksums=checksums)
        raise LoaderError(
            f"{spec.id}: no source files in ${ENV_ROOT}/{spec.env_subdir} ({folder} does not "
            f"exist); {spec.acquire_line()}; put them there or pass --path DIR"
        )
    raise LoaderError(
        f"{spec.id}: no source files; {spec.acquire_line()}; pass --path DIR (a folder or the "
        f"archive) or set {ENV_ROOT} so that ${ENV_ROOT}/{spec.env_subdir} holds them"
    )


def _hub_host() -> tuple[str, int]:
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def _from_hub(spec: DatasetSpec) -> Path:
    """A local snapshot of the dataset's Hub repository (downloaded only here, when asked)."""
    if spec.hub_id is None:
        raise LoaderError(
            f"{spec.id}: has no copy on the Hugging Face Hub; {spec.acquire_line()}; pass "
            "--path DIR"
        )
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    if not offline:
        host, port = _hub_host()
        try:  # fail in seconds, not after the client's retries, when there is no network
            socket.create_connection((host, port), timeout=5).close()
        except OSError as exc:
            raise LoaderError(
                f"{spec.id}: --hub needs the network, and {host} cannot be reached "
                f"({_one_line(exc.strerror or exc)}); {spec.acquire_line()}; pass --path DIR"
            ) from None
    try:
        from huggingface_hub import snapshot_download  # lazy: only --hub needs it
    except ImportError:
        raise LoaderError(
            f"{spec.id}: --hub needs the huggingface_hub package (pip install huggingface_hub)"
        ) from None
    try:
        folder = snapshot_download(spec.hub_id, repo_type="dataset", local_files_only=offline)
    except Exception as exc:  # the client's errors have many types; all are one line here
        raise LoaderError(
            f"{spec.id}: the Hub copy {spec.hub_id} cannot be had ({_one_line(exc)[:200]}); "
            f"{spec.acquire_line()}; pass --path DIR"
        ) from None
    return Path(folder)


# -- reading into memory ----------------------------------------------------------------------
@dataclass
class Loaded:
    """A split read into memory: the episodes, their layout and the source files read."""

    batch: EpisodeBatch
    layout: Layout
    knobs: Knobs
    sources: list[dict[str, Any]]


def read(
    dataset: str,
    split: str = "train",
    path: str | os.PathLike | None = None,
    *,
    hub: bool = False,
    checksums: bool = True,
    preset: str | None = None,
    **knobs: Any,
) -> Loaded:
    """A split of a real dataset with its layout and the files it came from."""
    spec = get_dataset(dataset)
    values = spec.make_knobs(preset, **knobs)
    split = spec.check_split(split)
    with open_source(spec, path, hub=hub, checksums=checksums) as source:
        batches = list(spec.read(source, values, split))
        layout = spec.layout_of(values, source)
        sources = source.sources()
    if not batches:
        raise LoaderError(f"{spec.id}: the {split} split holds no episodes")
    batch = batches[0] if len(batches) == 1 else EpisodeBatch.concat(batches)
    batch.task = spec.id
    return Loaded(batch, layout, values, sources)


def load(
    dataset: str,
    split: str = "train",
    path: str | os.PathLike | None = None,
    *,
    hub: bool = False,
    checksums: bool = True,
    preset: str | None = None,
    **knobs: Any,
) -> EpisodeBatch:
    """The episodes of a real dataset's split, in memory: ``memtasks.load("babi/release-en-v1",
    "test", path="tasks_1-20_v1-2.tar.gz", task=3)``. ``path`` is a folder or the downloaded
    archive (else ``$MEMTASKS_DATA/<env_subdir>``; ``hub=True`` fetches the Hub copy). Source
    files that differ from the release's are refused unless ``checksums=False``."""
    return read(dataset, split, path, hub=hub, checksums=checksums, preset=preset, **knobs).batch
