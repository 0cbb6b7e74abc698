"""Series export and ``icc explain`` on a replayed scenario."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def replayed(replayed_scenario: tuple[Path, dict, dict]) -> tuple[Path, dict, dict]:
    return replayed_scenario


def test_export_lists_series_with_evidence_in_words(replayed: tuple[Path, dict, dict]) -> None:
    _, truth, exported = replayed
    series = exported["series"]
    assert series, "a scenario with vehicle series must produce series"
    for s in series:
        assert s["series_id"].startswith("S-") and len(s["case_ids"]) >= 2
        assert s["evidence"] and all(e["detail"] for e in s["evidence"])
    truth_of = {c: t["series_id"] for t in truth["series"] for c in t["case_ids"]}
    # most exported series are (parts of) true series
    pure = [
        s
        for s in series
        if len({truth_of.get(c) for c in s["case_ids"]} - {None}) == 1
        and all(c in truth_of for c in s["case_ids"])
    ]
    assert len(pure) / len(series) >= 0.5  # measured 4 of 8 on this seed; issue 6 raises it


def _icc(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ICC_DATA_DIR": str(base / "state"),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "icc", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_explain_a_linked_pair_and_an_unlinked_pair(replayed: tuple[Path, dict, dict]) -> None:
    base, _, exported = replayed
    a, b = exported["series"][0]["case_ids"][:2]
    done = _icc(base, "explain", a, b)
    assert done.returncode == 0, done.stderr
    assert f"{a} – {b}" in done.stdout
    for feature in ("st_best", "same_category", "mo_jaccard", "log_km", "(intercept)"):
        assert feature in done.stdout
    other = next(c for s in exported["series"][1:] for c in s["case_ids"])
    apart = _icc(base, "explain", a, other)
    assert apart.returncode == 0
    assert "not linked" in apart.stdout or "LINKED" in apart.stdout
    unknown = _icc(base, "explain", a, "ZJ-NOPE")
    assert unknown.returncode == 2 and "unknown case 'ZJ-NOPE'" in unknown.stderr
