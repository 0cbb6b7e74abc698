"""``icc status`` against real data directories (and a real Kafka-protocol broker for lag),
and retention of old sightings (``ICC_SIGHTING_RETENTION_DAYS``) on stream time."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from icc.cli import main
from icc.config import ConfigError, Settings
from icc.runtime import Runtime
from ingest.scenario import write_scenario
from ingest.sources import read_jsonl
from tests.conftest import write_jsonl

TZ = dt.timezone(dt.timedelta(hours=8))
DAY0 = dt.datetime(2026, 3, 2, tzinfo=TZ)


def _status(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    assert main(["status", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("status-scenario")
    write_scenario(base / "zj", seed=5, days=0.25, scale=0.2)
    stream = base / "zj" / "stream.jsonl"
    with stream.open("ab") as fh:  # one line that cannot be a message
        fh.write(b'{"kind": "sighting", "entity": 7}\n')
    return stream


def test_status_of_a_replayed_data_dir(
    small_scenario: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "state"
    monkeypatch.setenv("ICC_DATA_DIR", str(data))
    export = tmp_path / "series.json"
    assert main(["replay", str(small_scenario), "--export-series", str(export)]) == 0
    summary = capsys.readouterr().out
    accepted = int(summary.split(" accepted")[0].rsplit(" ", 1)[-1])
    series = json.loads(export.read_text(encoding="utf-8"))["series"]

    report = _status(capsys)
    journal = report["journal"]
    assert journal["exists"] and journal["total"] == accepted
    assert set(journal["rows"]) == {"incident", "sighting", "team_status"}
    kinds = [json.loads(m.raw).get("kind") for m in read_jsonl(small_scenario)]
    assert journal["rows"]["incident"] <= kinds.count("incident")
    assert journal["rows"]["sighting"] < kinds.count("sighting")  # the bad one is not in it
    on_disk = sum(p.stat().st_size for p in data.glob("journal.sqlite*"))
    assert journal["bytes"] == on_disk > 0
    assert report["deadletters"]["count"] == 1
    derived = report["derived"]
    assert derived["exists"] and derived["series_open"] == len(series) > 0
    assert derived["activations_open"] == 0
    assert derived["cases"] > 0 and derived["stream_time"].startswith("2026-03-02")
    assert report["kafka"] is None

    # the same for people, as tables
    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "series open" in text and f"{journal['total']:,}" in text
    assert "dead letters" in text


def test_status_of_an_empty_data_dir_says_there_is_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ICC_DATA_DIR", str(tmp_path / "nothing"))
    report = _status(capsys)
    assert report["journal"] == {
        "path": str(tmp_path / "nothing" / "journal.sqlite"),
        "exists": False,
        "rows": {},
        "total": 0,
        "bytes": 0,
    }
    assert not report["derived"]["exists"]
    assert main(["status"]) == 0
    assert "no worker has run" in capsys.readouterr().out
    assert not (tmp_path / "nothing").exists()  # status only reads


def test_status_rejects_a_source_that_is_not_kafka(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--source", "embedded"]) == 2
    assert "expected kafka://HOST:PORT" in capsys.readouterr().err


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[object]:
    from ingest.kafka.broker import LocalBroker

    b = LocalBroker(log_path=tmp_path / "tansu.log").start()
    try:
        yield b
    finally:
        b.stop()


def test_status_shows_consumer_lag_per_partition(
    broker: object,
    small_scenario: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ingest.kafka.publish import publish_files
    from ingest.kafka.source import run_kafka

    bootstrap = broker.bootstrap  # type: ignore[attr-defined]
    monkeypatch.setenv("ICC_DATA_DIR", str(tmp_path / "state"))
    published = publish_files([small_scenario], bootstrap, partitions=3)
    lines = sum(1 for _ in read_jsonl(small_scenario))
    assert published.messages == lines

    before = _status(capsys, "--source", f"kafka://{bootstrap}")["kafka"]
    parts = before["partitions"]
    assert {(p["topic"], p["partition"]) for p in parts} == {
        (t, i) for t in ("icc.incidents", "icc.sightings", "icc.teams") for i in range(3)
    }
    assert all(p["committed"] is None and p["lag"] == p["end"] for p in parts)
    # Tansu's ListOffsets may report a partition's end below its last record: <=, not ==
    assert 0 < before["total_lag"] == sum(p["end"] for p in parts) <= lines

    runtime = Runtime.open(Settings.from_env(), reset=True)
    try:
        stats = run_kafka(runtime, bootstrap, group_id="icc", exit_when_idle_s=2.0)
    finally:
        runtime.close()
    assert stats.messages == lines
    after = _status(capsys, "--source", f"kafka://{bootstrap}")
    assert after["kafka"]["total_lag"] == 0
    committed = [p["committed"] for p in after["kafka"]["partitions"]]
    assert sum(committed) == lines  # offsets start at 0: every message committed once
    assert after["journal"]["total"] + after["deadletters"]["count"] <= lines

    # a group that never committed lags by the whole log; for people, as a table
    nobody = _status(capsys, "--source", f"kafka://{bootstrap}", "--group-id", "nobody")["kafka"]
    assert nobody["group"] == "nobody"
    assert all(p["committed"] is None and p["lag"] == p["end"] for p in nobody["partitions"])
    assert main(["status", "--source", f"kafka://{bootstrap}", "--group-id", "nobody"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "consumer lag" in text and "icc.sightings" in text


# -- retention -------------------------------------------------------------------------------
def _sighting(sid: str, plate: str, cp: str, lon: float, at: dt.datetime) -> dict:
    return {
        "kind": "sighting",
        "sighting_id": sid,
        "entity_kind": "plate",
        "entity": plate,
        "checkpoint_id": cp,
        "lon": lon,
        "lat": 30.27,
        "at": at.isoformat(),
    }


def _incident(report_id: str, at: dt.datetime) -> dict:
    return {
        "kind": "incident",
        "report_id": report_id,
        "reported_at": (at + dt.timedelta(hours=2)).isoformat(),
        "occurred_start": at.isoformat(),
        "occurred_end": (at + dt.timedelta(minutes=30)).isoformat(),
        "lon": 120.16,
        "lat": 30.27,
        "category": "theft.fuel",
        "mo": ["night"],
    }


def _retention_stream(path: Path) -> tuple[Path, int, int]:
    """Day 0: an incident among 12 sightings; day 3: 24 sightings. Arrival order."""
    old = [
        _sighting(f"OLD-{i}", "浙A0OLD1", "CP-OLD", 120.161, DAY0 + dt.timedelta(minutes=5 * i))
        for i in range(12)
    ]
    day3 = DAY0 + dt.timedelta(days=3)
    new = [
        _sighting(f"NEW-{i}", "浙A0NEW1", "CP-NEW", 120.30, day3 + dt.timedelta(minutes=10 * i))
        for i in range(24)
    ]
    rows = [*old[:6], _incident("ZJ-OLD-1", DAY0), *old[6:], *new]
    return write_jsonl(path, rows), len(old), len(new)


def _state(runtime: Runtime) -> dict:
    keys = sorted(e.key for _, e in runtime.journal.iter_entries())
    return {
        "journal": keys,
        "counts": runtime.journal.count_by_kind(),
        "indexed": len(runtime.spacetime.core.index),
        "cases": sorted(c.case_id for c in runtime.cases.cases()),
        "series": runtime.export(),
    }


def test_old_sightings_are_pruned_on_stream_time_and_a_restart_rebuilds_the_same_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stream, n_old, n_new = _retention_stream(tmp_path / "stream.jsonl")
    monkeypatch.setenv("ICC_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ICC_SIGHTING_RETENTION_DAYS", "1")
    settings = Settings.from_env()
    assert settings.sighting_retention_days == 1
    assert main(["replay", str(stream)]) == 0

    runtime = Runtime.open(settings, rebuild=False)
    try:
        keys = {e.key for _, e in runtime.journal.iter_entries()}
    finally:
        runtime.close()
    # the day-0 sightings are out of a one-day retention counted from the day-3 stream time
    assert not any(k.startswith("sighting:OLD-") for k in keys)
    # ... the day-3 ones are kept although the wall clock is months later
    assert {f"sighting:NEW-{i}" for i in range(n_new)} <= keys
    # ... and the incident is never pruned
    assert "incident:ZJ-OLD-1" in keys

    first = Runtime.open(settings)
    try:
        state = _state(first)
        assert state["indexed"] == n_new
        assert state["cases"] == ["ZJ-OLD-1"]
        assert first.spacetime.core.entity_hits("plate:浙A0OLD1") == {}
    finally:
        first.close()
    second = Runtime.open(settings)  # a restart: rebuilt from the pruned journal again
    try:
        assert _state(second) == state
    finally:
        second.close()

    report = _status(capsys)
    assert report["journal"]["rows"] == {"incident": 1, "sighting": n_new}
    assert report["derived"]["retention_days"] == 1


def test_without_retention_the_journal_keeps_every_sighting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, n_old, n_new = _retention_stream(tmp_path / "stream.jsonl")
    monkeypatch.setenv("ICC_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("ICC_SIGHTING_RETENTION_DAYS", raising=False)
    assert main(["replay", str(stream)]) == 0
    conn = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    n = conn.execute("SELECT COUNT(*) FROM journal WHERE kind = 'sighting'").fetchone()[0]
    conn.close()
    assert n == n_old + n_new


@pytest.mark.parametrize("raw", ["0", "3651", "ten", "1.5", "-2"])
def test_a_bad_retention_is_a_clear_configuration_error(
    raw: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=r"ICC_SIGHTING_RETENTION_DAYS=.*between 1 and 3650"):
        Settings.from_env({"ICC_SIGHTING_RETENTION_DAYS": raw})
    monkeypatch.setenv("ICC_SIGHTING_RETENTION_DAYS", raw)
    assert main(["config", "check"]) == 2
    assert "ICC_SIGHTING_RETENTION_DAYS" in capsys.readouterr().err


def test_config_check_shows_the_retention(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ICC_SIGHTING_RETENTION_DAYS", "45")
    assert main(["config", "check"]) == 0
    captured = capsys.readouterr()
    assert "ICC_SIGHTING_RETENTION_DAYS" in captured.out and "45" in captured.out
    assert "nothing reads it" not in captured.err
