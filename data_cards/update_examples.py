"""Regenerate the example episodes of the data cards in place, so that they never go stale.

A card marks each example with two HTML comments (invisible when the Markdown is rendered)::

    <!-- example: ntm/copy-v1 seed=0 max_length=4 -->
    ...anything: this script replaces it...
    <!-- /example -->

The opening comment names the task, then ``key=value`` pairs: ``n`` (episodes, default 1),
``seed`` (default 0), ``split``, ``start`` and ``preset`` are arguments of
``memtasks.generate``; every other key is a knob, written as on the command line
(``--set lengths=3,5``). Between the comments the script writes the exact Python call and what
its ``.pretty()`` prints.

Usage::

    python data_cards/update_examples.py            # rewrite every card under data_cards/
    python data_cards/update_examples.py --check    # only report stale cards (exit status 1)
    python data_cards/update_examples.py data_cards/ntm/copy.md
    python data_cards/update_examples.py --knob-table ntm/copy-v1   # rows for a new card

``tests/test_cards.py`` fails when a card's example differs from what this script would write.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import memtasks

CARDS = Path(__file__).resolve().parent

# The opening comment, the body (non-greedy, so blocks never merge) and the closing comment.
EXAMPLE_BLOCK = re.compile(
    r"(?P<open><!--\s*example:\s*(?P<args>[^>]*?)\s*-->)"
    r"(?P<body>.*?)"
    r"(?P<close><!--\s*/example\s*-->)",
    re.DOTALL,
)
_CALL_ARGUMENTS = {"n": int, "seed": int, "split": str, "start": int, "preset": str}


@dataclass(frozen=True)
class ExampleCall:
    """One ``memtasks.generate`` call, as written in an example marker."""

    task: str
    n: int = 1
    arguments: dict[str, Any] = field(default_factory=dict)  # seed, split, start, preset
    knobs: dict[str, Any] = field(default_factory=dict)  # typed knob values, marker order

    def python(self) -> str:
        """The call as Python source, e.g. ``memtasks.generate("ntm/copy-v1", 1, seed=0)``."""
        parts = [f'"{self.task}"', str(self.n)]
        parts += [f"{k}={v!r}" for k, v in self.arguments.items()]
        parts += [f"{k}={v!r}" for k, v in self.knobs.items()]
        return f"memtasks.generate({', '.join(parts)})"

    def generate(self) -> memtasks.EpisodeBatch:
        return memtasks.generate(self.task, self.n, **self.arguments, **self.knobs)


def parse_marker(args: str) -> ExampleCall:
    """Parse the text after ``example:`` in an opening comment."""
    words = args.split()
    if not words:
        raise ValueError("an example marker must name a task: <!-- example: TASK key=value -->")
    task, pairs = words[0], words[1:]
    spec = memtasks.get_spec(task)  # an unknown task raises UnknownTaskError with a hint
    n, arguments, knobs = 1, {"seed": 0}, {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"example marker of {task}: expected key=value, got {pair!r}")
        if name == "n":
            n = int(text)
        elif name in _CALL_ARGUMENTS:
            arguments[name] = _CALL_ARGUMENTS[name](text)
        else:
            knobs[name] = spec.knobs.parse(name, text)
    return ExampleCall(task=spec.id, n=n, arguments=arguments, knobs=knobs)


def render_body(call: ExampleCall) -> str:
    """What goes between the two comments: the call, then the text it prints in a fence."""
    text = call.generate().pretty()  # exactly the call the card states
    return f"\n`{call.python()}.pretty()` prints:\n\n```text\n{text}\n```\n"


def update_text(text: str) -> str:
    """``text`` with the body of every example block regenerated; the rest is left as is."""

    def replace(match: re.Match) -> str:
        body = render_body(parse_marker(match.group("args")))
        return match.group("open") + body + match.group("close")

    return EXAMPLE_BLOCK.sub(replace, text)


def card_paths() -> list[Path]:
    """Every card under ``data_cards/`` (the README describes cards, it is not one)."""
    return sorted(p for p in CARDS.rglob("*.md") if p.name != "README.md")


def knob_table(task: str) -> str:
    """The knob table of a task as Markdown rows, to start a new card from."""
    spec = memtasks.get_spec(task)
    rows = ["| knob | type | default | range | meaning |", "|---|---|---|---|---|"]
    for name, (default, info) in spec.knobs.infos().items():
        kind = f"tuple[{info.elem.__name__}]" if info.kind is tuple else info.kind.__name__
        if info.choices is not None:
            allowed = ", ".join(str(c) for c in info.choices)
        elif info.lo is not None and info.hi is not None:
            allowed = f"{info.lo:g}..{info.hi:g}"
            allowed = f"each {allowed}" if info.kind is tuple else allowed
        else:
            allowed = "any"
        rows.append(f"| `{name}` | {kind} | `{format_value(default)}` | {allowed} | {info.doc} |")
    return "\n".join(rows)


def format_value(value: Any) -> str:
    """A knob value as ``--set`` takes it (``()`` for an empty list, which ``--set`` omits)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "()"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cards", nargs="*", type=Path, help="cards to update (default: all)")
    parser.add_argument("--check", action="store_true", help="report stale cards, change none")
    parser.add_argument("--knob-table", metavar="TASK", help="print the knob table of TASK")
    options = parser.parse_args(argv)
    if options.knob_table:
        print(knob_table(options.knob_table))
        return 0
    stale = []
    for path in options.cards or card_paths():
        old = path.read_text(encoding="utf-8")
        new = update_text(old)
        if new != old:
            stale.append(path)
            if not options.check:
                path.write_text(new, encoding="utf-8")
    verb = "stale" if options.check else "updated"
    for path in stale:
        print(f"{verb}: {path}")
    return 1 if options.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
