"""Which companion pairs bridge the scenes of their two vehicles (``SpaceTimeSink``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from graph.spacetime.companions import Companions
from graph.spacetime.copresence import Hit
from graph.spacetime.sink import (
    COMPANION_MAX_GAP_S,
    COMPANION_MIN_EVENTS,
    WEAK_COMPANION_MIN,
    SpaceTimeSink,
)

SH = dt.timezone(dt.timedelta(hours=8))


def _sink_with_scenes(
    near: dict[str, list[str]], sink: SpaceTimeSink | None = None
) -> tuple[SpaceTimeSink, dict[str, int]]:
    """A sink whose vehicles were each unusually near the given scenes."""
    sink = sink if sink is not None else SpaceTimeSink(background_companions=False)
    core = sink.core
    cases = sorted({c for scenes in near.values() for c in scenes})
    for k, case in enumerate(cases):
        start = dt.datetime(2026, 3, 1 + k, 1, 0, tzinfo=SH)
        core.add_case(case, 121.7, 29.97, start, start + dt.timedelta(hours=2))
    ids = {}
    for plate, scenes in near.items():
        e = core.entities.intern(f"plate:{plate}")
        ids[plate] = e
        core.near[e] = {c: Hit(c, "CP-1", 150.0, 600, 4.0, 0.02, 0) for c in scenes}
    return sink, ids


def _pair(a: int, b: int, score: float) -> Companions:
    lo, hi = min(a, b), max(a, b)
    i32 = lambda v: np.array([v], np.int32)  # noqa: E731
    f64 = lambda v: np.array([v], np.float64)  # noqa: E731
    return Companions(
        i32(lo), i32(hi), i32(4), f64(score), f64(13.7), i32(3), i32(3), f64(35.0), i32(0), i32(0)
    )


def test_a_weak_pair_whose_vehicles_were_each_near_several_scenes_is_bridged() -> None:
    # the crew's first vehicle at scenes 1-2, the second at scenes 3-4; commuting with
    # both, the pair scores low on the trip-count discount
    sink, ids = _sink_with_scenes({"浙B11111": ["C-1", "C-2"], "浙B22222": ["C-3", "C-4"]})
    assert WEAK_COMPANION_MIN < -2.2 < sink.companion_min_score
    sink._bridge_all(_pair(ids["浙B11111"], ids["浙B22222"], -2.2))
    bridged = {p for p in sink.drain_changed()}
    assert bridged == {("C-1", "C-3"), ("C-1", "C-4"), ("C-2", "C-3"), ("C-2", "C-4")}
    ev = sink.between("C-2", "C-3")
    assert [e.kind for e in ev] == ["companion"] and ev[0].score == -2.2


def test_a_weak_pair_with_a_vehicle_near_one_scene_is_not() -> None:
    sink, ids = _sink_with_scenes({"浙B11111": ["C-1", "C-2"], "浙B33333": ["C-3"]})
    sink._bridge_all(_pair(ids["浙B11111"], ids["浙B33333"], -2.2))
    assert sink.drain_changed() == set()
    sink._bridge_all(_pair(ids["浙B11111"], ids["浙B33333"], WEAK_COMPANION_MIN - 1))
    assert sink.drain_changed() == set()
    # a strong pair bridges whatever the number of scenes
    sink._bridge_all(_pair(ids["浙B11111"], ids["浙B33333"], 7.5))
    assert sink.drain_changed() == {("C-1", "C-3"), ("C-2", "C-3")}


def _convoy(sink: SpaceTimeSink, lead: str, follower: str, lag_s: float, trips: int = 3) -> None:
    """A day of light traffic at 60 cameras, and two vehicles driving ``trips`` trips
    together past four cameras each, the follower ``lag_s`` behind the lead."""
    rng = np.random.default_rng(5)
    cams = [(f"CP-{i}", 121.50 + 0.01 * (i % 10), 29.80 + 0.01 * (i // 10)) for i in range(60)]
    day = dt.datetime(2026, 3, 1, tzinfo=SH).timestamp()
    rows = [
        (day + float(rng.uniform(7, 20)) * 3600, f"浙B{car:05d}", cams[int(rng.integers(60))])
        for car in range(300)
        for _ in range(8)
    ]
    for trip in range(trips):
        at = day + (10 + 1.2 * trip) * 3600
        for cam in rng.choice(60, 4, replace=False).tolist():
            at += float(rng.uniform(180, 300))
            rows += [(at, lead, cams[cam]), (at + lag_s, follower, cams[cam])]
    rows.sort()
    sink.core.add_sightings(
        ["plate"] * len(rows),
        [r[1] for r in rows],
        [r[2] for r in rows],
        np.array([r[0] for r in rows]),
    )


def test_a_crew_vehicle_following_the_other_at_75_s_is_a_companion() -> None:
    """A crew that switched vehicles drove the old and the new one together, the second
    a minute and a quarter behind: the two are companions, and the scenes of the one are
    bridged to the scenes of the other. Counted only up to 60 s apart, they were not."""
    assert COMPANION_MAX_GAP_S >= 75
    scenes = {"浙J11111": ["C-1", "C-2"], "浙J22222": ["C-3", "C-4"]}
    bridged = {}
    for gap in (COMPANION_MAX_GAP_S, 60):
        sink = SpaceTimeSink(background_companions=False, companion_max_gap_s=gap)
        _convoy(sink, "浙J11111", "浙J22222", 75.0)
        _sink_with_scenes(scenes, sink)
        sink.refresh_companions()
        bridged[gap] = sink.drain_changed()
    assert bridged[COMPANION_MAX_GAP_S] == {
        ("C-1", "C-3"),
        ("C-1", "C-4"),
        ("C-2", "C-3"),
        ("C-2", "C-4"),
    }
    assert bridged[60] == set()


@pytest.mark.parametrize("gap", [-1, 90.5, True, "120"])
def test_a_companion_gap_that_is_not_a_count_of_seconds_is_refused(gap: object) -> None:
    with pytest.raises(ValueError, match="companion_max_gap_s"):
        SpaceTimeSink(companion_max_gap_s=gap)  # type: ignore[arg-type]


@pytest.mark.parametrize("events", [0, 2.0, False])
def test_a_companion_meeting_count_that_is_not_a_count_is_refused(events: object) -> None:
    with pytest.raises(ValueError, match="companion_min_events"):
        SpaceTimeSink(companion_min_events=events)  # type: ignore[arg-type]


def test_a_numpy_count_of_seconds_is_a_companion_gap() -> None:
    assert SpaceTimeSink(companion_max_gap_s=np.int64(90)).companion_max_gap_s == 90


def test_two_trips_together_are_enough_for_a_companion() -> None:
    """A crew's old and new vehicle driven together on two trips, each vehicle near two of
    the crew's scenes: two meetings are enough to bridge the scenes (the pair is weighed
    against the cameras' traffic; one trip together is not a companion)."""
    assert COMPANION_MIN_EVENTS <= 2
    scenes = {"浙J11111": ["C-1", "C-2"], "浙J22222": ["C-3", "C-4"]}
    bridged = {}
    for trips in (2, 1):
        sink = SpaceTimeSink(background_companions=False)
        _convoy(sink, "浙J11111", "浙J22222", 30.0, trips=trips)
        _sink_with_scenes(scenes, sink)
        sink.refresh_companions()
        bridged[trips] = sink.drain_changed()
    assert bridged[2] == {("C-1", "C-3"), ("C-1", "C-4"), ("C-2", "C-3"), ("C-2", "C-4")}
    assert bridged[1] == set()
