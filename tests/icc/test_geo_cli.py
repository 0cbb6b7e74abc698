"""``icc geo summary`` and ``icc geo locate``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _icc(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "icc", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_summary_counts_per_tier() -> None:
    done = _icc("geo", "summary")
    assert done.returncode == 0, done.stderr
    assert "province 1, cities 11, counties 90" in done.stdout


def test_locate_zhenhai() -> None:
    done = _icc("geo", "locate", "121.70", "29.97")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["330211", "浙江省", "宁波市", "镇海区"]


def test_locate_outside_is_a_clear_message() -> None:
    done = _icc("geo", "locate", "123.5", "29.0")
    assert done.returncode == 1
    assert "outside 浙江省" in done.stdout


def test_locate_bad_latitude_is_an_error() -> None:
    done = _icc("geo", "locate", "120.0", "95")
    assert done.returncode == 2
    assert "lat[0] = 95.0" in done.stderr
