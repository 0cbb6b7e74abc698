"""The records tasking keeps: suggestions, activations, task groups and tasks.

Task life cycle (``status``)::

    unassigned ─► pending ─► acknowledged ─► en_route ─► on_scene ─► completed
                     │             │             │           │
                     └─► declined  └────────── cancelled (stand-down) ◄──┘

A task is *open* (it takes one unit of its team's capacity) while pending,
acknowledged, en route or on scene.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from tasking.levels import Level

__all__ = [
    "OPEN_TASK_STATUSES",
    "PROGRESS_STATUSES",
    "TASK_STATUSES",
    "Activation",
    "Group",
    "Suggestion",
    "Task",
]

TASK_STATUSES = (
    "unassigned",
    "pending",
    "acknowledged",
    "en_route",
    "on_scene",
    "completed",
    "declined",
    "cancelled",
)
OPEN_TASK_STATUSES = frozenset({"pending", "acknowledged", "en_route", "on_scene"})
#: statuses a team may report on an acknowledged task through the API
PROGRESS_STATUSES = ("en_route", "on_scene")


@dataclass(frozen=True)
class Group:
    """A node of a task force: a lead center directing teams and sub-groups.

    ``len(teams) + len(subgroups)`` never exceeds the span of control.
    """

    group_id: str
    lead_adcode: int
    teams: tuple[str, ...] = ()
    subgroups: tuple[Group, ...] = ()

    @property
    def direct(self) -> int:
        return len(self.teams) + len(self.subgroups)

    def all_teams(self) -> list[str]:
        out = list(self.teams)
        for g in self.subgroups:
            out.extend(g.all_teams())
        return out

    def walk(self) -> list[Group]:
        out = [self]
        for g in self.subgroups:
            out.extend(g.walk())
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "lead_adcode": self.lead_adcode,
            "teams": list(self.teams),
            "subgroups": [g.to_dict() for g in self.subgroups],
        }


@dataclass
class Task:
    task_id: str
    activation_id: str
    key: str  # kind:target - one task per key in an activation
    kind: str
    title: str
    county: int  # where the work is (0: anywhere in the task force)
    skill: str | None
    created_at: dt.datetime
    team_id: str | None = None
    status: str = "unassigned"
    dispatched_at: dt.datetime | None = None
    ack_due: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None
    notified: int = 0
    escalation_step: int = -1  # index of the last escalation step taken
    escalated_to: int | None = None  # adcode of the center the task was escalated to
    declined_by: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES

    def snapshot(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, dt.datetime):
                d[k] = v.isoformat()
            elif isinstance(v, tuple):
                d[k] = list(v)
        return d


@dataclass
class Activation:
    activation_id: str
    subject: str  # series id, or case id for a single case
    series_id: str | None
    case_ids: tuple[str, ...]
    plan: str
    level: Level
    lead_adcode: int
    created_at: dt.datetime
    status: str = "active"  # active | stood_down
    teams: tuple[str, ...] = ()
    group: Group | None = None
    task_ids: list[str] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        return {
            "activation_id": self.activation_id,
            "subject": self.subject,
            "series_id": self.series_id,
            "case_ids": list(self.case_ids),
            "plan": self.plan,
            "level": self.level.value,
            "lead_adcode": self.lead_adcode,
            "status": self.status,
            "teams": list(self.teams),
            "group": self.group.to_dict() if self.group else None,
        }


@dataclass
class Suggestion:
    """What the plans propose for a series; a commander confirms or dismisses it."""

    suggestion_id: str
    kind: str  # activate | change_level | extend | stand_down
    subject: str
    series_id: str | None
    case_ids: tuple[str, ...]
    plan: str | None
    level: Level | None
    lead_adcode: int | None
    created_at: dt.datetime
    activation_id: str | None = None
    status: str = "pending"  # pending | confirmed | dismissed | superseded
    key: str = ""  # content fingerprint (audit key of the derived entries)

    def snapshot(self) -> dict[str, Any]:
        return {
            "suggestion_id": self.suggestion_id,
            "kind": self.kind,
            "subject": self.subject,
            "series_id": self.series_id,
            "case_ids": list(self.case_ids),
            "plan": self.plan,
            "level": self.level.value if self.level else None,
            "lead_adcode": self.lead_adcode,
            "activation_id": self.activation_id,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
        }
