"""The sinks' view of a micro-batch: the messages in order, the sightings also as columns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.batch import MessageBatch, SightingColumns, sighting_columns
from ingest.deadletter import DeadLetterStore
from ingest.journal import Journal
from ingest.models import Incident, Message, Sighting, TeamStatus, parse_message
from ingest.pipeline import Ingestor
from ingest.sources import RawMessage
from tests.factories import incident, sighting, team_status


def _mixed() -> list[Message]:
    raw = [
        sighting("s1", at="2026-03-02T01:12:00+08:00"),
        sighting("s2", entity_kind="phone", entity="13812345678", at="2026-03-02T03:00:00Z"),
        incident("r1"),
        sighting("s3", checkpoint_id="CP-2", lon=121.5, lat=29.5),
        team_status("t1"),
        incident("r2"),
    ]
    return [parse_message(json.dumps(m)) for m in raw]


def _assert_columns(cols: SightingColumns, messages: Sequence[Message]) -> None:
    sightings = [m for m in messages if isinstance(m, Sighting)]
    assert cols.messages == sightings
    assert cols.kinds == [s.entity_kind for s in sightings]
    assert cols.entities == [s.entity for s in sightings]
    assert cols.checkpoint_ids == [s.checkpoint_id for s in sightings]
    assert cols.lons == [s.lon for s in sightings]
    assert cols.lats == [s.lat for s in sightings]
    assert cols.epoch_s.dtype == np.float64
    assert cols.epoch_s.tolist() == [s.at.timestamp() for s in sightings]


def test_columns_keep_the_order_and_where_each_other_message_falls() -> None:
    messages = _mixed()
    cols = sighting_columns(messages)
    _assert_columns(cols, messages)
    assert [(cut, type(m).__name__) for cut, m in cols.others] == [
        (2, "Incident"),
        (3, "TeamStatus"),
        (3, "Incident"),
    ]
    assert cols.latest_at() == 1  # s2, at 03:00 UTC; s1 and s3 are at 17:12 UTC the day before
    assert len(cols) == 3


def test_a_batch_gives_the_same_columns_from_the_journal_times_and_keeps_them() -> None:
    messages = _mixed()
    batch = MessageBatch(messages, [m.event_time.timestamp() for m in messages])
    assert list(batch) == messages
    cols = sighting_columns(batch)
    _assert_columns(cols, messages)
    assert sighting_columns(batch) is cols  # gathered once for every sink
    assert cols.others == sighting_columns(messages).others


def test_no_sightings_no_latest() -> None:
    only = [parse_message(json.dumps(incident("r9")))]
    cols = sighting_columns(only)
    assert len(cols) == 0 and cols.latest_at() is None
    assert cols.epoch_s.shape == (0,)
    assert [m for _, m in cols.others] == only


def test_a_batch_refuses_times_that_do_not_match_its_messages() -> None:
    with pytest.raises(ValueError, match="3 messages but 2 event times"):
        MessageBatch(_mixed()[:3], [1.0, 2.0])


class _Columns:
    def __init__(self) -> None:
        self.seen: list[SightingColumns] = []
        self.types: list[type] = []

    def apply(self, messages: Sequence[Message]) -> None:
        self.types.append(type(messages))
        self.seen.append(sighting_columns(messages))


def test_the_pipeline_hands_its_sinks_one_batch_with_the_journal_times(tmp_path: Path) -> None:
    first, second = _Columns(), _Columns()
    ing = Ingestor(
        Journal(tmp_path / "j.sqlite"), DeadLetterStore(tmp_path / "d.sqlite"), [first, second]
    )
    raws = [
        RawMessage(json.dumps(m).encode(), "test", str(i))
        for i, m in enumerate(
            [
                sighting("s1"),
                incident("r1"),
                sighting("s2", at="2026-03-02T05:00:00.250000+08:00"),
                sighting("s1"),  # a duplicate inside the batch: the sinks never see it
            ]
        )
    ]
    ing.process(raws)
    assert first.types == [MessageBatch]
    assert first.seen[0] is second.seen[0]
    cols = first.seen[0]
    assert [s.sighting_id for s in cols.messages] == ["s1", "s2"]
    assert cols.epoch_s.tolist() == [s.at.timestamp() for s in cols.messages]
    assert [type(m) for _, m in cols.others] == [Incident]
    assert not any(isinstance(m, TeamStatus) for _, m in cols.others)
