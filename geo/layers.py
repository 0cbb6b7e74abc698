"""Simplified GeoJSON outlines of a province, its cities and counties, for the map.

The browser draws the base map from these outlines (there are no map tiles
offline), so they must be small and must tile the province without gaps:

* the counties are simplified together with :func:`shapely.coverage_simplify`,
  which simplifies each shared border once, so neighbours keep identical edges
  (no gaps, no slivers, no overlaps);
* the tolerance starts at :data:`START_TOLERANCE` degrees and grows until the
  county collection serialises (compact JSON, UTF-8) to at most
  :data:`TARGET_BYTES`, comfortably below the 600 KB page budget;
* coordinates are rounded to :data:`DECIMALS` decimals (about 1 m);
* cities and the province are the unions of the simplified counties, so their
  borders lie exactly on the county borders drawn beneath them.

Results are cached as JSON under :func:`geo.jurisdictions.cache_dir` (one file
per tier, keyed by adcode and :data:`LAYERS_VERSION`) and in memory. The
returned dicts are shared: treat them as read-only.

Example
-------
>>> from geo.layers import county_outlines
>>> fc = county_outlines(330000)
>>> len(fc["features"]), sorted(fc["features"][0]["properties"])
(90, ['adcode', 'city', 'name'])
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.jurisdictions import ZHEJIANG, cache_dir, load_province

__all__ = [
    "LAYERS_VERSION",
    "START_TOLERANCE",
    "TARGET_BYTES",
    "DECIMALS",
    "county_outlines",
    "city_outlines",
    "province_outline",
    "clear_memory_cache",
    "dumps",
]

log = logging.getLogger(__name__)

LAYERS_VERSION = "1"
START_TOLERANCE = 0.001  # degrees, about 100 m
TARGET_BYTES = 540_000
DECIMALS = 5
_TOLERANCE_STEP = 1.25
_MAX_TOLERANCE = 0.05
_TIERS = ("county", "city", "province")

_memory: dict[tuple[int, str], dict[str, Any]] = {}
_lock = threading.Lock()


def dumps(collection: dict[str, Any]) -> str:
    """Compact JSON text of a feature collection (the size budget is measured on this)."""
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":"))


def _check_adcode(adcode: int) -> int:
    if isinstance(adcode, bool) or not isinstance(adcode, int):
        raise TypeError(f"province adcode must be an int such as 330000, got {adcode!r}")
    return adcode


def _round(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, DECIMALS))


def _collection(geoms: np.ndarray, props: list[dict[str, Any]]) -> dict[str, Any]:
    features = [
        {"type": "Feature", "properties": p, "geometry": json.loads(shapely.to_geojson(g))}
        for p, g in zip(props, geoms, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def _union(parts: np.ndarray) -> shapely.Geometry:
    """Union of coverage parts; falls back to the general overlay if the fast path fails."""
    merged = shapely.coverage_union_all(parts)
    if not merged.is_valid:
        merged = shapely.union_all(parts)
    return merged


def _build(adcode: int) -> dict[str, dict[str, Any]]:
    """Simplify the province's counties and dissolve them into cities and the province.

    Complexity: O(k · V log V) for V boundary vertices and k tolerance steps
    (k ≤ 5 for Zhejiang, about 0.5 s in all).
    """
    zj = load_province(adcode)
    counties = zj.counties.sort_index()
    geoms = np.asarray(counties.geometry.values, dtype=object)
    props = [
        {"adcode": int(a), "name": str(n), "city": int(c)}
        for a, n, c in zip(counties["adcode"], counties["name"], counties["city"], strict=True)
    ]
    tolerance = START_TOLERANCE
    while True:
        simplified = _round(shapely.coverage_simplify(geoms, tolerance))
        county_fc = _collection(simplified, props)
        size = len(dumps(county_fc).encode("utf-8"))
        if size <= TARGET_BYTES or tolerance * _TOLERANCE_STEP > _MAX_TOLERANCE:
            break
        tolerance *= _TOLERANCE_STEP
    log.info(
        "simplified %d counties of %d at tolerance %.5f deg: %d bytes",
        len(props),
        adcode,
        tolerance,
        size,
    )

    city_codes = counties["city"].to_numpy()
    city_geoms, city_props = [], []
    for code in sorted(set(city_codes.tolist())):
        name = zj.name_of(code) if code else zj.name
        city_geoms.append(_union(simplified[city_codes == code]))
        city_props.append({"adcode": int(code), "name": name, "city": int(code)})
    province = _union(simplified)
    return {
        "county": county_fc,
        "city": _collection(np.asarray(city_geoms, dtype=object), city_props),
        "province": _collection(
            np.asarray([province], dtype=object),
            [{"adcode": adcode, "name": zj.name, "city": 0}],
        ),
    }


def _path(adcode: int, tier: str) -> Path:
    return cache_dir() / f"outlines-{adcode}-v{LAYERS_VERSION}-{tier}.json"


def _read_disk(adcode: int) -> dict[str, dict[str, Any]] | None:
    out: dict[str, dict[str, Any]] = {}
    for tier in _TIERS:
        path = _path(adcode, tier)
        if not path.exists():
            return None
        try:
            with path.open(encoding="utf-8") as fh:
                out[tier] = json.load(fh)
        except (OSError, ValueError) as exc:  # corrupt or half-written: rebuild
            log.warning("ignoring unreadable outline cache %s: %s", path, exc)
            return None
    return out


def _write_disk(adcode: int, layers: dict[str, dict[str, Any]]) -> None:
    for tier, collection in layers.items():
        path = _path(adcode, tier)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(dumps(collection), encoding="utf-8")
        os.replace(tmp, path)
    log.info("cached outlines of %d in %s", adcode, cache_dir())


def _outlines(adcode: int, tier: str) -> dict[str, Any]:
    adcode = _check_adcode(adcode)
    key = (adcode, tier)
    with _lock:
        if key not in _memory:
            layers = _read_disk(adcode)
            if layers is None:
                layers = _build(adcode)
                _write_disk(adcode, layers)
            for name, collection in layers.items():
                _memory[(adcode, name)] = collection
        return _memory[key]


def county_outlines(adcode: int = ZHEJIANG) -> dict[str, Any]:
    """County polygons of a province as a GeoJSON FeatureCollection.

    Each feature has properties ``adcode``, ``name`` and ``city`` (adcode of the
    owning city). Complexity: O(1) once cached; the first build per machine
    takes about half a second for Zhejiang.
    """
    return _outlines(adcode, "county")


def city_outlines(adcode: int = ZHEJIANG) -> dict[str, Any]:
    """City polygons (unions of the simplified counties) as a FeatureCollection."""
    return _outlines(adcode, "city")


def province_outline(adcode: int = ZHEJIANG) -> dict[str, Any]:
    """The province polygon (union of the simplified counties), one feature."""
    return _outlines(adcode, "province")


def clear_memory_cache() -> None:
    """Forget the in-memory outlines (the disk cache stays)."""
    with _lock:
        _memory.clear()
