"""Point -> jurisdiction lookup for arrays of lon/lat.

:class:`JurisdictionIndex` answers, for every point, the county adcode that
holds it (0 outside the province). Points on a border shared by two counties
get the smaller adcode, so the answer is deterministic.

Example
-------
>>> from geo.lookup import JurisdictionIndex
>>> idx = JurisdictionIndex.for_province(330000)
>>> int(idx.counties_of([121.70], [29.97])[0])
330211
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely

from geo.jurisdictions import Jurisdictions, load_province

__all__ = ["JurisdictionIndex"]

log = logging.getLogger(__name__)


class JurisdictionIndex:
    """Vectorised point-in-county lookup over one province's counties (STR-tree)."""

    def __init__(self, jurisdictions: Jurisdictions) -> None:
        self.jurisdictions = jurisdictions
        counties = jurisdictions.counties
        self._codes = counties.index.to_numpy(dtype=np.int64)
        self._city = counties["city"].to_numpy(dtype=np.int64)
        geoms = counties.geometry.to_numpy()
        shapely.prepare(geoms)
        self._tree = shapely.STRtree(geoms)

    @classmethod
    @lru_cache(maxsize=8)
    def for_province(cls, adcode: int = 330000) -> JurisdictionIndex:
        return cls(load_province(adcode))

    def counties_of(self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray) -> np.ndarray:
        """County adcode per point (int64 array; 0 outside the province).

        Raises ``ValueError`` if the arrays differ in length or hold non-finite values.
        Complexity: O(n log m) for n points and m counties.
        """
        lon = np.asarray(lons, dtype=np.float64)
        lat = np.asarray(lats, dtype=np.float64)
        if lon.shape != lat.shape or lon.ndim != 1:
            raise ValueError(
                f"lons and lats must be 1-D arrays of equal length, got shapes {lon.shape} and {lat.shape}"
            )
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            raise ValueError("lons and lats must be finite numbers (got NaN or infinity)")
        out = np.zeros(lon.shape[0], dtype=np.int64)
        if lon.size == 0:
            return out
        points = shapely.points(lon, lat)
        pt_idx, geom_idx = self._tree.query(points, predicate="intersects")
        codes = self._codes[geom_idx]
        # Deterministic on shared borders: smallest adcode wins.
        order = np.lexsort((codes, pt_idx))
        pt_sorted = pt_idx[order]
        first = np.ones(pt_sorted.shape[0], dtype=bool)
        first[1:] = pt_sorted[1:] != pt_sorted[:-1]
        out[pt_sorted[first]] = codes[order][first]
        return out

    def city_of_county(self, county: int) -> int:
        """The city adcode owning a county adcode (0 for 0)."""
        if county == 0:
            return 0
        hit = np.nonzero(self._codes == county)[0]
        if hit.size == 0:
            raise KeyError(f"{county} is not a county adcode of {self.jurisdictions.adcode}")
        return int(self._city[hit[0]])
