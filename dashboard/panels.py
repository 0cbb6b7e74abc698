"""The side panels as Dash components: KPI strip, series list and detail, case detail.

Every text is passed as a component child (React escapes it), never as raw
HTML, so a narrative containing ``<script>`` is shown as those characters.

Example
-------
>>> fmt_minutes(None), fmt_minutes(95.0)
('—', '1 h 35 min')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from dash import html

from dashboard.live import CST, Kpis
from dashboard.map import FAMILY_COLORS, family_of
from dashboard.query import CaseDetail, CaseView, SeriesView

__all__ = [
    "case_detail_panel",
    "command_panel_placeholder",
    "fmt_minutes",
    "kpi_strip",
    "series_detail_panel",
]

_EVIDENCE_LABELS = {
    "vehicle": "Vehicle",
    "phone": "Phone",
    "mac": "Device",
    "companion": "Travelling together",
    "person": "Same person",
    "mo": "Modus operandi",
}


def fmt_minutes(value: float | None) -> str:
    """Minutes as ``2 h 05 min`` / ``12 min``; ``—`` when unknown."""
    if value is None:
        return "—"
    minutes = int(round(value))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _kpi(label: str, value: str, element_id: str) -> html.Div:
    return html.Div(
        className="kpi",
        children=[html.Span(value, id=element_id, className="kpi-value"), html.Span(label)],
    )


def kpi_strip(k: Kpis | None) -> list[Any]:
    """The five KPIs (``—`` where not known yet: tasks overdue until tasking lands)."""
    if k is None:
        k = Kpis(0, 0, None, None, 0.0)
    return [
        _kpi("cases today", f"{k.cases_today:,}", "kpi-cases-today"),
        _kpi("open series", f"{k.open_series:,}", "kpi-open-series"),
        _kpi("mean report → link", fmt_minutes(k.mean_link_minutes), "kpi-link-time"),
        _kpi(
            "tasks overdue",
            "—" if k.tasks_overdue is None else f"{k.tasks_overdue:,}",
            "kpi-tasks-overdue",
        ),
        _kpi("losses reported", f"¥{k.losses_cny:,.0f}", "kpi-losses"),
    ]


def _timeline(cases: Sequence[CaseView], county_name: Callable[[int], str]) -> html.Div:
    """Each case as a bar from occurred_start to occurred_end, a tick at reported_at."""
    if not cases:
        return html.Div("no cases in your jurisdiction", className="muted")
    lo = min(c.occurred_start for c in cases)
    hi = max(max(c.reported_at, c.occurred_end) for c in cases)
    span = max((hi - lo).total_seconds(), 1.0)

    def pct(t: dt.datetime) -> float:
        return round(100.0 * (t - lo).total_seconds() / span, 2)

    rows = []
    for c in sorted(cases, key=lambda c: c.occurred_start):
        start, end = pct(c.occurred_start), pct(c.occurred_end)
        rows.append(
            html.Div(
                className="tl-row",
                children=[
                    html.Button(
                        c.case_id,
                        id={"type": "case-open", "case": c.case_id},
                        className="tl-case",
                        n_clicks=0,
                        title=f"open {c.case_id}",
                    ),
                    html.Div(
                        className="tl-track",
                        children=[
                            html.Div(
                                className="tl-bar",
                                style={
                                    "left": f"{start}%",
                                    "width": f"{max(end - start, 0.8)}%",
                                    "background": FAMILY_COLORS[family_of(c.category)],
                                },
                                title=(
                                    f"{c.category} · {county_name(c.county)} · occurred "
                                    f"{c.occurred_start.astimezone(CST):%m-%d %H:%M}–"
                                    f"{c.occurred_end.astimezone(CST):%m-%d %H:%M}"
                                ),
                            ),
                            html.Div(
                                className="tl-report", style={"left": f"{pct(c.reported_at)}%"}
                            ),
                        ],
                    ),
                ],
            )
        )
    axis = html.Div(
        className="tl-axis",
        children=[
            html.Span(f"{lo.astimezone(CST):%m-%d %H:%M}"),
            html.Span(f"{hi.astimezone(CST):%m-%d %H:%M}"),
        ],
    )
    return html.Div(className="timeline", id="series-timeline", children=[*rows, axis])


def series_detail_panel(
    series: SeriesView | None,
    hidden: int,
    cases: Sequence[CaseView],
    county_name: Callable[[int], str],
) -> list[Any]:
    """Timeline of the series' cases, key entities, and the evidence behind each link."""
    if series is None:
        return [html.Div("Select a series to see its cases and evidence.", className="muted")]
    head = f"{series.series_id}: {len(series.case_ids)} cases"
    if hidden:
        head += f" here, {hidden} more in other jurisdictions"
    links = []
    for k in series.links:
        links.append(
            html.Li(
                className="link",
                children=[
                    html.Div(
                        f"{k.case_a} ↔ {k.case_b} · p = {k.probability:.2f}", className="link-head"
                    ),
                    html.Ul(
                        [
                            html.Li(
                                [
                                    html.Span(
                                        _EVIDENCE_LABELS.get(kind, kind), className="ev-kind"
                                    ),
                                    " ",
                                    html.Span(text, className="evidence-text"),
                                ]
                            )
                            for kind, text in k.evidence
                        ]
                    ),
                ],
            )
        )
    if not links and series.evidence:  # a reader without link records: the series' sentences
        links = [html.Li(html.Span(t, className="evidence-text")) for t in series.evidence]
    return [
        html.H3(head, id="series-head"),
        html.Div(
            f"categories: {', '.join(series.categories) or '—'} · "
            f"counties: {', '.join(county_name(c) for c in series.counties) or '—'} · "
            f"loss ¥{series.total_loss_cny:,.0f}",
            className="muted",
        ),
        _timeline(cases, county_name),
        html.H4("Key entities"),
        html.Ul([html.Li(e) for e in series.key_entities] or [html.Li("—")], className="entities"),
        html.H4("Why these cases are linked"),
        html.Ul(links or [html.Li("—")], id="series-evidence", className="evidence"),
    ]


def case_detail_panel(detail: CaseDetail | None, county_name: Callable[[int], str]) -> list[Any]:
    """One case: scene, window, persons (already masked for the role), vehicles, narrative."""
    if detail is None:
        return []
    c = detail.case
    persons = [
        html.Tr(
            [
                html.Td(p.role),
                html.Td(p.name),
                html.Td(p.id_number or ""),
                html.Td(p.phone or ""),
                html.Td(p.dob or ""),
            ]
        )
        for p in detail.persons
    ]
    return [
        html.H3(c.case_id, id="case-head"),
        html.Div(
            f"{c.category} · {county_name(c.county)} · reported "
            f"{c.reported_at.astimezone(CST):%Y-%m-%d %H:%M} · loss ¥{c.loss_cny:,.0f}"
            + (f" · {c.address}" if c.address else ""),
            className="muted",
        ),
        html.H4("Persons"),
        html.Table(
            [html.Tr([html.Th(h) for h in ("role", "name", "ID number", "phone", "born")])]
            + persons,
            className="persons",
            id="case-persons",
        ),
        html.Div(
            "vehicles: "
            + (", ".join(f"{plate} ({role})" for role, plate in detail.vehicles) or "—"),
            className="muted",
        ),
        html.H4("Narrative"),
        html.P(detail.narrative or "—", id="case-narrative", className="narrative"),
    ]


def command_panel_placeholder() -> html.Section:
    """Where the command panel (tasking: plan suggestions, activation, task board per tier,
    stand-down) mounts. ``id="command-panel"``; tasking replaces its children."""
    return html.Section(
        id="command-panel",
        className="panel command-panel",
        children=[
            html.H2("Command"),
            html.Div(
                "Plan suggestions, activation and the task board appear here once tasking is "
                "connected.",
                className="muted",
            ),
        ],
    )
