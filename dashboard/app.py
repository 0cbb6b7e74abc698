"""The command center's Dash app: page layout and the live-refresh callback.

The page is a map of the province drawn from its own outlines (no tiles: the
machine is offline), the cases as coloured dots, a status line, a time filter
and a category filter. All state comes from a
:class:`~dashboard.query.StateReader`; Dash serves its scripts and styles
itself, so the page never asks an outside host for anything.

Example
-------
>>> app = create_app(reader)          # doctest: +SKIP
>>> app.run(host="127.0.0.1", port=8050)  # doctest: +SKIP

Element ids a test or a later page can rely on: ``map``, ``county-layer``,
``city-layer``, ``province-layer``, ``case-layer``, ``case-count`` (the number
of drawn cases, as text), ``case-total``, ``status``, ``time-window``,
``category-filter``, ``refresh`` (the interval) and ``last-render`` (the store).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.live import DEFAULT_MAX_MARKERS, TIME_WINDOW_LABELS, render
from dashboard.map import legend, map_view
from dashboard.query import StateReader
from geo.jurisdictions import ZHEJIANG, load_province

__all__ = ["create_app", "page_title"]

log = logging.getLogger(__name__)

_ASSETS = Path(__file__).with_name("assets")


def page_title(province_name: str) -> str:
    """Browser and page title for a province."""
    return f"Investigation Command Center — {province_name}"


def _county_namer(adcode: int) -> Callable[[int], str]:
    zj = load_province(adcode)
    names = {int(code): str(name) for code, name in zj.counties["name"].items()}

    def county_name(code: int) -> str:
        if code in names:
            return names[code]
        return "outside the province" if code == 0 else f"county {code}"

    return county_name


def _controls() -> html.Div:
    return html.Div(
        className="controls",
        children=[
            html.Label("Reported", htmlFor="time-window", className="control-label"),
            dcc.RadioItems(
                id="time-window",
                options=[
                    {"label": label, "value": key} for key, label in TIME_WINDOW_LABELS.items()
                ],
                value="all",
                inline=True,
                className="time-window",
            ),
            dcc.Dropdown(
                id="category-filter",
                options=[],
                value=[],
                multi=True,
                placeholder="All categories",
                className="category-filter",
            ),
            html.Span(
                className="case-counter",
                children=[
                    html.Span("0", id="case-count"),
                    " cases shown",
                    html.Span("", id="case-total", className="case-total"),
                ],
            ),
            legend(),
        ],
    )


def _layout(adcode: int, refresh_ms: int) -> html.Div:
    zj = load_province(adcode)
    west, south, east, north = (float(v) for v in zj.province.total_bounds)
    return html.Div(
        className="icc-page",
        children=[
            html.Header(
                className="icc-header",
                children=[
                    html.H1(page_title(zj.name), id="page-title"),
                    html.Div("waiting for the stream …", id="status", className="status"),
                ],
            ),
            _controls(),
            map_view(adcode, (west, south, east, north), markers=[]),
            dcc.Interval(id="refresh", interval=refresh_ms, n_intervals=0),
            dcc.Store(id="last-render", data=None),
        ],
    )


def _validate(adcode: int, refresh_ms: int, max_markers: int) -> None:
    if isinstance(refresh_ms, bool) or not isinstance(refresh_ms, int) or refresh_ms < 100:
        raise ValueError(f"refresh_ms must be an int of at least 100 ms, got {refresh_ms!r}")
    if isinstance(max_markers, bool) or not isinstance(max_markers, int) or max_markers < 0:
        raise ValueError(f"max_markers must be a non-negative int, got {max_markers!r}")
    load_province(adcode)  # TypeError/ValueError naming a bad adcode


def create_app(
    reader: StateReader,
    adcode: int = ZHEJIANG,
    refresh_ms: int = 1000,
    *,
    max_markers: int = DEFAULT_MAX_MARKERS,
) -> dash.Dash:
    """Build the live-map page for one province over ``reader``.

    The case layer is redrawn every ``refresh_ms`` only if ``reader.version()``
    changed (or the filter did); at most ``max_markers`` newest cases are drawn.
    """
    _validate(adcode, refresh_ms, max_markers)
    zj = load_province(adcode)
    app = dash.Dash(
        __name__,
        title=page_title(zj.name),
        update_title=None,
        assets_folder=str(_ASSETS),
        serve_locally=True,
        external_scripts=[],
        external_stylesheets=[],
    )
    app.layout = _layout(adcode, refresh_ms)
    county_name = _county_namer(adcode)

    @app.callback(
        Output("case-layer", "children"),
        Output("case-count", "children"),
        Output("case-total", "children"),
        Output("status", "children"),
        Output("category-filter", "options"),
        Output("last-render", "data"),
        Input("refresh", "n_intervals"),
        Input("time-window", "value"),
        Input("category-filter", "value"),
        State("last-render", "data"),
    )
    def refresh_cases(
        _n: int | None, window: str | None, categories: list[str] | None, memo: dict | None
    ) -> tuple[Any, ...]:
        view = render(reader, window, categories, memo, county_name, max_markers)
        if view is None:
            raise PreventUpdate
        total = f" (newest of {view.matching:,})" if view.matching > view.drawn else ""
        return (view.markers, str(view.drawn), total, view.status, view.category_options, view.memo)

    log.info("dashboard for %s (%d) built, refresh every %d ms", zj.name, adcode, refresh_ms)
    return app
