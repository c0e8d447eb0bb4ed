"""Penn Treebank loader throughput, in tokens (words and <eos>) per second, on the real files.

    python benchmarks/bench_ptb.py DIR [--repeat 5]

DIR holds ptb.train.txt (and ptb.valid.txt, ptb.test.txt). Three measurements, the best of
``--repeat`` runs each (the machine is shared; the best run is the least disturbed one):

- ``plain``: the plain Python parser anyone would write (a loop over lines, ``split``, a dict of
  ids filled as words come), no checks: what issue 12 asks the loader to be at least as fast as;
- ``parse``: ``ptb.read_split`` on the training file: format checks, vocabulary by count, ids;
- ``load``: ``memtasks.load("ptb/word-v1", "train", path=DIR)``: the above plus reading the file,
  its sha256 check and the windows (episodes) of 35 tokens.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import memtasks
from memtasks.loaders import ptb


def plain(path: Path) -> np.ndarray:
    index: dict[str, int] = {}
    ids: list[int] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            for word in line.split():
                ids.append(index.setdefault(word, len(index) + 1))
            ids.append(index.setdefault("<eos>", len(index) + 1))
    return np.asarray(ids, dtype=np.int32)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = args.folder / ptb.FILES["train"]
    data = path.read_bytes()
    tokens = len(plain(path))

    def parse() -> None:
        ptb.read_split(path.name, data)

    def load() -> None:
        ptb._TRAIN_CACHE.clear()  # measure the parse, not the cache
        memtasks.load("ptb/word-v1", "train", path=args.folder)

    for name, fn in (("plain", lambda: plain(path)), ("parse", parse), ("load", load)):
        seconds = best(fn, args.repeat)
        print(f"{name:6s} {seconds * 1e3:8.1f} ms  {tokens / seconds / 1e6:6.2f} M tokens/s")
    print(f"tokens {tokens:,} (ptb.train.txt, {len(data):,} bytes)")


if __name__ == "__main__":
    main()
