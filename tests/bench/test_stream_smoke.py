"""Smoke test of ``python -m bench.stream --quick``: it runs, prints the agreed shape, writes files.

Timings are never asserted; only that the figures are there and are numbers.
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


def test_stream_quick_json(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.stream", "--quick", "--json", "--n", "2000"]
        + ["--out", str(tmp_path)],
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
    assert result["bench"] == "stream"
    params, ours = result["params"], result["ours"]
    assert params["n_sightings"] == 2000 and params["n_messages"] == 2020
    assert params["target_kafka_messages_per_s"] == 20_000
    for key in ("embedded_messages_per_s", "embedded_p50_ms", "embedded_p99_ms"):
        assert ours[key] > 0 and result["baseline"][key] > 0 and key in result["ratio"]
    assert ours["meets_embedded_target"] in (0, 1)
    if params["kafka_available"]:
        assert params["kafka_messages_consumed"] == 2020
        for key in ("kafka_messages_per_s", "kafka_p50_ms", "kafka_p99_ms"):
            assert ours[key] > 0 and result["baseline"][key] > 0
    for value in ours.values():
        assert math.isfinite(value)
    assert json.loads((tmp_path / "stream.json").read_text(encoding="utf-8")) == result
    assert (tmp_path / "stream.png").read_bytes().startswith(PNG_MAGIC)
