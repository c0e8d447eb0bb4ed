"""The first use of a task says on stderr that its kernels are being compiled.

Each run is a fresh process (Numba compiles once per process) with ``NUMBA_CACHE_DIR`` pointed
at a folder of the test's own, so that "cold" and "cached" are decided by the test and not by
what earlier runs left in the user's cache folder (``~/.cache/memtasks``, which
``NUMBA_CACHE_DIR`` overrides: ``generators/_kernels.cache_root``). ntm/copy-v1 is the
cheapest task to compile (a few seconds).
"""

from __future__ import annotations

import os
import subprocess
import sys

NOTICE = "memtasks: compiling the generator of ntm/copy-v1 for first use"
DONE = "memtasks: compiled the generator of ntm/copy-v1 in "


def show_copy(cache_dir, **env: str) -> subprocess.CompletedProcess:
    """`memtasks show ntm/copy-v1 -n 2` in a fresh process with its Numba cache in cache_dir."""
    # the notice keeps quiet inside a pytest test (PYTEST_CURRENT_TEST); this process is a
    # user's command, not part of the test
    hidden = ("MEMTASKS_QUIET", "PYTEST_CURRENT_TEST")
    environ = {k: v for k, v in os.environ.items() if k not in hidden}
    environ.update(NUMBA_CACHE_DIR=str(cache_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "memtasks.cli", "show", "ntm/copy-v1", "-n", "2"],
        capture_output=True, text=True, timeout=600, env=environ, check=False,
    )  # fmt: skip


def test_a_cold_compile_is_announced_on_stderr_once_and_a_cached_one_is_not(tmp_path):
    cold = show_copy(tmp_path)
    assert cold.returncode == 0, cold.stderr
    lines = cold.stderr.splitlines()
    # once, before the wait, naming the task and the cache folder; then how long it took
    assert [line for line in lines if line.startswith(NOTICE)] == [lines[0]]
    assert str(tmp_path) in lines[0]
    assert len(lines) == 2 and lines[1].startswith(DONE) and lines[1].endswith(" s")
    # stdout is the episodes only: `memtasks show ... | less` sees no notice
    assert cold.stdout.startswith("episode 0") and "memtasks:" not in cold.stdout

    cached = show_copy(tmp_path)  # loads what the first run wrote
    assert cached.returncode == 0 and cached.stdout == cold.stdout
    assert cached.stderr == ""


def test_memtasks_quiet_silences_the_notice_of_a_cold_compile(tmp_path):
    quiet = show_copy(tmp_path / "quiet", MEMTASKS_QUIET="1")
    assert quiet.returncode == 0 and quiet.stderr == ""
    # the same cold start without the variable does speak: the silence above was the variable's
    loud = show_copy(tmp_path / "loud", MEMTASKS_QUIET="0")
    assert loud.returncode == 0 and loud.stderr.startswith(NOTICE)
    assert quiet.stdout == loud.stdout
