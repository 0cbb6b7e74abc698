"""Pair features read from the cases: values that follow the case as its reports change."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import struct
from zoneinfo import ZoneInfo

import pytest

from geo.distance import EARTH_RADIUS_M
from graph.cases import Case
from graph.features import (
    CaseTerms,
    PairEvidence,
    _covers_small_hours,
    _gap_us,
    case_terms,
    pair_features,
    pair_vector,
    pattern_only_vector,
)

CST = dt.timezone(dt.timedelta(hours=8))


def _case(case_id: str, start: dt.datetime, end: dt.datetime) -> Case:
    return Case(case_id, "theft.fuel", 121.6, 29.9, end, start, end, 330211, 330200)


def test_both_night_follows_a_window_moved_by_a_later_report() -> None:
    evening = _case(
        "A", dt.datetime(2026, 3, 1, 18, tzinfo=CST), dt.datetime(2026, 3, 1, 22, tzinfo=CST)
    )
    night = _case(
        "B", dt.datetime(2026, 3, 2, 23, tzinfo=CST), dt.datetime(2026, 3, 3, 6, tzinfo=CST)
    )
    assert pair_features(evening, night, PairEvidence())["both_night"] == 0.0
    # a supplementary report: the loss was found in the morning, the window now spans the night
    evening.occurred_end = dt.datetime(2026, 3, 2, 7, tzinfo=CST)
    assert pair_features(evening, night, PairEvidence())["both_night"] == 1.0
    # the same instants in another zone: the same answer (the small hours are Beijing time)
    utc = dataclasses.replace(
        night,
        occurred_start=night.occurred_start.astimezone(dt.UTC),
        occurred_end=night.occurred_end.astimezone(dt.UTC),
    )
    assert pair_features(evening, utc, PairEvidence())["both_night"] == 1.0
    # a window from 03:00 to 05:00 in UTC is 11:00 to 13:00 in Beijing: not the small hours
    day = _case(
        "C", dt.datetime(2026, 3, 2, 3, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, 5, tzinfo=dt.UTC)
    )
    assert pair_features(day, night, PairEvidence())["both_night"] == 0.0


def _pattern_reference(a: Case, b: Case, closer: int, cat_share: float) -> list[float]:
    """The pattern features as pair_vector computed them from the cases, term by term (the
    oracle for the per-case terms the linker keeps)."""
    mo_a, mo_b = set(a.mo), set(b.mo)
    union = mo_a | mo_b
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    km = 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))) / 1000.0
    gap = abs((a.occurred_start - b.occurred_start).total_seconds()) / 86400.0
    same = a.category == b.category
    near = closer >= 0 and same
    return [
        float(same),
        float(same or a.category.split(".")[0] == b.category.split(".")[0]),
        len(mo_a & mo_b) / len(union) if union else 0.0,
        math.log1p(km),
        math.log1p(gap),
        float(_covers_small_hours(a) and _covers_small_hours(b)),
        float(near),
        math.log1p(closer) if near else 0.0,
        -math.log(max(cat_share, 1e-6)) if same else 0.0,
    ]


def test_pattern_only_vector_is_pair_vector_without_identity_evidence() -> None:
    """A pair with no identity evidence is scored on :func:`pattern_only_vector` of the
    cases' kept terms: the vector :func:`pair_vector` gives it, bit for bit, whose pattern
    features are those the cases say (also after a later report adds to a case's MO)."""
    rng = random.Random(3)
    zones = [CST, dt.UTC, dt.timezone(dt.timedelta(hours=-5))]
    cats = ["theft.fuel", "theft.cargo", "fraud.telecom"]
    mos = ["siphon", "night", "tools", "fake.invoice"]

    def case(i: int) -> Case:
        start = dt.datetime(2026, 3, 1, tzinfo=rng.choice(zones)) + dt.timedelta(
            seconds=rng.randrange(20 * 86400)
        )
        end = start + dt.timedelta(minutes=rng.randrange(1, 3000))
        lon, lat = 120 + rng.random() * 2, 28 + rng.random() * 2
        mo = rng.sample(mos, rng.randrange(0, 3))
        return Case(f"T{i}", rng.choice(cats), lon, lat, end, start, end, 330211, 330200, mo=mo)

    cases = [case(i) for i in range(120)]
    for round_ in range(2):
        for _ in range(600):
            a, b = rng.sample(cases, 2)
            closer, share = rng.choice([-1, 0, 2, 17]), rng.choice([1.0, 0.3, 1e-9])
            fast = pattern_only_vector(case_terms(a), case_terms(b), closer, share)
            full = pair_vector(a, b, PairEvidence(closer=closer, cat_share=share))
            assert struct.pack("17d", *fast) == struct.pack("17d", *full)
            assert full[5:14] == _pattern_reference(a, b, closer, share)
        for c in cases[::3]:  # later reports: the MO grows, the kept terms follow
            c.mo.append(f"mo{round_}")


def test_gap_in_microseconds_is_the_datetime_subtraction() -> None:
    """A pair's gap from the kept microseconds is ``abs((a - b).total_seconds())`` bit for
    bit, whatever the two times' tzinfo: shared (wall times, even across a DST change),
    distinct with equal or different offsets, a DST zone's folds, naive ones; a naive and
    an aware time raise TypeError as their subtraction does."""
    rng = random.Random(11)
    york = ZoneInfo("America/New_York")
    zones = [CST, dt.timezone(dt.timedelta(hours=8)), dt.UTC, york, None]
    base = dt.datetime(2026, 3, 7, 12)  # a day before New York's clocks go forward

    def when() -> dt.datetime:
        t = base + dt.timedelta(seconds=rng.randrange(-40 * 86400, 40 * 86400),
                                microseconds=rng.randrange(10**6))  # fmt: skip
        return t.replace(tzinfo=rng.choice(zones), fold=rng.randrange(2))

    def terms(t: dt.datetime) -> CaseTerms:
        return CaseTerms.of("theft.fuel", frozenset(), 121.6, 29.9, t, False)

    checked = 0
    for _ in range(4000):
        a, b = when(), when()
        try:
            want = abs((a - b).total_seconds()) / 86400.0
        except TypeError:
            with pytest.raises(TypeError):
                _gap_us(terms(a), terms(b))
            continue
        got = abs(_gap_us(terms(a), terms(b))) / 1_000_000 / 86400.0
        assert struct.pack("d", got) == struct.pack("d", want), (a, b)
        checked += 1
    assert checked > 2000
