"""Scene queries: which entities were near a scene during its window, and how unusual that is.

For a case (scene point, occurred window) :func:`scene_hits` takes the
checkpoints near the scene under the density-adaptive radius, pads the window
by the travel time from the farthest of them, and reads the sighting index.
Each entity keeps its best hit (nearest checkpoint, then nearest the window)
with the distance, the time offset into the window and a rarity weight.

Rarity. For entity *e* at scene *S* with window length *W*, the expected
number of visits under the background is

* its *own* habit: on how many of the previous ``history_days`` days it was at
  the same checkpoints in the same time-of-day window (smoothed), and
* the *area* background: its overall sighting rate times *W* times the share
  of all traffic that passes these checkpoints during the window;

μ is the larger of the two, fleet vehicles (taxis, buses, logistics) get at
least ``FLEET_MU``, and the hit's probability under the background is
``p = 1 - exp(-μ)``. The weight is ``-ln p``: a truck never seen there at night
weighs several nats, a taxi that is everywhere weighs almost nothing.

Stay. Each hit also carries how long the entity stayed around the scene: the
longest gap between two of its consecutive reads near the scene, up to
``STAY_MAX_S`` (a vehicle seen arriving and again leaving half an hour later
stopped there; one that drove past is seen once, or twice a minute apart).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from geo.projection import point_to_metres
from graph.spacetime import _scene_kernels as kern
from graph.spacetime.checkpoints import CheckpointRegistry
from graph.spacetime.entities import EntityStats
from graph.spacetime.index import PARTITION_S, SightingIndex

__all__ = [
    "STOP_S",
    "History",
    "SceneHits",
    "SceneWindow",
    "describe_duration",
    "history",
    "scene_hits",
    "scene_window",
]

FLEET_MU = 3.0  # p = 0.95: a fleet vehicle near a scene is no evidence
NEAR_M = 1500.0  # checkpoints within this distance count fully
MIN_MU = 0.01  # no hit is rarer than 1 in 100 under the background (weight <= 4.6)
PRIOR_DAYS = 2.0  # pseudo-days of the area background mixed into the entity's own habit
MAX_WEIGHT = 10.0
TRAVEL_SPEED_MPS = 30_000 / 3600  # padding: time to reach the farthest checkpoint at 30 km/h
BASE_PAD_S = 600
STAY_MAX_S = 90 * 60  # reads further apart than this are two visits, not one stay
STOP_S = 8 * 60  # reads at least this far apart near a scene: the entity stopped there


@dataclass(frozen=True)
class SceneWindow:
    """Where and when to look for a case: checkpoints, their distances, padded window."""

    cps: np.ndarray  # int32 checkpoint ids
    dist_m: np.ndarray
    radius_m: float
    x: float  # scene position in metres (GK 120E)
    y: float
    start: int  # index time of occurred_start
    end: int  # index time of occurred_end
    t0: int  # padded
    t1: int


@dataclass(frozen=True)
class SceneHits:
    """Best hit per entity near one scene, as parallel arrays."""

    window: SceneWindow
    ent: np.ndarray  # int32
    cp: np.ndarray  # int32
    t: np.ndarray  # int32 index time
    dist_m: np.ndarray
    weight: np.ndarray  # rarity weight, -ln p
    p: np.ndarray  # probability of such a hit under the background
    #: per entity the longest gap between consecutive reads near the scene up to
    #: STAY_MAX_S (seconds; 0 if seen once or only in passing): arrived, stayed, left
    stay_s: np.ndarray

    def __len__(self) -> int:
        return int(self.ent.shape[0])

    @property
    def offset_s(self) -> np.ndarray:
        """Seconds from the start of the (unpadded) window; negative inside the padding."""
        return self.t.astype(np.int64) - self.window.start


def scene_window(
    registry: CheckpointRegistry, lon: float, lat: float, start: int, end: int
) -> SceneWindow:
    """The checkpoints and padded window a scene query reads. ``ValueError`` if end < start."""
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}; expected start <= end")
    x, y = point_to_metres(lon, lat)  # once: the checkpoint lookup needs it too
    cps, dist, radius = registry.near_scene(lon, lat, at=(x, y))
    far = float(dist[-1]) if dist.size else radius  # nearest first: the last is the farthest
    pad = int(BASE_PAD_S + far / TRAVEL_SPEED_MPS)
    return SceneWindow(
        cps.astype(np.int32),
        dist,
        radius,
        x,
        y,
        start,
        end,
        start - pad,
        end + pad,
    )


Excuse = Callable[[np.ndarray, int, int], np.ndarray]


BLOCK_S = 21600  # the local day in four 6-hour blocks, as EntityStats.time_of_day_factor
LOCAL_OFFSET_S = 8 * 3600


def _blocks(t0: int, t1: int) -> np.ndarray:
    """Absolute numbers of the local 6-hour blocks that [t0, t1] touches."""
    return np.arange((t0 + LOCAL_OFFSET_S) // BLOCK_S, (t1 + LOCAL_OFFSET_S) // BLOCK_S + 1)


@functools.lru_cache(maxsize=4096)
def _block_spans(t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The local 6-hour blocks [t0, t1] touches, each block's part of it (starts, ends)
    and that part's length in hours (at least a minute).

    Cached: a case's window is judged three times and again for each late sighting, and
    these are four small numpy operations each time. The arrays are shared: read-only.
    """
    blocks = _blocks(t0, t1)
    starts = np.maximum(blocks * BLOCK_S - LOCAL_OFFSET_S, t0)
    ends = np.minimum((blocks + 1) * BLOCK_S - LOCAL_OFFSET_S, t1)
    hours = np.maximum((ends - starts) / 3600.0, 1.0 / 60.0)
    for arr in (blocks, starts, ends, hours):
        arr.flags.writeable = False
    return blocks, starts, ends, hours


def _held_days(index: SightingIndex, w: SceneWindow, days: int) -> Iterator[tuple[int, int, int]]:
    """(k, t0, t1) of the window shifted back k = 1..days days, for the days the index holds.

    The retention floor is read once (a property that computes) and the partition test
    is a set operation, not a generator: every scene query asks this for each of its
    ``days`` days. Days further back only end earlier, so the first one past the floor
    ends the search.
    """
    oldest = index.oldest_time
    held = index.partitions.keys()
    for k in range(1, days + 1):
        t0, t1 = w.t0 - k * 86400, w.t1 - k * 86400
        if t1 < oldest:
            return
        if not held.isdisjoint(range(t0 // PARTITION_S, t1 // PARTITION_S + 1)):
            yield k, t0, t1


def _own_blocks(
    index: SightingIndex,
    w: SceneWindow,
    ents: np.ndarray,
    blocks: np.ndarray,
    days: int,
    excused: Excuse | None,
) -> tuple[np.ndarray, int]:
    """On how many of the previous ``days`` days each entity was at the scene's checkpoints
    in each of the window's time-of-day blocks, and how many of those days the index holds.

    ``ents`` are distinct entity ids in ascending order; the answer is an ``(len(ents), len(blocks))`` count.
    A presence that ``excused(ents, t0, t1)`` explains (the entity was then near
    another case's scene) is not habit: a serial offender's earlier visits to
    nearby scenes must not make its later visits look ordinary.
    """
    counts = np.zeros((ents.size, blocks.size), dtype=np.int64)
    available = 0
    for k, t0, t1 in _held_days(index, w, days):
        available += 1
        seen, _, seen_t = index.query(w.cps, t0, t1)
        # rows of ``ents`` (sorted, distinct) by binary search: a lookup table as long as
        # the largest entity id cost a province-sized allocation per query
        row, blk = kern.day_presence(
            ents, seen, seen_t, k * 86400 + LOCAL_OFFSET_S, int(blocks[0]), blocks.size, BLOCK_S
        )
        if not row.size:
            continue
        hit = np.zeros((ents.size, blocks.size), dtype=bool)
        hit[row, blk] = True
        if excused is not None:
            present = np.flatnonzero(hit.any(axis=1))
            hit[present[excused(ents[present], t0, t1)]] = False
        counts += hit
    return counts, available


@dataclass(frozen=True)
class History:
    """Every entity seen at a window's checkpoints on the previous days, per time-of-day
    block: ``ents`` (sorted ids), ``counts[i, b]`` days present, ``available`` days held.

    Built once per case window (the past does not change much) and reused by the
    standing query, which otherwise re-reads ``history_days`` windows for every late
    sighting that falls into the case's window.
    """

    ents: np.ndarray
    counts: np.ndarray
    available: int

    def lookup(self, ents: np.ndarray, n_blocks: int) -> np.ndarray:
        """Counts for ``ents`` (zeros for entities never seen there)."""
        out = np.zeros((ents.size, n_blocks), dtype=np.int64)
        if self.ents.size == 0 or ents.size == 0:
            return out
        at = np.clip(np.searchsorted(self.ents, ents), 0, self.ents.size - 1)
        found = self.ents[at] == ents
        out[found] = self.counts[at[found]]
        return out


def history(index: SightingIndex, w: SceneWindow, days: int) -> History:
    """:class:`History` of a window (no presence excused)."""
    blocks = _blocks(w.t0, w.t1)
    per_day: list[tuple[np.ndarray, np.ndarray]] = []
    available = 0
    for k, t0, t1 in _held_days(index, w, days):
        available += 1
        seen, _, seen_t = index.query(w.cps, t0, t1)
        if seen.size:
            blk = np.clip(
                (seen_t + k * 86400 + LOCAL_OFFSET_S) // BLOCK_S - blocks[0], 0, blocks.size - 1
            )
            # one presence per (entity, block) and day
            per_day.append((seen.astype(np.int64), blk.astype(np.int64)))
    if not per_day:
        return History(np.empty(0, np.int64), np.zeros((0, blocks.size), np.int64), available)
    ents = np.unique(np.concatenate([e for e, _ in per_day]))
    counts = np.zeros((ents.size, blocks.size), dtype=np.int64)
    for e, b in per_day:
        code = np.unique(np.searchsorted(ents, e) * blocks.size + b)
        np.add.at(counts, (code // blocks.size, code % blocks.size), 1)
    return History(ents, counts, available)


def scene_hits(
    index: SightingIndex,
    registry: CheckpointRegistry,
    stats: EntityStats,
    window: SceneWindow,
    history_days: int = 7,
    only: np.ndarray | None = None,
    excused: Excuse | None = None,
    past: History | None = None,
) -> SceneHits:
    """Entities near a scene during its padded window, best hit each, with rarity weights.

    Rarity is judged per local 6-hour block of the window: for each entity the
    expected visits μ_b of every block (own habit and area background, each
    with that block's time-of-day activity), and the hit kept is one in the
    block where its presence is least expected. Its probability under the
    background is that of a visit to *any* block at least as unusual,
    ``1 - exp(-sum of μ_b over blocks with μ_b <= μ_min)``: a commuter seen at
    18:00 and at 00:45 near a scene with a 16:30-06:00 window is judged by the
    00:45 read, with the look-elsewhere cost of the other night blocks. For an
    entity as active at every hour this is the whole window's μ.

    ``only`` restricts the answer to some entity ids (used for late sightings);
    ``past`` (with no ``excused``) replaces the history queries by a table built once.
    Complexity: one index window query plus ``history_days`` history queries; the
    per-read and per-entity work is a few numba kernels (:mod:`._scene_kernels`), which
    give bit for bit what the numpy expressions they replaced gave.
    """
    ent, cp, t = index.query(window.cps, window.t0, window.t1)
    if only is not None and ent.size:
        if 0 < only.size <= 8:  # the usual late sighting: a few entities, no sort
            keep = ent == only[0]
            for e in only[1:].tolist():
                keep |= ent == e
        else:
            keep = np.isin(ent, only)
        ent, cp, t = ent[keep], cp[keep], t[keep]
    if ent.size == 0:
        z = np.empty(0)
        zi = np.empty(0, np.int32)
        return SceneHits(window, zi, zi, zi, z, z, z, zi)
    blocks, starts, ends, hours = _block_spans(window.t0, window.t1)
    uniq, row_of, stay = kern.entity_rows(ent, t, STAY_MAX_S)
    rasters = registry.density_rasters()
    rate, share, tod, fleet = stats.background(
        uniq, window.x, window.y, int(window.cps.size), rasters, starts, ends
    )
    if past is not None and excused is None:
        own, available = past.lookup(uniq.astype(np.int64), blocks.size), past.available
    else:
        own, available = _own_blocks(index, window, uniq, blocks, history_days, excused)
    mu = kern.expected_visits(
        rate, share, hours, tod, own, available + PRIOR_DAYS, PRIOR_DAYS, fleet, FLEET_MU
    )
    # per entity the read in its least expected block, nearest checkpoint first, then
    # nearest the middle of the window; the blocks at most as expected as that one
    first, masked, dist, proximity = kern.best_rows(
        row_of,
        cp,
        t,
        mu,
        window.cps,
        window.dist_m,
        int(blocks[0]),
        BLOCK_S,
        LOCAL_OFFSET_S,
        0.5 * (window.start + window.end),
        1 + 1e-9,
        NEAR_M,
    )
    total = np.maximum(masked.sum(axis=1), MIN_MU)
    p = -np.expm1(-total)
    # A camera kilometres away says less about who was at the scene than one at the gate:
    # beyond NEAR_M the weight shrinks with the square root of the distance (``proximity``).
    weight = np.minimum(-np.log(p), MAX_WEIGHT) * proximity
    return SceneHits(window, ent[first], cp[first], t[first], dist, weight, p, stay)


def describe_offset(offset_s: int, start: int, end: int) -> str:
    """'14 min into its window', '25 min before its window', '1 h 5 min after its window'."""
    if offset_s < 0:
        return f"{_dur(-offset_s)} before its window"
    if start + offset_s > end:
        return f"{_dur(start + offset_s - end)} after its window"
    return f"{_dur(offset_s)} into its window"


def describe_duration(seconds: int) -> str:
    """'32 min', '1 h 5 min'."""
    return _dur(seconds)


def _dur(seconds: int) -> str:
    minutes = int(math.ceil(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def describe_distance(metres: float) -> str:
    """'600 m', '1.2 km'."""
    if metres < 1000:
        return f"{int(round(metres, -1))} m"
    return f"{metres / 1000:.1f} km"
