"""Acknowledgement deadlines and escalation chains, on event time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from geo.lookup import JurisdictionIndex
from graph.cases import CaseBook
from tasking.audit import AuditLog
from tasking.org import Organisation
from tasking.plans import load_plans
from tasking.service import TaskingService
from tasking.timers import TimerQueue
from tests.tasking.conftest import T0, add_cases, case_msg

MIN = dt.timedelta(minutes=1)


def test_timer_queue_fires_in_due_order_and_honours_cancel() -> None:
    q = TimerQueue()
    q.schedule("b", T0 + 20 * MIN, -1)
    q.schedule("a", T0 + 10 * MIN, -1)
    q.schedule("c", T0 + 15 * MIN, 0)
    q.cancel("c")
    q.schedule("b", T0 + 30 * MIN, 1)  # replaces b's earlier timer
    assert q.due(T0 + 5 * MIN) == []
    assert [(f.task_id, f.step) for f in q.due(T0 + 25 * MIN)] == [("a", -1)]
    assert [(f.task_id, f.step) for f in q.due(T0 + 60 * MIN)] == [("b", 1)]
    assert len(q) == 0 and q.next_due() is None


def _county_activation(service: TaskingService, cases: CaseBook) -> str:
    ids = add_cases(
        cases, [case_msg(f"ZJ-E-{k}", 330211, "burglary.commercial", day=k) for k in range(2)]
    )
    sugg = service.on_series("created", "S-0001", ids)
    assert sugg is not None and sugg.plan == "county-series"
    return service.confirm(sugg.suggestion_id, actor="cmd", role="commander").activation_id


def _trail(service: TaskingService, task_id: str) -> list[tuple[str, dt.datetime]]:
    keep = {"ack_overdue", "renotified", "reassigned", "escalated", "escalation_exhausted"}
    return [(e.action, e.at) for e in service.audit.query(task_id=task_id) if e.action in keep]


def test_unacknowledged_task_escalates_on_schedule_in_event_time(
    service: TaskingService, cases: CaseBook
) -> None:
    # county-series: ack within 30 min; then renotify after 15 min, escalate after 30 more
    act = service.activations[_county_activation(service, cases)]
    waiting, acked = (service.tasks[t] for t in act.task_ids[:2])
    assert waiting.dispatched_at == T0 and waiting.ack_due == T0 + 30 * MIN
    service.acknowledge(acked.task_id, actor=acked.team_id or "", role="team")

    service.advance(T0 + 29 * MIN)
    assert _trail(service, waiting.task_id) == []
    service.advance(T0 + 31 * MIN)
    assert _trail(service, waiting.task_id) == [("ack_overdue", T0 + 30 * MIN)]
    service.advance(T0 + 2 * 60 * MIN)  # a jump: each step is stamped with its own due time
    assert _trail(service, waiting.task_id) == [
        ("ack_overdue", T0 + 30 * MIN),
        ("renotified", T0 + 45 * MIN),
        ("escalated", T0 + 75 * MIN),
    ]
    assert waiting.notified == 1 and waiting.escalated_to == 330200  # Zhenhai -> Ningbo
    assert waiting.status == "pending"
    assert _trail(service, acked.task_id) == []  # acknowledged in time: never escalated
    service.advance(T0 + 10 * 60 * MIN)
    assert len(_trail(service, waiting.task_id)) == 3  # the chain has ended


def test_province_chain_reassigns_then_escalates_up_the_tiers(
    service: TaskingService, cases: CaseBook
) -> None:
    counties = [330702, 330106]
    ids = add_cases(
        cases,
        [
            case_msg(f"ZJ-P-{k}", c, "fraud.investment", day=k, victims=1)
            for k, c in enumerate(counties)
        ],
    )
    sugg = service.on_series("created", "S-0009", ids)
    assert sugg is not None and sugg.plan == "province-fraud"
    act = service.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    task = next(service.tasks[t] for t in act.task_ids if service.tasks[t].county == 330106)
    first_team = task.team_id
    # ack 15 min; renotify +10; reassign +10; escalate +15
    service.advance(T0 + 15 * MIN + 10 * MIN + 10 * MIN + 15 * MIN)
    actions = [a for a, _ in _trail(service, task.task_id)]
    assert actions == ["ack_overdue", "renotified", "reassigned", "escalated"]
    assert task.team_id != first_team  # another team of Hangzhou took it
    assert service.org.teams[task.team_id or ""].city == 330100
    assert task.task_id not in service.org.teams[first_team or ""].open_tasks
    assert task.escalated_to == 330100


def test_same_inputs_give_the_same_escalations(tmp_path: Path, index: JurisdictionIndex) -> None:
    """Two services fed the same events at the same event times record the same trail."""
    trails = []
    for run in range(2):
        book = CaseBook(index)
        audit = AuditLog(tmp_path / f"audit-{run}.sqlite")
        svc = TaskingService(Organisation.load(330000), load_plans(), audit, book)
        svc.advance(T0)
        _county_activation(svc, book)
        for h in range(1, 6):
            svc.advance(T0 + h * 30 * MIN)
        trails.append([(e.action, e.at, e.task_id, e.team_ids, e.after) for e in audit.query()])
        audit.close()
    assert trails[0] == trails[1] and len(trails[0]) > 10
