"""The checkpoint registry: sensors in metres, and density-adaptive radius queries.

Sightings carry their sensor's position, so the registry learns checkpoints
as they are first seen. A scene query asks for the checkpoints near a scene:
the radius adapts to checkpoint density — in a city many cameras are within
500 m, in the countryside the nearest can be kilometres away — by growing from
``base_m`` until at least ``min_checkpoints`` sensors are inside, up to ``max_m``.

Example
-------
>>> reg = CheckpointRegistry()
>>> reg.register("CP-1", 121.700, 29.970), reg.register("CP-2", 121.705, 29.970)
(0, 1)
>>> ids, dist, radius = reg.near_scene(121.701, 29.970)
>>> ids.tolist(), radius
([0, 1], 8000.0)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geo.distance import local_m_to_point
from geo.projection import point_to_metres, to_metres
from graph.spacetime import _kernels as kern
from graph.spacetime.interning import Interner

__all__ = ["CheckpointRegistry", "RadiusPolicy"]

log = logging.getLogger(__name__)

_CELL_M = 2000.0


@dataclass(frozen=True)
class RadiusPolicy:
    """How far from a scene a checkpoint still counts as "near".

    The radius is ``base_m`` if at least ``min_checkpoints`` sensors lie within
    it; otherwise the distance of the ``min_checkpoints``-th nearest sensor
    times ``slack``, capped at ``max_m``.
    """

    base_m: float = 800.0
    min_checkpoints: int = 3
    slack: float = 1.25
    max_m: float = 8000.0

    def __post_init__(self) -> None:
        if not 0 < self.base_m <= self.max_m:
            raise ValueError(
                f"base_m={self.base_m}, max_m={self.max_m}: expected 0 < base_m <= max_m"
            )
        if self.min_checkpoints < 1:
            raise ValueError(f"min_checkpoints={self.min_checkpoints}: expected >= 1")


def _density_grid(
    x: np.ndarray, y: np.ndarray, cell: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if x.size == 0:
        return np.empty(0), np.empty(0), np.empty(0)
    keys = np.stack([np.floor(x / cell), np.floor(y / cell)], axis=1)
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    order = np.argsort(uniq[:, 0], kind="stable")
    return (
        (uniq[order, 0] + 0.5) * cell,
        (uniq[order, 1] + 0.5) * cell,
        counts[order].astype(np.float64),
    )


@dataclass(frozen=True)
class DensityRasters:
    """Checkpoint density blurred by Gaussians of several spreads, on a 2 km raster.

    ``grids[l, r, c]`` is ``sum over checkpoints of exp(-d^2 / (2 sigmas[l]^2))`` for the
    raster cell centre (x0 + (c + 0.5) * cell, y0 + (r + 0.5) * cell): how many
    checkpoints an entity whose sightings spread like that Gaussian has around it.
    """

    x0: float
    y0: float
    cell: float
    sigmas: np.ndarray
    grids: np.ndarray


SIGMA_LEVELS_M = (2000.0, 4000.0, 8000.0, 16000.0, 32000.0, 64000.0)


def _gauss_matrix(n: int, sigma_cells: float) -> np.ndarray:
    """The n x n matrix of a centred Gaussian convolution truncated at 5.5 sigma."""
    d = np.arange(n, dtype=np.float64)
    k = np.exp(-(d**2) / (2.0 * sigma_cells**2))  # by distance in cells: one exp per distance
    k[d > math.ceil(5.5 * sigma_cells)] = 0.0
    steps = np.arange(n)
    return k[np.abs(steps[:, None] - steps[None, :])]


def _blur(counts: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Separable Gaussian blur, rows then columns: a short kernel (up to 4 cells' sigma) as
    two 1-D correlations, a long one as two matrix products (BLAS), whichever is quicker
    (the two agree to 1e-15 relative)."""
    reach = math.ceil(5.5 * sigma_cells)
    if reach <= 24:
        d = np.arange(-reach, reach + 1, dtype=np.float64)
        k = np.exp(-(d**2) / (2.0 * sigma_cells**2))
        rows = kern.correlate_rows(np.ascontiguousarray(counts, dtype=np.float64), k)
        return kern.correlate_rows(np.ascontiguousarray(rows.T), k).T
    ny, nx = counts.shape
    return _gauss_matrix(ny, sigma_cells) @ counts @ _gauss_matrix(nx, sigma_cells).T


class CheckpointRegistry:
    """Checkpoint ids (interned), their WGS 84 and metric positions, and a 2 km grid."""

    def __init__(self, policy: RadiusPolicy | None = None) -> None:
        self.policy = policy or RadiusPolicy()
        self.names = Interner()
        self._lon: list[float] = []
        self._lat: list[float] = []
        # (lon, lat, x, y) buffers with spare capacity, filled for the first _filled ids:
        # checkpoints keep appearing while a stream runs, and each new one used to mean
        # projecting every registered one again and rebuilding the grid
        self._buf = np.empty((4, 0))
        self._filled = 0
        #: the views :attr:`arrays` last returned, for the first ``_views_n`` ids
        self._views: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = (self._buf[0],) * 4
        self._views_n = -1
        # the 2 km grid as sorted arrays: each gridded checkpoint's cell code (see
        # kern.cell_code) and its id, ascending within a cell (a scene query looks up a
        # block of cells with a few binary searches, not a dictionary lookup a cell)
        self._codes = np.empty(0, np.int64)
        self._coded = np.empty(0, np.int32)
        self._gridded = 0  # ids placed in the grid
        self._cell_counts: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None = None
        self._rasters: DensityRasters | None = None
        self._rasters_n = 0  # checkpoints the rasters were built from

    def __len__(self) -> int:
        return len(self.names)

    def register(self, name: str, lon: float, lat: float) -> int:
        """The id of a checkpoint, registering it at (lon, lat) the first time it is seen.

        A known checkpoint reported more than 100 m from its registered place
        keeps its first position (logged): a sensor that moves gets a new id upstream.
        """
        known = self.names.get(name)
        if known is not None:
            if abs(self._lon[known] - lon) > 0.001 or abs(self._lat[known] - lat) > 0.001:
                log.warning(
                    "checkpoint %s reported at (%.5f, %.5f), registered at (%.5f, %.5f)",
                    name,
                    lon,
                    lat,
                    self._lon[known],
                    self._lat[known],
                )
            return known
        if not (
            math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            raise ValueError(
                f"checkpoint {name!r}: position ({lon!r}, {lat!r}) is not a valid lon/lat"
            )
        ident = self.names.intern(name)
        self._lon.append(float(lon))
        self._lat.append(float(lat))
        self._cell_counts = None
        return ident

    def register_many(
        self, names: Sequence[str], lons: Sequence[float], lats: Sequence[float]
    ) -> np.ndarray:
        """Ids of many checkpoints (int32), as :meth:`register` gives them one by one.

        Known names cost a dictionary lookup each; their reported positions are checked
        against the registered ones in one kernel pass (:func:`kern.moved_rows`; moved
        ones are logged as :meth:`register` logs them). ``lons`` and ``lats`` may be
        float64 arrays (no conversion a call then). O(n).
        """
        ids = list(map(self.names.ids.get, names))
        fresh = [i for i, ident in enumerate(ids) if ident is None] if None in ids else []
        for i in fresh:
            ids[i] = self.register(names[i], lons[i], lats[i])  # in order: repeats reuse it
        out = np.asarray(ids, dtype=np.int32)
        if out.size and len(fresh) < out.size:
            lon0, lat0, _, _ = self.arrays
            moved = kern.moved_rows(
                out,
                lon0,
                lat0,
                np.asarray(lons, dtype=np.float64),
                np.asarray(lats, dtype=np.float64),
                0.001,
            )
            for i in moved.tolist():
                self.register(names[i], lons[i], lats[i])  # logs the reported position
        return out

    def id_of(self, name: str) -> int:
        """The id of a known checkpoint; ``KeyError`` naming it if it was never registered."""
        ident = self.names.get(name)
        if ident is None:
            raise KeyError(f"unknown checkpoint {name!r}: no sighting has given its position yet")
        return ident

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(lon, lat, x_m, y_m) float64 arrays indexed by checkpoint id.

        Checkpoints registered since the last call are projected and appended (amortised
        O(new)); the arrays returned are views, valid for the ids known at the call.
        """
        n = len(self._lon)
        if self._views_n == n:  # nothing registered since: the same views (a run asks twice)
            return self._views
        if self._filled < n:
            if n > self._buf.shape[1]:
                grown = np.empty((4, max(256, 2 * n)))
                grown[:, : self._filled] = self._buf[:, : self._filled]
                self._buf = grown
            lon = np.asarray(self._lon[self._filled : n], dtype=np.float64)
            lat = np.asarray(self._lat[self._filled : n], dtype=np.float64)
            x, y = to_metres(lon, lat)
            self._buf[:, self._filled : n] = (lon, lat, x, y)
            self._filled = n
        lon, lat, x, y = (row[:n] for row in self._buf)
        self._views, self._views_n = (lon, lat, x, y), n
        return lon, lat, x, y

    def _cells(self) -> tuple[np.ndarray, np.ndarray]:
        """(cell code, checkpoint id) of every checkpoint, by code, ids ascending in a cell.

        Checkpoints registered since the last call are merged in (their ids are larger
        than every gridded one, so each goes after its cell's ids): O(n) copying with a
        binary search per new id, not a sort of the whole grid.
        """
        n = len(self)
        if self._gridded < n:
            _, _, x, y = self.arrays
            new = np.arange(self._gridded, n, dtype=np.int32)
            cx = np.floor(x[new] / _CELL_M).astype(np.int64)
            cy = np.floor(y[new] / _CELL_M).astype(np.int64)
            codes = cx * 2**32 + (cy + 2**31)  # kern.cell_code, for arrays
            order = np.argsort(codes, kind="stable")  # ids stay ascending within a cell
            codes, new = codes[order], new[order]
            at = np.searchsorted(self._codes, codes, side="right")
            self._codes = np.insert(self._codes, at, codes)
            self._coded = np.insert(self._coded, at, new)
            self._gridded = n
        return self._codes, self._coded

    def cell_counts(
        self,
    ) -> tuple[
        tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]
    ]:
        """Checkpoint density on a fine (2 km) and a coarse (16 km) grid.

        Each is (centre x, centre y, checkpoints) per non-empty cell, sorted by x.
        """
        if self._cell_counts is None:
            _, _, x, y = self.arrays
            self._cell_counts = (_density_grid(x, y, _CELL_M), _density_grid(x, y, 8 * _CELL_M))
        return self._cell_counts

    def density_rasters(self) -> DensityRasters:
        """:class:`DensityRasters` of the registered checkpoints.

        Cached, and rebuilt once the registry has grown by more than 25 % and by at
        least 500 cameras since the last build: a background density does not move
        with each new camera, and a rebuild (separable Gaussian blurs as matrix
        products) costs 10-50 ms.
        """
        n = len(self)
        if self._rasters is None or (n > self._rasters_n * 1.25 and n - self._rasters_n >= 500):
            self._rasters_n = n
            _, _, x, y = self.arrays
            pad = 3.0 * SIGMA_LEVELS_M[-1]
            if x.size:
                x0, y0 = float(x.min()) - pad, float(y.min()) - pad
                nx = int((float(x.max()) + pad - x0) // _CELL_M) + 1
                ny = int((float(y.max()) + pad - y0) // _CELL_M) + 1
            else:
                x0 = y0 = 0.0
                nx = ny = 1
            counts = np.zeros((ny, nx))
            if x.size:
                np.add.at(
                    counts,
                    (((y - y0) // _CELL_M).astype(int), ((x - x0) // _CELL_M).astype(int)),
                    1.0,
                )
            grids = np.stack([_blur(counts, sg / _CELL_M) for sg in SIGMA_LEVELS_M])
            self._rasters = DensityRasters(x0, y0, _CELL_M, np.asarray(SIGMA_LEVELS_M), grids)
        return self._rasters

    def within(
        self, lon: float, lat: float, radius_m: float, at: tuple[float, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checkpoint ids within ``radius_m`` of a point and their distances, nearest first.

        ``at`` is the point in metres (:func:`point_to_metres`) when the caller has
        projected it already: a scene query needs it too, and projecting costs more than
        the rest of the lookup.
        """
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError(f"scene position ({lon!r}, {lat!r}) is not a finite lon/lat")
        if len(self) == 0:
            return np.empty(0, dtype=np.int32), np.empty(0)
        x0, y0 = point_to_metres(lon, lat) if at is None else at
        codes, ids = self._cells()
        r = int(math.ceil(radius_m / _CELL_M))
        cx, cy = int(math.floor(x0 / _CELL_M)), int(math.floor(y0 / _CELL_M))
        ids = kern.cells_near(codes, ids, cx, cy, r)
        if not ids.size:
            return np.empty(0, dtype=np.int32), np.empty(0)
        lons, lats, _, _ = self.arrays
        dist = local_m_to_point(float(lon), float(lat), lons[ids], lats[ids])
        return kern.nearest_first(ids, dist, float(radius_m))

    def near_scene(
        self, lon: float, lat: float, at: tuple[float, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Checkpoints near a scene under the adaptive radius: (ids, distances, radius).

        ``at``: the scene in metres if already projected (see :meth:`within`). The
        distances come nearest first, so those within the radius are a prefix.
        """
        p = self.policy
        ids, dist = self.within(lon, lat, p.max_m, at)
        if ids.size >= p.min_checkpoints and dist[p.min_checkpoints - 1] <= p.base_m:
            radius = p.base_m
        elif ids.size >= p.min_checkpoints:
            radius = min(p.max_m, float(dist[p.min_checkpoints - 1]) * p.slack)
        else:
            radius = p.max_m
        keep = int(np.searchsorted(dist, radius, side="right"))
        return ids[:keep], dist[:keep], radius
