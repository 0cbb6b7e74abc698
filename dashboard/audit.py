"""The dashboard's append-only audit log of logins and views of person data.

One SQLite table (``views``) in ``<ICC_DATA_DIR>/dashboard-audit.sqlite``.
Triggers abort every ``UPDATE`` and ``DELETE``, so rows can only be added.
Commands (activations, dispatch) are audited by ``tasking`` in its own trail.

Example
-------
>>> log = AuditLog(":memory:")
>>> log.record("li", "analyst", 330000, "view_series", "S-0001")
1
>>> [r["action"] for r in log.rows()]
['view_series']
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["AuditLog", "default_audit_path"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS views (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    user         TEXT NOT NULL,
    role         TEXT NOT NULL,
    jurisdiction INTEGER NOT NULL,
    action       TEXT NOT NULL,
    object       TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER IF NOT EXISTS views_no_update BEFORE UPDATE ON views
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS views_no_delete BEFORE DELETE ON views
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def default_audit_path() -> Path:
    """``$ICC_DATA_DIR/dashboard-audit.sqlite`` (``.icc`` when the variable is unset)."""
    return Path(os.environ.get("ICC_DATA_DIR") or ".icc") / "dashboard-audit.sqlite"


class AuditLog:
    """Thread-safe, append-only audit table. O(1) per record."""

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        if str(path) != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def record(
        self,
        user: str,
        role: str,
        jurisdiction: int,
        action: str,
        obj: str,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Append one row; returns its sequence number."""
        at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO views (at, user, role, jurisdiction, action, object, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at, user, role, int(jurisdiction), action, obj, text),
            )
            seq = int(cur.lastrowid or 0)
        log.debug("audit %d: %s %s %s", seq, user, action, obj)
        return seq

    def rows(self, user: str | None = None) -> list[dict[str, Any]]:
        """Every row (of one user if given), oldest first."""
        sql = "SELECT seq, at, user, role, jurisdiction, action, object, detail FROM views"
        args: tuple[Any, ...] = ()
        if user is not None:
            sql += " WHERE user = ?"
            args = (user,)
        with self._lock:
            found = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        keys = ("seq", "at", "user", "role", "jurisdiction", "action", "object", "detail")
        return [dict(zip(keys, row, strict=True)) for row in found]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
