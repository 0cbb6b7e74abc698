"""Trips to checkpoint reads, vectorised.

A trip goes from (x0, y0) to (x1, y1) leaving at ``t0`` at ``speed`` m/s along
a gently bent path (``bend`` × length of sideways bulge, so repeated trips
between the same places do not always pass the same cameras). The path is
sampled every ~450 m; each sample snaps to the nearest checkpoint when that one
lies within its capture radius, consecutive repeats are dropped, and the time
of passing is interpolated along the path (roads are ~25 % longer than the
straight line).

Example
-------
>>> import numpy as np
>>> from ingest.scenario.world import build_world
>>> world = build_world(np.random.default_rng(7))
>>> a, b = world.select(city=330200, kinds=("urban",))[:2]
>>> trips = Trips.of(entity=[0], x0=[world.x[a]], y0=[world.y[a]], x1=[world.x[b]],
...                  y1=[world.y[b]], t0=[0.0], speed=[10.0], bend=[0.0])
>>> ent, cp, t = trip_reads(world, trips, np.random.default_rng(0))
>>> bool(len(cp) >= 1 and (np.diff(t) >= -60).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .world import World

__all__ = ["DETOUR", "Trips", "travel_time", "trip_reads"]

DETOUR = 1.25  # road length / straight-line length
_STEP_M = 450.0


def travel_time(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, speed: np.ndarray | float
) -> np.ndarray:
    """Seconds to drive between the points at ``speed`` m/s on roads."""
    return DETOUR * np.hypot(np.asarray(x1) - x0, np.asarray(y1) - y0) / speed


@dataclass(frozen=True)
class Trips:
    """Columns of a batch of trips (all float64 except ``entity``)."""

    entity: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    t0: np.ndarray
    speed: np.ndarray
    bend: np.ndarray

    @classmethod
    def of(cls, **cols: Sequence[float] | np.ndarray) -> Trips:
        """Build from array-likes, checking that all columns have one length."""
        arrays = {
            k: np.asarray(v, dtype=np.int64 if k == "entity" else np.float64)
            for k, v in cols.items()
        }
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) > 1:
            raise ValueError(f"trip columns have lengths {sorted(lengths)}; expected one length")
        return cls(**arrays)

    @classmethod
    def concat(cls, parts: Sequence[Trips]) -> Trips:
        """Stack several batches."""
        names = ("entity", "x0", "y0", "x1", "y1", "t0", "speed", "bend")
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    def __len__(self) -> int:
        return len(self.entity)


def trip_reads(
    world: World, trips: Trips, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every checkpoint passage of every trip: (entity, checkpoint index, epoch seconds).

    No sensor filtering or read misses yet (see callers). O(total path length / 450 m).
    """
    if len(trips) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    dx = trips.x1 - trips.x0
    dy = trips.y1 - trips.y0
    length = np.hypot(dx, dy)
    m = (length // _STEP_M).astype(np.int64) + 2
    trip = np.repeat(np.arange(len(trips)), m)
    first = np.cumsum(m) - m
    k = np.arange(len(trip)) - first[trip]
    f = k / (m - 1)[trip]
    safe = np.where(length > 0, length, 1.0)
    nx, ny = -dy / safe, dx / safe
    off = (trips.bend * length)[trip] * np.sin(np.pi * f)
    px = trips.x0[trip] + f * dx[trip] + off * nx[trip]
    py = trips.y0[trip] + f * dy[trip] + off * ny[trip]
    cp, _ = world.snap(px, py)
    keep = cp >= 0
    trip, f, cp = trip[keep], f[keep], cp[keep]
    # drop a checkpoint repeated by consecutive samples of the same trip
    new = np.ones(len(cp), dtype=bool)
    new[1:] = (cp[1:] != cp[:-1]) | (trip[1:] != trip[:-1])
    trip, f, cp = trip[new], f[new], cp[new]
    duration = DETOUR * length / trips.speed
    t = trips.t0[trip] + f * duration[trip] + rng.normal(0.0, 12.0, len(trip))
    return trips.entity[trip], cp, t
