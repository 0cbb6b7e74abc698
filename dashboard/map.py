"""The live map: outline base layers (no tiles offline) and case markers.

Nothing here talks to the state; the functions turn outlines and
:class:`~dashboard.query.CaseView` records into dash-leaflet components.

Example
-------
>>> from dashboard.map import family_of
>>> family_of("theft.fuel"), family_of("embezzlement")
('theft', 'other')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import dash_leaflet as dl
from dash import html

from dashboard.query import CaseView
from geo.layers import city_outlines, county_outlines, province_outline

__all__ = [
    "FAMILY_COLORS",
    "CASE_PANE",
    "family_of",
    "base_layers",
    "case_markers",
    "case_tooltip",
    "legend",
    "map_view",
]

FAMILY_COLORS: dict[str, str] = {
    "theft": "#e6550d",
    "burglary": "#8e44ad",
    "robbery": "#c0392b",
    "fraud": "#1f6fb2",
    "other": "#4d4d4d",
}
CASE_PANE = "cases"  # above the outlines, so hovering a county never hides a marker

_COUNTY_STYLE = {
    "color": "#8d99a6",
    "weight": 0.6,
    "opacity": 1.0,
    "fillColor": "#f6f3ec",
    "fillOpacity": 1.0,
}
_COUNTY_HOVER = {"fillColor": "#fff8d6"}
_CITY_STYLE = {"color": "#4a5a6a", "weight": 1.8, "opacity": 1.0, "fill": False}
_PROVINCE_STYLE = {"color": "#1f2d3a", "weight": 2.6, "opacity": 1.0, "fill": False}


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
    """County (thin, filled land), city (thicker) and province (thickest) outline layers."""
    return [
        dl.GeoJSON(
            id="county-layer",
            data=_with_tooltips(county_outlines(adcode)),
            style=_COUNTY_STYLE,
            hoverStyle=_COUNTY_HOVER,
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


def _fmt_time(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def case_tooltip(case: CaseView, county_name: str) -> str:
    """One-line tooltip: case id, category, reported time, county name."""
    return f"{case.case_id} · {case.category} · {_fmt_time(case.reported_at)} · {county_name}"


def case_markers(cases: Iterable[CaseView], county_name: Callable[[int], str]) -> list[Any]:
    """One :class:`dl.CircleMarker` per case, coloured by category family, with a tooltip.

    Cases already linked into a series are drawn larger with a dark rim.
    Complexity: O(n) in the cases.
    """
    markers = []
    for case in cases:
        color = FAMILY_COLORS[family_of(case.category)]
        markers.append(
            dl.CircleMarker(
                center=[case.lat, case.lon],
                radius=7 if case.series_id else 5,
                color="#ffffff" if not case.series_id else "#111111",
                weight=1,
                fillColor=color,
                fillOpacity=0.9,
                children=dl.Tooltip(case_tooltip(case, county_name(case.county))),
            )
        )
    return markers


def legend() -> html.Div:
    """Colour key of the category families."""
    return html.Div(
        id="legend",
        className="legend",
        children=[
            html.Span([html.Span(className="swatch", style={"background": color}), family])
            for family, color in FAMILY_COLORS.items()
        ],
    )


def map_view(adcode: int, bounds: tuple[float, float, float, float], markers: list[Any]) -> dl.Map:
    """The map fitted to ``bounds`` (west, south, east, north) with outline layers and a
    case layer holding ``markers``; there is no tile layer."""
    west, south, east, north = bounds
    return dl.Map(
        id="map",
        bounds=[[south, west], [north, east]],
        boundsOptions={"padding": [12, 12]},
        zoomSnap=0.25,
        minZoom=5,
        maxZoom=14,
        attributionControl=False,
        children=[
            *base_layers(adcode),
            dl.Pane(
                name=CASE_PANE,
                style={"zIndex": 450},
                children=dl.LayerGroup(id="case-layer", children=markers),
            ),
        ],
        className="icc-map",
    )
