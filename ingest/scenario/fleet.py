"""The background fleet: commuters, taxis, buses and logistics trucks, and their reads.

* **cars** live in one city with a home and a work anchor; on weekdays most
  commute (morning and evening), and everyone runs a few errands to nearby
  places; a few drive at night. About a third carry a phone that probes see.
* **taxis** cruise their part of the city around the clock;
* **buses** shuttle along one fixed route from 06:00 to 22:30;
* **trucks** run hub-and-spoke from a depot to sites across the province, day
  and night.

Taxis, buses and trucks are the *ubiquitous* vehicles: seen near many scenes
without having anything to do with them.

Example
-------
>>> # see ingest.scenario.generate(); building a fleet needs a full Context
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np

from .clock import CST, DAY, HOUR, hour_of_day
from .registry import Context
from .trips import Trips, travel_time, trip_reads
from .world import CITY_CENTRES, World

__all__ = ["CITY_WEIGHTS", "Cars", "Fleet", "build_fleet", "choose_near", "sense"]

log = logging.getLogger(__name__)

#: Share of vehicles registered in each city (roughly by population).
CITY_WEIGHTS: dict[int, float] = {
    330100: 0.19,
    330200: 0.15,
    330300: 0.15,
    330400: 0.085,
    330500: 0.053,
    330600: 0.082,
    330700: 0.11,
    330800: 0.035,
    330900: 0.018,
    331000: 0.10,
    331100: 0.04,
}
_P_PLATE_READ = 0.92
_P_PHONE_READ = 0.7


@dataclass
class Cars:
    """Vehicles with home/work anchors (metres) and optional phones (-1: none)."""

    plate_entity: np.ndarray
    phone_entity: np.ndarray
    city: np.ndarray
    home_x: np.ndarray
    home_y: np.ndarray
    work_x: np.ndarray
    work_y: np.ndarray

    def __len__(self) -> int:
        return len(self.plate_entity)


@dataclass
class Fleet:
    """Everything on the roads in the background, and which plates are ubiquitous."""

    cars: Cars
    ubiquitous: dict[str, list[str]] = field(default_factory=dict)
    phone_of_entity: dict[int, int] = field(default_factory=dict)


def choose_near(
    rng: np.random.Generator,
    world: World,
    fx: np.ndarray,
    fy: np.ndarray,
    cand: np.ndarray,
    scale_m: float,
    min_m: float = 0.0,
) -> np.ndarray:
    """For each origin, one candidate checkpoint drawn with weight exp(-distance/scale)
    (candidates closer than ``min_m`` only when nothing else is left).

    O(len(fx) x len(cand)) memory, done in chunks.
    """
    out = np.empty(len(fx), dtype=np.int64)
    for s in range(0, len(fx), 2000):
        d = np.hypot(
            world.x[cand][None, :] - fx[s : s + 2000, None],
            world.y[cand][None, :] - fy[s : s + 2000, None],
        )
        w = np.exp(-d / scale_m) * (d >= min_m) + 1e-12
        cum = np.cumsum(w, axis=1)
        u = rng.random(len(cum)) * cum[:, -1]
        out[s : s + 2000] = cand[np.minimum((cum < u[:, None]).sum(axis=1), len(cand) - 1)]
    return out


def _pick(rng: np.random.Generator, cand: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    p = weights / weights.sum()
    return cand[rng.choice(len(cand), n, p=p)]


def _cities(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = np.array(list(CITY_WEIGHTS))
    p = np.array(list(CITY_WEIGHTS.values()))
    return codes[rng.choice(len(codes), n, p=p / p.sum())]


def place_cars(
    ctx: Context, city: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Home and work anchors (metres) for cars registered in ``city``."""
    world = ctx.world
    kind = world.checkpoints["kind"].to_numpy()
    n = len(city)
    hx, hy, wx, wy = (np.empty(n) for _ in range(4))
    for code in np.unique(city):
        rows = np.flatnonzero(city == code)
        cand = world.select(city=int(code), kinds=("urban", "rural"))
        home = _pick(rng, cand, np.where(kind[cand] == "urban", 3.0, 1.0), len(rows))
        hx[rows] = world.x[home] + rng.normal(0, 700, len(rows))
        hy[rows] = world.y[home] + rng.normal(0, 700, len(rows))
        urban = world.select(city=int(code), kinds=("urban",))
        work = choose_near(rng, world, hx[rows], hy[rows], urban, 9000.0)
        wx[rows] = world.x[work] + rng.normal(0, 400, len(rows))
        wy[rows] = world.y[work] + rng.normal(0, 400, len(rows))
    # a few commute to a neighbouring city's downtown
    cross = np.flatnonzero(rng.random(n) < 0.03)
    centres = np.array(list(CITY_CENTRES))
    for i in cross:
        other = int(centres[rng.integers(len(centres))])
        urban = world.select(city=other, kinds=("urban",))
        j = choose_near(rng, world, hx[i : i + 1], hy[i : i + 1], urban, 40000.0)[0]
        wx[i], wy[i] = world.x[j], world.y[j]
    return hx, hy, wx, wy


def car_trips(ctx: Context, cars: Cars, rng: np.random.Generator) -> Trips:
    """All trips of ``cars`` over the scenario horizon (commutes, errands, night trips)."""
    world = ctx.world
    parts: list[Trips] = []
    n = len(cars)
    n_days = int(np.ceil(ctx.days)) + 1
    day0 = ctx.t_start - (ctx.t_start + 8 * HOUR) % DAY  # local midnight of the first day
    dest_pool = {
        int(c): world.select(city=int(c), kinds=("urban", "rural")) for c in np.unique(cars.city)
    }
    for d in range(-1, n_days):
        base = day0 + d * DAY
        weekday = dt.datetime.fromtimestamp(base + HOUR, CST).weekday() < 5
        commute = rng.random(n) < (0.8 if weekday else 0.25)
        t_am = base + np.clip(rng.normal(7.8, 0.6, n), 5.5, 11.0) * HOUR
        t_pm = base + np.clip(rng.normal(17.8, 1.0, n), 15.0, 23.0) * HOUR
        idx = np.flatnonzero(commute)
        parts.append(
            _trips(
                cars.plate_entity[idx],
                cars.home_x[idx],
                cars.home_y[idx],
                cars.work_x[idx],
                cars.work_y[idx],
                t_am[idx],
                rng,
            )
        )
        parts.append(
            _trips(
                cars.plate_entity[idx],
                cars.work_x[idx],
                cars.work_y[idx],
                cars.home_x[idx],
                cars.home_y[idx],
                t_pm[idx],
                rng,
            )
        )
        # errands: out from home (or work, during working hours) and back
        n_err = np.minimum(rng.poisson(1.0 if weekday else 1.8, n), 3)
        car = np.repeat(np.arange(n), n_err)
        t_out = base + rng.uniform(8.5, 21.0, len(car)) * HOUR
        at_work = commute[car] & (t_out > t_am[car] + HOUR) & (t_out < t_pm[car])
        ox = np.where(at_work, cars.work_x[car], cars.home_x[car])
        oy = np.where(at_work, cars.work_y[car], cars.home_y[car])
        dest = np.empty(len(car), dtype=np.int64)
        for code, pool in dest_pool.items():
            rows = np.flatnonzero(cars.city[car] == code)
            if len(rows):
                dest[rows] = choose_near(rng, world, ox[rows], oy[rows], pool, 5000.0)
        dx = world.x[dest] + rng.normal(0, 300, len(car))
        dy = world.y[dest] + rng.normal(0, 300, len(car))
        t_back = t_out + travel_time(ox, oy, dx, dy, 9.0) + rng.uniform(0.3, 2.5, len(car)) * HOUR
        parts.append(_trips(cars.plate_entity[car], ox, oy, dx, dy, t_out, rng))
        parts.append(_trips(cars.plate_entity[car], dx, dy, ox, oy, t_back, rng))
        # night owls
        owl = np.flatnonzero(rng.random(n) < 0.06)
        t_n = base + rng.uniform(21.5, 26.0, len(owl)) * HOUR
        dest = np.empty(len(owl), dtype=np.int64)
        for code, pool in dest_pool.items():
            rows = np.flatnonzero(cars.city[owl] == code)
            if len(rows):
                dest[rows] = choose_near(
                    rng, world, cars.home_x[owl[rows]], cars.home_y[owl[rows]], pool, 7000.0
                )
        nx, ny = world.x[dest], world.y[dest]
        hx, hy = cars.home_x[owl], cars.home_y[owl]
        t_nb = t_n + travel_time(hx, hy, nx, ny, 11.0) + rng.uniform(0.5, 2.0, len(owl)) * HOUR
        parts.append(_trips(cars.plate_entity[owl], hx, hy, nx, ny, t_n, rng))
        parts.append(_trips(cars.plate_entity[owl], nx, ny, hx, hy, t_nb, rng))
    return Trips.concat(parts)


def _trips(
    entity: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    t0: np.ndarray,
    rng: np.random.Generator,
    speed: float | None = None,
    bend: float = 0.12,
) -> Trips:
    n = len(entity)
    length = np.hypot(x1 - x0, y1 - y0)
    if speed is None:
        v = np.where(length > 25_000, 20.0, np.clip(rng.normal(9.0, 1.5, n), 5.0, 14.0))
    else:
        v = np.full(n, speed)
    return Trips.of(
        entity=entity, x0=x0, y0=y0, x1=x1, y1=y1, t0=t0, speed=v, bend=rng.normal(0, bend, n)
    )


def _chain(
    entity: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    t_first: np.ndarray,
    speed: float,
    gap_s: float,
    rng: np.random.Generator,
) -> Trips:
    """Legs P[:, k] -> P[:, k+1] driven back to back (with exponential gaps) per vehicle."""
    n, k1 = px.shape
    x0, y0, x1, y1 = px[:, :-1], py[:, :-1], px[:, 1:], py[:, 1:]
    dur = travel_time(x0, y0, x1, y1, speed)
    gaps = rng.exponential(gap_s, (n, k1 - 1))
    t0 = t_first[:, None] + np.concatenate(
        [np.zeros((n, 1)), np.cumsum(dur + gaps, axis=1)[:, :-1]], axis=1
    )
    ent = np.repeat(entity[:, None], k1 - 1, axis=1)
    return Trips.of(
        entity=ent.ravel(),
        x0=x0.ravel(),
        y0=y0.ravel(),
        x1=x1.ravel(),
        y1=y1.ravel(),
        t0=t0.ravel(),
        speed=np.full(ent.size, speed),
        bend=rng.normal(0, 0.1, ent.size),
    )


def taxi_trips(
    ctx: Context, entity: np.ndarray, city: np.ndarray, rng: np.random.Generator
) -> Trips:
    """Taxis cruising their zone of the city around the clock (fewer fares 01-05 h)."""
    world = ctx.world
    n = len(entity)
    legs = int(ctx.days * 80) + 6
    px = np.empty((n, legs + 1))
    py = np.empty((n, legs + 1))
    for code in np.unique(city):
        rows = np.flatnonzero(city == code)
        urban = world.select(city=int(code), kinds=("urban",))
        zone = _pick(rng, urban, np.ones(len(urban)), len(rows))
        zx = np.repeat(world.x[zone], legs + 1)
        zy = np.repeat(world.y[zone], legs + 1)
        stops = choose_near(rng, world, zx, zy, urban, 5000.0)
        px[rows] = (world.x[stops] + rng.normal(0, 250, len(stops))).reshape(len(rows), legs + 1)
        py[rows] = (world.y[stops] + rng.normal(0, 250, len(stops))).reshape(len(rows), legs + 1)
    trips = _chain(entity, px, py, ctx.t_start - rng.uniform(0, 1800, n), 8.5, 420.0, rng)
    hour = hour_of_day(trips.t0)
    quiet = (hour >= 1.0) & (hour < 5.5) & (rng.random(len(trips)) < 0.65)
    return _subset(trips, ~quiet & (trips.t0 < ctx.t_end))


def bus_trips(
    ctx: Context, entity: np.ndarray, city: np.ndarray, rng: np.random.Generator
) -> Trips:
    """Buses shuttling along one fixed route each, 06:00-22:30 every day."""
    world = ctx.world
    n = len(entity)
    ax, ay, bx, by = (np.empty(n) for _ in range(4))
    for code in np.unique(city):
        rows = np.flatnonzero(city == code)
        urban = world.select(city=int(code), kinds=("urban",))
        a = _pick(rng, urban, np.ones(len(urban)), len(rows))
        b = choose_near(rng, world, world.x[a], world.y[a], urban, 6000.0, min_m=3000.0)
        ax[rows], ay[rows], bx[rows], by[rows] = world.x[a], world.y[a], world.x[b], world.y[b]
    bend = rng.normal(0, 0.1, n)
    one_way = travel_time(ax, ay, bx, by, 6.0) + 480.0
    day0 = ctx.t_start - (ctx.t_start + 8 * HOUR) % DAY
    parts = []
    for d in range(int(np.ceil(ctx.days)) + 1):
        first = day0 + d * DAY + 6 * HOUR + rng.uniform(0, 1200, n)
        n_legs = int((16.5 * HOUR) // max(float(one_way.min()), 600.0)) + 1
        k = np.arange(n_legs)
        t0 = first[:, None] + k[None, :] * one_way[:, None]
        ok = t0 < (day0 + d * DAY + 22.5 * HOUR)
        outbound = (k % 2 == 0)[None, :].repeat(n, 0)
        x0 = np.where(outbound, ax[:, None], bx[:, None])
        y0 = np.where(outbound, ay[:, None], by[:, None])
        x1 = np.where(outbound, bx[:, None], ax[:, None])
        y1 = np.where(outbound, by[:, None], ay[:, None])
        b = np.where(outbound, bend[:, None], -bend[:, None])
        ent = np.repeat(entity[:, None], n_legs, axis=1)
        parts.append(
            Trips.of(
                entity=ent[ok],
                x0=x0[ok],
                y0=y0[ok],
                x1=x1[ok],
                y1=y1[ok],
                t0=t0[ok],
                speed=np.full(int(ok.sum()), 6.0),
                bend=b[ok],
            )
        )
    return Trips.concat(parts)


def truck_trips(
    ctx: Context, entity: np.ndarray, city: np.ndarray, rng: np.random.Generator
) -> Trips:
    """Logistics trucks: depot -> site -> depot -> site ..., day and night."""
    world = ctx.world
    n = len(entity)
    legs = 2 * (int(ctx.days * 9) + 3)
    every = world.select(kinds=("urban", "rural", "highway"))
    kind = world.checkpoints["kind"].to_numpy()
    px = np.empty((n, legs + 1))
    py = np.empty((n, legs + 1))
    for code in np.unique(city):
        rows = np.flatnonzero(city == code)
        cand = world.select(city=int(code), kinds=("rural", "highway", "urban"))
        depot = _pick(rng, cand, np.where(kind[cand] == "urban", 0.3, 1.0), len(rows))
        dx = world.x[depot] + rng.normal(0, 500, len(rows))
        dy = world.y[depot] + rng.normal(0, 500, len(rows))
        n_sites = legs // 2 + 1
        sites = choose_near(
            rng, world, np.repeat(dx, n_sites), np.repeat(dy, n_sites), every, 45000.0
        )
        sx = world.x[sites].reshape(len(rows), n_sites)
        sy = world.y[sites].reshape(len(rows), n_sites)
        px[rows, 0::2] = dx[:, None]
        py[rows, 0::2] = dy[:, None]
        px[rows, 1::2] = sx[:, : (legs + 1) // 2]
        py[rows, 1::2] = sy[:, : (legs + 1) // 2]
    trips = _chain(entity, px, py, ctx.t_start - rng.uniform(0, 4 * HOUR, n), 16.0, 2400.0, rng)
    return _subset(trips, trips.t0 < ctx.t_end)


def _subset(trips: Trips, mask: np.ndarray) -> Trips:
    return Trips(
        *(
            getattr(trips, f)[mask]
            for f in ("entity", "x0", "y0", "x1", "y1", "t0", "speed", "bend")
        )
    )


def sense(
    ctx: Context,
    trips: Trips,
    phone_of: dict[int, int],
    rng: np.random.Generator,
    p_plate: float = _P_PLATE_READ,
) -> int:
    """Turn trips into reads in ``ctx.reads``: plates at ANPR cameras (some misses),
    the carried phone (``phone_of[plate entity]``) at probes. Returns reads added."""
    ent, cp, t = trip_reads(ctx.world, trips, rng)
    in_time = (t >= ctx.t_start) & (t < ctx.t_end)
    ent, cp, t = ent[in_time], cp[in_time], t[in_time]
    anpr = ctx.world.checkpoints["anpr"].to_numpy()
    probe = ctx.world.checkpoints["probe"].to_numpy()
    plate_ok = anpr[cp] & (rng.random(len(cp)) < p_plate)
    ctx.reads.add(ent[plate_ok], cp[plate_ok], t[plate_ok])
    added = int(plate_ok.sum())
    if phone_of:
        lookup = np.full(len(ctx.entities), -1, dtype=np.int64)
        keys = np.fromiter(phone_of.keys(), dtype=np.int64)
        lookup[keys] = np.fromiter(phone_of.values(), dtype=np.int64, count=len(keys))
        phone = lookup[ent]
        ok = (phone >= 0) & probe[cp] & (rng.random(len(cp)) < _P_PHONE_READ)
        ctx.reads.add(phone[ok], cp[ok], t[ok] + rng.normal(0, 20, int(ok.sum())))
        added += int(ok.sum())
    return added


def build_fleet(ctx: Context) -> Fleet:
    """Create the background fleet and log all of its reads. O(vehicles x trips)."""
    rng = ctx.rngs["fleet"]
    scale = ctx.scale
    n_cars = max(50, int(round(8000 * scale)))
    city = _cities(rng, n_cars)
    outside = rng.random(n_cars) < 0.03
    plates = [
        ctx.plates.new(int(c), "car", outside=bool(o)) for c, o in zip(city, outside, strict=True)
    ]
    plate_ent = ctx.entities.add_many("plate", plates)
    has_phone = rng.random(n_cars) < 0.33
    phone_ent = np.full(n_cars, -1, dtype=np.int64)
    phone_ent[has_phone] = ctx.entities.add_many(
        "phone", [ctx.people.new_phone() for _ in range(int(has_phone.sum()))]
    )
    hx, hy, wx, wy = place_cars(ctx, city, rng)
    cars = Cars(plate_ent, phone_ent, city, hx, hy, wx, wy)
    phone_of = {int(p): int(f) for p, f in zip(plate_ent, phone_ent, strict=True) if f >= 0}
    n = sense(ctx, car_trips(ctx, cars, rng), phone_of, rng)
    log.info("%d background cars: %d reads", n_cars, n)

    ubiquitous: dict[str, list[str]] = {}
    for kind, count, builder in (
        ("taxi", 150, taxi_trips),
        ("bus", 60, bus_trips),
        ("truck", 120, truck_trips),
    ):
        k = max(3, int(round(count * scale)))
        vcity = _cities(rng, k)
        vplates = [ctx.plates.new(int(c), "taxi" if kind == "taxi" else "car") for c in vcity]
        vent = ctx.entities.add_many("plate", vplates)
        vphone: dict[int, int] = {}
        if kind == "taxi":
            for e in vent[rng.random(k) < 0.5]:
                vphone[int(e)] = ctx.entities.add("phone", ctx.people.new_phone())
        n = sense(ctx, builder(ctx, vent, vcity, rng), vphone, rng)
        ubiquitous[kind] = vplates
        log.info("%d %s vehicles: %d reads", k, kind, n)
    return Fleet(cars=cars, ubiquitous=ubiquitous, phone_of_entity=phone_of)
