"""County alert levels: the colour-coded early warning of the live map.

The rule, in one place
----------------------
A series is *open* while one of its cases was reported within the last
:data:`OPEN_DAYS` days of stream time. For each county, over the open series
with at least one case in that county:

=========  ==============================================================
level      when
=========  ==============================================================
``red``    a series of at least 5 cases, or at least 3 open series
``orange`` a series of at least 3 cases, or 2 open series
``yellow`` any open series
``green``  none
=========  ==============================================================

An activation raises a county to at least the level of its tier
(:data:`ACTIVATION_LEVELS`: a county-tier plan -> yellow, city -> orange,
province -> red); the ``activations`` argument is where tasking feeds it.
A level never goes down because of an activation.

Example
-------
>>> import datetime as dt
>>> from dashboard.query import SeriesView
>>> now = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
>>> s = SeriesView("S-1", ("a", "b", "c"), counties=(330211,), updated_at=now)
>>> alert_levels([s], now, counties=[330211, 330212])
{330211: 'orange', 330212: 'green'}
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

from dashboard.query import SeriesView

__all__ = [
    "ACTIVATION_LEVELS",
    "ALERT_COLORS",
    "LEVELS",
    "OPEN_DAYS",
    "alert_levels",
    "is_open",
]

OPEN_DAYS = 7
LEVELS = ("green", "yellow", "orange", "red")
ALERT_COLORS: dict[str, str] = {
    "green": "#cfe8c8",
    "yellow": "#fbe89a",
    "orange": "#f8b26a",
    "red": "#ef7c6e",
}
ACTIVATION_LEVELS: dict[str, str] = {"county": "yellow", "city": "orange", "province": "red"}


def is_open(series: SeriesView, now: dt.datetime) -> bool:
    """Whether a series had a case reported within :data:`OPEN_DAYS` of ``now``."""
    if series.updated_at is None:
        return True
    return series.updated_at >= now - dt.timedelta(days=OPEN_DAYS)


def _level_of(sizes: list[int]) -> str:
    if not sizes:
        return "green"
    if max(sizes) >= 5 or len(sizes) >= 3:
        return "red"
    if max(sizes) >= 3 or len(sizes) >= 2:
        return "orange"
    return "yellow"


def alert_levels(
    series: Iterable[SeriesView],
    now: dt.datetime,
    counties: Iterable[int] = (),
    activations: Mapping[int, str] | None = None,
) -> dict[int, str]:
    """Alert level per county: every county in ``counties`` (green by default) and
    every county an open series touches. ``activations`` maps a county adcode to
    the tier of an active plan there. O(series × counties per series)."""
    sizes: dict[int, list[int]] = defaultdict(list)
    for s in series:
        if not is_open(s, now):
            continue
        for county in set(s.counties):
            if county:
                sizes[county].append(len(s.case_ids))
    out = {int(c): "green" for c in counties}
    for county, found in sizes.items():
        out[county] = _level_of(found)
    for county, tier in (activations or {}).items():
        if tier not in ACTIVATION_LEVELS:
            raise ValueError(
                f"activation tier {tier!r} of county {county}: expected one of "
                f"{', '.join(ACTIVATION_LEVELS)}"
            )
        floor = ACTIVATION_LEVELS[tier]
        current = out.get(county, "green")
        out[county] = max(current, floor, key=LEVELS.index)
    return out
