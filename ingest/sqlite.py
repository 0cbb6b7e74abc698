"""SQLite plumbing shared by the journal and the dead-letter store.

Both are single-file SQLite databases in WAL mode with ``synchronous=FULL``:
a committed transaction survives the process being killed. Writes go through
:meth:`SqliteStore.transaction`, one ``BEGIN IMMEDIATE`` ... ``COMMIT`` per batch.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SqliteStore", "connect"]


#: how long opening a database waits for another process's lock before it gives up
BUSY_TIMEOUT_S = 30.0


def connect(path: Path) -> sqlite3.Connection:
    """Open an SQLite database in WAL mode with full synchronous commits.

    Switching a database to WAL takes an exclusive lock, and SQLite reports a busy
    database for it at once instead of waiting: two processes opening the same file at the
    same moment (two ``icc run`` workers sharing a state directory) would see "database is
    locked". The switch is retried until :data:`BUSY_TIMEOUT_S` has passed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
    )
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class SqliteStore:
    """One SQLite file with a schema, a lock, and atomic write transactions."""

    SCHEMA = ""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._conn.executescript(self.SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction under the store's lock; rolled back if the block raises."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
