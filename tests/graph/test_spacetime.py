"""The space-time core: index, scene queries with rarity, co-presence links, late sightings."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.spacetime import _kernels as kern
from graph.spacetime.checkpoints import CheckpointRegistry
from graph.spacetime.copresence import CoPresence
from graph.spacetime.index import SightingIndex, to_index_time
from graph.spacetime.scene import _blocks, _own_blocks, history, scene_hits
from graph.spacetime.sink import SpaceTimeSink
from ingest.models import parse_message
from ingest.scenario import generate

TZ = dt.timezone(dt.timedelta(hours=8))

# ---------------------------------------------------------------- index vs reference

rows = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 12), st.integers(0, 6 * 3600)),
    min_size=0,
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(
    rows,
    st.lists(
        st.tuples(
            st.lists(st.integers(0, 14), min_size=1, max_size=5),
            st.integers(0, 6 * 3600),
            st.integers(0, 3 * 3600),
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 7),
    st.randoms(use_true_random=False),
)
def test_index_query_matches_a_plain_scan(data, queries, splits, rnd) -> None:  # noqa: ANN001
    """Appends in any order and any batching give the same answers as scanning a list."""
    base = 100_000_000
    shuffled = list(data)
    rnd.shuffle(shuffled)  # out-of-order arrival
    idx = SightingIndex(run_size=1024)
    size = max(1, len(shuffled) // splits)
    for i in range(0, len(shuffled), size):
        chunk = shuffled[i : i + size]
        ent = np.array([r[0] for r in chunk], np.int32)
        cp = np.array([r[1] for r in chunk], np.int32)
        t = np.array([base + r[2] for r in chunk], np.int32)
        idx.append(ent, cp, t)
    assert len(idx) == len(data)
    for cps, start, length in queries:
        t0, t1 = base + start, base + start + length
        ent, cp, t = idx.query(np.array(sorted(set(cps)), np.int32), t0, t1)
        got = sorted(zip(ent.tolist(), cp.tolist(), t.tolist(), strict=True))
        want = sorted(
            (e, c, base + tt) for e, c, tt in data if c in set(cps) and t0 <= base + tt <= t1
        )
        assert got == want


def test_bucketing_is_a_stable_sort_by_checkpoint() -> None:
    rng = np.random.default_rng(1)
    cp = rng.integers(0, 50, 5000).astype(np.int32)
    ent = np.arange(5000, dtype=np.int32)
    t = rng.integers(0, 1000, 5000).astype(np.int32)
    ptr, e2, t2 = kern.bucket_by_cp(cp, ent, t, 50)
    order = np.argsort(cp, kind="stable")
    assert np.array_equal(e2, ent[order]) and np.array_equal(t2, t[order])
    assert np.array_equal(kern.expand_cp(ptr), cp[order])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 100)), max_size=60),
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 100), st.integers(0, 50)), max_size=30),
)
def test_standing_query_matches_reference(sightings, windows) -> None:  # noqa: ANN001
    cp = np.array([s[0] for s in sightings], np.int32)
    t = np.array([s[1] for s in sightings], np.int64)
    order = sorted(range(len(windows)), key=lambda i: windows[i][0])
    w = [windows[i] for i in order]
    ptr = np.zeros(11, np.int64)
    for c, _, _ in w:
        ptr[c + 1] += 1
    ptr = np.cumsum(ptr)
    w0 = np.array([x[1] for x in w], np.int64)
    w1 = np.array([x[1] + x[2] for x in w], np.int64)
    s_idx, w_idx = kern.standing_matches(cp, t, ptr, w0, w1)
    got = sorted(zip(s_idx.tolist(), w_idx.tolist(), strict=True))
    want = sorted(
        (i, j)
        for i, (c, tt) in enumerate(sightings)
        for j, (wc, a, n) in enumerate(w)
        if wc == c and a <= tt <= a + n
    )
    assert got == want


def test_retention_drops_old_partitions_and_counts_too_old() -> None:
    idx = SightingIndex(retention_hours=2)
    t = np.array([100 * 3600, 100 * 3600 + 10], np.int32)
    idx.append(np.array([1, 2], np.int32), np.array([0, 0], np.int32), t)
    later = idx.append(
        np.array([3], np.int32), np.array([0], np.int32), np.array([103 * 3600], np.int32)
    )
    assert later.accepted == 1 and len(idx) == 1  # hour 100 fell out of the 2 h retention
    late = idx.append(
        np.array([4], np.int32), np.array([0], np.int32), np.array([100 * 3600], np.int32)
    )
    assert (late.accepted, late.too_old) == (0, 1)
    assert idx.nbytes / len(idx) > 0


def test_late_sightings_in_a_settled_hour_are_tidied_into_runs_and_still_found() -> None:
    """Hours two behind the watermark are settled: late reads there pile up in a tail
    until SETTLED_TAIL_MAX, then become a run, and runs merge once the small ones add up;
    every read stays findable, and an untouched hour is left as it is."""
    idx = SightingIndex(retention_hours=48)
    rng = np.random.default_rng(3)
    h = 3600

    def add(n: int, hour: int) -> None:
        t = (hour * h + rng.integers(0, h, n)).astype(np.int32)
        idx.append(
            rng.integers(0, 50, n).astype(np.int32), rng.integers(0, 7, n).astype(np.int32), t
        )

    add(1000, 10)  # hour 10, unsettled while the watermark is in it: a tail
    add(10, 11)
    assert idx.partitions[10].runs == [] and idx.partitions[10].n == 1000
    add(10, 13)  # hour 10 is settled now: its tail becomes a run
    assert [r.ent.size for r in idx.partitions[10].runs] == [1000] and idx.partitions[10].n == 0
    assert idx.partitions[11].n == 10  # settled too, but a small tail stays a tail

    def shape(hour: int) -> tuple[list[int], int]:
        part = idx.partitions[hour]
        return [r.ent.size for r in part.runs], part.n

    for _ in range(8):
        add(30, 10)  # late reads: a trickle stays in the tail ...
    assert shape(10) == ([1000], 240)
    add(30, 10)  # ... 256 of them become a run, merged with the big one (a quarter of it)
    assert shape(10) == ([1270], 0)
    for _ in range(9):
        add(30, 10)
    assert shape(10) == ([1270, 270], 0)  # small runs under a quarter of the big one
    for _ in range(9):
        add(30, 10)
    assert shape(10) == ([1810], 0)
    for _ in range(12):
        add(30, 10)
    assert shape(10) == ([1810, 270], 90)
    assert idx.partitions[10].size() == 1000 + 39 * 30
    ent, cp, t = idx.query(np.arange(7, dtype=np.int32), 10 * h, 11 * h - 1)
    assert ent.size == 1000 + 39 * 30
    assert idx.partitions[11].runs == [] and idx.partitions[11].n == 10


def test_bad_input_gives_clear_errors_or_empty_results() -> None:
    idx = SightingIndex()
    with pytest.raises(ValueError, match="one length"):
        idx.append(np.array([1, 2], np.int32), np.array([0], np.int32), np.array([0, 1], np.int32))
    with pytest.raises(ValueError, match=">= 0"):
        idx.append(np.array([-1], np.int32), np.array([0], np.int32), np.array([5], np.int32))
    assert (
        idx.append(np.array([], np.int32), np.array([], np.int32), np.array([], np.int32)).accepted
        == 0
    )
    assert all(a.size == 0 for a in idx.query(np.array([], np.int32), 0, 10))
    assert all(a.size == 0 for a in idx.query(np.array([3], np.int32), 10, 0))
    with pytest.raises(ValueError, match="outside what the index holds"):
        to_index_time(np.array([0.0]))
    reg = CheckpointRegistry()
    with pytest.raises(KeyError, match="unknown checkpoint 'CP-X'"):
        reg.id_of("CP-X")
    with pytest.raises(ValueError, match="not a valid lon/lat"):
        reg.register("CP-Y", float("nan"), 30.0)
    core = CoPresence()
    # a sensor with its clock at 1970 is skipped and counted, never a crash
    assert core.add_sightings(["plate"], ["浙B1"], [("CP-1", 121.7, 29.9)], np.array([0.0])) == []
    assert core.rejected_too_old == 1 and len(core.index) == 0


def test_radius_adapts_to_checkpoint_density() -> None:
    reg = CheckpointRegistry()
    for i in range(12):  # a city block: cameras every ~200 m
        reg.register(f"U{i}", 121.55 + 0.002 * (i % 4), 29.87 + 0.002 * (i // 4))
    for i in range(3):  # countryside: kilometres apart
        reg.register(f"R{i}", 120.0 + 0.03 * i, 28.5)
    _, _, urban = reg.near_scene(121.553, 29.872)
    ids, dist, rural = reg.near_scene(120.001, 28.501)
    assert urban == 800.0
    assert 2000 < rural <= 8000 and ids.size == 3 and dist[0] < 200


# ---------------------------------------------------------------- a generated scenario


@pytest.fixture(scope="module")
def fed() -> tuple[SpaceTimeSink, dict]:
    scenario = generate(seed=7, days=2, scale=0.3)
    sink = SpaceTimeSink()
    seen: set[str] = set()
    batch = []
    for raw in scenario.messages:  # arrival order, as the live stream delivers them
        msg = parse_message(json.dumps(raw, ensure_ascii=False))
        if msg.key in seen:
            continue
        seen.add(msg.key)
        batch.append(msg)
        if len(batch) >= 1000:
            sink.apply(batch)
            batch = []
    sink.apply(batch)
    return sink, scenario.truth


def test_offender_vehicles_are_retrieved_for_their_scenes(fed: tuple[SpaceTimeSink, dict]) -> None:
    sink, truth = fed
    core = sink.core
    total = found = 0
    for series in truth["series"]:
        if "vehicle" not in series["link"]:
            continue
        plates = {core.entities.get("plate:" + v) for v in series["vehicles"]} - {None}
        for case_id in series["case_ids"]:
            case = core.cases.get(case_id)
            assert case is not None, f"vehicle-series case {case_id} got no scene window"
            hits = scene_hits(core.index, core.checkpoints, core.stats, case.window)
            total += 1
            found += bool(plates & set(hits.ent.tolist()))
    assert total >= 10
    assert found / total >= 0.95


def test_ubiquitous_vehicles_do_not_link_cases(fed: tuple[SpaceTimeSink, dict]) -> None:
    sink, truth = fed
    fleet = {v for plates in truth["ubiquitous_vehicles"].values() for v in plates}
    linking = {ev.entity for evs in sink.links().values() for ev in evs if ev.score >= 2.0}
    assert not {e.split(":", 1)[1] for e in linking} & fleet
    # and they are near scenes (so this is not vacuous): their hits exist but weigh little
    core = sink.core
    weights = []
    for case in list(core.cases.values())[:80]:
        hits = scene_hits(core.index, core.checkpoints, core.stats, case.window)
        for e, w in zip(hits.ent.tolist(), hits.weight.tolist(), strict=True):
            if core.entities.value(e).split(":", 1)[1] in fleet:
                weights.append(w)
    assert len(weights) >= 20
    assert float(np.median(weights)) < 0.2


def test_collision_analysis_ranks_the_offender_vehicle_first(
    fed: tuple[SpaceTimeSink, dict],
) -> None:
    """Given the similar cases of a city (same category), the series vehicle tops the list."""
    sink, truth = fed
    core = sink.core
    category = {c: cat for c, cat in sink.categories.items() if c in core.cases}
    checked = 0
    for series in truth["series"]:
        if "vehicle" not in series["link"] or len(series["case_ids"]) < 3:
            continue
        cats = {category[c] for c in series["case_ids"] if c in category}
        cities = {c.split("-")[1][:4] for c in series["case_ids"]}
        pool = [c for c, cat in category.items() if cat in cats and c.split("-")[1][:4] in cities]
        rivals = sum(
            1
            for s in truth["series"]
            if "vehicle" in s["link"] and {c.split("-")[1][:4] for c in s["case_ids"]} & cities
        )
        ranking = core.collide(pool)
        plates = {"plate:" + v for v in series["vehicles"]}
        rank = next((i for i, c in enumerate(ranking) if c.entity in plates), None)
        assert rank is not None, (series["series_id"], series["vehicles"], len(pool))
        assert rank < 2 * rivals, (series["series_id"], rank, [c.entity for c in ranking[:5]])
        # together the series' vehicles (two when the crew switched) cover its scenes
        covered = {h.case_id for c in ranking if c.entity in plates for h in c.hits}
        assert len(covered & set(series["case_ids"])) >= len(series["case_ids"]) - 1
        assert "seen near" in ranking[rank].describe()
        checked += 1
    assert checked >= 3


# ---------------------------------------------------------------- late sightings


def _epoch(day: int, hour: float) -> float:
    return dt.datetime(2026, 3, day, tzinfo=TZ).timestamp() + hour * 3600


def test_late_sighting_creates_its_link_on_arrival() -> None:
    core = CoPresence()
    rng = np.random.default_rng(3)
    cams = [(f"CP-{i}", 121.60 + 0.01 * (i % 10), 29.90 + 0.01 * (i // 10)) for i in range(100)]
    # two days of ordinary traffic: 300 local cars, daytime trips
    kinds, ents, cps, times = [], [], [], []
    for day in (1, 2, 3):
        for car in range(300):
            for _ in range(4):
                kinds.append("plate")
                ents.append(f"浙B{car:05d}")
                cps.append(cams[int(rng.integers(0, 100))])
                times.append(_epoch(day, float(rng.uniform(7, 20))))
    order = np.argsort(times)
    core.add_sightings(
        [kinds[i] for i in order],
        [ents[i] for i in order],
        [cps[i] for i in order],
        np.asarray(times)[order],
    )
    thief = "浙J99999"
    scene_a, scene_b = cams[12], cams[77]
    # night 1: the thief passes the camera at scene A; the case is reported next morning
    core.add_sightings(["plate"], [thief], [scene_a], np.array([_epoch(3, 23.5)]))
    start_a, end_a = dt.datetime(2026, 3, 3, 22, tzinfo=TZ), dt.datetime(2026, 3, 4, 5, tzinfo=TZ)
    assert core.add_case("A", scene_a[1], scene_a[2], start_a, end_a) == []
    # night 2: case B is reported before the thief's camera read arrives (hours late)
    start_b, end_b = dt.datetime(2026, 3, 4, 22, tzinfo=TZ), dt.datetime(2026, 3, 5, 5, tzinfo=TZ)
    core.add_sightings(["plate"], ["浙B00001"], [cams[0]], np.array([_epoch(5, 7.0)]))
    assert core.add_case("B", scene_b[1], scene_b[2], start_b, end_b) == []
    late = core.add_sightings(["plate"], [thief], [scene_b], np.array([_epoch(5, 1.25)]))
    assert [(ev.case_a, ev.case_b, ev.entity) for ev in late] == [("A", "B", "plate:" + thief)]
    ev = late[0]
    assert ev.score > 4.0
    assert ev.detail.startswith(f"{thief} seen ")
    assert "from scene A" in ev.detail and "from scene B" in ev.detail
    assert "into its window" in ev.detail
    # the same late read delivered again changes nothing
    assert core.add_sightings(["plate"], [thief], [scene_b], np.array([_epoch(5, 1.25)])) == []


def test_vehicle_switch_is_bridged_by_companion_evidence(fed: tuple[SpaceTimeSink, dict]) -> None:
    """The crew changes vehicles mid-series: the two vehicles travelled together, so cases
    near the old one and cases near the new one are linked by a companion bridge."""
    sink, truth = fed
    sink.refresh_companions()
    switched = [s for s in truth["series"] if s.get("switch")]
    assert switched
    bridged = []
    for series in switched:
        cases = set(series["case_ids"])
        for (a, b), per_entity in sink.evidence.items():
            for ev in per_entity.values():
                if ev.kind == "companion" and a in cases and b in cases:
                    bridged.append(ev)
    assert bridged, "no switch series was bridged"
    ev = max(bridged, key=lambda e: e.score)
    assert "travelled together past" in ev.detail
    series = next(s for s in switched if ev.case_a in s["case_ids"])
    assert series["switch"]["from"] in ev.detail and series["switch"]["to"] in ev.detail


def test_history_table_equals_the_history_queries(fed: tuple[SpaceTimeSink, dict]) -> None:
    """The late-sighting path's history table gives the same habit counts as re-reading
    the previous days' windows, entity by entity (and zeros for unknown entities)."""
    sink, _ = fed
    core = sink.core
    checked = 0
    for case in core.cases.values():
        w = case.window
        if w.cps.size == 0:
            continue
        past = history(core.index, w, core.history_days)
        if past.ents.size == 0:
            continue
        blocks = _blocks(w.t0, w.t1)
        unknown = np.array([int(past.ents.max()) + 1], dtype=np.int64)
        ents = np.concatenate([past.ents, unknown])
        want, available = _own_blocks(core.index, w, ents, blocks, core.history_days, None)
        assert available == past.available
        np.testing.assert_array_equal(past.lookup(ents, blocks.size), want)
        assert not want[-1].any()
        checked += 1
    assert checked >= 10  # cases of the second day have a day of history


def test_a_vehicle_that_stops_near_a_scene_has_a_stay_one_driving_past_has_none() -> None:
    """Seen arriving near the scene and leaving it half an hour later: it stayed; seen at
    two cameras a minute apart: it drove past; seen again hours later: a second visit."""
    core = CoPresence()
    cams = [(f"CP-{i}", 121.60 + 0.004 * (i % 5), 29.90 + 0.004 * (i // 5)) for i in range(25)]
    scene = cams[12]
    base = _epoch(3, 23.0)
    reads = [
        ("浙J00001", cams[11], base),  # arrives ...
        ("浙J00001", cams[13], base + 32 * 60),  # ... and leaves 32 min later
        ("浙J00002", cams[11], base + 600),  # drives past: two cameras a minute apart
        ("浙J00002", cams[13], base + 660),
        ("浙J00003", cams[12], base + 300),  # seen once
        ("浙J00004", cams[11], base - 3600),  # there in the evening and again at night
        ("浙J00004", cams[12], base + 3 * 3600),
    ]
    core.add_sightings(
        ["plate"] * len(reads),
        [r[0] for r in reads],
        [r[1] for r in reads],
        np.array([r[2] for r in reads]),
    )
    start, end = dt.datetime(2026, 3, 3, 22, tzinfo=TZ), dt.datetime(2026, 3, 4, 5, tzinfo=TZ)
    core.add_case("A", scene[1], scene[2], start, end)
    hits = scene_hits(
        core.index, core.checkpoints, core.stats, core.cases["A"].window, core.history_days
    )
    stay = {core.entities.value(int(e)): int(s) for e, s in zip(hits.ent, hits.stay_s, strict=True)}
    assert stay["plate:浙J00001"] == 32 * 60
    assert stay["plate:浙J00002"] == 60
    assert stay["plate:浙J00003"] == 0
    assert stay["plate:浙J00004"] == 0  # four hours apart: two visits, not a stay
