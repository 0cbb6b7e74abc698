"""Serial offenders: the ground truth the linkage core is judged against.

**Vehicle series** - a crew drives from its base to one scene after another at
night (``base -> scene 1 -> scene 2 -> ... -> base``). Its vehicle is read along
the way and, for every case, at a camera within 2.5 km of the scene during the
case's window - about half the time it comes by a road that misses the nearest
camera. Some crews switch
vehicles mid-series; the old and new vehicle then make a few trips together
(companions). The crew vehicles also live an ordinary commuting life.

**Person series** - frauds linked only through the suspect's mentions, written
differently every time: homophone characters, spacing, pinyin in several
spellings or with swapped order, the phone in several formats, the resident ID
full, partly masked, absent or with a typo.

The reference stories are always present: a five-case diesel-theft crew in
Zhenhai (Ningbo, 330211) and an investment fraud in Jinhua spanning counties;
a scenario with larger ``scale x days`` gets additional random series.

Example
-------
>>> # see ingest.scenario.generate(); series need a full Context and fleet
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .categories import CATEGORIES, crime_time, draw_loss, draw_mo, make_window, narrative
from .clock import DAY, HOUR
from .crimes import CaseDraft, address, new_company, org_entry, place_scene
from .fleet import Cars, car_trips, choose_near, sense
from .names import COMMON_NAMES, NAME_STYLES, NameStyle
from .people import PHONE_FORMATS, IdForm, Person, mention
from .registry import Context
from .trips import Trips, travel_time

__all__ = [
    "CORE_PERSON",
    "CORE_VEHICLE",
    "PersonSeriesSpec",
    "SeriesResult",
    "VehicleSeriesSpec",
    "build_series",
    "fill_case_ids",
    "night_slots",
]

log = logging.getLogger(__name__)

_NEAR_SCENE_M = 2500.0


@dataclass(frozen=True)
class VehicleSeriesSpec:
    """A crew with a vehicle committing ``len(counties)`` cases (one per entry)."""

    category: str
    counties: tuple[int, ...]
    home: int  # county of the crew's base
    plate_city: int | None = None  # None: the base's city; 0: another province
    switch_after: int | None = None  # cases done with the first vehicle
    with_person: bool = False  # the leader is sometimes named, his phone is sensed
    victims: tuple[int, ...] = ()  # victim trucks per case (theft.fuel)


@dataclass(frozen=True)
class PersonSeriesSpec:
    """A fraudster (or a pair) behind ``len(counties)`` cases."""

    category: str
    counties: tuple[int, ...]
    suspects: tuple[tuple[str, str] | None, ...]  # (name, gender); None: random
    name_styles: tuple[NameStyle, ...]
    id_forms: tuple[IdForm, ...]
    shared_org: bool = False  # a shell company named in every case


@dataclass
class SeriesResult:
    """Series drafts and their truth records."""

    drafts: list[CaseDraft] = field(default_factory=list)
    truth: list[dict[str, Any]] = field(default_factory=list)
    members: list[list[CaseDraft]] = field(default_factory=list)
    id_typos: int = 0


CORE_VEHICLE: tuple[VehicleSeriesSpec, ...] = (
    # The Zhenhai diesel-theft crew: five sites, 14 trucks.
    VehicleSeriesSpec("theft.fuel", (330211,) * 5, 330211, victims=(3, 2, 4, 3, 2)),
    # Another Ningbo fuel crew (Beilun/Yinzhou) that changes its vehicle.
    VehicleSeriesSpec("theft.fuel", (330206, 330206, 330212, 330206), 330212, switch_after=2),
    # A third Ningbo fuel crew from Taizhou, across Cixi and Yuyao.
    VehicleSeriesSpec("theft.fuel", (330282, 330281, 330282), 330282, plate_city=331000),
    # Cargo thieves along the Hangzhou-Shaoxing-Jinhua corridor; leader sometimes named.
    VehicleSeriesSpec("theft.cargo", (330109, 330603, 330681, 330782), 330681, with_person=True),
    VehicleSeriesSpec("theft.cable", (330702, 330781, 330703), 330702),
    VehicleSeriesSpec("burglary.commercial", (330302, 330303, 330304, 330381), 330304),
    VehicleSeriesSpec("theft.fuel", (331004, 331081, 331003), 331004, switch_after=2),
)

CORE_PERSON: tuple[PersonSeriesSpec, ...] = (
    PersonSeriesSpec(
        "fraud.contract",
        (330782, 330783, 330784, 330106),
        (("张伟", "M"),),
        ("canonical", "pinyin", "homophone", "spacing"),
        ("full", "masked_dob", "absent", "typo"),
    ),
    # The Jinhua investment fraud: a pair behind cases in five counties.
    PersonSeriesSpec(
        "fraud.investment",
        (330702, 330703, 330781, 330782, 330723),
        (None, None),
        ("canonical", "pinyin_upper", "homophone", "pinyin_compact", "canonical"),
        ("full", "absent", "masked_tail", "masked_middle", "full"),
        shared_org=True,
    ),
    PersonSeriesSpec(
        "fraud.invoice",
        (330105, 330602, 330603),
        (None,),
        ("canonical", "spacing", "pinyin_caps"),
        ("masked_dob", "full", "absent"),
        shared_org=True,
    ),
    PersonSeriesSpec(
        "ip.trade_secret",
        (330206, 330603),
        (None,),
        ("canonical", "pinyin_swapped"),
        ("full", "absent"),
    ),
    PersonSeriesSpec(
        "fraud.contract",
        (330302, 330382, 331002),
        (("王芳", "F"),),
        ("canonical", "pinyin_swapped", "homophone"),
        ("absent", "full", "masked_dob"),
    ),
)


def night_slots(ctx: Context) -> list[tuple[float, float]]:
    """Night stretches inside the horizon when crews work (00:30-05:30, 21:00-23:45)."""
    day0 = ctx.t_start - (ctx.t_start + 8 * HOUR) % DAY
    out = []
    for d in range(int(np.ceil(ctx.days)) + 1):
        for a, b in ((0.5, 5.5), (21.0, 23.75)):
            s = max(day0 + d * DAY + a * HOUR, ctx.t_start + 0.25 * HOUR)
            e = min(day0 + d * DAY + b * HOUR, ctx.t_end - 0.25 * HOUR)
            if e - s >= 1.5 * HOUR:
                out.append((s, e))
    return out


def _quota(n: int, slots: list[tuple[float, float]]) -> list[int]:
    """Spread ``n`` cases over the slots in proportion to their length (each >= 1)."""
    if not slots:
        return []
    length = np.array([e - s for s, e in slots])
    k = min(len(slots), n)
    q = np.zeros(len(slots), dtype=int)
    q[:k] = 1
    share = length / length.sum() * n
    while q.sum() < n:
        q[int(np.argmax(share - q))] += 1
    return q.tolist()


def _near_read(
    ctx: Context, rng: np.random.Generator, x: float, y: float, *, avoid_nearest: bool
) -> int:
    """A camera within 2.5 km of the scene: the nearest one, or (``avoid_nearest``) the
    2nd (60 %) or 3rd (40 %) nearest."""
    near = ctx.world.near(x, y, _NEAR_SCENE_M, anpr=True)
    if len(near) == 0:
        raise RuntimeError(f"no ANPR camera within {_NEAR_SCENE_M} m of scene ({x:.0f}, {y:.0f})")
    rank = int(rng.choice([1, 2], p=[0.6, 0.4])) if avoid_nearest else 0
    return int(near[min(rank, len(near) - 1)])


def _city(ctx: Context, county: int) -> int:
    return int(ctx.world.counties.loc[county, "city"])


def vehicle_series(
    ctx: Context, spec: VehicleSeriesSpec, sid: str
) -> tuple[list[CaseDraft], dict[str, Any]]:
    """Cases, reads and truth of one crew."""
    rng = ctx.rngs["series"]
    world = ctx.world
    cat = CATEGORIES[spec.category]
    home_city = _city(ctx, spec.home)
    plate_city = spec.plate_city if spec.plate_city is not None else home_city
    style = "truck" if spec.category == "theft.cargo" else "car"
    n_veh = 2 if spec.switch_after is not None else 1
    plates = [
        ctx.plates.new(plate_city or home_city, style, outside=plate_city == 0)
        for _ in range(n_veh)
    ]
    ents = ctx.entities.add_many("plate", plates)
    bx, by = place_scene(ctx, rng, spec.home, "rural")
    leader: Person | None = (
        ctx.people.new(region=spec.home, gender="M") if spec.with_person else None
    )
    phone_of: dict[int, int] = {}
    if leader is not None:
        phone_of[int(ents[0])] = ctx.entities.add("phone", leader.phone)
    # an ordinary life besides the crimes: commuting from the base
    urban = world.select(city=home_city, kinds=("urban",))
    work = choose_near(rng, world, np.full(n_veh, bx), np.full(n_veh, by), urban, 8000.0)
    cars = Cars(
        ents,
        np.full(n_veh, -1),
        np.full(n_veh, home_city),
        np.full(n_veh, bx),
        np.full(n_veh, by),
        world.x[work],
        world.y[work],
    )
    sense(ctx, car_trips(ctx, cars, rng), phone_of, rng)

    slots = night_slots(ctx)
    n = len(spec.counties)
    quota = _quota(n, slots)
    mo = draw_mo(rng, cat)
    legs: list[Trips] = []
    drafts: list[CaseDraft] = []
    used_by_case: list[int] = []
    slot_i, in_slot = 0, 0
    t = slots[0][0] + rng.uniform(0, 0.3 * HOUR) if slots else ctx.t_start
    px, py = bx, by

    def leg(vehicle: int, x0: float, y0: float, x1: float, y1: float, t0: float) -> float:
        length = float(np.hypot(x1 - x0, y1 - y0))
        speed = 20.0 if length > 20_000 else 12.0
        legs.append(
            Trips.of(
                entity=[ents[vehicle]],
                x0=[x0],
                y0=[y0],
                x1=[x1],
                y1=[y1],
                t0=[t0],
                speed=[speed],
                bend=[rng.normal(0, 0.08)],
            )
        )
        return t0 + float(travel_time(x0, y0, x1, y1, speed))

    for i, county in enumerate(spec.counties):
        if slot_i >= len(slots):
            break
        vehicle = 0 if spec.switch_after is None or i < spec.switch_after else 1
        sx, sy = place_scene(ctx, rng, county, cat.site, anpr=True)
        switching = spec.switch_after is not None and i == spec.switch_after and in_slot > 0
        arrive = t + float(travel_time(px, py, sx, sy, 12.0))
        if in_slot >= quota[slot_i] or arrive > slots[slot_i][1] - 0.2 * HOUR:
            if in_slot > 0:  # home with the vehicle of the last case
                leg(used_by_case[-1], px, py, bx, by, t)
            slot_i, in_slot = slot_i + 1, 0
            if slot_i >= len(slots):
                break
            t, px, py = slots[slot_i][0] + rng.uniform(0, 0.3 * HOUR), bx, by
        elif switching:  # back to base to change vehicles
            t = leg(0, px, py, bx, by, t) + rng.uniform(10, 20) * 60
            px, py = bx, by
        arrive = leg(vehicle, px, py, sx, sy, t)
        slot_len = slots[slot_i][1] - slots[slot_i][0]
        dwell = max(8 * 60.0, min(rng.uniform(20, 40) * 60, 0.6 * slot_len / max(quota[slot_i], 1)))
        t_c = arrive + dwell / 2
        # reads near the scene: on approach, and often when leaving; about half the
        # time the crew comes by a road that does not pass the nearest camera
        avoid = rng.random() < 0.5 and len(world.near(sx, sy, _NEAR_SCENE_M)) > 1
        if avoid:
            nearest = int(world.near(sx, sy, _NEAR_SCENE_M)[0])
            ctx.reads.hide(int(ents[vehicle]), nearest, arrive - HOUR, arrive + dwell + HOUR)
        reads = [(_near_read(ctx, rng, sx, sy, avoid_nearest=avoid), arrive - rng.uniform(60, 420))]
        if rng.random() < 0.5:
            reads.append(
                (
                    _near_read(ctx, rng, sx, sy, avoid_nearest=avoid),
                    arrive + dwell + rng.uniform(60, 300),
                )
            )
        for cp, tr in reads:
            ctx.reads.add([ents[vehicle]], [cp], [tr])
            if (
                vehicle == 0
                and phone_of
                and world.checkpoints["probe"].iat[cp]
                and rng.random() < 0.7
            ):
                ctx.reads.add([phone_of[int(ents[0])]], [cp], [tr + rng.normal(0, 20)])
        d = _vehicle_case(ctx, rng, spec, sid, i, county, sx, sy, t_c, mo)
        drafts.append(d)
        used_by_case.append(vehicle)
        t, px, py = arrive + dwell, sx, sy
        in_slot += 1
    leg(used_by_case[-1] if used_by_case else 0, px, py, bx, by, t)
    trips = Trips.concat(legs)
    sense(ctx, trips, phone_of, rng)

    switch = None
    if spec.switch_after is not None and 1 in used_by_case and 0 in used_by_case:
        last_a = max(d.t_crime for d, v in zip(drafts, used_by_case, strict=True) if v == 0)
        first_b = min(d.t_crime for d, v in zip(drafts, used_by_case, strict=True) if v == 1)
        _companions(ctx, rng, ents, bx, by, home_city, last_a, first_b)
        switch = {"from": plates[0], "to": plates[1]}
    if leader is not None:
        _name_leader(ctx, rng, drafts, leader, plates[0])
    truth: dict[str, Any] = {
        "series_id": sid,
        "case_ids": [],
        "category": spec.category,
        "link": "vehicle+person" if leader is not None else "vehicle",
        "vehicles": [p for k, p in enumerate(plates) if k in used_by_case],
        "phones": [leader.phone] if leader is not None else [],
        "persons": [leader.name] if leader is not None else [],
        "counties": sorted({d.county for d in drafts}),
    }
    if switch is not None:
        truth["switch"] = switch
    return drafts, truth


def _companions(
    ctx: Context,
    rng: np.random.Generator,
    ents: np.ndarray,
    bx: float,
    by: float,
    city: int,
    t_a: float,
    t_b: float,
) -> None:
    """The old and the new vehicle make 2-3 trips together around the switch."""
    world = ctx.world
    n_trips = int(rng.integers(2, 4))
    mid = (t_a + t_b) / 2
    t0 = float(np.clip(mid - 1.5 * HOUR, ctx.t_start + 0.2 * HOUR, ctx.t_end - 4 * HOUR))
    pool = world.select(city=city, kinds=("urban", "rural"))
    legs = []
    for k in range(n_trips):
        dest = choose_near(rng, world, np.array([bx]), np.array([by]), pool, 6000.0)[0]
        dx, dy = world.x[dest], world.y[dest]
        start = t0 + k * rng.uniform(0.8, 1.3) * HOUR
        back = start + float(travel_time(bx, by, dx, dy, 11.0)) + rng.uniform(5, 20) * 60
        bend = rng.normal(0, 0.08)
        for x0, y0, x1, y1, ts in ((bx, by, dx, dy, start), (dx, dy, bx, by, back)):
            lag = rng.uniform(20, 90)
            lead, follow = (0, 1) if rng.random() < 0.5 else (1, 0)
            legs.append(
                Trips.of(
                    entity=[ents[lead], ents[follow]],
                    x0=[x0, x0],
                    y0=[y0, y0],
                    x1=[x1, x1],
                    y1=[y1, y1],
                    t0=[ts, ts + lag],
                    speed=[11.0, 11.0],
                    bend=[bend, bend],
                )
            )
    sense(ctx, Trips.concat(legs), {}, rng, p_plate=0.95)


def _vehicle_case(
    ctx: Context,
    rng: np.random.Generator,
    spec: VehicleSeriesSpec,
    sid: str,
    i: int,
    county: int,
    x: float,
    y: float,
    t_c: float,
    mo: list[str],
) -> CaseDraft:
    cat = CATEGORIES[spec.category]
    case_mo = list(mo)
    if rng.random() < 0.25:  # officers record the MO a little differently each time
        case_mo = draw_mo(rng, cat)
    addr = address(ctx, rng, county, cat.site)
    victim = new_company(ctx, rng, county, cat.trades[int(rng.integers(len(cat.trades)))])
    loss = draw_loss(rng, cat)
    d = CaseDraft(
        county=county,
        category=spec.category,
        t_crime=t_c,
        x=x,
        y=y,
        window=make_window(rng, cat.timing, t_c),
        mo=case_mo,
        loss_cny=loss,
        address=addr,
        source=cat.sources[0],
        series=sid,
    )
    d.organizations.append(org_entry(victim, "victim", rng))
    reporter = ctx.people.new(region=county)
    d.persons.append(
        mention(
            reporter,
            "reporter",
            rng,
            phone_format="plain",
            id_form="full" if rng.random() < 0.5 else "absent",
        )
    )
    n_trucks = 1
    if spec.category == "theft.fuel":
        n_trucks = spec.victims[i] if i < len(spec.victims) else int(rng.integers(1, 5))
        city = _city(ctx, county)
        d.vehicles = [
            {"role": "victim", "plate": ctx.plates.new(city, "truck")} for _ in range(n_trucks)
        ]
    d.narrative = narrative(rng, cat, t_c, addr, victim.name, loss, n_trucks)
    d.supplement = rng.random() < 0.04
    return d


def _name_leader(
    ctx: Context, rng: np.random.Generator, drafts: list[CaseDraft], leader: Person, plate: str
) -> None:
    """A guard noted the leader in two cases (name variant, phone) and the plate in one."""
    if len(drafts) < 2:
        return
    picks = sorted(rng.choice(len(drafts), 2, replace=False).tolist())
    styles: tuple[NameStyle, ...] = ("canonical", "homophone")
    for k, j in enumerate(picks):
        drafts[j].persons.append(
            mention(
                leader,
                "suspect",
                rng,
                name_style=styles[k],
                phone_format=PHONE_FORMATS[int(rng.integers(len(PHONE_FORMATS)))],
                id_form="absent",
                with_gender=True,
            )
        )
    drafts[picks[-1]].vehicles.append({"role": "suspect", "plate": plate})


def person_series(
    ctx: Context, spec: PersonSeriesSpec, sid: str
) -> tuple[list[CaseDraft], dict[str, Any], int]:
    """Cases and truth of one fraudster (pair); returns the number of ID typos written."""
    rng = ctx.rngs["series"]
    cat = CATEGORIES[spec.category]
    home = spec.counties[0]
    suspects = []
    for s in spec.suspects:
        if s is None:
            suspects.append(ctx.people.new(region=home))
        else:
            suspects.append(ctx.people.new(name=s[0], gender=s[1], region=home))
    times = sorted(crime_time(rng, ctx, "fraud") for _ in spec.counties)
    shell = None
    if spec.shared_org:
        trade = "投资管理" if spec.category == "fraud.investment" else "商贸"
        shell = new_company(ctx, rng, home, trade)
    formats = [PHONE_FORMATS[k] for k in rng.permutation(len(PHONE_FORMATS))]
    mo = draw_mo(rng, cat)
    typos = 0
    drafts = []
    for i, (county, t_c) in enumerate(zip(spec.counties, times, strict=True)):
        x, y = place_scene(ctx, rng, county, "urban")
        addr = address(ctx, rng, county, "urban")
        loss = draw_loss(rng, cat)
        d = CaseDraft(
            county=county,
            category=spec.category,
            t_crime=t_c,
            x=x,
            y=y,
            window=make_window(rng, cat.timing, t_c),
            mo=list(mo),
            loss_cny=loss,
            address=addr,
            source=cat.sources[int(rng.integers(len(cat.sources)))],
            series=sid,
        )
        org_name = ""
        if cat.enterprise:
            victim = new_company(ctx, rng, county, cat.trades[int(rng.integers(len(cat.trades)))])
            d.organizations.append(org_entry(victim, "victim", rng))
            org_name = victim.name
        if shell is not None:
            d.organizations.append(org_entry(shell, "suspect", rng, p_uscc=0.8))
        d.persons.append(
            mention(
                ctx.people.new(region=county),
                "reporter" if cat.enterprise else "victim",
                rng,
                phone_format="plain",
                id_form="full" if rng.random() < 0.4 else "absent",
            )
        )
        for k, suspect in enumerate(suspects):
            if k > 0 and rng.random() < 0.5:
                continue  # the accomplice is not always mentioned
            style = spec.name_styles[(i + k) % len(spec.name_styles)]
            form = spec.id_forms[(i + 2 * k) % len(spec.id_forms)]
            if k > 0 and form == "typo":
                form = "absent"
            typos += form == "typo"
            fmt = formats[(i + 3 * k) % len(formats)] if (i < 2 or rng.random() < 0.85) else None
            d.persons.append(
                mention(
                    suspect,
                    "suspect",
                    rng,
                    name_style=style,
                    phone_format=fmt,
                    id_form=form,
                    with_dob=form == "absent" and rng.random() < 0.5,
                    with_gender=rng.random() < 0.5,
                )
            )
        d.narrative = narrative(rng, cat, t_c, addr, org_name, loss)
        d.supplement = rng.random() < 0.04
        drafts.append(d)
    truth = {
        "series_id": sid,
        "case_ids": [],
        "category": spec.category,
        "link": "person",
        "vehicles": [],
        "phones": [s.phone for s in suspects],
        "persons": [s.name for s in suspects],
        "counties": sorted({d.county for d in drafts}),
    }
    return drafts, truth, typos


def _extra_specs(ctx: Context, n: int) -> list[VehicleSeriesSpec | PersonSeriesSpec]:
    """Random additional series for larger scenarios."""
    rng = ctx.rngs["series_extra"]
    counties = ctx.world.counties
    codes = counties.index.to_numpy()
    out: list[VehicleSeriesSpec | PersonSeriesSpec] = []
    for k in range(n):
        size = int(rng.integers(2, 7))
        if k % 3 != 2:
            cat = str(
                rng.choice(["theft.fuel", "theft.cargo", "theft.cable", "burglary.commercial"])
            )
            home = int(codes[rng.integers(len(codes))])
            same_city = codes[counties["city"].to_numpy() == counties.loc[home, "city"]]
            if rng.random() < 0.6:
                cs = (home,) * size
            else:
                cs = tuple(int(c) for c in rng.choice(same_city, size))
            out.append(
                VehicleSeriesSpec(
                    cat,
                    cs,
                    home,
                    switch_after=size // 2 if rng.random() < 0.2 and size > 2 else None,
                    with_person=rng.random() < 0.2,
                )
            )
        else:
            cat = str(
                rng.choice(
                    ["fraud.contract", "fraud.invoice", "fraud.investment", "ip.trade_secret"]
                )
            )
            cs = tuple(int(c) for c in rng.choice(codes, size))
            who: tuple[str, str] | None = None
            if rng.random() < 0.3:
                who = COMMON_NAMES[int(rng.integers(len(COMMON_NAMES)))]
            styles = tuple(NAME_STYLES[j] for j in rng.choice(len(NAME_STYLES), size))
            forms: tuple[IdForm, ...] = tuple(
                rng.choice(["full", "masked_dob", "masked_tail", "absent"], size).tolist()
            )
            out.append(
                PersonSeriesSpec(
                    cat,
                    cs,
                    (who,),
                    ("canonical", *styles[1:]) if size > 1 else ("canonical",),
                    forms,
                    shared_org=rng.random() < 0.3,
                )
            )
    return out


def build_series(ctx: Context) -> SeriesResult:
    """All series of the scenario (the core ones, plus extras when ``scale x days`` > 1)."""
    specs: list[VehicleSeriesSpec | PersonSeriesSpec] = [*CORE_VEHICLE, *CORE_PERSON]
    target = int(round(14 * ctx.scale * ctx.days))
    specs += _extra_specs(ctx, max(0, target - len(specs)))
    result = SeriesResult()
    for k, spec in enumerate(specs):
        sid = f"T-{k + 1:03d}"
        if isinstance(spec, VehicleSeriesSpec):
            drafts, truth = vehicle_series(ctx, spec, sid)
        else:
            drafts, truth, typos = person_series(ctx, spec, sid)
            result.id_typos += typos
        if len(drafts) < 2:
            log.warning("series %s got only %d case(s); dropped", sid, len(drafts))
            for d in drafts:
                d.series = None
            result.drafts += drafts
            continue
        result.drafts += drafts
        result.members.append(drafts)
        result.truth.append(truth)
    log.info("%d series with %d cases", len(result.truth), sum(len(m) for m in result.members))
    return result


def fill_case_ids(result: SeriesResult) -> None:
    """Copy the assigned case ids into the truth records."""
    for truth, members in zip(result.truth, result.members, strict=True):
        truth["case_ids"] = [d.case_id for d in members]
