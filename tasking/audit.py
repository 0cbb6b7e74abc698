"""The append-only audit trail of every tasking command and state change.

One SQLite table (WAL) under ``ICC_DATA_DIR`` (``audit.sqlite``). Each entry
records who (actor, role), when (event time ``at`` on the stream's clock, and
the wall-clock ``recorded_at``), what (``action``), on what (activation, task,
series, case ids, team ids) and the state before and after (JSON).

Entries are never edited or deleted: triggers make SQLite itself abort any
``UPDATE`` or ``DELETE`` on the table, whoever issues it, and this class offers
no way to do either. Entries the system derives from the stream (suggestions,
timer escalations, automatic confirmations in batch mode) carry a unique
``key``, so rebuilding the state from the journal on restart does not record
them twice; commands from people have no key and are always recorded.

Example
-------
>>> log = AuditLog(tmp / "audit.sqlite")                          # doctest: +SKIP
>>> log.record("acknowledged", actor="T-330212-01", role="team", at=t,
...            task_id="A-0001-T01", team_ids=["T-330212-01"])    # doctest: +SKIP
>>> [e.action for e in log.query(team_id="T-330212-01")]          # doctest: +SKIP
['acknowledged']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.sqlite import connect

__all__ = ["AuditEntry", "AuditLog", "fingerprint"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    actor         TEXT NOT NULL,
    role          TEXT NOT NULL,
    action        TEXT NOT NULL,
    activation_id TEXT,
    task_id       TEXT,
    series_id     TEXT,
    case_ids      TEXT NOT NULL DEFAULT '[]',
    team_ids      TEXT NOT NULL DEFAULT '[]',
    before        TEXT,
    after         TEXT,
    detail        TEXT,
    key           TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_activation ON audit(activation_id);
CREATE INDEX IF NOT EXISTS audit_series ON audit(series_id);
CREATE INDEX IF NOT EXISTS audit_task ON audit(task_id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: DELETE refused'); END;
"""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: dt.datetime
    recorded_at: dt.datetime
    actor: str
    role: str
    action: str
    activation_id: str | None
    task_id: str | None
    series_id: str | None
    case_ids: tuple[str, ...]
    team_ids: tuple[str, ...]
    before: Any
    after: Any
    detail: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "activation_id": self.activation_id,
            "task_id": self.task_id,
            "series_id": self.series_id,
            "case_ids": list(self.case_ids),
            "team_ids": list(self.team_ids),
            "before": self.before,
            "after": self.after,
            "detail": self.detail,
        }


def fingerprint(*parts: str) -> str:
    """A short content fingerprint for the ``key`` of a derived entry: keys name what they
    record, so a different stream in the same data directory never collides with an older
    entry."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


class AuditLog:
    """Append-only, queryable audit trail in one SQLite file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(self.path)  # WAL, waits out another process opening it
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the entries recorded inside into one SQLite transaction (one disk sync);
        nested uses join the outer one. Other threads' entries wait until it ends."""
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("COMMIT")  # what was recorded happened: keep it
                raise
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    def record(
        self,
        action: str,
        *,
        actor: str,
        role: str,
        at: dt.datetime,
        activation_id: str | None = None,
        task_id: str | None = None,
        series_id: str | None = None,
        case_ids: Iterable[str] = (),
        team_ids: Iterable[str] = (),
        before: Any = None,
        after: Any = None,
        detail: str | None = None,
        key: str | None = None,
    ) -> int | None:
        """Append one entry; its sequence number, or ``None`` if ``key`` was recorded before."""
        if not action or not actor or not role:
            raise ValueError(
                f"action={action!r}, actor={actor!r}, role={role!r}: expected non-empty strings"
            )
        if at.tzinfo is None:
            raise ValueError(f"at = {at!r}: expected a timezone-aware datetime")
        row = (
            at.isoformat(),
            dt.datetime.now(dt.UTC).isoformat(),
            actor,
            role,
            action,
            activation_id,
            task_id,
            series_id,
            json.dumps(sorted(set(case_ids)), ensure_ascii=False),
            json.dumps(sorted({t for t in team_ids if t}), ensure_ascii=False),
            _json(before),
            _json(after),
            detail,
            key,
        )
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO audit (at, recorded_at, actor, role, action, activation_id,"
                " task_id, series_id, case_ids, team_ids, before, after, detail, key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            if cur.rowcount == 0:
                return None
            return int(cur.lastrowid or 0)

    def query(
        self,
        *,
        case_id: str | None = None,
        series_id: str | None = None,
        team_id: str | None = None,
        activation_id: str | None = None,
        task_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, oldest first. An entry concerns a case or
        team if it names it, or belongs to an activation that covers it."""
        where: list[str] = []
        args: list[Any] = []
        if case_id is not None:
            where.append(
                "(EXISTS (SELECT 1 FROM json_each(audit.case_ids) WHERE value = ?)"
                " OR activation_id IN (SELECT a.activation_id FROM audit a, json_each(a.case_ids) j"
                " WHERE a.activation_id IS NOT NULL AND j.value = ?))"
            )
            args += [case_id, case_id]
        if series_id is not None:
            where.append("series_id = ?")
            args.append(series_id)
        if team_id is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(audit.team_ids) WHERE value = ?)")
            args.append(team_id)
        if activation_id is not None:
            where.append("activation_id = ?")
            args.append(activation_id)
        if task_id is not None:
            where.append("task_id = ?")
            args.append(task_id)
        sql = "SELECT seq, at, recorded_at, actor, role, action, activation_id, task_id, series_id,"
        sql += " case_ids, team_ids, before, after, detail FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            AuditEntry(
                seq=r[0],
                at=dt.datetime.fromisoformat(r[1]),
                recorded_at=dt.datetime.fromisoformat(r[2]),
                actor=r[3],
                role=r[4],
                action=r[5],
                activation_id=r[6],
                task_id=r[7],
                series_id=r[8],
                case_ids=tuple(json.loads(r[9])),
                team_ids=tuple(json.loads(r[10])),
                before=json.loads(r[11]) if r[11] is not None else None,
                after=json.loads(r[12]) if r[12] is not None else None,
                detail=r[13],
            )
            for r in rows
        ]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
