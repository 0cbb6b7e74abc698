"""Point -> county lookup on Zhejiang's real boundaries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.jurisdictions import load_province
from geo.lookup import JurisdictionIndex

# Approximate seats of the 11 city governments (lon, lat) -> city adcode.
CITY_SEATS = {
    330100: (120.2107, 30.2460),  # 杭州
    330200: (121.5440, 29.8683),  # 宁波
    330300: (120.6994, 28.0006),  # 温州
    330400: (120.7555, 30.7461),  # 嘉兴
    330500: (120.0868, 30.8942),  # 湖州
    330600: (120.5821, 29.9971),  # 绍兴
    330700: (119.6474, 29.0790),  # 金华
    330800: (118.8594, 28.9701),  # 衢州
    330900: (122.2072, 29.9853),  # 舟山
    331000: (121.4208, 28.6564),  # 台州
    331100: (119.9229, 28.4676),  # 丽水
}


@pytest.fixture(scope="module")
def index() -> JurisdictionIndex:
    return JurisdictionIndex.for_province(330000)


def test_tier_counts_and_parents() -> None:
    zj = load_province(330000)
    assert (len(zj.province), len(zj.cities), len(zj.counties)) == (1, 11, 90)
    assert zj.name == "浙江省"
    assert set(zj.counties["city"]) == set(zj.cities.index)
    assert zj.name_of(330211) == "镇海区"
    assert zj.counties.crs.to_epsg() == 4326


def test_other_province_by_adcode() -> None:
    js = load_province(320000)
    assert js.name == "江苏省" and len(js.cities) == 13
    assert (js.counties["parent"] // 10000 == 32).all()


@pytest.mark.parametrize("bad", [330100, 3300, "330000", 990000])
def test_bad_province_adcode_is_rejected(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match=str(bad)):
        load_province(bad)  # type: ignore[arg-type]


def test_each_city_seat_lands_in_its_city(index: JurisdictionIndex) -> None:
    lons = [p[0] for p in CITY_SEATS.values()]
    lats = [p[1] for p in CITY_SEATS.values()]
    counties = index.counties_of(lons, lats)
    assert list(index.cities_of_counties(counties)) == list(CITY_SEATS)


def test_zhenhai_and_outside(index: JurisdictionIndex) -> None:
    loc = index.locate(121.70, 29.97)
    assert (loc.county, loc.city, loc.province) == (330211, 330200, 330000)
    assert (loc.province_name, loc.city_name, loc.county_name) == ("浙江省", "宁波市", "镇海区")
    sea = index.locate(123.5, 29.0)  # East China Sea
    assert not sea.inside and sea.county == 0
    assert index.counties_of([116.40], [39.90])[0] == 0  # Beijing


def test_point_on_shared_border_gets_smallest_adcode(index: JurisdictionIndex) -> None:
    counties = index.jurisdictions.counties.sort_index()
    a, b = 330211, 330206  # 镇海区 and 北仑区 share a border
    shared = shapely.intersection(
        shapely.boundary(counties.at[a, "geometry"]), shapely.boundary(counties.at[b, "geometry"])
    )
    coords = shapely.get_coordinates(shared)
    assert len(coords) > 0
    x, y = coords[len(coords) // 2]
    owners = {int(index.counties_of([x], [y])[0]) for _ in range(3)}
    assert owners == {min(a, b)}


def test_agrees_with_geopandas_sjoin_on_100k_random_points(index: JurisdictionIndex) -> None:
    rng = np.random.default_rng(42)
    n = 100_000
    lon = rng.uniform(118.0, 123.3, n)
    lat = rng.uniform(27.0, 31.2, n)
    ours = index.counties_of(lon, lat)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    counties = index.jurisdictions.counties[["adcode", "geometry"]].reset_index(drop=True)
    joined = gpd.sjoin(pts, counties, how="left", predicate="intersects")
    theirs = joined.groupby(level=0)["adcode"].min().reindex(range(n)).fillna(0).astype(np.int64)
    assert (ours > 0).sum() > n // 3  # the sample really hits the province
    assert np.array_equal(ours, theirs.to_numpy())


@pytest.mark.parametrize(
    ("lons", "lats", "needle"),
    [
        ([120.0, np.nan], [30.0, 30.0], "lon[1] = nan"),
        ([120.0], [95.0], "lat[0] = 95.0"),
        ([190.0], [30.0], "lon[0] = 190.0"),
        ([120.0, 121.0], [30.0], "equal length"),
        ([120.0], [np.inf], "lat[0] = inf"),
    ],
)
def test_bad_input_is_a_clear_error(
    index: JurisdictionIndex, lons: list, lats: list, needle: str
) -> None:
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        index.counties_of(lons, lats)


def test_empty_input(index: JurisdictionIndex) -> None:
    assert index.counties_of([], []).shape == (0,)
