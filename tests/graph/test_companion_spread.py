"""Companion bridging spread over micro-batches (``SpaceTimeSink.bridge_budget``).

What users rely on: every case pair a companion tick bridges does get its evidence,
a few batches later at most, strongest companion pair first; and the links and series
rebuilt from the journal after a restart are those of the live run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from graph.cases import CaseBook
from graph.linkage import Linker
from graph.persons.sink import PersonSink
from graph.spacetime.companions import Companions
from graph.spacetime.copresence import Hit
from graph.spacetime.sink import SpaceTimeSink
from ingest.deadletter import DeadLetterStore
from ingest.journal import Journal
from ingest.models import Message, parse_message
from ingest.pipeline import Ingestor
from ingest.scenario import generate
from ingest.sources import RawMessage, batched
from tests.factories import sighting

SH = dt.timezone(dt.timedelta(hours=8))


# ------------------------------------------------------------------ one sink, by hand


def _sink(near: dict[str, list[str]], budget: int | None) -> tuple[SpaceTimeSink, dict[str, int]]:
    """A sink whose vehicles were each unusually near the given scenes."""
    sink = SpaceTimeSink(background_companions=False, bridge_budget=budget)
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


def _found(pairs: list[tuple[int, int, float]]) -> Companions:
    """Companion pairs as a search returns them (strongest first)."""
    pairs = sorted(pairs, key=lambda p: -p[2])
    n = len(pairs)
    i32 = lambda v: np.asarray(v, np.int32)  # noqa: E731
    return Companions(
        i32([min(a, b) for a, b, _ in pairs]),
        i32([max(a, b) for a, b, _ in pairs]),
        i32([4] * n),
        np.asarray([s for *_, s in pairs], np.float64),
        np.full(n, 13.7),
        i32([3] * n),
        i32([3] * n),
        np.full(n, 35.0),
        i32([0] * n),
        i32([0] * n),
    )


def _batch(k: int) -> list[Message]:
    """A micro-batch of one sighting (far from every scene: it changes no evidence)."""
    raw = sighting(
        f"s-far-{k}", entity=f"浙A{k:05d}", lon=120.1, lat=30.3, at="2026-03-01T12:00:00Z"
    )
    return [parse_message(json.dumps(raw, ensure_ascii=False))]


NEAR = {
    "浙B11111": ["C-01", "C-02", "C-03"],
    "浙B22222": ["C-04", "C-05", "C-06"],  # with 浙B11111: 9 case pairs, the strongest pair
    "浙B33333": ["C-07", "C-08"],  # with 浙B11111: 6 case pairs
}


def test_a_ticks_pairs_land_over_the_next_batches_strongest_first() -> None:
    sink, ids = _sink(NEAR, budget=4)
    queued = sink._queue_bridges(
        _found([(ids["浙B11111"], ids["浙B22222"], 9.0), (ids["浙B11111"], ids["浙B33333"], 7.0)])
    )
    assert queued == 2 and sink.bridges_waiting == 2
    assert sink.drain_changed() == set()  # queued, nothing bridged yet
    landed: list[set[tuple[str, str]]] = []
    for k in range(6):
        sink.apply(_batch(k))
        landed.append(sink.drain_changed())
    assert [len(x) for x in landed] == [4, 4, 4, 3, 0, 0]
    assert sink.bridges_waiting == 0
    # the strongest companion pair's case pairs come first
    strong = {(a, b) for a in NEAR["浙B11111"] for b in NEAR["浙B22222"]}
    assert landed[0] | landed[1] <= strong
    # all of them landed, as bridging at once lands them
    at_once, ids_once = _sink(NEAR, budget=None)
    at_once._bridge_all(
        _found(
            [
                (ids_once["浙B11111"], ids_once["浙B22222"], 9.0),
                (ids_once["浙B11111"], ids_once["浙B33333"], 7.0),
            ]
        )
    )
    assert set().union(*landed) == at_once.drain_changed()
    assert sink.links() == at_once.links()


def test_a_batch_with_no_messages_bridges_nothing() -> None:
    """Only batches that a replay of the journal has again may move the queue."""
    sink, ids = _sink(NEAR, budget=4)
    sink._queue_bridges(_found([(ids["浙B11111"], ids["浙B22222"], 9.0)]))
    sink.apply([])
    assert sink.drain_changed() == set() and sink.bridges_waiting == 1


def test_refresh_bridges_whatever_is_queued() -> None:
    sink, ids = _sink(NEAR, budget=1)
    sink._queue_bridges(_found([(ids["浙B11111"], ids["浙B33333"], 7.0)]))
    assert sink.refresh_companions() == 6
    assert sink.bridges_waiting == 0


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="bridge_budget"):
        SpaceTimeSink(bridge_budget=0)


# ------------------------------------------------------------- a stream, and a restart


class _Waiting:
    """A sink after the space-time sink: records the companion pairs left waiting."""

    def __init__(self, spacetime: SpaceTimeSink) -> None:
        self.spacetime = spacetime
        self.seen: list[int] = []

    def apply(self, messages: Sequence[Message]) -> None:
        self.seen.append(self.spacetime.bridges_waiting)


def _sinks(budget: int | None) -> tuple[CaseBook, SpaceTimeSink, PersonSink, Linker, _Waiting]:
    cases = CaseBook()
    spacetime = SpaceTimeSink(bridge_budget=budget)
    persons = PersonSink()
    return cases, spacetime, persons, Linker(cases, spacetime, persons=persons), _Waiting(spacetime)


def _state(spacetime: SpaceTimeSink, linker: Linker) -> dict[str, object]:
    return {
        "evidence": {
            pair: sorted((e.entity, e.score, e.detail) for e in spacetime.between(*pair))
            for pair in spacetime.evidence
        },
        "links": {pair: link.probability for pair, link in linker.links.items()},
        "series": sorted(sorted(m) for m in linker.tracker.series.values()),
    }


@pytest.fixture(scope="module")
def stream() -> list[RawMessage]:
    scenario = generate(seed=7, days=2, scale=0.6)
    return [
        RawMessage(json.dumps(raw, ensure_ascii=False).encode(), "test", str(i))
        for i, raw in enumerate(scenario.messages)
    ]


def test_a_restart_rebuilds_the_links_and_series_of_the_live_run(
    stream: list[RawMessage], tmp_path: Path
) -> None:
    journal, dead = Journal(tmp_path / "journal.db"), DeadLetterStore(tmp_path / "dead.db")
    live = _sinks(budget=1)
    spread = Ingestor(journal, dead, live)
    for chunk in batched(iter(stream), 500):
        spread.process(chunk)
    assert max(live[4].seen) > 0, "the budget never held a tick's pairs back: nothing spread"
    spread_state = _state(live[1], live[3])

    again = _sinks(budget=1)
    Ingestor(journal, dead, again).rebuild()
    assert again[4].seen == live[4].seen  # the queue moved batch for batch
    assert _state(again[1], again[3]) == spread_state

    # and bridging each tick at once ends with the same series
    at_once = _sinks(budget=None)
    Ingestor(journal, dead, at_once).rebuild()
    for sink in (live[1], again[1], at_once[1]):
        sink.close()
    journal.close()
    dead.close()
    assert max(at_once[4].seen) == 0
    assert _state(at_once[1], at_once[3])["series"] == spread_state["series"]


def test_a_batch_busy_with_its_own_changes_bridges_less_but_never_nothing() -> None:
    sink, ids = _sink(NEAR, budget=10)
    sink._queue_bridges(_found([(ids["浙B11111"], ids["浙B22222"], 9.0)]))
    sink._changed.update((f"X-{k}", f"Y-{k}") for k in range(7))  # the batch's own changes
    sink.apply(_batch(0))
    assert len(sink.drain_changed()) == 7 + 3  # topped up to the budget
    sink._changed.update((f"X-{k}", f"Y-{k}") for k in range(50))
    sink.apply(_batch(1))
    assert len(sink.drain_changed()) == 50 + 2  # a fifth of the budget, however busy
    sink.apply(_batch(2))
    assert len(sink.drain_changed()) == 4 and sink.bridges_waiting == 0
