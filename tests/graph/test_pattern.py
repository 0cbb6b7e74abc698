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
