"""The tasking service: suggestions, activations, dispatch, timers and task commands.

Every change goes through one :class:`TaskingService` (thread-safe: the pipeline
thread and the HTTP API share it) and is written to the audit trail with the
actor, role, event time and the state before and after.

Clock: the service keeps the stream's watermark (:meth:`advance`); timers fire
on it and commands are stamped with it, so a replay gives the same result
every time. Entries the system derives from the stream are keyed in the audit
trail (see :mod:`tasking.audit`), so rebuilding from the journal adds nothing.

In batch mode (``auto_confirm``), every suggestion is confirmed at once, as if a
commander accepted each one immediately.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from graph.cases import Case, CaseBook
from tasking.audit import AuditLog, fingerprint
from tasking.commands import Command, CommandLog
from tasking.dispatch import TaskSpec, build_groups, pick_team, select_teams, task_specs
from tasking.errors import Conflict, NotFound, TaskingError
from tasking.escalation import Escalation
from tasking.levels import Level
from tasking.model import PROGRESS_STATUSES, Activation, Suggestion, Task
from tasking.org import Organisation, Team
from tasking.plans import Plan, PlanBook, PlanError
from tasking.rules import Situation, lead_center, select_plan, situation_of
from tasking.timers import Fired, TimerQueue

__all__ = [
    "AUTO_ACTOR",
    "SYSTEM_ACTOR",
    "Conflict",
    "NotFound",
    "TaskingError",
    "TaskingService",
    "check_plans",
]

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "icc"
AUTO_ACTOR = "batch-auto-confirm"


def check_plans(book: PlanBook, org: Organisation) -> None:
    """Check what the plan file says about the organisation (explicit lead adcodes)."""
    for i, plan in enumerate(book.plans):
        if isinstance(plan.lead, int):
            center = org.centers.get(plan.lead)
            if center is None or center.level is not plan.level:
                raise PlanError(
                    f"{book.source}: plan[{i}].lead = {plan.lead}: expected the adcode of a "
                    f"{plan.level.value} center of {org.center(org.province).name}"
                )


_F = TypeVar("_F", bound=Callable[..., Any])


def command(fn: _F) -> _F:
    """Mark a service method as a command people give: when it succeeds (and is not
    part of another command, a replay or batch auto-confirmation) it is kept in the
    command log with the stream position, to be given again after a restart."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(self: TaskingService, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            outer = self._depth == 0
            self._depth += 1
            try:
                result = fn(self, *args, **kwargs)
            finally:
                self._depth -= 1
            if (
                outer
                and self.commands is not None
                and not self._replaying
                and kwargs.get("actor") != AUTO_ACTOR
            ):
                self.commands.append(self.position, name, args, kwargs, self.now)
            return result

    return wrapper  # type: ignore[return-value]


class TaskingService(Escalation):
    """Suggestions, activations and tasks over an organisation, a plan book and the cases."""

    def __init__(
        self,
        org: Organisation,
        book: PlanBook,
        audit: AuditLog,
        cases: CaseBook,
        auto_confirm: bool = False,
    ) -> None:
        check_plans(book, org)
        self.org = org
        self.book = book
        self.audit = audit
        self.cases = cases
        self.auto_confirm = auto_confirm
        self.suggestions: dict[str, Suggestion] = {}
        #: series id -> its suggestions made since its last event (the ones that may still be
        #: pending): a series event supersedes them without a scan of every suggestion
        self._since_event: dict[str, list[Suggestion]] = {}
        self.activations: dict[str, Activation] = {}
        self.tasks: dict[str, Task] = {}
        self.timers = TimerQueue()
        self.watermark: dt.datetime | None = None
        self._series: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # cases, entities
        self._active: dict[str, str] = {}  # subject -> active activation id
        self._lock = threading.RLock()
        #: messages the pipeline has applied (set by the sink): where commands happen
        self.position = 0
        self.commands: CommandLog | None = None
        self._backlog: list[Command] = []  # commands of earlier runs not given again yet
        self._depth = 0
        self._replaying = False

    @property
    def lock(self) -> threading.RLock:
        """The service's lock; take it before the audit trail's (never the other way)."""
        return self._lock

    # -- clock -------------------------------------------------------------------
    @property
    def now(self) -> dt.datetime:
        """The stream's watermark (wall clock, UTC, before any event was seen)."""
        return self.watermark or dt.datetime.now(dt.UTC)

    def advance(self, now: dt.datetime | None) -> list[Fired]:
        """Move the watermark to ``now`` (never back) and fire the timers due by then."""
        if now is None:
            return []
        fired: list[Fired] = []
        with self._lock:
            if self.watermark is None or now > self.watermark:
                self.watermark = now
            while (f := self.timers.pop_due(self.watermark)) is not None:
                fired.append(f)
                self._fire(f)
        return fired

    # -- command log -------------------------------------------------------------------
    def attach_commands(self, log_: CommandLog) -> None:
        """Keep commands in ``log_`` from now on; the ones it holds from earlier runs are
        given again by :meth:`replay_commands` as the journal replay reaches them."""
        with self._lock:
            self.commands = log_
            self._backlog = log_.all()

    def command_positions(self) -> list[int]:
        """Where in the journal the earlier runs' commands were given (message counts)."""
        with self._lock:
            return sorted({c.position for c in self._backlog})

    def replay_commands(self) -> int:
        """Give again the earlier runs' commands whose position the pipeline has reached
        (their audit entries exist already and are not written twice). A command that no
        longer applies is logged and skipped. Returns how many were given."""
        done = 0
        with self._lock:
            while self._backlog and self._backlog[0].position <= self.position:
                cmd = self._backlog.pop(0)
                self._replaying = True
                try:
                    getattr(self, cmd.name)(*cmd.args, **cmd.kwargs)
                    done += 1
                except (TaskingError, AttributeError, TypeError) as exc:
                    log.warning(
                        "command %d (%s at message %d) not restored: %s",
                        cmd.seq, cmd.name, cmd.position, exc,
                    )  # fmt: skip
                finally:
                    self._replaying = False
        return done

    # -- audit helper --------------------------------------------------------------
    def _record(
        self, action: str, key: str | None, *, at: dt.datetime | None = None, **kw: Any
    ) -> None:
        if self._replaying:
            return  # what the command did was recorded when it was first given
        kw.setdefault("actor", SYSTEM_ACTOR)
        kw.setdefault("role", "system")
        self.audit.record(action, at=at or self.now, key=key, **kw)

    @staticmethod
    def _sub(key: str | None, part: str) -> str | None:
        return f"{key}/{part}" if key else None

    # -- situations ------------------------------------------------------------------
    def _cases(self, case_ids: Iterable[str]) -> list[Case]:
        out = [c for c in (self.cases.get(cid) for cid in case_ids) if c is not None]
        return out

    def _situation(self, subject: str, case_ids: Iterable[str]) -> Situation:
        case_ids = tuple(case_ids)
        entities = self._series.get(subject, ((), ()))[1]
        cases = self._cases(case_ids)
        if not cases:
            raise NotFound(f"none of the cases {', '.join(case_ids)} is known")
        return situation_of(subject, cases, entities)

    # -- suggestions -------------------------------------------------------------------
    def on_series(
        self, kind: str, series_id: str, case_ids: Iterable[str], entities: Iterable[str] = ()
    ) -> Suggestion | None:
        """React to a linkage series event (created / updated / dissolved)."""
        case_ids = tuple(sorted(case_ids))
        with self._lock:
            for s in self._since_event.pop(series_id, ()):
                if s.status == "pending":
                    s.status = "superseded"
            act = self._activation_of(series_id)
            if kind == "dissolved":
                self._series.pop(series_id, None)
                if act is None:
                    return None
                sugg = self._new_suggestion("stand_down", series_id, case_ids, None, act)
            else:
                self._series[series_id] = (case_ids, tuple(entities))
                s = self._situation(series_id, case_ids)
                plan = select_plan(self.book, s)
                if plan is None:
                    log.debug("series %s: no plan triggers", series_id)
                    return None
                if act is None:
                    kind_ = "activate"
                elif plan.name != act.plan:
                    kind_ = "change_level"  # another level, or another plan of the same level
                elif set(case_ids) != set(act.case_ids):
                    kind_ = "extend"
                else:
                    return None
                sugg = self._new_suggestion(kind_, series_id, case_ids, (plan, s), act)
            if self.auto_confirm:
                self.confirm(
                    sugg.suggestion_id, actor=AUTO_ACTOR, role="commander", key=f"auto:{sugg.key}"
                )
            return sugg

    def _activation_of(self, subject: str) -> Activation | None:
        aid = self._active.get(subject)
        return self.activations[aid] if aid is not None else None

    def _new_suggestion(
        self,
        kind: str,
        series_id: str,
        case_ids: tuple[str, ...],
        planned: tuple[Plan, Situation] | None,
        act: Activation | None,
    ) -> Suggestion:
        sid = f"SG-{len(self.suggestions) + 1:04d}"
        plan, level, lead = None, None, None
        if planned is not None:
            plan, level = planned[0].name, planned[0].level
            lead = lead_center(planned[0], planned[1], self.org)
        sugg = Suggestion(
            sid,
            kind,
            series_id,
            series_id,
            case_ids,
            plan,
            level,
            lead,
            self.now,
            activation_id=act.activation_id if act else None,
        )
        self.suggestions[sid] = sugg
        self._since_event.setdefault(series_id, []).append(sugg)
        sugg.key = fingerprint(sid, kind, series_id, plan or "", *case_ids)
        self._record(
            "suggested",
            f"suggestion:{sugg.key}",
            series_id=series_id,
            activation_id=sugg.activation_id,
            case_ids=case_ids,
            after=sugg.snapshot(),
        )
        return sugg

    def _pending(self, suggestion_id: str) -> Suggestion:
        """The suggestion, if it is still pending; NotFound / Conflict otherwise."""
        sugg = self.suggestions.get(suggestion_id)
        if sugg is None:
            raise NotFound(f"no suggestion {suggestion_id!r}")
        if sugg.status != "pending":
            raise Conflict(f"suggestion {suggestion_id} is {sugg.status}, not pending")
        return sugg

    @command
    def confirm(
        self, suggestion_id: str, *, actor: str, role: str, key: str | None = None
    ) -> Activation:
        """Carry out a pending suggestion (one commander action)."""
        with self._lock:
            sugg = self._pending(suggestion_id)
            sugg.status = "confirmed"
            self._record(
                "suggestion_confirmed",
                self._sub(key, "confirm"),
                actor=actor,
                role=role,
                series_id=sugg.series_id,
                case_ids=sugg.case_ids,
                before={"status": "pending"},
                after={"status": "confirmed"},
                detail=suggestion_id,
            )
            if sugg.kind == "activate":
                return self.activate(
                    series_id=sugg.series_id, plan=sugg.plan, actor=actor, role=role, key=key
                )
            assert sugg.activation_id is not None
            if sugg.kind == "stand_down":
                return self.stand_down(
                    sugg.activation_id, actor=actor, role=role, reason="series dissolved", key=key
                )
            if sugg.kind == "change_level":
                assert sugg.level is not None
                return self.change_level(
                    sugg.activation_id, sugg.level, actor=actor, role=role, plan=sugg.plan, key=key
                )
            return self.extend(sugg.activation_id, actor=actor, role=role, key=key)

    def set_auto_confirm(self, on: bool = True) -> list[Activation]:
        """Batch mode: confirm every suggestion at once from now on, and the pending ones now."""
        with self._lock:
            self.auto_confirm = on
            done = []
            if on:
                for sugg in list(self.suggestions.values()):
                    if sugg.status == "pending":
                        done.append(
                            self.confirm(
                                sugg.suggestion_id,
                                actor=AUTO_ACTOR,
                                role="commander",
                                key=f"auto:{sugg.key}",
                            )
                        )
            return done

    @command
    def dismiss(self, suggestion_id: str, *, actor: str, role: str, reason: str) -> Suggestion:
        with self._lock:
            sugg = self._pending(suggestion_id)
            sugg.status = "dismissed"
            self._record(
                "suggestion_dismissed",
                None,
                actor=actor,
                role=role,
                series_id=sugg.series_id,
                case_ids=sugg.case_ids,
                before={"status": "pending"},
                after={"status": "dismissed"},
                detail=reason,
            )
            return sugg

    # -- activations -------------------------------------------------------------------
    @command
    def activate(
        self,
        *,
        actor: str,
        role: str,
        series_id: str | None = None,
        case_id: str | None = None,
        plan: str | None = None,
        level: Level | str | None = None,
        key: str | None = None,
    ) -> Activation:
        """Activate a plan on a series or a single case; returns the new activation.

        The plan is ``plan`` if named, else the first that triggers (at ``level`` if given).
        """
        if (series_id is None) == (case_id is None):
            raise TaskingError("expected exactly one of series_id or case_id")
        with self._lock:
            if series_id is not None:
                known = self._series.get(series_id)
                if known is None:
                    raise NotFound(f"no current series {series_id!r}")
                subject, case_ids = series_id, known[0]
            else:
                assert case_id is not None
                if self.cases.get(case_id) is None:
                    raise NotFound(f"no case {case_id!r}")
                subject, case_ids = case_id, (case_id,)
            if subject in self._active:
                raise Conflict(
                    f"{subject} already has the active activation {self._active[subject]}"
                )
            s = self._situation(subject, case_ids)
            chosen = self._choose(plan, level, s)
            aid = f"A-{len(self.activations) + 1:04d}"
            act = Activation(
                aid,
                subject,
                series_id,
                s.case_ids,
                chosen.name,
                chosen.level,
                lead_center(chosen, s, self.org),
                self.now,
            )
            self.activations[aid] = act
            self._active[subject] = aid
            self._record(
                "activated",
                self._sub(key, "activate"),
                actor=actor,
                role=role,
                activation_id=aid,
                series_id=series_id,
                case_ids=act.case_ids,
                before=None,
                after={"plan": chosen.name, "level": chosen.level.value, "lead": act.lead_adcode},
            )
            self._deploy(act, chosen, s, actor, role, key)
            return act

    def _choose(self, plan: str | None, level: Level | str | None, s: Situation) -> Plan:
        if plan is not None:
            try:
                return self.book.by_name(plan)
            except KeyError as exc:
                raise NotFound(str(exc.args[0])) from None
        try:
            lv = Level.parse(level) if level is not None else None
        except ValueError as exc:
            raise TaskingError(str(exc)) from None
        chosen = select_plan(self.book, s, at_level=lv)
        if chosen is None:
            raise Conflict(f"no plan triggers for {s.subject}; name a plan or a level")
        return chosen

    def _get_active(self, activation_id: str) -> Activation:
        act = self.activations.get(activation_id)
        if act is None:
            raise NotFound(f"no activation {activation_id!r}")
        if act.status != "active":
            raise Conflict(f"activation {activation_id} is {act.status}")
        return act

    @command
    def change_level(
        self,
        activation_id: str,
        level: Level | str,
        *,
        actor: str,
        role: str,
        plan: str | None = None,
        key: str | None = None,
    ) -> Activation:
        """Escalate or de-escalate: the plan of ``level`` takes over, with its lead and tasks."""
        with self._lock:
            act = self._get_active(activation_id)
            s = self._situation(act.subject, self._current_cases(act))
            try:
                lv = Level.parse(level)
            except ValueError as exc:
                raise TaskingError(str(exc)) from None
            chosen = self._choose(plan, lv, s)
            before = {"plan": act.plan, "level": act.level.value, "lead": act.lead_adcode}
            act.plan, act.level = chosen.name, chosen.level
            act.lead_adcode = lead_center(chosen, s, self.org)
            act.case_ids = s.case_ids
            self._record(
                "level_changed",
                self._sub(key, "level"),
                actor=actor,
                role=role,
                activation_id=act.activation_id,
                series_id=act.series_id,
                case_ids=act.case_ids,
                before=before,
                after={"plan": act.plan, "level": act.level.value, "lead": act.lead_adcode},
            )
            self._deploy(act, chosen, s, actor, role, key)
            return act

    def _current_cases(self, act: Activation) -> tuple[str, ...]:
        if act.series_id is not None and act.series_id in self._series:
            return self._series[act.series_id][0]
        return act.case_ids

    @command
    def extend(
        self, activation_id: str, *, actor: str, role: str, key: str | None = None
    ) -> Activation:
        """Bring an activation up to date with its series' current cases (same plan)."""
        with self._lock:
            act = self._get_active(activation_id)
            s = self._situation(act.subject, self._current_cases(act))
            before = list(act.case_ids)
            act.case_ids = s.case_ids
            self._record(
                "extended",
                self._sub(key, "extend"),
                actor=actor,
                role=role,
                activation_id=act.activation_id,
                series_id=act.series_id,
                case_ids=act.case_ids,
                before={"case_ids": before},
                after={"case_ids": list(act.case_ids)},
            )
            self._deploy(act, self.book.by_name(act.plan), s, actor, role, key)
            return act

    @command
    def stand_down(
        self,
        activation_id: str,
        *,
        actor: str,
        role: str,
        reason: str | None = None,
        key: str | None = None,
    ) -> Activation:
        """End an activation: open tasks are cancelled and their teams released."""
        with self._lock:
            act = self._get_active(activation_id)
            for tid in act.task_ids:
                task = self.tasks[tid]
                if task.open or task.status == "unassigned":
                    self._set_status(task, "cancelled", actor, role, self._sub(key, tid), reason)
            act.status = "stood_down"
            self._active.pop(act.subject, None)
            self._record(
                "stood_down",
                self._sub(key, "stand_down"),
                actor=actor,
                role=role,
                activation_id=act.activation_id,
                series_id=act.series_id,
                case_ids=act.case_ids,
                team_ids=act.teams,
                before={"status": "active"},
                after={"status": "stood_down"},
                detail=reason,
            )
            self._fill_unassigned(key)
            return act

    # -- dispatch ----------------------------------------------------------------------
    def _deploy(
        self, act: Activation, plan: Plan, s: Situation, actor: str, role: str, key: str | None
    ) -> None:
        """Create the tasks ``plan`` calls for that ``act`` lacks, cancel those it no longer
        calls for, and rebuild the task force and its chain of command."""
        specs = task_specs(plan, s, self.org)
        wanted = {sp.key for sp in specs}
        have: dict[str, Task] = {}
        for tid in act.task_ids:
            task = self.tasks[tid]
            if task.status == "cancelled":
                continue
            if task.key not in wanted and (task.open or task.status == "unassigned"):
                self._set_status(task, "cancelled", actor, role, self._sub(key, tid), "not in plan")
                continue
            have[task.key] = task
        pool = select_teams(plan, s, self.org)
        ids = {t.team_id for t in pool}
        for task in have.values():
            if task.open and task.team_id and task.team_id not in ids:
                pool.append(self.org.teams[task.team_id])
                ids.add(task.team_id)
        for spec in specs:
            if spec.key in have:
                continue
            task = Task(
                f"{act.activation_id}-T{len(act.task_ids) + 1:02d}",
                act.activation_id,
                spec.key,
                spec.kind,
                spec.title,
                spec.county,
                spec.skill,
                self.now,
            )
            self.tasks[task.task_id] = task
            act.task_ids.append(task.task_id)
            team = pick_team(spec, pool, self.org)
            self._record(
                "task_created",
                self._sub(key, f"{task.task_id}:created"),
                actor=actor,
                role=role,
                activation_id=act.activation_id,
                task_id=task.task_id,
                series_id=act.series_id,
                after=task.snapshot(),
            )
            if team is not None:
                self._dispatch(
                    task, team, plan, self.now, actor, role, self._sub(key, task.task_id)
                )
        act.teams = tuple(t.team_id for t in pool)
        act.group = build_groups(
            act.activation_id, act.lead_adcode, pool, self.org, self.book.span_of_control
        )
        self._record(
            "task_force_formed",
            self._sub(key, f"force:{len(act.task_ids)}:{act.plan}"),
            actor=actor,
            role=role,
            activation_id=act.activation_id,
            series_id=act.series_id,
            team_ids=act.teams,
            after=act.snapshot(),
        )

    def _dispatch(
        self,
        task: Task,
        team: Team,
        plan: Plan,
        at: dt.datetime,
        actor: str,
        role: str,
        key: str | None,
    ) -> None:
        before = task.snapshot()
        task.team_id, task.status = team.team_id, "pending"
        task.dispatched_at, task.ack_due = at, at + plan.ack_deadline
        team.open_tasks.add(task.task_id)
        self.timers.schedule(task.task_id, task.ack_due, -1)
        self._record(
            "task_dispatched",
            self._sub(key, "dispatch"),
            at=at,
            actor=actor,
            role=role,
            activation_id=task.activation_id,
            task_id=task.task_id,
            team_ids=[team.team_id],
            before={"status": before["status"], "team_id": before["team_id"]},
            after={
                "status": "pending",
                "team_id": team.team_id,
                "ack_due": task.ack_due.isoformat(),
            },
        )

    def _release(self, task: Task) -> None:
        if task.team_id is not None and task.team_id in self.org.teams:
            self.org.teams[task.team_id].open_tasks.discard(task.task_id)
        self.timers.cancel(task.task_id)

    def _set_status(
        self,
        task: Task,
        status: str,
        actor: str,
        role: str,
        key: str | None,
        detail: str | None = None,
    ) -> None:
        before = task.status
        task.status = status
        if status in ("cancelled", "completed"):
            self._release(task)
        elif status != "pending":
            self.timers.cancel(task.task_id)
        self._record(
            f"task_{status}",
            key,
            actor=actor,
            role=role,
            activation_id=task.activation_id,
            task_id=task.task_id,
            team_ids=[task.team_id] if task.team_id else [],
            before={"status": before},
            after={"status": status},
            detail=detail,
        )

    def _fill_unassigned(self, key: str | None = None) -> None:
        """Give waiting (unassigned) tasks of active activations to teams with free capacity."""
        for act in self.activations.values():
            if act.status != "active":
                continue
            plan = self._plan_or_none(act.plan)
            if plan is None:
                continue
            pool = [self.org.teams[t] for t in act.teams if t in self.org.teams]
            for tid in act.task_ids:
                task = self.tasks[tid]
                if task.status != "unassigned":
                    continue
                spec = TaskSpec(task.key, task.kind, task.title, task.county, task.skill)
                team = pick_team(spec, pool, self.org, exclude=task.declined_by)
                if team is None:
                    continue
                self._dispatch(
                    task,
                    team,
                    plan,
                    self.now,
                    SYSTEM_ACTOR,
                    "system",
                    self._sub(key, f"{tid}:fill:{team.team_id}"),
                )

    def _plan_or_none(self, name: str) -> Plan | None:
        try:
            return self.book.by_name(name)
        except KeyError:
            return None

    # -- task commands -----------------------------------------------------------------
    def task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise NotFound(f"no task {task_id!r}")
        return task

    @command
    def acknowledge(self, task_id: str, *, actor: str, role: str) -> Task:
        with self._lock:
            task = self.task(task_id)
            if task.status != "pending":
                raise Conflict(
                    f"task {task_id} is {task.status}; only a pending task can be acknowledged"
                )
            task.acknowledged_at = self.now
            self._set_status(task, "acknowledged", actor, role, None)
            return task

    @command
    def update_status(self, task_id: str, status: str, *, actor: str, role: str) -> Task:
        if status not in PROGRESS_STATUSES:
            raise TaskingError(
                f"status = {status!r}: expected one of {', '.join(PROGRESS_STATUSES)}"
            )
        with self._lock:
            task = self.task(task_id)
            if task.status not in ("acknowledged", *PROGRESS_STATUSES):
                raise Conflict(f"task {task_id} is {task.status}; acknowledge it first")
            self._set_status(task, status, actor, role, None)
            return task

    @command
    def complete(self, task_id: str, *, actor: str, role: str, note: str | None = None) -> Task:
        with self._lock:
            task = self.task(task_id)
            if task.status not in ("acknowledged", *PROGRESS_STATUSES):
                raise Conflict(
                    f"task {task_id} is {task.status}; only an acknowledged task can be completed"
                )
            task.reason = note
            self._set_status(task, "completed", actor, role, None, note)
            self._fill_unassigned()
            return task

    @command
    def decline(self, task_id: str, reason: str, *, actor: str, role: str) -> Task:
        """The team turns the task down (with a reason); it goes to another team if one is free."""
        if not isinstance(reason, str) or not reason.strip():
            raise TaskingError(
                "reason: expected a non-empty string saying why the task is declined"
            )
        with self._lock:
            task = self.task(task_id)
            if task.status != "pending":
                raise Conflict(
                    f"task {task_id} is {task.status}; only a pending task can be declined"
                )
            team_id = task.team_id
            self._release(task)
            task.declined_by = (*task.declined_by, *([team_id] if team_id else []))
            task.reason = reason.strip()
            self._record(
                "task_declined",
                None,
                actor=actor,
                role=role,
                activation_id=task.activation_id,
                task_id=task.task_id,
                team_ids=[team_id] if team_id else [],
                before={"status": "pending", "team_id": team_id},
                after={"status": "unassigned", "team_id": None},
                detail=task.reason,
            )
            task.status, task.team_id = "unassigned", None
            act = self.activations[task.activation_id]
            plan = self._plan_or_none(act.plan)
            team = self._other_team(task, act) if act.status == "active" else None
            if team is not None and plan is not None:
                if team.team_id not in act.teams:
                    act.teams = (*act.teams, team.team_id)
                self._dispatch(task, team, plan, self.now, actor, role, None)
            self._fill_unassigned()
            return task

    # -- team status -------------------------------------------------------------------
    def team_status(
        self, team_id: str, status: str, at: dt.datetime, lon: float | None, lat: float | None
    ) -> None:
        with self._lock:
            team = self.org.teams.get(team_id)
            was = team.status if team is not None else None
            if self.org.apply_status(team_id, status, at, lon, lat) and was == "unavailable":
                self._fill_unassigned()

    # -- reads -------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        """The batch-mode export: every activation with its teams and tasks."""
        with self._lock:
            out = []
            for act in sorted(self.activations.values(), key=lambda a: a.activation_id):
                d = act.snapshot()
                d["tasks"] = [
                    {
                        "task_id": t.task_id,
                        "team_id": t.team_id,
                        "kind": t.kind,
                        "status": t.status,
                        "county": t.county,
                        "escalations": t.escalation_step + 1,
                        "escalated_to": t.escalated_to,
                    }
                    for t in (self.tasks[tid] for tid in act.task_ids)
                ]
                out.append(d)
            return {"activations": out}

    def suggestion_list(self) -> list[Suggestion]:
        with self._lock:
            return list(self.suggestions.values())

    def activation_list(self) -> list[Activation]:
        with self._lock:
            return list(self.activations.values())

    def series_cases(self, series_id: str) -> tuple[str, ...]:
        """The current cases of a series (empty if unknown)."""
        with self._lock:
            return self._series.get(series_id, ((), ()))[0]

    def tasks_of(self, team_id: str | None = None) -> list[Task]:
        with self._lock:
            return [t for t in self.tasks.values() if team_id is None or t.team_id == team_id]
