"""Arrival order across partitions (``ingest.kafka.align``), and through a real broker."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from icc.config import Settings
from icc.runtime import Runtime
from ingest.kafka.align import ArrivalMerge
from ingest.kafka.broker import LocalBroker
from ingest.kafka.publish import publish_files
from ingest.kafka.source import run_kafka
from tests.factories import incident, sighting


@dataclass(frozen=True)
class Rec:
    timestamp: int
    offset: int


def _recs(*stamps: int) -> list[Rec]:
    return [Rec(ts, i) for i, ts in enumerate(stamps)]


def _order(taken: list[tuple[str, Rec]]) -> list[tuple[str, int]]:
    return [(tp, r.timestamp) for tp, r in taken]


def test_records_of_several_partitions_come_out_in_timestamp_order() -> None:
    m = ArrivalMerge()
    m.add({"inc": _recs(5, 30), "sig": _recs(1, 2, 10, 20, 40)})
    taken = m.take(100, ["inc", "sig"], caught_up=lambda tp: True)
    assert _order(taken) == [
        ("sig", 1),
        ("sig", 2),
        ("inc", 5),
        ("sig", 10),
        ("sig", 20),
        ("inc", 30),
        ("sig", 40),
    ]
    assert len(m) == 0


def test_a_partition_behind_holds_back_what_it_could_precede() -> None:
    m = ArrivalMerge(wait_s=5.0)
    m.add({"inc": _recs(5, 30, 31)})
    m.add({"sig": _recs(1, 2)})  # the sightings partition has more to fetch
    behind = {"sig"}
    taken = m.take(100, ["inc", "sig"], caught_up=lambda tp: tp not in behind, now=0.0)
    # after its last record (2) the sightings partition may still deliver 3..29
    assert _order(taken) == [("sig", 1), ("sig", 2)]
    assert m.take(100, ["inc", "sig"], lambda tp: tp not in behind, now=1.0) == []
    m.add({"sig": [Rec(10, 2), Rec(35, 3)]})
    taken = m.take(100, ["inc", "sig"], lambda tp: tp not in behind, now=1.5)
    # the reports partition is caught up: nothing can come before the sightings' 35 now
    assert _order(taken) == [("inc", 5), ("sig", 10), ("inc", 30), ("inc", 31), ("sig", 35)]


def test_a_partition_that_never_delivers_stops_nothing_for_longer_than_the_wait() -> None:
    m = ArrivalMerge(wait_s=1.0)
    m.add({"inc": _recs(5, 6)})
    stuck = ["inc", "sig"]  # "sig" is behind and nothing of it arrives
    assert m.take(100, stuck, lambda tp: tp == "inc", now=10.0) == []
    assert m.take(100, stuck, lambda tp: tp == "inc", now=10.5) == []
    assert _order(m.take(100, stuck, lambda tp: tp == "inc", now=11.2)) == [("inc", 5), ("inc", 6)]
    assert m.forced == 1
    # waited for in vain once: not waited for again until it delivers
    m.add({"inc": [Rec(7, 2)]})
    assert _order(m.take(100, stuck, lambda tp: tp == "inc", now=11.3)) == [("inc", 7)]
    m.add({"sig": [Rec(8, 0)]})
    m.add({"inc": [Rec(9, 3)]})
    # "sig" delivered, so it is waited for again: 9 waits for what "sig" brings next
    taken = m.take(100, stuck, lambda tp: tp == "inc", now=11.4)
    assert _order(taken) == [("sig", 8)]
    assert m.take(100, stuck, lambda tp: tp == "inc", now=11.5) == []


def test_limit_and_a_memory_bound_that_does_not_wait() -> None:
    m = ArrivalMerge(buffer_max=6, wait_s=60.0)
    m.add({"a": _recs(1, 3, 5, 7, 9), "b": _recs(2, 4)})
    first = m.take(3, ["a", "b"], lambda tp: True)
    assert _order(first) == [("a", 1), ("b", 2), ("a", 3)]
    # "c" is behind with nothing buffered: hold back, unless too much is buffered
    assert m.take(10, ["a", "b", "c"], lambda tp: tp != "c", now=0.0) == []
    m.add({"b": [Rec(6, 2)]})
    assert len(m) == 5
    assert m.take(10, ["a", "b", "c"], lambda tp: tp != "c", now=0.1) == []
    m.add({"a": [Rec(11, 5)]})
    assert _order(m.take(2, ["a", "b", "c"], lambda tp: tp != "c", now=0.2)) == [
        ("b", 4),
        ("a", 5),
    ]
    assert m.forced == 1
    # revoked: forgotten; reading starts again at the first record not processed
    assert m.drop(["a"]) == {"a": 3} and len(m) == 1 and m.buffered("b") == 1
    with pytest.raises(ValueError, match="buffer_max = 0: expected an integer >= 1"):
        ArrivalMerge(buffer_max=0)


@pytest.mark.slow
def test_a_worker_catching_up_takes_reports_and_sightings_in_the_order_they_arrived(
    tmp_path: Path,
) -> None:
    """The day is published first and consumed after: without the merge the small
    incidents topic is read to its end before most sightings."""

    def jsonl(name: str, rows: list[dict]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return path

    def sightings(first: int, n: int) -> list[dict]:
        return [
            sighting(f"s-{k:06d}", entity=f"浙B{k % 997:05d}", checkpoint_id=f"CP-{k % 13}")
            for k in range(first, first + n)
        ]

    before = jsonl("before.jsonl", sightings(0, 4000))
    report = jsonl("report.jsonl", [incident("ZJ-330211-0001")])
    after = jsonl("after.jsonl", sightings(4000, 4000))
    with LocalBroker(log_path=tmp_path / "tansu.log") as broker:
        for path in (before, report, after):  # three arrivals, in this order
            publish_files([path], broker.bootstrap, partitions=4)
            time.sleep(0.05)
        runtime = Runtime.open(Settings(data_dir=tmp_path / "state"), reset=True)
        try:
            stats = run_kafka(runtime, broker.bootstrap, exit_when_idle_s=3.0, batch_max=500)
            order = [e.kind for _, e in runtime.journal.iter_entries()]
        finally:
            runtime.close()
    assert stats.messages == 8001
    at = order.index("incident")
    assert order[:at] == ["sighting"] * 4000 and order[at + 1 :] == ["sighting"] * 4000
