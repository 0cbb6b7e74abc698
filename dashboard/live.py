"""What the live map shows for a filter, and whether it needs redrawing.

The page polls every ``refresh_ms``; :func:`render` is what one poll does. It
returns ``None`` (draw nothing new) when the state version is unchanged and
the filter is the same, so idle browsers cost one ``reader.version()`` call.
A sliding time window ("last 6 h") is also redrawn once it has slid by
1/60 of its length, so cases age out even when no new ones arrive.

Example
-------
>>> since_for("6h", dt.datetime(2026, 3, 2, 12, 0))
datetime.datetime(2026, 3, 2, 6, 0)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dashboard.map import case_markers
from dashboard.query import CaseView, StateReader, Stats

__all__ = [
    "TIME_WINDOWS",
    "LiveView",
    "since_for",
    "select_cases",
    "status_text",
    "render",
]

TIME_WINDOWS: dict[str, dt.timedelta | None] = {
    "1h": dt.timedelta(hours=1),
    "6h": dt.timedelta(hours=6),
    "24h": dt.timedelta(hours=24),
    "all": None,
}
TIME_WINDOW_LABELS = {"1h": "last 1 h", "6h": "last 6 h", "24h": "last 24 h", "all": "all"}
DEFAULT_MAX_MARKERS = 3000  # about 1 MB of markers per redraw


@dataclass(frozen=True)
class LiveView:
    """Everything one refresh puts on the page."""

    markers: list[Any]
    drawn: int
    matching: int
    status: str
    category_options: list[dict[str, str]]
    memo: dict[str, Any]


def since_for(window: str | None, now: dt.datetime) -> dt.datetime | None:
    """Start of a named time window ending at ``now`` (``None`` for "all")."""
    key = window or "all"
    if key not in TIME_WINDOWS:
        raise ValueError(f"time window must be one of {sorted(TIME_WINDOWS)}, got {window!r}")
    span = TIME_WINDOWS[key]
    return None if span is None else now - span


def select_cases(
    reader: StateReader,
    since: dt.datetime | None,
    categories: Sequence[str] | None,
    max_markers: int = DEFAULT_MAX_MARKERS,
) -> tuple[list[CaseView], int]:
    """The newest ``max_markers`` cases reported since ``since``, and how many matched.

    An empty or missing category selection means every category.
    """
    wanted = frozenset(categories) if categories else None
    cases = reader.cases(since=since, categories=wanted)
    newest = sorted(cases, key=lambda c: c.reported_at)[-max_markers:] if max_markers else []
    return newest, len(cases)


def status_text(stats: Stats, now: dt.datetime) -> str:
    """The status line: stream time and the ingest/graph counters."""
    return (
        f"stream time {now:%Y-%m-%d %H:%M} · "
        f"{stats.messages_accepted:,} messages accepted · {stats.cases:,} cases · "
        f"{stats.sightings:,} sightings · {stats.series:,} series · "
        f"{stats.deadlettered:,} dead-lettered"
    )


def _category_options(
    reader: StateReader, stats: Stats, since: dt.datetime | None, selected: Sequence[str]
) -> list[dict[str, str]]:
    present = set(stats.by_category)
    if not present:  # a reader that does not count by category: look at the window
        present = {c.category for c in reader.cases(since=since)}
    present.update(selected)
    return [{"label": c, "value": c} for c in sorted(present)]


def _memo(version: int, window: str, categories: Sequence[str], since: dt.datetime | None) -> dict:
    return {
        "version": version,
        "window": window,
        "categories": sorted(categories),
        "since": since.isoformat() if since is not None else None,
    }


def _unchanged(memo: dict[str, Any] | None, fresh: dict[str, Any], window: str) -> bool:
    if not memo or any(memo.get(k) != fresh[k] for k in ("version", "window", "categories")):
        return False
    span = TIME_WINDOWS[window]
    if span is None or memo.get("since") is None:
        return True
    slid = dt.datetime.fromisoformat(fresh["since"]) - dt.datetime.fromisoformat(memo["since"])
    return slid < span / 60


def render(
    reader: StateReader,
    window: str | None,
    categories: Sequence[str] | None,
    memo: dict[str, Any] | None,
    county_name: Callable[[int], str],
    max_markers: int = DEFAULT_MAX_MARKERS,
) -> LiveView | None:
    """One poll: the new case layer, counters and status, or ``None`` if nothing changed.

    ``memo`` is what the previous call returned in :attr:`LiveView.memo` (kept
    by the page in a ``dcc.Store``). Complexity: O(1) when unchanged, else
    O(n log n) in the cases of the window.
    """
    window = window or "all"
    selected = list(categories or [])
    version = reader.version()
    now = reader.now()
    since = since_for(window, now)
    fresh = _memo(version, window, selected, since)
    if _unchanged(memo, fresh, window):
        return None
    cases, matching = select_cases(reader, since, selected, max_markers)
    stats = reader.stats()
    return LiveView(
        markers=case_markers(cases, county_name),
        drawn=len(cases),
        matching=matching,
        status=status_text(stats, now),
        category_options=_category_options(reader, stats, since, selected),
        memo=fresh,
    )
