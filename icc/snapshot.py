"""Snapshot and restore of the embedded state (``icc snapshot`` / ``icc restore``).

The state of record under ``ICC_DATA_DIR`` is a few SQLite files - the journal,
the dead-letter store and the audit trails of tasking and of the dashboard
(:data:`STATE_FILES`);
everything else (cases, links, series, the graph store) is derived and rebuilt
from the journal on start. A snapshot is a ``.tar.gz`` holding:

* ``manifest.json`` - format and version, creation time, and per file its size,
  SHA-256 and row count per table;
* one consistent copy of each state file, taken with SQLite's online backup API
  (:meth:`sqlite3.Connection.backup`), so a worker may keep writing meanwhile:
  each copy is a committed state of its database, WAL contents included.

Restore checks the manifest (known names only, no paths), every checksum and
``PRAGMA integrity_check`` before it touches the data directory, and refuses a
non-empty one unless ``force`` is given; then it replaces the state files and
drops derived caches. Stop the workers before restoring.

Example
-------
>>> manifest = snapshot(Path(".icc"), Path("icc-2026-11-22.tar.gz"))  # doctest: +SKIP
>>> restore(Path("icc-2026-11-22.tar.gz"), Path("/srv/icc"), force=True)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "STATE_FILES", "Manifest", "restore", "snapshot"]

log = logging.getLogger(__name__)

FORMAT = "icc-snapshot"
VERSION = 1
#: the state files a snapshot holds (those present in the data directory)
STATE_FILES: tuple[str, ...] = (
    "journal.sqlite",
    "deadletter.sqlite",
    "audit.sqlite",
    "dashboard-audit.sqlite",
)
_SIDECARS = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Manifest:
    """What a snapshot holds: ``files`` maps a file name to its size, SHA-256 and row counts."""

    created_at: str
    files: dict[str, dict[str, Any]]

    def to_json(self) -> str:
        body = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at,
            "files": self.files,
        }
        return json.dumps(body, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"snapshot manifest is not JSON: {exc}") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise ValueError(f"snapshot manifest: expected format {FORMAT!r}")
        if body.get("version") != VERSION:
            raise ValueError(
                f"snapshot manifest version {body.get('version')!r}: expected {VERSION}"
            )
        files = body.get("files")
        if not isinstance(files, dict) or not files:
            raise ValueError("snapshot manifest: expected a non-empty 'files' mapping")
        for name in files:
            if name not in STATE_FILES:
                raise ValueError(
                    f"snapshot manifest names {name!r}: expected only {', '.join(STATE_FILES)}"
                )
        return cls(str(body.get("created_at", "")), files)

    @property
    def rows(self) -> dict[str, int]:
        """Total rows per file (all tables)."""
        return {name: sum(info["tables"].values()) for name, info in self.files.items()}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tables(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            )
        ]
        # table names come from the database's own catalogue, quoted as identifiers
        return {
            n: int(conn.execute(f'SELECT COUNT(*) FROM "{n.replace(chr(34), "")}"').fetchone()[0])
            for n in names
        }
    finally:
        conn.close()


def _backup(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API), as one plain file."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30.0)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # self-contained: no -wal beside it
    finally:
        target.close()
        source.close()


def snapshot(data_dir: Path, out: Path) -> Manifest:
    """Write a snapshot of the state under ``data_dir`` to ``out`` (``.tar.gz``).

    O(size of the state). ``FileNotFoundError`` if ``data_dir`` holds no journal.
    """
    data_dir, out = Path(data_dir), Path(out)
    present = [n for n in STATE_FILES if (data_dir / n).is_file()]
    if "journal.sqlite" not in present:
        raise FileNotFoundError(
            f"{data_dir}: no journal.sqlite; expected the ICC_DATA_DIR of a command center"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="icc-snapshot-", dir=out.parent) as tmp:
        copies: dict[str, Path] = {}
        files: dict[str, dict[str, Any]] = {}
        for name in present:
            copy = Path(tmp) / name
            _backup(data_dir / name, copy)
            copies[name] = copy
            files[name] = {
                "bytes": copy.stat().st_size,
                "sha256": _sha256(copy),
                "tables": _tables(copy),
            }
        manifest = Manifest(dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), files)
        partial = Path(tmp) / "snapshot.tar.gz"
        with tarfile.open(partial, "w:gz") as tar:
            body = manifest.to_json().encode("utf-8")
            info = tarfile.TarInfo("manifest.json")
            info.size = len(body)
            info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
            tar.addfile(info, io.BytesIO(body))
            for name, copy in copies.items():
                tar.add(copy, arcname=name, recursive=False)
        shutil.move(partial, out)  # the archive appears only when complete
    log.info("snapshot of %s written to %s: %s", data_dir, out, manifest.rows)
    return manifest


def _unpack(archive: Path, staged: Path) -> Manifest:
    """Read the manifest and extract the files it lists (only those) into ``staged``."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            try:
                member = tar.extractfile("manifest.json")
            except KeyError:
                raise ValueError(f"{archive}: no manifest.json; not an icc snapshot") from None
            assert member is not None
            manifest = Manifest.from_json(member.read().decode("utf-8"))
            for name in manifest.files:
                try:
                    info = tar.getmember(name)
                except KeyError:
                    raise ValueError(
                        f"{archive}: manifest lists {name!r}, archive lacks it"
                    ) from None
                if not info.isfile():
                    raise ValueError(f"{archive}: {name!r} is not a regular file")
                src = tar.extractfile(info)
                assert src is not None
                with (staged / name).open("wb") as fh:
                    shutil.copyfileobj(src, fh)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ValueError(f"{archive}: not a readable gzip tar archive ({exc})") from None
    return manifest


def _is_empty(data_dir: Path) -> bool:
    return not data_dir.exists() or not any(data_dir.iterdir())


def restore(archive: Path, data_dir: Path, force: bool = False) -> Manifest:
    """Restore the state files of ``archive`` into ``data_dir``.

    Refuses (``FileExistsError``) a non-empty ``data_dir`` unless ``force``; with ``force``
    the state files there are replaced and the derived caches (``derived/``) removed.
    ``ValueError`` for an archive that is not a valid snapshot (nothing is changed then).
    """
    archive, data_dir = Path(archive), Path(data_dir)
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: no such snapshot file")
    if not force and not _is_empty(data_dir):
        raise FileExistsError(
            f"{data_dir} is not empty: restore into an empty ICC_DATA_DIR or pass --force "
            "to replace its state"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".icc-restore-", dir=data_dir) as tmp:
        staged = Path(tmp)
        manifest = _unpack(archive, staged)
        for name, info in manifest.files.items():
            path = staged / name
            if _sha256(path) != info.get("sha256"):
                raise ValueError(f"{archive}: {name} does not match its checksum in the manifest")
            conn = sqlite3.connect(path)
            try:
                verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                conn.close()
            if verdict != "ok":
                raise ValueError(f"{archive}: {name} fails the integrity check: {verdict}")
        for name in STATE_FILES:
            for suffix in _SIDECARS:
                (data_dir / f"{name}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(data_dir / "derived", ignore_errors=True)
        for name in manifest.files:
            (staged / name).replace(data_dir / name)
    log.info("restored %s into %s: %s", archive, data_dir, manifest.rows)
    return manifest
