"""Code, tests and cards cite papers and files of this repository only: no path outside it.

A citation of a file that lives elsewhere (a notes folder, an absolute path on one machine)
means nothing to a reader of a fresh clone; the facts the project relies on are in the
repository (data_cards/, generators/babi/release_stats.json with its definitions in
make_release_stats.py) or cited by paper.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUFFIXES = {".py", ".md", ".json", ".sh", ".toml", ".txt", ".yaml", ".yml", ".cfg"}
# recorded outputs of past runs (results JSON and logs) keep the paths those runs used
SKIP = {".git", "results", "__pycache__", ".ci"}
FOREIGN = re.compile(r"(?<![\w.])(?:shared/(?:reference|INVENTORY|data)|/work/|/root/)")


def _files():
    # a virtual environment made inside the checkout (python -m venv .venv) is not the
    # project's: its files name the interpreter's absolute paths
    venvs = {p.parent for p in ROOT.rglob("pyvenv.cfg")}
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        foreign = set(parts) & SKIP or any(part.endswith(".egg-info") for part in parts)
        if any(v in path.parents for v in venvs):
            continue
        if path.is_file() and path.suffix in SUFFIXES and not foreign:
            yield path


def test_a_virtual_environment_in_the_checkout_is_not_scanned(tmp_path, monkeypatch):
    env = tmp_path / ".venv"
    (env / "lib").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text("home = /root/bin\n")
    (env / "lib" / "x.py").write_text("# /work/elsewhere\n")
    (tmp_path / "mine.py").write_text("# /work/elsewhere\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert [p.name for p in _files()] == ["mine.py"]


def test_no_file_cites_a_path_outside_the_repository():
    found = []
    for path in _files():
        if path == Path(__file__).resolve():
            continue
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        ):
            if FOREIGN.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert not found, "cite the paper or bring the facts into the repository:\n" + "\n".join(found)
