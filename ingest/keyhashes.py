"""Hashes of stored keys, in memory: is this key (possibly) stored already?

The journal asks this of every message it appends. Answering from memory means
the bulk insert need not run before the sinks take a batch: it can run beside
them, on the writer thread, as one statement that holds no Python lock. A
key's 64-bit hash is kept, not the key (8 bytes a key instead of ~100 for a
string in a set); a hit is only "possibly stored" and the caller checks it
against the database, a miss is certain.

Example
-------
>>> known = KeyHashes()
>>> known.add(["sighting:s1", "sighting:s2"])
>>> known.hits(["sighting:s2", "sighting:s3"])
[0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["KeyHashes"]

#: hashes held in a Python set before they become a sorted run (~10 MB)
RECENT_MAX = 1 << 17
#: keys added at once beyond which they go straight into a sorted run (a restart's reads)
BULK_MIN = 4096


class KeyHashes:
    """A set of keys by their hash: sorted int64 runs plus a small set of recent ones.

    Runs are merged like a binary counter (a run is merged into the one before it while
    that one is not twice as long), so there are O(log n) runs and a hash is copied
    O(log n) times over its life, whatever order and sizes keys arrive in. Hashes are
    Python's ``hash(str)``: fixed within a process, which is all the set needs (it is
    rebuilt from the journal when a process opens it). Forgetting is not supported: keys
    pruned from the journal stay (8 bytes each; a hit is checked against the table).
    """

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []  # sorted, distinct, longest first
        self._recent: set[int] = set()

    def __len__(self) -> int:
        return sum(int(r.size) for r in self._runs) + len(self._recent)

    def add(self, keys: Iterable[str]) -> None:
        """Remember ``keys``: amortised O(log n) a key."""
        hashes = [hash(k) for k in keys]
        if len(hashes) >= BULK_MIN:
            self._push(np.unique(np.asarray(hashes, dtype=np.int64)))
            return
        self._recent.update(hashes)
        if len(self._recent) > RECENT_MAX:
            run = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
            run.sort()
            self._recent.clear()
            self._push(run)

    def hits(self, keys: Sequence[str]) -> list[int]:
        """Positions of the keys whose hash is known (possibly stored); O(k log n)."""
        if not keys:
            return []
        hashes = [hash(k) for k in keys]
        recent = self._recent
        found = np.fromiter((h in recent for h in hashes), dtype=bool, count=len(hashes))
        if self._runs:
            arr = np.asarray(hashes, dtype=np.int64)
            order = np.argsort(arr)
            probe = arr[order]  # sorted needles: each search starts where the last ended
            seen = np.zeros(probe.size, dtype=bool)
            for run in self._runs:
                at = np.minimum(np.searchsorted(run, probe), run.size - 1)
                seen |= run[at] == probe
            found[order] |= seen
        return np.flatnonzero(found).tolist()

    def _push(self, run: np.ndarray) -> None:
        runs = self._runs
        runs.append(run)
        while len(runs) >= 2 and runs[-2].size < 2 * runs[-1].size:
            merged = np.concatenate([runs[-2], runs.pop()])
            merged.sort(kind="stable")  # timsort finds the two sorted runs: a linear merge
            keep = np.ones(merged.size, dtype=bool)
            keep[1:] = merged[1:] != merged[:-1]
            runs[-1] = merged[keep]
