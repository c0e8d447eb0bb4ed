"""bAbI loader throughput in questions per second, beside a plain Python parser, in one run.

    python benchmarks/bench_loaders.py DIR [--repeat 5] [--json OUT]

DIR holds released bAbI text files (``*_train.txt``, e.g. an unpacked ``tasks_1-20_v1-2/en``
or ``en-10k``). Every file is read by each of these, the best of ``--repeat`` runs kept (the
machine is shared; the best run is the least disturbed one):

- ``plain``: the plain Python parser anyone would write: a loop over lines, ``partition`` and
  ``split``, words split from ``.``, ``?`` and ``,``, a dict of word ids filled as words come,
  stories as lists. No checks, no arrays: issue 12 asks the loader to be at least this fast;
- ``loader``: ``memtasks.loaders.babi.read_file``, what ``memtasks load`` runs: every check of
  the release format, the vocabulary, the episodes as arrays (its fast reader);
- ``line reader``: the same with the fast reader turned off: the loader's line-by-line reader,
  which the fast one falls back to for unusual or malformed text (and which was the loader
  before issue 12).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from memtasks.loaders import babi


def plain(path: Path) -> int:
    """Stories of (word ids, answer ids, supporting line numbers); returns the questions."""
    ids: dict[str, int] = {}
    stories: list[list] = []
    story: list = []
    questions = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            number, _, text = line.rstrip("\n").partition(" ")
            if number == "1":
                story = []
                stories.append(story)
            if "\t" in text:
                question, answer, supports = text.split("\t")
                words = babi.words(question)
                story.append(
                    (
                        [ids.setdefault(w, len(ids)) for w in words],
                        [ids.setdefault(w, len(ids)) for w in answer.split(",")],
                        [int(s) for s in supports.split()],
                    )
                )
                questions += 1
            else:
                story.append([ids.setdefault(w, len(ids)) for w in babi.words(text)])
    return questions


def loader(path: Path) -> int:
    return int(babi.read_file(path).batch.meta["questions"].sum())


def line_reader(path: Path) -> int:
    fast = babi._read_fast
    babi._read_fast = lambda body, vocab: None  # every file through the line-by-line reader
    try:
        return loader(path)
    finally:
        babi._read_fast = fast


def best(read, files: list[Path], repeat: int) -> tuple[float, int]:
    """(best seconds for all files, questions)."""
    times, questions = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        questions = sum(read(f) for f in files)
        times.append(time.perf_counter() - began)
    return min(times), questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    files = sorted(args.folder.glob("*_train.txt")) or sorted(args.folder.glob("*/*_train.txt"))
    if not files:
        raise SystemExit(f"{args.folder}: no *_train.txt files")
    size = sum(f.stat().st_size for f in files)
    rows = {}
    for name, read in (("plain", plain), ("loader", loader), ("line reader", line_reader)):
        seconds, questions = best(read, files, args.repeat)
        rows[name] = {"seconds": seconds, "questions": questions, "per_s": questions / seconds}
    counts = {r["questions"] for r in rows.values()}
    assert len(counts) == 1, rows  # every reader saw the same questions
    print(
        f"{len(files)} files ({args.folder.name}/), {size / 1e6:.1f} MB, "
        f"{counts.pop():,} questions; best of {args.repeat}; Python {platform.python_version()}"
    )
    for name, row in rows.items():
        ratio = row["per_s"] / rows["plain"]["per_s"]
        print(
            f"  {name:<12} {row['per_s']:>10,.0f} questions/s  ({row['seconds'] * 1e3:7.1f} ms, "
            f"{ratio:.2f}x plain)"
        )
    if args.json:
        args.json.write_text(json.dumps({"folder": args.folder.name, "files": len(files),
                                         "bytes": size, "repeat": args.repeat, "rows": rows},
                                        indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
