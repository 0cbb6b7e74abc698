"""Entity keys (normalised plates, phones, MACs) and per-entity background statistics.

Plates are read by cameras as ``浙B12345``, ``浙B 12345`` or ``浙B·12345``; phones
are written with +86, 0086 and separators. :func:`~ingest.entitykeys.entity_key`
(kept with the contract's identifiers, so a worker validating ahead needs nothing of
the space-time core) folds those into one key per physical entity so the index sees
one id.

:class:`EntityStats` keeps, per entity id, how often it is seen: count, first
and last time, and counts per six-hour block of the day. From it comes the
entity's background rate (sightings per hour) and a *fleet* flag for
ubiquitous vehicles (taxis, buses, logistics trucks) that pass near many
scenes day and night.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from graph.spacetime.checkpoints import DensityRasters
from ingest.entitykeys import entity_key

__all__ = ["EntityStats", "entity_key"]

#: the least spread (m) an entity's sightings are modelled with (see share_near)
MIN_SIGMA_M = 2000.0


@functools.lru_cache(maxsize=4096)
def _block_weights(h0: int, h1: int) -> np.ndarray:
    """Share of the hours h0..h1 (index hours) in each six-hour block of the local day.

    Cached: a scene's window asks for the same hours at every standing query.
    The array is shared between callers and must not be written to.
    """
    hours = np.arange(h0, h1 + 1)
    blocks = ((hours * 3600 + 8 * 3600) % 86400) // 21600
    weights = np.bincount(blocks, minlength=4)[:4] / max(len(hours), 1)
    weights.flags.writeable = False
    return weights


@njit(cache=True)
def _update(ent, t, x, y, count, first, last, blocks, moments):  # noqa: ANN001, ANN202
    for i in range(ent.shape[0]):
        e = ent[i]
        ti = t[i]
        moments[e, 0] += x[i]
        moments[e, 1] += y[i]
        moments[e, 2] += x[i] * x[i] + y[i] * y[i]
        if count[e] == 0 or ti < first[e]:
            first[e] = ti
        if count[e] == 0 or ti > last[e]:
            last[e] = ti
        count[e] += 1
        blocks[e, ((ti + 8 * 3600) % 86400) // 21600] += 1  # local (+08:00) six-hour block


@njit(cache=True, nogil=True)
def _update_at(ent, t, cp, xs, ys, count, first, last, blocks, moments):  # noqa: ANN001, ANN202
    """:func:`_update` with the positions read from the checkpoints' coordinates
    (``x[i] = xs[cp[i]]``) in the loop, not gathered by numpy first."""
    for i in range(ent.shape[0]):
        e = ent[i]
        ti = t[i]
        x = xs[cp[i]]
        y = ys[cp[i]]
        moments[e, 0] += x
        moments[e, 1] += y
        moments[e, 2] += x * x + y * y
        if count[e] == 0 or ti < first[e]:
            first[e] = ti
        if count[e] == 0 or ti > last[e]:
            last[e] = ti
        count[e] += 1
        blocks[e, ((ti + 8 * 3600) % 86400) // 21600] += 1  # local (+08:00) six-hour block


@njit(cache=True, nogil=True)
def _extent(ent, t):  # noqa: ANN001, ANN202
    """(largest entity id, earliest time, latest time) of a non-empty batch, in one pass."""
    e_max = ent[0]
    t_min = t[0]
    t_max = t[0]
    for i in range(1, ent.shape[0]):
        e_max = max(e_max, ent[i])
        t_min = min(t_min, t[i])
        t_max = max(t_max, t[i])
    return e_max, t_min, t_max


@njit(cache=True)
def _raster_at(grids, x0, y0, cell, level, x, y):  # noqa: ANN001, ANN202
    """Bilinear value of one density raster at (x, y), clamped to the raster."""
    ny, nx = grids.shape[1], grids.shape[2]
    fc = min(max((x - x0) / cell - 0.5, 0.0), nx - 1.0)
    fr = min(max((y - y0) / cell - 0.5, 0.0), ny - 1.0)
    c0, r0 = int(fc), int(fr)
    c1, r1 = min(c0 + 1, nx - 1), min(r0 + 1, ny - 1)
    wc, wr = fc - c0, fr - r0
    top = grids[level, r0, c0] * (1 - wc) + grids[level, r0, c1] * wc
    bottom = grids[level, r1, c0] * (1 - wc) + grids[level, r1, c1] * wc
    return top * (1 - wr) + bottom * wr


@njit(cache=True)
def _share(ent, count, moments, x, y, n_near, grids, x0, y0, cell, log_sigmas, min_sigma):  # noqa: ANN001, ANN202
    out = np.zeros(ent.shape[0])
    n_levels = log_sigmas.shape[0]
    for i in range(ent.shape[0]):
        e = ent[i]
        n = count[e]
        if n == 0:
            continue
        mx = moments[e, 0] / n
        my = moments[e, 1] / n
        var = (moments[e, 2] / n - mx * mx - my * my) / 2.0
        s2 = max(var, min_sigma * min_sigma)
        # interpolate the blurred density between the two nearest spreads (log scale)
        ls = 0.5 * np.log(s2)
        pos = 0.0
        if ls >= log_sigmas[n_levels - 1]:
            pos = n_levels - 1.0
        elif ls > log_sigmas[0]:
            k = 0
            while log_sigmas[k + 1] < ls:
                k += 1
            pos = k + (ls - log_sigmas[k]) / (log_sigmas[k + 1] - log_sigmas[k])
        lo = int(pos)
        hi = min(lo + 1, n_levels - 1)
        w = pos - lo
        d_lo = _raster_at(grids, x0, y0, cell, lo, mx, my)
        d_hi = _raster_at(grids, x0, y0, cell, hi, mx, my)
        denom = np.exp((1 - w) * np.log(max(d_lo, 1e-12)) + w * np.log(max(d_hi, 1e-12)))
        here = n_near * np.exp(-((x - mx) ** 2 + (y - my) ** 2) / (2.0 * s2))
        out[i] = min(1.0, here / max(denom, here, 1e-12))
    return out


@njit(cache=True, nogil=True)
def _rates(ent, count, first, last, floor_h):  # noqa: ANN001, ANN202
    """Sightings per hour over each entity's span (at least ``floor_h``); 0 beyond the arrays."""
    out = np.empty(ent.shape[0])
    cap = count.shape[0]
    for i in range(ent.shape[0]):
        inside = ent[i] < cap
        e = ent[i] if inside else 0
        n = np.float64(count[e]) if inside else 0.0
        span_h = (np.float64(last[e]) - np.float64(first[e])) / 3600.0
        out[i] = n / max(floor_h, span_h)
    return out


@njit(cache=True, nogil=True)
def _spread_at(count, moments, e):  # noqa: ANN001, ANN202
    """Isotropic standard deviation (km) of where entity ``e`` was seen (0 if never)."""
    if e >= count.shape[0]:
        return 0.0
    n = max(np.float64(count[e]), 1.0)
    mx = moments[e, 0] / n
    my = moments[e, 1] / n
    return np.sqrt(max(moments[e, 2] / n - mx * mx - my * my, 0.0) / 2.0) / 1000.0


@njit(cache=True, nogil=True)
def _spreads(ent, count, moments):  # noqa: ANN001, ANN202
    out = np.empty(ent.shape[0])
    for i in range(ent.shape[0]):
        out[i] = _spread_at(count, moments, ent[i])
    return out


@njit(cache=True, nogil=True)
def _fleet(ent, rate, count, moments, per_day_max, reach_max):  # noqa: ANN001, ANN202
    """Fleet flags: more than ``per_day_max`` reads a day, or reads a day times spread
    (km) above ``reach_max``."""
    out = np.empty(ent.shape[0], np.bool_)
    for i in range(ent.shape[0]):
        per_day = rate[i] * 24.0
        out[i] = per_day > per_day_max or per_day * _spread_at(count, moments, ent[i]) > reach_max
    return out


@njit(cache=True, nogil=True)
def _block_shares(ent, blocks):  # noqa: ANN001, ANN202
    """``4 * (count_b + 1) / (sum of counts + 4)`` per entity and block of the day.

    The row sum adds whole numbers (exact in float64 in any order), so this equals the
    numpy expression it replaced bit for bit.
    """
    out = np.empty((ent.shape[0], 4))
    for i in range(ent.shape[0]):
        e = ent[i]
        total = 0.0
        for b in range(4):
            total += np.float64(blocks[e, b])
        for b in range(4):
            out[i, b] = 4.0 * ((np.float64(blocks[e, b]) + 1.0) / (total + 4.0))
    return out


@njit(cache=True, nogil=True)
def _background(  # noqa: ANN202, PLR0913
    ent, count, first, last, blocks, moments, floor_h,  # noqa: ANN001
    x, y, n_near, grids, x0, y0, cell, log_sigmas, min_sigma, per_day_max, reach_max,  # noqa: ANN001
):  # fmt: skip
    """:func:`_rates`, :func:`_share`, :func:`_fleet` and :func:`_block_shares` in one call."""
    rate = _rates(ent, count, first, last, floor_h)
    share = _share(ent, count, moments, x, y, n_near, grids, x0, y0, cell, log_sigmas, min_sigma)
    fleet = _fleet(ent, rate, count, moments, per_day_max, reach_max)
    return rate, share, fleet, _block_shares(ent, blocks)


def _time_of_day(share4: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Time-of-day factors ``(len(share4), len(t0))`` from the entities' block shares.

    A matrix product per interval, as numpy (BLAS) computes it: a loop in a kernel
    could round the four-term sums differently.
    """
    out = np.empty((share4.shape[0], len(t0)))
    for j, (a, b) in enumerate(zip(np.asarray(t0).tolist(), np.asarray(t1).tolist(), strict=True)):
        out[:, j] = share4 @ _block_weights(a // 3600, b // 3600)
    return out


class EntityStats:
    """Per-entity counters (int32 arrays indexed by entity id, grown on demand). O(1) per sighting."""

    #: sightings per day above which an entity is treated as a fleet vehicle
    FLEET_PER_DAY = 100.0
    #: reads a day times spread (km) above which an entity is a roaming fleet vehicle
    FLEET_REACH_KM = 1000.0

    def __init__(self) -> None:
        self.count = np.zeros(1024, np.int32)
        self.first = np.zeros(1024, np.int32)
        self.last = np.zeros(1024, np.int32)
        self.blocks = np.zeros((1024, 4), np.int32)
        # sum x, sum y, sum (x^2 + y^2) of sighting positions in metres (GK 120E)
        self.moments = np.zeros((1024, 3), np.float64)
        self.earliest = -1  # index time of the first sighting counted
        self.latest = -1

    def _grow(self, n: int) -> None:
        cap = self.count.shape[0]
        if n <= cap:
            return
        new = max(n, 2 * cap)
        for name in ("count", "first", "last"):
            arr = np.zeros(new, np.int32)
            arr[:cap] = getattr(self, name)
            setattr(self, name, arr)
        blocks = np.zeros((new, 4), np.int32)
        blocks[:cap] = self.blocks
        self.blocks = blocks
        moments = np.zeros((new, 3), np.float64)
        moments[:cap] = self.moments
        self.moments = moments

    def update(self, ent: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        """Count sightings of entities ``ent`` at index times ``t`` and positions (x, y) in metres."""
        if ent.size == 0:
            return
        lo, hi = int(t.min()), int(t.max())
        self.earliest = lo if self.earliest < 0 else min(self.earliest, lo)
        self.latest = max(self.latest, hi)
        self._grow(int(ent.max()) + 1)
        _update(
            np.ascontiguousarray(ent, np.int32),
            np.ascontiguousarray(t, np.int32),
            np.ascontiguousarray(x, np.float64),
            np.ascontiguousarray(y, np.float64),
            self.count,
            self.first,
            self.last,
            self.blocks,
            self.moments,
        )

    def update_at(
        self, ent: np.ndarray, t: np.ndarray, cp: np.ndarray, xs: np.ndarray, ys: np.ndarray
    ) -> None:
        """:meth:`update` of sightings at checkpoints ``cp`` whose positions are ``xs[cp]``,
        ``ys[cp]`` (int32 ``ent``, ``t`` and ``cp``; float64 ``xs``, ``ys``): the same
        counts, with the positions read in the kernel (a run of a hundred sightings paid
        more for the gathers and conversions than for the counting)."""
        if ent.size == 0:
            return
        e_max, lo, hi = _extent(ent, t)
        lo, hi = int(lo), int(hi)
        self.earliest = lo if self.earliest < 0 else min(self.earliest, lo)
        self.latest = max(self.latest, hi)
        self._grow(int(e_max) + 1)
        _update_at(ent, t, cp, xs, ys, self.count, self.first, self.last, self.blocks, self.moments)

    def share_near(
        self,
        ent: np.ndarray,
        x: float,
        y: float,
        n_near: int,
        rasters: DensityRasters,
        min_sigma_m: float = MIN_SIGMA_M,
    ) -> np.ndarray:
        """Expected share of each entity's sightings at the ``n_near`` checkpoints around (x, y).

        Each entity's positions are summarised as an isotropic Gaussian (mean and
        spread of where it has been seen, spread at least ``min_sigma_m``). Its
        sightings fall on checkpoints, so the share of the scene's checkpoints is
        ``n_near * g(scene) / sum over checkpoints of g(checkpoint)``: a taxi that
        roams a dense city has a small share at any one scene but a large rate, a
        car that lives beside the scene a large share. The denominator is read in
        O(1) from the registry's blurred density rasters
        (:meth:`CheckpointRegistry.density_rasters`), interpolated between spreads.
        """
        ent = np.ascontiguousarray(ent, dtype=np.int64)
        r = rasters
        return _share(
            ent,
            self.count,
            self.moments,
            float(x),
            float(y),
            float(n_near),
            r.grids,
            r.x0,
            r.y0,
            r.cell,
            np.log(r.sigmas),
            float(min_sigma_m),
        )

    def rate_per_hour(self, ent: np.ndarray) -> np.ndarray:
        """Background sighting rate of each entity (per hour).

        Counted over the entity's own span of sightings, but never less than a
        day — or than the time the stream has run, when that is shorter (at start
        up a taxi seen 40 times in 3 hours is already known to be busy).
        """
        ent = np.asarray(ent, dtype=np.int64)
        return _rates(ent, self.count, self.first, self.last, self._floor_h())

    def _floor_h(self) -> float:
        """The shortest span a rate is counted over: a day, or the stream's run if shorter."""
        return max(1.0, min(24.0, (self.latest - self.earliest) / 3600.0))

    def time_of_day_factor(self, ent: np.ndarray, t0: int, t1: int) -> np.ndarray:
        """How active each entity is during [t0, t1] compared with its day-long average.

        From its sightings per six-hour block of the local day (+1 smoothing per
        block): 1 means as active as on average, 0.2 that it is rarely out then.
        """
        return self.time_of_day_factors(ent, np.array([t0]), np.array([t1]))[:, 0]

    def time_of_day_factors(self, ent: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """:meth:`time_of_day_factor` for several intervals at once: ``(len(ent), len(t0))``.

        The entity's block shares are read once for all intervals.
        """
        ent = np.asarray(ent, dtype=np.int64)
        return _time_of_day(_block_shares(ent, self.blocks), t0, t1)

    def background(
        self,
        ent: np.ndarray,
        x: float,
        y: float,
        n_near: int,
        rasters: DensityRasters,
        t0: np.ndarray,
        t1: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(:meth:`rate_per_hour`, :meth:`share_near`, :meth:`time_of_day_factors`,
        :meth:`is_fleet`) of ``ent``, the same numbers, from one kernel call.

        A scene query needs all four for the same entities; for its hundred or so
        entities four calls' conversions and dispatches cost more than the arithmetic.
        """
        ent = np.ascontiguousarray(ent, dtype=np.int64)
        r = rasters
        rate, share, fleet, share4 = _background(
            ent, self.count, self.first, self.last, self.blocks, self.moments, self._floor_h(),
            float(x), float(y), float(n_near), r.grids, r.x0, r.y0, r.cell, np.log(r.sigmas),
            MIN_SIGMA_M, self.FLEET_PER_DAY, self.FLEET_REACH_KM,
        )  # fmt: skip
        return rate, share, _time_of_day(share4, t0, t1), fleet

    def spread_km(self, ent: np.ndarray) -> np.ndarray:
        """Spatial spread (isotropic standard deviation, km) of where each entity was seen."""
        return _spreads(np.asarray(ent, dtype=np.int64), self.count, self.moments)

    def is_fleet(self, ent: np.ndarray, rate: np.ndarray | None = None) -> np.ndarray:
        """Ubiquitous entities: taxis and buses (more than :attr:`FLEET_PER_DAY` reads a day)
        and roaming logistics (reads a day times spread above :attr:`FLEET_REACH_KM`).

        ``rate`` is :meth:`rate_per_hour` of ``ent`` when the caller has it already.
        """
        ent = np.asarray(ent, dtype=np.int64)
        rate = self.rate_per_hour(ent) if rate is None else np.asarray(rate, dtype=np.float64)
        return _fleet(ent, rate, self.count, self.moments, self.FLEET_PER_DAY, self.FLEET_REACH_KM)
