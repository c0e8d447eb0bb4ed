"""File-system primitives for crash-safe dataset writes (``storage.write_dataset``).

- ``rename_noreplace`` / ``exchange``: Linux ``renameat2`` (glibc >= 2.28) with
  ``RENAME_NOREPLACE`` / ``RENAME_EXCHANGE``, so that moving a finished dataset into place is one
  atomic step that can neither replace a dataset another process just wrote nor leave a moment
  with no dataset at the target. Elsewhere (other systems, file systems without the flags)
  ``Unsupported`` is raised and the caller falls back to plain renames under its lock.
- ``OutputLock``: an exclusive ``flock`` on a hidden ``.NAME.lock`` file beside the target, held
  for a whole write, so two writers of one folder cannot both think they own it.
- ``owner_alive`` / ``write_owner``: which process a temporary folder belongs to, so a later run
  can tell a folder left by a killed run from one being written right now.
- ``free_disk`` / ``available_memory``: probes for the size guards (tests patch them).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import sys
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks; the final rename still refuses to replace
    fcntl = None

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
OWNER = ".owner"  # inside a temporary folder: "PID HOST" of the process writing it


class Unsupported(Exception):
    """renameat2 (or the flag asked for) is not available here."""


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # glibc older than 2.28, or musl without it
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _renameat2()


def _rename2(src: os.PathLike | str, dst: os.PathLike | str, flags: int) -> None:
    if _RENAMEAT2 is None:
        raise Unsupported("renameat2 is not available")
    if _RENAMEAT2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), flags) == 0:
        return
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # the file system lacks the flag
        raise Unsupported(os.strerror(code))
    raise OSError(code, os.strerror(code), os.fspath(src), None, os.fspath(dst))


def exchange(a: os.PathLike | str, b: os.PathLike | str) -> None:
    """Swap the two names atomically (both must exist); ``Unsupported`` where it cannot."""
    _rename2(a, b, RENAME_EXCHANGE)


def rename_noreplace(src: os.PathLike | str, dst: os.PathLike | str) -> None:
    """Rename ``src`` to ``dst``; ``FileExistsError`` if ``dst`` exists, never replacing it.

    Without renameat2 the check and the rename are two steps: callers hold ``OutputLock``, so
    no other memtasks writer can slip in between."""
    with contextlib.suppress(Unsupported):  # then the check-and-rename below, under the lock
        return _rename2(src, dst, RENAME_NOREPLACE)
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(dst))
    os.rename(src, dst)


class Busy(Exception):
    """Another process holds the lock."""


class OutputLock:
    """Exclusive lock on ``.NAME.lock`` beside ``target``; ``Busy`` if another process holds it.

    The holder deletes the file when it lets go, so nothing stays behind. A process that opened
    the file just before it was deleted would lock a file nobody else can see: after locking,
    the file at the path must still be the one locked, else it tries again."""

    def __init__(self, target: Path):
        self.path = target.parent / f".{target.name}.lock"
        self.fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:
            return
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise Busy(str(self.path)) from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return
            os.close(fd)  # deleted by its last holder after we opened it: take the new one

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still locked: a waiter re-checks the inode (acquire)
        os.close(self.fd)
        self.fd = None


def write_owner(folder: Path) -> None:
    (folder / OWNER).write_text(f"{os.getpid()} {socket.gethostname()}\n")


def owner_alive(folder: Path) -> bool:
    """Whether the process named in ``folder/.owner`` may still be writing it.

    No owner file (killed between creating the folder and writing it, or a dataset moved aside
    by an exchange) or a dead process: not alive. Another host's process: assume alive, since
    its pids mean nothing here."""
    try:
        pid_text, host = (folder / OWNER).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def free_disk(folder: Path) -> int:
    """Bytes free for an unprivileged writer in the file system holding ``folder``."""
    import shutil

    return shutil.disk_usage(folder).free


def available_memory() -> int | None:
    """Bytes of memory available without swapping (Linux MemAvailable), or None if unknown."""
    # not Linux (no /proc/meminfo): sysconf below
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} PB"


def die_with_parent(parent: int) -> None:
    """Make this (worker) process end when ``parent`` does, however it ends (even SIGKILL).

    Linux: the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG). Everywhere,
    and for a parent that died before this ran: a daemon thread that exits once the parent pid
    changes (the orphan is re-parented to init or a subreaper)."""
    import signal
    import threading
    import time

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="memtasks-parent-watch", daemon=True).start()
