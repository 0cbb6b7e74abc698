"""Benchmark: point -> county lookup and distance kernels beside geopandas and pyproj.

Run as ``python -m bench.geo [--quick] [--json]``. In one run, on the same points:

* lookup: :meth:`geo.lookup.JurisdictionIndex.counties_of` (numba, one thread)
  vs ``geopandas.sjoin(points, counties, predicate="intersects")`` — what a user
  would write instead; both answers are checked to agree;
* distances: :func:`geo.distance.haversine_m` and :func:`geo.distance.local_m`
  vs ``pyproj.Geod.inv`` (the WGS 84 geodesic), with their relative errors.

Target: >= 2M lookups/s on one core.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
from pyproj import Geod

from bench._common import bench_parser, emit, peak_rss_mib, progress, ratios, stderr, timed
from geo.distance import haversine_m, local_m
from geo.lookup import JurisdictionIndex

FULL_POINTS = 2_000_000
QUICK_POINTS = 200_000
SJOIN_POINTS_CAP = 200_000  # sjoin is slow; time it on a prefix and report per-second rates
TARGET_LOOKUPS_PER_S = 2_000_000


def make_points(n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Points where police data falls: 80 % near the 11 city centres, 20 % over the province box."""
    rng = np.random.default_rng(seed)
    idx = JurisdictionIndex.for_province(330000)
    centres = idx.jurisdictions.cities.geometry.representative_point()
    cx, cy = centres.x.to_numpy(), centres.y.to_numpy()
    near = int(n * 0.8)
    pick = rng.integers(0, len(cx), near)
    lon = np.concatenate(
        [cx[pick] + rng.normal(0, 0.15, near), rng.uniform(118.0, 123.2, n - near)]
    )
    lat = np.concatenate([cy[pick] + rng.normal(0, 0.12, near), rng.uniform(27.0, 31.2, n - near)])
    order = rng.permutation(n)
    return lon[order], lat[order]


def run(n: int, repeat: int) -> dict[str, Any]:
    idx = JurisdictionIndex.for_province(330000)
    lon, lat = make_points(n)
    m = min(n, SJOIN_POINTS_CAP)
    counties = idx.jurisdictions.counties[["adcode", "geometry"]].reset_index(drop=True)
    with progress() as bar:
        task = bar.add_task("lookup + distances", total=5)
        idx.counties_of(lon[:10], lat[:10])  # JIT warm-up (cached on disk after the first run)
        ours_lookup = timed(lambda: idx.counties_of(lon, lat), repeat)
        bar.advance(task)

        def sjoin() -> np.ndarray:
            pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon[:m], lat[:m]), crs=4326)
            joined = gpd.sjoin(pts, counties, how="left", predicate="intersects")
            first = joined.groupby(level=0)["adcode"].min()
            return first.reindex(range(m)).fillna(0).astype(np.int64).to_numpy()

        base_lookup = timed(sjoin, max(1, repeat - 1))
        bar.advance(task)
        agree = float(np.mean(base_lookup.result == ours_lookup.result[:m]))

        rng = np.random.default_rng(5)
        k = n
        lon1, lat1 = lon[:k], lat[:k]
        geod = Geod(ellps="WGS84")
        lon2, lat2, _ = geod.fwd(lon1, lat1, rng.uniform(0, 360, k), rng.uniform(10, 50_000, k))
        haversine_m(lon1[:4], lat1[:4], lon2[:4], lat2[:4])
        local_m(lon1[:4], lat1[:4], lon2[:4], lat2[:4])
        t_hav = timed(lambda: haversine_m(lon1, lat1, lon2, lat2), repeat)
        bar.advance(task)
        t_loc = timed(lambda: local_m(lon1, lat1, lon2, lat2), repeat)
        bar.advance(task)
        t_geod = timed(lambda: geod.inv(lon1, lat1, lon2, lat2)[2], max(1, repeat - 1))
        bar.advance(task)
    truth = np.asarray(t_geod.result)
    err_hav = float(np.max(np.abs(t_hav.result - truth) / truth))
    err_loc = float(np.max(np.abs(t_loc.result - truth) / truth))
    ours = {
        "lookups_per_s": round(ours_lookup.per_s(n), 1),
        "haversine_pairs_per_s": round(t_hav.per_s(k), 1),
        "local_pairs_per_s": round(t_loc.per_s(k), 1),
        "haversine_max_error_pct": round(err_hav * 100, 4),
        "local_max_error_pct": round(err_loc * 100, 6),
        "meets_target": int(ours_lookup.per_s(n) >= TARGET_LOOKUPS_PER_S),
    }
    geod_rate = round(t_geod.per_s(k), 1)
    baseline = {
        "lookups_per_s": round(base_lookup.per_s(m), 1),
        "haversine_pairs_per_s": geod_rate,
        "local_pairs_per_s": geod_rate,
    }
    return {
        "bench": "geo",
        "params": {
            "n_points": n,
            "sjoin_points": m,
            "repeat": repeat,
            "threads": 1,
            "target_lookups_per_s": TARGET_LOOKUPS_PER_S,
            "lookup_agreement_with_sjoin": agree,
            "inside_share": round(float(np.mean(ours_lookup.result > 0)), 3),
            "distance_range_m": [10, 50_000],
            "baseline_lookup": "geopandas.sjoin(predicate='intersects')",
            "baseline_distance": "pyproj.Geod(ellps='WGS84').inv",
            "peak_rss_mib": peak_rss_mib(),
        },
        "ours": ours,
        "baseline": baseline,
        "ratio": ratios(ours, baseline),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.geo",
        description="Point-in-county lookup and distance kernels vs geopandas.sjoin and pyproj.",
        parents=[bench_parser()],
    )
    parser.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    n = args.n or (QUICK_POINTS if args.quick else FULL_POINTS)
    if n < 10:
        parser.error(f"--n: got {n}; expected at least 10 points")
    stderr.print(f"[bold]bench geo[/]: {n:,} points, single thread")
    result = run(n, repeat=3)
    if result["params"]["lookup_agreement_with_sjoin"] < 1.0:
        stderr.print("[red]lookup disagrees with geopandas.sjoin[/] on some points")
    emit(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
