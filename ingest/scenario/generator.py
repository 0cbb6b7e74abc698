"""Assemble a scenario: world, fleet, series, background cases, teams, delivery.

See the package docstring for the overview; :func:`generate` is the entry point.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .categories import ENTERPRISE_CATEGORIES
from .clock import CST, DAY, check_start, iso, to_epoch
from .companies import CompanyBook
from .crimes import assign_case_ids, background_cases, incident_messages
from .delivery import sighting_messages
from .fleet import build_fleet
from .names import COMMON_NAMES
from .people import Person, PersonFactory
from .plates import PlateBook
from .registry import Context, Entities, ReadLog
from .series import build_series, fill_case_ids
from .teams import team_messages
from .world import build_world

__all__ = ["CHECKPOINT_COLUMNS", "Scenario", "generate"]

log = logging.getLogger(__name__)

_STREAMS = (
    "world",
    "fleet",
    "plates",
    "people",
    "companies",
    "series",
    "series_extra",
    "crimes",
    "supplements",
    "teams",
    "delivery",
)
CHECKPOINT_COLUMNS = ["checkpoint_id", "lon", "lat", "county", "city", "kind", "anpr", "probe"]


@dataclass(frozen=True)
class Scenario:
    """A generated scenario.

    ``messages`` are contract messages (plain dicts) sorted by arrival time;
    ``arrivals`` and ``event_times`` are parallel float64 arrays of epoch seconds
    (when a message reaches the command center; its ``at``/``reported_at``);
    ``truth`` is the ground truth written to ``truth.json``; ``checkpoints`` has
    one row per sensor site.
    """

    messages: list[dict[str, Any]]
    arrivals: np.ndarray
    event_times: np.ndarray
    truth: dict[str, Any]
    checkpoints: pd.DataFrame

    def arrival_datetimes(self) -> list[dt.datetime]:
        """``arrivals`` as aware +08:00 datetimes."""
        return [dt.datetime.fromtimestamp(a, CST) for a in self.arrivals.tolist()]


def _check_args(seed: int, days: float, scale: float) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed {seed!r} is invalid; expected a non-negative int")
    for name, value, hi in (("days", days, 31.0), ("scale", scale, 50.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} {value!r} is invalid; expected a number")
        if not 0.0 < float(value) <= hi:
            raise ValueError(f"{name} {value!r} is out of range; expected 0 < {name} <= {hi:g}")


def _decoys(ctx: Context, n_names: int) -> list[Person]:
    """Two unrelated people for each of the first ``n_names`` most common names."""
    out = []
    for name, gender in COMMON_NAMES[:n_names]:
        out += [ctx.people.new(name=name, gender=gender) for _ in range(2)]
    return out


def generate(
    seed: int = 7, days: float = 1.0, scale: float = 1.0, start: dt.datetime | None = None
) -> Scenario:
    """Generate a scenario; the same arguments always give the same scenario.

    ``days`` is the length of the horizon from ``start`` (default
    2026-03-02T00:00+08:00); ``scale`` multiplies vehicles, sightings and
    background cases (~300 cases and ~150k sightings per day at scale 1).
    Complexity: O(scale x days) for vehicles and cases; about 10 s for one day at
    scale 1 on two cores, dominated by building the message dicts.
    """
    _check_args(seed, days, scale)
    start = check_start(start)
    t_start = to_epoch(start)
    t0 = time.perf_counter()
    seqs = np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seqs, strict=True)}
    world = build_world(rngs["world"])
    people = PersonFactory(rngs["people"], tuple(int(c) for c in world.counties.index))
    ctx = Context(
        seed=int(seed),
        t_start=t_start,
        t_end=t_start + float(days) * DAY,
        scale=float(scale),
        world=world,
        rngs=rngs,
        entities=Entities(),
        reads=ReadLog(),
        plates=PlateBook(rngs["plates"]),
        people=people,
        companies=CompanyBook(rngs["companies"]),
    )
    fleet = build_fleet(ctx)
    series = build_series(ctx)
    n_background = max(20, int(round(300 * scale * days)) - len(series.drafts))
    decoys = _decoys(ctx, min(len(COMMON_NAMES), max(3, n_background // 25)))
    drafts = series.drafts + background_cases(ctx, n_background, decoys)
    assign_case_ids(drafts)
    fill_case_ids(series)
    incidents, inc_arrivals = incident_messages(ctx, drafts)
    teams, team_arrivals = team_messages(ctx, drafts)
    sightings = sighting_messages(ctx)
    log.info(
        "built %d incident, %d team and %d sighting messages in %.1f s",
        len(incidents),
        len(teams),
        len(sightings.messages),
        time.perf_counter() - t0,
    )

    messages = sightings.messages + incidents + teams
    arrivals = np.concatenate(
        [sightings.arrivals, np.asarray(inc_arrivals), np.asarray(team_arrivals)]
    )
    event = np.concatenate(
        [
            sightings.at,
            np.array([to_epoch(dt.datetime.fromisoformat(m["reported_at"])) for m in incidents]),
            np.array([to_epoch(dt.datetime.fromisoformat(m["at"])) for m in teams]),
        ]
    )
    order = np.argsort(arrivals, kind="stable")
    messages = [messages[i] for i in order.tolist()]

    n_cases = len(drafts)
    enterprise = sum(d.category in ENTERPRISE_CATEGORIES for d in drafts)
    truth: dict[str, Any] = {
        "seed": int(seed),
        "days": float(days),
        "scale": float(scale),
        "start": iso(t_start),
        "series": series.truth,
        "counts": {
            "cases": n_cases,
            "incidents": len(incidents),
            "supplementary_reports": len(incidents) - n_cases,
            "series_cases": len(series.drafts),
            "enterprise_cases": enterprise,
            "sightings": sightings.unique,
            "sighting_messages": len(sightings.messages),
            "team_status": len(teams),
            "checkpoints": len(world.checkpoints),
            "vehicles": sum(k == "plate" for k in ctx.entities.kinds),
            "phones": sum(k == "phone" for k in ctx.entities.kinds),
            "id_typos": series.id_typos,
            "messages": len(messages),
        },
        "duplicates": sightings.duplicates,
        "late_sightings": sightings.late,
        "ubiquitous_vehicles": fleet.ubiquitous,
    }
    log.info(
        "scenario seed=%d days=%g scale=%g: %d messages in %.1f s",
        seed,
        days,
        scale,
        len(messages),
        time.perf_counter() - t0,
    )
    return Scenario(
        messages=messages,
        arrivals=arrivals[order],
        event_times=event[order],
        truth=truth,
        checkpoints=world.checkpoints[CHECKPOINT_COLUMNS].reset_index(drop=True),
    )
