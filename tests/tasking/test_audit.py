"""The audit trail records every step and refuses edits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from graph.cases import CaseBook
from tasking.audit import AuditLog
from tasking.service import AUTO_ACTOR, TaskingService
from tests.tasking.conftest import T0, add_cases, case_msg


def test_every_step_is_recorded_with_actor_role_time_and_before_after(
    service: TaskingService, cases: CaseBook
) -> None:
    ids = add_cases(
        cases, [case_msg(f"ZJ-A-{k}", 330212, "burglary.residential", day=k) for k in range(2)]
    )
    sugg = service.on_series("created", "S-0007", ids)
    assert sugg is not None
    act = service.confirm(sugg.suggestion_id, actor="commander@330212", role="commander")
    t1, t2 = (service.tasks[t] for t in act.task_ids[:2])
    team = t1.team_id or ""
    service.acknowledge(t1.task_id, actor=team, role="team")
    service.update_status(t1.task_id, "en_route", actor=team, role="team")
    service.update_status(t1.task_id, "on_scene", actor=team, role="team")
    service.complete(t1.task_id, actor=team, role="team", note="footage secured")
    service.decline(t2.task_id, "vehicle broken down", actor=t2.team_id or "", role="team")
    service.stand_down(act.activation_id, actor="commander@330212", role="commander", reason="x")

    entries = service.audit.query(series_id="S-0007") + service.audit.query(
        activation_id=act.activation_id
    )
    actions = [e.action for e in service.audit.query()]
    for expected in (
        "suggested",
        "suggestion_confirmed",
        "activated",
        "task_created",
        "task_dispatched",
        "task_force_formed",
        "task_acknowledged",
        "task_en_route",
        "task_on_scene",
        "task_completed",
        "task_declined",
        "task_cancelled",
        "stood_down",
    ):
        assert expected in actions, expected
    assert entries and all(e.actor and e.role and e.at.tzinfo for e in entries)

    t1_trail = service.audit.query(task_id=t1.task_id)
    statuses = [
        (e.before, e.after) for e in t1_trail if e.action.startswith("task_") and e.role == "team"
    ]
    assert statuses == [
        ({"status": "pending"}, {"status": "acknowledged"}),
        ({"status": "acknowledged"}, {"status": "en_route"}),
        ({"status": "en_route"}, {"status": "on_scene"}),
        ({"status": "on_scene"}, {"status": "completed"}),
    ]
    declined = service.audit.query(task_id=t2.task_id)
    assert any(e.action == "task_declined" and e.detail == "vehicle broken down" for e in declined)
    confirm = next(e for e in service.audit.query() if e.action == "suggestion_confirmed")
    assert (confirm.actor, confirm.role, confirm.at) == ("commander@330212", "commander", T0)

    # queryable per case, series and team
    per_case = service.audit.query(case_id=ids[0])
    assert {"suggested", "activated", "task_dispatched"} <= {e.action for e in per_case}
    per_team = service.audit.query(team_id=team)
    assert {"task_dispatched", "task_acknowledged", "task_completed"} <= {
        e.action for e in per_team
    }
    assert service.audit.query(case_id="ZJ-nothing") == []


def test_audit_trail_refuses_update_and_delete(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path)
    seq = log.record("activated", actor="cmd", role="commander", at=T0, case_ids=["C1"])
    assert seq == 1
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only: UPDATE refused"):
        raw.execute("UPDATE audit SET actor = 'someone else' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only: DELETE refused"):
        raw.execute("DELETE FROM audit")
    raw.close()
    assert [(e.actor, e.action) for e in log.query()] == [("cmd", "activated")]
    assert not hasattr(log, "update") and not hasattr(log, "delete")
    with pytest.raises(ValueError, match="timezone-aware"):
        log.record("x", actor="a", role="r", at=T0.replace(tzinfo=None))
    log.close()
    reopened = AuditLog(path)  # the triggers survive a reopen
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        reopened._db.execute("DELETE FROM audit WHERE seq = 1")
    assert len(reopened) == 1
    reopened.close()


def test_derived_entries_are_recorded_once_across_rebuilds(
    service: TaskingService, cases: CaseBook, tmp_path: Path
) -> None:
    log = service.audit
    assert log.record("suggested", actor="icc", role="system", at=T0, key="k1") is not None
    assert log.record("suggested", actor="icc", role="system", at=T0, key="k1") is None
    # auto-confirmed activations (batch mode) are keyed too: a rebuilt service adds nothing
    ids = add_cases(cases, [case_msg(f"ZJ-R-{k}", 330211, "theft.fuel", day=k) for k in range(2)])
    service.set_auto_confirm(True)
    service.on_series("created", "S-0001", ids)
    before = len(log)
    again = TaskingService(
        type(service.org).load(330000), service.book, log, cases, auto_confirm=True
    )
    again.advance(T0)
    again.on_series("created", "S-0001", ids)
    assert len(log) == before
    assert any(e.actor == AUTO_ACTOR for e in log.query(series_id="S-0001"))
