"""The live-map page without a browser: layout, filters, tooltips and the refresh rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import dash
import dash_leaflet as dl
import pytest
from dash.exceptions import PreventUpdate

from dashboard.app import create_app
from dashboard.live import render, since_for
from dashboard.map import FAMILY_COLORS, family_of

from .conftest import NOW, ListReader, make_case


def walk(component: Any) -> Iterator[Any]:
    """Every component in a layout tree, depth first."""
    if isinstance(component, list | tuple):
        for child in component:
            yield from walk(child)
        return
    if not isinstance(component, dash.development.base_component.Component):
        return
    yield component
    yield from walk(getattr(component, "children", None))


def by_id(app: dash.Dash, element_id: str) -> Any:
    found = [c for c in walk(app.layout) if getattr(c, "id", None) == element_id]
    assert len(found) == 1, f"expected one element with id {element_id!r}, found {len(found)}"
    return found[0]


def refresh(app: dash.Dash) -> Any:
    """The page's refresh callback, unwrapped from Dash's dispatch."""
    keys = [k for k in app.callback_map if "case-layer.children" in k]
    assert len(keys) == 1
    return app.callback_map[keys[0]]["callback"].__wrapped__


def drawn(result: tuple) -> tuple[list[Any], int]:
    markers, count = result[0], result[1]
    assert all(isinstance(m, dl.CircleMarker) for m in markers)
    assert int(count) == len(markers)
    return markers, int(count)


def tooltip(marker: dl.CircleMarker) -> str:
    assert isinstance(marker.children, dl.Tooltip)
    return str(marker.children.children)


@pytest.fixture
def app(reader: ListReader) -> dash.Dash:
    return create_app(reader, refresh_ms=500)


def test_page_skeleton(app: dash.Dash) -> None:
    assert app.title == "Investigation Command Center — 浙江省"
    assert by_id(app, "page-title").children == "Investigation Command Center — 浙江省"
    for element_id in (
        "map",
        "case-layer",
        "status",
        "case-count",
        "time-window",
        "category-filter",
        "last-render",
    ):
        by_id(app, element_id)
    assert by_id(app, "refresh").interval == 500
    assert by_id(app, "time-window").value == "all"
    # No tiles (offline machine): the base map is the outlines.
    assert not [c for c in walk(app.layout) if isinstance(c, dl.TileLayer)]


def test_outline_layers(app: dash.Dash) -> None:
    counties = by_id(app, "county-layer")
    cities = by_id(app, "city-layer")
    province = by_id(app, "province-layer")
    assert all(isinstance(x, dl.GeoJSON) for x in (counties, cities, province))
    assert len(counties.data["features"]) == 90
    assert len(cities.data["features"]) == 11
    assert len(province.data["features"]) == 1
    zhenhai = [f for f in counties.data["features"] if f["properties"]["adcode"] == 330211]
    assert zhenhai[0]["properties"]["tooltip"] == "镇海区"
    # County borders thin, city borders thicker, the province thickest.
    assert counties.style["weight"] < cities.style["weight"] < province.style["weight"]


def test_served_locally_without_outside_urls(app: dash.Dash) -> None:
    assert app.config.serve_locally is True
    assert app.config.external_scripts == [] and app.config.external_stylesheets == []
    client = app.server.test_client()
    index = client.get("/").get_data(as_text=True)
    assert "http://" not in index and "https://" not in index
    assert "/assets/style.css" in index
    assert client.get("/_dash-layout").status_code == 200


def test_initial_refresh_draws_all_cases_with_tooltips(app: dash.Dash, sample_cases) -> None:  # noqa: ANN001
    result = refresh(app)(0, "all", [], None)
    markers, count = drawn(result)
    assert count == len(sample_cases) == 5
    tips = [tooltip(m) for m in markers]
    assert any("ZJ-330211-0001" in t and "镇海区" in t and "theft.fuel" in t for t in tips)
    assert any("ZJ-330782-0001" in t and "义乌市" in t for t in tips)
    assert any("2026-03-02 11:30" in t for t in tips)  # reported time, 0.5 h before NOW
    theft = [m for m in markers if "theft.fuel" in tooltip(m)]
    assert {m.fillColor for m in theft} == {FAMILY_COLORS["theft"]}
    robbery = [m for m in markers if "robbery" in tooltip(m)][0]
    assert robbery.fillColor == FAMILY_COLORS["robbery"]
    status = result[3]
    for fragment in (
        "stream time 2026-03-02 12:00",
        "8 messages accepted",
        "5 cases",
        "7 sightings",
        "0 series",
        "1 dead-lettered",
    ):
        assert fragment in status
    options = [o["value"] for o in result[4]]
    assert options == sorted({c.category for c in sample_cases})


@pytest.mark.parametrize(
    ("window", "ids"),
    [
        ("1h", {"ZJ-330211-0001"}),
        ("6h", {"ZJ-330211-0001", "ZJ-330211-0002", "ZJ-330782-0001"}),
        ("24h", {"ZJ-330211-0001", "ZJ-330211-0002", "ZJ-330782-0001", "ZJ-330106-0001"}),
        (
            "all",
            {
                "ZJ-330211-0001",
                "ZJ-330211-0002",
                "ZJ-330782-0001",
                "ZJ-330106-0001",
                "ZJ-330302-0001",
            },
        ),
    ],
)
def test_time_filter_is_relative_to_stream_time(app: dash.Dash, window: str, ids: set[str]) -> None:
    markers, count = drawn(refresh(app)(0, window, [], None))
    assert count == len(ids)
    assert {tooltip(m).split(" · ")[0] for m in markers} == ids


@pytest.mark.parametrize(
    ("categories", "ids"),
    [
        (["theft.fuel"], {"ZJ-330211-0001", "ZJ-330211-0002"}),
        (["robbery", "fraud.investment"], {"ZJ-330302-0001", "ZJ-330782-0001"}),
        (
            [],
            {
                "ZJ-330211-0001",
                "ZJ-330211-0002",
                "ZJ-330782-0001",
                "ZJ-330106-0001",
                "ZJ-330302-0001",
            },
        ),
    ],
)
def test_category_filter(app: dash.Dash, categories: list[str], ids: set[str]) -> None:
    markers, _ = drawn(refresh(app)(0, "all", categories, None))
    assert {tooltip(m).split(" · ")[0] for m in markers} == ids


def test_time_and_category_filters_combine(app: dash.Dash) -> None:
    markers, count = drawn(refresh(app)(0, "6h", ["theft.fuel"], None))
    assert count == 2
    markers, count = drawn(refresh(app)(0, "1h", ["fraud.investment"], None))
    assert count == 0 and markers == []


def test_refreshes_only_when_the_version_changes(app: dash.Dash, reader: ListReader) -> None:
    callback = refresh(app)
    first = callback(0, "all", [], None)
    memo = first[5]
    calls = reader.case_calls
    with pytest.raises(PreventUpdate):
        callback(1, "all", [], memo)
    assert reader.case_calls == calls  # an idle poll does not read the cases
    reader.add(make_case("ZJ-330481-0001", "theft.cargo", 330481, 0.1))
    second = callback(2, "all", [], memo)
    _, count = drawn(second)
    assert count == 6 and second[5]["version"] == memo["version"] + 1
    with pytest.raises(PreventUpdate):
        callback(3, "all", [], second[5])
    # A filter change redraws even if the state did not change.
    _, count = drawn(callback(3, "all", ["theft.cargo"], second[5]))
    assert count == 1


def test_sliding_window_redraws_as_stream_time_advances(app: dash.Dash, reader: ListReader) -> None:
    callback = refresh(app)
    first = callback(0, "1h", [], None)
    assert drawn(first)[1] == 1
    reader.advance(NOW + dt.timedelta(seconds=30))  # slid by < 1/60 of the window
    with pytest.raises(PreventUpdate):
        callback(1, "1h", [], first[5])
    reader.advance(NOW + dt.timedelta(minutes=31))  # the 0.5 h old case ages out
    assert drawn(callback(2, "1h", [], first[5]))[1] == 0


def test_marker_cap_draws_newest(reader: ListReader) -> None:
    app = create_app(reader, max_markers=2)
    result = refresh(app)(0, "all", [], None)
    markers, count = drawn(result)
    assert count == 2
    assert {tooltip(m).split(" · ")[0] for m in markers} == {"ZJ-330211-0001", "ZJ-330211-0002"}
    assert "newest of 5" in result[2]


def test_selected_category_stays_an_option(reader: ListReader) -> None:
    view = render(reader, "all", ["ip.trademark"], None, lambda code: str(code))
    assert view is not None and view.drawn == 0
    assert "ip.trademark" in [o["value"] for o in view.category_options]


def test_unknown_county_is_named() -> None:
    case = make_case("X-1", "other", 330211, 1)
    outside = dataclasses.replace(case, county=0)
    app = create_app(ListReader([outside]))
    markers, _ = drawn(refresh(app)(0, "all", [], None))
    assert "outside the province" in tooltip(markers[0])


def test_family_of() -> None:
    assert family_of("theft.fuel") == "theft"
    assert family_of("burglary.residential") == "burglary"
    assert family_of("robbery") == "robbery"
    assert family_of("fraud.telecom") == "fraud"
    assert family_of("embezzlement") == "other"
    assert family_of("ip.trade_secret") == "other"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"refresh_ms": 0}, ValueError, "refresh_ms"),
        ({"max_markers": -1}, ValueError, "max_markers"),
        ({"adcode": "330000"}, TypeError, "330000"),
        ({"adcode": 330001}, ValueError, "330001"),
    ],
)
def test_rejects_bad_arguments(reader: ListReader, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        create_app(reader, **kwargs)


def test_rejects_unknown_time_window() -> None:
    with pytest.raises(ValueError, match="2h"):
        since_for("2h", NOW)
