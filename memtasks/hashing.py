"""Content hashes of episodes, computed in compiled code.

``episode_hashes`` gives each episode a 64-bit hash of its content: every per-position field,
its support and its meta values, with the fields' dtypes and widths mixed in, but not its index.
Equal hashes mean equal content. ``story_hashes`` leaves meta out as well: the story alone,
which is what de-duplication of test against train compares.

``content_hash`` is a SHA-256 over the (index, episode hash) pairs in episode order. It depends
on nothing but the episodes, so a dataset written in 1 shard or 8, by 1 worker or 4, has the
same content hash.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit, prange

from .episode import POSITION_FIELDS, EpisodeBatch
from .rng import mix64

_K = np.uint64(0x9FB21C651E98DF25)
_S8 = np.uint64(8)


@njit(cache=True, parallel=True)
def _segment_hashes(data, starts, stops, salt, out):
    """Mix into ``out[b]`` a hash of ``data[starts[b]:stops[b]]`` (bytes) for every b."""
    for b in prange(len(starts)):
        h = mix64(salt ^ np.uint64(stops[b] - starts[b]))
        word = np.uint64(0)
        k = 0
        for p in range(starts[b], stops[b]):
            word = word | (np.uint64(data[p]) << (_S8 * np.uint64(k)))
            k += 1
            if k == 8:
                h = mix64(h ^ (word * _K))
                word = np.uint64(0)
                k = 0
        if k:
            h = mix64(h ^ (word * _K) ^ np.uint64(k))
        out[b] = mix64(out[b] ^ h)


def _salt(name: str, arr: np.ndarray) -> np.uint64:
    """A per-field salt: the field's name, dtype and row width all change every hash."""
    text = f"{name}|{arr.dtype.str}|{arr.shape[1:]}".encode()
    return np.uint64(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little"))


def _mix_field(out: np.ndarray, name: str, arr: np.ndarray, offsets: np.ndarray) -> None:
    row_bytes = arr.itemsize * (arr.shape[1] if arr.ndim == 2 else 1)
    data = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    starts = offsets[:-1] * row_bytes
    stops = offsets[1:] * row_bytes
    _segment_hashes(data, starts, stops, _salt(name, arr), out)


def story_hashes(batch: EpisodeBatch) -> np.ndarray:
    """A 64-bit hash of each episode's story: its per-position fields, support and
    support_answer; not its index and not its meta (which only describes the story). Two
    episodes with equal story hashes tell the same story: ``memtasks.dedup`` compares these."""
    out = np.zeros(len(batch), dtype=np.uint64)
    for name in POSITION_FIELDS:
        _mix_field(out, name, getattr(batch, name), batch.offsets)
    _mix_field(out, "support", batch.support, batch.support_offsets)
    _mix_field(out, "support_answer", batch.support_answer, batch.support_offsets)
    return out


def episode_hashes(batch: EpisodeBatch) -> np.ndarray:
    out = story_hashes(batch)  # then meta on top: the same values as before story_hashes
    rows = np.arange(len(batch) + 1, dtype=np.int64)
    for name in sorted(batch.meta):
        _mix_field(out, "meta." + name, batch.meta[name], rows)
    return out


class ContentHasher:
    """Streaming form of ``content_hash``: feed batches in episode order, then ``hexdigest``."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256(b"memtasks-content-v1")
        self.episodes = 0

    def update(self, batch: EpisodeBatch) -> None:
        self.update_hashes(batch.index, episode_hashes(batch))

    def update_hashes(self, index: np.ndarray, hashes: np.ndarray) -> None:
        pairs = np.empty((len(index), 2), dtype="<u8")
        pairs[:, 0] = index
        pairs[:, 1] = hashes
        self._sha.update(pairs.tobytes())
        self.episodes += len(index)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def content_hash(batch: EpisodeBatch) -> str:
    hasher = ContentHasher()
    hasher.update(batch)
    return hasher.hexdigest()
