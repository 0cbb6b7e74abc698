"""The journal stores each accepted message once and survives a hard kill."""

from __future__ import annotations

import collections
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ingest.deadletter import DeadLetter, DeadLetterStore
from ingest.journal import Journal, JournalEntry
from ingest.keyhashes import KeyHashes
from ingest.sqlite import connect


def _entry(i: int, kind: str = "sighting") -> JournalEntry:
    return JournalEntry(f"{kind}:s{i}", kind, 1_772_400_000.0 + i, b'{"i": %d}' % i, "test", str(i))


def test_append_is_idempotent_on_key(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    first = j.append([_entry(1), _entry(2)])
    assert (first.accepted, first.duplicates) == (2, 0)
    again = j.append([_entry(2), _entry(3), _entry(3)])
    assert (again.accepted, again.duplicates) == (1, 2)
    assert [e.key for e in again.fresh] == ["sighting:s3"]
    assert len(j) == 3
    assert [e.key for _, e in j.iter_entries()] == ["sighting:s1", "sighting:s2", "sighting:s3"]


def test_journal_is_wal_and_reopens_with_content(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.append([_entry(i) for i in range(10)])
    mode = j._conn.execute("PRAGMA journal_mode").fetchone()[0]
    j.close()
    assert mode == "wal"
    reopened = Journal(path)
    assert len(reopened) == 10
    assert reopened.count_by_kind() == {"sighting": 10}
    assert next(reopened.iter_entries())[1].payload == b'{"i": 0}'


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ingest.journal import Journal, JournalEntry
    j = Journal(Path(sys.argv[1]))
    i = 0
    while True:
        batch = [JournalEntry(f"sighting:k{i + k}", "sighting", 0.0, b"x" * 200, "t", str(i + k))
                 for k in range(50)]
        j.append(batch)
        i += 50
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
    """
)


def test_nothing_acknowledged_is_lost_on_kill(tmp_path: Path) -> None:
    """Kill -9 the writer right after an append returned: every acknowledged entry is there."""
    path = tmp_path / "j.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.stdout is not None
    acknowledged = 0
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged >= 2000:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    j = Journal(path)
    keys = {e.key for _, e in j.iter_entries()}
    assert all(f"sighting:k{i}" in keys for i in range(acknowledged))
    # batches are atomic: what is there is a whole number of batches
    assert len(keys) % 50 == 0


def test_deadletters_keep_raw_bytes_reason_and_position(tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path / "dl.sqlite")
    raw = b"\xff\xfe not utf-8 {"
    assert store.add([DeadLetter(raw, "message: invalid JSON", "file:a.jsonl", "7")]) == 1
    # the same bad line of the same file read again is not stored twice
    assert store.add([DeadLetter(raw, "message: invalid JSON", "file:a.jsonl", "7")]) == 0
    # but the same bytes at another position are another dead letter
    assert store.add([DeadLetter(raw, "message: invalid JSON", "file:a.jsonl", "9")]) == 1
    letters = store.list()
    assert [(d.raw, d.error, d.source, d.position) for d in letters][0] == (
        raw,
        "message: invalid JSON",
        "file:a.jsonl",
        "7",
    )
    store.resolve([letters[0].id])
    assert len(store) == 1
    assert len(store.list(include_resolved=True)) == 2


def test_during_commit_sees_exactly_the_fresh_entries_in_order(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.append([_entry(2)])
    seen: list[list[str]] = []
    result = j.append(
        [_entry(1), _entry(2), _entry(3), _entry(1)],
        during_commit=lambda fresh: seen.append([e.key for e in fresh]),
    )
    assert seen == [["sighting:s1", "sighting:s3"]]
    assert [e.key for e in result.fresh] == seen[0]
    assert (result.accepted, result.duplicates) == (2, 2)
    assert result.first_seq is not None
    # committed when append returns: another connection sees the rows
    other = Journal(tmp_path / "j.sqlite")
    assert len(other) == 3
    other.close()
    empty: list[list[str]] = []
    j.append([], during_commit=lambda fresh: empty.append([e.key for e in fresh]))
    assert empty == [[]]
    j.close()


def test_an_error_in_during_commit_still_leaves_the_batch_committed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")

    def boom(_: list[JournalEntry]) -> None:
        raise RuntimeError("sink failed")

    try:
        j.append([_entry(1)], during_commit=boom)
    except RuntimeError as exc:
        assert "sink failed" in str(exc)
    else:
        raise AssertionError("the error of during_commit must reach the caller")
    assert len(j) == 1
    assert j.append([_entry(2)]).accepted == 1  # no transaction left open
    j.close()


def test_keys_another_handle_stored_are_duplicates_here(tmp_path: Path) -> None:
    """Two workers share one journal: each learns what the other stored before it appends."""
    path = tmp_path / "j.sqlite"
    one, two = Journal(path), Journal(path)
    assert two.append([_entry(9)]).accepted == 1  # two has looked at the journal already
    assert one.append([_entry(1), _entry(2)]).accepted == 2
    again = two.append([_entry(2), _entry(3)])
    assert (again.accepted, again.duplicates) == (1, 1)
    assert [e.key for e in again.fresh] == ["sighting:s3"]
    assert (one.append([_entry(3), _entry(9), _entry(4)]).accepted) == 1
    assert len(one) == 5
    # every batch's end is the seq of its last stored row, whichever handle stored it
    ends = one.batch_ends()
    seqs = [seq for seq, _ in one.iter_entries()]
    assert ends == [seqs[0], seqs[2], seqs[3], seqs[4]]
    one.close()
    two.close()


def test_a_pruned_message_sent_again_is_stored_again(tmp_path: Path) -> None:
    """Retention deletes old rows behind the journal's back; the same key is then new."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.append([_entry(1), _entry(2)])
    conn = connect(path)
    conn.execute("DELETE FROM journal WHERE key = 'sighting:s1'")
    conn.close()
    again = j.append([_entry(1), _entry(2)])
    assert (again.accepted, again.duplicates) == (1, 1)
    assert sorted(e.key for _, e in j.iter_entries()) == ["sighting:s1", "sighting:s2"]
    j.close()


def test_payload_bytes_and_times_come_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    odd = [
        JournalEntry(
            "incident:引号\"'\\", "incident", 1772400000.123456, b'\x00\xff{"a": 1}\n', "f", "0"
        ),
        JournalEntry("sighting:empty", "sighting", 0.1 + 0.2, b"", "file:/tmp/x y.jsonl", "7"),
        JournalEntry("sighting:big", "sighting", 1.5e9, bytes(range(256)) * 300, "kafka:t/0", "12"),
    ]
    j.append(odd, during_commit=lambda fresh: None, wait=False)
    j.sync()
    j.close()
    back = [e for _, e in Journal(path).iter_entries()]
    assert back == odd


def test_key_hashes_give_every_row_of_a_key_whatever_the_sizes_keys_come_in() -> None:
    """A multimap hash -> seqs: small adds and bulk loads mixed, keys added again at new
    rows (pruned and stored again), and a forced collision (two keys, one hash)."""
    rng = np.random.default_rng(4)
    known = KeyHashes()
    rows: dict[str, set[int]] = collections.defaultdict(set)
    seq = 0
    for size in rng.integers(1, 9000, 60).tolist():
        keys = list(dict.fromkeys(f"sighting:{k}" for k in rng.integers(0, 400_000, size)))
        known.add(keys, range(seq, seq + len(keys)))
        for k in keys:
            rows[k].add(seq)
            seq += 1
    probe = [f"sighting:{k}" for k in range(0, 400_000, 7)]
    found = known.candidates(probe)
    for i, k in enumerate(probe):
        if k in rows:  # a miss is certain; a hit has every row of the key
            assert rows[k] <= set(found[i])
    assert sum(len(v) for v in found.values()) - sum(len(rows.get(k, ())) for k in probe) <= 2
    assert len(known._runs) <= 20  # O(log n) runs
    assert len(known) == sum(len(v) for v in rows.values())
    # one hash twice in one small add, and again later: every row kept
    fresh = KeyHashes()
    fresh.add(["incident:a", "incident:a"], [5, 9])
    fresh.add(["incident:a"], [12])
    assert fresh.candidates(["incident:b", "incident:a"]) == {1: [5, 9, 12]}
    with pytest.raises(ValueError, match="2 keys but 1 seqs"):
        fresh.add(["x", "y"], [1])


def test_keys_answers_for_what_other_handles_stored(tmp_path: Path) -> None:
    """``keys`` (the health check's probe) reads what another worker stored since."""
    path = tmp_path / "j.sqlite"
    one, two = Journal(path), Journal(path)
    one.append([_entry(1), _entry(2, "incident")])
    assert one.keys(["sighting:s1", "incident:s2", "sighting:s3"]) == {
        "sighting:s1",
        "incident:s2",
    }
    two.append([_entry(3)])
    assert one.keys(["sighting:s3", "sighting:s4"]) == {"sighting:s3"}
    one.close()
    two.close()


_OLD_SCHEMA = """
CREATE TABLE journal (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    event_time REAL NOT NULL,
    payload    BLOB NOT NULL,
    source     TEXT NOT NULL,
    position   TEXT NOT NULL,
    stored_at  REAL NOT NULL DEFAULT (((julianday('now') - 2440587.5) * 86400.0))
);
CREATE INDEX journal_kind_time ON journal (kind, event_time);
CREATE TABLE batches (last_seq INTEGER PRIMARY KEY);
"""


def test_a_journal_made_with_a_unique_index_on_every_key_still_works(tmp_path: Path) -> None:
    """Journals written before sightings' keys lost their index: opened, read back and
    appended to as before, duplicates still recognised."""
    path = tmp_path / "j.sqlite"
    conn = connect(path)
    conn.executescript(_OLD_SCHEMA)
    conn.execute(
        "INSERT INTO journal (key, kind, event_time, payload, source, position)"
        " VALUES ('sighting:s1', 'sighting', 1.0, x'7b7d', 'old', '0')"
    )
    conn.execute("INSERT INTO batches VALUES (1)")
    conn.close()
    j = Journal(path)
    assert [e.key for _, e in j.iter_entries()] == ["sighting:s1"]
    again = j.append([_entry(1), _entry(2), _entry(3, "incident")])
    assert (again.accepted, again.duplicates, again.first_seq) == (2, 1, 2)
    assert j.append([_entry(2), _entry(3, "incident")]).duplicates == 2
    assert len(j) == 3
    j.close()


def test_only_reports_have_an_index_on_their_key(tmp_path: Path) -> None:
    """Writing a batch's random sighting keys into an index was most of the writer's
    time; reports keep theirs (a case's narratives are read by key)."""
    j = Journal(tmp_path / "j.sqlite")
    j.close()
    conn = connect(tmp_path / "j.sqlite")
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT payload FROM journal WHERE kind = 'incident' AND key = ?",
        ("incident:x",),
    ).fetchall()
    indexed = {
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        if not row[0].startswith("sqlite_autoindex")
    }
    autoindexes = conn.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'journal'"
        " AND name LIKE 'sqlite_autoindex%'"
    ).fetchone()[0]
    conn.close()
    assert "journal_incident_key" in " ".join(str(r) for r in plan)
    assert indexed == {"journal_kind_time", "journal_incident_key"}
    assert autoindexes == 0  # no UNIQUE constraint on the key column


def test_key_hashes_keep_every_row_when_recent_keys_become_a_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Recent keys are moved into sorted runs once there are enough of them, with or
    without a hash that has several rows."""
    import ingest.keyhashes as kh

    monkeypatch.setattr(kh, "RECENT_MAX", 50)
    known = kh.KeyHashes()
    rows: dict[str, list[int]] = collections.defaultdict(list)
    seq = 0
    for batch in range(40):
        keys = [f"sighting:{batch}-{i}" for i in range(7)]
        if batch % 3 == 1:
            keys.append("incident:again")  # stored again and again (pruned in between)
        known.add(keys, range(seq, seq + len(keys)))
        for k in keys:
            rows[k].append(seq)
            seq += 1
    assert known._runs and len(known) == seq
    probe = list(rows) + ["sighting:nope"]
    found = known.candidates(probe)
    assert len(probe) - 1 not in found
    for i, k in enumerate(probe[:-1]):
        assert sorted(found[i]) == rows[k]


_ROW = "SELECT seq, key, kind, event_time, payload, source, position FROM journal ORDER BY seq"


def _stored_rows(path: Path, entries: list[JournalEntry]) -> list[tuple]:
    journal = Journal(path)
    journal.append(entries)
    journal.close()
    with connect(path) as conn:
        return conn.execute(_ROW).fetchall()


def _reference_rows(path: Path, entries: list[JournalEntry]) -> list[tuple]:
    """Each entry inserted with its own parameters: what every insert path must store."""
    Journal(path).close()  # the schema
    with connect(path) as conn:
        conn.executemany(
            "INSERT INTO journal (key, kind, event_time, payload, source, position)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            entries,
        )
        conn.commit()
        return conn.execute(_ROW).fetchall()


@pytest.mark.parametrize(
    "case", ["micros", "sub-microsecond time", "two sources", "negative and huge times"]
)
def test_each_batch_insert_stores_what_a_row_at_a_time_insert_stores(
    tmp_path: Path, case: str
) -> None:
    """The usual batch (one source, times in whole microseconds as ``datetime.timestamp()``
    gives them) is sent with its times as integers and its source once; any other batch as
    before. Times come back as the same doubles, payloads and their boundaries intact."""
    rng = np.random.default_rng(7)
    entries = []
    for i in range(300):
        us = 1_772_380_800_000_000 + int(rng.integers(0, 86_400_000_000))
        t = us / 10**6
        if case == "sub-microsecond time" and i == 150:
            t = math.nextafter(t, math.inf)  # no longer a whole number of microseconds
        if case == "negative and huge times" and i % 100 == 0:
            t = [-1.5, 9.0e15, 1e-6][i // 100]
        payload = b'{"n": %d, "pad": "%s"}' % (i, b"x" * int(rng.integers(0, 40)))
        source = "file:a.jsonl" if case != "two sources" or i < 200 else "kafka:icc/1"
        entries.append(JournalEntry(f"sighting:s{i}", "sighting", t, payload, source, str(i)))
    got = _stored_rows(tmp_path / "a.sqlite", entries)
    want = _reference_rows(tmp_path / "b.sqlite", entries)
    assert got == want
    assert [r[3] for r in got] == [e.event_time for e in entries]  # bit for bit
