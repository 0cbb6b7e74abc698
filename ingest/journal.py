"""The embedded durable journal: accepted messages, stored once, in SQLite (WAL).

Every accepted message is appended under its idempotency key
(``incident:<report_id>``, ``sighting:<sighting_id>``, ...). Appending the same
key again changes nothing and is reported as a duplicate. A batch is committed
in one transaction with ``synchronous=FULL``: once :meth:`Journal.append`
returns, the batch survives the process being killed.

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
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ingest.sqlite import SqliteStore

__all__ = ["AppendResult", "Journal", "JournalCommitError", "JournalEntry"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    event_time REAL NOT NULL,
    payload    BLOB NOT NULL,
    source     TEXT NOT NULL,
    position   TEXT NOT NULL,
    stored_at  REAL NOT NULL DEFAULT (((julianday('now') - 2440587.5) * 86400.0))
);
CREATE INDEX IF NOT EXISTS journal_kind_time ON journal (kind, event_time);
-- the last seq of every appended batch: a restart replays the journal in the same
-- micro-batches, so derived state that depends on when a batch ends (link scores read
-- at the end of a batch) comes back exactly as it was
CREATE TABLE IF NOT EXISTS batches (last_seq INTEGER PRIMARY KEY);
"""


class JournalCommitError(RuntimeError):
    """The commit of a batch failed after work derived from it was done (see
    :meth:`Journal.append`): derived state is ahead of the journal until rebuilt."""


class JournalEntry(NamedTuple):
    """One accepted message as stored: its key, kind, event time (epoch s) and raw bytes.

    A named tuple in the table's column order: a batch of them is the parameter list of
    the bulk insert as it is (no copy a row), and one is built per message received.
    """

    key: str
    kind: str
    event_time: float
    payload: bytes
    source: str
    position: str


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: entries newly stored, duplicates ignored, seq of the first new one."""

    accepted: int
    duplicates: int
    first_seq: int | None
    fresh: list[JournalEntry] = field(default_factory=list, repr=False)


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
        self._conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")

    def append(
        self,
        entries: Sequence[JournalEntry],
        during_commit: Callable[[list[JournalEntry]], None] | None = None,
        *,
        wait: bool = True,
    ) -> AppendResult:
        """Store a batch atomically; entries whose key is already stored are duplicates.

        Returns once the batch is durable (committed with ``synchronous=FULL``).
        ``AppendResult.fresh`` lists the entries stored by this call, in order.

        ``during_commit(fresh)``, if given, runs on the calling thread while the commit
        (the disk sync) runs on the journal's writer thread; ``append`` returns (or
        raises) once both are done. If the commit fails after ``during_commit`` ran,
        :class:`JournalCommitError` says so: whatever ``during_commit`` derived from
        the batch is then ahead of the journal.

        With ``wait=False`` the call returns once ``during_commit`` is done, while the
        commit may still run: the batch is durable once :meth:`sync` returns, and any
        later call (which waits for it first) raises :class:`JournalCommitError` if that
        commit failed. A stream source overlaps the disk sync with reading its next batch
        this way, and acknowledges a batch to its broker only after :meth:`sync`.
        Complexity: O(n log N) for n entries against N stored.
        """
        sql = (
            "INSERT OR IGNORE INTO journal (key, kind, event_time, payload, source, position)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        )
        with self._lock:
            self._settle(raise_failure=True)
            if not entries:
                if during_commit is not None:
                    during_commit([])
                return AppendResult(0, 0, None, [])
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                # one bulk insert that skips stored keys (and repeats within the batch),
                # then read back what this transaction stored: the rows after the last seq
                # before it (inside the write transaction: no other writer slips in)
                before = cur.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
                cur.executemany(sql, entries)
                stored = cur.execute(
                    "SELECT seq, key FROM journal WHERE seq > ? ORDER BY seq", (before,)
                ).fetchall()
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            by_key: dict[str, JournalEntry] = {}
            for e in entries:
                by_key.setdefault(e.key, e)
            fresh = [by_key[key] for _, key in stored]
            if stored:
                cur.execute("INSERT OR IGNORE INTO batches (last_seq) VALUES (?)", (stored[-1][0],))
            if during_commit is None and wait:
                cur.execute("COMMIT")
            else:
                # sqlite releases the GIL while it syncs: the caller's work overlaps it
                self._inflight = self._writer().submit(cur.execute, "COMMIT")
                try:
                    if during_commit is not None:
                        during_commit(fresh)
                finally:
                    if wait:
                        self._settle(raise_failure=True)
        first: int | None = int(stored[0][0]) if stored else None
        return AppendResult(len(fresh), len(entries) - len(fresh), first, fresh)

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
        committing, self._inflight = self._inflight, None
        if committing is not None:
            try:
                committing.result()
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                self._failure = f"journal commit failed after the batch was applied: {exc}"
                log.error("%s", self._failure)
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

    def _known_keys(self, keys: list[str], cur: sqlite3.Cursor | None = None) -> set[str]:
        found: set[str] = set()
        run = cur.execute if cur is not None else self._conn.execute
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0] for row in run(f"SELECT key FROM journal WHERE key IN ({marks})", chunk)
            )
        return found

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
            for seq, key, kind, event_time, payload, source, position in rows:
                yield seq, JournalEntry(key, kind, event_time, bytes(payload), source, position)
            last = rows[-1][0]

    def keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are stored."""
        with self._lock:
            self._settle()
            return self._known_keys(list(keys))
