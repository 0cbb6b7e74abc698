"""Capacity, team status and span of control when a task force forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graph.cases import CaseBook
from ingest.models import TeamStatus, parse_message
from tasking.audit import AuditLog
from tasking.dispatch import build_groups
from tasking.model import Group
from tasking.org import Organisation
from tasking.plans import PlanBook
from tasking.service import TaskingService
from tests.factories import team_status
from tests.tasking.conftest import T0, add_cases, case_msg

ZHENHAI, BEILUN = 330211, 330206


@pytest.fixture
def tight(tmp_path: Path, plans: PlanBook, cases: CaseBook) -> TaskingService:
    """One team per county, one open task per team."""
    roster = tmp_path / "roster.toml"
    roster.write_text(
        '[defaults]\nsize = 4\ncapacity = 1\nskills = ["scene", "anpr"]\nteams_per_county = 1\n',
        encoding="utf-8",
    )
    org = Organisation.load(330000, roster)
    svc = TaskingService(org, plans, AuditLog(tmp_path / "audit.sqlite"), cases)
    svc.advance(T0)
    return svc


def _open_load(service: TaskingService) -> dict[str, int]:
    load: dict[str, int] = {}
    for t in service.tasks.values():
        if t.open and t.team_id:
            load[t.team_id] = load.get(t.team_id, 0) + 1
    return load


def test_capacity_is_never_exceeded_and_waiting_tasks_go_out_when_a_team_frees_up(
    tight: TaskingService, cases: CaseBook
) -> None:
    ids = add_cases(
        cases, [case_msg(f"ZJ-C-{k}", ZHENHAI, "burglary.commercial", day=k) for k in range(3)]
    )
    sugg = tight.on_series("created", "S-0001", ids)
    assert sugg is not None
    act = tight.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    tasks = [tight.tasks[t] for t in act.task_ids]
    assert [t.status for t in tasks] == ["pending", "unassigned", "unassigned"]
    assert _open_load(tight) == {"T-330211-01": 1}
    team = tight.org.teams["T-330211-01"]
    assert team.load == team.capacity == 1

    tight.acknowledge(tasks[0].task_id, actor="T-330211-01", role="team")
    tight.complete(tasks[0].task_id, actor="T-330211-01", role="team", note="done")
    assert tasks[0].status == "completed" and tasks[1].status == "pending"
    assert tasks[2].status == "unassigned" and team.load == 1


def test_unavailable_teams_get_no_tasks(tight: TaskingService, cases: CaseBook) -> None:
    msg = parse_message(json.dumps(team_status("T-330206-01", status="unavailable")))
    assert isinstance(msg, TeamStatus)
    tight.team_status(msg.team_id, msg.status, msg.at, msg.lon, msg.lat)
    assert tight.org.teams["T-330206-01"].free == 0
    ids = add_cases(
        cases,
        [
            case_msg("ZJ-U-1", ZHENHAI, "theft.fuel"),
            case_msg("ZJ-U-2", BEILUN, "theft.fuel", day=1),
        ],
    )
    sugg = tight.on_series("created", "S-0002", ids)
    assert sugg is not None and sugg.lead_adcode == 330200
    act = tight.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    assert "T-330206-01" not in act.teams
    assert all(tight.tasks[t].team_id != "T-330206-01" for t in act.task_ids)
    # Beilun's work goes to a free team of another Ningbo county
    beilun = [tight.tasks[t] for t in act.task_ids if tight.tasks[t].county == BEILUN]
    assert beilun and all(
        t.team_id is None or tight.org.teams[t.team_id].city == 330200 for t in beilun
    )


def _check_span(root: Group, span: int, org: Organisation) -> list[str]:
    seen: list[str] = []
    for g in root.walk():
        assert g.direct <= span, f"{g.group_id} directs {g.direct} units"
        for t in g.teams:
            if g is not root:
                assert org.teams[t].city == g.lead_adcode  # sub-groups form under city centers
        seen.extend(g.teams)
    assert len(seen) == len(set(seen))
    return seen


def test_span_of_control_province_task_force_forms_city_sub_groups(
    service: TaskingService, cases: CaseBook
) -> None:
    counties = sorted(service.org.centers[c].adcode for c in service.org.centers)
    counties = [c for c in counties if service.org.centers[c].level.value == "county"][::4]
    ids = add_cases(
        cases, [case_msg(f"ZJ-S-{k}", c, "theft.cargo", day=k % 5) for k, c in enumerate(counties)]
    )
    sugg = service.on_series("created", "S-0003", ids)
    assert sugg is not None and sugg.plan == "province-cross-city"
    act = service.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    assert act.group is not None and len(act.teams) == len(counties) > 8
    seen = _check_span(act.group, service.book.span_of_control, service.org)
    assert sorted(seen) == sorted(act.teams)
    assert act.group.lead_adcode == 330000 and not act.group.teams
    assert all(t.load <= t.capacity for t in service.org.teams.values())


def test_span_of_control_city_lead_splits_its_own_teams(org: Organisation) -> None:
    hangzhou = [t for t in org.teams.values() if t.city == 330100]
    assert len(hangzhou) > 16
    root = build_groups("A-0001", 330100, hangzhou, org, span=8)
    seen = _check_span(root, 8, org)
    assert sorted(seen) == sorted(t.team_id for t in hangzhou)
    small = build_groups("A-0002", 330100, hangzhou[:8], org, span=8)
    assert small.subgroups == () and len(small.teams) == 8
    with pytest.raises(ValueError, match="span"):
        build_groups("A-0003", 330100, hangzhou, org, span=1)
