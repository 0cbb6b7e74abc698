"""The checkpoint lookup by sorted cell codes (``CheckpointRegistry.within``) against the
dictionary grid it replaced: the same ids, in the same order, with the same distances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.distance import local_m_to_point
from geo.projection import point_to_metres
from graph.spacetime import _kernels as kern
from graph.spacetime.checkpoints import _CELL_M, CheckpointRegistry
from graph.spacetime.scene import scene_window


def _within_by_dict(
    reg: CheckpointRegistry, lon: float, lat: float, radius_m: float
) -> tuple[list[int], np.ndarray]:
    """The former lookup: a dictionary of cells, visited column by column."""
    lons, lats, xs, ys = reg.arrays
    grid: dict[tuple[int, int], list[int]] = {}
    for i in range(len(reg)):
        key = (math.floor(xs[i] / _CELL_M), math.floor(ys[i] / _CELL_M))
        grid.setdefault(key, []).append(i)
    x0, y0 = point_to_metres(lon, lat)
    r = math.ceil(radius_m / _CELL_M)
    cx, cy = math.floor(x0 / _CELL_M), math.floor(y0 / _CELL_M)
    ids = np.array(
        [c for i in range(cx - r, cx + r + 1) for j in range(cy - r, cy + r + 1)
         for c in grid.get((i, j), [])],
        dtype=np.int64,
    )  # fmt: skip
    if not ids.size:
        return [], np.empty(0)
    dist = local_m_to_point(lon, lat, lons[ids], lats[ids])
    keep = dist <= radius_m
    ids, dist = ids[keep], dist[keep]
    order = np.argsort(dist, kind="stable")
    return ids[order].tolist(), dist[order]


def _registry(lon: np.ndarray, lat: np.ndarray) -> CheckpointRegistry:
    reg = CheckpointRegistry()
    reg.register_many([f"CP-{i}" for i in range(lon.size)], lon.tolist(), lat.tolist())
    return reg


@pytest.mark.parametrize("n", [0, 1, 2, 400])
def test_within_equals_the_dictionary_grid(n: int) -> None:
    rng = np.random.default_rng(n)
    lon = 121.5 + rng.normal(0, 0.08, n)
    lat = 29.9 + rng.normal(0, 0.08, n)
    if n:  # cameras on one pole: equal distances keep id order
        lon[n // 2 :: 7] = lon[n // 2]
        lat[n // 2 :: 7] = lat[n // 2]
    reg = _registry(lon, lat)
    probes = [(121.5, 29.9), (121.62, 29.81), (125.0, 35.0)]
    if n:
        probes.append((float(lon[n // 2]), float(lat[n // 2])))
    for px, py in probes:
        for radius in (500.0, 3000.0, 8000.0):
            ids, dist = reg.within(px, py, radius)
            want_ids, want_dist = _within_by_dict(reg, px, py, radius)
            assert ids.dtype == np.int32
            assert ids.tolist() == want_ids
            assert np.array_equal(dist, want_dist)


def test_checkpoints_west_and_south_of_the_projection_origin_are_found() -> None:
    """Negative cell numbers sort and are found like positive ones."""
    lon = np.array([75.0, 75.01, 119.99, 120.0, 120.01, 134.0])
    lat = np.array([-10.0, -10.0, 0.001, -0.001, 0.0, 50.0])
    reg = _registry(lon, lat)
    for px, py in zip(lon.tolist(), lat.tolist(), strict=True):
        ids, dist = reg.within(px, py, 5000.0)
        want_ids, want_dist = _within_by_dict(reg, px, py, 5000.0)
        assert ids.tolist() == want_ids and want_ids
        assert np.array_equal(dist, want_dist)


def test_near_scene_is_a_prefix_of_within_and_scene_window_projects_once() -> None:
    rng = np.random.default_rng(3)
    lon = 121.5 + rng.normal(0, 0.05, 300)
    lat = 29.9 + rng.normal(0, 0.05, 300)
    reg = _registry(lon, lat)
    for px, py in rng.normal(0, 0.05, (20, 2)) + (121.5, 29.9):
        ids, dist, radius = reg.near_scene(px, py)
        all_ids, all_dist = reg.within(px, py, reg.policy.max_m)
        keep = all_dist <= radius
        assert ids.tolist() == all_ids[keep].tolist()
        assert np.array_equal(dist, all_dist[keep])
        w = scene_window(reg, px, py, 100, 200)
        assert (w.x, w.y) == point_to_metres(px, py)
        assert w.cps.tolist() == ids.tolist() and np.array_equal(w.dist_m, dist)


def test_cells_near_and_nearest_first_on_empty_and_single_rows() -> None:
    empty_codes, empty_ids = np.empty(0, np.int64), np.empty(0, np.int32)
    assert kern.cells_near(empty_codes, empty_ids, 3, -4, 2).size == 0
    one = np.array([kern.cell_code(3, -4)], np.int64)
    assert kern.cells_near(one, np.array([7], np.int32), 3, -4, 0).tolist() == [7]
    assert kern.cells_near(one, np.array([7], np.int32), 5, -4, 1).size == 0
    ids, dist = kern.nearest_first(empty_ids, np.empty(0), 10.0)
    assert ids.size == 0 and dist.size == 0
    ids, dist = kern.nearest_first(np.array([4], np.int32), np.array([10.0]), 10.0)
    assert ids.tolist() == [4] and dist.tolist() == [10.0]
    ids, dist = kern.nearest_first(np.array([4], np.int32), np.array([10.5]), 10.0)
    assert ids.size == 0
