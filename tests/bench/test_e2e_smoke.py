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


def test_a_child_that_dies_without_reporting_is_an_error_not_a_wait() -> None:
    from bench.e2e import _in_child
    from tests.bench import _children

    assert _in_child(_children.report, 7) == {"value": 7}
    with pytest.raises(RuntimeError, match=r"exit_silently died before reporting \(exit code 3\)"):
        _in_child(_children.exit_silently, 3, poll_s=0.2)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_measuring_child_dies_with_the_benchmark(tmp_path: Path) -> None:
    """A benchmark killed (``pkill -f bench.e2e`` or Ctrl-C twice) must not leave its
    measuring child busy on a core for minutes, spoiling the next measurement."""
    import os
    import signal
    import time

    root = Path(__file__).resolve().parents[2]
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.bench._children", str(pid_file)], cwd=root
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, "the child never started"
            assert parent.poll() is None, "the parent exited early"
            time.sleep(0.1)
        child = int(pid_file.read_text(encoding="utf-8"))
        os.kill(child, 0)  # alive
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child):
            assert time.monotonic() < deadline, "the child outlived its parent"
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
