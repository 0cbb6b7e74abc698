"""What the live page shows for a filter, and whether it needs redrawing.

The page polls every ``refresh_ms``; :func:`render` is what one poll does for
one (already scoped) reader. It returns ``None`` (send nothing) when the state
version is unchanged and the filter is the same, so an idle browser costs one
``reader.version()`` call. A sliding time window ("last 6 h") is also redrawn
once it has slid by 1/60 of its length, so cases age out even when no new
ones arrive.

The time and category filters apply to every panel: the case layer, the
series lines and list, and the KPI strip (whose "cases today" is always the
stream's calendar day in China Standard Time, narrowed by the category filter).

Example
-------
>>> since_for("6h", dt.datetime(2026, 3, 2, 12, 0))
datetime.datetime(2026, 3, 2, 6, 0)
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dashboard.alerts import alert_levels, is_open
from dashboard.map import alert_hideout, case_features, series_features, team_features
from dashboard.query import CaseView, SeriesView, StateReader, Stats

__all__ = [
    "CST",
    "CaseLayerSync",
    "DEFAULT_MAX_MARKERS",
    "TIME_WINDOWS",
    "TIME_WINDOW_LABELS",
    "Kpis",
    "LiveView",
    "kpis",
    "next_want",
    "parse_custom",
    "render",
    "select_cases",
    "series_label",
    "since_for",
    "status_text",
]

CST = dt.timezone(dt.timedelta(hours=8))
TIME_WINDOWS: dict[str, dt.timedelta | None] = {
    "1h": dt.timedelta(hours=1),
    "6h": dt.timedelta(hours=6),
    "24h": dt.timedelta(hours=24),
    "custom": None,
    "all": None,
}
TIME_WINDOW_LABELS = {
    "1h": "last 1 h",
    "6h": "last 6 h",
    "24h": "last 24 h",
    "custom": "custom",
    "all": "all",
}
DEFAULT_MAX_MARKERS = 50_000  # the whole province's month fits; canvas draws 30k in well under 1 s


@dataclass(frozen=True)
class Kpis:
    cases_today: int
    open_series: int
    mean_link_minutes: float | None
    tasks_overdue: int | None  # None until tasking feeds the dashboard
    losses_cny: float


@dataclass(frozen=True)
class LiveView:
    """Everything one refresh puts on the page."""

    case_data: dict[str, Any]
    series_data: dict[str, Any]
    team_data: dict[str, Any]
    county_hideout: dict[str, Any]
    drawn: int
    matching: int
    status: str
    category_options: list[dict[str, str]]
    series: list[SeriesView]
    kpis: Kpis
    memo: dict[str, Any]


def since_for(window: str | None, now: dt.datetime) -> dt.datetime | None:
    """Start of a named time window ending at ``now`` (``None`` for "all" and "custom")."""
    key = window or "all"
    if key not in TIME_WINDOWS:
        raise ValueError(f"time window must be one of {sorted(TIME_WINDOWS)}, got {window!r}")
    span = TIME_WINDOWS[key]
    return None if span is None else now - span


def parse_custom(value: str | None) -> dt.datetime | None:
    """A ``datetime-local`` input value (``2026-03-02T06:00``) as China Standard Time;
    ``None`` for empty or malformed input."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CST)


def select_cases(
    reader: StateReader,
    since: dt.datetime | None,
    categories: Sequence[str] | None,
    max_markers: int = DEFAULT_MAX_MARKERS,
    until: dt.datetime | None = None,
) -> tuple[list[CaseView], int]:
    """The newest ``max_markers`` cases reported in [since, until], and how many matched.

    An empty or missing category selection means every category.
    """
    wanted = frozenset(categories) if categories else None
    cases = reader.cases(since=since, categories=wanted)
    if until is not None:
        cases = [c for c in cases if c.reported_at <= until]
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


def series_label(s: SeriesView, hidden: int = 0) -> str:
    """One line of the series list."""
    when = f" · updated {s.updated_at.astimezone(CST):%m-%d %H:%M}" if s.updated_at else ""
    more = f" (+{hidden} elsewhere)" if hidden else ""
    return (
        f"{s.series_id} · {len(s.case_ids)} cases{more} · {len(s.counties)} counties"
        f" · ¥{s.total_loss_cny:,.0f}{when}"
    )


def kpis(
    cases: Sequence[CaseView],
    today: Sequence[CaseView],
    series: Sequence[SeriesView],
    now: dt.datetime,
    tasks_overdue: int | None = None,
) -> Kpis:
    """The KPI strip over the cases and series in view. Mean time to link is over the
    linked cases in view whose link time is known."""
    delays = [
        (c.linked_at - c.reported_at).total_seconds() / 60.0
        for c in cases
        if c.linked_at is not None
    ]
    return Kpis(
        cases_today=len(today),
        open_series=sum(1 for s in series if is_open(s, now)),
        mean_link_minutes=(sum(delays) / len(delays)) if delays else None,
        tasks_overdue=tasks_overdue,
        losses_cny=float(sum(c.loss_cny for c in cases)),
    )


def _category_options(stats: Stats, cases: Sequence[CaseView], selected: Sequence[str]) -> list:
    present = set(stats.by_category) or {c.category for c in cases}
    present.update(selected)
    return [{"label": c, "value": c} for c in sorted(present)]


def _memo(
    version: int,
    window: str,
    categories: Sequence[str],
    since: dt.datetime | None,
    custom: tuple[str | None, str | None],
) -> dict:
    return {
        "version": version,
        "window": window,
        "categories": sorted(categories),
        "since": since.isoformat() if since is not None else None,
        "custom": list(custom),
    }


def _unchanged(memo: dict[str, Any] | None, fresh: dict[str, Any], window: str) -> bool:
    keys = ("version", "window", "categories", "custom")
    if not memo or any(memo.get(k) != fresh[k] for k in keys):
        return False
    span = TIME_WINDOWS[window]
    if span is None or memo.get("since") is None:
        return True
    slid = dt.datetime.fromisoformat(fresh["since"]) - dt.datetime.fromisoformat(memo["since"])
    return slid < span / 60


class CaseLayerSync:
    """Send a browser only what changed in its case layer.

    The case layer is two GeoJSON layers: the *bulk* (everything at the last
    full send) and *recent* (cases added or changed since). A redraw whose
    browser holds a known bulk (its token, kept by this object, in the page's
    memo) and whose cases only grew or changed sends just *recent*; a filter
    change, a case leaving the view, a bulk of another scope or filter, or
    *recent* outgrowing :attr:`max_recent` sends the bulk again. Features are
    compared by identity, so use it with :class:`~dashboard.map.CaseFeatureCache`.
    Tokens are random; the bulks of the last :attr:`keep` sends are kept.
    """

    def __init__(self, max_recent: int = 3000, keep: int = 16) -> None:
        self.max_recent = max_recent
        self.keep = keep
        self._bulks: dict[str, tuple[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def split(
        self, data: dict[str, Any], token: str | None, key: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any], str]:
        """``(bulk or None if unchanged, recent, token)`` for the full layer ``data``;
        ``key`` names the user's scope and filter (a bulk is reused only for the same key)."""
        features = data["features"]
        with self._lock:
            held = self._bulks.get(token or "")
        if held is not None and held[0] == key:
            bulk = held[1]
            current_ids = {f["properties"]["id"] for f in features}
            if all(cid in current_ids for cid in bulk):
                recent = [f for f in features if bulk.get(f["properties"]["id"]) is not f]
                if len(recent) <= self.max_recent:
                    return None, _collection(recent), str(token)
        fresh = secrets.token_urlsafe(12)
        with self._lock:
            self._bulks[fresh] = (key, {f["properties"]["id"]: f for f in features})
            while len(self._bulks) > self.keep:
                self._bulks.pop(next(iter(self._bulks)))
        return data, _collection([]), fresh


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


#: a redraw asked for but not rendered after this long is asked for again (a lost response)
REDRAW_TIMEOUT_S = 15.0


def next_want(
    version: int,
    now: dt.datetime,
    window: str | None,
    want: dict[str, Any] | None,
    rendered: dict[str, Any] | None,
    wall: float,
    timeout_s: float = REDRAW_TIMEOUT_S,
) -> dict[str, Any]:
    """What one poll asks for: a new ``want`` (a redraw) or ``PreventUpdate`` (nothing).

    ``want`` is the last request (``seq``, ``version``, ``slot``, ``at``), ``rendered``
    the last redraw's memo (with the ``want`` seq it answered). A sliding window's
    ``slot`` advances every 1/60 of its length. No new request while the previous one
    is unanswered, unless it is older than ``timeout_s`` (:data:`REDRAW_TIMEOUT_S`).
    """
    from dash.exceptions import PreventUpdate

    span = TIME_WINDOWS.get(window or "all")
    slot = int(now.timestamp() // (span.total_seconds() / 60)) if span else 0
    if want is None:  # the page's first redraw was not asked for by a poll
        if rendered is None:
            raise PreventUpdate  # ... and is still on its way
        want = {"seq": 0, "version": rendered.get("version"), "slot": slot, "at": wall}
    seq = int(want.get("seq", 0))
    answered = int((rendered or {}).get("want", 0))
    if answered < seq and wall - float(want.get("at", 0)) < timeout_s:
        raise PreventUpdate  # a redraw is on its way
    if answered >= seq and want.get("version") == version and want.get("slot") == slot:
        raise PreventUpdate  # nothing new
    return {"seq": seq + 1, "version": version, "slot": slot, "at": wall}


def render(
    reader: StateReader,
    window: str | None,
    categories: Sequence[str] | None,
    memo: dict[str, Any] | None,
    county_name: Callable[[int], str],
    max_markers: int = DEFAULT_MAX_MARKERS,
    *,
    custom: tuple[str | None, str | None] = (None, None),
    counties: Sequence[int] = (),
    tasks_overdue: int | None = None,
    case_layer: Callable[[Sequence[CaseView]], dict[str, Any]] | None = None,
) -> LiveView | None:
    """One poll: new layers, counters, series list and KPIs, or ``None`` if nothing changed.

    ``memo`` is what the previous call returned in :attr:`LiveView.memo` (kept
    by the page in a ``dcc.Store``). ``counties`` are the counties to colour
    (green when quiet); ``case_layer`` builds the case layer (default
    :func:`~dashboard.map.case_features`). Complexity: O(1) when unchanged, else O(n log n) in
    the cases of the window.
    """
    window = window or "all"
    selected = list(categories or [])
    version = reader.version()
    now = reader.now()
    since = since_for(window, now)
    until = None
    if window == "custom":
        since, until = parse_custom(custom[0]), parse_custom(custom[1])
    fresh = _memo(version, window, selected, since, custom if window == "custom" else (None, None))
    if _unchanged(memo, fresh, window):
        return None
    cases, matching = select_cases(reader, since, selected, max_markers, until)
    wanted = frozenset(selected) if selected else None
    midnight = now.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    today = reader.cases(since=midnight, categories=wanted)
    in_view = {c.case_id for c in cases}
    all_series = reader.series()
    shown = [s for s in all_series if any(c in in_view for c in s.case_ids)]
    scenes = {c.case_id: (c.lon, c.lat) for c in cases}
    stats = reader.stats()
    return LiveView(
        case_data=case_layer(cases) if case_layer else case_features(cases, county_name),
        series_data=series_features(shown, scenes),
        team_data=team_features(reader.teams()),
        county_hideout=alert_hideout(alert_levels(all_series, now, counties)),
        drawn=len(cases),
        matching=matching,
        status=status_text(stats, now),
        category_options=_category_options(stats, cases, selected),
        series=shown,
        kpis=kpis(cases, today, shown, now, tasks_overdue),
        memo=fresh,
    )
