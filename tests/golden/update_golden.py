"""Rewrite ``tests/golden/hashes.json``: the content hash of every task under every preset.

The golden file pins what the generators produce (DESIGN.md section 3): ``content_hash`` of
``generate(task, N, seed=SEED, preset=preset)``. ``tests/test_determinism.py`` fails when a hash
moves. A change that moves the hash of an existing task id is a change of that task's data, so
it must come with a new task version (``ntm/copy-v1`` -> ``ntm/copy-v2``, keeping v1 as it was):
a published dataset id always means the same bytes.

Usage, from the repository root::

    python tests/golden/update_golden.py           # add new tasks and presets; refuse changes
    python tests/golden/update_golden.py --check   # report differences, write nothing
    python tests/golden/update_golden.py --force   # also overwrite moved hashes (see above)

Without ``--force`` the script only adds entries (a new task version, a new preset) and drops
entries of tasks or presets that no longer exist; it refuses to overwrite a hash that moved.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import memtasks

GOLDEN = Path(__file__).resolve().parent / "hashes.json"
N = 64
SEED = 0


def golden_hashes() -> dict[str, dict[str, str]]:
    """{task id: {preset: content hash}} of every task as the code generates it now."""
    out = {}
    for task in memtasks.list_tasks():
        spec = memtasks.get_spec(task)
        out[task] = {
            preset: memtasks.generate(task, N, seed=SEED, preset=preset).content_hash()
            for preset in sorted(spec.presets)
        }
    return out


def read_golden(path: Path | None = None) -> dict[str, dict[str, str]]:
    """The hashes stored in the golden file ({} when it does not exist yet)."""
    path = path or GOLDEN
    if not path.exists():
        return {}
    return json.loads(path.read_text())["hashes"]


def differences(stored: dict, current: dict) -> tuple[list[str], list[str], list[str]]:
    """(added, moved, removed) as 'task preset' strings."""
    pairs_now = {(t, p): h for t, presets in current.items() for p, h in presets.items()}
    pairs_then = {(t, p): h for t, presets in stored.items() for p, h in presets.items()}
    added = [f"{t} {p}" for (t, p) in sorted(pairs_now.keys() - pairs_then.keys())]
    removed = [f"{t} {p}" for (t, p) in sorted(pairs_then.keys() - pairs_now.keys())]
    moved = [
        f"{t} {p}"
        for (t, p) in sorted(pairs_now.keys() & pairs_then.keys())
        if pairs_now[(t, p)] != pairs_then[(t, p)]
    ]
    return added, moved, removed


def write_golden(hashes: dict, path: Path | None = None) -> None:
    payload = {
        "about": (
            f"content_hash of memtasks.generate(task, {N}, seed={SEED}, preset=preset); "
            "rewrite with tests/golden/update_golden.py; a moved hash needs a new task version"
        ),
        "n": N,
        "seed": SEED,
        "hashes": hashes,
    }
    (path or GOLDEN).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report differences only")
    parser.add_argument("--force", action="store_true", help="overwrite hashes that moved")
    args = parser.parse_args(argv)

    current = golden_hashes()
    added, moved, removed = differences(read_golden(), current)
    for label, items in (("added", added), ("MOVED", moved), ("removed", removed)):
        for item in items:
            print(f"{label}: {item}")
    if args.check:
        print("golden hashes up to date" if not (added or moved or removed) else "differences")
        return 1 if (added or moved or removed) else 0
    if moved and not args.force:
        print(
            "refusing to overwrite moved hashes: the same task id would mean different data. "
            "Bump the task's version (DESIGN.md section 3), or pass --force if the change is "
            "intended and nothing was published under the old hashes.",
            file=sys.stderr,
        )
        return 1
    write_golden(current)
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
