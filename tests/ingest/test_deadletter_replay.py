"""``icc deadletter replay``: fixed dead letters are ingested once and marked resolved."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from icc.config import Settings
from icc.deadletter_replay import ReplayError, replay_deadletters
from icc.replay import replay_files
from icc.runtime import Runtime
from ingest.deadletter import DeadLetter, DeadLetterStore
from tests.conftest import write_jsonl
from tests.factories import incident, sighting

ROOT = Path(__file__).resolve().parents[2]


def _broken_then_fixed(tmp_path: Path) -> tuple[Path, dict, dict]:
    """A stream with one good sighting and two rejected messages (a string lon, a naive time)."""
    bad_inc = incident("ZJ-FIX-1", lon="121.70")
    bad_sig = sighting("s-fix-1", at="2026-03-02T01:12:00")
    path = write_jsonl(tmp_path / "in.jsonl", [sighting("s-ok"), bad_inc, bad_sig])
    return path, bad_inc, bad_sig


@pytest.fixture
def runtime(settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.open(settings)
    path, _, _ = _broken_then_fixed(tmp_path)
    summary = replay_files(rt, [path])
    assert summary.deadlettered == 2
    yield rt
    rt.close()


def _ids(rt: Runtime) -> dict[str, int]:
    return {json.loads(d.raw)["kind"]: d.id for d in rt.deadletters.list()}


def test_fixed_file_ingests_and_resolves(runtime: Runtime, tmp_path: Path) -> None:
    ids = _ids(runtime)
    fixed = write_jsonl(
        tmp_path / "fixed.jsonl",
        [
            incident("ZJ-FIX-1", deadletter_id=ids["incident"]),
            sighting("s-fix-1", at="2026-03-02T01:12:00+08:00", deadletter_id=ids["sighting"]),
        ],
    )
    outcome = replay_deadletters(runtime, fixed=fixed)
    assert sorted(outcome.resolved) == sorted(ids.values())
    assert outcome.accepted == 2 and not outcome.still_failing
    assert runtime.cases.get("ZJ-FIX-1") is not None
    assert len(runtime.deadletters) == 0
    audit = runtime.deadletters.list(include_resolved=True)
    assert len(audit) == 2 and all(d.resolved_at is not None for d in audit)
    # the journal knows where the message came from
    sources = {e.source for _, e in runtime.journal.iter_entries()}
    assert f"deadletter:{ids['incident']}" in sources
    # replaying the same fix again is refused: those letters are resolved
    with pytest.raises(ReplayError, match="already resolved"):
        replay_deadletters(runtime, fixed=fixed)


def test_fix_that_still_fails_stays_open(runtime: Runtime, tmp_path: Path) -> None:
    ids = _ids(runtime)
    fixed = write_jsonl(
        tmp_path / "fixed.jsonl",
        [
            incident("ZJ-FIX-1", deadletter_id=ids["incident"]),
            sighting("s-fix-1", at="still naive", deadletter_id=ids["sighting"]),
        ],
    )
    outcome = replay_deadletters(runtime, fixed=fixed)
    assert outcome.resolved == [ids["incident"]]
    assert list(outcome.still_failing) == [ids["sighting"]]
    assert "at" in outcome.still_failing[ids["sighting"]]
    assert [d.id for d in runtime.deadletters.list()] == [ids["sighting"]]
    assert len(runtime.deadletters.list(include_resolved=True)) == 2  # no new dead letter


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        (["{oops"], "fixed.jsonl:1: not a JSON object"),
        ([sighting("s-x")], "deadletter_id is None; expected the integer id"),
        ([sighting("s-x", deadletter_id="1")], "deadletter_id is '1'"),
        ([sighting("s-x", deadletter_id=999)], "999: no such dead letter"),
        (
            [sighting("s-x", deadletter_id=1), sighting("s-y", deadletter_id=1)],
            "already fixed on line 1",
        ),
    ],
)
def test_bad_fix_file_changes_nothing(
    runtime: Runtime, tmp_path: Path, rows: list, needle: str
) -> None:
    before = len(runtime.journal)
    fixed = write_jsonl(tmp_path / "fixed.jsonl", rows)
    with pytest.raises(ReplayError, match=needle):
        replay_deadletters(runtime, fixed=fixed)
    assert len(runtime.deadletters) == 2
    assert len(runtime.journal) == before


def test_revalidate_stored_bytes(runtime: Runtime) -> None:
    """--all / --id re-check the stored raw bytes: still invalid letters stay open, untouched."""
    outcome = replay_deadletters(runtime, all_open=True)
    assert outcome.selected == 2 and not outcome.resolved and len(outcome.still_failing) == 2
    # a letter whose bytes are valid today (e.g. rejected by an older validator) is resolved
    good = json.dumps(sighting("s-late")).encode()
    runtime.deadletters.add([DeadLetter(good, "old validator said no", "file:old.jsonl", "7")])
    new_id = max(d.id for d in runtime.deadletters.list())
    outcome = replay_deadletters(runtime, ids=[new_id])
    assert outcome.resolved == [new_id] and outcome.accepted == 1
    assert len(runtime.deadletters) == 2
    with pytest.raises(ReplayError, match="no such dead letter"):
        replay_deadletters(runtime, ids=[12345])
    with pytest.raises(ReplayError, match="expected --all"):
        replay_deadletters(runtime)


def test_store_get_keeps_order_and_old_databases_work(tmp_path: Path) -> None:
    path = tmp_path / "dl.sqlite"
    # a database created by the first schema version (no extra columns) opens and resolves
    conn = sqlite3.connect(path)
    conn.executescript(DeadLetterStore.SCHEMA)
    conn.close()
    store = DeadLetterStore(path)
    store.add([DeadLetter(b"a", "e", "s", str(i)) for i in range(3)])
    assert [d.id for d in store.get([3, 1, 99])] == [3, 1]
    store.resolve([1])
    assert [d.id for d in store.list()] == [2, 3]
    store.close()


def test_cli_replay(tmp_path: Path) -> None:
    env_dir = tmp_path / "state"
    path, _, _ = _broken_then_fixed(tmp_path)

    def icc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "icc.cli", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "ICC_DATA_DIR": str(env_dir)},
        )

    assert icc("replay", str(path)).returncode == 0
    proc = icc("deadletter", "replay", "--all")
    assert proc.returncode == 1  # both still fail as stored
    assert "2 still failing" in proc.stdout
    store = DeadLetterStore(env_dir / "deadletter.sqlite")
    ids = {json.loads(d.raw)["kind"]: d.id for d in store.list()}
    store.close()
    fixed = write_jsonl(
        tmp_path / "fixed.jsonl", [incident("ZJ-FIX-1", deadletter_id=ids["incident"])]
    )
    proc = icc("deadletter", "replay", "--fixed", str(fixed))
    assert proc.returncode == 0, proc.stderr
    assert "1 resolved" in proc.stdout
    proc = icc("deadletter", "replay", "--id", "4242")
    assert proc.returncode == 2 and "4242" in proc.stderr
    proc = icc("deadletter", "replay")
    assert proc.returncode == 2  # argparse: one of --id / --all / --fixed is required
