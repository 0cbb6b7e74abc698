"""``icc replay`` orders a stream larger than memory through sorted runs on disk, in
exactly the order of the in-memory sort, and replays it to the same series."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import icc.replay
from icc.config import Settings
from icc.replay import event_time_order, replay_files
from icc.runtime import Runtime
from ingest.sources import RawMessage, read_jsonl, sort_by_event_time
from tests.conftest import write_jsonl
from tests.factories import incident, sighting


def _stream(tmp_path: Path) -> Path:
    rng = random.Random(3)
    rows: list[dict | str] = []
    for i in range(60):
        minute = rng.randrange(0, 40)  # many ties in event time
        at = f"2026-03-02T01:{minute:02d}:00+08:00"
        if i % 7 == 0:
            rows.append(incident(f"ZJ-R-{i}", reported_at=at, occurred_start=at, occurred_end=at))
        else:
            rows.append(sighting(f"s-{i}", at=at, entity=f"浙A{i % 5:05d}"))
        if i % 13 == 0:
            rows.append("{not json" if i % 2 else '{"kind": "sighting"}')  # bad lines, no time
    return write_jsonl(tmp_path / "stream.jsonl", rows)


@pytest.mark.parametrize("spill_every", [1, 4, 17, 1000])
def test_spilled_order_equals_the_in_memory_sort(tmp_path: Path, spill_every: int) -> None:
    path = _stream(tmp_path)
    expected = sort_by_event_time(read_jsonl(path))
    work = tmp_path / "runs"
    work.mkdir()
    count, ordered = event_time_order(read_jsonl(path), work, spill_every)
    got = list(ordered)
    assert count == len(expected) == len(got)
    assert [(m.raw, m.source, m.position) for m in got] == [
        (m.raw, m.source, m.position) for m in expected
    ]
    assert got[0].raw.startswith(b"{not json") or b'"kind": "sighting"}' in got[0].raw


def test_spill_every_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spill_every=0"):
        event_time_order(iter([RawMessage(b"{}", "x", "1")]), tmp_path, 0)


def test_replay_through_runs_on_disk_gives_the_same_series(
    replayed_scenario: tuple[Path, dict, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _, exported = replayed_scenario
    monkeypatch.setattr(icc.replay, "SPILL_EVERY", 5000)  # the 3-day stream: ~10 runs
    runtime = Runtime.open(Settings(data_dir=tmp_path / "state"))
    try:
        summary = replay_files(
            runtime, [base / "zj" / "stream.jsonl"], export_to=tmp_path / "series.json"
        )
    finally:
        runtime.close()
    assert summary.received > 5 * 5000
    assert json.loads((tmp_path / "series.json").read_text(encoding="utf-8")) == exported
