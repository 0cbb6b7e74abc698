"""``icc replay``: bad lines are dead-lettered with a reason, good ones accepted, once."""

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
from ingest.deadletter import DeadLetterStore
from ingest.journal import Journal
from tests.conftest import write_jsonl
from tests.factories import incident, sighting, team_status

ROOT = Path(__file__).resolve().parents[2]

GOOD = [
    incident("ZJ-A-1"),
    incident(
        "ZJ-A-1-sup",
        case_id="ZJ-A-1",
        reported_at="2026-03-02T11:00:00+08:00",
        loss_cny=6100.0,
        persons=[{"role": "witness", "name": "Wang Fang"}],
    ),
    incident(
        "ZJ-B-1",
        lon=120.15,
        lat=30.28,
        category="fraud.contract",
        mo=[],
        reported_at="2026-03-03T09:00:00+08:00",
        occurred_start="2026-02-20T09:00:00+08:00",
        occurred_end="2026-02-28T18:00:00+08:00",
    ),
    incident("ZJ-OUT-1", lon=116.40, lat=39.90, category="theft.new_kind"),  # outside, unknown code
    sighting("s-1"),
    sighting("s-2", entity_kind="phone", entity="13812345678", at="2026-03-02T02:00:00Z"),
    team_status("T-1"),
]

# (line, the field the reason must name)
BAD: list[tuple[str | bytes, str]] = [
    ("{this is not json", "valid JSON"),
    (b"\xff\xfe\x00garbage", "message"),
    ("[1, 2, 3]", "message"),
    (json.dumps({k: v for k, v in sighting("s-bad-1").items() if k != "entity"}), "entity"),
    (json.dumps(sighting("s-bad-2", at="2026-03-02T01:12:00")), "naive timestamps are rejected"),
    (
        json.dumps(
            incident(
                "ZJ-BAD-1",
                occurred_start="2026-03-02T07:00:00+08:00",
                occurred_end="2026-03-02T06:00:00+08:00",
            )
        ),
        "occurred_start <= occurred_end",
    ),
    (
        json.dumps(incident("ZJ-BAD-2", occurred_end="2026-03-02T09:00:00+08:00")),
        "occurred_end <= reported_at",
    ),
    (json.dumps(sighting("s-bad-3", lon="121.69")), "lon"),
    (json.dumps(incident("ZJ-BAD-3", persons="李强")), "persons"),
    (json.dumps(incident("ZJ-BAD-4", loss_cny=-5)), "loss_cny"),
    (json.dumps(team_status("T-BAD", status="sleeping")), "status"),
    (json.dumps({"kind": "alarm", "id": 1}), "kind"),
]


@pytest.fixture
def mixed_file(tmp_path: Path) -> Path:
    rows: list[dict | str | bytes] = []
    for i, good in enumerate(GOOD):
        rows.append(good)
        if i < len(BAD):
            rows.append(BAD[i][0])
    rows.extend(line for line, _ in BAD[len(GOOD) :])
    rows.append("")  # blank lines are not messages
    return write_jsonl(tmp_path / "mixed.jsonl", rows)


def test_replay_dead_letters_each_bad_line_and_accepts_good(
    settings: Settings, mixed_file: Path, tmp_path: Path
) -> None:
    runtime = Runtime.open(settings)
    out = tmp_path / "series.json"
    summary = replay_files(runtime, [mixed_file], export_to=out)
    assert summary.accepted == len(GOOD)
    assert summary.deadlettered == len(BAD)
    assert summary.duplicates == 0
    assert summary.cases == 3  # ZJ-A-1 (two reports), ZJ-B-1, ZJ-OUT-1
    letters = runtime.deadletters.list()
    assert len(letters) == len(BAD)
    by_raw = {d.raw: d for d in letters}
    for line, needle in BAD:
        raw = line if isinstance(line, bytes) else line.encode()
        assert raw in by_raw, f"bad line not dead-lettered: {line!r}"
        letter = by_raw[raw]
        assert needle in letter.error
        assert letter.source == f"file:{mixed_file.resolve()}"
        assert int(letter.position) >= 1
    # the supplementary report merged into its case
    case = runtime.cases.get("ZJ-A-1")
    assert case is not None and case.report_ids == ["ZJ-A-1", "ZJ-A-1-sup"]
    assert case.loss_cny == 6100.0 and case.county == 330211 and case.city == 330200
    outside = runtime.cases.get("ZJ-OUT-1")
    assert outside is not None and outside.outside_province and not outside.category_known
    assert json.loads(out.read_text(encoding="utf-8")) == {"series": []}
    runtime.close()


def test_second_replay_adds_nothing(settings: Settings, mixed_file: Path) -> None:
    runtime = Runtime.open(settings)
    replay_files(runtime, [mixed_file])
    runtime.close()
    journal_rows = len(Journal(settings.journal_path))
    dead_rows = len(DeadLetterStore(settings.deadletter_path))

    runtime = Runtime.open(settings)  # a restart: state rebuilt from the journal
    assert len(runtime.cases) == 3
    again = replay_files(runtime, [mixed_file])
    assert again.accepted == 0
    assert again.duplicates == len(GOOD)
    assert len(runtime.journal) == journal_rows
    assert len(runtime.deadletters) == dead_rows
    assert len(runtime.cases) == 3
    assert runtime.cases.get("ZJ-A-1").report_ids == ["ZJ-A-1", "ZJ-A-1-sup"]  # type: ignore[union-attr]
    runtime.close()


def test_replay_feeds_in_event_time_order(settings: Settings, tmp_path: Path) -> None:
    # the supplementary report comes first in the file but later in event time
    late_first = [GOOD[1], GOOD[0]]
    f = write_jsonl(tmp_path / "order.jsonl", late_first)
    runtime = Runtime.open(settings)
    replay_files(runtime, [f])
    order = [e.key for _, e in runtime.journal.iter_entries()]
    assert order == ["incident:ZJ-A-1", "incident:ZJ-A-1-sup"]
    assert runtime.cases.get("ZJ-A-1").loss_cny == 6100.0  # type: ignore[union-attr]
    runtime.close()


def _icc(*args: str, data_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ICC_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "icc", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_cli_replay_exit_status_summary_and_export(mixed_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "cli-state"
    out = tmp_path / "out" / "series.json"
    done = _icc("replay", str(mixed_file), "--export-series", str(out), data_dir=data, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{len(GOOD)} accepted" in done.stdout
    assert f"{len(BAD)} dead-lettered" in done.stdout
    assert json.loads(out.read_text(encoding="utf-8")) == {"series": []}
    again = _icc("replay", str(mixed_file), data_dir=data, cwd=tmp_path)
    assert again.returncode == 0
    assert "0 accepted" in again.stdout and f"{len(GOOD)} duplicates" in again.stdout


def test_cli_replay_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    done = _icc("replay", str(tmp_path / "nope.jsonl"), data_dir=tmp_path / "s", cwd=tmp_path)
    assert done.returncode == 2
    assert "nope.jsonl" in done.stderr


def test_bad_environment_is_a_clear_error(tmp_path: Path, mixed_file: Path) -> None:
    env = {
        **os.environ,
        "ICC_DATA_DIR": str(tmp_path / "s"),
        "ICC_BATCH_SIZE": "lots",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "icc", "replay", str(mixed_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "ICC_BATCH_SIZE='lots'" in done.stderr
