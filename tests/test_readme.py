"""Every code block of the README runs as written, in order, in one fresh folder.

A reader follows the README top to bottom in one folder, so the blocks run that way here: each
Python block in a fresh interpreter (a block may not lean on names another block defined), each
shell block in bash with ``-e`` so any failing command fails the test, and all of them in one
working folder, so two blocks that write the same path collide here as they would for a reader.

Two things the blocks need come from the test, not from the block:
- ``pip install ...``: the install part of a command line is checked to be what ``.ci/run``
  and the README promise, and the rest of the line runs as written, except the test command's
  (lint and this very suite), which ``.ci/run`` runs exactly, install included;
- the bAbI release folder ``tasks_1-20_v1-2`` that the README asks the reader to download: a
  stand-in of the same layout, written from the generator in the release's text format; and
  Penn Treebank's ``simple-examples/data/``, written by the spec's fixture writer.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import memtasks

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
INSTALLS = (
    "pip install -c constraints.txt -e .",
    'pip install -c constraints.txt -e ".[torch,test]"',
)


def blocks() -> list[tuple[str, int, str]]:
    """(language, line number, text) of every fenced block of the README, in order."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append((match.group(1), line, match.group(2)))
    return found


RUNNABLE = [(lang, line, body) for lang, line, body in blocks() if lang in ("bash", "python")]


def test_every_block_is_runnable():
    """A block with another language tag (or none) would be skipped silently below; ``text``
    marks what is not code (the project layout)."""
    assert [(lang, ln) for lang, ln, _ in blocks() if lang not in ("bash", "python", "text")] == []
    assert len(RUNNABLE) >= 8


def test_ci_runs_the_readme_test_command_exactly():
    command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert any(command in body.splitlines() for _, _, body in RUNNABLE)
    assert command.startswith(INSTALLS[1] + " && ")


def _without_install(line: str) -> str:
    """The command line after its ``pip install ... &&`` (checked to be a promised install)."""
    if not line.startswith("pip install"):
        return line
    install, sep, rest = line.partition(" && ")
    assert install in INSTALLS, f"README installs with {install!r}; expected one of {INSTALLS}"
    assert sep, f"a README install line should go on to run something: {line!r}"
    if install == INSTALLS[1]:  # the test command: this very suite, which CI runs as written
        assert rest == "ruff check . && ruff format --check . && python -m pytest -q"
        return "true"
    return rest


def _release_stand_in(folder: Path) -> None:
    """``tasks_1-20_v1-2/{en,en-10k}/qa2_..._{test,train}.txt``: the layout the README's bAbI block
    and its release-check baseline read, written from the generator in the release format."""
    from memtasks import storage
    from memtasks.loaders import babi

    made = folder / ".stand-in"
    storage.write_dataset(made, "babi/qa2-v1", 200, seed=0, split="test", format="babi")
    name = babi.text_file_name("babi/qa2-v1", "test")
    for variant in ("en", "en-10k"):
        (folder / "tasks_1-20_v1-2" / variant).mkdir(parents=True)
        shutil.copy(made / name, folder / "tasks_1-20_v1-2" / variant / name)
        # `memtasks load` reads every split's file (one vocabulary for all): a train file too
        train = babi.text_file_name("babi/qa2-v1", "train")
        shutil.copy(made / name, folder / "tasks_1-20_v1-2" / variant / train)
    shutil.rmtree(made)


def _ptb_stand_in(folder: Path) -> None:
    """``simple-examples/data/ptb.{train,valid,test}.txt`` in the release's format: the spec's own
    fixture writer (made-up sentences), where the README asks for Mikolov's files."""
    data = folder / "simple-examples" / "data"
    data.mkdir(parents=True)
    memtasks.get_spec("ptb/word-v1").fixture(data)


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reader")
    _release_stand_in(folder)
    _ptb_stand_in(folder)
    return folder


def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HF_HOME"] = str(folder / ".hf")  # datasets' cache stays in the test's folder
    env["HF_DATASETS_OFFLINE"] = "1"
    env.pop("MEMTASKS_BABI_DIR", None)  # a block that wants it sets it itself
    return env


@pytest.mark.parametrize(
    ("lang", "line", "body"), RUNNABLE, ids=[f"README.md:{line}" for _, line, _ in RUNNABLE]
)
def test_readme_block_runs_as_written(reader_folder, lang, line, body):
    if lang == "python":
        script = reader_folder / f"block_{line}.py"
        script.write_text(body)
        argv = [sys.executable, str(script)]
    else:
        joined = body.replace("\\\n", " ")  # continuation lines are one command
        commands = [_without_install(c.strip()) for c in joined.splitlines() if c.strip()]
        argv = ["bash", "-euo", "pipefail", "-c", "\n".join(commands)]
    done = subprocess.run(
        argv, cwd=reader_folder, env=_env(reader_folder), capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"README.md:{line} ({lang}) exited {done.returncode}\n{done.stdout[-3000:]}\n"
        f"{done.stderr[-3000:]}"
    )
    assert "Traceback" not in done.stderr
