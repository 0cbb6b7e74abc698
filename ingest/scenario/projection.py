"""Projection between WGS 84 lon/lat and metres (CGCS2000 / 3-degree Gauss-Kruger CM 120E).

EPSG:4549 covers Zhejiang with sub-0.1 % scale error, so Euclidean distances in
its metres are good enough for camera spacing and scene distances.

Example
-------
>>> x, y = to_metres(120.0, 30.0)
>>> round(float(x)), round(float(to_lonlat(x, y)[1]), 6)
(500000, 30.0)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import Transformer

__all__ = ["METRIC_CRS", "to_lonlat", "to_metres"]

METRIC_CRS = "EPSG:4549"


@lru_cache(maxsize=2)
def _transformer(inverse: bool) -> Transformer:
    src, dst = ("EPSG:4326", METRIC_CRS) if not inverse else (METRIC_CRS, "EPSG:4326")
    return Transformer.from_crs(src, dst, always_xy=True)


def to_metres(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Project lon/lat degrees to (easting, northing) metres."""
    x, y = _transformer(False).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def to_lonlat(x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`to_metres`."""
    lon, lat = _transformer(True).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)
