"""Cases: scenes, addresses, the people and firms involved, the background of
unrelated cases, and the incident messages.

A case is first a :class:`CaseDraft` (metres, epoch seconds); :func:`assign_case_ids`
and :func:`incident_messages` turn drafts into contract messages with case ids
like ``ZJ-330211-20260302-0001``. What a case of each category looks like is in
:mod:`.categories`.

Example
-------
>>> d = CaseDraft(county=330211, category="theft.fuel", t_crime=0.0, x=0.0, y=0.0,
...               window=(0.0, 0.0, 86400.0 * 20514), mo=[], loss_cny=None)
>>> assign_case_ids([d])
>>> d.case_id
'ZJ-330211-20260302-0001'
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .categories import (
    CATEGORIES,
    ENTERPRISE_CATEGORIES,
    crime_time,
    draw_loss,
    draw_mo,
    make_window,
    narrative,
)
from .clock import CST, HOUR, iso
from .companies import Company
from .names import COMMON_NAMES, words
from .people import PHONE_FORMATS, Person, mention
from .projection import to_lonlat
from .registry import Context

__all__ = [
    "ENTERPRISE_CATEGORIES",
    "CaseDraft",
    "address",
    "assign_case_ids",
    "background_cases",
    "incident_messages",
    "new_company",
    "org_entry",
    "place_scene",
]

log = logging.getLogger(__name__)

_ROADS = words(
    "人民路 中山路 解放路 建设路 新华路 环城北路 工业大道 滨海大道 兴业路 金山路 东海路 江南大道 "
    "文化路 学院路 青年路 振兴路 开发区大道 物流园路 港口路 望江路 南湖路 凤凰路 湖滨路 育才路"
)
_SITES = {
    "rural": ("物流园", "工业园区", "工地", "仓储中心", "停车场", "加油站旁空地"),
    "urban": ("", "", "大厦", "小区", "商业街", "市场"),
}
_CITY_NAMES = {
    330100: "杭州市",
    330200: "宁波市",
    330300: "温州市",
    330400: "嘉兴市",
    330500: "湖州市",
    330600: "绍兴市",
    330700: "金华市",
    330800: "衢州市",
    330900: "舟山市",
    331000: "台州市",
    331100: "丽水市",
}


@dataclass
class CaseDraft:
    """A case before it becomes messages (metres, epoch seconds)."""

    county: int
    category: str
    t_crime: float
    x: float
    y: float
    window: tuple[float, float, float]  # occurred_start, occurred_end, reported_at
    mo: list[str]
    loss_cny: float | None
    persons: list[dict[str, Any]] = field(default_factory=list)
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    organizations: list[dict[str, Any]] = field(default_factory=list)
    narrative: str = ""
    source: str = "110"
    address: str = ""
    series: str | None = None
    supplement: bool = False
    case_id: str = ""


def place_scene(
    ctx: Context, rng: np.random.Generator, county: int, site: str = "urban", *, anpr: bool = False
) -> tuple[float, float]:
    """A scene (metres) in ``county`` within ~1.5 km of one of its checkpoints."""
    world = ctx.world
    cand = world.select(county=county)
    if anpr:
        cand = cand[world.checkpoints["anpr"].to_numpy()[cand]]
    kind = world.checkpoints["kind"].to_numpy()[cand]
    if site == "rural":
        w = np.where(kind == "urban", 1.0, 3.0)
    else:
        w = np.where(kind == "urban", 5.0, 1.0)
    for _ in range(30):
        cp = cand[rng.choice(len(cand), p=w / w.sum())]
        r = (
            rng.uniform(100, 700)
            if kind[np.searchsorted(cand, cp)] == "urban"
            else rng.uniform(200, 1500)
        )
        a = rng.uniform(0, 2 * np.pi)
        x, y = world.x[cp] + r * np.cos(a), world.y[cp] + r * np.sin(a)
        if world.in_county(county, np.array([x]), np.array([y]))[0]:
            return float(x), float(y)
    return float(world.x[cp] + 30.0), float(world.y[cp])


def address(ctx: Context, rng: np.random.Generator, county: int, site: str) -> str:
    """A postal-style address: 宁波市镇海区兴业路118号物流园."""
    c = ctx.world.counties.loc[county]
    city_name = _CITY_NAMES[int(c["city"])]
    road = _ROADS[int(rng.integers(len(_ROADS)))]
    suffixes = _SITES["rural" if site == "rural" else "urban"]
    return f"{city_name}{c['name']}{road}{int(rng.integers(1, 999))}号{suffixes[int(rng.integers(len(suffixes)))]}"


def new_company(ctx: Context, rng: np.random.Generator, county: int, trade: str) -> Company:
    """A fresh company registered in ``county``."""
    c = ctx.world.counties.loc[county]
    return ctx.companies.new(county, _CITY_NAMES[int(c["city"])], str(c["name"]), trade)


def org_entry(
    company: Company, role: str, rng: np.random.Generator, p_uscc: float = 0.95
) -> dict[str, Any]:
    """A contract organization entry; the USCC is occasionally not given."""
    out: dict[str, Any] = {"role": role, "name": company.name}
    if rng.random() < p_uscc:
        out["uscc"] = company.uscc
    return out


def _reporter(ctx: Context, rng: np.random.Generator, role: str = "reporter") -> dict[str, Any]:
    person = ctx.people.new()
    fmt = PHONE_FORMATS[int(rng.choice(4, p=[0.55, 0.2, 0.15, 0.1]))]
    return mention(
        person,
        role,
        rng,
        phone_format=fmt,
        id_form="full" if rng.random() < 0.5 else "absent",
        with_gender=rng.random() < 0.5,
        with_dob=rng.random() < 0.2,
    )


def background_cases(ctx: Context, n: int, decoys: list[Person]) -> list[CaseDraft]:
    """``n`` unrelated cases across the province; the ``decoys`` (people with the most
    common names) each appear as a named suspect in one of them. O(n)."""
    rng = ctx.rngs["crimes"]
    world = ctx.world
    cats = list(CATEGORIES)
    weights = np.array([CATEGORIES[c].weight for c in cats])
    category = [cats[i] for i in rng.choice(len(cats), n, p=weights / weights.sum())]
    # the decoy suspects need categories where suspects get named
    named = [CATEGORIES[c].p_suspect >= 0.4 for c in category]
    others = [i for i in range(n) if not named[i]]
    for k, i in enumerate(others[: max(0, len(decoys) - sum(named))]):
        category[i] = "fraud.contract" if k % 2 == 0 else "fraud.telecom"
        named[i] = True
    ok_idx = [i for i in range(n) if named[i]]
    decoy_at = {
        ok_idx[j]: p
        for j, p in zip(rng.permutation(len(ok_idx))[: len(decoys)], decoys, strict=False)
    }

    counties = world.counties.index.to_numpy()
    n_urban = world.checkpoints[world.checkpoints["kind"] == "urban"].groupby("county").size()
    cw = np.array([n_urban.get(c, 0) + 3.0 for c in counties])
    drafts = []
    for i, cat in enumerate(category):
        spec = CATEGORIES[cat]
        county = int(counties[rng.choice(len(counties), p=cw / cw.sum())])
        timing = spec.timing
        if timing == "mixed":
            timing = "night" if rng.random() < 0.5 else "day"
        t_c = crime_time(rng, ctx, timing)
        x, y = place_scene(ctx, rng, county, spec.site)
        addr = address(ctx, rng, county, spec.site)
        loss = draw_loss(rng, spec)
        d = CaseDraft(
            county=county,
            category=cat,
            t_crime=t_c,
            x=x,
            y=y,
            window=make_window(rng, spec.timing, t_c),
            mo=draw_mo(rng, spec),
            loss_cny=loss if rng.random() < 0.9 else None,
            address=addr,
            source=spec.sources[int(rng.integers(len(spec.sources)))],
        )
        org_name = ""
        if spec.enterprise:
            victim = new_company(ctx, rng, county, spec.trades[int(rng.integers(len(spec.trades)))])
            d.organizations.append(org_entry(victim, "victim", rng))
            org_name = victim.name
            if cat in ("fraud.contract", "fraud.invoice") and rng.random() < 0.7:
                other = new_company(
                    ctx,
                    rng,
                    int(counties[rng.integers(len(counties))]),
                    "贸易" if cat == "fraud.contract" else "商贸",
                )
                d.organizations.append(
                    org_entry(other, "counterparty" if cat == "fraud.contract" else "suspect", rng)
                )
        d.persons.append(_reporter(ctx, rng, "reporter" if spec.enterprise else "victim"))
        if i in decoy_at:
            p = decoy_at[i]
            d.persons.append(
                mention(p, "suspect", rng, phone_format="plain", id_form="full", with_gender=True)
            )
        elif rng.random() < spec.p_suspect:
            if rng.random() < 0.3:
                name, gender = COMMON_NAMES[int(rng.integers(len(COMMON_NAMES)))]
                p = ctx.people.new(name=name, gender=gender)
            else:
                p = ctx.people.new()
            fmt = (
                PHONE_FORMATS[int(rng.integers(len(PHONE_FORMATS)))] if rng.random() < 0.6 else None
            )
            form = str(
                rng.choice(["full", "absent", "masked_dob", "masked_tail"], p=[0.4, 0.4, 0.1, 0.1])
            )
            d.persons.append(
                mention(
                    p,
                    "suspect",
                    rng,
                    phone_format=fmt,
                    id_form=form,  # type: ignore[arg-type]
                    with_gender=rng.random() < 0.6,
                )
            )
        if rng.random() < 0.1:
            d.persons.append(_reporter(ctx, rng, "witness"))
        n_veh = 1
        if cat == "theft.fuel":
            n_veh = int(rng.integers(1, 5))
            city = int(world.counties.loc[county, "city"])
            d.vehicles = [
                {"role": "victim", "plate": ctx.plates.new(city, "truck")} for _ in range(n_veh)
            ]
        elif cat == "theft.cargo" or cat == "theft.vehicle":
            city = int(world.counties.loc[county, "city"])
            d.vehicles = [
                {
                    "role": "victim",
                    "plate": ctx.plates.new(city, "truck" if cat == "theft.cargo" else "car"),
                }
            ]
        elif cat == "robbery" and rng.random() < 0.2:
            city = int(world.counties.loc[county, "city"])
            d.vehicles = [{"role": "suspect", "plate": ctx.plates.new(city, "car")}]
        d.narrative = narrative(rng, spec, t_c, addr, org_name, d.loss_cny, n_veh)
        d.supplement = rng.random() < 0.04
        drafts.append(d)
    log.info("%d background cases", len(drafts))
    return drafts


def assign_case_ids(drafts: list[CaseDraft]) -> None:
    """Give every draft a case id ``ZJ-<county>-<report date>-<nnnn>``, numbered per
    county and day in order of reporting."""
    order = sorted(range(len(drafts)), key=lambda i: (drafts[i].window[2], i))
    counters: dict[tuple[int, str], int] = {}
    for i in order:
        d = drafts[i]
        day = dt.datetime.fromtimestamp(d.window[2], CST).strftime("%Y%m%d")
        key = (d.county, day)
        counters[key] = counters.get(key, 0) + 1
        d.case_id = f"ZJ-{d.county}-{day}-{counters[key]:04d}"


def incident_messages(
    ctx: Context, drafts: list[CaseDraft]
) -> tuple[list[dict[str, Any]], list[float]]:
    """Contract incident messages of the drafts (and their supplementary reports) with
    their arrival times (= ``reported_at``)."""
    rng = ctx.rngs["supplements"]
    msgs: list[dict[str, Any]] = []
    arrivals: list[float] = []
    xs = np.array([d.x for d in drafts])
    ys = np.array([d.y for d in drafts])
    lon, lat = to_lonlat(xs, ys) if drafts else (np.zeros(0), np.zeros(0))
    for d, lo, la in zip(drafts, lon.tolist(), lat.tolist(), strict=True):
        start, end, reported = d.window
        msg: dict[str, Any] = {
            "kind": "incident",
            "report_id": d.case_id,
            "case_id": d.case_id,
            "reported_at": iso(reported),
            "occurred_start": iso(start),
            "occurred_end": iso(end),
            "lon": round(lo, 6),
            "lat": round(la, 6),
            "address": d.address,
            "category": d.category,
            "mo": list(d.mo),
        }
        if d.loss_cny is not None:
            msg["loss_cny"] = d.loss_cny
        msg.update(
            {
                "persons": d.persons,
                "vehicles": d.vehicles,
                "organizations": d.organizations,
                "narrative": d.narrative,
                "source": d.source,
            }
        )
        msgs.append(msg)
        arrivals.append(float(round(reported)))
        if d.supplement:
            extra = dict(msg)
            later = reported + rng.uniform(2.0, 20.0) * HOUR
            extra["report_id"] = f"{d.case_id}-B1"
            extra["reported_at"] = iso(later)
            if d.loss_cny is not None:
                extra["loss_cny"] = float(round(d.loss_cny * rng.uniform(1.05, 1.6), -1))
            extra["persons"] = [*d.persons, _reporter(ctx, rng, "witness")]
            extra["narrative"] = "补充报告：经进一步清点核实，损失有所增加。" + d.narrative
            msgs.append(extra)
            arrivals.append(float(round(later)))
    return msgs, arrivals
