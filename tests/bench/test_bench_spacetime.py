"""Smoke test of ``python -m bench.spacetime``: it runs on a tiny size and prints the agreed shape.

Timings are never asserted; only that the figures are finite, positive where they
are rates, and that both sides agree on the answers they share.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench._common import validate_result

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_spacetime_quick_json(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.spacetime", "--quick", "--json", "--n", "20000",
         "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must hold exactly one JSON object, got: {proc.stdout!r}"
    result = json.loads(lines[0])
    validate_result(result)
    assert result["bench"] == "spacetime"

    params, ours, base = result["params"], result["ours"], result["baseline"]
    assert params["n_sightings"] == 20000
    assert params["build_index_sightings"] == 20000
    assert params["scene_agreement_with_pandas"] == 1.0
    assert params["standing_agreement_with_pandas"] == 1
    assert isinstance(params["companions_available"], bool)
    for section in ("ours", "baseline", "ratio"):
        for key, value in result[section].items():
            assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
            assert math.isfinite(value), (key, value)
    for key in ("append_sightings_per_s", "standing_sightings_per_s", "scene_p99_ms"):
        assert ours[key] > 0 and base[key] > 0, key
        assert result["ratio"][key] > 0, key
    for key in ("per_sighting_bytes", "scene_hits_p99_ms", "read_gb_per_s",
                "scan_tail_bandwidth_pct", "standing_bandwidth_pct", "peak_mib"):  # fmt: skip
        assert ours[key] > 0, key
    assert base["companions_sightings_per_s"] > 0
    if params["companions_available"]:
        assert ours["companions_sightings_per_s"] > 0
        assert "companions_sightings_per_s" in result["ratio"]
    else:
        assert "companions_sightings_per_s" not in ours
    for flag in ("meets_append_target", "meets_scene_target", "meets_standing_target"):
        assert ours[flag] in (0, 1), flag

    assert json.loads((tmp_path / "spacetime.json").read_text(encoding="utf-8")) == result
    assert (tmp_path / "spacetime.png").read_bytes()[:8] == PNG_MAGIC
