"""How the generators compile and cache (generators/_kernels.py, DESIGN.md section 4).

The cache of compiled kernels lives in the user's cache folder, keyed by the module's full name
and a digest of the sources compiled code is made of; helpers compile once per plain argument
types; the parallel variant of a kernel compiles only once it pays.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np

import memtasks
from memtasks.generators import _kernels

GENERATORS = Path(_kernels.__file__).parent


def test_the_cache_folder_names_the_module_and_the_source_digest(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    kernel = memtasks.generators.ntm._copy_sizes.serial
    locator = _kernels._CacheLocator.from_function(
        kernel.py_func, kernel.py_func.__code__.co_filename
    )
    path = Path(locator.get_cache_path())
    # a module renamed (generators.ntm -> memtasks.generators.ntm) or a source edited anywhere
    # in the generators lands in another folder: nothing stale can be loaded
    assert path.parent == tmp_path
    assert path.name.startswith("memtasks.generators.ntm-")
    assert _kernels.source_digest()[:4] not in ("", None)
    assert locator.get_source_stamp() == path.name.rsplit("-", 1)[1]


def test_the_digest_covers_every_generator_source_and_the_core_modules_they_read(tmp_path):
    files = sorted(GENERATORS.rglob("*.py"))
    assert GENERATORS / "babi" / "qa3.py" in files and GENERATORS / "ntm.py" in files
    # an edit to any of them changes the digest: recompute it over a copy with one byte changed
    copy = tmp_path / "generators"
    for file in files:
        target = copy / file.relative_to(GENERATORS)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.read_bytes())
    core = Path(memtasks.__file__).parent
    before = _digest_of(copy, core)
    assert before == _kernels.source_digest()
    (copy / "babi" / "qa3.py").write_bytes((GENERATORS / "babi" / "qa3.py").read_bytes() + b"\n")
    assert _digest_of(copy, core) != before


def _digest_of(generators: Path, core: Path) -> str:
    import hashlib

    files = sorted(generators.rglob("*.py")) + [core / n for n in _kernels._CORE_SOURCES]
    digest = hashlib.blake2b(digest_size=8)
    for file in files:
        digest.update(file.relative_to(file.parents[1]).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def test_generators_read_compiled_values_only_from_digested_core_modules():
    """Compiled code freezes the constants it reads (``ROLE_ANSWER``): a generator importing
    from a core module outside ``_CORE_SOURCES`` could run stale code after an edit there."""
    # Python-side only: validation, scoring, registration and the renderers of `show`
    not_compiled = {"errors", "knobs", "metrics", "registry", "axes", "show", "loaders"}
    allowed = {Path(n).stem for n in _kernels._CORE_SOURCES} | not_compiled
    for file in GENERATORS.rglob("*.py"):
        tree = ast.parse(file.read_text())
        imported = {
            a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
        }
        if not imported & {"njit", "kernel", "Kernel"}:
            continue  # no compiled code (fidelity checks, release statistics)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.module == "memtasks":  # from memtasks import show
                modules = [a.name for a in node.names]
            elif (node.module or "").startswith("memtasks."):
                modules = [node.module.split(".")[1]]
            else:
                continue
            for module in modules:
                assert module in allowed | {"generators", "models"}, f"{file.name}: {module}"


def test_the_default_cache_is_the_user_cache_folder(tmp_path):
    """Without NUMBA_CACHE_DIR a first use compiles into $XDG_CACHE_HOME/memtasks, which a
    reinstall of the package keeps; a second process loads from there."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "MEMTASKS_CACHE_DIR")
    }
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = "import memtasks; print(memtasks.generate('ntm/copy-v1', 3).content_hash())"
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout
    folders = [p.name for p in (tmp_path / "memtasks").iterdir()]
    ntm = [f for f in folders if f.startswith("memtasks.generators.ntm-")]
    assert len(ntm) == 1
    assert any(f.name.endswith(".nbi") for f in (tmp_path / "memtasks" / ntm[0]).iterdir())


def test_a_helper_compiles_once_whatever_literal_reaches_it():
    @_kernels.njit
    def helper(a, b):
        return a + b

    @_kernels.njit
    def caller(n):
        total = 0  # Literal[int](0) at first, int64 once the loop has widened it
        for i in range(n):
            total = helper(total, i)
        return total

    assert caller(5) == 10
    assert len(helper.signatures) == 1


def test_the_parallel_variant_compiles_only_once_it_pays(monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:
        return  # one thread: the serial variant always runs

    def double(key, start, n, out):
        for b in numba.prange(n):
            out[b] = 2 * (start + b)

    kernel = _kernels.Kernel(double, 1.0, "test_double_fill")
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_EPISODES", 4)
    monkeypatch.setattr(_kernels, "PARALLEL_COMPILE_EPISODES", 40)
    monkeypatch.setattr(_kernels, "_in_disk_cache", lambda dispatcher: False)
    out = np.empty(16, np.int64)
    kernel(0, 0, 16, out)  # 16 of 40: large enough to run in parallel, not yet to compile it
    assert kernel.serial.signatures and not kernel.parallel.signatures
    kernel(0, 0, 16, out)
    kernel(0, 0, 16, out)  # 48: now it pays
    assert kernel.parallel.signatures
    np.testing.assert_array_equal(out, 2 * np.arange(16))


def test_folders_of_other_digests_are_pruned_once_stale(tmp_path):
    current = tmp_path / "memtasks.generators.ntm-aaaa"
    stale = tmp_path / "memtasks.generators.ntm-bbbb"
    recent = tmp_path / "memtasks.generators.ntm-cccc"
    other_module = tmp_path / "memtasks.generators.ntm_extra-dddd"
    for folder in (current, stale, recent, other_module):
        folder.mkdir()
        (folder / "x.nbi").write_bytes(b"")
    old = 1_000_000_000  # 2001: long past STALE_AFTER_S
    for path in (stale, stale / "x.nbi", other_module, other_module / "x.nbi"):
        os.utime(path, (old, old))
    _kernels._prune_stale(current)
    assert current.exists() and recent.exists() and not stale.exists()
    assert other_module.exists()  # another module's folder, however old
