"""The sighting index: columnar, hour-partitioned, append-friendly, numba-scanned.

Each sighting is three int32 numbers: entity id, checkpoint id and time
(seconds since 2020-01-01T00:00Z). Sightings go to the partition of their hour,
whatever order they arrive in, so late and out-of-order data is just an append
to an older partition. A partition holds

* an unsorted *tail* (12 bytes per sighting) that appends land in, and
* *runs*: tails flushed and bucketed by checkpoint with a counting sort
  (8 bytes per sighting plus one pointer per checkpoint), merged into one run
  when the partition is compacted.

A window query over a set of checkpoints reads each run's checkpoint segments
and scans the small tails. Partitions older than the retention are dropped.

Example
-------
>>> import numpy as np
>>> idx = SightingIndex()
>>> t = to_index_time(np.array([1772400000, 1772400060]))
>>> idx.append(np.array([7, 8], np.int32), np.array([0, 1], np.int32), t).accepted
2
>>> ent, cp, tt = idx.query(np.array([1], np.int32), int(t[0]), int(t[1]))
>>> ent.tolist(), cp.tolist()
([8], [1])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from graph.spacetime import _kernels as kern

__all__ = ["BASE_EPOCH", "AppendStats", "SightingIndex", "to_index_time"]

log = logging.getLogger(__name__)

BASE_EPOCH = 1_577_836_800  # 2020-01-01T00:00:00Z
PARTITION_S = 3600
_MAX_T = 2**31 - 1
#: rows a settled partition's unsorted tail may hold before it is bucketed into a run: every
#: query over that hour scans the whole tail (4096 made a 7-day scene history read ~0.7 M
#: rows of tails on the synthetic stream), while each run costs a merge later
SETTLED_TAIL_MAX = 256


def to_index_time(epoch_s: np.ndarray) -> np.ndarray:
    """Unix seconds -> int32 index time; ``ValueError`` for times before 2020 or after 2088."""
    arr = np.asarray(epoch_s)
    rel = np.floor(arr.astype(np.float64) - BASE_EPOCH)
    if rel.size and (rel.min() < 0 or rel.max() > _MAX_T or not np.isfinite(rel).all()):
        bad = rel[(rel < 0) | (rel > _MAX_T) | ~np.isfinite(rel)][0]
        raise ValueError(
            f"time {float(bad) + BASE_EPOCH!r} (unix s) is outside what the index holds: "
            "expected 2020-01-01 to 2088-01-19"
        )
    return rel.astype(np.int32)


@dataclass(frozen=True, slots=True)
class AppendStats:
    accepted: int
    too_old: int  # older than the retention: counted and left out, never a crash


@dataclass
class _Run:
    ptr: np.ndarray  # int64[n_cp + 1]
    ent: np.ndarray  # int32[n]
    t: np.ndarray  # int32[n]

    @property
    def nbytes(self) -> int:
        return self.ptr.nbytes + self.ent.nbytes + self.t.nbytes


@dataclass
class _Partition:
    hour: int
    runs: list[_Run] = field(default_factory=list)
    cp: np.ndarray = field(default_factory=lambda: np.empty(256, np.int32))
    ent: np.ndarray = field(default_factory=lambda: np.empty(256, np.int32))
    t: np.ndarray = field(default_factory=lambda: np.empty(256, np.int32))
    n: int = 0

    def size(self) -> int:
        return self.n + sum(r.ent.shape[0] for r in self.runs)

    def nbytes(self) -> int:
        return self.cp.nbytes + self.ent.nbytes + self.t.nbytes + sum(r.nbytes for r in self.runs)

    def push(self, cp: np.ndarray, ent: np.ndarray, t: np.ndarray) -> None:
        need = self.n + cp.shape[0]
        if need > self.cp.shape[0]:
            cap = max(need, 2 * self.cp.shape[0])
            for name in ("cp", "ent", "t"):
                grown = np.empty(cap, np.int32)
                grown[: self.n] = getattr(self, name)[: self.n]
                setattr(self, name, grown)
        self.cp[self.n : need] = cp
        self.ent[self.n : need] = ent
        self.t[self.n : need] = t
        self.n = need

    def flush(self) -> None:
        """Bucket the tail into a new run."""
        if self.n == 0:
            return
        cp = self.cp[: self.n]
        ptr, ent, t = kern.bucket_by_cp(cp, self.ent[: self.n], self.t[: self.n], int(cp.max()) + 1)
        self.runs.append(_Run(ptr, ent, t))
        self.n = 0
        self.cp = np.empty(256, np.int32)
        self.ent = np.empty(256, np.int32)
        self.t = np.empty(256, np.int32)

    def compact(self) -> None:
        """Flush the tail and merge all runs into one (stable: arrival order kept per checkpoint)."""
        self.flush()
        if len(self.runs) <= 1:
            return
        cps = np.concatenate([kern.expand_cp(r.ptr) for r in self.runs])
        ents = np.concatenate([r.ent for r in self.runs])
        ts = np.concatenate([r.t for r in self.runs])
        ptr, ent, t = kern.bucket_by_cp(cps, ents, ts, int(cps.max()) + 1)
        self.runs = [_Run(ptr, ent, t)]


class SightingIndex:
    """Hour-partitioned columnar sighting store with window queries by checkpoint set.

    Complexity: append O(n); query O(sum of segment lengths at the asked
    checkpoints in the asked hours + tail sizes of those hours).
    """

    def __init__(
        self, retention_hours: int = 24 * 30, run_size: int = 1 << 18, max_runs: int = 8
    ) -> None:
        if retention_hours < 1:
            raise ValueError(f"retention_hours={retention_hours}: expected at least 1")
        if run_size < 1024:
            raise ValueError(f"run_size={run_size}: expected at least 1024")
        self.retention_hours = retention_hours
        self.run_size = run_size
        self.max_runs = max_runs
        self.partitions: dict[int, _Partition] = {}
        self.watermark = -1  # latest index time seen
        #: hours given sightings since :meth:`_compact_settled` last looked at them: a
        #: partition it tidied and nobody wrote to since needs no second look
        self._untidied: set[int] = set()
        self._floor_hour = -(2**62)  # partitions before it were dropped (see _drop_expired)

    def __len__(self) -> int:
        return sum(p.size() for p in self.partitions.values())

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (tails are allocated with doubling headroom)."""
        return sum(p.nbytes() for p in self.partitions.values())

    @property
    def oldest_time(self) -> int:
        """Index time before which sightings are outside the retention."""
        if self.watermark < 0:
            return -(2**31)
        return (self.watermark // PARTITION_S - self.retention_hours + 1) * PARTITION_S

    def append(self, ent: np.ndarray, cp: np.ndarray, t: np.ndarray) -> AppendStats:
        """Add sightings (int32 entity ids, checkpoint ids, index times) in any time order.

        Sightings older than the retention are counted in ``too_old`` and left out.
        Raises ``ValueError`` if the arrays differ in length or hold negative ids.
        """
        ent = np.ascontiguousarray(ent, dtype=np.int32)
        cp = np.ascontiguousarray(cp, dtype=np.int32)
        t = np.ascontiguousarray(t, dtype=np.int32)
        if not (ent.shape == cp.shape == t.shape) or ent.ndim != 1:
            raise ValueError(
                f"ent, cp and t must be 1-D arrays of one length, got {ent.shape}, {cp.shape}, {t.shape}"
            )
        if ent.size == 0:
            return AppendStats(0, 0)
        e_min, c_min, t_min, t_max = kern.extent(ent, cp, t)
        if e_min < 0 or c_min < 0:
            raise ValueError("entity and checkpoint ids must be >= 0 (interned ids)")
        self.watermark = max(self.watermark, int(t_max))
        floor = self.oldest_time
        too_old = 0
        if t_min < floor:
            keep = t >= floor
            too_old = int(ent.size - np.count_nonzero(keep))
            log.info(
                "%d sightings older than the %d h retention left out", too_old, self.retention_hours
            )
            ent, cp, t = ent[keep], cp[keep], t[keep]
            if ent.size == 0:
                return AppendStats(0, too_old)
            t_min = t.min()
        self._push_by_hour(cp, ent, t, int(t_min) // PARTITION_S, int(t_max) // PARTITION_S)
        self._drop_expired()
        self._compact_settled()
        return AppendStats(int(ent.size), too_old)

    def _push_by_hour(
        self, cp: np.ndarray, ent: np.ndarray, t: np.ndarray, h0: int, h1: int
    ) -> None:
        """Push sightings of the hours ``h0..h1`` to their partitions, hour by hour, in
        arrival order within an hour. A run of sightings usually spans one or two hours:
        one kernel groups them (:func:`kern.by_hour`), not an argsort and its cuts."""
        if h0 == h1:
            self._push(h0, cp, ent, t)
            return
        cp, ent, t, bounds = kern.by_hour(cp, ent, t, h0, h1, PARTITION_S)
        starts = bounds.tolist()
        for k in range(h1 - h0 + 1):
            a, b = starts[k], starts[k + 1]
            if a < b:
                self._push(h0 + k, cp[a:b], ent[a:b], t[a:b])

    def _push(self, hour: int, cp: np.ndarray, ent: np.ndarray, t: np.ndarray) -> None:
        part = self.partitions.get(hour)
        if part is None:
            part = self.partitions[hour] = _Partition(hour)
        part.push(cp, ent, t)
        self._untidied.add(hour)
        if part.n >= self.run_size:
            part.flush()
            if len(part.runs) > self.max_runs:
                part.compact()

    def _drop_expired(self) -> None:
        """Drop the partitions that fell out of the retention. Only the watermark moves the
        floor, and nothing older than the floor is ever added: a look at every partition
        is needed only when the floor has moved."""
        floor_hour = self.oldest_time // PARTITION_S
        if floor_hour <= self._floor_hour:
            return
        self._floor_hour = floor_hour
        for hour in [h for h in self.partitions if h < floor_hour]:
            del self.partitions[hour]

    def _compact_settled(self) -> None:
        """Tidy partitions two or more hours behind the watermark.

        Late data lands in their tails: a tail of ``SETTLED_TAIL_MAX`` rows becomes a
        small run of its own (a counting sort of just those rows), and runs merge only when the
        small ones add up to a quarter of the largest or there are too many — so
        a trickle of late sightings never re-sorts a whole partition.
        """
        settled = self.watermark // PARTITION_S - 2
        for hour in [h for h in self._untidied if h <= settled]:
            self._untidied.discard(hour)
            part = self.partitions.get(hour)
            if part is None:  # dropped since
                continue
            if part.n >= SETTLED_TAIL_MAX:
                part.flush()
            if len(part.runs) > 1:
                sizes = [r.ent.shape[0] for r in part.runs]
                if 4 * (sum(sizes) - max(sizes)) >= max(sizes) or len(part.runs) > self.max_runs:
                    part.compact()

    def drop_before(self, index_time: int) -> int:
        """Drop whole partitions that end before ``index_time``; returns sightings dropped."""
        gone = [h for h in self.partitions if (h + 1) * PARTITION_S <= index_time]
        dropped = sum(self.partitions[h].size() for h in gone)
        for h in gone:
            del self.partitions[h]
        return dropped

    def query(self, cps: np.ndarray, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(entity, checkpoint, time) of every sighting at ``cps`` with t0 <= t <= t1."""
        cps = np.ascontiguousarray(cps, dtype=np.int32)
        empty = (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.int32))
        if cps.size == 0 or t1 < t0:
            return empty
        hours = [h for h in range(t0 // PARTITION_S, t1 // PARTITION_S + 1) if h in self.partitions]
        if not hours:
            return empty
        mark = np.zeros(int(cps.max()) + 1, dtype=np.uint8)
        mark[cps] = 1
        bound = 0
        for h in hours:
            part = self.partitions[h]
            bound += part.n
            for run in part.runs:
                bound += kern.segment_total(run.ptr, cps)
        out_ent = np.empty(bound, np.int32)
        out_cp = np.empty(bound, np.int32)
        out_t = np.empty(bound, np.int32)
        k = 0
        for h in hours:
            part = self.partitions[h]
            for run in part.runs:
                k = kern.scan_run(run.ptr, run.ent, run.t, cps, t0, t1, out_ent, out_cp, out_t, k)
            if part.n:
                k = kern.scan_tail(
                    part.cp, part.ent, part.t, part.n, mark, t0, t1, out_ent, out_cp, out_t, k
                )
        return out_ent[:k], out_cp[:k], out_t[:k]
