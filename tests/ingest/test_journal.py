"""The journal stores each accepted message once and survives a hard kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

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


def test_key_hashes_answer_as_a_set_whatever_the_sizes_keys_come_in() -> None:
    rng = np.random.default_rng(4)
    known = KeyHashes()
    plain: set[str] = set()
    for size in rng.integers(1, 9000, 60).tolist():  # small adds and bulk loads mixed
        keys = [f"sighting:{k}" for k in rng.integers(0, 400_000, size).tolist()]
        known.add(keys)
        plain.update(keys)
    probe = [f"sighting:{k}" for k in range(0, 400_000, 7)]
    hits = set(known.hits(probe))
    assert {i for i, k in enumerate(probe) if k in plain} <= hits  # a miss is certain
    assert len(hits) - sum(k in plain for k in probe) <= 2  # 64-bit hashes: no false hit
    assert len(known._runs) <= 20  # O(log n) runs
