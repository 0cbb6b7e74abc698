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
    assert ours["embedded_sightings_alone_per_s"] > 0  # the same run without the incidents
    if params["kafka_available"]:
        assert params["kafka_messages_consumed"] == 2020
        for key in ("kafka_messages_per_s", "kafka_p50_ms", "kafka_p99_ms"):
            assert ours[key] > 0 and result["baseline"][key] > 0
    for value in ours.values():
        assert math.isfinite(value)
    assert json.loads((tmp_path / "stream.json").read_text(encoding="utf-8")) == result
    assert (tmp_path / "stream.png").read_bytes().startswith(PNG_MAGIC)


def test_the_stream_delivers_each_report_when_the_sightings_reach_its_time() -> None:
    """A report arrives after what it reports: the sightings before it in the stream are
    all earlier than its ``reported_at``, and the next one reaches that time (none of the
    sightings of its own occurrence window comes after it, except late ones)."""
    from bench.stream import make_stream

    msgs = [json.loads(line) for line in make_stream(3000)]
    clock = [-math.inf]  # the latest sighting time up to each position
    for m in msgs:
        clock.append(max(clock[-1], _epoch(m["at"])) if m["kind"] == "sighting" else clock[-1])
    reports = [i for i, m in enumerate(msgs) if m["kind"] == "incident"]
    assert len(reports) == 30 and len(msgs) == 3030
    for i in reports:
        reported = _epoch(msgs[i]["reported_at"])
        assert clock[i] < reported  # nothing read so far is later than the report
        later = [clock[j + 1] for j in range(i + 1, len(msgs)) if msgs[j]["kind"] == "sighting"]
        assert not later or later[0] >= reported  # the next sighting reaches its time


def _epoch(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
