"""The command log: what commanders and teams did, so a restart restores activations and tasks.

Suggestions, activations and tasks live in memory; the stream part of them is
rebuilt from the journal on restart, but a commander's "confirm" or a team's
"acknowledge" is not in the journal. Each successful command is therefore kept
here with its arguments and its *position*: how many journalled messages the
pipeline had applied when it was given. On restart the tasking sink gives the
commands back to the service at the same positions of the journal replay
(:meth:`tasking.service.TaskingService.replay_commands`), so the board, the
timers and the escalations come back as they were.

Stored in a ``commands`` table of the audit trail's SQLite file, append-only
like the audit trail (UPDATE and DELETE refused by triggers). The audit trail
records what each command did; the command log is only the input to repeat it.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.sqlite import connect

__all__ = ["Command", "CommandLog"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    position  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    args      TEXT NOT NULL,
    kwargs    TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS commands_no_update BEFORE UPDATE ON commands
BEGIN SELECT RAISE(ABORT, 'the command log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS commands_no_delete BEFORE DELETE ON commands
BEGIN SELECT RAISE(ABORT, 'the command log is append-only: DELETE refused'); END;
"""


@dataclass(frozen=True)
class Command:
    """One successful command: the service method, its arguments, where in the stream."""

    seq: int
    position: int
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    at: dt.datetime


def _plain(value: Any) -> Any:
    """JSON-ready form of a command argument (named levels by their value)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class CommandLog:
    """Append-only command log beside the audit trail (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(self.path)  # WAL, waits out another process opening it
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def append(
        self,
        position: int,
        name: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        at: dt.datetime,
    ) -> int:
        """Keep one command; returns its sequence number. ``ValueError`` for a negative
        position or arguments that JSON cannot hold (named in the message)."""
        if position < 0:
            raise ValueError(f"position = {position}: expected a count of messages, >= 0")
        try:
            row = (
                position,
                name,
                json.dumps([_plain(a) for a in args], ensure_ascii=False),
                json.dumps({k: _plain(v) for k, v in kwargs.items()}, ensure_ascii=False),
                at.isoformat(),
            )
        except TypeError as exc:
            raise ValueError(f"command {name}: arguments are not JSON data: {exc}") from None
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO commands (position, name, args, kwargs, at) VALUES (?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid or 0)

    def all(self) -> list[Command]:
        """Every command, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, position, name, args, kwargs, at FROM commands ORDER BY seq"
            ).fetchall()
        return [
            Command(
                seq,
                position,
                name,
                tuple(json.loads(args)),
                json.loads(kwargs),
                dt.datetime.fromisoformat(at),
            )
            for seq, position, name, args, kwargs, at in rows
        ]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM commands").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
