"""The pipeline's sinks run while the journal commits; a failed commit stops the pipeline."""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ingest.deadletter import DeadLetterStore
from ingest.journal import AppendResult, Journal, JournalCommitError, JournalEntry
from ingest.models import Message
from ingest.pipeline import STREAM_GC_THRESHOLD, Ingestor, stream_gc
from ingest.sources import RawMessage

SIGHTING = (
    b'{"kind": "sighting", "sighting_id": "s%d", "entity_kind": "plate", "entity": "B12345",'
    b' "checkpoint_id": "cp1", "lon": 121.6, "lat": 29.9, "at": "2026-03-01T08:00:00+08:00"}'
)


class _Recorder:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def apply(self, messages: Sequence[Message]) -> None:
        self.batches.append([m.key for m in messages])


def _raw(i: int) -> RawMessage:
    return RawMessage(SIGHTING % i, "test", str(i))


def test_sinks_get_only_fresh_messages_and_the_batch_is_durable(tmp_path: Path) -> None:
    sink = _Recorder()
    ing = Ingestor(Journal(tmp_path / "j.sqlite"), DeadLetterStore(tmp_path / "d.sqlite"), [sink])
    ing.process([_raw(1), _raw(2)])
    result = ing.process([_raw(2), _raw(3), _raw(3)])
    assert sink.batches == [["sighting:s1", "sighting:s2"], ["sighting:s3"]]
    assert (result.accepted, result.duplicates, result.by_kind) == (1, 2, {"sighting": 1})
    assert len(Journal(tmp_path / "j.sqlite")) == 3


class _FailingJournal:
    """A journal whose commit fails after the sinks had the batch (a full disk, say)."""

    def __init__(self) -> None:
        self.failed = False

    def append(
        self,
        entries: Sequence[JournalEntry],
        during_commit: Callable[[list[JournalEntry]], None] | None = None,
        *,
        wait: bool = True,
        rows_json: str | None = None,
    ) -> AppendResult:
        self.sync()
        if during_commit is not None:
            during_commit(list(entries))
        self.failed = True
        if wait:
            self.sync()
        return AppendResult(len(entries), 0, 1, list(entries))

    def sync(self) -> None:
        if self.failed:
            raise JournalCommitError("journal commit failed after the batch was applied: disk I/O")


def test_a_failed_commit_refuses_every_later_batch(tmp_path: Path) -> None:
    sink = _Recorder()
    ing = Ingestor(_FailingJournal(), DeadLetterStore(tmp_path / "d.sqlite"), [sink])  # type: ignore[arg-type]
    with pytest.raises(JournalCommitError, match="disk I/O"):
        ing.process([_raw(1)])
    with pytest.raises(JournalCommitError, match="restart to rebuild"):
        ing.process([_raw(2)])
    assert sink.batches == [["sighting:s1"]]  # the second batch never reached the sinks


def test_a_deferred_commit_that_fails_is_reported_and_refuses_later_batches(
    tmp_path: Path,
) -> None:
    sink = _Recorder()
    ing = Ingestor(_FailingJournal(), DeadLetterStore(tmp_path / "d.sqlite"), [sink])  # type: ignore[arg-type]
    ing.process([_raw(1)], durable=False)  # applied; its disk sync still runs
    with pytest.raises(JournalCommitError, match="disk I/O"):
        ing.sync()  # what a source calls before acknowledging the batch
    with pytest.raises(JournalCommitError, match="restart to rebuild"):
        ing.process([_raw(2)], durable=False)
    assert sink.batches == [["sighting:s1"]]


def test_deferred_batches_are_durable_after_sync_and_stay_idempotent(tmp_path: Path) -> None:
    sink = _Recorder()
    journal = Journal(tmp_path / "j.sqlite")
    ing = Ingestor(journal, DeadLetterStore(tmp_path / "d.sqlite"), [sink])
    ing.process([_raw(1), _raw(2)], durable=False)
    result = ing.process([_raw(2), _raw(3)], durable=False)  # waits for the first commit
    ing.sync()
    assert (result.accepted, result.duplicates) == (1, 1)
    assert sink.batches == [["sighting:s1", "sighting:s2"], ["sighting:s3"]]
    other = Journal(tmp_path / "j.sqlite")  # another connection sees every batch
    assert [e.key for _, e in other.iter_entries()] == [
        "sighting:s1",
        "sighting:s2",
        "sighting:s3",
    ]
    assert len(journal.batch_ends()) == 2  # a restart replays the same two batches
    other.close()
    journal.close()


def test_stream_gc_raises_the_threshold_and_restores_it() -> None:
    thresholds = gc.get_threshold()
    with stream_gc():
        assert gc.get_threshold()[0] >= STREAM_GC_THRESHOLD
    assert gc.get_threshold() == thresholds


def test_a_real_deferred_commit_failure_reaches_the_writer_even_after_a_reader_waited(
    tmp_path: Path,
) -> None:
    """A commit that SQLite itself refuses (a deferred foreign key checked at COMMIT, as a
    full disk would fail it): a reader that waits for it first does not swallow it."""
    journal = Journal(tmp_path / "j.sqlite")
    journal._conn.execute("PRAGMA foreign_keys=ON")
    journal._conn.executescript(
        """
        CREATE TABLE parent (id INTEGER PRIMARY KEY);
        CREATE TABLE guard (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER orphan AFTER INSERT ON journal BEGIN INSERT INTO guard VALUES (1); END;
        """
    )
    sink = _Recorder()
    ing = Ingestor(journal, DeadLetterStore(tmp_path / "d.sqlite"), [sink])
    ing.process([_raw(1)], durable=False)  # applied; the commit fails on the writer thread
    assert len(journal) == 0  # a reader (status, metrics) waits for it, sees nothing stored
    with pytest.raises(JournalCommitError, match="FOREIGN KEY"):
        ing.sync()
    with pytest.raises(JournalCommitError, match="restart to rebuild"):
        ing.process([_raw(2)], durable=False)
    assert sink.batches == [["sighting:s1"]]
    journal.close()
