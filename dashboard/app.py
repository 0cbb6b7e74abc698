"""The command center's Dash app: login, page layout and the callbacks.

The page is a map of the province drawn from its own outlines (no tiles: the
machine is offline) with counties coloured by alert level, the cases as
coloured circles, series as links between their scenes and teams at their
last positions; beside it the KPI strip, the series panel (list, timeline,
key entities, evidence per link), the case panel and the command panel (plan
suggestions, activation, the task board: :mod:`dashboard.command`). All state
comes from a :class:`~dashboard.query.StateReader`, always through
:class:`~dashboard.scope.ScopedReader` for the signed-in user, so data
outside the user's jurisdiction never leaves the server. Dash serves its
scripts and styles itself, so the page never asks an outside host for anything.

Example
-------
>>> app = create_app(reader, users=UserStore.from_file("users.toml"))  # doctest: +SKIP
>>> app.run(host="127.0.0.1", port=8050)  # doctest: +SKIP

Element ids a test or a later page can rely on: ``map``, ``county-layer``,
``city-layer``, ``province-layer``, ``case-layer`` (with ``case-recent-layer``: see
:class:`~dashboard.live.CaseLayerSync`), ``series-layer``,
``team-layer``, ``case-count``, ``case-total``, ``status``, ``time-window``,
``custom-from``, ``custom-to``, ``category-filter``, ``kpi-strip``,
``series-list``, ``series-detail``, ``case-detail``, ``command-panel`` (with
``cmd-message``, ``cmd-suggestions``, ``cmd-subject``, ``cmd-level``, ``cmd-activate``,
``cmd-board``, ``suggestion-<id>``, ``activation-<id>``, ``task-<id>``, ``tier-<level>``:
see :mod:`dashboard.command`), ``whoami``, ``refresh`` (the interval) and
``last-render`` (the store).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dash
from dash import ALL, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.audit import AuditLog, default_audit_path
from dashboard.auth import ROLES, SessionStore, User, UserStore, current_user, install_auth
from dashboard.command import CommandDesk, board, command_panel, options, suggestion_cards
from dashboard.live import (
    DEFAULT_MAX_MARKERS,
    TIME_WINDOW_LABELS,
    CaseLayerSync,
    next_want,
    render,
    series_label,
)
from dashboard.map import CaseFeatureCache, legend, map_view
from dashboard.panels import (
    case_detail_panel,
    kpi_strip,
    series_detail_panel,
)
from dashboard.query import StateReader
from dashboard.scope import Scope, ScopedReader
from geo.jurisdictions import ZHEJIANG, Jurisdictions, load_province

if TYPE_CHECKING:
    from tasking.service import TaskingService

__all__ = ["create_app", "page_title"]

log = logging.getLogger(__name__)

_ASSETS = Path(__file__).with_name("assets")

#: hooks tasking can fill: tasks overdue for a user (None shows "—"), and active plan
#: tiers per county (fed into the alert levels)
TasksOverdue = Callable[[User], int | None]
Activations = Callable[[User], Mapping[int, str]]


def page_title(province_name: str) -> str:
    """Browser and page title for a province."""
    return f"Investigation Command Center — {province_name}"


def _county_namer(zj: Jurisdictions) -> Callable[[int], str]:
    names = {int(code): str(name) for code, name in zj.counties["name"].items()}

    def county_name(code: int) -> str:
        if code in names:
            return names[code]
        return "outside the province" if code == 0 else f"county {code}"

    return county_name


def _bounds(zj: Jurisdictions, adcode: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a jurisdiction of the province (the province if unknown)."""
    for frame in (zj.counties, zj.cities):
        if adcode in frame.index:
            return tuple(float(v) for v in frame.geometry.loc[adcode].bounds)  # type: ignore[return-value]
    return tuple(float(v) for v in zj.province.total_bounds)  # type: ignore[return-value]


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
            dcc.Input(
                id="custom-from",
                type="datetime-local",
                debounce=True,
                className="custom",
                style={"width": "13rem"},
            ),
            html.Span("–"),
            dcc.Input(
                id="custom-to",
                type="datetime-local",
                debounce=True,
                className="custom",
                style={"width": "13rem"},
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
        ],
    )


def _whoami(user: User | None, zj: Jurisdictions) -> list[Any]:
    if user is None:
        return []
    try:
        where = zj.name_of(user.jurisdiction)
    except KeyError:
        where = str(user.jurisdiction)
    return [
        html.Span(f"{user.name} · {ROLES[user.role].label} · {where}", id="whoami-text"),
        html.A("sign out", href="/logout", className="logout"),
    ]


def _layout(zj: Jurisdictions, adcode: int, refresh_ms: int, tasking: bool) -> html.Div:
    user = current_user()
    bounds = _bounds(zj, user.jurisdiction if user else adcode)
    return html.Div(
        className="icc-page",
        children=[
            html.Header(
                className="icc-header",
                children=[
                    html.H1(page_title(zj.name), id="page-title"),
                    html.Div("waiting for the stream …", id="status", className="status"),
                    html.Div(_whoami(user, zj), id="whoami", className="whoami"),
                ],
            ),
            html.Div(kpi_strip(None), id="kpi-strip", className="kpi-strip"),
            _controls(),
            html.Div(
                className="icc-main",
                children=[
                    html.Div(className="map-column", children=[map_view(adcode, bounds), legend()]),
                    html.Aside(
                        className="side",
                        children=[
                            html.Section(
                                id="series-panel",
                                className="panel series-panel",
                                children=[
                                    html.H2("Series"),
                                    dcc.RadioItems(
                                        id="series-list",
                                        options=[],
                                        value=None,
                                        className="series-list",
                                    ),
                                    html.Div(id="series-detail", className="series-detail"),
                                ],
                            ),
                            html.Section(
                                id="case-panel",
                                className="panel case-panel",
                                children=html.Div(id="case-detail"),
                            ),
                            command_panel(user, connected=tasking),
                        ],
                    ),
                ],
            ),
            dcc.Interval(id="refresh", interval=refresh_ms, n_intervals=0),
            dcc.Store(id="want", data=None),
            dcc.Store(id="last-render", data=None),
        ],
    )


def _validate(adcode: int, refresh_ms: int, max_markers: int) -> None:
    if isinstance(refresh_ms, bool) or not isinstance(refresh_ms, int) or refresh_ms < 100:
        raise ValueError(f"refresh_ms must be an int of at least 100 ms, got {refresh_ms!r}")
    if isinstance(max_markers, bool) or not isinstance(max_markers, int) or max_markers < 0:
        raise ValueError(f"max_markers must be a non-negative int, got {max_markers!r}")
    load_province(adcode)  # TypeError/ValueError naming a bad adcode


def _user() -> User:
    """The signed-in user of a callback request; no user, no data."""
    user = current_user()
    if user is None:
        raise PreventUpdate
    return user


def create_app(
    reader: StateReader,
    adcode: int = ZHEJIANG,
    refresh_ms: int = 1000,
    *,
    max_markers: int = DEFAULT_MAX_MARKERS,
    users: UserStore | None = None,
    audit: AuditLog | None = None,
    sessions: SessionStore | None = None,
    secret_key: str | None = None,
    tasks_overdue: TasksOverdue | None = None,
    activations: Activations | None = None,
    tasking: TaskingService | None = None,
) -> dash.Dash:
    """Build the command center page for one province over ``reader``.

    ``users`` defaults to ``ICC_USERS_FILE`` (no file: nobody can sign in);
    ``audit`` to ``$ICC_DATA_DIR/dashboard-audit.sqlite``. The layers are
    redrawn every ``refresh_ms`` only if ``reader.version()`` changed (or the
    filter did); at most ``max_markers`` newest cases are drawn.

    With ``tasking`` (a :class:`~tasking.service.TaskingService`), the command panel
    (:mod:`dashboard.command`) shows suggestions, activations and the task board and
    lets commanders act; it also fills ``tasks_overdue`` and ``activations`` when they
    are not given.
    """
    _validate(adcode, refresh_ms, max_markers)
    zj = load_province(adcode)
    users = users if users is not None else UserStore.from_env()
    audit = audit if audit is not None else AuditLog(default_audit_path())
    sessions = sessions if sessions is not None else SessionStore()
    app = dash.Dash(
        __name__,
        title=page_title(zj.name),
        update_title=None,
        assets_folder=str(_ASSETS),
        serve_locally=True,
        external_scripts=[],
        external_stylesheets=[],
    )
    install_auth(app.server, users, sessions, audit, page_title(zj.name), secret_key)
    app.layout = lambda: _layout(zj, adcode, refresh_ms, tasking is not None)
    county_name = _county_namer(zj)
    desk = None
    if tasking is not None:

        def place_name(code: int) -> str:
            return zj.name_of(code)

        desk = CommandDesk(tasking, reader, place_name, audit)
        tasks_overdue = tasks_overdue or desk.tasks_overdue
        activations = activations or desk.county_tiers
    case_layer = CaseFeatureCache(county_name)
    sync = CaseLayerSync()
    county_city = {int(a): int(c) for a, c in zj.counties["city"].items()}
    app.server.config["ICC_AUDIT"] = audit

    def counties_of(user: User) -> list[int]:
        scope = Scope(user.jurisdiction)
        return [a for a, c in county_city.items() if scope.allows(a, c)]

    @app.callback(
        Output("want", "data"),
        Input("refresh", "n_intervals"),
        State("want", "data"),
        State("last-render", "data"),
        State("time-window", "value"),
    )
    def poll(
        _n: int | None, want: dict | None, rendered: dict | None, window: str | None
    ) -> dict[str, Any]:
        """The cheap poll: ask for a redraw when the state version (or a sliding window's
        start) moved, but never while a redraw is still on its way (back-pressure: a slow
        redraw is not superseded by the next poll, so the map keeps up under load)."""
        _user()
        version = reader.version()
        if desk is not None:  # a command changes the alert colours and the KPIs too
            version += desk.revision << 32
        return next_want(version, reader.now(), window, want, rendered, time.time())

    @app.callback(
        Output("case-layer", "data"),
        Output("case-recent-layer", "data"),
        Output("series-layer", "data"),
        Output("team-layer", "data"),
        Output("county-layer", "hideout"),
        Output("case-count", "children"),
        Output("case-total", "children"),
        Output("status", "children"),
        Output("category-filter", "options"),
        Output("kpi-strip", "children"),
        Output("series-list", "options"),
        Output("last-render", "data"),
        Input("want", "data"),
        Input("time-window", "value"),
        Input("category-filter", "value"),
        Input("custom-from", "value"),
        Input("custom-to", "value"),
        State("last-render", "data"),
    )
    def refresh_map(
        want: dict | None,
        window: str | None,
        categories: list[str] | None,
        custom_from: str | None,
        custom_to: str | None,
        last: dict | None,
    ) -> tuple[Any, ...]:
        user = _user()
        scoped = ScopedReader(reader, user)
        memo = None  # only called when something changed (see poll)
        overdue = tasks_overdue(user) if tasks_overdue is not None else None
        view = render(
            scoped,
            window,
            categories,
            memo,
            county_name,
            max_markers,
            custom=(custom_from, custom_to),
            counties=counties_of(user),
            tasks_overdue=overdue,
            case_layer=case_layer,
        )
        if view is None:
            raise PreventUpdate
        hideout = view.county_hideout
        if activations is not None:
            from dashboard.alerts import alert_levels
            from dashboard.map import alert_hideout

            levels = alert_levels(
                scoped.series(), scoped.now(), counties_of(user), activations(user)
            )
            hideout = alert_hideout(levels)
        hidden = {s.view.series_id: s.hidden_cases for s in scoped.scoped_series()}
        options = [
            {"label": series_label(s, hidden.get(s.series_id, 0)), "value": s.series_id}
            for s in view.series
        ]
        total = f" (newest of {view.matching:,})" if view.matching > view.drawn else ""
        key = f"{user.jurisdiction}|{view.memo['window']}|{view.memo['categories']}|"
        key += f"{view.memo['since']}|{view.memo['custom']}"
        bulk, recent, token = sync.split(view.case_data, (last or {}).get("bulk"), key)
        return (
            dash.no_update if bulk is None else bulk,
            recent,
            view.series_data,
            view.team_data,
            hideout,
            str(view.drawn),
            total,
            view.status,
            view.category_options,
            kpi_strip(view.kpis),
            options,
            {**view.memo, "user": user.name, "want": (want or {}).get("seq", 0), "bulk": token},
        )

    @app.callback(
        Output("series-detail", "children"),
        Output("series-layer", "hideout"),
        Input("series-list", "value"),
        Input("last-render", "data"),
    )
    def show_series(series_id: str | None, _memo: dict | None) -> tuple[Any, ...]:
        user = _user()
        if not series_id:
            return series_detail_panel(None, 0, [], county_name), {"selected": None}
        scoped = ScopedReader(reader, user)
        found = [s for s in scoped.scoped_series() if s.view.series_id == series_id]
        if not found:
            return series_detail_panel(None, 0, [], county_name), {"selected": None}
        chosen = found[0]
        members = set(chosen.view.case_ids)
        cases = [c for c in scoped.cases() if c.case_id in members]
        if ctx.triggered_id == "series-list":
            audit.record(
                user.name,
                user.role,
                user.jurisdiction,
                "view_series",
                series_id,
                {"cases": len(cases), "masked": not user.sees_identifiers},
            )
        panel = series_detail_panel(chosen.view, chosen.hidden_cases, cases, county_name)
        return panel, {"selected": series_id}

    @app.callback(
        Output("case-detail", "children"),
        Input({"type": "case-open", "case": ALL}, "n_clicks"),
        Input("case-layer", "clickData"),
        Input("case-recent-layer", "clickData"),
        prevent_initial_call=True,
    )
    def show_case(
        _clicks: list[int | None], click: dict | None, click_recent: dict | None
    ) -> list[Any]:
        user = _user()
        trigger = ctx.triggered_id
        if isinstance(trigger, Mapping) and trigger.get("type") == "case-open":
            if not (ctx.triggered and ctx.triggered[0].get("value")):
                raise PreventUpdate  # buttons just drawn, not clicked
            case_id = str(trigger.get("case"))
        elif trigger in ("case-layer", "case-recent-layer") and (click or click_recent):
            feature = click if trigger == "case-layer" else click_recent
            case_id = str(((feature or {}).get("properties") or {}).get("id", ""))
        else:
            raise PreventUpdate
        detail = ScopedReader(reader, user).case_detail(case_id)
        if detail is None:
            return [html.Div(f"case {case_id} not found", className="muted")]
        audit.record(
            user.name,
            user.role,
            user.jurisdiction,
            "view_case",
            case_id,
            {"persons": len(detail.persons), "masked": not user.sees_identifiers},
        )
        return case_detail_panel(detail, county_name)

    if desk is not None:
        _command_callbacks(app, desk)
    log.info(
        "dashboard for %s (%d) built: %d users, refresh every %d ms",
        zj.name,
        adcode,
        len(users),
        refresh_ms,
    )
    return app


def _command_callbacks(app: dash.Dash, desk: CommandDesk) -> None:
    """The command panel's two callbacks: draw it (when what it shows changed) and act."""

    @app.callback(
        Output("cmd-suggestions", "children"),
        Output("cmd-board", "children"),
        Output("cmd-subject", "options"),
        Output("cmd-sig", "data"),
        Input("refresh", "n_intervals"),
        Input("cmd-nonce", "data"),
        State("cmd-sig", "data"),
    )
    def draw_command(_n: int | None, _nonce: int | None, sig: dict | None) -> tuple[Any, ...]:
        user = _user()
        view = desk.view(user)
        drawn = {
            "user": user.name,
            "view": view.signature(),
            "subjects": view.signature(subjects=True),
        }
        sig = sig or {}
        if sig.get("user") == user.name and sig.get("view") == drawn["view"]:
            raise PreventUpdate
        same_subjects = sig.get("user") == user.name and sig.get("subjects") == drawn["subjects"]
        return (
            suggestion_cards(view),
            board(view),
            dash.no_update if same_subjects else options(view),
            drawn,
        )

    @app.callback(
        Output("cmd-message", "children"),
        Output("cmd-nonce", "data"),
        Input({"type": "cmd-confirm", "suggestion": ALL}, "n_clicks"),
        Input({"type": "cmd-act", "activation": ALL, "op": ALL}, "n_clicks"),
        Input("cmd-activate", "n_clicks"),
        State("cmd-subject", "value"),
        State("cmd-level", "value"),
        State("cmd-nonce", "data"),
        prevent_initial_call=True,
    )
    def command(
        _confirm: list[int | None],
        _act: list[int | None],
        _activate: int | None,
        subject: str | None,
        level: str | None,
        nonce: int | None,
    ) -> tuple[Any, ...]:
        """Every command the panel sends; the desk checks role and jurisdiction itself."""
        user = _user()
        if not (ctx.triggered and ctx.triggered[0].get("value")):
            raise PreventUpdate  # buttons just drawn, not clicked
        trigger = ctx.triggered_id
        if isinstance(trigger, Mapping) and trigger.get("type") == "cmd-confirm":
            outcome = desk.confirm(user, trigger.get("suggestion"))
        elif isinstance(trigger, Mapping) and trigger.get("type") == "cmd-act":
            outcome = desk.command(user, trigger.get("activation"), trigger.get("op"))
        elif trigger == "cmd-activate":
            outcome = desk.activate(user, subject, level)
        else:
            raise PreventUpdate
        message = html.Div(
            outcome.text,
            id="cmd-outcome",
            className="cmd-ok" if outcome.ok else "cmd-error",
        )
        return message, int(nonce or 0) + 1
