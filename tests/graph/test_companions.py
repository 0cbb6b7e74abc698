"""Companion detection: planted pairs, background weighting, hubs, a slow reference, scenarios."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.spacetime.companions import (
    Companions,
    companion_pairs,
    find_companions,
    synthetic_sightings,
)
from graph.spacetime.entities import entity_key
from graph.spacetime.index import SightingIndex, to_index_time
from graph.spacetime.interning import Interner

HOUR = 3600


def _arrays(rows: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cp, ent, t) int32 arrays from (cp, ent, t) rows."""
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    return tuple(np.ascontiguousarray(arr[:, k], dtype=np.int32) for k in range(3))  # type: ignore[return-value]


def _score_of(found: Companions, a: int, b: int) -> float:
    a, b = min(a, b), max(a, b)
    hit = np.flatnonzero((found.a == a) & (found.b == b))
    return float(found.score[hit[0]]) if hit.size else -math.inf


def reference(
    cp: np.ndarray,
    ent: np.ndarray,
    t: np.ndarray,
    max_gap_s: int = 60,
    min_events: int = 3,
    min_gap_s: int = 5,
    event_window_s: int = 600,
    trip_decay: float = 0.25,
    min_weight: float = 0.2,
    window_cap: int = 128,
    hub_penalty: float = 1.0,
    opportunity_penalty: float = 1.0,
) -> dict[tuple[int, int], tuple[int, float, float]]:
    """Slow, literal version of the model: {(a, b): (events, evidence, score)}."""
    cp, ent, t = (x.tolist() for x in (cp, ent, t))
    q = 0.5 * HOUR * -math.log(-math.expm1(-min_weight))
    distinct: dict[tuple[int, int], set[int]] = defaultdict(set)
    for c, e, tt in zip(cp, ent, t, strict=True):
        distinct[c, tt // HOUR].add(e)
    by_cp: dict[int, list[int]] = defaultdict(list)
    for i in sorted(range(len(cp)), key=lambda i: (cp[i], t[i], i)):
        by_cp[cp[i]].append(i)
    cooc: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
    for c, rows in by_cp.items():
        for k, i in enumerate(rows):
            for j in rows[k + 1 : k + 1 + window_cap]:
                gap = t[j] - t[i]
                if gap > max_gap_s:
                    break
                if ent[i] == ent[j]:
                    continue
                d = max(len(distinct[c, t[i] // HOUR]), len(distinct[c, t[j] // HOUR]))
                g = max(gap, min_gap_s)
                if g * d > q:
                    continue
                w = -math.log(-math.expm1(-2.0 * g * d / HOUR))
                cooc[min(ent[i], ent[j]), max(ent[i], ent[j])].append((t[i], w))
    partners: dict[int, int] = defaultdict(int)
    for a, b in cooc:
        partners[a] += 1
        partners[b] += 1
    seen: dict[int, list[int]] = defaultdict(list)
    for e, tt in zip(ent, t, strict=True):
        seen[e].append(tt)
    trips = {
        e: 1 + sum(y - x > event_window_s for x, y in zip(sorted(ts), sorted(ts)[1:], strict=False))
        for e, ts in seen.items()
    }
    out = {}
    for (a, b), items in cooc.items():
        items.sort(key=lambda x: x[0])
        events: list[list[float]] = [[items[0][1]]]
        for (t_prev, _), (t_cur, w) in zip(items, items[1:], strict=False):
            if t_cur - t_prev > event_window_s:
                events.append([w])
            else:
                events[-1].append(w)
        if len(events) < min_events:
            continue
        evidence = sum(max(ws) + trip_decay * (sum(ws) - max(ws)) for ws in events)
        k = len(events)
        m = max(trips[a], trips[b], k)
        log_choose = math.lgamma(m + 1) - math.lgamma(k + 1) - math.lgamma(m - k + 1)
        score = (
            evidence
            - opportunity_penalty * log_choose
            - hub_penalty * (math.log(partners[a]) + math.log(partners[b]))
        )
        out[a, b] = (len(events), evidence, score)
    return out


def _as_dict(found: Companions) -> dict[tuple[int, int], tuple[int, float, float]]:
    return {
        (int(a), int(b)): (int(e), float(v), float(s))
        for a, b, e, v, s in zip(
            found.a, found.b, found.events, found.evidence, found.score, strict=True
        )
    }


def _assert_same(found: Companions, ref: dict[tuple[int, int], tuple[int, float, float]]) -> None:
    got = _as_dict(found)
    assert got.keys() == ref.keys()
    for key, (events, evidence, score) in ref.items():
        assert got[key][0] == events, key
        assert got[key][1] == pytest.approx(evidence, rel=1e-9, abs=1e-9), key
        assert got[key][2] == pytest.approx(score, rel=1e-9, abs=1e-9), key
    assert np.all(np.diff(found.score) <= 0)
    assert np.all(found.a < found.b)


# -- model behaviour ---------------------------------------------------------------------------


def test_docstring_example_and_partners() -> None:
    rows = [(1, 10, 100), (1, 11, 110), (2, 10, 5000), (2, 11, 5020), (3, 11, 9000), (3, 10, 9030)]
    cp, ent, t = _arrays(rows)
    found = companion_pairs(cp, ent, t)
    assert (found.a.tolist(), found.b.tolist(), found.events.tolist()) == ([10], [11], [3])
    assert found.partners_of(10)[0][0] == 11 and found.partners_of(11)[0][0] == 10
    assert found.partners_of(12) == []
    assert found.first_t[0] == 100 and found.last_t[0] == 9000
    assert found.partners_a[0] == found.partners_b[0] == 1
    assert found.chances[0] == 3  # each drove three separate trips, and met on all three
    assert companion_pairs(cp, ent, t, min_events=4).a.size == 0


def test_planted_pairs_found_with_high_score() -> None:
    cp, ent, t, planted = synthetic_sightings(300_000, 3_000, 60_000, n_pairs=30, seed=3)
    found = companion_pairs(cp, ent, t)
    scores = np.array([_score_of(found, int(a), int(b)) for a, b in planted])
    assert np.isfinite(scores).mean() >= 0.9
    planted_set = {(int(a), int(b)) for a, b in planted}
    others = [
        s
        for a, b, s in zip(found.a, found.b, found.score, strict=True)
        if (a, b) not in planted_set
    ]
    top_other = max(others, default=-math.inf)
    # planted pairs dominate the top of the ranking
    assert np.median(scores[np.isfinite(scores)]) > 8.0
    assert (scores > top_other).mean() >= 0.85


def test_busy_camera_at_rush_hour_scores_below_quiet_cameras() -> None:
    rng = np.random.default_rng(0)
    rows = []
    day = 24 * HOUR
    rush = [day * k + 8 * HOUR for k in range(3)]  # 08:00-09:00 on three days
    for h0 in rush:  # camera 0: 150 other vehicles an hour
        for e in rng.choice(np.arange(1000, 100_000), 150, replace=False):
            rows.append((0, int(e), h0 + int(rng.integers(0, HOUR))))
    for c in (1, 2, 3):  # quiet cameras: four vehicles a day
        for e in rng.choice(np.arange(1000, 100_000), 4, replace=False):
            rows.append((c, int(e), int(rng.integers(0, 3 * day))))
    for k, h0 in enumerate(rush):
        at = h0 + 1800 + 7 * k
        rows += [(0, 1, at), (0, 2, at + 10)]  # pair (1, 2): three times at the busy camera
        at = day * k + 14 * HOUR
        rows += [(k + 1, 3, at), (k + 1, 4, at + 10)]  # pair (3, 4): three quiet cameras
    found = companion_pairs(*_arrays(rows))
    busy, quiet = _score_of(found, 1, 2), _score_of(found, 3, 4)
    assert quiet > 8.0
    assert busy < 2.0 and busy < quiet / 4
    # a naive "same camera within 30 s, three times" rule ranks them equal
    assert found.events[found.a == 3].tolist() == [3]


def test_background_camera_hour_is_not_counted() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for k in range(3):  # 2000 vehicles an hour: any two within 10 s are background
        h0 = k * 24 * HOUR + 17 * HOUR
        rows += [(0, int(e), h0 + int(rng.integers(0, HOUR))) for e in range(10, 2010)]
        rows += [(0, 1, h0 + 600), (0, 2, h0 + 605)]
    found = companion_pairs(*_arrays(rows))
    assert _score_of(found, 1, 2) == -math.inf


def test_bus_like_entity_gets_no_high_scoring_pairs() -> None:
    rng = np.random.default_rng(2)
    day = 24 * HOUR
    route = np.arange(20)  # 20 cameras on a bus route
    bus = 0
    rows = []
    for lap in range(96):  # a lap every 15 min, 90 s between stops
        start = lap * 900
        rows += [(int(c), bus, start + 90 * i) for i, c in enumerate(route)]
    residents = np.arange(100, 500)
    for e in residents:  # residents on the route, eight passes a day
        for _ in range(8):
            rows.append((int(rng.choice(route)), int(e), int(rng.integers(0, day))))
    # a real crew: together on four trips past cameras off the route
    for _ in range(4):
        at = int(rng.integers(0, day - HOUR))
        for i, c in enumerate(rng.choice(np.arange(50, 80), 4, replace=False)):
            rows += [(int(c), 7, at + 150 * i), (int(c), 8, at + 150 * i + 12)]
    found = companion_pairs(*_arrays(rows))
    of_bus = found.partners_of(bus)
    crew = _score_of(found, 7, 8)
    assert crew > 10.0
    hits = (found.a == bus) | (found.b == bus)
    assert found.partners_a[hits].max(initial=0) >= 100  # the bus met hundreds of vehicles
    assert all(score < 5.0 and score < crew / 5 for _, score, _ in of_bus)
    assert found.a[0] == 7 and found.b[0] == 8


# -- agreement with the slow reference ----------------------------------------------------------


@st.composite
def _sightings(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    n = draw(st.integers(0, 60))
    n_cp = draw(st.integers(1, 4))
    n_ent = draw(st.integers(1, 8))
    span = draw(st.sampled_from([200, 3 * HOUR, 2 * 24 * HOUR]))
    cp = draw(st.lists(st.integers(0, n_cp - 1), min_size=n, max_size=n))
    ent = draw(st.lists(st.integers(0, n_ent - 1), min_size=n, max_size=n))
    t = draw(st.lists(st.integers(0, span), min_size=n, max_size=n))
    opts = {
        "max_gap_s": draw(st.sampled_from([0, 30, 60, 300])),
        "min_events": draw(st.integers(1, 3)),
        "min_gap_s": draw(st.sampled_from([1, 5, 20])),
        "event_window_s": draw(st.sampled_from([0, 120, 600])),
        "trip_decay": draw(st.sampled_from([0.0, 0.25, 1.0])),
        "min_weight": draw(st.sampled_from([1e-6, 0.05, 0.2, 1.0])),
        "window_cap": draw(st.sampled_from([1, 3, 128])),
        "hub_penalty": draw(st.sampled_from([0.0, 1.0])),
        "opportunity_penalty": draw(st.sampled_from([0.0, 1.0])),
    }
    return (
        np.asarray(cp, np.int32),
        np.asarray(ent, np.int32),
        np.asarray(t, np.int32) + 189_000_000,
        opts,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_sightings())
def test_kernels_agree_with_reference(data: tuple) -> None:
    cp, ent, t, opts = data
    _assert_same(companion_pairs(cp, ent, t, **opts), reference(cp, ent, t, **opts))


def test_reference_agreement_on_larger_random_input() -> None:
    """Bigger than the parallel threshold: chunked kernels, bucketed pairs, local sorts."""
    rng = np.random.default_rng(5)
    n = 90_000
    cp = rng.integers(0, 40, n).astype(np.int32)
    ent = rng.integers(0, 3_000, n).astype(np.int32)
    t = rng.integers(0, 2 * 24 * HOUR, n).astype(np.int32)
    # two heavy pairs: hundreds of co-occurrences each (long runs, sorted by argsort)
    at = rng.integers(0, 2 * 24 * HOUR, 300)
    where = rng.integers(0, 40, 300)
    cp = np.r_[cp, where, where, where[:150], where[:150]].astype(np.int32)
    ent = np.r_[ent, [3000] * 300, [3001] * 300, [3002] * 150, [3003] * 150].astype(np.int32)
    t = np.r_[t, at, at + 9, at[:150] + 2, at[:150] + 30].astype(np.int32)
    opts = {"min_events": 2, "window_cap": 8}
    found = companion_pairs(cp, ent, t, **opts)
    _assert_same(found, reference(cp, ent, t, **opts))
    assert _as_dict(found)[3000, 3001][0] > 100


def test_result_does_not_depend_on_threads_or_id_sparsity() -> None:
    cp, ent, t, _ = synthetic_sightings(120_000, 500, 20_000, n_pairs=10, seed=4)
    base = companion_pairs(cp, ent, t)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = companion_pairs(cp, ent, t)
    finally:
        numba.set_num_threads(threads)
    assert _as_dict(single).keys() == _as_dict(base).keys()
    np.testing.assert_allclose(single.score, base.score, rtol=1e-12)
    sparse = companion_pairs(cp * 50_000, ent * 100_000 + 7, t)  # ids far beyond the row count
    np.testing.assert_array_equal(sparse.a, base.a * 100_000 + 7)
    np.testing.assert_array_equal(sparse.b, base.b * 100_000 + 7)
    np.testing.assert_allclose(sparse.score, base.score, rtol=1e-12)


# -- generated scenario and the index -----------------------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> tuple[object, Interner, np.ndarray, np.ndarray, np.ndarray]:
    from ingest.scenario import generate

    s = generate(seed=7, days=1, scale=0.2)
    ents, cps = Interner(), Interner()
    sightings = [m for m in s.messages if m["kind"] == "sighting"]
    ent = ents.intern_many(entity_key(m["entity_kind"], m["entity"]) for m in sightings)
    cp = cps.intern_many(m["checkpoint_id"] for m in sightings)
    epoch = np.array([dt.datetime.fromisoformat(m["at"]).timestamp() for m in sightings])
    return s, ents, cp, ent, to_index_time(epoch)


def test_vehicle_switch_is_bridged_by_companions(scenario: tuple) -> None:
    s, ents, cp, ent, t = scenario
    found = companion_pairs(cp, ent, t)
    switches = [ser["switch"] for ser in s.truth["series"] if "switch" in ser]
    assert switches, "the scenario should contain a crew switching vehicles"
    for sw in switches:
        old = ents.get(entity_key("plate", sw["from"]))
        new = ents.get(entity_key("plate", sw["to"]))
        assert old is not None and new is not None
        assert new in [p for p, _, _ in found.partners_of(old)[:3]]
        assert old in [p for p, _, _ in found.partners_of(new)[:3]]
        assert found.partners_of(old)[0][2] >= 3


def test_find_companions_reads_runs_and_tails(scenario: tuple) -> None:
    _, _, cp, ent, t = scenario
    idx = SightingIndex(run_size=4096)
    half = cp.shape[0] // 2
    idx.append(ent[:half], cp[:half], t[:half])
    for part in idx.partitions.values():  # bucketed runs, then fresh tails after them
        part.flush()
    idx.append(ent[half:], cp[half:], t[half:])
    assert any(p.runs for p in idx.partitions.values())
    assert any(p.n for p in idx.partitions.values())
    t0, t1 = int(t.min()), int(t.max())
    _assert_same(find_companions(idx, t0, t1), reference(cp, ent, t))
    mid0, mid1 = t0 + 6 * HOUR + 17, t0 + 18 * HOUR
    inside = (t >= mid0) & (t <= mid1)
    window = find_companions(idx, mid0, mid1, min_events=2)
    _assert_same(window, reference(cp[inside], ent[inside], t[inside], min_events=2))
    assert len(find_companions(idx, t1 + 10 * HOUR, t1 + 20 * HOUR)) == 0
    with pytest.raises(ValueError, match="before t0"):
        find_companions(idx, t1, t0)


# -- edges and bad input ------------------------------------------------------------------------


def test_empty_input_gives_empty_result() -> None:
    empty = np.empty(0, np.int32)
    found = companion_pairs(empty, empty, empty)
    assert len(found) == 0 and found.score.dtype == np.float64
    assert found.partners_of(3) == []
    assert len(companion_pairs([], [], [])) == 0
    assert len(find_companions(SightingIndex(), 0, 10_000)) == 0
    one = np.array([1], np.int32)
    assert len(companion_pairs(one, one, one)) == 0


@pytest.mark.parametrize(
    ("cp", "ent", "t", "match"),
    [
        ([1, 2], [1], [5, 6], "one length"),
        ([1, -2], [1, 2], [5, 6], "checkpoint ids must be >= 0"),
        ([1, 2], [1, -7], [5, 6], "entity ids must be >= 0"),
        ([1, 2], [1, 2], [5, -6], "times must be >= 0"),
        ([[1, 2]], [[1, 2]], [[5, 6]], "1-D"),
        ([1, 2], [1, 2**40], [5, 6], "outside int32"),
    ],
)
def test_bad_input_raises_value_error(cp: list, ent: list, t: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        companion_pairs(np.array(cp), np.array(ent), np.array(t))


def test_bad_types_and_parameters() -> None:
    a = np.array([1, 2], np.int32)
    with pytest.raises(TypeError, match="integers"):
        companion_pairs(a, a, np.array([1.5, 2.0]))
    for kwargs, match in [
        ({"max_gap_s": -1}, "max_gap_s"),
        ({"min_events": 0}, "min_events"),
        ({"min_gap_s": 0}, "min_gap_s"),
        ({"trip_decay": 2.0}, "trip_decay"),
        ({"min_weight": 0.0}, "min_weight"),
        ({"min_weight": 1e-30, "min_gap_s": 1}, "too small"),
        ({"window_cap": 0}, "window_cap"),
        ({"hub_penalty": -1.0}, "hub_penalty"),
        ({"event_window_s": -5}, "event_window_s"),
    ]:
        with pytest.raises(ValueError, match=match):
            companion_pairs(a, a, a, **kwargs)


def test_degenerate_burst_is_refused_not_swallowed() -> None:
    # 300 entities at one camera in one second, then nothing: every row pairs with the next 128
    ent = np.arange(300, dtype=np.int32)
    cp = np.zeros(300, np.int32)
    t = np.full(300, 1000, np.int32)
    found = companion_pairs(cp, ent, t, min_events=1)  # 300 in the hour: still a valid count
    assert len(found) > 0
    big = 200_000
    rows = np.arange(big, dtype=np.int32)
    with pytest.raises(ValueError, match="degenerate"):
        companion_pairs(
            rows % 20_000 // 1000, rows % 1000, rows // 20_000 * 3600 + rows % 7, min_weight=0.05
        )
