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

#: hashes held in a Python set before they are merged into the sorted array (~10 MB);
#: a merge copies the array once (O(n)), so merges are rare and cheap per key
RECENT_MAX = 1 << 17


class KeyHashes:
    """A set of keys by their hash: sorted int64 array plus a small set of recent ones.

    Hashes are Python's ``hash(str)``: fixed within a process, which is all the set
    needs (it is rebuilt from the journal when a process opens it).
    """

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.int64)
        self._recent: set[int] = set()

    def __len__(self) -> int:
        return int(self._sorted.size) + len(self._recent)

    def add(self, keys: Iterable[str]) -> None:
        """Remember ``keys`` (amortised O(1) a key; a merge is O(n) every RECENT_MAX keys)."""
        self._recent.update(map(hash, keys))
        if len(self._recent) > RECENT_MAX:
            self._merge()

    def hits(self, keys: Sequence[str]) -> list[int]:
        """Positions of the keys whose hash is known (possibly stored); O(k log n)."""
        if not keys:
            return []
        hashes = [hash(k) for k in keys]
        recent = self._recent
        found = np.fromiter((h in recent for h in hashes), dtype=bool, count=len(hashes))
        if self._sorted.size:
            arr = np.asarray(hashes, dtype=np.int64)
            at = np.minimum(np.searchsorted(self._sorted, arr), self._sorted.size - 1)
            found |= self._sorted[at] == arr
        return np.flatnonzero(found).tolist()

    def _merge(self) -> None:
        new = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
        new.sort()
        self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, new), new)
        self._recent.clear()
