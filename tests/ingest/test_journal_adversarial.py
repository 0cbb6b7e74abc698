"""The journal under attack: odd keys, several processes, retention, kills and failed commits.

Real SQLite throughout (no mocks): several OS processes append overlapping keys to one
journal while another prunes it, a writer is killed while its writer thread inserts, and
a commit fails because the database may not grow (``PRAGMA max_page_count``).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.deadletter import DeadLetterStore
from ingest.journal import Journal, JournalCommitError, JournalEntry
from ingest.pipeline import Ingestor
from ingest.sources import RawMessage
from ingest.sqlite import connect

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _entry(key: str, payload: bytes = b"{}", time: float = 1.0) -> JournalEntry:
    return JournalEntry(key, key.split(":")[0], time, payload, "test", "0")


def _sinks(log: list[list[str]]):  # noqa: ANN202 - a during_commit callback
    return lambda fresh: log.append([e.key for e in fresh])


@pytest.mark.parametrize("deferred", [False, True], ids=["wait", "beside-the-sinks"])
def test_a_key_with_a_nul_character_is_stored_whole(tmp_path: Path, deferred: bool) -> None:
    """The contract lets ids hold ``\\u0000``; SQLite's JSON functions cut a string there.

    Stored cut, ``a\\0b`` became ``a``: its redelivery failed the commit (sticky: the
    pipeline stops) and, after a restart, the message with id ``a`` was taken for a
    duplicate and lost.
    """
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    seen: list[list[str]] = []
    kw = {"during_commit": _sinks(seen), "wait": False} if deferred else {}
    odd = [_entry("sighting:a\x00b", b"1"), _entry("sighting:\x00", b"2")]
    assert j.append(odd + [_entry("sighting:x", b"3")], **kw).accepted == 3
    j.sync()
    assert [e for _, e in j.iter_entries()] == odd + [_entry("sighting:x", b"3")]
    again = j.append([*odd, _entry("sighting:a", b"4")], **kw)  # a redelivery, and the prefix
    j.sync()
    assert (again.accepted, again.duplicates) == (1, 2)
    j.close()
    reopened = Journal(path)  # a restart learns the stored keys from the table
    last = reopened.append([*odd, _entry("sighting:a"), _entry("sighting:a\x00c")], **kw)
    reopened.sync()
    assert (last.accepted, last.duplicates) == (1, 3)
    assert sorted(e.key for _, e in reopened.iter_entries()) == sorted(
        ["sighting:a\x00b", "sighting:\x00", "sighting:x", "sighting:a", "sighting:a\x00c"]
    )
    reopened.close()


SIGHTING = (
    '{"kind": "sighting", "sighting_id": "%s", "entity_kind": "plate", "entity": "B12345",'
    ' "checkpoint_id": "cp1", "lon": 121.6, "lat": 29.9, "at": "2026-03-01T08:00:00+08:00"}'
)


def test_a_redelivered_message_with_nul_in_its_id_does_not_stop_the_pipeline(
    tmp_path: Path,
) -> None:
    """Kafka redelivers after a rebalance or a crash: the repeat must be a duplicate."""
    applied: list[list[str]] = []

    class Sink:
        def apply(self, messages) -> None:  # noqa: ANN001
            applied.append([m.key for m in messages])

    ing = Ingestor(Journal(tmp_path / "j.sqlite"), DeadLetterStore(tmp_path / "d.sqlite"), [Sink()])
    odd = RawMessage((SIGHTING % "s\\u00001").encode(), "kafka:t/0", "1")
    plain = RawMessage((SIGHTING % "s").encode(), "kafka:t/0", "2")
    ing.process([odd], durable=False)
    ing.sync()
    result = ing.process([odd, plain], durable=False)
    ing.sync()
    assert (result.accepted, result.duplicates) == (1, 1)
    assert applied == [["sighting:s\x001"], ["sighting:s"]]


def test_entries_that_cannot_be_encoded_leave_no_transaction_open(tmp_path: Path) -> None:
    """An append that fails before its batch goes to the writer thread must release the
    write lock: other handles and processes write on, and so does this one."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    bad = JournalEntry("sighting:bad", "sighting", 1.0, "not bytes", "t", "0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        j.append([_entry("sighting:ok"), bad], during_commit=lambda fresh: None, wait=False)
    other = connect(path)
    other.execute("PRAGMA busy_timeout=0")
    other.execute("BEGIN IMMEDIATE")  # "database is locked" while the append's is open
    other.execute("ROLLBACK")
    other.close()
    assert j.append([_entry("sighting:ok")], during_commit=lambda fresh: None).accepted == 1
    assert [e.key for _, e in j.iter_entries()] == ["sighting:ok"]
    j.close()


def test_a_commit_that_fails_is_sticky_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """The database may not grow (a full disk): the insert on the writer thread fails after
    the sinks had the batch. No row and no batch end of it stay, the write lock is free,
    and every later append or sync of this handle says so; another handle goes on."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.append([_entry(f"sighting:s{i}", b"x" * 100) for i in range(10)])
    pages = j._conn.execute("PRAGMA page_count").fetchone()[0]
    j._conn.execute(f"PRAGMA max_page_count={pages + 3}")
    seen: list[list[str]] = []
    big = [_entry(f"sighting:s{i}", b"x" * 5000) for i in range(5, 60)]
    result = j.append(big, during_commit=_sinks(seen), wait=False)
    assert (result.accepted, result.first_seq) == (50, 11)
    assert seen == [[e.key for e in big[5:]]]  # the sinks had it
    with pytest.raises(JournalCommitError, match="full"):
        j.sync()
    with pytest.raises(JournalCommitError):
        j.append([_entry("sighting:other")])
    with pytest.raises(JournalCommitError):
        j.sync()
    assert len(j) == 10 and j.batch_ends() == [10]  # reads go on, against what is stored
    other = connect(path)
    other.execute("PRAGMA busy_timeout=0")
    other.execute("BEGIN IMMEDIATE")  # the failed batch's transaction is gone
    other.execute("ROLLBACK")
    other.close()
    two = Journal(path)  # the seqs the failed batch had counted on are free again
    again = two.append(big[:10], during_commit=lambda fresh: None, wait=False)
    two.sync()
    assert (again.accepted, again.first_seq) == (5, 11)
    assert two.batch_ends() == [10, 15]
    assert [s for s, _ in two.iter_entries()] == list(range(1, 16))
    j.close()
    two.close()


_APPENDER = textwrap.dedent(
    """
    import json, random, sys
    from pathlib import Path
    from ingest.journal import Journal, JournalEntry
    path, seed, batches, space = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    j = Journal(path)

    def entry(i):
        # every 7th key is an old sighting (retention prunes it), the rest are incidents
        kind = "sighting" if i % 7 == 0 else "incident"
        time = 0.0 if kind == "sighting" else 2e9
        return JournalEntry(f"{kind}:k{i}", kind, time, b"p%d" % i * rng.randint(1, 5), "w", str(i))

    for _ in range(batches):
        batch = [entry(rng.randrange(space)) for _ in range(rng.randint(1, 120))]
        mode = rng.random()
        seen = []
        if mode < 0.15:
            r = j.append(batch)
        else:
            r = j.append(batch, during_commit=lambda f: seen.extend(e.key for e in f), wait=mode < 0.4)
            j.sync()
            assert seen == [e.key for e in r.fresh]
        fresh = [e.key for e in r.fresh]
        print(json.dumps({"first": r.first_seq, "fresh": fresh, "n": len(batch)}), flush=True)
    j.close()
    """
)

_PRUNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from icc.ops_retention import prune_sightings
    while True:
        prune_sightings(Path(sys.argv[1]), 1.0)
    """
)


@pytest.mark.parametrize("retention", [False, True], ids=["appenders", "appenders+retention"])
def test_processes_appending_overlapping_keys_store_each_once(
    tmp_path: Path, retention: bool
) -> None:
    """Three processes (Kafka workers sharing one journal) append batches drawn from one
    key space; with ``retention`` a fourth deletes old sightings all the while.

    What the processes reported as accepted is what is stored, no key twice; every row
    has the seq its appender computed before the insert ran, and the batch ends are
    exactly the ends of the reported batches (a restart replays those batches)."""
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    appenders = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, str(path), str(seed), "300", "12000"],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=ENV,
        )
        for seed in (1, 2, 3)
    ]
    pruner = (
        subprocess.Popen([sys.executable, "-c", _PRUNER, str(path)], cwd=ROOT, env=ENV)
        if retention
        else None
    )
    reports = []
    try:
        for proc in appenders:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0
            reports += [json.loads(line) for line in out.decode().splitlines()]
    finally:
        if pruner is not None:
            pruner.kill()
            pruner.wait()
    conn = sqlite3.connect(path)
    stored = {key: seq for seq, key in conn.execute("SELECT seq, key FROM journal")}
    ends = [seq for (seq,) in conn.execute("SELECT last_seq FROM batches ORDER BY last_seq")]
    conn.close()
    assert len(reports) == 900
    accepted: collections.Counter[str] = collections.Counter()
    claimed: dict[int, str] = {}  # seq -> key, from every report
    for r in reports:
        assert (r["first"] is None) == (not r["fresh"])
        for i, key in enumerate(r["fresh"]):
            accepted[key] += 1
            assert claimed.setdefault(r["first"] + i, key) == key, "one seq taken twice"
    assert sorted(ends) == sorted(r["first"] + len(r["fresh"]) - 1 for r in reports if r["fresh"])
    # every stored row is one an appender reported, at the seq it reported
    assert all(claimed.get(seq) == key for key, seq in stored.items())
    kept = {k for k in accepted if k.startswith("incident:")}  # never pruned
    assert kept <= stored.keys()
    assert all(accepted[k] == 1 for k in kept), "a key accepted by two appends"
    if not retention:
        assert stored.keys() == accepted.keys()
        assert all(n == 1 for n in accepted.values())
    else:  # a pruned sighting sent again is new again; what is stored was reported
        assert {k for k in stored if k.startswith("sighting:")} <= accepted.keys()


_KILLED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ingest.journal import Journal, JournalEntry
    j = Journal(Path(sys.argv[1]))
    size = int(sys.argv[2])
    b = len(j) // size
    while True:
        batch = [JournalEntry(f"sighting:b{b}-{k}", "sighting", 1.0, b"x" * 2000, "t", str(k))
                 for k in range(size)]

        def sinks(fresh):
            print(f"sinks {b}", flush=True)
            time.sleep(0.02)  # the writer thread inserts meanwhile

        j.append(batch, during_commit=sinks, wait=False)
        j.sync()
        print(f"synced {b}", flush=True)
        b += 1
    """
)


def test_a_kill_while_the_writer_thread_inserts_leaves_whole_batches(tmp_path: Path) -> None:
    """SIGKILL while the sinks run and the writer thread inserts (or commits): after
    reopening, every synced batch is there, each batch whole or absent, and the batch
    ends are exactly the ends of the stored batches."""
    path = tmp_path / "j.sqlite"
    size = 2000
    for round_ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED, str(path), str(size)],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=ENV,
        )
        assert proc.stdout is not None
        synced = -1
        for line in proc.stdout:
            what, b = line.decode().split()
            if what == "synced":
                synced = int(b)
            elif synced >= 0 or round_ % 2:  # kill mid-batch, after a first one or at once
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        j = Journal(path)
        rows = [(seq, e.key) for seq, e in j.iter_entries()]
        assert len(rows) % size == 0, "a batch stored in part"
        whole = len(rows) // size
        assert whole > synced
        assert [key.split("-")[0] for _, key in rows[::size]] == [
            f"sighting:b{b}" for b in range(whole)
        ]
        assert j.batch_ends() == [rows[(b + 1) * size - 1][0] for b in range(whole)]
        j.close()


def test_a_batch_of_empty_payloads_is_stored(tmp_path: Path) -> None:
    """The payloads are cut from one blob with substr(), which gives NULL for an empty
    blob: the rows were then ignored (NOT NULL, INSERT OR IGNORE) and the commit failed."""
    j = Journal(tmp_path / "j.sqlite")
    empty = [_entry("sighting:e1", b""), _entry("sighting:e2", b"")]
    assert j.append(empty, during_commit=lambda fresh: None, wait=False).accepted == 2
    j.sync()
    assert j.append([_entry("sighting:e3", b"")]).accepted == 1
    assert [e.payload for _, e in j.iter_entries()] == [b"", b"", b""]
    j.close()


def test_rows_pruned_at_the_top_do_not_hide_what_another_handle_stores(tmp_path: Path) -> None:
    """Retention deletes the newest rows (MAX(seq) drops below what a handle has seen);
    another handle then stores keys, some of them the pruned ones: both handles agree
    on what is stored, and a handle that learnt its keys by reading (a restart's
    rebuild) too."""
    path = tmp_path / "j.sqlite"
    one, two = Journal(path), Journal(path)
    assert one.append([_entry(f"sighting:s{i}") for i in range(10)]).accepted == 10
    conn = connect(path)
    conn.execute("DELETE FROM journal WHERE seq > 6")  # the newest four, s6..s9
    conn.close()
    reader = Journal(path)
    assert len(list(reader.iter_entries())) == 6  # learns s0..s5 while it reads
    got = two.append([_entry(f"sighting:s{i}") for i in range(4, 14)])  # s6..s13 are new
    assert (got.accepted, got.first_seq) == (8, 11)
    for handle, new in ((one, 2), (reader, 0)):
        again = handle.append([_entry(f"sighting:s{i}") for i in range(16)])
        assert (again.accepted, again.duplicates) == (new, 16 - new)
    assert [e.key for _, e in two.iter_entries(after_seq=18)] == ["sighting:s14", "sighting:s15"]
    assert one.batch_ends() == [10, 18, 20]
    for handle in (one, two, reader):
        handle.close()
