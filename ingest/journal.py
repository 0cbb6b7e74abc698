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

import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ingest.sqlite import SqliteStore

__all__ = ["AppendResult", "Journal", "JournalEntry"]

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
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One accepted message as stored: its key, kind, event time (epoch s) and raw bytes."""

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


class Journal(SqliteStore):
    """Append-only, idempotent message journal in one SQLite file (WAL mode)."""

    SCHEMA = _SCHEMA

    def append(self, entries: Sequence[JournalEntry]) -> AppendResult:
        """Store a batch atomically; entries whose key is already stored are duplicates.

        Returns once the batch is durable (committed with ``synchronous=FULL``).
        ``AppendResult.fresh`` lists the entries stored by this call, in order.
        Complexity: O(n log N) for n entries against N stored.
        """
        if not entries:
            return AppendResult(0, 0, None, [])
        sql = (
            "INSERT INTO journal (key, kind, event_time, payload, source, position)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        )
        first: int | None = None
        with self.transaction() as cur:
            # one lookup of the keys already stored, then one bulk insert of the rest
            # (inside the write transaction, so no other writer slips in between)
            seen = self._known_keys([e.key for e in entries], cur)
            fresh: list[JournalEntry] = []
            for e in entries:
                if e.key not in seen:
                    seen.add(e.key)
                    fresh.append(e)
            if fresh:
                cur.executemany(
                    sql,
                    [(e.key, e.kind, e.event_time, e.payload, e.source, e.position) for e in fresh],
                )
                row = cur.execute(
                    "SELECT seq FROM journal WHERE key = ?", (fresh[0].key,)
                ).fetchone()
                first = int(row[0])
        return AppendResult(len(fresh), len(entries) - len(fresh), first, fresh)

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
            return int(self._conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])

    def count_by_kind(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT kind, COUNT(*) FROM journal GROUP BY kind").fetchall()
        return {kind: int(n) for kind, n in rows}

    def iter_entries(
        self, after_seq: int = 0, batch: int = 5000
    ) -> Iterator[tuple[int, JournalEntry]]:
        """Yield ``(seq, entry)`` in storage order, for rebuilding state on restart."""
        last = after_seq
        while True:
            with self._lock:
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
            return self._known_keys(list(keys))
