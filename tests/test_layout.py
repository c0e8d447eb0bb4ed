"""One import namespace (DESIGN.md, layout): the wheel installs `memtasks` and nothing else at the
top level, although the repository keeps `generators/` and `reference_models/` as folders of
their own (pyproject's package-dir maps them to `memtasks.generators` and `memtasks.models`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folder_of(package: str, package_dir: dict[str, str]) -> Path:
    # the longest mapped prefix decides, as in setuptools
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in package_dir:
            return ROOT / package_dir[prefix] / Path(*parts[cut:])
    return ROOT / Path(*parts)


def test_every_package_folder_is_in_the_wheel_under_memtasks():
    table = _setuptools_table()
    packages, package_dir = table["packages"], table["package-dir"]
    assert all(p == "memtasks" or p.startswith("memtasks.") for p in packages)
    listed = {_folder_of(p, package_dir) for p in packages}
    for folder in listed:
        assert (folder / "__init__.py").is_file(), f"{folder} is listed but is no package"
    on_disk = {
        init.parent
        for top in ("memtasks", *package_dir.values())
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk == listed, f"packages missing from pyproject: {sorted(on_disk - listed)}"


def test_importing_everything_adds_no_top_level_name_but_memtasks():
    code = (
        "import sys, memtasks, memtasks.generators, memtasks.models, memtasks.cli\n"
        "memtasks.list_tasks()\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "bad = sorted(top & {'generators', 'reference_models'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_the_core_names_no_family_and_stale_metadata_is_one_line():
    """Families come from entry points only: without memtasks' own (metadata missing or stale)
    the registry says how to reinstall, in one line, instead of listing no tasks."""
    code = (
        "import importlib.metadata as md\n"
        "md.entry_points = lambda **kw: []\n"
        "import memtasks\n"
        "try:\n"
        "    memtasks.list_tasks()\n"
        "except memtasks.MemtasksError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and "entry points" in lines[0] and "pip install -e ." in lines[0]
    core = ROOT / "memtasks"
    modules = [*core.glob("*.py"), *(core / "formats").glob("*.py")]
    for module in modules:
        code_lines = [
            line for line in module.read_text().splitlines() if not line.lstrip().startswith("#")
        ]
        named = [line for line in code_lines if "memtasks.generators." in line]
        named += [line for line in code_lines if "memtasks.loaders." in line and "import" in line]
        assert named == [], f"{module.name} names a family module: {named[0]}"
