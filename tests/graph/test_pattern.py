"""Near-repeat candidates and their rarity equal a scan of every case of the category."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from geo.projection import to_metres
from graph.cases import Case
from graph.pattern import PatternIndex

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _case(i: int, rng: np.random.Generator) -> Case:
    start = T0 + dt.timedelta(hours=float(rng.uniform(0, 24 * 40)))
    return Case(
        case_id=f"C-{i:04d}",
        category=str(rng.choice(["theft.fuel", "theft.cargo"])),
        lon=121.5 + float(rng.normal(0, 0.3)),
        lat=29.9 + float(rng.normal(0, 0.3)),
        reported_at=start + dt.timedelta(hours=8),
        occurred_start=start,
        occurred_end=start + dt.timedelta(hours=6),
        county=330211,
        city=330200,
    )


def _scan(cases: list[Case], a: Case, b: Case, max_m: float, max_s: float) -> int:
    """``closer`` by brute force: every case of the category, nothing skipped."""
    same = [c for c in cases if c.category == a.category]
    xy = {c.case_id: to_metres(np.array([c.lon]), np.array([c.lat])) for c in same}

    def pos(c: Case) -> tuple[float, float, float]:
        x, y = xy[c.case_id]
        return float(x[0]), float(y[0]), c.occurred_start.timestamp()

    (xa, ya, ta), (xb, yb, tb) = pos(a), pos(b)
    d, gap = math.hypot(xa - xb, ya - yb), abs(ta - tb)
    if d > max_m or gap > max_s:
        return -1
    count = 0
    for xk, yk, tk in ((xa, ya, ta), (xb, yb, tb)):
        for c in same:
            x, y, t = pos(c)
            count += math.hypot(x - xk, y - yk) <= d and abs(t - tk) <= gap
        count -= 2
    return max(count, 0)


@pytest.mark.parametrize("days", [2.0, 10.0, 60.0])  # a slice of the column, or most of it
def test_candidates_and_closer_equal_a_scan_of_the_whole_category(days: float) -> None:
    rng = np.random.default_rng(3)
    index = PatternIndex(max_km=40.0, max_days=days)
    cases: list[Case] = []
    for i in range(160):  # arrival order is not time order: windows come late and early
        case = _case(i, rng)
        got = index.add(case)
        want = []
        for other in cases:
            if other.category != case.category:
                continue
            if _scan([*cases, case], other, case, 40_000.0, days * 86400.0) >= 0:
                want.append(tuple(sorted((other.case_id, case.case_id))))
        assert got == want
        cases.append(case)
    for _ in range(300):
        a, b = rng.choice(len(cases), 2, replace=False)
        ca, cb = cases[int(a)], cases[int(b)]
        expected = (
            _scan(cases, ca, cb, 40_000.0, days * 86400.0) if ca.category == cb.category else -1
        )
        assert index.closer(ca.case_id, cb.case_id) == expected


def test_closer_of_many_pairs_at_once_equals_each_pair_alone() -> None:
    """The linker asks about a batch's pairs in one call (grouped by category): each answer
    is the one the pair gets alone, whatever else is in the batch (other categories, pairs
    across categories, beyond the bounds, unknown cases, a pair asked twice)."""
    rng = np.random.default_rng(5)
    index = PatternIndex(max_km=40.0, max_days=10.0)
    cases = [_case(i, rng) for i in range(200)]
    for case in cases:
        index.add(case)
    ids = [c.case_id for c in cases] + ["C-unknown"]
    pairs = [tuple(rng.choice(ids, 2, replace=False).tolist()) for _ in range(400)]
    pairs += pairs[:5]
    many = index.closer_many(pairs)
    alone = [index.closer(a, b) for a, b in pairs]
    assert many == alone
    assert {-1, 0} < set(many), "the pairs cover the cases that matter"
    assert index.closer_many([]) == []


def test_count_near_decides_rows_at_the_bound_as_hypot_does() -> None:
    """``_count_near`` decides most rows on the squared distance, with a margin; rows at the
    bound (distance equal to it, or an ulp either side) are counted as hypot counts them."""
    from numba import njit

    from graph.pattern import _count_near

    @njit(cache=False)
    def hypot_count(x, y, t, by_t, lo, hi, x0, y0, t0, max_m, max_s):  # noqa: ANN001, ANN202
        count = 0
        for k in range(lo, hi):
            r = by_t[k]
            if abs(t[r] - t0) <= max_s and math.hypot(x[r] - x0, y[r] - y0) <= max_m:
                count += 1
        return count

    @njit(cache=False)
    def hypot_of(dx, dy):  # noqa: ANN001, ANN202
        return math.hypot(dx, dy)

    rng = np.random.default_rng(9)
    n = 400
    x, y = rng.normal(0, 30_000, n), rng.normal(0, 30_000, n)
    t = rng.uniform(0, 20 * 86400, n)
    x[:50], y[:50] = np.nan, 0.0  # NaN falls through to hypot
    by_t = np.argsort(t)
    checked = 0
    for r in rng.choice(n, 60, replace=False):
        x0, y0, t0 = 1.5, -2.5, float(t[r])
        bound = hypot_of(x[r] - x0, y[r] - y0)
        if not np.isfinite(bound):
            continue
        for d in (bound, np.nextafter(bound, 0), np.nextafter(bound, np.inf), 0.0, 1e-60):
            for max_s in (1e9, 5 * 86400.0):
                args = (x, y, t, by_t, 0, n, x0, y0, t0, d, max_s)
                assert _count_near(*args) == hypot_count(*args)
                checked += 1
    assert checked > 200
