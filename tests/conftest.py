"""Shared fixtures: an isolated data directory and cache for every test that needs state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icc.config import Settings


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own ICC_DATA_DIR; the geo cache is shared across the session."""
    monkeypatch.setenv("ICC_DATA_DIR", str(tmp_path_factory.mktemp("icc-data")))
    cache = Path(tmp_path_factory.getbasetemp()) / "icc-cache"
    monkeypatch.setenv("ICC_CACHE_DIR", str(cache))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "state")


def write_jsonl(path: Path, rows: list[dict | str | bytes]) -> Path:
    """Write rows (dicts as JSON, str/bytes verbatim) as one line each."""
    with path.open("wb") as fh:
        for row in rows:
            if isinstance(row, dict):
                fh.write(json.dumps(row, ensure_ascii=False).encode("utf-8"))
            elif isinstance(row, str):
                fh.write(row.encode("utf-8"))
            else:
                fh.write(row)
            fh.write(b"\n")
    return path


@pytest.fixture(scope="session")
def replayed_scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """A 3-day scenario (seed 21, not a training seed) replayed through ``icc replay``'s code:
    (base dir with ``zj/`` and ``state/``, truth, exported series)."""
    from icc.replay import replay_files
    from icc.runtime import Runtime
    from ingest.scenario import write_scenario

    base = tmp_path_factory.mktemp("replayed")
    write_scenario(base / "zj", seed=21, days=3, scale=0.3)
    runtime = Runtime.open(Settings(data_dir=base / "state"))
    replay_files(runtime, [base / "zj" / "stream.jsonl"], export_to=base / "series.json")
    runtime.close()
    truth = json.loads((base / "zj" / "truth.json").read_text(encoding="utf-8"))
    exported = json.loads((base / "series.json").read_text(encoding="utf-8"))
    return base, truth, exported
