"""Forming a task force: which teams, which tasks for whom, and the chain of command.

* :func:`select_teams` takes up to ``teams_per_county`` teams from every affected
  county, skipping unavailable teams and teams at capacity (a county with none
  free borrows one from another county of its city).
* :func:`task_specs` expands the plan's task templates over the situation
  (one task per case, victim case, county, key entity or series).
* :func:`pick_team` chooses the team for one task: in the task's county if
  possible, then the same city, then anywhere in the task force; with the
  template's skill preferred, least loaded first; never beyond capacity.
* :func:`build_groups` arranges the teams under the lead so that no node
  directs more than ``span`` units: up to ``span`` teams directly, otherwise
  sub-groups under city centers (themselves split when larger than ``span``).

Everything is deterministic (ties broken by team id), so replays give the same
task forces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tasking.model import Group
from tasking.org import Organisation, Team
from tasking.plans import Plan
from tasking.rules import Situation

__all__ = [
    "MAX_ENTITY_TASKS",
    "TaskSpec",
    "build_groups",
    "pick_team",
    "select_teams",
    "task_specs",
]

MAX_ENTITY_TASKS = 5
_PLATE = re.compile(r"^[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}$")
_STATUS_ORDER = {"available": 0, "assigned": 1, "en_route": 2, "on_scene": 2}


@dataclass(frozen=True)
class TaskSpec:
    key: str
    kind: str
    title: str
    county: int
    skill: str | None


def _rank(team: Team) -> tuple[int, int, str]:
    return (_STATUS_ORDER.get(team.status, 3), team.load, team.team_id)


def select_teams(plan: Plan, s: Situation, org: Organisation) -> list[Team]:
    """Up to ``plan.teams_per_county`` free teams per affected county. O(teams of the counties)."""
    chosen: list[Team] = []
    taken: set[str] = set()
    for county in s.counties:
        free = sorted((t for t in org.teams_in(county) if t.free > 0), key=_rank)
        if not free and county in org.centers:
            city = org.center(county).parent
            free = sorted(
                (
                    t
                    for t in org.teams.values()
                    if t.city == city and t.free > 0 and t.team_id not in taken
                ),
                key=_rank,
            )[:1]
        for t in free[: plan.teams_per_county]:
            if t.team_id not in taken:
                taken.add(t.team_id)
                chosen.append(t)
    return chosen


def _county_name(org: Organisation, county: int) -> str:
    return org.centers[county].name if county in org.centers else str(county)


def task_specs(plan: Plan, s: Situation, org: Organisation) -> list[TaskSpec]:
    """Tasks the plan's templates call for in situation ``s``. O(templates x cases)."""
    out: list[TaskSpec] = []
    main_county = max(s.county_cases, key=lambda c: s.county_cases[c], default=0)
    plates = [e for e in s.entities if _PLATE.match(e)] or list(s.entities)
    for tpl in plan.tasks:
        if tpl.per in ("case", "victim_case"):
            for c in s.cases:
                if tpl.per == "victim_case" and not any(p.role == "victim" for p in c.persons):
                    continue
                title = tpl.title.format(
                    series_id=s.subject,
                    case_id=c.case_id,
                    address=c.address or f"{c.lon:.5f}, {c.lat:.5f}",
                    county=c.county,
                    county_name=_county_name(org, c.county),
                )
                out.append(
                    TaskSpec(f"{tpl.kind}:{c.case_id}", tpl.kind, title, c.county, tpl.skill)
                )
        elif tpl.per == "county":
            for county in s.counties:
                title = tpl.title.format(
                    series_id=s.subject, county=county, county_name=_county_name(org, county)
                )
                out.append(TaskSpec(f"{tpl.kind}:{county}", tpl.kind, title, county, tpl.skill))
        elif tpl.per == "entity":
            for e in plates[:MAX_ENTITY_TASKS]:
                title = tpl.title.format(series_id=s.subject, entity=e)
                out.append(TaskSpec(f"{tpl.kind}:{e}", tpl.kind, title, main_county, tpl.skill))
        else:  # series
            title = tpl.title.format(series_id=s.subject)
            out.append(TaskSpec(f"{tpl.kind}:{s.subject}", tpl.kind, title, main_county, tpl.skill))
    return out


def pick_team(
    spec: TaskSpec, pool: Sequence[Team], org: Organisation, exclude: Iterable[str] = ()
) -> Team | None:
    """The team for one task, or ``None`` if every team of the pool is full or unavailable."""
    banned = set(exclude)
    free = [t for t in pool if t.free > 0 and t.team_id not in banned]
    if not free:
        return None
    city = org.centers[spec.county].parent if spec.county in org.centers else None

    def key(t: Team) -> tuple[int, int, int, int, str]:
        place = 0 if t.county == spec.county else 1 if t.city == city else 2
        skill = 0 if spec.skill is None or spec.skill in t.skills else 1
        return (place, skill, _STATUS_ORDER.get(t.status, 3), t.load, t.team_id)

    return min(free, key=key)


def _chunk(prefix: str, lead: int, teams: list[str], groups: list[Group], span: int) -> Group:
    """A group led by ``lead`` over ``teams`` and ``groups``, split into sub-groups of at most
    ``span`` units as often as needed."""
    units: list[str | Group] = [*teams, *groups]
    level = 0
    while len(units) > span:
        level += 1
        parts = [units[i : i + span] for i in range(0, len(units), span)]
        units = [
            Group(
                f"{prefix}.{level}-{k + 1}",
                lead,
                tuple(u for u in part if isinstance(u, str)),
                tuple(u for u in part if isinstance(u, Group)),
            )
            for k, part in enumerate(parts)
        ]
    return Group(
        prefix,
        lead,
        tuple(u for u in units if isinstance(u, str)),
        tuple(u for u in units if isinstance(u, Group)),
    )


def build_groups(
    activation_id: str, lead: int, teams: Sequence[Team], org: Organisation, span: int
) -> Group:
    """The chain of command of a task force (see the module docstring). O(teams)."""
    if span < 2:
        raise ValueError(f"span = {span!r}: expected an integer of at least 2")
    ids = [t.team_id for t in teams]
    if len(ids) <= span:
        return Group(activation_id, lead, tuple(ids))
    by_city: dict[int, list[str]] = {}
    for t in teams:
        by_city.setdefault(t.city, []).append(t.team_id)
    direct: list[str] = []
    subgroups: list[Group] = []
    for city in sorted(by_city):
        members = by_city[city]
        if city == lead:
            direct.extend(members)
        else:
            subgroups.append(_chunk(f"{activation_id}/{city}", city, members, [], span))
    return _chunk(activation_id, lead, direct, subgroups, span)
