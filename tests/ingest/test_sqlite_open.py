"""Opening the SQLite stores while another process holds the file: wait, then give up."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

import ingest.sqlite
from ingest.sqlite import connect
from tasking.audit import AuditLog


def _hold(path: Path, seconds: float) -> threading.Thread:
    """Another writer holding an exclusive lock on ``path`` for ``seconds``."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE IF NOT EXISTS other (x)")
    holder.execute("BEGIN EXCLUSIVE")

    def release() -> None:
        time.sleep(seconds)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_processes_opening_a_new_store_at_the_same_moment_all_get_it(tmp_path: Path) -> None:
    """Two ``icc run`` workers sharing a state directory open the same new files at once.
    Each switches the file to WAL, which needs an exclusive lock; when both hold a shared
    lock and want it, SQLite answers one of them "database is locked" at once, without
    waiting (seen in CI as a worker dying at start; opened the old way, 17 of 200 such
    three-way races failed here). Three openers race on each of 100 new files."""
    errors: list[str] = []

    def open_store(path: Path, k: int) -> None:
        try:
            if k == 2:
                AuditLog(path)._db.close()  # the tasking audit opens the same way
            else:
                connect(path).close()
        except sqlite3.OperationalError as exc:
            errors.append(f"{path.name}: {exc}")

    for n in range(100):
        path = tmp_path / f"{n}.sqlite"
        barrier = threading.Barrier(3)

        def run(k: int, path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            open_store(path, k)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_a_store_held_by_another_writer_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    thread = _hold(path, 0.4)
    start = time.monotonic()
    conn = connect(path)
    assert time.monotonic() - start >= 0.3
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    thread.join()


def test_a_lock_held_past_the_timeout_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest.sqlite, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "journal.sqlite"
    thread = _hold(path, 1.5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        connect(path)
    thread.join()
