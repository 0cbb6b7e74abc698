"""Validating ahead in a worker process changes where the work runs, nothing else: the
journal, the dead letters, the series and the links are those of validating in the
pipeline's own process, with garbage, duplicates and a worker that dies."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from icc.config import Settings
from icc.runtime import Runtime
from ingest.ahead import OTHER, REJECTED, SIGHTING, ValidateAhead, validate
from ingest.batch import MessageBatch, sighting_columns
from ingest.entries import EntryColumns
from ingest.journal import Journal, JournalEntry, micros_rows
from ingest.models import ContractError, Sighting, parse_message
from ingest.scenario import write_scenario
from ingest.sources import RawMessage, batched, read_jsonl
from tests.factories import incident, sighting, team_status

BATCH = 250


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> list[RawMessage]:
    """A day of a scenario (seed 23), as read from its file."""
    base = tmp_path_factory.mktemp("ahead")
    write_scenario(base / "zj", seed=23, days=1, scale=0.25)
    return list(read_jsonl(base / "zj" / "stream.jsonl"))


def _mixed(valid: list[RawMessage], *, redeliver: bool) -> list[RawMessage]:
    """``valid`` with garbage of several kinds and, if asked, redelivered messages."""
    rng = random.Random(5)
    out: list[RawMessage] = []
    for i, msg in enumerate(valid):
        out.append(msg)
        if i % 97 == 0:
            raw = msg.raw
            # truncated, not UTF-8, a kind that is not one (JSON's last key wins)
            bad = (raw[: len(raw) // 2], raw + b"\xff", raw.rstrip()[:-1] + b', "kind": 12}')
            out.append(RawMessage(bad[i % 3], msg.source, f"{msg.position}-bad"))
        if redeliver and i % 61 == 0:  # sometimes inside the same batch
            out.append(valid[max(0, i - rng.randrange(0, 400))])
    return out


@pytest.fixture(scope="module")
def stream(scenario: list[RawMessage]) -> list[RawMessage]:
    """The scenario with garbage and redelivered messages mixed in."""
    return _mixed(scenario, redeliver=True)


def _state(runtime: Runtime) -> dict:
    journal = sqlite3.connect(runtime.settings.journal_path)
    try:
        rows = journal.execute(
            "SELECT seq, key, kind, event_time, payload, source, position FROM journal ORDER BY seq"
        ).fetchall()
    finally:
        journal.close()
    links = runtime.linker.links
    return {
        "journal": rows,
        "batches": runtime.ingestor.journal.batch_ends(),
        "deadletters": [(d.raw, d.error, d.source, d.position) for d in runtime.deadletters.list()],
        "totals": runtime.ingestor.totals,
        "export": runtime.export(),
        "links": sorted((p, link.probability, repr(link.features)) for p, link in links.items()),
        "evidence": sorted(
            (p, sorted((e, x.score) for e, x in d.items()))
            for p, d in runtime.spacetime.evidence.items()
        ),
        "cases": len(runtime.cases),
    }


def _run_here(stream: list[RawMessage], data: Path) -> dict:
    runtime = Runtime.open(Settings(data_dir=data), reset=True)
    try:
        for chunk in batched(stream, BATCH):
            runtime.ingestor.process(chunk, durable=False)
        runtime.ingestor.sync()
        return _state(runtime)
    finally:
        runtime.close()


def _run_ahead(
    stream: list[RawMessage], data: Path, chunks: Iterator[Sequence[RawMessage]] | None = None
) -> tuple[dict, ValidateAhead, list[float]]:
    runtime = Runtime.open(Settings(data_dir=data), reset=True)
    seconds: list[float] = []
    try:
        with ValidateAhead(depth=2, start_after=1) as ahead:
            source = chunks if chunks is not None else batched(stream, BATCH)
            for step in runtime.ingestor.stream(source, ahead=ahead):
                seconds.append(step.validate_s)
        return _state(runtime), ahead, seconds
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def here(stream: list[RawMessage], tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _run_here(stream, tmp_path_factory.mktemp("here"))


def _assert_same(got: dict, expected: dict) -> None:
    for part in expected:
        assert got[part] == expected[part], part


def test_a_stream_validated_ahead_ends_in_the_same_state(
    stream: list[RawMessage], here: dict, tmp_path: Path
) -> None:
    got, ahead, seconds = _run_ahead(stream, tmp_path)
    chunks = -(-len(stream) // BATCH)
    # the first, those while the worker started and any it was late for (the machine may
    # be busy), the pipeline validated itself
    assert 0 < ahead.batches < chunks and ahead.batches + ahead.lagged < chunks
    assert seconds[0] == 0.0 and sum(s > 0.0 for s in seconds) == ahead.batches
    assert here["deadletters"] and here["totals"].duplicates > 0 and here["export"]["series"]
    _assert_same(got, here)


def test_a_stream_of_new_messages_validated_ahead_ends_in_the_same_state(
    scenario: list[RawMessage], tmp_path: Path
) -> None:
    """Every batch new and distinct (garbage aside): the journal takes each batch as
    columns, with the worker's insert rows."""
    keys: set[str] = set()
    once = []
    for msg in scenario:  # the scenario redelivers some messages itself
        key = parse_message(msg.raw).key
        if key not in keys:
            keys.add(key)
            once.append(msg)
    clean = _mixed(once, redeliver=False)
    expected = _run_here(clean, tmp_path / "here")
    taken: list[str] = []
    insert = Journal._insert_statement

    def spy(fresh: Sequence[JournalEntry], rows_json: str | None = None) -> tuple[str, object]:
        taken.append(type(fresh).__name__ + ("+rows" if rows_json else ""))
        return insert(fresh, rows_json)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Journal, "_insert_statement", staticmethod(spy))
        got, ahead, _ = _run_ahead(clean, tmp_path / "ahead")
    assert ahead.batches > 0
    assert expected["totals"].duplicates == 0
    assert taken.count("EntryColumns+rows") == ahead.batches  # each batch the worker read
    _assert_same(got, expected)


def test_the_journal_stores_entry_columns_as_it_stores_the_entries(tmp_path: Path) -> None:
    raws = _raws()[:4]
    positions = [f"p{i}" for i in range(4)]
    parsed = [parse_message(r) for r in raws]
    entries = [
        JournalEntry(m.key, m.kind, m.event_time.timestamp(), r, "src", p)
        for m, r, p in zip(parsed, raws, positions, strict=True)
    ]
    columns = EntryColumns(
        [e.key for e in entries],
        [e.kind for e in entries],
        [e.event_time for e in entries],
        list(raws),
        "src",
        positions,
        distinct=True,
    )
    assert list(columns) == entries and columns == entries and len(columns) == 4
    plain, given = Journal(tmp_path / "a"), Journal(tmp_path / "b")
    assert plain.append(entries).accepted == 4
    rows = validate(raws, positions).rows
    first = given.append(columns, rows_json=rows)
    assert first.accepted == 4 and first.fresh is columns  # taken as they are
    again = given.append(columns, rows_json=rows)  # every key stored: nothing new
    assert (again.accepted, again.duplicates) == (0, 4)
    assert list(given.iter_entries()) == list(plain.iter_entries())
    with pytest.raises(ValueError, match="columns of 1 keys, 0 kinds"):
        EntryColumns(["k"], [], [], [], "s", [], distinct=True)


def test_a_worker_that_dies_mid_stream_leaves_the_pipeline_validating(
    stream: list[RawMessage], here: dict, tmp_path: Path
) -> None:
    holder: list[ValidateAhead] = []
    original = ValidateAhead.chunks

    def chunks(self: ValidateAhead, source: object) -> Iterator:
        holder.append(self)
        killed = False
        for item in original(self, source):  # type: ignore[arg-type]
            if self.batches == 3 and not killed:
                assert self.pid is not None
                os.kill(self.pid, signal.SIGKILL)
                killed = True
            yield item

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ValidateAhead, "chunks", chunks)
        got, ahead, _ = _run_ahead(stream, tmp_path)
    assert 3 <= ahead.batches <= 6  # those before it died (and up to its depth), none after
    _assert_same(got, here)


def test_a_worker_stopped_for_a_while_is_not_waited_for(
    stream: list[RawMessage], here: dict, tmp_path: Path
) -> None:
    """SIGSTOP for twenty batches: the pipeline validates them itself (it never waits for
    the worker), drops the worker's late replies once it runs again, and ends in the same
    state."""
    original = ValidateAhead.chunks
    stopped_for: list[int] = []

    def chunks(self: ValidateAhead, source: object) -> Iterator:
        stopped_at = None
        for n, item in enumerate(original(self, source)):  # type: ignore[arg-type]
            if stopped_at is None and self.batches == 3:
                assert self.pid is not None
                os.kill(self.pid, signal.SIGSTOP)
                stopped_at = n
            elif stopped_at is not None and n == stopped_at + 20:
                os.kill(self.pid, signal.SIGCONT)  # type: ignore[arg-type]
                stopped_for.append(self.lagged)
            yield item

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ValidateAhead, "chunks", chunks)
        got, ahead, _ = _run_ahead(stream, tmp_path)
    assert stopped_for and stopped_for[0] >= 20 - 1 - ahead.depth
    _assert_same(got, here)


def test_switched_off_by_the_environment_nothing_is_validated_ahead(
    stream: list[RawMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ICC_VALIDATE_AHEAD", "0")
    with ValidateAhead(start_after=0) as ahead:
        got = [v for _, v in ahead.chunks(batched(stream[:2000], BATCH))]
    assert got == [None] * 8 and ahead.batches == 0 and ahead.pid is None


def test_a_switch_that_is_neither_0_nor_1_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICC_VALIDATE_AHEAD", "yes")
    with (
        pytest.raises(ValueError, match="ICC_VALIDATE_AHEAD='yes': expected 0"),
        ValidateAhead(start_after=0) as ahead,
    ):
        list(ahead.chunks([[RawMessage(b"{}", "t", "1")]]))


def _raws() -> list[bytes]:
    rows = [
        sighting("s1", at="2026-03-02T01:12:00.250000+08:00"),
        incident("r1"),
        sighting("s2", entity_kind="phone", entity="+86 138-1234-5678", at="2026-03-02T03:00:00Z"),
        team_status("t1"),
    ]
    raws = [json.dumps(r, ensure_ascii=False).encode() for r in rows]
    return [*raws, b"{", b'{"kind": "sighting", "sighting_id": "s9"}', raws[0]]


def test_validate_tags_each_message_and_gives_the_sightings_as_columns() -> None:
    raws = _raws()
    v = validate(raws)
    assert list(v.tags) == [SIGHTING, OTHER, SIGHTING, OTHER, REJECTED, REJECTED, SIGHTING]
    parsed = [parse_message(raws[i]) for i in (0, 2, 6)]
    assert all(isinstance(m, Sighting) for m in parsed)
    assert v.keys == [m.key for m in parsed]
    assert v.kinds == [m.entity_kind for m in parsed]  # type: ignore[union-attr]
    assert v.entities == ["浙B12345", "+86 138-1234-5678", "浙B12345"]
    assert v.lons == [m.lon for m in parsed] and v.lats == [m.lat for m in parsed]  # type: ignore[union-attr]
    times = np.frombuffer(v.epoch, dtype=np.float64).tolist()
    assert times == [m.event_time.timestamp() for m in parsed]
    for i in (4, 5):
        with pytest.raises(ContractError):
            parse_message(raws[i])
    assert v.rows is None  # no positions given


def test_validate_gives_the_journal_rows_of_the_first_message_of_each_key() -> None:
    raws = _raws()
    positions = [f"p{i}" for i in range(len(raws))]
    v = validate(raws, positions)
    first = [parse_message(raws[i]) for i in (0, 1, 2, 3)]  # raws[6] repeats raws[0]'s key
    expected = micros_rows(
        [m.key for m in first],
        [m.kind for m in first],
        [m.event_time.timestamp() for m in first],
        ["p0", "p1", "p2", "p3"],
        [len(raws[i]) for i in (0, 1, 2, 3)],
    )
    assert v.rows == expected and v.rows is not None
    assert json.loads(v.rows)[0] == [
        "sighting:s1",
        "sighting",
        1772385120250000,
        "p0",
        len(raws[0]),
    ]


def test_the_sinks_see_a_batch_validated_ahead_as_the_messages_themselves(
    tmp_path: Path,
) -> None:
    """A sink that reads the batch as a sequence gets the parsed messages, in order, and
    the columns those messages give."""
    seen: list[MessageBatch] = []

    class Keep:
        def apply(self, messages: Sequence) -> None:
            seen.append(messages)  # type: ignore[arg-type]

    from ingest.deadletter import DeadLetterStore
    from ingest.journal import Journal
    from ingest.pipeline import Ingestor

    raws = _raws()
    ing = Ingestor(Journal(tmp_path / "j"), DeadLetterStore(tmp_path / "d"), [Keep()])
    batch = [RawMessage(r, "t", str(i)) for i, r in enumerate(raws)]
    result = ing.process(batch, validated=validate(raws))
    assert (result.accepted, result.duplicates, result.deadlettered) == (4, 1, 2)
    (got,) = seen
    expected = [parse_message(raws[i]) for i in (0, 1, 2, 3)]
    assert len(got) == 4 and got == expected and list(got) == expected
    cols, plain = sighting_columns(got), sighting_columns(expected)
    assert cols.kinds == plain.kinds and cols.entities == plain.entities
    assert cols.epoch_s.tolist() == plain.epoch_s.tolist()
    assert cols.others == plain.others and cols.latest_at() == plain.latest_at() == 1
    assert list(cols.messages) == list(plain.messages)
