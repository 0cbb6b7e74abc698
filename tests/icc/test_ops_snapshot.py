"""Snapshot and restore of the embedded state: round trip, refusals, damaged archives."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from icc.cli import main
from icc.config import Settings
from icc.runtime import Runtime
from icc.snapshot import FORMAT, STATE_FILES, restore, snapshot
from ingest.journal import Journal


def _entries(path: Path) -> list[tuple]:
    journal = Journal(path)
    try:
        return [(seq, e.key, e.payload) for seq, e in journal.iter_entries()]
    finally:
        journal.close()


@pytest.fixture(scope="module")
def archive(
    replayed_scenario: tuple[Path, dict, dict], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    base, _, _ = replayed_scenario
    out = tmp_path_factory.mktemp("snap") / "icc.tar.gz"
    snapshot(base / "state", out)
    return out


def test_snapshot_holds_a_manifest_and_consistent_copies(
    archive: Path, replayed_scenario: tuple[Path, dict, dict], tmp_path: Path
) -> None:
    base, _, _ = replayed_scenario
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        tar.extractall(tmp_path, filter="data")
    assert names[0] == "manifest.json"
    assert manifest["format"] == FORMAT and manifest["version"] == 1
    assert {"journal.sqlite", "deadletter.sqlite"} <= set(manifest["files"]) <= set(STATE_FILES)
    assert not any(n.endswith(("-wal", "-shm")) for n in names)  # self-contained copies
    journal_rows = len(_entries(base / "state" / "journal.sqlite"))
    assert manifest["files"]["journal.sqlite"]["tables"]["journal"] == journal_rows > 0
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_restore_then_rebuild_gives_the_same_series(
    archive: Path, replayed_scenario: tuple[Path, dict, dict], tmp_path: Path
) -> None:
    base, _, exported = replayed_scenario
    target = tmp_path / "restored"
    manifest = restore(archive, target)
    assert manifest.rows["journal.sqlite"] > 0
    assert _entries(target / "journal.sqlite") == _entries(base / "state" / "journal.sqlite")
    runtime = Runtime.open(Settings(data_dir=target))
    try:
        rebuilt = runtime.export()
    finally:
        runtime.close()
    assert rebuilt["series"], "the scenario has series"
    # series ids and which evidence sentences are listed first follow the micro-batches of the
    # feed (replay vs rebuild); the series themselves - which cases are linked - do not
    assert {frozenset(s["case_ids"]) for s in rebuilt["series"]} == {
        frozenset(s["case_ids"]) for s in exported["series"]
    }
    assert all(s["evidence"] for s in rebuilt["series"])


def test_restore_refuses_a_non_empty_data_dir_without_force(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "journal.sqlite").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="--force"):
        restore(archive, target)
    assert (target / "journal.sqlite").read_bytes() == b"precious"
    monkeypatch.setenv("ICC_DATA_DIR", str(target))
    assert main(["restore", str(archive)]) == 1
    assert (target / "journal.sqlite").read_bytes() == b"precious"
    (target / "derived").mkdir()
    assert main(["restore", str(archive), "--force"]) == 0
    assert not (target / "derived").exists()
    assert _entries(target / "journal.sqlite")


def test_icc_snapshot_cli_writes_an_archive(
    replayed_scenario: tuple[Path, dict, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _, _ = replayed_scenario
    monkeypatch.setenv("ICC_DATA_DIR", str(base / "state"))
    out = tmp_path / "cli.tar.gz"
    assert main(["snapshot", str(out)]) == 0
    assert tarfile.is_tarfile(out)
    monkeypatch.setenv("ICC_DATA_DIR", str(tmp_path / "empty"))
    assert main(["snapshot", str(tmp_path / "none.tar.gz")]) == 2  # no journal there


def _rewrite(archive: Path, out: Path, change: dict) -> Path:
    """A copy of ``archive`` with members replaced (name -> bytes) or added."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = change.pop(member.name, None)
            if data is None:
                data = src.extractfile(member).read()  # type: ignore[union-attr]
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
        for name, data in change.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def _manifest(archive: Path) -> dict:
    with tarfile.open(archive, "r:gz") as tar:
        return json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]


def test_restore_rejects_damaged_or_foreign_archives(archive: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    corrupt = _rewrite(archive, tmp_path / "corrupt.tar.gz", {"journal.sqlite": b"x" * 4096})
    with pytest.raises(ValueError, match="checksum"):
        restore(corrupt, target)
    bad = _manifest(archive)
    bad["files"]["../../etc/passwd"] = bad["files"].pop("journal.sqlite")
    traversal = _rewrite(
        archive, tmp_path / "traversal.tar.gz", {"manifest.json": json.dumps(bad).encode()}
    )
    with pytest.raises(ValueError, match="expected only"):
        restore(traversal, target)
    not_tar = tmp_path / "plain.tar.gz"
    not_tar.write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="gzip tar"):
        restore(not_tar, target)
    assert not target.exists() or not any((target / n).exists() for n in STATE_FILES), (
        "a failed restore leaves no state behind"
    )
