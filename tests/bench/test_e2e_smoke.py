"""Smoke test of ``python -m bench.e2e --quick``: a small day through both paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_e2e_quick_reports_both_paths(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.e2e", "--quick", "--json", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(proc.stdout)
    assert result["bench"] == "e2e"
    ours = result["ours"]
    # every message of the day went through each path
    assert result["params"]["kafka_messages_consumed"] == result["params"]["messages"] > 1000
    assert result["params"]["kafka_publish_failed"] == 0 and result["params"]["kafka_complete"]
    assert ours["embedded_messages_per_s"] > 0 and ours["kafka_messages_per_s"] > 0
    assert ours["embedded_report_to_series_p99_ms"] >= ours["embedded_report_to_series_p50_ms"]
    assert result["params"]["series_found"] >= 1
    assert (tmp_path / "e2e.json").exists() and (tmp_path / "e2e_lag.png").stat().st_size > 0
