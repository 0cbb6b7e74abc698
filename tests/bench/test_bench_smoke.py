"""Smoke tests of the benchmarks: they run, print the agreed JSON shape and write files.

Timings are never asserted; only that the figures are positive numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench._common import bench_parser, emit, ratios, timed, validate_result

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run_bench(name: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bench.NAME --quick --out OUT EXTRA...`` from the project root."""
    return subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--quick", "--out", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _assert_figures(section: dict[str, Any]) -> None:
    assert section, "no figures"
    for key, value in section.items():
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)


def test_ingest_quick_json(tmp_path: Path) -> None:
    proc = _run_bench("ingest", tmp_path, "--json", "--n", "2000")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must hold exactly one JSON object, got: {proc.stdout!r}"
    result = json.loads(lines[0])

    assert set(result) == {"bench", "params", "ours", "baseline", "ratio"}
    assert result["bench"] == "ingest"
    validate_result(result)
    params = result["params"]
    assert params["n_sightings"] == 2000
    assert params["n_incidents"] > 0
    assert params["target_sightings_per_s"] == 200_000
    for section in ("ours", "baseline", "ratio"):
        _assert_figures(result[section])
    for key in ("sightings_per_s", "incidents_per_s"):
        assert result["ours"][key] > 0 and result["baseline"][key] > 0
        assert result["ratio"][key] > 0
    assert result["ours"]["meets_target"] in (0, 1)

    written = json.loads((tmp_path / "ingest.json").read_text(encoding="utf-8"))
    assert written == result
    png = tmp_path / "ingest.png"
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_ingest_without_json_prints_a_table(tmp_path: Path) -> None:
    proc = _run_bench("ingest", tmp_path, "--n", "500", "--repeat", "1")
    assert proc.returncode == 0, proc.stderr
    assert "sightings_per_s" in proc.stdout
    assert not proc.stdout.lstrip().startswith("{")


def _result(**over: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "bench": "demo",
        "params": {"n": 10, "quick": True},
        "ours": {"items_per_s": 200.0, "peak_mib": 12.5},
        "baseline": {"items_per_s": 100.0, "peak_mib": 25.0},
        "ratio": {"items_per_s": 2.0, "peak_mib": 0.5},
    }
    result.update(over)
    return result


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        (_result(extra=1), "result keys"),
        (_result(bench="Not Ok"), "bench"),
        (_result(ours={"items_per_s": "fast"}), "ours.items_per_s"),
        (_result(ours={"items_per_s": True}), "ours.items_per_s"),
        (_result(baseline={"items_per_s": float("nan")}), "baseline.items_per_s"),
        (_result(ratio={"other_per_s": 1.0}), "ratio"),
        (_result(params={"n": {"nested": 1}}), "params.n"),
    ],
)
def test_validate_result_names_the_problem(bad: dict[str, Any], names: str) -> None:
    with pytest.raises(ValueError, match=names.replace(".", r"\.")):
        validate_result(bad)


def test_emit_writes_json_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(parents=[bench_parser()])
    args = parser.parse_args(["--json", "--out", str(tmp_path / "r")])
    emit(_result(), args)
    assert json.loads(capsys.readouterr().out) == _result()
    assert json.loads((tmp_path / "r" / "demo.json").read_text()) == _result()
    assert (tmp_path / "r" / "demo.png").read_bytes()[:8] == PNG_MAGIC


def test_ratios_and_timed() -> None:
    assert ratios({"a_per_s": 3.0, "only_ours_s": 1.0}, {"a_per_s": 2.0, "b_s": 1.0}) == {
        "a_per_s": 1.5
    }
    calls: list[int] = []
    timing = timed(lambda: calls.append(1) or len(calls), repeat=4)
    assert len(calls) == 4 and timing.result == 4
    assert len(timing.times_s) == 4 and timing.best_s <= timing.median_s
    with pytest.raises(ValueError, match="repeat"):
        timed(lambda: None, repeat=0)


def test_geo_quick_json(tmp_path: Path) -> None:
    proc = _run_bench("geo", tmp_path, "--json", "--n", "5000")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    validate_result(result)
    assert result["bench"] == "geo"
    assert result["params"]["lookup_agreement_with_sjoin"] == 1.0
    for key in ("lookups_per_s", "haversine_pairs_per_s", "local_pairs_per_s"):
        assert result["ours"][key] > 0 and result["baseline"][key] > 0
    assert result["ours"]["haversine_max_error_pct"] < 0.5
    assert (tmp_path / "geo.json").is_file()
    assert (tmp_path / "geo.png").read_bytes().startswith(PNG_MAGIC)
