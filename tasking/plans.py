"""Contingency plans as data: a TOML file validated at start.

A plan says *when* it applies (trigger), *who leads* (level and lead rule),
*who takes part* (team scope), *what to do* (task templates) and *how fast*
(acknowledgement deadline and an ordered escalation chain). Plans are tried
from the highest level down, in file order within a level; the first whose
trigger holds is the one suggested (:mod:`tasking.rules`).

Schema (every key but ``name``/``level`` optional)::

    [dispatch]
    span_of_control = 8                 # teams a lead directs directly

    [[plan]]
    name = "city-cross-county"
    level = "city"                      # county | city | province (never a number)
    lead = "majority"                   # majority | first | <adcode of a center at `level`>
    teams_per_county = 1                # teams taken from every affected county
    [plan.trigger]                      # all given conditions must hold
    categories = ["theft.*"]            # shell patterns; any category of the series matches
    min_cases = 2                       # also max_cases
    min_counties = 2                    # also max_counties, min_cities, max_cities
    min_total_loss_cny = 0
    min_victims = 0
    [plan.ack]
    deadline = "30m"                    # from dispatch, in event time
    [[plan.escalation]]                 # ordered; `after` counts from the previous step
                                        # (the first from the ack deadline)
    after = "15m"
    action = "renotify"                 # renotify | reassign | escalate (to the parent tier)
    [[plan.task]]
    kind = "anpr"
    title = "Pull ANPR records around scene {case_id} ({address})"
    per = "case"                        # case | victim_case | county | entity | series
    skill = "anpr"                      # preferred team skill

Title placeholders: ``{series_id}`` always; ``{case_id}``, ``{address}``,
``{county}`` and ``{county_name}`` with ``per = "case"``/``"victim_case"``;
``{county}``/``{county_name}`` with ``per = "county"``; ``{entity}`` with
``per = "entity"``. A bad file raises :class:`PlanError` naming the key.

Example
-------
>>> book = load_plans()                # the packaged tasking/plans.toml
>>> [p.name for p in book.plans][:1]
['province-fraud']
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import string as _string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasking.levels import Level
from tasking.schema import (
    SchemaError,
    duration,
    integer,
    load_toml,
    no_unknown_keys,
    number,
    string,
    strings,
    table,
    tables,
)

__all__ = [
    "DEFAULT_PLANS",
    "ESCALATION_ACTIONS",
    "TASK_SCOPES",
    "EscalationStep",
    "Plan",
    "PlanBook",
    "PlanError",
    "TaskTemplate",
    "Trigger",
    "load_plans",
]

DEFAULT_PLANS = Path(__file__).with_name("plans.toml")
ESCALATION_ACTIONS = ("renotify", "reassign", "escalate")
TASK_SCOPES = ("case", "victim_case", "county", "entity", "series")
LEAD_RULES = ("majority", "first")
_FIELDS = {
    "case": {"series_id", "case_id", "address", "county", "county_name"},
    "victim_case": {"series_id", "case_id", "address", "county", "county_name"},
    "county": {"series_id", "county", "county_name"},
    "entity": {"series_id", "entity"},
    "series": {"series_id"},
}
_TRIGGER_INTS = (
    "min_cases",
    "max_cases",
    "min_counties",
    "max_counties",
    "min_cities",
    "max_cities",
    "min_victims",
)


class PlanError(SchemaError):
    """The plan file is invalid; the message names the bad key and what was expected."""


@dataclass(frozen=True)
class Trigger:
    categories: tuple[str, ...] = ("*",)
    min_cases: int = 1
    max_cases: int | None = None
    min_counties: int = 0
    max_counties: int | None = None
    min_cities: int = 0
    max_cities: int | None = None
    min_total_loss_cny: float = 0.0
    min_victims: int = 0

    def category_matches(self, categories: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatchcase(c, p) for c in categories for p in self.categories)


@dataclass(frozen=True)
class TaskTemplate:
    kind: str
    title: str
    per: str
    skill: str | None = None


@dataclass(frozen=True)
class EscalationStep:
    after: dt.timedelta
    action: str


@dataclass(frozen=True)
class Plan:
    name: str
    level: Level
    lead: str | int  # "majority" | "first" | adcode
    teams_per_county: int
    trigger: Trigger
    ack_deadline: dt.timedelta
    escalation: tuple[EscalationStep, ...]
    tasks: tuple[TaskTemplate, ...]


@dataclass(frozen=True)
class PlanBook:
    """The validated plans of one file, and the dispatch settings."""

    plans: tuple[Plan, ...]
    span_of_control: int = 8
    source: str = "plans.toml"

    def by_name(self, name: str) -> Plan:
        for p in self.plans:
            if p.name == name:
                return p
        raise KeyError(f"no plan named {name!r}; plans: {', '.join(p.name for p in self.plans)}")

    def ordered(self) -> list[Plan]:
        """Highest level first, file order within a level (the order rules try them in)."""
        return sorted(self.plans, key=lambda p: -p.level.rank)


def _trigger(d: dict[str, Any], where: str) -> Trigger:
    no_unknown_keys(d, ("categories", "min_total_loss_cny", *_TRIGGER_INTS), where)
    ints: dict[str, int | None] = {}
    for key in _TRIGGER_INTS:
        ints[key] = integer(d, key, where, None, 0, 1_000_000) if key in d else None
    cats = strings(d, "categories", where, ["*"])
    for lo, hi in (("min_cases", "max_cases"), ("min_counties", "max_counties")):
        if ints[lo] is not None and ints[hi] is not None and ints[lo] > ints[hi]:  # type: ignore[operator]
            raise PlanError(f"{where}.{hi} = {ints[hi]}: expected at least {lo} ({ints[lo]})")
    return Trigger(
        categories=cats,
        min_cases=ints["min_cases"] if ints["min_cases"] is not None else 1,
        max_cases=ints["max_cases"],
        min_counties=ints["min_counties"] or 0,
        max_counties=ints["max_counties"],
        min_cities=ints["min_cities"] or 0,
        max_cities=ints["max_cities"],
        min_total_loss_cny=number(d, "min_total_loss_cny", where, 0.0) or 0.0,
        min_victims=ints["min_victims"] or 0,
    )


def _task(d: dict[str, Any], where: str) -> TaskTemplate:
    no_unknown_keys(d, ("kind", "title", "per", "skill"), where)
    kind = string(d, "kind", where)
    per = string(d, "per", where, "case", TASK_SCOPES)
    title = string(d, "title", where)
    try:
        names = {f for _, f, _, _ in _string.Formatter().parse(title) if f is not None}
    except ValueError as exc:
        raise PlanError(f"{where}.title = {title!r}: expected a valid template ({exc})") from None
    bad = sorted(names - _FIELDS[per])
    if bad:
        raise PlanError(
            f"{where}.title = {title!r}: placeholder {{{bad[0]}}} is not available with "
            f"per = {per!r}; expected any of {', '.join(sorted(_FIELDS[per]))}"
        )
    skill = string(d, "skill", where) if "skill" in d else None
    return TaskTemplate(kind, title, per, skill)


def _plan(d: dict[str, Any], where: str) -> Plan:
    no_unknown_keys(
        d,
        ("name", "level", "lead", "teams_per_county", "trigger", "ack", "escalation", "task"),
        where,
    )
    name = string(d, "name", where)
    try:
        level = Level.parse(d.get("level"), f"{where}.level")
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    lead_raw = d.get("lead", "majority")
    lead: str | int
    by_code = isinstance(lead_raw, int) and not isinstance(lead_raw, bool) and lead_raw > 0
    if by_code or isinstance(lead_raw, str) and lead_raw in LEAD_RULES:
        lead = lead_raw
    else:
        raise PlanError(
            f"{where}.lead = {lead_raw!r}: expected one of {', '.join(LEAD_RULES)} "
            "or the adcode of a center at the plan's level"
        )
    per_county = integer(d, "teams_per_county", where, 1, 1, 20)
    trigger = _trigger(table(d, "trigger", where), f"{where}.trigger")
    ack = table(d, "ack", where)
    no_unknown_keys(ack, ("deadline",), f"{where}.ack")
    deadline = duration(ack, "deadline", f"{where}.ack", "30m")
    steps = []
    for i, s in enumerate(tables(d, "escalation", where)):
        w = f"{where}.escalation[{i}]"
        no_unknown_keys(s, ("after", "action"), w)
        steps.append(
            EscalationStep(
                duration(s, "after", w, None), string(s, "action", w, None, ESCALATION_ACTIONS)
            )
        )
    tasks = [_task(t, f"{where}.task[{i}]") for i, t in enumerate(tables(d, "task", where))]
    if not tasks:
        raise PlanError(f"{where}.task: missing; expected at least one [[plan.task]]")
    return Plan(name, level, lead, per_county, trigger, deadline, tuple(steps), tuple(tasks))


def load_plans(path: Path | None = None) -> PlanBook:
    """Read and validate a plan file (default: the packaged ``tasking/plans.toml``).

    Raises :class:`PlanError` whose message starts with the file name and names the
    bad key, the value and what was expected. O(plans x templates).
    """
    path = Path(path) if path is not None else DEFAULT_PLANS
    try:
        data = load_toml(path)
        return _book(data, path.name)
    except PlanError:
        raise
    except SchemaError as exc:
        raise PlanError(f"{path.name}: {exc}") from None


def _book(data: dict[str, Any], source: str) -> PlanBook:
    no_unknown_keys(data, ("dispatch", "plan"), "")
    dispatch = table(data, "dispatch", "")
    no_unknown_keys(dispatch, ("span_of_control",), "dispatch")
    span = integer(dispatch, "span_of_control", "dispatch", 8, 2, 100)
    raw = tables(data, "plan", "")
    if not raw:
        raise PlanError(f"{source}: plan: missing; expected at least one [[plan]]")
    plans: list[Plan] = []
    seen: set[str] = set()
    for i, d in enumerate(raw):
        where = f"plan[{i}]"
        try:
            p = _plan(d, where)
        except SchemaError as exc:
            raise PlanError(f"{source}: {exc}") from None
        if p.name in seen:
            raise PlanError(f"{source}: {where}.name = {p.name!r}: expected a unique plan name")
        seen.add(p.name)
        plans.append(p)
    return PlanBook(tuple(plans), span, source)
