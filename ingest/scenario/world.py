"""The sensor world: ANPR cameras and phone probes placed inside real county polygons.

Placement follows how cameras are really spread over Zhejiang:

* **urban** cores: a dense Gaussian cluster around every district (区) core and
  every county seat; districts near the city centre are pulled towards it, so a
  city's downtown has cameras every few hundred metres;
* **rural**: a few cameras scattered uniformly over each county (one per
  ~200 km²), kilometres apart;
* **highway**: cameras every ~5 km along the expressway corridors between cities.

Each checkpoint has an id ``CP-<county adcode>-<nnnn>``, a county and city,
a kind, and which sensors it carries (``anpr`` reads plates, ``probe`` sees phones).

Example
-------
>>> import numpy as np
>>> world = build_world(np.random.default_rng(7))
>>> 1500 <= len(world.checkpoints) <= 3000
True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.jurisdictions import load_province

from .projection import METRIC_CRS, to_lonlat, to_metres

__all__ = ["CITY_CENTRES", "CORRIDORS", "SnapGrid", "World", "build_world"]

log = logging.getLogger(__name__)

#: Downtown of each prefecture-level city (lon, lat), the seat of its main district.
CITY_CENTRES: dict[int, tuple[float, float]] = {
    330100: (120.155, 30.274),  # 杭州 上城/拱墅
    330200: (121.550, 29.875),  # 宁波 海曙
    330300: (120.699, 27.994),  # 温州 鹿城
    330400: (120.755, 30.746),  # 嘉兴 南湖
    330500: (120.088, 30.894),  # 湖州 吴兴
    330600: (120.580, 30.000),  # 绍兴 越城
    330700: (119.650, 29.079),  # 金华 婺城
    330800: (118.874, 28.936),  # 衢州 柯城
    330900: (122.207, 29.985),  # 舟山 定海
    331000: (121.421, 28.656),  # 台州 椒江
    331100: (119.923, 28.452),  # 丽水 莲都
}

#: Expressway corridors between city centres (沪杭, 杭甬, 甬台温, 杭金衢, 金丽温, ...).
CORRIDORS: tuple[tuple[int, int], ...] = (
    (330100, 330400),
    (330100, 330500),
    (330100, 330600),
    (330600, 330200),
    (330200, 330900),
    (330200, 331000),
    (331000, 330300),
    (330100, 330700),
    (330700, 330800),
    (330700, 331100),
    (331100, 330300),
    (330500, 330400),
    (330600, 331000),
    (330700, 331000),
    (330200, 330700),
    (330100, 330800),
)

#: County-level cities with large towns (more cameras around the seat).
_BIG_TOWNS = frozenset(
    {
        330782,
        330282,
        330281,
        330681,
        331081,
        330382,
        330381,
        330481,
        330483,
        330783,
        330784,
        331082,
        330482,
        330522,
    }
)

_PULL_RADIUS_M = 10_000.0  # districts within this distance of the downtown centre join it
_CAPTURE_M = {"urban": 350.0, "rural": 1200.0, "highway": 1500.0}


@dataclass(frozen=True)
class World:
    """Checkpoints with their metric coordinates and a spatial index.

    ``checkpoints`` columns: ``checkpoint_id``, ``lon``, ``lat``, ``county``,
    ``city``, ``kind`` (urban/rural/highway), ``anpr``, ``probe``.
    """

    checkpoints: pd.DataFrame
    x: np.ndarray
    y: np.ndarray
    capture_m: np.ndarray
    counties: pd.DataFrame  # adcode-indexed: name, city, district, core_x, core_y
    county_geoms: dict[int, BaseGeometry]  # metric polygons, prepared
    province_geom: BaseGeometry
    tree: shapely.STRtree = field(repr=False)
    grid: SnapGrid = field(repr=False)

    def snap(self, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The checkpoint whose capture disc covers each point (the closest one when
        several do), else -1. A point is captured when it lies within the checkpoint's
        radius (350 m urban, 1.2 km rural, 1.5 km highway).

        Returns (checkpoint index or -1, distance in metres). O(n log cells) through
        :class:`SnapGrid`.
        """
        return self.grid.lookup(
            np.asarray(px, float), np.asarray(py, float), self.x, self.y, self.capture_m
        )

    def near(self, x: float, y: float, radius: float, *, anpr: bool = True) -> np.ndarray:
        """Indices of checkpoints within ``radius`` metres of (x, y), nearest first."""
        idx = self.tree.query(shapely.points(x, y), predicate="dwithin", distance=radius)
        if anpr:
            idx = idx[self.checkpoints["anpr"].to_numpy()[idx]]
        d = np.hypot(self.x[idx] - x, self.y[idx] - y)
        return idx[np.argsort(d, kind="stable")]

    def in_county(self, county: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Mask of points inside the county polygon."""
        return shapely.contains_xy(self.county_geoms[county], x, y)

    def select(
        self,
        *,
        city: int | None = None,
        county: int | None = None,
        kinds: tuple[str, ...] = ("urban", "rural", "highway"),
    ) -> np.ndarray:
        """Indices of checkpoints filtered by city/county/kind."""
        cps = self.checkpoints
        mask = cps["kind"].isin(kinds).to_numpy()
        if city is not None:
            mask &= cps["city"].to_numpy() == city
        if county is not None:
            mask &= cps["county"].to_numpy() == county
        return np.flatnonzero(mask)


class SnapGrid:
    """A sparse raster (100 m cells) of which checkpoint covers each cell.

    Built by splatting every checkpoint's capture disc onto the cells and keeping,
    per cell, the checkpoint closest to the cell centre; a lookup is a binary
    search of the cell key. Much faster than a tree query per path sample.
    """

    CELL_M = 100.0

    def __init__(self, x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> None:
        g = self.CELL_M
        self.x0 = float(x.min() - radius.max() - 2 * g)
        self.y0 = float(y.min() - radius.max() - 2 * g)
        self.ny = int((y.max() + radius.max() + 2 * g - self.y0) // g) + 1
        keys: list[np.ndarray] = []
        cps: list[np.ndarray] = []
        dists: list[np.ndarray] = []
        for r in np.unique(radius):
            idx = np.flatnonzero(radius == r)
            k = int(np.ceil(r / g)) + 1
            ox, oy = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1))
            ox, oy = ox.ravel(), oy.ravel()
            ix = ((x[idx] - self.x0) // g).astype(np.int64)[:, None] + ox[None, :]
            iy = ((y[idx] - self.y0) // g).astype(np.int64)[:, None] + oy[None, :]
            d = np.hypot(
                (ix + 0.5) * g + self.x0 - x[idx][:, None],
                (iy + 0.5) * g + self.y0 - y[idx][:, None],
            )
            ok = d <= r
            keys.append((ix * self.ny + iy)[ok])
            cps.append(np.broadcast_to(idx[:, None], ok.shape)[ok])
            dists.append(d[ok])
        key, cp, dist = np.concatenate(keys), np.concatenate(cps), np.concatenate(dists)
        order = np.lexsort((dist, key))
        key, cp = key[order], cp[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        self.keys = key[first]
        self.cp = cp[first]

    def lookup(
        self, px: np.ndarray, py: np.ndarray, x: np.ndarray, y: np.ndarray, radius: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(checkpoint index or -1, exact distance) for each point."""
        g = self.CELL_M
        key = ((px - self.x0) // g).astype(np.int64) * self.ny + ((py - self.y0) // g).astype(
            np.int64
        )
        pos = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        hit = self.keys[pos] == key
        cp = np.where(hit, self.cp[pos], -1)
        safe = np.maximum(cp, 0)
        dist = np.where(hit, np.hypot(px - x[safe], py - y[safe]), np.inf)
        ok = dist <= radius[safe]
        return np.where(ok, cp, -1), np.where(ok, dist, np.inf)


def _sample_in(
    rng: np.random.Generator, geom: BaseGeometry, cx: float, cy: float, sigma: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` Gaussian points around (cx, cy) that fall inside ``geom``."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    for _ in range(6):
        px = cx + rng.normal(0.0, sigma, 3 * n)
        py = cy + rng.normal(0.0, sigma, 3 * n)
        ok = shapely.contains_xy(geom, px, py)
        xs.append(px[ok])
        ys.append(py[ok])
        got += int(ok.sum())
        if got >= n:
            break
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _uniform_in(
    rng: np.random.Generator, geom: BaseGeometry, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniformly inside ``geom`` (rejection sampling in its bounds)."""
    minx, miny, maxx, maxy = geom.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    while got < n:
        px = rng.uniform(minx, maxx, 8 * n)
        py = rng.uniform(miny, maxy, 8 * n)
        ok = shapely.contains_xy(geom, px, py)
        xs.append(px[ok])
        ys.append(py[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _core_of(
    geom: BaseGeometry, centre: shapely.Point, district: bool
) -> tuple[shapely.Point, bool]:
    """The urban core of a county: the downtown part of a central district, else a
    representative point (the centroid when it lies inside)."""
    if district and geom.distance(centre) < _PULL_RADIUS_M:
        part = geom.intersection(centre.buffer(_PULL_RADIUS_M * 0.8))
        if not part.is_empty:
            return part.representative_point(), True
    c = geom.centroid
    return (c if geom.contains(c) else geom.representative_point()), False


def build_world(rng: np.random.Generator, province: int = 330000) -> World:
    """Place 2,000-3,000 checkpoints over the province. O(counties x samples)."""
    zj = load_province(province)
    counties = zj.counties.to_crs(METRIC_CRS)
    prov = zj.province.to_crs(METRIC_CRS).geometry.iloc[0]
    shapely.prepare(prov)
    cx, cy = to_metres(
        np.array([c[0] for c in CITY_CENTRES.values()]),
        np.array([c[1] for c in CITY_CENTRES.values()]),
    )
    centre_pt = {code: shapely.Point(x, y) for code, x, y in zip(CITY_CENTRES, cx, cy, strict=True)}

    rows: list[pd.DataFrame] = []
    geoms: dict[int, BaseGeometry] = {}
    meta: list[dict[str, object]] = []
    for adcode, rec in counties.sort_index().iterrows():
        adcode = int(adcode)
        geom = rec.geometry
        shapely.prepare(geom)
        geoms[adcode] = geom
        city = int(rec["city"])
        district = str(rec["name"]).endswith("区")
        core, central = _core_of(geom, centre_pt.get(city, geom.centroid), district)
        if district:
            n_core, sigma = (32, 1400.0) if central else (20, 1100.0)
        else:
            n_core, sigma = (20, 1100.0) if adcode in _BIG_TOWNS else (10, 800.0)
        ux, uy = _sample_in(rng, geom, core.x, core.y, sigma, n_core)
        area_km2 = geom.area / 1e6
        n_rural = int(np.clip(round(area_km2 / 200.0), 3 if district else 4, 16))
        rx, ry = _uniform_in(rng, geom, n_rural)
        meta.append(
            {
                "adcode": adcode,
                "name": rec["name"],
                "city": city,
                "district": district,
                "central": central,
                "core_x": core.x,
                "core_y": core.y,
                "area_km2": area_km2,
            }
        )
        rows.append(
            pd.DataFrame(
                {
                    "x": np.r_[ux, rx],
                    "y": np.r_[uy, ry],
                    "county": adcode,
                    "city": city,
                    "kind": ["urban"] * len(ux) + ["rural"] * len(rx),
                }
            )
        )

    hx, hy = _highway_points(rng, cx, cy, prov)
    hcounty = _locate(geoms, hx, hy)
    ok = hcounty > 0
    hx, hy, hcounty = hx[ok], hy[ok], hcounty[ok]
    county_city = {m["adcode"]: m["city"] for m in meta}
    rows.append(
        pd.DataFrame(
            {
                "x": hx,
                "y": hy,
                "county": hcounty,
                "city": [county_city[int(c)] for c in hcounty],
                "kind": "highway",
            }
        )
    )

    cps = pd.concat(rows, ignore_index=True)
    kind_order = cps["kind"].map({"urban": 0, "rural": 1, "highway": 2})
    cps = cps.assign(_k=kind_order).sort_values(["county", "_k"], kind="stable").drop(columns="_k")
    cps = cps.reset_index(drop=True)
    seq = cps.groupby("county").cumcount() + 1
    cps["checkpoint_id"] = [f"CP-{c}-{s:04d}" for c, s in zip(cps["county"], seq, strict=True)]
    lon, lat = to_lonlat(cps["x"].to_numpy(), cps["y"].to_numpy())
    cps["lon"] = np.round(lon, 6)
    cps["lat"] = np.round(lat, 6)
    u = rng.random(len(cps))
    kind = cps["kind"].to_numpy()
    p_probe = np.where(kind == "urban", 0.4, np.where(kind == "rural", 0.3, 0.2))
    cps["probe"] = rng.random(len(cps)) < p_probe
    cps["anpr"] = (u < np.where(kind == "highway", 1.0, 0.93)) | ~cps["probe"]
    x = cps["x"].to_numpy()
    y = cps["y"].to_numpy()
    frame = cps[["checkpoint_id", "lon", "lat", "county", "city", "kind", "anpr", "probe"]].copy()
    frame["county"] = frame["county"].astype(np.int64)
    frame["city"] = frame["city"].astype(np.int64)
    capture = frame["kind"].map(_CAPTURE_M).to_numpy(dtype=np.float64)
    county_frame = pd.DataFrame(meta).set_index("adcode", drop=False)
    log.info("placed %d checkpoints (%s)", len(frame), frame["kind"].value_counts().to_dict())
    tree = shapely.STRtree(shapely.points(x, y))
    return World(frame, x, y, capture, county_frame, geoms, prov, tree, SnapGrid(x, y, capture))


def _highway_points(
    rng: np.random.Generator, cx: np.ndarray, cy: np.ndarray, prov: BaseGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """Cameras every ~5 km along each corridor, a little off the straight line."""
    index = {code: i for i, code in enumerate(CITY_CENTRES)}
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for a, b in CORRIDORS:
        x0, y0, x1, y1 = cx[index[a]], cy[index[a]], cx[index[b]], cy[index[b]]
        length = float(np.hypot(x1 - x0, y1 - y0))
        n = max(2, int(length // 5000.0))
        f = (np.arange(1, n) + rng.uniform(-0.3, 0.3, n - 1)) / n
        bend = rng.normal(0.0, 0.04) * length
        nx, ny = -(y1 - y0) / length, (x1 - x0) / length
        off = bend * np.sin(np.pi * f) + rng.normal(0.0, 250.0, n - 1)
        px = x0 + f * (x1 - x0) + off * nx
        py = y0 + f * (y1 - y0) + off * ny
        ok = shapely.contains_xy(prov, px, py)
        xs.append(px[ok])
        ys.append(py[ok])
    return np.concatenate(xs), np.concatenate(ys)


def _locate(geoms: dict[int, BaseGeometry], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """County adcode of each point (0 when outside every county)."""
    out = np.zeros(len(x), dtype=np.int64)
    for code, geom in geoms.items():
        todo = out == 0
        if not todo.any():
            break
        hit = shapely.contains_xy(geom, x[todo], y[todo])
        out[np.flatnonzero(todo)[hit]] = code
    return out
