"""The scenario generator: contract validity, determinism and the realism the linkage
core is judged on (camera density, serial offenders, name/phone/ID variants, late
and duplicate sightings)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from geo.jurisdictions import load_province
from ingest.identifiers import is_valid_resident_id, is_valid_uscc, normalize_phone
from ingest.models import parse_message
from ingest.scenario import ENTERPRISE_CATEGORIES, Scenario, generate, write_scenario

SEED = 7
SCALE = 0.15
NEAR_M = 3000.0


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def _metres(lon1: float, lat1: float, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Haversine distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * np.arcsin(np.sqrt(a))


@pytest.fixture(scope="module")
def sc() -> Scenario:
    return generate(seed=SEED, days=1.0, scale=SCALE)


@pytest.fixture(scope="module")
def cases(sc: Scenario) -> dict[str, dict[str, Any]]:
    """Primary report of every case by case id."""
    return {
        m["case_id"]: m
        for m in sc.messages
        if m["kind"] == "incident" and m["report_id"] == m["case_id"]
    }


@pytest.fixture(scope="module")
def reads(sc: Scenario) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """entity -> (epoch, lon, lat, checkpoint ids) of its sightings."""
    by: dict[str, list[tuple[float, float, float, str]]] = defaultdict(list)
    for m in sc.messages:
        if m["kind"] == "sighting":
            by[m["entity"]].append((_epoch(m["at"]), m["lon"], m["lat"], m["checkpoint_id"]))
    out = {}
    for k, rows in by.items():
        t, lon, lat, cp = zip(*rows, strict=True)
        out[k] = (np.array(t), np.array(lon), np.array(lat), np.array(cp))
    return out


def _near_in_window(case: dict[str, Any], entity_reads: tuple[np.ndarray, ...]) -> np.ndarray:
    t, lon, lat, _ = entity_reads
    start, end = _epoch(case["occurred_start"]), _epoch(case["occurred_end"])
    d = _metres(case["lon"], case["lat"], lon, lat)
    return (t >= start) & (t <= end) & (d <= NEAR_M)


def test_every_message_follows_the_contract(sc: Scenario) -> None:
    kinds = Counter()
    for m in sc.messages:
        parsed = parse_message(json.dumps(m, ensure_ascii=False).encode("utf-8"))
        kinds[parsed.kind] += 1
    assert kinds["incident"] >= 50 and kinds["sighting"] >= 10_000 and kinds["team_status"] > 0
    assert len(sc.arrivals) == len(sc.event_times) == len(sc.messages)
    assert (np.diff(sc.arrivals) >= 0).all(), "messages must be in arrival order"
    stamps = [m.get("at") or m["reported_at"] for m in sc.messages[:500]]
    assert all(s.endswith("+08:00") for s in stamps)


def test_generation_is_deterministic() -> None:
    a = generate(seed=3, days=0.5, scale=0.05)
    b = generate(seed=3, days=0.5, scale=0.05)
    c = generate(seed=4, days=0.5, scale=0.05)
    assert a.messages == b.messages and a.truth == b.truth
    assert np.array_equal(a.arrivals, b.arrivals)
    assert a.checkpoints.equals(b.checkpoints)
    assert a.messages != c.messages


def test_sightings_scale_linearly(sc: Scenario) -> None:
    small = generate(seed=7, days=1.0, scale=SCALE / 2)
    ratio = sc.truth["counts"]["sightings"] / small.truth["counts"]["sightings"]
    assert 1.6 < ratio < 2.4


def test_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="scale"):
        generate(scale=0)
    with pytest.raises(ValueError, match="naive"):
        generate(start=dt.datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="seed"):
        generate(seed=-1)


def test_checkpoints_inside_counties_dense_in_cities_sparse_in_the_country(sc: Scenario) -> None:
    cps = sc.checkpoints
    assert 1500 <= len(cps) <= 3000
    assert set(cps["kind"]) == {"urban", "rural", "highway"}
    assert cps["checkpoint_id"].is_unique
    assert all(
        re.fullmatch(rf"CP-{c}-\d{{4}}", i)
        for i, c in zip(cps["checkpoint_id"], cps["county"], strict=True)
    )
    counties = load_province(330000).counties
    for code, group in cps.groupby("county"):
        geom = counties.loc[code].geometry
        assert (
            shapely.contains_xy(geom, group["lon"].to_numpy(), group["lat"].to_numpy()).mean()
            > 0.97
        )
    x = np.radians(cps["lon"].to_numpy()) * 6_371_000 * np.cos(np.radians(29.5))
    y = np.radians(cps["lat"].to_numpy()) * 6_371_000
    tree = shapely.STRtree(shapely.points(x, y))
    (qi, _), d = tree.query_nearest(
        shapely.points(x, y), return_distance=True, exclusive=True, all_matches=False
    )
    nn = np.full(len(cps), np.nan)
    nn[qi] = d
    kind = cps["kind"].to_numpy()
    assert np.median(nn[kind == "urban"]) < 600
    assert (nn[kind == "urban"] < 500).sum() > 500
    assert np.median(nn[kind == "rural"]) > 2000
    assert cps["anpr"].mean() > 0.9 and 0.2 < cps["probe"].mean() < 0.6


def test_background_vehicles_commute_in_their_home_city(
    sc: Scenario, reads: dict[str, tuple[np.ndarray, ...]]
) -> None:
    letters = {
        "A": 330100,
        "B": 330200,
        "C": 330300,
        "D": 330600,
        "E": 330500,
        "F": 330400,
        "G": 330700,
        "H": 330800,
        "J": 331000,
        "K": 331100,
        "L": 330900,
    }
    city_of = dict(zip(sc.checkpoints["checkpoint_id"], sc.checkpoints["city"], strict=True))
    trucks = set(sc.truth["ubiquitous_vehicles"]["truck"])
    home = total = 0
    hours = np.zeros(24)
    for entity, (t, _, _, cp) in reads.items():
        if entity.startswith("浙") and entity not in trucks:
            assert entity[1] in letters and re.fullmatch(
                r"浙[A-HJ-L][0-9A-HJ-NP-Z]{5,6}", entity
            ), entity
            home += sum(city_of[c] == letters[entity[1]] for c in cp)
            total += len(cp)
            hours += np.bincount(((t + 8 * 3600) % 86400 // 3600).astype(int), minlength=24)
        elif entity.isdigit():
            assert re.fullmatch(r"1[3-9]\d{9}", entity), entity
    assert home / total > 0.9, "vehicles stay mostly in the city of their plate letter"
    assert hours[7:9].mean() > 3 * hours[2:4].mean(), "a morning rush hour"
    assert hours[17:19].mean() > 3 * hours[2:4].mean(), "an evening rush hour"
    assert sum(k.startswith("浙") for k in reads) > 500
    assert sum(k.isdigit() for k in reads) > 100, "phones are sensed too"


def test_each_vehicle_series_case_has_the_vehicle_near_the_scene_in_its_window(
    sc: Scenario, cases: dict[str, dict[str, Any]], reads: dict[str, tuple[np.ndarray, ...]]
) -> None:
    vehicle_series = [s for s in sc.truth["series"] if "vehicle" in s["link"]]
    assert len(vehicle_series) >= 5
    not_nearest = 0
    cps = sc.checkpoints
    anpr = cps[cps["anpr"]]
    for s in vehicle_series:
        assert 2 <= len(s["case_ids"]) <= 8
        for cid in s["case_ids"]:
            case = cases[cid]
            hits = [
                p for p in s["vehicles"] if p in reads and _near_in_window(case, reads[p]).any()
            ]
            assert hits, f"{s['series_id']} {cid}: no series vehicle near the scene in the window"
            nearest = anpr["checkpoint_id"].to_numpy()[
                np.argmin(
                    _metres(
                        case["lon"], case["lat"], anpr["lon"].to_numpy(), anpr["lat"].to_numpy()
                    )
                )
            ]
            seen_at = {cp for p in hits for cp in reads[p][3][_near_in_window(case, reads[p])]}
            not_nearest += nearest not in seen_at
    assert not_nearest >= 1, "the series vehicle should not always pass the nearest camera"


def test_reference_series_zhenhai_diesel_theft(
    sc: Scenario, cases: dict[str, dict[str, Any]]
) -> None:
    zhenhai = [
        s for s in sc.truth["series"] if s["counties"] == [330211] and s["category"] == "theft.fuel"
    ]
    assert zhenhai
    s = zhenhai[0]
    assert len(s["case_ids"]) == 5 and s["link"] == "vehicle"
    trucks = sum(
        len([v for v in cases[c]["vehicles"] if v["role"] == "victim"]) for c in s["case_ids"]
    )
    assert trucks == 14
    ningbo_fuel = [
        x
        for x in sc.truth["series"]
        if x["category"] == "theft.fuel" and all(str(c).startswith("3302") for c in x["counties"])
    ]
    assert len(ningbo_fuel) >= 3, "several fuel-theft series in the same city"
    vehicle = [x for x in sc.truth["series"] if "vehicle" in x["link"]]
    assert any(len(x["counties"]) == 1 for x in vehicle), "a series inside one county"
    assert any(len({c // 100 for c in x["counties"]}) > 1 for x in vehicle), (
        "a series across cities"
    )


def test_vehicle_switch_series_with_companion_trips(
    sc: Scenario, reads: dict[str, tuple[np.ndarray, ...]]
) -> None:
    switched = [s for s in sc.truth["series"] if "switch" in s]
    assert switched
    for s in switched:
        a, b = s["switch"]["from"], s["switch"]["to"]
        assert s["vehicles"] == [a, b]
        ta, _, _, ca = reads[a]
        tb, _, _, cb = reads[b]
        together = sum(
            ((cb == c) & (np.abs(tb - t) <= 120)).any() for t, c in zip(ta, ca, strict=True)
        )
        assert together >= 3, f"{a} and {b} should travel together around the switch"


def test_ubiquitous_vehicles_pass_near_many_scenes(
    sc: Scenario, cases: dict[str, dict[str, Any]], reads: dict[str, tuple[np.ndarray, ...]]
) -> None:
    plates = [p for group in sc.truth["ubiquitous_vehicles"].values() for p in group]
    assert {"taxi", "bus", "truck"} <= set(sc.truth["ubiquitous_vehicles"])
    per_day = np.array([len(reads[p][0]) for p in plates if p in reads])
    assert np.median(per_day) >= 40
    scenes = {
        p: sum(_near_in_window(c, reads[p]).any() for c in cases.values())
        for p in plates
        if p in reads
    }
    assert max(scenes.values()) >= 3
    assert sum(v >= 2 for v in scenes.values()) >= 3


def _suspects(sc: Scenario, case_ids: set[str]) -> list[dict[str, Any]]:
    return [
        p
        for m in sc.messages
        if m["kind"] == "incident" and m["case_id"] in case_ids and m["report_id"] == m["case_id"]
        for p in m["persons"]
        if p["role"] == "suspect"
    ]


def test_person_series_mentions_show_the_variants(sc: Scenario) -> None:
    series = [s for s in sc.truth["series"] if s["link"] == "person"]
    assert len(series) >= 3
    names: list[str] = []
    phones: list[str] = []
    ids: list[str] = []
    for s in series:
        mentions = _suspects(sc, set(s["case_ids"]))
        for m in mentions:
            if "phone" in m:
                assert normalize_phone(m["phone"]) in s["phones"]
        names += [m["name"] for m in mentions]
        phones += [m["phone"] for m in mentions if "phone" in m]
        ids += [m["id_number"] for m in mentions if "id_number" in m]
        assert len(s["case_ids"]) >= 2
    canonical = {n for s in series for n in s["persons"]}
    assert any(re.fullmatch(r"[A-Za-z ]+", n) for n in names), "a pinyin spelling"
    assert any(" " in n and not n.isascii() for n in names) or any("\u3000" in n for n in names), (
        "a spaced Chinese name"
    )
    assert any(
        not n.isascii() and n not in canonical and " " not in n and "\u3000" not in n for n in names
    ), "a homophone variant"
    assert "Zhang Wei" in names or "ZHANG Wei" in names or "zhangwei" in names
    formats = {re.sub(r"\d", "9", p) for p in phones}
    assert len(formats) >= 4, f"several phone formats, got {formats}"
    assert any("*" in i for i in ids), "a partial ID"
    assert any(is_valid_resident_id(i) for i in ids), "a full ID"


def test_common_names_are_shared_by_unrelated_suspects(
    sc: Scenario, cases: dict[str, dict[str, Any]]
) -> None:
    in_series = {c for s in sc.truth["series"] for c in s["case_ids"]}
    ids_by_name: dict[str, set[str]] = defaultdict(set)
    for cid, case in cases.items():
        if cid in in_series:
            continue
        for p in case["persons"]:
            if p["role"] == "suspect" and is_valid_resident_id(p.get("id_number")):
                ids_by_name[p["name"]].add(p["id_number"])
    shared = {n for n, ids in ids_by_name.items() if len(ids) >= 2}
    assert shared & {"张伟", "王伟", "王芳", "李伟", "李娜"}, ids_by_name
    # and a series suspect carries one of those names too (张伟 of the contract-fraud series)
    assert "张伟" in {n for s in sc.truth["series"] for n in s["persons"]}


def test_late_and_out_of_order_sightings(sc: Scenario) -> None:
    sighting = np.array([m["kind"] == "sighting" for m in sc.messages])
    at = sc.event_times[sighting]
    delay = sc.arrivals[sighting] - at
    assert sc.truth["late_sightings"] > 0
    late_share = (delay >= 300).mean()
    assert 0.005 < late_share < 0.05
    assert delay.max() <= 6 * 3600 + 700
    assert (np.diff(at) < 0).sum() > 0, "arrival order differs from event order"
    assert (delay >= 0).all()


def test_duplicates_are_resent_with_the_same_id(sc: Scenario) -> None:
    ids = Counter(m["sighting_id"] for m in sc.messages if m["kind"] == "sighting")
    repeated = {k for k, v in ids.items() if v > 1}
    assert len(repeated) == sc.truth["duplicates"] > 0
    first: dict[str, dict[str, Any]] = {}
    for m in sc.messages:
        if m["kind"] == "sighting" and m["sighting_id"] in repeated:
            if m["sighting_id"] in first:
                assert m == first[m["sighting_id"]]
            first.setdefault(m["sighting_id"], m)
    share = sc.truth["duplicates"] / sc.truth["counts"]["sightings"]
    assert 0.001 < share < 0.015


def test_enterprise_cases_are_a_large_share_with_valid_usccs(sc: Scenario) -> None:
    incidents = [m for m in sc.messages if m["kind"] == "incident"]
    enterprise = [m for m in incidents if m["category"] in ENTERPRISE_CATEGORIES]
    assert len(enterprise) / len(incidents) >= 0.35
    usccs = [o["uscc"] for m in incidents for o in m["organizations"] if "uscc" in o]
    assert usccs and all(is_valid_uscc(u) for u in usccs)
    assert all(m["organizations"] for m in enterprise), "an enterprise case names its company"
    with_code = sum(any("uscc" in o for o in m["organizations"]) for m in enterprise)
    assert with_code / len(enterprise) > 0.85
    categories = {m["category"] for m in incidents}
    assert {
        "theft.fuel",
        "theft.cargo",
        "fraud.contract",
        "fraud.invoice",
        "ip.trade_secret",
    } <= categories
    assert {"burglary.residential", "fraud.telecom"} & categories, "background noise cases"


def test_windows_wide_for_discovered_crimes_narrow_for_robbery(sc: Scenario) -> None:
    big = generate(seed=11, days=1.0, scale=0.4)
    widths: dict[str, list[float]] = defaultdict(list)
    for m in big.messages:
        if m["kind"] == "incident":
            s, e, r = (_epoch(m[k]) for k in ("occurred_start", "occurred_end", "reported_at"))
            assert s <= e <= r
            widths[m["category"]].append(e - s)
    assert np.median(widths["theft.fuel"]) >= 4 * 3600
    assert max(widths["robbery"]) <= 30 * 60
    assert sum(len(v) for v in widths.values()) >= 100


def test_ids_valid_except_intended_typos(sc: Scenario) -> None:
    in_series = {c for s in sc.truth["series"] for c in s["case_ids"]}
    bad_in_series = bad_elsewhere = 0
    for m in sc.messages:
        if m["kind"] != "incident" or m["report_id"] != m["case_id"]:
            continue
        for p in m["persons"]:
            rid = p.get("id_number")
            if rid is None or "*" in rid:
                continue
            if not is_valid_resident_id(rid):
                if m["case_id"] in in_series:
                    bad_in_series += 1
                else:
                    bad_elsewhere += 1
    assert bad_elsewhere == 0
    assert bad_in_series == sc.truth["counts"]["id_typos"] >= 1


def test_truth_shape(sc: Scenario, cases: dict[str, dict[str, Any]]) -> None:
    t = sc.truth
    assert {
        "seed",
        "days",
        "scale",
        "start",
        "series",
        "counts",
        "duplicates",
        "late_sightings",
    } <= set(t)
    assert t["start"] == "2026-03-02T00:00:00+08:00"
    for s in t["series"]:
        assert re.fullmatch(r"T-\d{3}", s["series_id"])
        assert s["link"] in ("vehicle", "person", "vehicle+person")
        for cid in s["case_ids"]:
            assert re.fullmatch(r"ZJ-\d{6}-\d{8}-\d{4}", cid) and cid in cases
            assert int(cid[3:9]) in s["counties"]
    all_ids = [c for s in t["series"] for c in s["case_ids"]]
    assert len(all_ids) == len(set(all_ids)), "a case belongs to one series at most"
    assert len(json.dumps(t, ensure_ascii=False)) > 0


def test_write_scenario(tmp_path: Path) -> None:
    summary = write_scenario(tmp_path / "out", seed=5, days=0.5, scale=0.05)
    out = tmp_path / "out"
    lines = (out / "stream.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == summary["messages"] == sum(summary["kinds"].values())
    assert "浙" in (out / "stream.jsonl").read_text(encoding="utf-8")[:2_000_000]
    for line in lines[:2000]:
        parse_message(line.encode("utf-8"))
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth["seed"] == 5 and summary["series"] == len(truth["series"])
    header = (out / "checkpoints.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("checkpoint_id,lon,lat,county")
