"""The embedded durable journal: accepted messages, stored once, in SQLite (WAL).

Every accepted message is appended under its idempotency key
(``incident:<report_id>``, ``sighting:<sighting_id>``, ...). Appending the same
key again changes nothing and is reported as a duplicate. A batch is committed
in one transaction with ``synchronous=FULL``: once :meth:`Journal.append`
returns, the batch survives the process being killed.

Which keys are stored is decided under SQLite's write lock from an in-memory map
of every stored key's hash to its row (:class:`~ingest.keyhashes.KeyHashes`), kept
up to date with what other handles (workers sharing the file) store. The table
has no index on sightings' keys: a batch of a thousand random keys dirtied about
a thousand index pages, and writing those pages to the write-ahead log at every
commit was 3.9 s of the writer's 5 s for ``bench.stream``'s 300k messages.
Reports keep a unique index (they are looked up by key). A journal created
before this keeps its unique index on every key: it works the same, more slowly.

Example
-------
>>> import tempfile, pathlib
>>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "journal.sqlite")
>>> j.append([JournalEntry("sighting:s1", "sighting", 1.0, b"{}", "test", "1")]).accepted
1
>>> j.append([JournalEntry("sighting:s1", "sighting", 1.0, b"{}", "test", "1")]).duplicates
1
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.entries import EntryColumns, JournalEntry
from ingest.keyhashes import KeyHashes
from ingest.sqlite import SqliteStore

__all__ = ["AppendResult", "Journal", "JournalCommitError", "JournalEntry", "micros_rows"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    event_time REAL NOT NULL,
    payload    BLOB NOT NULL,
    source     TEXT NOT NULL,
    position   TEXT NOT NULL,
    stored_at  REAL NOT NULL DEFAULT (((julianday('now') - 2440587.5) * 86400.0))
);
CREATE INDEX IF NOT EXISTS journal_kind_time ON journal (kind, event_time);
-- reports are looked up by key (a case's narratives); sightings never are
CREATE UNIQUE INDEX IF NOT EXISTS journal_incident_key ON journal (key) WHERE kind = 'incident';
-- the last seq of every appended batch: a restart replays the journal in the same
-- micro-batches, so derived state that depends on when a batch ends (link scores read
-- at the end of a batch) comes back exactly as it was
CREATE TABLE IF NOT EXISTS batches (last_seq INTEGER PRIMARY KEY);
"""

#: a batch in one statement: sqlite reads it from a JSON array and a blob of payloads,
#: with no Python lock held (an executemany takes it back for every row); json_extract,
#: not ``->>``, which needs SQLite 3.38 (Ubuntu 22.04 ships 3.37)
_INSERT_BATCH = """
INSERT OR IGNORE INTO journal (key, kind, event_time, payload, source, position)
SELECT json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'),
       json_extract(e.value, '$[2]'),
       substr(?2, json_extract(e.value, '$[5]'), json_extract(e.value, '$[6]')),
       json_extract(e.value, '$[3]'), json_extract(e.value, '$[4]')
FROM json_each(?1) AS e ORDER BY e.key
"""
#: the usual batch, with less to encode: one source (a parameter), event times in whole
#: microseconds (as every ``datetime.timestamp()`` is: the count over 10**6, correctly
#: rounded, which is also what SQLite's division gives), each payload's offset a running
#: sum of the lengths. The array holds (key, kind, microseconds, position, length).
_INSERT_BATCH_MICROS = """
INSERT OR IGNORE INTO journal (key, kind, event_time, payload, source, position)
SELECT json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'),
       json_extract(e.value, '$[2]') / 1000000.0,
       substr(?2, 1 + sum(json_extract(e.value, '$[4]')) OVER w - json_extract(e.value, '$[4]'),
              json_extract(e.value, '$[4]')),
       ?3, json_extract(e.value, '$[3]')
FROM json_each(?1) AS e
WINDOW w AS (ORDER BY e.key ROWS UNBOUNDED PRECEDING)
ORDER BY e.key
"""
#: the same, a row at a time: for a batch whose text holds a NUL character, which SQLite's
#: JSON functions cut short ("a\u0000b" ->> "a"); the key then stored was another key
_INSERT_ROWS = """
INSERT OR IGNORE INTO journal (key, kind, event_time, payload, source, position)
VALUES (?, ?, ?, ?, ?, ?)
"""


#: the batch's JSON array: compact, no circularity check (plain tuples of str and numbers)
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode


def _whole_micros(times: list[float]) -> list[int] | None:
    """``times`` (unix seconds) as whole microseconds, if each is exactly such a count over
    10**6 as a double (what SQLite's ``/ 1000000.0`` gives back bit for bit); else None."""
    secs = np.array(times, dtype=np.float64)
    us = np.rint(secs * 1e6)
    if not (np.array_equal(us / 1e6, secs) and np.all(np.abs(us) < 2.0**53)):
        return None
    return us.astype(np.int64).tolist()


def micros_rows(
    keys: Sequence[str],
    kinds: Sequence[str],
    times: Sequence[float],
    positions: Sequence[str],
    lengths: Sequence[int],
) -> str | None:
    """The rows of :data:`_INSERT_BATCH_MICROS` as its JSON text, one (key, kind, time in
    whole microseconds, position, payload length) each; None if a time is not whole
    microseconds. A worker validating ahead (:mod:`ingest.ahead`) makes it for the
    batch's first message of each key, the journal for the entries it stores."""
    micros = _whole_micros(list(times))
    if micros is None:
        return None
    return _ENCODE(list(zip(keys, kinds, micros, positions, lengths, strict=True)))


class JournalCommitError(RuntimeError):
    """The commit of a batch failed after work derived from it was done (see
    :meth:`Journal.append`): derived state is ahead of the journal until rebuilt."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: entries newly stored, duplicates ignored, seq of the first new one."""

    accepted: int
    duplicates: int
    first_seq: int | None
    fresh: Sequence[JournalEntry] = field(default_factory=list, repr=False)


#: page cache of the journal's connection (KiB): the unique key index is probed once
#: per appended message, and SQLite's 2 MiB default holds little of it
CACHE_KIB = 64 * 1024
#: WAL pages (4 KiB) before SQLite copies them back into the database file: fewer
#: checkpoints than the default 1000 (each one also syncs the file); much larger ones
#: (16384 was tried) make the batch that runs the checkpoint a latency spike
WAL_CHECKPOINT_PAGES = 4096


class Journal(SqliteStore):
    """Append-only, idempotent message journal in one SQLite file (WAL mode)."""

    SCHEMA = _SCHEMA

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: Future[object] | None = None  # a commit not waited for yet
        self._failure: str | None = None  # a commit that failed (see _settle)
        self._known = KeyHashes()  # stored keys' hashes -> their seqs (see _fresh)
        self._covered = 0  # every row up to this seq has its key in _known
        self._conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")

    def append(
        self,
        entries: Sequence[JournalEntry],
        during_commit: Callable[[Sequence[JournalEntry]], None] | None = None,
        *,
        wait: bool = True,
        rows_json: str | None = None,
    ) -> AppendResult:
        """Store a batch atomically; entries whose key is already stored are duplicates.

        Returns once the batch is durable (committed with ``synchronous=FULL``).
        ``AppendResult.fresh`` lists the entries stored by this call, in order.

        Which entries are new is decided before anything is written, under the write
        lock: from the in-memory hashes of the stored keys (:class:`KeyHashes`; a hash hit
        is checked against the table, and rows other handles stored since this one last
        looked are read first). So the insert itself need not come first:
        ``during_commit(fresh)``, if given, runs on the calling thread while the insert
        (one statement) and the commit (the disk sync) run on the journal's writer
        thread; ``append`` returns (or raises) once both are done. If the commit fails after ``during_commit`` ran,
        :class:`JournalCommitError` says so: whatever ``during_commit`` derived from
        the batch is then ahead of the journal.

        With ``wait=False`` the call returns once ``during_commit`` is done, while the
        commit may still run: the batch is durable once :meth:`sync` returns, and any
        later call (which waits for it first) raises :class:`JournalCommitError` if that
        commit failed. A stream source overlaps the disk sync with reading its next batch
        this way, and acknowledges a batch to its broker only after :meth:`sync`.

        ``rows_json``, if given, is :func:`micros_rows` of the entries' first of each key
        (made ahead, off this thread): the insert uses it when every one of them is new
        and they share a source.
        Complexity: O(n log N) for n entries against N stored (memory: 8 bytes a key).
        """
        with self._lock:
            self._settle(raise_failure=True)
            if not entries:
                if during_commit is not None:
                    during_commit([])
                return AppendResult(0, 0, None, [])
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")  # the write lock: no other writer until COMMIT
            try:
                self._catch_up(cur)
                fresh, whole = self._fresh(cur, entries)
                first = self._next_seq(cur) if fresh else None
                if first is not None:
                    # may raise: before any change
                    insert = self._insert_statement(fresh, rows_json if whole else None)
                    # rows get the next seqs in order (AUTOINCREMENT, nothing ignored: the
                    # keys were checked under this lock), so the batch's end is known now
                    last = first + len(fresh) - 1
                    cur.execute("INSERT OR IGNORE INTO batches (last_seq) VALUES (?)", (last,))
                    keys = fresh.keys if isinstance(fresh, EntryColumns) else [e.key for e in fresh]
                    self._known.add(keys, range(first, last + 1))
                    self._covered = last
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            if not fresh:
                cur.execute("COMMIT")  # nothing written: no disk sync
                if during_commit is not None:
                    during_commit([])
            elif during_commit is None and wait:
                try:
                    self._store(cur, insert, len(fresh))
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        cur.execute("ROLLBACK")
                    self._forget()  # seqs may be taken again by others: look again
                    raise
            else:
                # the insert is one statement and sqlite holds no Python lock while it runs
                # (nor while it syncs): the caller's work overlaps both
                try:
                    self._inflight = self._writer().submit(self._store, cur, insert, len(fresh))
                except BaseException:  # no writer thread (closing): nothing was sent to it
                    cur.execute("ROLLBACK")
                    self._forget()
                    raise
                try:
                    if during_commit is not None:
                        during_commit(fresh)
                finally:
                    if wait:
                        self._settle(raise_failure=True)
        return AppendResult(len(fresh), len(entries) - len(fresh), first, fresh)

    def _catch_up(self, cur: sqlite3.Cursor) -> None:
        """Learn the keys other handles stored since this one last looked (a restart's
        first append reads all of them); under the write lock, or in a read of its own.

        Rows are committed whole batches at a time with increasing seqs, so every row up
        to the last one read is known afterwards.
        """
        rows = cur.execute(
            "SELECT seq, key FROM journal WHERE seq > ? ORDER BY seq", (self._covered,)
        ).fetchall()
        if rows:
            self._known.add([key for _, key in rows], [seq for seq, _ in rows])
            self._covered = int(rows[-1][0])

    def _forget(self) -> None:
        """After a failed or abandoned transaction: the seqs this handle counted on may be
        taken by others; the next append reads every stored key again."""
        self._known = KeyHashes()
        self._covered = 0

    def _fresh(
        self, cur: sqlite3.Cursor, entries: Sequence[JournalEntry]
    ) -> tuple[Sequence[JournalEntry], bool]:
        """The entries whose key is not stored, first of each key, in order (write lock held),
        and whether that is the first of every key (none was stored before).

        The key hashes answer for most; a hash hit is checked against the table (a
        redelivered message, or rarely two keys with one hash). :class:`EntryColumns` of
        distinct keys none of which is stored come back as they are.
        """
        columns = isinstance(entries, EntryColumns) and entries.distinct
        if columns and not self._stored(entries.keys, cur):  # type: ignore[attr-defined]
            return entries, True
        first: dict[str, JournalEntry] = {}
        for e in entries:
            first.setdefault(e.key, e)
        stored = self._stored(list(first), cur)
        for key in stored:
            del first[key]
        return list(first.values()), not stored

    def _stored(self, keys: list[str], cur: sqlite3.Cursor) -> set[str]:
        """Which of ``keys`` are stored: the rows their hashes point at, read by seq."""
        candidates = self._known.candidates(keys)
        if not candidates:
            return set()
        seqs = sorted({s for rows in candidates.values() for s in rows})
        held: dict[int, str] = {}
        for i in range(0, len(seqs), 500):
            chunk = seqs[i : i + 500]
            marks = ",".join("?" * len(chunk))
            held.update(cur.execute(f"SELECT seq, key FROM journal WHERE seq IN ({marks})", chunk))
        return {
            keys[i] for i, rows in candidates.items() if any(held.get(s) == keys[i] for s in rows)
        }

    @staticmethod
    def _next_seq(cur: sqlite3.Cursor) -> int:
        row = cur.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
        top = cur.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
        return max(int(row[0]) if row else 0, int(top)) + 1

    @staticmethod
    def _insert_statement(
        fresh: Sequence[JournalEntry], rows_json: str | None = None
    ) -> tuple[str, object]:
        """The insert of a batch and its parameters: :data:`_INSERT_BATCH_MICROS` for the
        usual batch (one source, times in whole microseconds), else :data:`_INSERT_BATCH`
        with a JSON array of (key, kind, time, source, position, offset, length); either
        with one blob of the payloads. :data:`_INSERT_ROWS` with the entries if any text
        holds a NUL character or every payload is empty. ``rows_json`` is the first
        statement's rows as :func:`micros_rows` gave them elsewhere, if it did."""
        if isinstance(fresh, EntryColumns):
            payloads, source, one_source = b"".join(fresh.payloads), fresh.source, True
        else:
            payloads = b"".join([e.payload for e in fresh])
            source = fresh[0].source
            one_source = all(e.source == source for e in fresh)
        if rows_json is not None and one_source:
            sql, params, text = _INSERT_BATCH_MICROS, (source,), rows_json
        elif one_source and (
            text := micros_rows(  # type: ignore[assignment]
                [e.key for e in fresh],
                [e.kind for e in fresh],
                [e.event_time for e in fresh],
                [e.position for e in fresh],
                [len(e.payload) for e in fresh],
            )
        ):
            sql, params = _INSERT_BATCH_MICROS, (source,)
        else:
            sql, params = _INSERT_BATCH, ()
            meta = []
            offset = 1  # substr() counts from 1
            for e in fresh:
                meta.append(
                    (e.key, e.kind, e.event_time, e.source, e.position, offset, len(e.payload))
                )
                offset += len(e.payload)
            text = _ENCODE(meta)
        # (a backslash before "u0000" also matches: harmless, a row at a time); substr() of
        # an empty blob is NULL, not an empty payload
        if "\\u0000" in text or "\x00" in source or not payloads:
            return _INSERT_ROWS, list(fresh)
        return sql, (text, payloads, *params)

    @staticmethod
    def _store(cur: sqlite3.Cursor, insert: tuple[str, object], expected: int) -> None:
        """Insert and commit a batch: two statements, on the writer thread or the caller's."""
        sql, params = insert
        if sql is _INSERT_ROWS:
            cur.executemany(sql, params)  # type: ignore[arg-type]
        else:
            cur.execute(sql, params)  # type: ignore[arg-type]
        if cur.rowcount != expected:  # the keys were checked under the write lock
            raise sqlite3.IntegrityError(
                f"journal stored {cur.rowcount} of {expected} new entries: another writer"
                " stored some of them inside this transaction"
            )
        cur.execute("COMMIT")

    def sync(self) -> None:
        """Wait until the last appended batch is durable (see ``append(wait=False)``);
        raises :class:`JournalCommitError` if its commit failed."""
        with self._lock:
            self._settle(raise_failure=True)

    def _settle(self, *, raise_failure: bool = False) -> None:
        """Wait for a commit still running on the writer thread (the lock is held).

        A failed commit is remembered: every later append and sync raises it (so the
        writer learns of it even when a reader's call waited for that commit first);
        reads go on against what is stored.
        """
        committing = self._inflight
        if committing is not None:
            # interrupted while waiting (KeyboardInterrupt), the writer thread still uses the
            # connection: _inflight stays, and the next call waits for it again
            try:
                committing.result()
            except Exception as exc:  # not only sqlite3.Error: any left the transaction open
                self._inflight = None
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                self._forget()  # seqs may be taken again by others: look again
                self._failure = f"journal commit failed after the batch was applied: {exc}"
                log.error("%s", self._failure)
            else:
                self._inflight = None
        if raise_failure and self._failure is not None:
            raise JournalCommitError(self._failure)

    def _writer(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="icc-journal-commit")
        return self._executor

    def batch_ends(self, after_seq: int = 0) -> list[int]:
        """The last seq of every appended batch after ``after_seq``, ascending."""
        with self._lock:
            self._settle()
            rows = self._conn.execute(
                "SELECT last_seq FROM batches WHERE last_seq > ? ORDER BY last_seq", (after_seq,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._settle()  # a failure is logged there
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        super().close()

    def __len__(self) -> int:
        with self._lock:
            self._settle()
            return int(self._conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])

    def count_by_kind(self) -> dict[str, int]:
        with self._lock:
            self._settle()
            rows = self._conn.execute("SELECT kind, COUNT(*) FROM journal GROUP BY kind").fetchall()
        return {kind: int(n) for kind, n in rows}

    def iter_entries(
        self, after_seq: int = 0, batch: int = 5000
    ) -> Iterator[tuple[int, JournalEntry]]:
        """Yield ``(seq, entry)`` in storage order, for rebuilding state on restart."""
        last = after_seq
        while True:
            with self._lock:
                self._settle()
                rows = self._conn.execute(
                    "SELECT seq, key, kind, event_time, payload, source, position FROM journal"
                    " WHERE seq > ? ORDER BY seq LIMIT ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            if last <= self._covered:  # every row up to the chunk's last is now known
                with self._lock:
                    new = [row for row in rows if row[0] > self._covered]
                    self._known.add([row[1] for row in new], [row[0] for row in new])
                    self._covered = max(self._covered, int(rows[-1][0]))
            for seq, key, kind, event_time, payload, source, position in rows:
                yield seq, JournalEntry(key, kind, event_time, bytes(payload), source, position)
            last = rows[-1][0]

    def keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are stored (as this handle knows them after reading what other
        handles stored since it last looked)."""
        with self._lock:
            self._settle()
            cur = self._conn.cursor()
            cur.execute("BEGIN")  # one snapshot for the catch-up and the check
            try:
                self._catch_up(cur)
                return self._stored(list(keys), cur)
            finally:
                cur.execute("COMMIT")
