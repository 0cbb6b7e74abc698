"""The command center page without a browser: layout, filters, layers and the refresh rule.

Layers are checked on what :func:`dashboard.live.render` returns for a signed-in
user's scoped reader; login and scoping through HTTP are in ``test_security.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import dash
import dash_leaflet as dl
import pytest

from dashboard.alerts import ALERT_COLORS, alert_levels
from dashboard.app import create_app
from dashboard.auth import UserStore
from dashboard.live import kpis, render, since_for
from dashboard.map import FAMILY_COLORS, family_of
from dashboard.panels import fmt_minutes, kpi_strip
from dashboard.query import SeriesView
from dashboard.scope import ScopedReader

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


def by_id(layout: Any, element_id: str) -> Any:
    found = [c for c in walk(layout) if getattr(c, "id", None) == element_id]
    assert len(found) == 1, f"expected one element with id {element_id!r}, found {len(found)}"
    return found[0]


def names(county: int) -> str:
    return {330211: "镇海区", 330782: "义乌市"}.get(
        county, "outside the province" if not county else str(county)
    )


def view(
    reader: ListReader, users: UserStore, window: str = "all", categories=None, memo=None, **kw
):  # noqa: ANN001, ANN201
    user = users.get(kw.pop("user", "prov.analyst"))
    assert user is not None
    return render(ScopedReader(reader, user), window, categories, memo, names, **kw)


def ids(v) -> set[str]:  # noqa: ANN001
    return {f["properties"]["id"] for f in v.case_data["features"]}


def tips(v) -> list[str]:  # noqa: ANN001
    return [f["properties"]["t"] for f in v.case_data["features"]]


@pytest.fixture
def app(reader: ListReader, users: UserStore, audit) -> dash.Dash:  # noqa: ANN001
    return create_app(reader, refresh_ms=500, users=users, audit=audit)


def test_page_skeleton(app: dash.Dash) -> None:
    layout = app.layout()
    assert app.title == "Investigation Command Center — 浙江省"
    assert by_id(layout, "page-title").children == "Investigation Command Center — 浙江省"
    for element_id in (
        "map",
        "case-layer",
        "series-layer",
        "team-layer",
        "status",
        "case-count",
        "time-window",
        "custom-from",
        "custom-to",
        "category-filter",
        "kpi-strip",
        "series-list",
        "series-detail",
        "case-detail",
        "command-panel",
        "last-render",
    ):
        by_id(layout, element_id)
    assert by_id(layout, "refresh").interval == 500
    assert by_id(layout, "time-window").value == "all"
    assert {o["value"] for o in by_id(layout, "time-window").options} == {
        "1h",
        "6h",
        "24h",
        "custom",
        "all",
    }
    # No tiles (offline machine): the base map is the outlines; points on a canvas.
    assert not [c for c in walk(layout) if isinstance(c, dl.TileLayer)]
    assert by_id(layout, "case-layer").pointToLayer == {"variable": "iccMap.caseMarker"}


def test_outline_layers(app: dash.Dash) -> None:
    layout = app.layout()
    counties = by_id(layout, "county-layer")
    cities = by_id(layout, "city-layer")
    province = by_id(layout, "province-layer")
    assert all(isinstance(x, dl.GeoJSON) for x in (counties, cities, province))
    assert len(counties.data["features"]) == 90
    assert len(cities.data["features"]) == 11
    assert len(province.data["features"]) == 1
    zhenhai = [f for f in counties.data["features"] if f["properties"]["adcode"] == 330211]
    assert zhenhai[0]["properties"]["tooltip"] == "镇海区"
    assert counties.style == {"variable": "iccMap.countyStyle"}  # fill = alert level
    assert cities.style["weight"] < province.style["weight"]


def test_initial_render_draws_all_cases_with_tooltips(reader, users, sample_cases) -> None:  # noqa: ANN001
    v = view(reader, users)
    assert v is not None and v.drawn == len(sample_cases) == 5
    t = tips(v)
    assert any("ZJ-330211-0001" in x and "镇海区" in x and "theft.fuel" in x for x in t)
    assert any("2026-03-02 11:30" in x for x in t)  # reported time, 0.5 h before NOW
    colours = {f["properties"]["id"]: f["properties"]["k"] for f in v.case_data["features"]}
    assert colours["ZJ-330211-0001"] == FAMILY_COLORS["theft"]
    assert colours["ZJ-330302-0001"] == FAMILY_COLORS["robbery"]
    for fragment in (
        "stream time 2026-03-02 12:00",
        "8 messages accepted",
        "5 cases",
        "7 sightings",
    ):
        assert fragment in v.status
    assert [o["value"] for o in v.category_options] == sorted({c.category for c in sample_cases})


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("1h", {"ZJ-330211-0001"}),
        ("6h", {"ZJ-330211-0001", "ZJ-330211-0002", "ZJ-330782-0001"}),
        ("24h", {"ZJ-330211-0001", "ZJ-330211-0002", "ZJ-330782-0001", "ZJ-330106-0001"}),
    ],
)
def test_time_filter_is_relative_to_stream_time(reader, users, window, expected) -> None:  # noqa: ANN001
    assert ids(view(reader, users, window)) == expected


def test_custom_window(reader, users) -> None:  # noqa: ANN001
    v = view(reader, users, "custom", custom=("2026-03-02T06:00", "2026-03-02T10:00"))
    assert ids(v) == {"ZJ-330211-0002", "ZJ-330782-0001"}  # 09:00 and 07:00 CST
    assert view(reader, users, "custom", custom=("garbage", None)).drawn == 5


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (["theft.fuel"], {"ZJ-330211-0001", "ZJ-330211-0002"}),
        (["robbery", "fraud.investment"], {"ZJ-330302-0001", "ZJ-330782-0001"}),
    ],
)
def test_category_filter(reader, users, categories, expected) -> None:  # noqa: ANN001
    assert ids(view(reader, users, "all", categories)) == expected


def test_refreshes_only_when_the_version_changes(reader, users) -> None:  # noqa: ANN001
    first = view(reader, users)
    calls = reader.case_calls
    assert view(reader, users, memo=first.memo) is None
    assert reader.case_calls == calls  # an idle poll does not read the cases
    reader.add(make_case("ZJ-330481-0001", "theft.cargo", 330481, 0.1))
    second = view(reader, users, memo=first.memo)
    assert second is not None and second.drawn == 6
    assert view(reader, users, memo=second.memo) is None
    assert view(reader, users, "all", ["theft.cargo"], memo=second.memo).drawn == 1


def test_sliding_window_redraws_as_stream_time_advances(reader, users) -> None:  # noqa: ANN001
    first = view(reader, users, "1h")
    assert first.drawn == 1
    reader.advance(NOW + dt.timedelta(seconds=30))  # slid by < 1/60 of the window
    assert view(reader, users, "1h", memo=first.memo) is None
    reader.advance(NOW + dt.timedelta(minutes=31))  # the 0.5 h old case ages out
    assert view(reader, users, "1h", memo=first.memo).drawn == 0


def test_marker_cap_draws_newest(reader, users) -> None:  # noqa: ANN001
    v = view(reader, users, max_markers=2)
    assert ids(v) == {"ZJ-330211-0001", "ZJ-330211-0002"} and v.matching == 5


def test_unknown_county_is_named(users) -> None:  # noqa: ANN001
    outside = dataclasses.replace(make_case("X-1", "other", 330211, 1), county=0, city=0)
    v = view(ListReader([outside]), users)
    assert "outside the province" in tips(v)[0]


def test_series_links_alerts_and_kpis(users, sample_cases) -> None:  # noqa: ANN001
    a, b = sample_cases[0], sample_cases[1]
    linked = [
        dataclasses.replace(a, series_id="S-1", status="linked", linked_at=a.reported_at),
        dataclasses.replace(
            b, series_id="S-1", status="linked", linked_at=b.reported_at + dt.timedelta(hours=1)
        ),
    ]
    s = SeriesView("S-1", ("ZJ-330211-0001", "ZJ-330211-0002"), counties=(330211,), updated_at=NOW)
    reader = ListReader([*linked, *sample_cases[2:]], series=[s])
    v = view(reader, users, counties=[330211, 330782])
    assert len(v.series_data["features"]) == 1  # one chain segment between the two scenes
    assert v.county_hideout["alerts"] == {
        "330211": ALERT_COLORS["yellow"],
        "330782": ALERT_COLORS["green"],
    }
    assert v.kpis.open_series == 1 and v.kpis.mean_link_minutes == pytest.approx(30.0)
    assert v.kpis.tasks_overdue is None
    strip = {c.children[0].id: c.children[0].children for c in kpi_strip(v.kpis)}
    assert strip["kpi-tasks-overdue"] == "—" and strip["kpi-link-time"] == "30 min"
    # the time filter narrows the series too: 06:00-08:00 holds only the Yiwu fraud case
    narrow = view(reader, users, "custom", custom=("2026-03-02T06:00", "2026-03-02T08:00"))
    assert narrow.drawn == 1 and narrow.series == [] and narrow.series_data["features"] == []


def test_alert_rule() -> None:
    def s(n: int, county: int, days_ago: float = 0) -> SeriesView:
        ids_ = tuple(f"c{i}" for i in range(n))
        return SeriesView(
            f"S{n}{county}", ids_, counties=(county,), updated_at=NOW - dt.timedelta(days=days_ago)
        )

    assert alert_levels([], NOW, [1]) == {1: "green"}
    assert alert_levels([s(2, 1)], NOW)[1] == "yellow"
    assert alert_levels([s(3, 1)], NOW)[1] == "orange"
    assert alert_levels([s(2, 1), s(2, 1)], NOW)[1] == "orange"
    assert alert_levels([s(5, 1)], NOW)[1] == "red"
    assert alert_levels([s(2, 1), s(2, 1), s(2, 1)], NOW)[1] == "red"
    assert alert_levels([s(9, 1, days_ago=8)], NOW, [1])[1] == "green"  # no longer open
    assert alert_levels([s(2, 1)], NOW, activations={1: "province"})[1] == "red"
    with pytest.raises(ValueError, match="regional"):
        alert_levels([], NOW, activations={1: "regional"})


def test_kpi_helpers() -> None:
    assert fmt_minutes(None) == "—" and fmt_minutes(125) == "2 h 05 min"
    k = kpis([], [], [], NOW)
    assert k.cases_today == 0 and k.mean_link_minutes is None and k.losses_cny == 0


def test_family_of() -> None:
    assert family_of("theft.fuel") == "theft"
    assert family_of("burglary.residential") == "burglary"
    assert family_of("robbery") == "robbery"
    assert family_of("fraud.telecom") == "fraud"
    assert family_of("embezzlement") == "other"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"refresh_ms": 0}, ValueError, "refresh_ms"),
        ({"max_markers": -1}, ValueError, "max_markers"),
        ({"adcode": "330000"}, TypeError, "330000"),
        ({"adcode": 330001}, ValueError, "330001"),
    ],
)
def test_rejects_bad_arguments(reader, users, kwargs, error, match) -> None:  # noqa: ANN001
    with pytest.raises(error, match=match):
        create_app(reader, users=users, **kwargs)


def test_rejects_unknown_time_window() -> None:
    with pytest.raises(ValueError, match="2h"):
        since_for("2h", NOW)


def test_poll_back_pressure() -> None:
    from dash.exceptions import PreventUpdate

    from dashboard.live import REDRAW_TIMEOUT_S, next_want

    def no(*args) -> None:  # noqa: ANN002
        with pytest.raises(PreventUpdate):
            next_want(*args)

    no(1, NOW, "all", None, None, 0.0)  # the first redraw is still on its way
    rendered = {"version": 1, "want": 0}
    no(1, NOW, "all", None, rendered, 0.0)  # nothing new
    want = next_want(2, NOW, "all", None, rendered, 10.0)
    assert want["seq"] == 1 and want["version"] == 2
    no(3, NOW, "all", want, rendered, 11.0)  # unanswered: wait, do not supersede it
    again = next_want(3, NOW, "all", want, rendered, 10.0 + REDRAW_TIMEOUT_S + 1)
    assert again["seq"] == 2  # a lost answer is asked for again
    answered = {"version": 2, "want": 1}
    no(2, NOW, "all", want, answered, 12.0)
    assert next_want(3, NOW, "all", want, answered, 12.0)["seq"] == 2
    # a sliding window asks for a redraw when its start slid by 1/60 of its length
    w1 = next_want(2, NOW, "1h", want, answered, 12.0)  # slot differs from "all"'s 0
    no(2, NOW + dt.timedelta(seconds=30), "1h", w1, {"version": 2, "want": w1["seq"]}, 13.0)
    later = NOW + dt.timedelta(minutes=2)
    assert next_want(2, later, "1h", w1, {"version": 2, "want": w1["seq"]}, 14.0)["seq"] > w1["seq"]


def test_case_layer_sync_sends_only_what_changed(reader, users, sample_cases) -> None:  # noqa: ANN001
    from dashboard.live import CaseLayerSync
    from dashboard.map import CaseFeatureCache

    layer, sync = CaseFeatureCache(names), CaseLayerSync(max_recent=2)
    bulk, recent, token = sync.split(layer(sample_cases), None, "k")
    assert bulk is not None and len(bulk["features"]) == 5 and recent["features"] == []
    new = make_case("ZJ-330481-0001", "theft.cargo", 330481, 0.1)
    bulk2, recent2, token2 = sync.split(layer([*sample_cases, new]), token, "k")
    assert bulk2 is None and token2 == token
    assert [f["properties"]["id"] for f in recent2["features"]] == ["ZJ-330481-0001"]
    linked = dataclasses.replace(sample_cases[0], series_id="S-1")  # a changed case is re-sent
    _, recent3, _ = sync.split(layer([linked, *sample_cases[1:], new]), token, "k")
    assert {f["properties"]["id"] for f in recent3["features"]} == {
        "ZJ-330211-0001",
        "ZJ-330481-0001",
    }
    assert sync.split(layer(sample_cases[1:]), token, "k")[0] is not None  # one left: full
    assert sync.split(layer(sample_cases), token, "other")[0] is not None  # other filter
    assert sync.split(layer(sample_cases), "forged", "k")[0] is not None  # unknown token
    more = [make_case(f"N-{i}", "robbery", 330481, 0.1) for i in range(3)]
    assert sync.split(layer([*sample_cases, *more]), token, "k")[0] is not None  # too many
