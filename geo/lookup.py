"""Point -> jurisdiction lookup for arrays of lon/lat, compiled with numba.

:class:`JurisdictionIndex` answers, for every point, the county adcode that
holds it (0 outside the province); the city and province follow from the
county. A regular grid over the province classifies most points with one array
read; points in cells a border passes through get an exact even-odd test
against the few edges of the candidate counties in that grid row (see
:mod:`geo._pip_kernels`). Points on a border shared by two counties get the
smaller adcode, so the answer is deterministic.

Example
-------
>>> from geo.lookup import JurisdictionIndex
>>> idx = JurisdictionIndex.for_province(330000)
>>> int(idx.counties_of([121.70], [29.97])[0])
330211
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely

from geo import _pip_kernels as kern
from geo.jurisdictions import Jurisdictions, cache_dir, load_province

__all__ = ["JurisdictionIndex", "Location", "as_lonlat"]

log = logging.getLogger(__name__)

_CELL_DEG = 0.005  # ~500 m; about 1 in 10 cells of Zhejiang is a border cell
_INDEX_VERSION = "1"


def as_lonlat(
    lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert coordinates to contiguous float64 arrays.

    Raises ``ValueError`` naming the problem for mismatched shapes, non-finite
    values or coordinates out of range (lon in [-180, 180], lat in [-90, 90]).
    """
    lon = np.ascontiguousarray(lons, dtype=np.float64)
    lat = np.ascontiguousarray(lats, dtype=np.float64)
    if lon.ndim != 1 or lon.shape != lat.shape:
        raise ValueError(
            f"lons and lats must be 1-D arrays of equal length, got shapes {lon.shape} and {lat.shape}"
        )
    for name, arr, bound in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        bad = ~np.isfinite(arr) | (np.abs(arr) > bound)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{name}[{i}] = {float(arr[i])!r}: expected a finite number in [-{bound:g}, {bound:g}]"
            )
    return lon, lat


@dataclass(frozen=True)
class Location:
    """The jurisdictions holding one point (adcode 0 and empty names outside the province)."""

    county: int
    city: int
    province: int
    county_name: str
    city_name: str
    province_name: str

    @property
    def inside(self) -> bool:
        return self.county != 0


def _edges(geoms: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every ring segment of every county: (county position, x1, y1, x2, y2)."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[1:] == coord_ring[:-1]
    start = np.nonzero(same)[0]
    county = part_of[ring_of[coord_ring[start]]].astype(np.int64)
    return (
        county,
        coords[start, 0].copy(),
        coords[start, 1].copy(),
        coords[start + 1, 0].copy(),
        coords[start + 1, 1].copy(),
    )


def _csr(keys: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(ptr, keys + 1, 1)
    return np.cumsum(ptr), values[order]


class JurisdictionIndex:
    """Vectorised point-in-county lookup over one province's counties.

    Building costs ~1 s for Zhejiang (cached on disk afterwards); a lookup is
    O(1) per point inside a county's interior cells and O(e) for points in
    border cells, e being the few dozen edges of the candidate counties' row.
    """

    def __init__(self, jurisdictions: Jurisdictions, cell_deg: float = _CELL_DEG) -> None:
        if not 0.0005 <= cell_deg <= 1.0:
            raise ValueError(
                f"cell_deg={cell_deg}: expected a cell size between 0.0005 and 1 degree"
            )
        self.jurisdictions = jurisdictions
        counties = jurisdictions.counties.sort_index()
        self.codes = counties.index.to_numpy(dtype=np.int64)
        self._city = counties["city"].to_numpy(dtype=np.int64)
        self._d = float(cell_deg)
        path = cache_dir() / f"lookup-{jurisdictions.adcode}-{cell_deg:g}-v{_INDEX_VERSION}.npz"
        arrays = None
        if path.exists():
            try:
                with np.load(path) as data:
                    arrays = {k: data[k] for k in data.files}
                if not np.array_equal(arrays["codes"], self.codes):
                    arrays = None
            except Exception as exc:  # unreadable cache: rebuild
                log.warning("ignoring unreadable lookup cache %s: %s", path, exc)
                arrays = None
        if arrays is None:
            arrays = self._build(counties.geometry.to_numpy())
            # a private temporary name: two processes starting on a cold cache each write
            # their own file and the atomic rename makes one of them win
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(path)
        self._a = arrays
        self._x0 = float(arrays["origin"][0])
        self._y0 = float(arrays["origin"][1])
        self._nx = int(arrays["shape"][0])
        self._ny = int(arrays["shape"][1])

    def _build(self, geoms: np.ndarray) -> dict[str, np.ndarray]:
        d = self._d
        county, x1, y1, x2, y2 = _edges(geoms)
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        x0, y0 = minx - d, miny - d
        nx = int((maxx + d - x0) / d) + 2
        ny = int((maxy + d - y0) / d) + 2
        k_count = len(geoms)
        cells, cell_county = kern.boundary_pairs(county, x1, y1, x2, y2, x0, y0, d, nx, ny)
        pair = np.unique(cells * k_count + cell_county)  # sorted by cell, then county position
        b_cells, b_first = np.unique(pair // k_count, return_index=True)
        cand_idx = (pair % k_count).astype(np.int64)
        cand_ptr = np.append(b_first, pair.shape[0]).astype(np.int64)
        cell_code = np.zeros(nx * ny, dtype=np.int64)
        cell_code[b_cells] = -2 - np.arange(b_cells.shape[0])
        keys, edges = kern.row_pairs(county, y1, y2, y0, d, ny)
        row_ptr, edge_idx = _csr(keys, edges, k_count * ny)
        kern.fill_rows(cell_code, nx, ny, k_count, x0, y0, d, row_ptr, edge_idx, x1, y1, x2, y2)
        log.info(
            "lookup index: %d x %d cells, %d border cells, %d edges",
            nx,
            ny,
            b_cells.shape[0],
            x1.shape[0],
        )
        return {
            "codes": self.codes,
            "origin": np.array([x0, y0]),
            "shape": np.array([nx, ny]),
            "cell_code": cell_code,
            "cand_ptr": cand_ptr,
            "cand_idx": cand_idx,
            "row_ptr": row_ptr,
            "edge_idx": edge_idx,
            "x1": x1,
            "y1": y1,
            "x2": x2,
            "y2": y2,
        }

    @classmethod
    @lru_cache(maxsize=8)
    def for_province(cls, adcode: int = 330000) -> JurisdictionIndex:
        """The (cached) index of a province's counties."""
        return cls(load_province(adcode))

    def counties_of(
        self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """County adcode per point (int64 array; 0 outside the province).

        Raises ``ValueError`` for mismatched lengths, NaN/infinite or out-of-range coordinates.
        """
        lon, lat = as_lonlat(lons, lats)
        out = np.empty(lon.shape[0], dtype=np.int64)
        a = self._a
        return kern.lookup(
            lon,
            lat,
            self._x0,
            self._y0,
            self._d,
            self._nx,
            self._ny,
            a["cell_code"],
            a["cand_ptr"],
            a["cand_idx"],
            a["codes"],
            a["row_ptr"],
            a["edge_idx"],
            a["x1"],
            a["y1"],
            a["x2"],
            a["y2"],
            out,
        )

    def cities_of_counties(self, counties: np.ndarray) -> np.ndarray:
        """City adcode for each county adcode (0 stays 0)."""
        counties = np.asarray(counties, dtype=np.int64)
        pos = np.searchsorted(self.codes, counties)
        pos = np.clip(pos, 0, len(self.codes) - 1)
        found = self.codes[pos] == counties
        return np.where(found, self._city[pos], 0)

    def city_of_county(self, county: int) -> int:
        """The city adcode owning a county adcode (0 for 0)."""
        if county == 0:
            return 0
        pos = int(np.searchsorted(self.codes, county))
        if pos >= len(self.codes) or self.codes[pos] != county:
            raise KeyError(f"{county} is not a county adcode of {self.jurisdictions.adcode}")
        return int(self._city[pos])

    def locate(self, lon: float, lat: float) -> Location:
        """The county, city and province holding one point, with names."""
        county = int(self.counties_of([lon], [lat])[0])
        z = self.jurisdictions
        if county == 0:
            return Location(0, 0, 0, "", "", "")
        city = self.city_of_county(county)
        city_name = z.name_of(city) if city != z.adcode else z.name
        return Location(county, city, z.adcode, z.name_of(county), city_name, z.name)
