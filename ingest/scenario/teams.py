"""Response teams: one per county (two in central districts), dispatched to new cases.

A team waits ``available`` at its station (the county's urban core); when a case
reported by phone or an enterprise station comes in and the team is free it goes
``assigned`` -> ``en_route`` -> ``on_scene`` (after the drive) -> ``available``.

Example
-------
>>> # see ingest.scenario.generate(); teams need a Context and case drafts
"""

from __future__ import annotations

from typing import Any

from .clock import iso
from .crimes import CaseDraft
from .projection import to_lonlat
from .registry import Context
from .trips import travel_time

__all__ = ["team_messages"]


def _status(team: str, status: str, x: float, y: float, t: float) -> dict[str, Any]:
    lon, lat = to_lonlat(x, y)
    return {
        "kind": "team_status",
        "team_id": team,
        "status": status,
        "lon": round(float(lon), 6),
        "lat": round(float(lat), 6),
        "at": iso(t),
    }


def team_messages(
    ctx: Context, drafts: list[CaseDraft]
) -> tuple[list[dict[str, Any]], list[float]]:
    """Team status messages and their arrival times. O(teams + cases)."""
    rng = ctx.rngs["teams"]
    counties = ctx.world.counties
    teams: dict[int, list[list[Any]]] = {}  # county -> [[team_id, x, y, busy_until], ...]
    msgs: list[dict[str, Any]] = []
    times: list[float] = []

    def emit(team: str, status: str, x: float, y: float, t: float) -> None:
        if t < ctx.t_end:
            msgs.append(_status(team, status, x, y, t))
            times.append(float(round(t)) + float(rng.uniform(1, 10)))

    for adcode, row in counties.iterrows():
        n = 2 if row["central"] else 1
        for k in range(n):
            team = f"T-{int(adcode)}-{k + 1:02d}"
            x = float(row["core_x"]) + rng.normal(0, 300)
            y = float(row["core_y"]) + rng.normal(0, 300)
            teams.setdefault(int(adcode), []).append([team, x, y, ctx.t_start])
            emit(team, "available", x, y, ctx.t_start + rng.uniform(0, 600))
    for d in sorted(drafts, key=lambda c: c.window[2]):
        if d.source not in ("110", "enterprise-station"):
            continue
        reported = d.window[2]
        free = [tm for tm in teams.get(d.county, []) if tm[3] <= reported]
        if not free:
            continue
        team, x, y, _ = free[0]
        t1 = reported + rng.uniform(60, 300)
        t2 = t1 + rng.uniform(60, 240)
        t3 = t2 + float(travel_time(x, y, d.x, d.y, 12.0)) + rng.uniform(0, 300)
        t4 = t3 + rng.uniform(30, 120) * 60
        emit(team, "assigned", x, y, t1)
        emit(team, "en_route", x, y, t2)
        emit(team, "on_scene", d.x, d.y, t3)
        emit(team, "available", d.x, d.y, t4)
        free[0][3] = t4 + float(travel_time(d.x, d.y, x, y, 12.0))
    return msgs, times
