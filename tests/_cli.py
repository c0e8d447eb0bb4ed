"""Running the command line in the test's own process (faster than a subprocess)."""

from __future__ import annotations

from memtasks.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `memtasks ARGS`, run in this process; only what this
    command printed (output captured before it is dropped)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
