"""The live map: outline base layers (no tiles offline), cases, series links and teams.

Nothing here talks to the state; the functions turn outlines and view records
into dash-leaflet components and GeoJSON. Points are drawn as vector circle
markers on a canvas by the functions in ``assets/icc_map.js`` (referenced as
``{"variable": "iccMap.NAME"}``), so 30k cases are one GeoJSON payload rather
than 30k React components; tooltips are set as text, never as HTML.

Example
-------
>>> from dashboard.map import family_of
>>> family_of("theft.fuel"), family_of("embezzlement")
('theft', 'other')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dash_leaflet as dl
from dash import html

from dashboard.alerts import ALERT_COLORS
from dashboard.query import CaseView, SeriesView, TeamView
from geo.layers import city_outlines, county_outlines, province_outline

__all__ = [
    "CASE_PANE",
    "FAMILY_COLORS",
    "TEAM_COLORS",
    "base_layers",
    "CaseFeatureCache",
    "case_features",
    "case_tooltip",
    "family_of",
    "legend",
    "map_view",
    "series_features",
    "team_features",
]

FAMILY_COLORS: dict[str, str] = {
    "theft": "#e6550d",
    "burglary": "#8e44ad",
    "robbery": "#c0392b",
    "fraud": "#1f6fb2",
    "other": "#4d4d4d",
}
TEAM_COLORS: dict[str, str] = {
    "available": "#2e8b57",
    "assigned": "#1f6fb2",
    "en_route": "#e69f00",
    "on_scene": "#c0392b",
    "unavailable": "#7f8c8d",
}
CASE_PANE = "cases"  # above the outlines, so hovering a county never hides a marker
SERIES_PANE = "series"
TEAM_PANE = "teams"

_CITY_STYLE = {"color": "#4a5a6a", "weight": 1.8, "opacity": 1.0, "fill": False}
_PROVINCE_STYLE = {"color": "#1f2d3a", "weight": 2.6, "opacity": 1.0, "fill": False}
_COUNTY_WEIGHT = 0.6


def _js(name: str) -> dict[str, str]:
    return {"variable": f"iccMap.{name}"}


def family_of(category: str) -> str:
    """Colour family of a dotted category code (``theft.fuel`` -> ``theft``)."""
    head = category.split(".", 1)[0]
    return head if head in FAMILY_COLORS else "other"


def _with_tooltips(collection: dict[str, Any]) -> dict[str, Any]:
    """Copy of a feature collection whose features show their name on hover."""
    return {
        "type": "FeatureCollection",
        "features": [
            {**f, "properties": {**f["properties"], "tooltip": f["properties"]["name"]}}
            for f in collection["features"]
        ],
    }


def base_layers(adcode: int) -> list[Any]:
    """County (thin, filled by alert level), city (thicker) and province (thickest) outlines.

    The county fill comes from ``hideout["alerts"]`` (adcode -> colour), so a
    change of alert levels restyles the counties without resending them.
    """
    return [
        dl.GeoJSON(
            id="county-layer",
            data=_with_tooltips(county_outlines(adcode)),
            style=_js("countyStyle"),
            hideout={"alerts": {}},
            hoverStyle={"weight": 2.0, "color": "#1f2d3a"},
        ),
        dl.GeoJSON(
            id="city-layer", data=city_outlines(adcode), style=_CITY_STYLE, interactive=False
        ),
        dl.GeoJSON(
            id="province-layer",
            data=province_outline(adcode),
            style=_PROVINCE_STYLE,
            interactive=False,
        ),
    ]


def county_style_weights() -> tuple[float, float, float]:
    """Border weights of counties, cities and the province (thin to thick)."""
    return _COUNTY_WEIGHT, float(_CITY_STYLE["weight"]), float(_PROVINCE_STYLE["weight"])


def alert_hideout(levels: Mapping[int, str]) -> dict[str, Any]:
    """``hideout`` of the county layer for alert levels per county."""
    return {"alerts": {str(code): ALERT_COLORS[level] for code, level in levels.items()}}


def _fmt_time(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def case_tooltip(case: CaseView, county_name: str) -> str:
    """One-line tooltip: case id, category, reported time, county name (and series)."""
    tip = f"{case.case_id} · {case.category} · {_fmt_time(case.reported_at)} · {county_name}"
    return f"{tip} · {case.series_id}" if case.series_id else tip


def case_features(cases: Iterable[CaseView], county_name: Callable[[int], str]) -> dict[str, Any]:
    """The case layer as a compact FeatureCollection: ``id``, colour ``k``, linked ``l``
    (1/0) and tooltip text ``t`` per point. O(n) in the cases."""
    features = []
    for case in cases:
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(case.lon, 5), round(case.lat, 5)],
                },
                "properties": {
                    "id": case.case_id,
                    "k": FAMILY_COLORS[family_of(case.category)],
                    "l": 1 if case.series_id else 0,
                    "t": case_tooltip(case, county_name(case.county)),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


class CaseFeatureCache:
    """:func:`case_features` with each case's feature kept while the case is unchanged,
    so a redraw of 30k cases rebuilds only what changed. Thread-safe enough: a lost
    race rebuilds a feature."""

    def __init__(self, county_name: Callable[[int], str]) -> None:
        self.county_name = county_name
        self._cache: dict[str, tuple[CaseView, dict[str, Any]]] = {}

    def __call__(self, cases: Iterable[CaseView]) -> dict[str, Any]:
        features = []
        cache = self._cache
        for case in cases:
            hit = cache.get(case.case_id)
            if hit is None or hit[0] != case:
                feature = case_features([case], self.county_name)["features"][0]
                cache[case.case_id] = (case, feature)
            else:
                feature = hit[1]
            features.append(feature)
        return {"type": "FeatureCollection", "features": features}


def series_features(
    series: Iterable[SeriesView], scenes: Mapping[str, tuple[float, float]]
) -> dict[str, Any]:
    """One line per link between two scenes of a series (or, for a series without
    link records, a chain through its scenes in case-id order). ``scenes`` maps a
    case id to (lon, lat); cases not in it are not drawn."""
    features = []
    for s in series:
        pairs = [(k.case_a, k.case_b) for k in s.links]
        if not pairs:
            ids = [c for c in s.case_ids if c in scenes]
            pairs = list(zip(ids, ids[1:], strict=False))
        tip = f"{s.series_id} · {len(s.case_ids)} cases"
        for a, b in pairs:
            if a not in scenes or b not in scenes:
                continue
            (x1, y1), (x2, y2) = scenes[a], scenes[b]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[round(x1, 5), round(y1, 5)], [round(x2, 5), round(y2, 5)]],
                    },
                    "properties": {"sid": s.series_id, "t": tip},
                }
            )
    return {"type": "FeatureCollection", "features": features}


def team_features(teams: Iterable[TeamView]) -> dict[str, Any]:
    """Teams with a known position: status ``s`` and tooltip ``t``."""
    features = []
    for t in teams:
        if t.lon is None or t.lat is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [t.lon, t.lat]},
                "properties": {
                    "id": t.team_id,
                    "s": t.status,
                    "t": f"{t.team_id} · {t.status.replace('_', ' ')} · {_fmt_time(t.at)}",
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _swatch(color: str, label: str, shape: str = "swatch") -> html.Span:
    return html.Span([html.Span(className=shape, style={"background": color}), label])


def legend() -> html.Div:
    """Colour keys: category families, alert levels, team statuses."""
    return html.Div(
        id="legend",
        className="legend",
        children=[
            html.Div(
                className="legend-row",
                children=[_swatch(c, f) for f, c in FAMILY_COLORS.items()],
            ),
            html.Div(
                className="legend-row",
                children=[_swatch(c, f"alert {lvl}", "box") for lvl, c in ALERT_COLORS.items()],
            ),
            html.Div(
                className="legend-row",
                children=[
                    _swatch(c, f"team {s.replace('_', ' ')}", "ring")
                    for s, c in TEAM_COLORS.items()
                ],
            ),
        ],
    )


def _empty() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": []}


def map_view(adcode: int, bounds: tuple[float, float, float, float]) -> dl.Map:
    """The map fitted to ``bounds`` (west, south, east, north): outline layers, then the
    series, case and team layers in their own panes; no tile layer. Cases are drawn on
    a canvas (``assets/icc_map.js``), outlines, series links and teams as SVG."""
    west, south, east, north = bounds
    return dl.Map(
        id="map",
        bounds=[[south, west], [north, east]],
        boundsOptions={"padding": [12, 12]},
        zoomSnap=0.25,
        minZoom=5,
        maxZoom=16,
        attributionControl=False,
        children=[
            *base_layers(adcode),
            dl.Pane(
                name=SERIES_PANE,
                style={"zIndex": 440},
                children=dl.GeoJSON(
                    id="series-layer",
                    data=_empty(),
                    pane=SERIES_PANE,
                    style=_js("seriesStyle"),
                    onEachFeature=_js("seriesEach"),
                    hideout={"selected": None},
                ),
            ),
            dl.Pane(
                name=CASE_PANE,
                style={"zIndex": 450},
                children=[
                    dl.GeoJSON(
                        id="case-layer",
                        data=_empty(),
                        pane=CASE_PANE,
                        pointToLayer=_js("caseMarker"),
                    ),
                    dl.GeoJSON(
                        id="case-recent-layer",
                        data=_empty(),
                        pane=CASE_PANE,
                        pointToLayer=_js("caseMarker"),
                    ),
                ],
            ),
            dl.Pane(
                name=TEAM_PANE,
                style={"zIndex": 460},
                children=dl.GeoJSON(
                    id="team-layer",
                    data=_empty(),
                    pane=TEAM_PANE,
                    pointToLayer=_js("teamMarker"),
                ),
            ),
        ],
        className="icc-map",
    )
