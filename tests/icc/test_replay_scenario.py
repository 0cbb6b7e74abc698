"""``icc scenario`` + ``icc replay`` end to end on a generated stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from icc.config import Settings
from icc.replay import replay_files
from icc.runtime import Runtime
from ingest.scenario import write_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario")
    write_scenario(out, seed=11, days=1, scale=0.1)
    return out


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_replay_of_a_generated_scenario_accepts_every_message_once(
    scenario: Path, tmp_path: Path
) -> None:
    stream = scenario / "stream.jsonl"
    messages = _lines(stream)
    truth = json.loads((scenario / "truth.json").read_text(encoding="utf-8"))
    keys = {
        m.get("report_id") or m.get("sighting_id") or f"{m['team_id']}@{m['at']}:{m['status']}"
        for m in messages
    }
    cases = {m.get("case_id") or m["report_id"] for m in messages if m["kind"] == "incident"}

    runtime = Runtime.open(Settings(data_dir=tmp_path / "state"))
    summary = replay_files(runtime, [stream], export_to=tmp_path / "series.json")
    assert summary.deadlettered == 0
    assert summary.accepted == len(keys)
    assert summary.duplicates == len(messages) - len(keys) >= truth["duplicates"] > 0
    assert summary.cases == len(cases)
    assert set(json.loads((tmp_path / "series.json").read_text(encoding="utf-8"))) == {"series"}
    runtime.close()

    again = Runtime.open(Settings(data_dir=tmp_path / "state"))
    assert len(again.cases) == len(cases)  # rebuilt from the journal
    second = replay_files(again, [stream])
    assert second.accepted == 0 and second.duplicates == len(messages)
    assert len(again.journal) == len(keys)
    again.close()


def test_scenario_with_malformed_lines_mixed_in(scenario: Path, tmp_path: Path) -> None:
    good = (scenario / "stream.jsonl").read_bytes().splitlines()[:500]
    bad = [b"{oops", b'{"kind": "sighting"}', b'{"kind": "incident", "report_id": 7}']
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"\n".join(good[:200] + bad + good[200:]) + b"\n")
    runtime = Runtime.open(Settings(data_dir=tmp_path / "state"))
    summary = replay_files(runtime, [mixed])
    assert summary.deadlettered == len(bad)
    assert summary.accepted + summary.duplicates == len(good)
    positions = sorted(int(d.position) for d in runtime.deadletters.list())
    assert positions == [201, 202, 203]
    runtime.close()


def test_cli_scenario_writes_stream_truth_and_checkpoints(tmp_path: Path) -> None:
    env = {**os.environ, "ICC_DATA_DIR": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    out = tmp_path / "zj"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "icc",
            "scenario",
            "--seed",
            "3",
            "--days",
            "1",
            "--scale",
            "0.05",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} >= {"stream.jsonl", "truth.json", "checkpoints.csv"}
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth["seed"] == 3 and truth["series"]
    bad = subprocess.run(
        [sys.executable, "-m", "icc", "scenario", "--scale", "-1", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 2 and "'-1'" in bad.stderr
