"""Smoke tests of ``python -m bench.persons``: tiny runs, the agreed JSON shape, files written.

Timings are never asserted - only that the figures exist and are sane numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench._common import validate_result

ROOT = Path(__file__).resolve().parents[2]


def _run(out: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.persons", "--quick", "--json", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must hold exactly one JSON object, got: {proc.stdout!r}"
    result = json.loads(lines[0])
    validate_result(result)
    return result


def _quality(section: dict[str, Any]) -> None:
    for key in ("precision", "recall", "f1", "blocking_recall"):
        assert 0.0 <= section[key] <= 1.0, key
    assert section["candidate_pairs_count"] > 0
    assert section["comparisons_per_s"] > 0


def test_febrl1_shape(tmp_path: Path) -> None:
    result = _run(tmp_path, "--dataset", "febrl1", "--drop", "soc_sec_id")
    assert result["bench"] == "persons_febrl1_drop_soc_sec_id"
    params = result["params"]
    assert params["dataset"] == "febrl1" and params["task"] == "dedupe"
    assert "soc_sec_id" not in params["fields"] and params["true_pairs"] == 500
    _quality(result["ours"])
    _quality(result["baseline"])
    assert result["ours"]["em_iterations_count"] >= 1
    for key in ("f1", "comparisons_per_s", "pipeline_s"):
        assert key in result["ratio"]
    assert (tmp_path / "persons_febrl1_drop_soc_sec_id.json").is_file()
    assert (tmp_path / "persons_febrl1_drop_soc_sec_id.png").is_file()


def test_chinese_shape(tmp_path: Path) -> None:
    result = _run(
        tmp_path, "--dataset", "chinese", "--days", "0.5", "--scale", "0.5",
        "--index", "2000", "--stream", "40",
    )  # fmt: skip
    assert result["bench"] == "persons_chinese"
    params, ours = result["params"], result["ours"]
    assert params["index_persons"] == 2000 and params["streamed_mentions"] == 40
    assert params["streaming_equals_batch"] is True
    _quality(ours)
    for key in ("p50_ms", "p99_ms", "max_ms"):
        assert ours[key] > 0
    assert ours["p50_ms"] <= ours["p99_ms"] <= ours["max_ms"]
    assert ours["common_name_false_merges_count"] >= 0
    assert ours["meets_target_no_common_name_merge"] in (0, 1)


def test_bad_arguments(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.persons", "--dataset", "febrl4", "--drop", "nope",
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "nope" in proc.stderr


@pytest.mark.parametrize("name", ["febrl1"])
def test_loader_rejects_unknown_columns(name: str) -> None:
    from bench.persons import load_febrl

    with pytest.raises(ValueError, match="unknown columns"):
        load_febrl(name, ["shoe_size"])
