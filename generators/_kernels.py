"""Compiled building blocks shared by the generator families."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
import types
import weakref
from pathlib import Path

import numba
import numpy as np
from numba.core import caching, errors
from numba.core import event as numba_event
from numba.core import types as nbtypes
from numba.core.registry import CPUDispatcher

from memtasks.episode import EpisodeBatch
from memtasks.errors import MemtasksError
from memtasks.rng import next_u64
from memtasks.views import _plan_batches


# ---------------------------------------------------------------------------------------------
# Compiling: plain-typed helpers, and a cache keyed by the sources and the module name
# ---------------------------------------------------------------------------------------------
class _PlainDispatcher(CPUDispatcher):
    """A Numba dispatcher whose calls from compiled code compile it for plain argument types.

    Numba types a call from compiled code while it is still inferring the caller's types, so a
    variable that starts as ``n = 0`` reaches a helper first as the literal type ``Literal[int](0)``
    and then, once the loop has widened it, as ``int64``: the helper is compiled once for each
    (measured: ``pairs`` of qa3 four times, ``step`` twice), about a fifth of a bAbI task's cold
    compile. Compiled for the plain types first, the literal call site converts its argument
    and the helper compiles once. A helper that needs a literal (to index a heterogeneous tuple,
    say) fails to type with plain types and is compiled as Numba would have.
    """

    def get_call_template(self, args, kws):
        plain = tuple(nbtypes.unliteral(a) for a in args)
        plain_kws = {k: nbtypes.unliteral(v) for k, v in kws.items()}
        if plain != tuple(args) or plain_kws != kws:
            with contextlib.suppress(errors.TypingError):
                return super().get_call_template(plain, plain_kws)
        return super().get_call_template(args, kws)


def njit(fn=None, *, cache: bool = False, **options):
    """``numba.njit`` for the generators' compiled helpers (see ``_PlainDispatcher``)."""

    def wrap(f):
        dispatcher = _PlainDispatcher(
            py_func=f, locals={}, targetoptions={"nopython": True, "boundscheck": None, **options}
        )
        if cache:
            dispatcher.enable_caching()
        return dispatcher

    return wrap if fn is None else wrap(fn)


# The sources compiled code can depend on: a kernel's machine code holds the code of every
# helper it calls and the value of every constant it reads (``ROLE_ANSWER`` from episode.py is
# frozen into the bAbI driver). Numba checks only the file of the function itself, so an edit
# to a helper in another file would load stale machine code; a digest of all of them keys the
# cache instead (with the function's own file, for kernels elsewhere in the core).
# tests/test_compile_cache.py checks that the generators import from no other core module
# whose values compiled code could read.
_CORE_SOURCES = ("rng.py", "episode.py")


@functools.cache
def source_digest() -> str:
    """A digest of the generators' sources and the core modules their compiled code reads."""
    generators = Path(__file__).parent
    core = Path(next_u64.py_func.__code__.co_filename).parent  # the memtasks package
    files = sorted(generators.rglob("*.py")) + [core / name for name in _CORE_SOURCES]
    digest = hashlib.blake2b(digest_size=8)
    for file in files:
        digest.update(file.relative_to(file.parents[1]).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


@functools.cache
def _file_digest(py_file: str) -> str:
    """``source_digest()`` with the file of the function itself (a kernel outside generators)."""
    digest = hashlib.blake2b(source_digest().encode(), digest_size=8)
    digest.update(Path(py_file).read_bytes())
    return digest.hexdigest()


def cache_root() -> Path:
    """Where compiled kernels are kept: ``NUMBA_CACHE_DIR`` when set (the tests point it at an
    empty folder to compile afresh), else ``$MEMTASKS_CACHE_DIR``, else the user's cache folder
    (``$XDG_CACHE_HOME/memtasks``, by default ``~/.cache/memtasks``).

    Not ``__pycache__`` beside the sources (Numba's default): a reinstall or an upgrade replaces
    the package folder, and a first command after it would compile again for tens of seconds.
    """
    if numba.config.CACHE_DIR:
        return Path(numba.config.CACHE_DIR)
    if os.environ.get("MEMTASKS_CACHE_DIR"):
        return Path(os.environ["MEMTASKS_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "memtasks"


class _CacheLocator(caching._CacheLocator):
    """Numba's cache locator for memtasks' compiled functions.

    Entries live under ``cache_root()/<module>-<source digest>/``: the digest covers every
    source the compiled code is made of (``source_digest``), so an edit anywhere compiles
    afresh, and the module's full name keeps apart two modules with the same file name, and a
    module from itself before a rename (Numba names entries after the file name only: after
    ``generators/`` became ``memtasks.generators`` it loaded entries that named the old module).
    Two installs of different versions keep their entries side by side. Functions of other
    packages are left to Numba's own locators.
    """

    def __init__(self, py_func, py_file, root: Path):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._stamp = _file_digest(py_file)
        self._cache_path = str(root / f"{py_func.__module__}-{self._stamp}")

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        return self._stamp

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not getattr(py_func, "__module__", "").startswith("memtasks."):
            return None
        # an unwritable user cache (a read-only home) falls back to the temporary folder
        fallback = Path(tempfile.gettempdir()) / f"memtasks-cache-{os.getuid()}"
        for root in (cache_root(), fallback):
            locator = cls(py_func, py_file, root)
            try:
                locator.ensure_cache_path()
            except OSError:
                continue
            _prune_stale(Path(locator.get_cache_path()))
            return locator
        return None


# Entries of other source digests of a module (an edited checkout, an older install) are
# removed once nothing has been written to them for this long: a bAbI folder holds about 6 MB,
# and a developer makes a new one at every edit. An install unused for that long compiles again.
STALE_AFTER_S = 14 * 24 * 3600


@functools.cache
def _prune_stale(folder: Path) -> None:
    """Remove the folders of ``folder``'s module with another digest and nothing newer than
    ``STALE_AFTER_S`` (once per folder and process)."""
    module = folder.name.rsplit("-", 1)[0]
    cutoff = time.time() - STALE_AFTER_S
    for other in folder.parent.glob(f"{module}-*"):
        if other == folder or other.name.rsplit("-", 1)[0] != module:
            continue
        with contextlib.suppress(OSError):
            newest = max([other.stat().st_mtime] + [f.stat().st_mtime for f in other.iterdir()])
            if newest < cutoff:
                shutil.rmtree(other, ignore_errors=True)


if _CacheLocator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, _CacheLocator)

_ONE = np.uint64(1)


@njit(inline="always")
def fill_bits(state, out, row0, nrows, width):
    """Fill ``out[row0:row0 + nrows, :width]`` with uniform random bits; return the state.

    One 64-bit draw fills ``64 // width`` whole rows (8 rows of an 8-bit task), so the inner
    loop over a row's bits has no branch and compiles to straight shifts and stores. A
    straightforward generator spends a draw (or a float compared with 0.5) on every bit.
    Rows wider than 64 bits take one draw per 64 bits.
    """
    if width <= 64:
        rows_per_draw = 64 // width
        r = row0
        stop = row0 + nrows
        while r < stop:
            state, word = next_u64(state)
            for _ in range(min(rows_per_draw, stop - r)):
                for c in range(width):
                    out[r, c] = np.uint8((word >> np.uint64(c)) & _ONE)
                word = word >> np.uint64(width)
                r += 1
    else:
        for r in range(row0, row0 + nrows):
            for c0 in range(0, width, 64):
                state, word = next_u64(state)
                for c in range(c0, min(c0 + 64, width)):
                    out[r, c] = np.uint8((word >> np.uint64(c - c0)) & _ONE)
    return state


@njit(inline="always")
def set_row(out, row, value):
    """``out[row, :] = value`` for a 2-D array (a loop Numba compiles to a few stores)."""
    for c in range(out.shape[1]):
        out[row, c] = value


@njit(inline="always")
def running_sum(offsets):
    """Turn ``offsets[1:]`` holding episode lengths into CSR offsets, in place.

    The sizes kernels write each episode's length at ``b + 1`` in parallel, then this serial
    loop (a few nanoseconds per episode) makes the offsets without another call from Python.
    """
    offsets[0] = 0
    for b in range(1, len(offsets)):
        offsets[b] += offsets[b - 1]
    return offsets


# ---------------------------------------------------------------------------------------------
# Padded generation: a task's fill kernel writing straight into the padded batches a model reads
# ---------------------------------------------------------------------------------------------
def padded_arrays(
    offsets: np.ndarray, batch_size: int, outputs, in_width: int | None, target_width: int | None
):
    """The padded layout of episodes whose CSR ``offsets`` a sizes kernel drew, for a task's
    padded generator (``memtasks.views.padded_batches``): ``(rows, ends, arrays)``.

    Batch g of ``batch_size`` episodes is padded to its longest episode; ``rows[e]`` is the row
    where episode e begins in the padded batches, ``ends[e]`` the row where its padding ends;
    ``arrays`` are the padded (inputs, targets, mask, role, segment) from ``outputs``, vectors
    as ``[rows, width]`` float32. A fill kernel that writes episode e only at ``offsets[e]``
    onwards writes the padded layout when given ``rows`` for ``offsets``: the same kernel, the
    same values, cast to float32 (and int64 segments) as it stores them. The padding is then
    written by ``pad_tails`` (or by the fill kernel itself, given ``ends``: the copy task's).
    Token tasks pass ``None`` for both widths: inputs and targets are then 1-D int64 arrays.
    """
    n = len(offsets) - 1
    groups = -(-n // batch_size)
    steps, starts = np.empty(groups, np.int64), np.empty(groups + 1, np.int64)
    rows, ends, lengths = np.empty(n + 1, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    _plan_batches(offsets, batch_size, steps, starts, lengths)
    _rows_and_ends(batch_size, steps, starts, rows, ends)
    widths = {"inputs": in_width, "targets": target_width, "mask": None, "role": None,
              "segment": None}  # fmt: skip
    vector = in_width is not None
    fields = outputs(steps, starts, lengths, widths, vector)
    arrays = (
        fields["inputs"].reshape(-1, in_width) if vector else fields["inputs"],
        fields["targets"].reshape(-1, target_width) if vector else fields["targets"],
        fields["mask"],
        fields["role"],
        fields["segment"],
    )
    return rows, ends, arrays


@njit(cache=True, nogil=True)
def _rows_and_ends(batch_size, steps, starts, rows, ends):
    """Per episode of the batches ``views._plan_batches`` laid out: its first row, and the row
    where its padding ends; ``rows[n]``, the rows in all."""
    n = len(ends)
    for e in range(n):
        g = e // batch_size
        rows[e] = starts[g] + (e - g * batch_size) * steps[g]
        ends[e] = rows[e] + steps[g]
    rows[n] = starts[len(steps)]


# The padding of every field (as memtasks.views.PADDING): 0 for values, False, role -1, segment -1
@njit(inline="always")
def pad_rows(inputs, targets, mask, role, segment, w_in, w_tg, first, end):
    """Rows ``first .. end - 1`` of flat padded arrays (rows of ``w_in`` and ``w_tg`` values)
    as padding; all unsigned. Unsigned indices: Numba checks signed ones for wrapping around
    from the end, which keeps the stores from being vectorised."""
    one = np.uint64(1)
    j = first * w_in
    while j < end * w_in:
        inputs[j] = 0
        j += one
    j = first * w_tg
    while j < end * w_tg:
        targets[j] = 0
        j += one
    j = first
    while j < end:
        mask[j] = False
        role[j] = -1
        segment[j] = -1
        j += one


@njit(cache=True, nogil=True)
def pad_tails(offsets, rows, ends, inputs, targets, mask, role, segment):
    """Write the padding of every episode of a padded layout (``padded_arrays``): the rows
    after its last, up to ``ends``."""
    flat_in, flat_tg = inputs.reshape(-1), targets.reshape(-1)
    rows_in_all = max(len(mask), 1)  # the row width, for 2-D vectors and 1-D tokens alike
    w_in, w_tg = np.uint64(inputs.size // rows_in_all), np.uint64(targets.size // rows_in_all)
    for e in range(len(offsets) - 1):
        first = np.uint64(rows[e] + offsets[e + 1] - offsets[e])
        pad_rows(flat_in, flat_tg, mask, role, segment, w_in, w_tg, first, np.uint64(ends[e]))


def allocate(total: int, inputs: tuple[int, type], targets: tuple[int, type]):
    """Uninitialised (inputs, targets, mask, role, segment) arrays for ``total`` positions.

    Allocated by NumPy rather than inside the kernels: NumPy asks the kernel for huge pages on
    large arrays, and first-touch page faults are what bounds bulk generation (measured: fresh
    NumPy arrays filled in parallel 3.7 GB/s, arrays from Numba's allocator 1.8 GB/s, on a
    2-core VM). The kernels write every element, so nothing is read uninitialised and nothing
    is written twice.
    """
    (in_width, in_dtype), (out_width, out_dtype) = inputs, targets
    try:
        return (
            np.empty((total, in_width), in_dtype),
            np.empty((total, out_width), out_dtype),
            np.empty(total, np.bool_),
            np.empty(total, np.int8),
            np.empty(total, np.int32),
        )
    except (MemoryError, ValueError) as exc:  # ValueError: more bytes than an int64 counts
        raise EpisodesMemoryError(f"{total:,} positions of episodes", exc) from None


# ---------------------------------------------------------------------------------------------
# One function, two layouts: a task written once writes flat episodes or padded batches
# ---------------------------------------------------------------------------------------------
class FlatLayout:
    """Where ``two_layouts`` writers put episodes for ``generate``: flat arrays of their own.

    ``layout(offsets, inputs, targets) -> (rows, arrays)``: ``inputs`` and ``targets`` are
    ``(width, dtype)`` for vector tasks, ``(None, dtype)`` for token tasks (1-D arrays);
    ``rows`` are the rows to give the fill kernel for ``offsets`` (here ``offsets`` itself).
    """

    padded = False

    def __call__(self, offsets, inputs, targets):
        total = int(offsets[-1])
        (w_in, d_in), (w_tg, d_tg) = inputs, targets
        arrays = allocate(total, (w_in or 1, d_in), (w_tg or 1, d_tg))
        if w_in is None:
            arrays = (arrays[0].reshape(total), arrays[1].reshape(total), *arrays[2:])
        return offsets, arrays


class PaddedLayout:
    """Where ``two_layouts`` writers put episodes for the stream: padded batches
    (``padded_arrays``), in the padded dtypes (float32 vectors, int64 tokens); the padding is
    written after the fill by ``finish``."""

    padded = True

    def __init__(self, batch_size: int, outputs):
        self.batch_size, self.outputs, self.plan = batch_size, outputs, None

    def __call__(self, offsets, inputs, targets):
        rows, ends, arrays = padded_arrays(
            offsets, self.batch_size, self.outputs, inputs[0], targets[0]
        )
        self.plan = (offsets, rows, ends, arrays)
        return rows, arrays

    def finish(self) -> None:
        offsets, rows, ends, arrays = self.plan
        pad_tails(offsets, rows, ends, *arrays)


def two_layouts(write):
    """A task's generator and its padded generator (``memtasks.views.padded_batches``) from one
    function ``write(knobs, key, start, n, layout) -> (offsets, arrays, extras)``: it draws the
    offsets with its sizes kernel, asks ``layout`` for the arrays and the rows to fill, runs its
    fill kernel (which writes episode e from row ``rows[e]`` on, and every row of it), and
    returns ``extras``, the keyword arguments of ``EpisodeBatch.from_kernel`` (``meta``,
    ``support``). The padded generator returns the meta alone: padded batches hold no support.
    """

    def generate(knobs, key, start: int, n: int):
        offsets, arrays, extras = write(knobs, key, start, n, FlatLayout())
        return EpisodeBatch.from_kernel(offsets, arrays, start, **extras)

    def padded(knobs, key, start: int, n: int, batch_size: int, outputs) -> dict:
        layout = PaddedLayout(batch_size, outputs)
        _, _, extras = write(knobs, key, start, n, layout)
        layout.finish()
        return dict(extras.get("meta") or {})

    generate.padded = padded
    generate.__name__ = generate.__qualname__ = write.__name__
    generate.__doc__ = write.__doc__
    generate.__wrapped__ = write
    return generate


class EpisodesMemoryError(MemtasksError, MemoryError):
    """More episodes asked for at once than memory holds (``memtasks baseline --eval-episodes
    10**14`` asks for 800 TB of offsets alone).

    A ``MemtasksError``, so that the command line says it in one line instead of a traceback,
    and still a ``MemoryError`` for code that catches that.
    """

    def __init__(self, what: str, exc: MemoryError):
        reason = str(exc).strip().rstrip(".") or "MemoryError"
        super().__init__(f"{what} at once do not fit in memory ({reason}); ask for fewer")


# Episodes whose int64 offsets alone (n + 1 of them) would be more bytes than an array can have
_MAX_OFFSETS = sys.maxsize // 8 - 1


# A kernel runs in parallel from this much work, counted in copy-task episodes (about 20
# positions each); each kernel says what one of its episodes weighs. Measured on 2 cores: waking
# the thread pool costs tens of microseconds per parallel loop, about what 4,000 copy episodes
# take to generate on one thread.
PARALLEL_MIN_EPISODES = 8192

# ... but its parallel variant is compiled only once a process has asked the kernel for this
# much work in all (or finds it compiled in the cache). Compiling it costs seconds (a bAbI
# driver: 10-20 s on 2 cores); about 2M work units are 10 s of bAbI stories on one thread, the
# most that threads can save on a small machine. A first `memtasks generate -n 10000` so
# compiles one variant, not two, and makes the same bytes (the variants are one function).
PARALLEL_COMPILE_EPISODES = 1 << 21


class Kernel:
    """A generator kernel compiled twice: serial for small batches, parallel for large ones.

    A parallel kernel pays for waking the thread pool at every parallel loop: tens of
    microseconds, more than a whole batch of 64 episodes takes to generate on one thread.
    Training loops ask for exactly such batches, bulk generation for millions: so both variants
    exist, and the call picks by the work it is given (``n * weight``). The two are the same
    Python function (``prange`` is ``range`` when compiled serially), so their output is
    identical. Each is compiled on first use only, the parallel one only once it pays
    (``PARALLEL_COMPILE_EPISODES``).
    """

    def __init__(
        self,
        fn,
        weight: float = 1.0,
        name: str = "",
        bind: dict | None = None,
        last: bool | None = None,
    ):
        self.weight = weight
        name = name or fn.__name__
        # ``bind`` replaces globals of ``fn``: one generic driver, specialised per task by the
        # story function it calls (Numba caches a function passed as an argument nowhere).
        scope = {**fn.__globals__, **bind} if bind else fn.__globals__
        # nogil: a prefetching thread generates while the training thread runs. Each variant
        # gets its own name, so that their on-disk caches (named after it) stay apart.
        self.parallel = njit(cache=True, parallel=True, nogil=True)(_clone(fn, scope, name))
        self.serial = njit(cache=True, nogil=True)(_clone(fn, scope, name + "_serial"))
        self.__doc__ = fn.__doc__
        self.__name__ = name
        self._work = 0.0  # work asked of this kernel in this process
        self._parallel_cached: bool | None = None  # found in the on-disk cache (asked once)
        # what the first-use notice says when one of the two compiles (see _FirstUseNotice)
        group = name.removesuffix("_sizes").removesuffix("_fill").lstrip("_")
        if last is None:
            last = name.endswith("_fill")  # a generator's fill kernel is the last it compiles
        _first_use.watch(self.parallel, f"{group} ({fn.__module__})", True, last)
        _first_use.watch(self.serial, f"{group} ({fn.__module__})", False, last)

    def __call__(self, key, start, n, *args):
        work = n * self.weight
        self._work += work
        parallel = (
            work >= PARALLEL_MIN_EPISODES and numba.get_num_threads() > 1 and self._parallel_ready()
        )
        if n >= _MAX_OFFSETS:  # Numba would raise a ValueError ("array is too big") instead
            raise EpisodesMemoryError(f"{n:,} episodes", MemoryError("more than 2**63 bytes"))
        try:
            return (self.parallel if parallel else self.serial)(key, start, n, *args)
        except MemoryError as exc:  # the sizes kernel allocates n + 1 offsets first
            raise EpisodesMemoryError(f"{n:,} episodes", exc) from None

    def _parallel_ready(self) -> bool:
        """Whether the parallel variant is worth taking: compiled (or loaded) in this process,
        in the on-disk cache, or asked for enough work to pay for its compile."""
        if self.parallel.signatures or self._work >= PARALLEL_COMPILE_EPISODES:
            return True
        if self._parallel_cached is None:
            self._parallel_cached = _in_disk_cache(self.parallel)
        return self._parallel_cached


def _in_disk_cache(dispatcher) -> bool:
    """Whether Numba's on-disk cache holds a compiled version of ``dispatcher`` (any types: a
    kernel is called with one set of types in practice)."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001 (Numba internals: a changed layout means "not known")
        return False


def _clone(fn, scope: dict, name: str):
    twin = types.FunctionType(fn.__code__, scope, name, fn.__defaults__, fn.__closure__)
    twin.__qualname__ = name
    twin.__module__ = fn.__module__
    return twin


def kernel(fn=None, *, weight: float = 1.0):
    """Decorator: compile a generator kernel ``fn(key, start, n, ...)`` serial and parallel.

    ``weight`` is the cost of one of its episodes relative to a copy-task episode.
    """
    if fn is None:
        return lambda f: Kernel(f, weight)
    return Kernel(fn, weight)


# ---------------------------------------------------------------------------------------------
# The first-use notice
# ---------------------------------------------------------------------------------------------
class _FirstUseNotice(numba_event.Listener):
    """One line on stderr when a generator's kernels are compiled rather than loaded.

    A task's first use compiles its kernels for seconds (bAbI: tens of seconds) without a word,
    which looks like a hang. Numba announces a ``numba:compile`` event only after its on-disk
    cache had nothing for the function and these argument types, just before compiling: so the
    line comes before the wait, exactly when there is one, and never when the compiled code is
    loaded from the cache. (A timer that fires when a first call is slow would also fire on a
    first call that is slow because it generates a lot.) The line goes to stderr only, so that
    the output of ``memtasks show`` or ``list`` stays clean for pipes; ``MEMTASKS_QUIET=1``
    silences it (and so does a running pytest test, see ``_quiet``). It is said once per
    process per task and variant (serial or parallel, which are compiled separately), and a
    second line gives the time when the task's fill kernel, the last one it compiles, is done.
    """

    def __init__(self):
        self._kernels = weakref.WeakKeyDictionary()  # dispatcher -> (group, parallel, last)
        self._said: dict[tuple[str, bool], float | None] = {}  # -> start time, None when done
        self._lock = threading.Lock()  # kernels are nogil: two threads may compile at once

    def watch(self, dispatcher, group: str, parallel: bool, last: bool) -> None:
        self._kernels[dispatcher] = (group, parallel, last)

    def on_start(self, event):
        # a notice must never break the compilation it is about: whatever goes wrong here
        # (a closed stderr, a changed Numba event) costs the line, not the episodes
        with contextlib.suppress(Exception):
            self._start(event.data["dispatcher"])

    def on_end(self, event):
        with contextlib.suppress(Exception):
            self._end(event.data["dispatcher"])

    def _start(self, dispatcher) -> None:
        watched = self._kernels.get(dispatcher)
        if watched is None or _quiet():
            return
        group, parallel, _ = watched
        what = _task_being_generated() or f"the kernels {group}"
        with self._lock:
            if (what, parallel) in self._said:
                return
            self._said[(what, parallel)] = time.perf_counter()
        where = getattr(getattr(dispatcher, "_cache", None), "_cache_path", None)
        where = f"; cached after, in {where}" if where else ""
        variant = "parallel generator" if parallel else "generator"
        _say(
            f"memtasks: compiling the {variant} of {what} for first use "
            f"(this can take a minute{where})"
        )

    def _end(self, dispatcher) -> None:
        watched = self._kernels.get(dispatcher)
        if watched is None or not watched[2]:
            return
        # the fill kernel of the task whose start was announced (by its own or the sizes
        # kernel's compile), found by the same task name
        what = _task_being_generated() or f"the kernels {watched[0]}"
        key = (what, watched[1])
        with self._lock:
            began = self._said.get(key)
            if began is None:
                return
            self._said[key] = None
        variant = "parallel generator" if watched[1] else "generator"
        _say(f"memtasks: compiled the {variant} of {what} in {time.perf_counter() - began:.1f} s")


def _quiet() -> bool:
    # Read at each compile, not at import, so that a program can silence it at any time (the
    # tests do, in conftest.py: whether it speaks depends on what Numba's cache holds).
    return os.environ.get("MEMTASKS_QUIET", "") not in ("", "0")


def _task_being_generated() -> str | None:
    """The id of the task whose ``TaskSpec`` method is on the stack, if any.

    A kernel does not know its task (kernels are named after their function, and the bAbI
    driver after a digest), so the notice looks up the call stack for the spec that asked for
    episodes. This runs only when something is compiled, a few times per process at most.
    """
    from memtasks.registry import TaskSpec  # the registry imports the generators

    frame = sys._getframe(1)
    while frame is not None:
        for name in ("self", "spec"):  # TaskSpec.generate; views.padded_batches
            spec = frame.f_locals.get(name)
            if isinstance(spec, TaskSpec):
                return spec.id
        frame = frame.f_back
    return None


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


_first_use = _FirstUseNotice()
numba_event.register("numba:compile", _first_use)
