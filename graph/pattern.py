"""Crime-pattern candidates: same-category cases close in space and time.

Most linkage evidence is identity (a vehicle near both scenes, the same
suspect). The crime-linkage literature's strongest behavioural cues are
simpler: inter-crime distance and time, within a category (Tonkin et al.;
Bennell and Canter). :class:`PatternIndex` keeps every case's scene and start
per category, proposes a new case's near-repeat partners as candidate pairs,
and says how *unusual* a pair's closeness is:

* ``closer``: how many other cases of the category lie at least as close to
  either case, in both distance and time, as the two are to each other (0 for
  a pair that is each other's nearest neighbour in space-time);
* ``share``: the category's share of all cases so far (fuel thefts are rarer
  than telecom frauds, so two close fuel thefts say more).

Work per new case, and per pair asked about, is one vectorised pass over its
category's cases within the time bound (a slice of the cases in time order). The
linker asks about a batch's pairs at once (:meth:`PatternIndex.closer_many`): one
compiled call per category, not one per pair.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from geo.projection import point_to_metres
from graph.cases import Case

__all__ = ["PatternIndex"]

log = logging.getLogger(__name__)


#: seconds: a time slice is this much wider than its bound (the exact test decides; the
#: slice only has to hold it)
_SLACK_S = 1.0
#: relative margin around a squared distance bound outside which a row is decided without
#: hypot (see _count_near): far wider than hypot's error (an ulp, 2e-16), far narrower
#: than any distance that matters
_MARGIN = 1e-9


@njit(cache=True, nogil=True)
def _count_near(x, y, t, by_t, lo, hi, x0, y0, t0, max_m, max_s):  # noqa: ANN001, ANN201
    """Rows ``by_t[lo:hi]`` at most ``max_m`` from (x0, y0) and ``max_s`` from ``t0``. O(hi - lo)."""
    # The squared distance decides a row without calling hypot unless it is within a
    # relative 1e-9 of the bound: hypot is within an ulp of the root of it, so a row
    # decided either way is decided as hypot would (margins kept clear of under- and
    # overflow; NaN compares false and falls through to hypot, as before)
    bound2 = max_m * max_m
    outside2, inside2 = bound2 * (1.0 + _MARGIN), bound2 * (1.0 - _MARGIN)
    squares = 1e-100 < bound2 < 1e100
    count = 0
    for k in range(lo, hi):
        r = by_t[k]
        if not abs(t[r] - t0) <= max_s:
            continue
        dx, dy = x[r] - x0, y[r] - y0
        if squares:
            s = dx * dx + dy * dy
            if s > outside2:
                continue
            if s < inside2:
                count += 1
                continue
        if math.hypot(dx, dy) <= max_m:
            count += 1
    return count


@njit(cache=True, nogil=True)
def _closer(x, y, t, by_t, t_sorted, i, j, d, gap):  # noqa: ANN001, ANN201
    """For rows ``i`` and ``j`` (``d`` metres and ``gap`` seconds apart): the rows at most
    that far from either, in both, less the pair itself, summed over the two (see
    :meth:`PatternIndex.closer`); each row's time slice found here, one call a pair."""
    count = 0
    for k in (i, j):
        lo = np.searchsorted(t_sorted, t[k] - gap - _SLACK_S, side="left")
        hi = np.searchsorted(t_sorted, t[k] + gap + _SLACK_S, side="right")
        count += _count_near(x, y, t, by_t, lo, hi, x[k], y[k], t[k], d, gap) - 2
    return count


@njit(cache=True, nogil=True)
def _closer_many(x, y, t, by_t, t_sorted, rows_i, rows_j, d, gap):  # noqa: ANN001, ANN201
    """:func:`_closer` for each pair of rows ``(rows_i[k], rows_j[k])`` of one column: a
    batch's pairs of a category in one call (the dispatch of a call costs more than a
    typical pair's count)."""
    out = np.empty(rows_i.shape[0], np.int64)
    for k in range(rows_i.shape[0]):
        out[k] = _closer(x, y, t, by_t, t_sorted, rows_i[k], rows_j[k], d[k], gap[k])
    return out


@dataclass
class _Column:
    ids: list[str] = field(default_factory=list)
    x: np.ndarray = field(default_factory=lambda: np.empty(0))
    y: np.ndarray = field(default_factory=lambda: np.empty(0))
    t: np.ndarray = field(default_factory=lambda: np.empty(0))
    n: int = 0
    #: rows in order of time, and their times: a time window is a slice, not a scan of
    #: every case the category ever had
    by_t: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    t_sorted: np.ndarray = field(default_factory=lambda: np.empty(0))
    #: the buffers ``by_t`` and ``t_sorted`` are the first ``n`` of: a new row shifts the
    #: later ones in place (``np.insert`` copied both whole and cost more than the shift)
    _order: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    _times: np.ndarray = field(default_factory=lambda: np.empty(0))

    def append(self, case_id: str, x: float, y: float, t: float) -> None:
        n = self.n
        if n == self.x.shape[0]:
            cap = max(64, 2 * n)
            self.x, self.y, self.t, self._times = (
                np.resize(a, cap) for a in (self.x, self.y, self.t, self._times)
            )
            self._order = np.resize(self._order, cap)
        self.ids.append(case_id)
        self.x[n], self.y[n], self.t[n] = x, y, t
        at = int(self.t_sorted.searchsorted(t, side="right"))
        self._order[at + 1 : n + 1] = self._order[at:n]  # overlapping: numpy copies safely
        self._times[at + 1 : n + 1] = self._times[at:n]
        self._order[at], self._times[at] = n, t
        self.n = n + 1
        self.by_t, self.t_sorted = self._order[: n + 1], self._times[: n + 1]

    def _slice(self, t: float, max_s: float) -> tuple[int, int]:
        # the array's methods: np.searchsorted's dispatch costs more than a short search
        lo = int(self.t_sorted.searchsorted(t - max_s - _SLACK_S, side="left"))
        hi = int(self.t_sorted.searchsorted(t + max_s + _SLACK_S, side="right"))
        return lo, hi

    def within(self, x: float, y: float, t: float, max_m: float, max_s: float) -> np.ndarray:
        """Rows at most ``max_m`` from (x, y) and ``max_s`` from ``t`` (in no set order)."""
        lo, hi = self._slice(t, max_s)
        n = self.n
        if 2 * (hi - lo) > n:  # most of the column: one pass over it costs less than gathers
            keep = (np.hypot(self.x[:n] - x, self.y[:n] - y) <= max_m) & (
                np.abs(self.t[:n] - t) <= max_s
            )
            return keep.nonzero()[0]  # flatnonzero, without its ravel and dispatch
        rows = self.by_t[lo:hi]
        keep = (np.hypot(self.x[rows] - x, self.y[rows] - y) <= max_m) & (
            np.abs(self.t[rows] - t) <= max_s
        )
        return rows[keep]


class PatternIndex:
    """Scenes and start times per category; near-repeat candidates and their rarity.

    ``max_km`` and ``max_days`` bound the candidates a new case proposes; pairs
    farther apart can still be linked by identity evidence.
    """

    def __init__(self, max_km: float = 60.0, max_days: float = 14.0) -> None:
        if not (max_km > 0 and max_days > 0):
            raise ValueError(f"max_km={max_km}, max_days={max_days}: expected positive numbers")
        self.max_m = max_km * 1000.0
        self.max_s = max_days * 86400.0
        self._cols: dict[str, _Column] = {}
        #: case -> (category, row, x, y, t): the row's values as Python floats too, so a
        #: pair's distance and gap are had without reading the columns
        self._where: dict[str, tuple[str, int, float, float, float]] = {}
        self._total = 0
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._total

    def add(self, case: Case) -> list[tuple[str, str]]:
        """Register a case (once) and return its near-repeat candidate pairs (sorted ids)."""
        with self._lock:
            if case.case_id in self._where:
                return []
            x, y = point_to_metres(case.lon, case.lat)
            t = case.occurred_start.timestamp()
            col = self._cols.get(case.category)
            if col is None:  # not setdefault: an empty column is half a dozen arrays to make
                col = self._cols[case.category] = _Column()
            n = col.n
            near = col.within(x, y, t, self.max_m, self.max_s)
            near.sort()  # in arrival order
            col.append(case.case_id, x, y, t)
            self._where[case.case_id] = (case.category, n, float(x), float(y), t)
            self._total += 1
            me, ids = case.case_id, col.ids
            return [(ids[i], me) if ids[i] < me else (me, ids[i]) for i in near.tolist()]

    def share(self, category: str) -> float:
        """The category's share of all registered cases (1 if none yet)."""
        col = self._cols.get(category)
        if col is None or self._total == 0:
            return 1.0
        return col.n / self._total

    def closer(self, case_a: str, case_b: str) -> int:
        """Other same-category cases at least as close to A or to B as they are to each other.

        ``-1`` if the two are not both registered in the same category, or are farther
        apart than the pattern bounds.
        """
        return self.closer_many([(case_a, case_b)])[0]

    def closer_many(self, pairs: Sequence[tuple[str, str]]) -> list[int]:
        """:meth:`closer` of each pair, in order: one compiled call per category of the
        pairs rather than one a pair (a batch of reports asks about thousands of pairs,
        most of them a new case's near-repeat neighbours in its own category).

        A pair's distance is ``math.hypot`` of the coordinate differences, in Python as
        for a pair alone: the count compares other rows' distances with it, so it must be
        the same number to the last bit (numpy's hypot need not be).
        """
        out = [-1] * len(pairs)
        max_m, max_s = self.max_m, self.max_s
        with self._lock:
            where = self._where
            #: category -> (places in ``pairs``, rows i, rows j, distances, gaps)
            groups: dict[str, tuple[list[int], list[int], list[int], list[float], list[float]]]
            groups = {}
            for k, (case_a, case_b) in enumerate(pairs):
                wa, wb = where.get(case_a), where.get(case_b)
                if wa is None or wb is None or wa[0] != wb[0]:
                    continue
                d = math.hypot(wa[2] - wb[2], wa[3] - wb[3])
                gap = abs(wa[4] - wb[4])
                if d > max_m or gap > max_s:
                    continue
                at, rows_i, rows_j, ds, gaps = groups.setdefault(wa[0], ([], [], [], [], []))
                at.append(k)
                rows_i.append(wa[1])
                rows_j.append(wb[1])
                ds.append(d)
                gaps.append(gap)
            for category, (at, *rows) in groups.items():
                for k, count in zip(at, self._closer_rows(category, *rows), strict=True):
                    out[k] = count
        return out

    def _closer_rows(
        self, category: str, rows_i: list[int], rows_j: list[int], d: list[float], gap: list[float]
    ) -> list[int]:
        """:meth:`closer` for pairs of rows of a category within the bounds, ``d`` metres
        and ``gap`` seconds apart."""
        col = self._cols[category]
        found = _closer_many(
            col.x,
            col.y,
            col.t,
            col.by_t,
            col.t_sorted,
            np.array(rows_i, np.int64),
            np.array(rows_j, np.int64),
            np.array(d),
            np.array(gap),
        )
        return np.maximum(found, 0).tolist()
