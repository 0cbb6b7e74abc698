"""Stored keys in memory, by hash, each with the journal row it is stored at.

The journal asks "is this key stored already?" of every message it appends.
Answering from memory means the bulk insert need not run before the sinks take
a batch: it can run beside them, on the writer thread, as one statement that
holds no Python lock. It also means the journal table needs no index on its
keys: inserting a batch of random keys into one dirtied a page per key, and
writing those pages to the write-ahead log took most of the writer's time
(see :mod:`ingest.journal`).

A key's 64-bit hash is kept with its row's ``seq``, not the key (16 bytes a key
instead of ~100 for a string in a set). A miss is certain; a hit gives the rows
that may hold the key, which the caller reads back by ``seq`` (the table's
primary key) to compare the keys themselves.

Example
-------
>>> known = KeyHashes()
>>> known.add(["sighting:s1", "sighting:s2"], [1, 2])
>>> known.candidates(["sighting:s2", "sighting:s3"])
{0: [2]}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["KeyHashes"]

#: keys held in a Python dict before they become a sorted run (~10 MB)
RECENT_MAX = 1 << 17
#: keys added at once beyond which they go straight into a sorted run (a restart's reads)
BULK_MIN = 4096


class KeyHashes:
    """A multimap hash -> seqs: sorted int64 runs plus a small dict of recent keys.

    Runs are merged like a binary counter (a run is merged into the one before it while
    that one is not twice as long), so there are O(log n) runs and a pair is copied
    O(log n) times over its life, whatever order and sizes keys arrive in. Hashes are
    Python's ``hash(str)``: fixed within a process, which is all the map needs (it is
    rebuilt from the journal when a process opens it). A hash may map to several rows:
    two keys with one hash, or a key pruned from the journal and stored again. Rows
    pruned stay here (16 bytes each): reading them back finds nothing, so their keys
    count as not stored, as they are.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (hashes sorted, seqs)
        #: hash -> seq, or a tuple of seqs for a hash seen more than once
        self._recent: dict[int, int | tuple[int, ...]] = {}
        self._tuples = 0  # values of _recent that are tuples

    def __len__(self) -> int:
        """Pairs held (a hash with two rows counts twice)."""
        recent = sum(1 if isinstance(v, int) else len(v) for v in self._recent.values())
        return sum(int(h.size) for h, _ in self._runs) + recent

    def add(self, keys: Iterable[str], seqs: Iterable[int]) -> None:
        """Remember that each key is stored at the row of the same position in ``seqs``;
        amortised O(log n) a key. Adding a pair twice keeps it twice (memory only)."""
        hashes = [hash(k) for k in keys]
        rows = list(seqs)  # ints: a range of new seqs, or seqs read from the table
        if len(hashes) != len(rows):
            raise ValueError(f"{len(hashes)} keys but {len(rows)} seqs")
        if len(hashes) >= BULK_MIN:
            self._push(np.asarray(hashes, dtype=np.int64), np.asarray(rows, dtype=np.int64))
            return
        recent = self._recent
        before = len(recent)
        if recent.keys().isdisjoint(hashes):
            recent.update(zip(hashes, rows, strict=True))
            if len(recent) - before != len(hashes):  # one hash twice in the batch: redo
                for h in set(hashes):  # all new to the dict (disjoint)
                    del recent[h]
                self._add_each(hashes, rows)
        else:
            self._add_each(hashes, rows)
        if len(recent) > RECENT_MAX:
            self._flush_recent()

    def _add_each(self, hashes: list[int], rows: list[int]) -> None:
        recent = self._recent
        for h, s in zip(hashes, rows, strict=True):
            old = recent.get(h)
            if old is None:
                recent[h] = s
            elif isinstance(old, int):
                recent[h] = (old, s)
                self._tuples += 1
            else:
                recent[h] = (*old, s)

    def _flush_recent(self) -> None:
        recent = self._recent
        if not self._tuples:  # the usual case: one row a hash
            n = len(recent)
            self._push(
                np.fromiter(recent.keys(), dtype=np.int64, count=n),
                np.fromiter(recent.values(), dtype=np.int64, count=n),  # type: ignore[arg-type]
            )
            recent.clear()
            return
        hashes: list[int] = []
        rows: list[int] = []
        for h, v in self._recent.items():
            if isinstance(v, int):
                hashes.append(h)
                rows.append(v)
            else:
                hashes.extend([h] * len(v))
                rows.extend(v)
        recent.clear()
        self._tuples = 0
        self._push(np.asarray(hashes, dtype=np.int64), np.asarray(rows, dtype=np.int64))

    def candidates(self, keys: Sequence[str]) -> dict[int, list[int]]:
        """Position in ``keys`` -> the seqs of the rows that may hold that key, for every
        key whose hash is known; O(k log n). A position left out is certainly not stored."""
        out: dict[int, list[int]] = {}
        if not keys:
            return out
        hashes = [hash(k) for k in keys]
        recent = self._recent
        if recent:
            for i, h in enumerate(hashes):
                v = recent.get(h)
                if v is not None:
                    out[i] = [v] if isinstance(v, int) else list(v)
        if self._runs:
            arr = np.asarray(hashes, dtype=np.int64)
            order = np.argsort(arr)
            probe = arr[order]  # sorted needles: each search starts where the last ended
            for run, seqs in self._runs:
                lo = np.searchsorted(run, probe, side="left")
                at = np.minimum(lo, run.size - 1)
                for k in np.flatnonzero(run[at] == probe).tolist():
                    hi = int(np.searchsorted(run, probe[k], side="right"))
                    out.setdefault(int(order[k]), []).extend(seqs[int(lo[k]) : hi].tolist())
        return out

    def _push(self, hashes: np.ndarray, seqs: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        runs = self._runs
        runs.append((hashes[order], seqs[order]))
        while len(runs) >= 2 and runs[-2][0].size < 2 * runs[-1][0].size:
            h2, s2 = runs.pop()
            h1, s1 = runs[-1]
            merged = np.concatenate([h1, h2])
            # timsort finds the two sorted runs: a linear merge
            order = np.argsort(merged, kind="stable")
            runs[-1] = (merged[order], np.concatenate([s1, s2])[order])
