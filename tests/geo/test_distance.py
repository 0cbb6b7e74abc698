"""Distance kernels and projection against pyproj on Zhejiang-scale distances."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from geo.distance import haversine_m, local_m, local_m_to_point
from geo.projection import to_lonlat, to_metres


@pytest.fixture(scope="module")
def pairs() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(7)
    n = 50_000
    lon1 = rng.uniform(118.0, 123.0, n)
    lat1 = rng.uniform(27.0, 31.2, n)
    az = rng.uniform(0.0, 360.0, n)
    dist = rng.uniform(5.0, 50_000.0, n)
    lon2, lat2, _ = Geod(ellps="WGS84").fwd(lon1, lat1, az, dist)
    return lon1, lat1, lon2, lat2, dist


def test_haversine_within_half_percent_up_to_50km(pairs: tuple[np.ndarray, ...]) -> None:
    lon1, lat1, lon2, lat2, dist = pairs
    err = np.abs(haversine_m(lon1, lat1, lon2, lat2) - dist) / dist
    assert err.max() < 0.005


def test_local_approximation_within_half_percent_up_to_50km(pairs: tuple[np.ndarray, ...]) -> None:
    lon1, lat1, lon2, lat2, dist = pairs
    err = np.abs(local_m(lon1, lat1, lon2, lat2) - dist) / dist
    assert err.max() < 0.005
    assert err.max() < 1e-4  # documented: better than 0.01 %


def test_one_to_many_matches_pairwise(pairs: tuple[np.ndarray, ...]) -> None:
    lon1, lat1, lon2, lat2, _ = pairs
    many = local_m_to_point(lon1[0], lat1[0], lon2[:100], lat2[:100])
    pairwise = local_m(np.full(100, lon1[0]), np.full(100, lat1[0]), lon2[:100], lat2[:100])
    assert np.allclose(many, pairwise)


def test_projection_is_gauss_kruger_120e() -> None:
    x, y = to_metres([120.0, 121.70], [30.0, 29.97])
    assert x[0] == pytest.approx(500_000.0, abs=0.01)  # false easting on the central meridian
    assert y[0] == pytest.approx(3_320_113.4, abs=1.0)
    lon, lat = to_lonlat(x, y)
    assert np.allclose(lon, [120.0, 121.70], atol=1e-9) and np.allclose(
        lat, [30.0, 29.97], atol=1e-9
    )


def test_projected_distance_agrees_with_geodesic_locally() -> None:
    x, y = to_metres([121.70, 121.75], [29.97, 29.99])
    planar = float(np.hypot(x[1] - x[0], y[1] - y[0]))
    _, _, geodesic = Geod(ellps="WGS84").inv(121.70, 29.97, 121.75, 29.99)
    assert abs(planar - geodesic) / geodesic < 0.001


def test_projection_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="lat"):
        to_metres([120.0], [91.0])
    with pytest.raises(ValueError, match="equal length"):
        to_metres([120.0, 121.0], [30.0])
