"""The dead-letter store: every rejected message, with its reason, raw bytes and position.

Nothing is dropped silently. A message that fails to decode or validate is kept
here, verbatim, with the error and where it came from (file and line, or Kafka
topic, partition and offset), until an operator fixes and re-feeds it.

Example
-------
>>> import tempfile, pathlib
>>> dl = DeadLetterStore(pathlib.Path(tempfile.mkdtemp()) / "deadletter.sqlite")
>>> dl.add([DeadLetter(b"{bad", "kind: missing", "file:x.jsonl", "3")])
1
>>> dl.list()[0].error
'kind: missing'
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.sqlite import SqliteStore

__all__ = ["DeadLetter", "DeadLetterStore", "StoredDeadLetter"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deadletter (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL UNIQUE,
    source    TEXT NOT NULL,
    position  TEXT NOT NULL,
    error     TEXT NOT NULL,
    raw       BLOB NOT NULL,
    received_at REAL NOT NULL DEFAULT (((julianday('now') - 2440587.5) * 86400.0)),
    resolved_at REAL
);
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message: the raw bytes, why, and where it came from."""

    raw: bytes
    error: str
    source: str
    position: str


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    id: int
    raw: bytes
    error: str
    source: str
    position: str
    received_at: float
    resolved_at: float | None


class DeadLetterStore(SqliteStore):
    """Rejected messages in SQLite (WAL), one row per (source, position, raw bytes).

    Re-reading the same bad line of the same file (a second replay) does not
    add a second row: the fingerprint is a hash of source, position and bytes.
    """

    SCHEMA = _SCHEMA

    @staticmethod
    def _fingerprint(letter: DeadLetter) -> str:
        h = hashlib.sha256()
        for part in (letter.source.encode(), letter.position.encode(), letter.raw):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return h.hexdigest()

    def add(self, letters: Sequence[DeadLetter]) -> int:
        """Store rejected messages durably; returns how many were new."""
        if not letters:
            return 0
        added = 0
        with self.transaction() as cur:
            for letter in letters:
                cur.execute(
                    "INSERT OR IGNORE INTO deadletter (fingerprint, source, position, error, raw)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        self._fingerprint(letter),
                        letter.source,
                        letter.position,
                        letter.error,
                        letter.raw,
                    ),
                )
                added += cur.rowcount
        for letter in letters:
            log.info("dead-lettered %s@%s: %s", letter.source, letter.position, letter.error)
        return added

    def list(
        self, include_resolved: bool = False, limit: int | None = None
    ) -> list[StoredDeadLetter]:
        sql = "SELECT id, raw, error, source, position, received_at, resolved_at FROM deadletter"
        if not include_resolved:
            sql += " WHERE resolved_at IS NULL"
        sql += " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._conn.execute(sql).fetchall()
        return [StoredDeadLetter(r[0], bytes(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def get(self, ids: Sequence[int]) -> list[StoredDeadLetter]:
        """The dead letters with these ids (open or resolved), in the order asked; unknown ids
        are left out."""
        if not ids:
            return []
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, raw, error, source, position, received_at, resolved_at FROM deadletter"
                f" WHERE id IN ({','.join('?' * len(ids))})",
                [int(i) for i in ids],
            ).fetchall()
        found = {
            r[0]: StoredDeadLetter(r[0], bytes(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows
        }
        return [found[int(i)] for i in dict.fromkeys(ids) if int(i) in found]

    def resolve(self, ids: Sequence[int]) -> None:
        """Mark dead letters as re-fed successfully (they stay for the audit)."""
        with self._lock:
            self._conn.executemany(
                "UPDATE deadletter SET resolved_at = ((julianday('now') - 2440587.5) * 86400.0) WHERE id = ?",
                [(i,) for i in ids],
            )

    def __len__(self) -> int:
        with self._lock:
            return int(
                self._conn.execute(
                    "SELECT COUNT(*) FROM deadletter WHERE resolved_at IS NULL"
                ).fetchone()[0]
            )
