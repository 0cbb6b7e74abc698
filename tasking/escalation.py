"""Escalation: what happens when a task's acknowledgement deadline or a chain step is due.

The chain of a plan is ordered; each step's ``after`` counts from the previous
one (the first from the acknowledgement deadline). Actions:

* ``renotify`` - notify the same team again;
* ``reassign`` - give the task to another team with free capacity (from the task
  force, else from the task's city), never one that declined it;
* ``escalate`` - notify the next center up: the team's county center first, then
  its city, then the province (``escalation_exhausted`` above the province).

A step is only taken while the task is still unacknowledged (``pending``), and is
stamped with its own due time, so the audit trail does not depend on how far the
watermark jumped in one micro-batch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tasking.audit import fingerprint
from tasking.dispatch import TaskSpec, pick_team
from tasking.model import Activation, Task
from tasking.org import Organisation, Team
from tasking.plans import Plan
from tasking.timers import Fired, TimerQueue

__all__ = ["Escalation"]


class Escalation:
    """Timer handling of :class:`tasking.service.TaskingService` (a mixin over its state)."""

    org: Organisation
    tasks: dict[str, Task]
    activations: dict[str, Activation]
    timers: TimerQueue

    def _record(
        self, action: str, key: str | None, *, at: dt.datetime | None = None, **kw: Any
    ) -> None:
        raise NotImplementedError

    def _release(self, task: Task) -> None:
        raise NotImplementedError

    def _plan_or_none(self, name: str) -> Plan | None:
        raise NotImplementedError

    def _fire(self, f: Fired) -> None:
        task = self.tasks.get(f.task_id)
        if task is None or task.status != "pending":
            return
        act = self.activations[task.activation_id]
        plan = self._plan_or_none(act.plan)
        if plan is None:
            return
        key = "timer:" + fingerprint(
            task.task_id, task.key, act.subject, str(f.step), f.due.isoformat()
        )
        common: dict[str, Any] = {
            "at": f.due,
            "activation_id": act.activation_id,
            "task_id": task.task_id,
            "series_id": act.series_id,
        }
        if f.step == -1:
            self._record(
                "ack_overdue",
                key,
                team_ids=[task.team_id] if task.team_id else [],
                after={"ack_due": f.due.isoformat()},
                **common,
            )
        else:
            step = plan.escalation[f.step]
            task.escalation_step = f.step
            if step.action == "renotify":
                task.notified += 1
                self._record(
                    "renotified",
                    key,
                    team_ids=[task.team_id] if task.team_id else [],
                    after={"notified": task.notified},
                    **common,
                )
            elif step.action == "reassign":
                self._reassign(task, act, plan, f.due, key)
            else:
                self._escalate(task, act, key, common)
        nxt = f.step + 1
        if nxt < len(plan.escalation) and task.status == "pending":
            self.timers.schedule(task.task_id, f.due + plan.escalation[nxt].after, nxt)

    def _reassign(self, task: Task, act: Activation, plan: Plan, at: dt.datetime, key: str) -> None:
        old = task.team_id
        team = self._other_team(task, act)
        if team is None:
            self._record(
                "reassign_failed",
                key,
                at=at,
                activation_id=act.activation_id,
                task_id=task.task_id,
                team_ids=[old] if old else [],
                detail="no other team with free capacity",
            )
            return
        self._release(task)
        self._record(
            "reassigned",
            key,
            at=at,
            activation_id=act.activation_id,
            task_id=task.task_id,
            team_ids=[t for t in (old, team.team_id) if t],
            before={"team_id": old},
            after={"team_id": team.team_id},
        )
        task.team_id = team.team_id
        team.open_tasks.add(task.task_id)
        if team.team_id not in act.teams:
            act.teams = (*act.teams, team.team_id)

    def _other_team(self, task: Task, act: Activation) -> Team | None:
        """A team other than the task's (and those that declined it) with free capacity: from
        the task force first, else any team of the task's city."""
        city = self.org.centers[task.county].parent if task.county in self.org.centers else None
        pool = [self.org.teams[t] for t in act.teams if t in self.org.teams]
        pool += [
            t for t in self.org.teams.values() if t.city == city and t.team_id not in act.teams
        ]
        spec = TaskSpec(task.key, task.kind, task.title, task.county, task.skill)
        banned = [*task.declined_by, *([task.team_id] if task.team_id else [])]
        return pick_team(spec, pool, self.org, exclude=banned)

    def _escalate(self, task: Task, act: Activation, key: str, common: dict[str, Any]) -> None:
        team = self.org.teams.get(task.team_id or "")
        current = task.escalated_to or (team.county if team else act.lead_adcode)
        parent = self.org.parent(current)
        if parent is None:
            self._record("escalation_exhausted", key, after={"escalated_to": current}, **common)
            return
        task.escalated_to = parent
        self._record(
            "escalated",
            key,
            team_ids=[task.team_id] if task.team_id else [],
            before={"escalated_to": current},
            after={"escalated_to": parent, "level": self.org.center(parent).level.value},
            **common,
        )
