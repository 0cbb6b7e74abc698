"""A restart keeps what commanders and teams did: activations, task states and the audit trail."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from icc.config import Settings
from icc.runtime import Runtime
from ingest.sources import RawMessage
from tests.tasking.conftest import case_msg

ZHENHAI = 330211


def _feed(runtime: Runtime, msgs: list[dict]) -> None:
    raws = [
        RawMessage(json.dumps(m, ensure_ascii=False).encode(), "test", str(i))
        for i, m in enumerate(msgs)
    ]
    runtime.ingestor.process(raws)


def _board(runtime: Runtime) -> dict:
    svc = runtime.tasking.service  # type: ignore[union-attr]
    return {
        "activations": {
            a.activation_id: (a.subject, a.plan, a.level.value, a.lead_adcode, a.status)
            for a in svc.activation_list()
        },
        "tasks": {t.task_id: (t.team_id, t.status, t.ack_due) for t in svc.tasks_of()},
    }


def test_activations_and_task_states_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "state")
    runtime = Runtime.open(settings, reset=True)
    try:
        _feed(runtime, [case_msg("ZJ-R-1", ZHENHAI, "robbery", victims=1)])
        svc = runtime.tasking.service  # type: ignore[union-attr]
        act = svc.activate(case_id="ZJ-R-1", actor="wang.commander", role="commander")
        _feed(runtime, [case_msg("ZJ-R-2", ZHENHAI, "burglary.residential", day=1)])
        svc.change_level(act.activation_id, "city", actor="wang.commander", role="commander")
        pending = [t for t in svc.tasks_of() if t.status == "pending"]
        assert len(pending) >= 2, "the city plan dispatches several tasks"
        svc.acknowledge(pending[0].task_id, actor=pending[0].team_id, role="county_team")
        svc.decline(pending[1].task_id, "team on another scene", actor="x", role="county_team")
        _feed(runtime, [case_msg("ZJ-R-3", ZHENHAI, "theft.fuel", day=2)])
        before = _board(runtime)
        audit_entries = len(runtime.tasking.audit)  # type: ignore[union-attr]
    finally:
        runtime.close()

    again = Runtime.open(settings)  # derived state rebuilt from the journal
    try:
        assert _board(again) == before
        assert before["activations"][act.activation_id][2] == "city"
        acked = [t for t, (_, status, _) in before["tasks"].items() if status == "acknowledged"]
        assert acked == [pending[0].task_id]
        # what the commands did is in the audit trail once, not once per start
        assert len(again.tasking.audit) == audit_entries  # type: ignore[union-attr]
        # and the restored activation takes further commands
        svc = again.tasking.service  # type: ignore[union-attr]
        svc.stand_down(act.activation_id, actor="wang.commander", role="commander")
        stood = _board(again)
    finally:
        again.close()

    third = Runtime.open(settings)
    try:
        assert _board(third) == stood
        assert stood["activations"][act.activation_id][4] == "stood_down"
    finally:
        third.close()


def test_the_command_log_refuses_edits(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "state")
    runtime = Runtime.open(settings, reset=True)
    try:
        _feed(runtime, [case_msg("ZJ-R-9", ZHENHAI, "robbery", victims=1)])
        runtime.tasking.service.activate(  # type: ignore[union-attr]
            case_id="ZJ-R-9", actor="wang.commander", role="commander"
        )
        path = runtime.tasking.audit.path  # type: ignore[union-attr]
    finally:
        runtime.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT name, position FROM commands").fetchall() == [("activate", 1)]
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE commands SET name = 'stand_down'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM commands")
    finally:
        db.close()
