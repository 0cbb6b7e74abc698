"""Pair features read from the cases: values that follow the case as its reports change."""

from __future__ import annotations

import dataclasses
import datetime as dt

from graph.cases import Case
from graph.features import PairEvidence, pair_features

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
