"""Smoke test of ``python -m bench.dashboard --quick``: it runs in headless Chromium, prints
the agreed shape and writes its files (timings are reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench._common import validate_result

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path("/usr/bin/chromium").exists(), reason="Debian chromium is not installed"
    ),
]


def test_dashboard_quick_json(tmp_path: Path) -> None:
    pytest.importorskip("playwright.sync_api")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.dashboard",
            "--quick",
            "--json",
            "--out",
            str(tmp_path),
            "--cases",
            "400",
            "--series",
            "5",
            "--updates",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    validate_result(result)
    assert result["params"]["cases"] == 400 and result["params"]["series"] == 5
    for side in ("ours", "baseline"):
        assert result[side]["first_load_ms"] > 0
        assert result[side]["update_p95_ms"] >= result[side]["update_p50_ms"] > 0
    assert (tmp_path / "dashboard.json").is_file() and (tmp_path / "dashboard.png").is_file()
