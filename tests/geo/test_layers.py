"""Simplified outlines: counts, size budget, no gaps or overlaps, disk and memory cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from geo import layers
from geo.jurisdictions import load_province

MAX_BYTES = 600_000


@pytest.fixture(scope="module")
def counties() -> dict:
    return layers.county_outlines(330000)


def _geoms(collection: dict) -> np.ndarray:
    return np.asarray([shape(f["geometry"]) for f in collection["features"]], dtype=object)


def test_ninety_counties_with_properties(counties: dict) -> None:
    feats = counties["features"]
    assert counties["type"] == "FeatureCollection"
    assert len(feats) == 90
    zj = load_province(330000)
    assert {f["properties"]["adcode"] for f in feats} == set(zj.counties.index)
    ningbo = [f for f in feats if f["properties"]["adcode"] == 330211][0]["properties"]
    assert ningbo == {"adcode": 330211, "name": "镇海区", "city": 330200}


def test_serialized_size_within_budget(counties: dict) -> None:
    size = len(layers.dumps(counties).encode("utf-8"))
    assert size <= MAX_BYTES, f"county outlines are {size} bytes"


def test_coordinates_rounded(counties: dict) -> None:
    coords = shapely.get_coordinates(_geoms(counties))
    assert np.allclose(coords, np.round(coords, layers.DECIMALS), rtol=0, atol=1e-12)


def test_simplified_counties_valid_and_without_gaps_or_overlaps(counties: dict) -> None:
    simplified = _geoms(counties)
    assert shapely.is_valid(simplified).all()
    original = load_province(330000).counties.sort_index().geometry.values
    orig_union = shapely.union_all(original)
    simp_union = shapely.union_all(simplified)
    # Covers the original province up to a small area (simplification moves edges by < ~250 m).
    assert orig_union.difference(simp_union).area / orig_union.area < 0.005

    # No slivers: the simplified union has no holes the original does not have.
    def holes(geom: shapely.Geometry) -> int:
        return int(sum(shapely.get_num_interior_rings(shapely.get_parts(geom))))

    assert holes(simp_union) <= holes(orig_union)
    # No overlaps: areas add up to the union, and neighbours share edges only.
    assert abs(sum(g.area for g in simplified) - simp_union.area) < 1e-9
    tree = shapely.STRtree(simplified)
    left, right = tree.query(simplified, predicate="intersects")
    pairs = left < right
    assert pairs.sum() > 150  # plenty of neighbours were checked
    overlap = shapely.area(shapely.intersection(simplified[left[pairs]], simplified[right[pairs]]))
    assert overlap.max() < 1e-10


def test_cities_and_province_follow_county_borders() -> None:
    cities = layers.city_outlines(330000)
    province = layers.province_outline(330000)
    assert len(cities["features"]) == 11
    assert {f["properties"]["name"] for f in cities["features"]} >= {"杭州市", "宁波市", "温州市"}
    assert [f["properties"]["name"] for f in province["features"]] == ["浙江省"]
    county_union = shapely.union_all(_geoms(layers.county_outlines(330000)))
    prov = shape(province["features"][0]["geometry"])
    assert prov.symmetric_difference(county_union).area < 1e-8
    city_geoms = _geoms(cities)
    assert abs(sum(g.area for g in city_geoms) - prov.area) < 1e-8


def test_cache_is_written_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICC_CACHE_DIR", str(tmp_path))
    layers.clear_memory_cache()
    try:
        first = layers.county_outlines(330000)
        files = sorted(p.name for p in (tmp_path / "geo").glob("outlines-330000-*.json"))
        assert files == [
            f"outlines-330000-v{layers.LAYERS_VERSION}-{tier}.json"
            for tier in ("city", "county", "province")
        ]
        assert layers.county_outlines(330000) is first  # memory
        layers.clear_memory_cache()

        def no_rebuild(adcode: int) -> dict:
            raise AssertionError("outlines were rebuilt instead of read from the disk cache")

        monkeypatch.setattr(layers, "_build", no_rebuild)
        second = layers.county_outlines(330000)
        assert second == first and second is not first
    finally:
        layers.clear_memory_cache()


def test_rejects_non_int_adcode() -> None:
    with pytest.raises(TypeError, match="330000"):
        layers.county_outlines("330000")  # type: ignore[arg-type]
