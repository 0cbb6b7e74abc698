"""The command panel: plan suggestions, one-click confirm, manual activation, the task board.

:class:`CommandDesk` is what one signed-in user may see of tasking and do with it,
decided on the server for every request:

=================  ===========================================================
role               in the command panel
=================  ===========================================================
``commander``      suggestions with *Confirm*, manual activation, the task board
                   with *Escalate* / *De-escalate* / *Stand down*
``analyst``,       the activations and the task board, read-only
``case_officer``
``county_team``    the tasks of its own jurisdiction, read-only
=================  ===========================================================

Scoping: a suggestion or activation is shown when one of its cases is visible to the
user (:class:`~dashboard.scope.ScopedReader`), one of its tasks is in the user's
jurisdiction, or its lead center is; a task is shown when its county (or its team's
county) is in the jurisdiction. A commander may act on an activation or confirm a
suggestion only if its lead center is the commander's own or one below it (the rule
of the tasking API); manual activation needs a case in the jurisdiction, at a level
no higher than the commander's own. Every action goes through
:class:`~tasking.service.TaskingService`, so the tasking audit trail records the user
and role; refusals are logged and written to the dashboard audit log.

Timers run on event time (the stream's watermark, ``service.now``), the clock the
escalations fire on, so what the board counts down is what tasking will act on.

Example
-------
>>> desk = CommandDesk(service, reader, name_of)  # doctest: +SKIP
>>> desk.confirm(user, "SG-0007").text  # doctest: +SKIP
'Confirmed SG-0007: activation A-0001 (city-cross-county, city level), 4 tasks.'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import dcc, html

from dashboard.auth import ROLES, User, jurisdiction_level
from dashboard.query import CaseView, StateReader
from dashboard.scope import Scope, ScopedReader
from tasking.errors import TaskingError
from tasking.levels import LEVEL_NAMES, Level
from tasking.model import Activation, Suggestion, Task
from tasking.service import TaskingService

__all__ = [
    "ACTING_ROLE",
    "ActivationRow",
    "CommandDesk",
    "CommandView",
    "Outcome",
    "SuggestionRow",
    "TaskRow",
    "board",
    "command_panel",
    "fmt_timer",
    "suggestion_cards",
]

log = logging.getLogger(__name__)

#: the only role that may act in the command panel
ACTING_ROLE = "commander"
#: roles that see the activations and the task board (read-only unless commander)
BOARD_ROLES = frozenset({"commander", "analyst", "case_officer"})
TIER_LABELS = {"province": "Province tier", "city": "City tier", "county": "County tier"}
_CST = dt.timezone(dt.timedelta(hours=8))
#: cases offered for manual activation (newest first; the dropdown is searchable)
MAX_CASE_OPTIONS = 300
AUTO_LEVEL = "auto"
#: newest suggestions shown open; the rest are folded under "N more suggestions"
SHOWN_SUGGESTIONS = 4


@dataclass(frozen=True)
class Outcome:
    """What an action did, as the sentence shown in the panel."""

    ok: bool
    text: str


@dataclass(frozen=True)
class SuggestionRow:
    suggestion_id: str
    kind: str
    subject: str
    plan: str | None
    level: str | None
    lead: str
    reason: str
    can_confirm: bool
    why_not: str | None


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    team: str
    kind: str
    title: str
    status: str
    where: str
    ack_due: str | None  # HH:MM in China Standard Time
    seconds_left: int | None  # to the acknowledgement deadline (pending tasks only)
    escalated: str | None  # "escalated to <center>" / "re-notified"
    overdue: bool


@dataclass(frozen=True)
class ActivationRow:
    activation_id: str
    subject: str
    plan: str
    level: str
    lead: str
    status: str
    cases_shown: int
    cases_elsewhere: int
    tasks: tuple[TaskRow, ...]
    tasks_elsewhere: int
    can_act: bool
    can_escalate: bool
    can_deescalate: bool


@dataclass(frozen=True)
class CommandView:
    """Everything the panel shows to one user (only what the user may see)."""

    role: str
    can_act: bool
    now: str
    suggestions: tuple[SuggestionRow, ...]
    activations: tuple[ActivationRow, ...]
    subjects: tuple[tuple[str, str], ...]  # (value, label) for manual activation
    levels: tuple[str, ...]  # levels this user may activate at

    def signature(self, subjects: bool = False) -> str:
        """A digest of what is drawn (the panel is redrawn only when it changes); with
        ``subjects``, of the manual-activation choices alone."""
        what = self.subjects if subjects else (self.suggestions, self.activations, self.now)
        return hashlib.sha256(repr(what).encode("utf-8")).hexdigest()[:16]


def fmt_timer(seconds: int | None) -> str:
    """``12:05 left`` / ``overdue 3:10`` / ``1 h 02 min left``; ``—`` when not running.

    >>> fmt_timer(725), fmt_timer(-190), fmt_timer(3725), fmt_timer(None)
    ('12:05 left', 'overdue 3:10', '1 h 02 min left', '—')
    """
    if seconds is None:
        return "—"
    n = abs(int(seconds))
    text = f"{n // 3600} h {n % 3600 // 60:02d} min" if n >= 3600 else f"{n // 60}:{n % 60:02d}"
    return f"{text} left" if seconds >= 0 else f"overdue {text}"


def _level_rank(user: User) -> int:
    return LEVEL_NAMES.index(jurisdiction_level(user.jurisdiction))


class CommandDesk:
    """Tasking as one user may see and command it (scoped and checked server-side)."""

    def __init__(
        self,
        service: TaskingService,
        reader: StateReader,
        place_name: Callable[[int], str],
        audit: Any = None,  # dashboard.audit.AuditLog (refusals and commands)
    ) -> None:
        if not isinstance(service, TaskingService):
            raise TypeError(f"service: expected a TaskingService, got {type(service).__name__}")
        self.service = service
        self.reader = reader
        self.place_name = place_name
        self.audit = audit
        self._visible: dict[int, tuple[int, dict[str, CaseView]]] = {}
        self._lock = threading.Lock()
        #: bumped by every command carried out (the page redraws the alert colours then)
        self.revision = 0

    # -- scope -----------------------------------------------------------------------
    def visible_cases(self, user: User) -> Mapping[str, CaseView]:
        """The cases the user may see, by id (cached per jurisdiction and state version)."""
        version = self.reader.version()
        with self._lock:
            hit = self._visible.get(user.jurisdiction)
            if hit is not None and hit[0] == version:
                return hit[1]
        scoped = ScopedReader(self.reader, user)
        ids = {c.case_id: c for c in scoped.cases()}
        with self._lock:
            self._visible[user.jurisdiction] = (version, ids)
        return ids

    def _in_scope(self, user: User, adcode: int) -> bool:
        if not adcode:
            return jurisdiction_level(user.jurisdiction) == "province"
        return Scope(user.jurisdiction).allows(adcode, adcode // 100 * 100)

    def _task_in_scope(self, user: User, task: Task) -> bool:
        if task.county and self._in_scope(user, task.county):
            return True
        team = self.service.org.teams.get(task.team_id or "")
        return team is not None and self._in_scope(user, team.county)

    def _activation_visible(
        self, user: User, act: Activation, visible: Mapping[str, CaseView]
    ) -> bool:
        if any(c in visible for c in act.case_ids):
            return True
        if self._in_scope(user, act.lead_adcode):
            return True
        return any(self._task_in_scope(user, self.service.tasks[t]) for t in act.task_ids)

    def _covers(self, user: User, lead: int | None) -> bool:
        """Whether the user's center is ``lead`` or above it (may command it)."""
        if lead is None:
            return False
        try:
            return self.service.org.covers(user.jurisdiction, lead)
        except KeyError:
            return False

    def _name(self, adcode: int | None) -> str:
        if not adcode:
            return "—"
        try:
            return self.place_name(adcode)
        except KeyError:
            return str(adcode)

    # -- the view --------------------------------------------------------------------
    def view(self, user: User, with_subjects: bool = True) -> CommandView:
        """What the panel shows ``user``; nothing outside the user's jurisdiction
        (``with_subjects``: also the series and cases offered for manual activation)."""
        svc = self.service
        visible = self.visible_cases(user)
        can_act = user.role == ACTING_ROLE
        with svc.lock:
            now = svc.now
            suggestions: tuple[SuggestionRow, ...] = ()
            if user.role == ACTING_ROLE:
                suggestions = tuple(
                    self._suggestion_row(user, s, visible)
                    for s in reversed(svc.suggestion_list())
                    if s.status == "pending" and any(c in visible for c in s.case_ids)
                )
            rows = []
            for act in svc.activation_list():
                if act.status != "active":
                    continue
                if user.role in BOARD_ROLES:
                    if not self._activation_visible(user, act, visible):
                        continue
                elif not any(self._task_in_scope(user, svc.tasks[t]) for t in act.task_ids):
                    continue  # a county team sees activations only through its own tasks
                rows.append(self._activation_row(user, act, visible, now))
            active_subjects = {a.subject for a in svc.activation_list() if a.status == "active"}
        subjects: tuple[tuple[str, str], ...] = ()
        if can_act and with_subjects:
            subjects = self._subjects(user, active_subjects)
        levels = tuple(LEVEL_NAMES[: _level_rank(user) + 1]) if can_act else ()
        order = {name: i for i, name in enumerate(reversed(LEVEL_NAMES))}
        rows.sort(key=lambda r: (order[r.level], r.activation_id))
        return CommandView(
            role=user.role,
            can_act=can_act,
            now=now.astimezone(_CST).strftime("%Y-%m-%d %H:%M:%S"),
            suggestions=suggestions,
            activations=tuple(rows),
            subjects=subjects,
            levels=levels,
        )

    def _reason(self, s: Suggestion, visible: Mapping[str, CaseView]) -> str:
        mine = [c for c in s.case_ids if c in visible]
        counties: list[int] = []
        categories: set[str] = set()
        loss = 0.0
        for cid in mine:
            case = visible[cid]
            if case.county and case.county not in counties:
                counties.append(case.county)
            categories.add(case.category)
            loss += case.loss_cny
        where = ", ".join(self._name(c) for c in counties[:4]) or "—"
        if len(counties) > 4:
            where += f" and {len(counties) - 4} more"
        text = f"{len(mine)} linked case{'s' if len(mine) != 1 else ''} in {where}"
        if categories:
            text += f" ({', '.join(sorted(categories))})"
        if loss:
            text += f", losses ¥{loss:,.0f}"
        elsewhere = len(s.case_ids) - len(mine)
        if elsewhere:
            text += f"; {elsewhere} more outside your jurisdiction"
        kind = {
            "activate": "no plan active yet",
            "change_level": "the series outgrew its current plan",
            "extend": "new cases joined an active series",
            "stand_down": "the series dissolved",
        }.get(s.kind, s.kind)
        return f"{text} — {kind}"

    def _suggestion_row(
        self, user: User, s: Suggestion, visible: Mapping[str, CaseView]
    ) -> SuggestionRow:
        lead = s.lead_adcode
        if lead is None and s.activation_id in self.service.activations:
            lead = self.service.activations[s.activation_id].lead_adcode
        ok = self._covers(user, lead)
        return SuggestionRow(
            suggestion_id=s.suggestion_id,
            kind=s.kind,
            subject=s.subject,
            plan=s.plan,
            level=s.level.value if s.level else None,
            lead=self._name(lead),
            reason=self._reason(s, visible),
            can_confirm=ok,
            why_not=None if ok else f"led by {self._name(lead)}: its commander confirms",
        )

    def _task_row(self, task: Task, now: dt.datetime) -> TaskRow:
        left = None
        if task.status == "pending" and task.ack_due is not None:
            left = int((task.ack_due - now).total_seconds())
        escalated = None
        if task.escalated_to is not None:
            escalated = f"escalated to {self._name(task.escalated_to)}"
        elif task.notified:
            escalated = "re-notified"
        return TaskRow(
            task_id=task.task_id,
            team=task.team_id or "unassigned",
            kind=task.kind,
            title=task.title,
            status=task.status,
            where=self._name(task.county) if task.county else "task force",
            ack_due=task.ack_due.astimezone(_CST).strftime("%H:%M") if task.ack_due else None,
            seconds_left=left,
            escalated=escalated,
            overdue=left is not None and left < 0,
        )

    def _activation_row(
        self, user: User, act: Activation, visible: Mapping[str, CaseView], now: dt.datetime
    ) -> ActivationRow:
        tasks = [self.service.tasks[t] for t in act.task_ids]
        province = jurisdiction_level(user.jurisdiction) == "province"
        tasks = [t for t in tasks if t.status != "cancelled"]  # replaced or stood down
        shown = [t for t in tasks if province or self._task_in_scope(user, t)]
        mine = sum(1 for c in act.case_ids if c in visible)
        can_act = user.role == ACTING_ROLE and self._covers(user, act.lead_adcode)
        return ActivationRow(
            activation_id=act.activation_id,
            subject=act.subject,
            plan=act.plan,
            level=act.level.value,
            lead=self._name(act.lead_adcode),
            status=act.status,
            cases_shown=mine,
            cases_elsewhere=len(act.case_ids) - mine,
            tasks=tuple(self._task_row(t, now) for t in shown),
            tasks_elsewhere=len(tasks) - len(shown),
            can_act=can_act,
            can_escalate=can_act and act.level.parent is not None,
            can_deescalate=can_act and act.level.child is not None,
        )

    def _subjects(self, user: User, active: set[str]) -> tuple[tuple[str, str], ...]:
        scoped = ScopedReader(self.reader, user)
        out = []
        for s in scoped.scoped_series():
            if s.view.series_id in active:
                continue
            n = len(s.view.case_ids)
            out.append((f"series:{s.view.series_id}", f"Series {s.view.series_id} · {n} cases"))
        cases = [c for c in scoped.cases() if c.case_id not in active]
        for c in reversed(cases[-MAX_CASE_OPTIONS:]):
            label = f"Case {c.case_id} · {c.category} · {self._name(c.county)}"
            out.append((f"case:{c.case_id}", label))
        return tuple(out)

    # -- the counters other panels use -------------------------------------------------
    def tasks_overdue(self, user: User) -> int:
        """Pending tasks in the user's scope past their acknowledgement deadline."""
        view = self.view(user, with_subjects=False)
        return sum(1 for a in view.activations for t in a.tasks if t.overdue)

    def county_tiers(self, user: User) -> dict[int, str]:
        """Active plan tier per county of the user's scope (highest tier wins)."""
        out: dict[int, str] = {}
        visible = self.visible_cases(user)
        svc = self.service
        with svc.lock:
            for act in svc.activation_list():
                if act.status != "active":
                    continue
                for cid in act.case_ids:
                    case = visible.get(cid)
                    if case is None or not case.county:
                        continue
                    now = out.get(case.county)
                    if now is None or Level(now) < act.level:
                        out[case.county] = act.level.value
        return out

    # -- actions -----------------------------------------------------------------------
    def _refuse(self, user: User, action: str, obj: str, text: str) -> Outcome:
        log.warning("command refused: %s (%s) %s %s: %s", user.name, user.role, action, obj, text)
        if self.audit is not None:
            self.audit.record(
                user.name, user.role, user.jurisdiction, "command_refused", obj, {"action": action}
            )
        return Outcome(False, text)

    def _gate(self, user: User, action: str, obj: str) -> Outcome | None:
        if user.role != ACTING_ROLE:
            label = ROLES[user.role].label if user.role in ROLES else user.role
            return self._refuse(
                user,
                action,
                obj,
                f"Only a commander may {action.replace('_', ' ')}; you are signed in as {label}.",
            )
        return None

    def _done(self, user: User, action: str, obj: str, text: str) -> Outcome:
        log.info("command: %s (%s) %s %s", user.name, user.role, action, obj)
        with self._lock:
            self.revision += 1
        if self.audit is not None:
            self.audit.record(
                user.name, user.role, user.jurisdiction, "command", obj, {"action": action}
            )
        return Outcome(True, text)

    def _summary(self, act: Activation) -> str:
        n = len(act.task_ids)
        return (
            f"activation {act.activation_id} ({act.plan}, {act.level.value} level, "
            f"led by {self._name(act.lead_adcode)}), {n} task{'s' if n != 1 else ''}"
        )

    def confirm(self, user: User, suggestion_id: object) -> Outcome:
        """Confirm a pending suggestion (commanders only, within their jurisdiction)."""
        sid = str(suggestion_id or "").strip()
        refused = self._gate(user, "confirm_plans", sid or "-")
        if refused is not None:
            return refused
        if not sid:
            return Outcome(False, "No suggestion chosen: click Confirm on one of the suggestions.")
        visible = self.visible_cases(user)
        svc = self.service
        with svc.lock:
            sugg = svc.suggestions.get(sid)
            if sugg is None or not any(c in visible for c in sugg.case_ids):
                return self._refuse(
                    user, "confirm", sid, f"No suggestion {sid!r} in your jurisdiction."
                )
            row = self._suggestion_row(user, sugg, visible)
            if not row.can_confirm:
                return self._refuse(user, "confirm", sid, f"Suggestion {sid} is {row.why_not}.")
            try:
                act = svc.confirm(sid, actor=user.name, role=user.role)
            except TaskingError as exc:
                return Outcome(False, f"Suggestion {sid} not confirmed: {exc}.")
            return self._done(user, "confirm", sid, f"Confirmed {sid}: {self._summary(act)}.")

    def activate(self, user: User, subject: object, level: object) -> Outcome:
        """Activate a plan on ``series:<id>`` or ``case:<id>`` at ``level`` (or ``auto``)."""
        text = str(subject or "").strip()
        refused = self._gate(user, "activate_plans", text or "-")
        if refused is not None:
            return refused
        if not text:
            return Outcome(False, "Choose a series or a case to activate a plan on.")
        kind, _, ident = text.partition(":")
        if kind not in ("series", "case") or not ident:
            return Outcome(
                False, f"Subject {text!r}: expected 'series:<series id>' or 'case:<case id>'."
            )
        lv_text = str(level or AUTO_LEVEL).strip().lower()
        lv: Level | None = None
        if lv_text != AUTO_LEVEL:
            try:
                lv = Level.parse(lv_text)
            except ValueError:
                return Outcome(False, f"Level {level!r}: expected auto, {', '.join(LEVEL_NAMES)}.")
            if lv.rank > _level_rank(user):
                return self._refuse(
                    user,
                    "activate",
                    ident,
                    f"A {jurisdiction_level(user.jurisdiction)} commander cannot activate a "
                    f"{lv.value}-level plan; ask the {lv.value} center.",
                )
        visible = self.visible_cases(user)
        svc = self.service
        with svc.lock:
            if kind == "series":
                cases = svc.series_cases(ident)
                if not cases:
                    return Outcome(False, f"No current series {ident!r}.")
            else:
                cases = (ident,)
            if not any(c in visible for c in cases):
                what = "series" if kind == "series" else "case"
                return self._refuse(
                    user, "activate", ident, f"No {what} {ident!r} in your jurisdiction."
                )
            try:
                act = svc.activate(
                    series_id=ident if kind == "series" else None,
                    case_id=ident if kind == "case" else None,
                    level=lv,
                    actor=user.name,
                    role=user.role,
                )
            except TaskingError as exc:
                return Outcome(False, f"Not activated: {exc}.")
            return self._done(user, "activate", ident, f"Activated {self._summary(act)}.")

    def command(self, user: User, activation_id: object, op: object) -> Outcome:
        """``escalate``, ``deescalate`` or ``stand_down`` an activation the user commands."""
        aid = str(activation_id or "").strip()
        refused = self._gate(user, "command_activations", aid or "-")
        if refused is not None:
            return refused
        if op not in ("escalate", "deescalate", "stand_down"):
            return Outcome(False, f"Command {op!r}: expected escalate, deescalate or stand_down.")
        visible = self.visible_cases(user)
        svc = self.service
        with svc.lock:
            act = svc.activations.get(aid)
            if act is None or not self._activation_visible(user, act, visible):
                return self._refuse(
                    user, str(op), aid or "-", f"No activation {aid!r} in your jurisdiction."
                )
            if not self._covers(user, act.lead_adcode):
                return self._refuse(
                    user,
                    str(op),
                    aid,
                    f"Activation {aid} is led by {self._name(act.lead_adcode)}; "
                    "only its commander (or one above) may change it.",
                )
            try:
                if op == "stand_down":
                    svc.stand_down(
                        aid, actor=user.name, role=user.role, reason="stood down on the dashboard"
                    )
                    return self._done(user, "stand_down", aid, f"Stood down {aid}.")
                target = act.level.parent if op == "escalate" else act.level.child
                if target is None:
                    return Outcome(False, f"{aid} is already at the {act.level.value} level.")
                svc.change_level(aid, target, actor=user.name, role=user.role)
            except TaskingError as exc:
                return Outcome(False, f"{aid}: {exc}.")
            verb = "Escalated" if op == "escalate" else "De-escalated"
            return self._done(user, str(op), aid, f"{verb} {self._summary(act)}.")


# -- components -------------------------------------------------------------------------
def command_panel(user: User | None, connected: bool = True) -> html.Section:
    """The panel's shell (``id="command-panel"``); the callbacks fill its parts.

    The manual-activation controls are always in the page (the callbacks name them)
    but hidden unless the user is a commander; the server checks the role anyway.
    """
    commander = user is not None and user.role == ACTING_ROLE
    if not connected:
        body: list[Any] = [html.Div("Tasking is not connected.", className="muted")]
    else:
        levels = LEVEL_NAMES[: _level_rank(user) + 1] if commander and user else LEVEL_NAMES
        body = [
            html.Div(id="cmd-message", className="cmd-message", role="status"),
            html.Div(id="cmd-suggestions", className="cmd-suggestions"),
            html.Div(
                id="cmd-manual",
                className="cmd-manual",
                hidden=not commander,
                children=[
                    html.H3("Activate a plan"),
                    dcc.Dropdown(
                        id="cmd-subject",
                        options=[],
                        value=None,
                        placeholder="Series or case …",
                        className="cmd-subject",
                    ),
                    dcc.RadioItems(
                        id="cmd-level",
                        options=[{"label": "auto", "value": AUTO_LEVEL}]
                        + [{"label": lv, "value": lv} for lv in levels],
                        value=AUTO_LEVEL,
                        inline=True,
                        className="cmd-level",
                    ),
                    html.Button("Activate", id="cmd-activate", n_clicks=0, className="cmd-button"),
                ],
            ),
            html.Div(id="cmd-board", className="cmd-board"),
        ]
    return html.Section(
        id="command-panel",
        className="panel command-panel",
        children=[
            html.H2("Command"),
            *body,
            dcc.Store(id="cmd-nonce", data=0),
            dcc.Store(id="cmd-sig", data=None),
        ],
    )


def suggestion_cards(view: CommandView) -> list[Any]:
    """The pending suggestions, each with its Confirm button (commanders only)."""
    if view.role != ACTING_ROLE:
        return []
    if not view.suggestions:
        return [html.H3("Suggestions"), html.Div("No pending suggestions.", className="muted")]
    cards: list[Any] = [html.H3(f"Suggestions ({len(view.suggestions)})")]
    more: list[Any] = []
    for i, s in enumerate(view.suggestions):
        what = {
            "activate": f"Activate {s.plan} ({s.level} level)",
            "change_level": f"Change to {s.plan} ({s.level} level)",
            "extend": f"Extend to the new cases ({s.plan})",
            "stand_down": "Stand down",
        }.get(s.kind, s.kind)
        action: Any = (
            html.Button(
                "Confirm",
                id={"type": "cmd-confirm", "suggestion": s.suggestion_id},
                n_clicks=0,
                className="cmd-button cmd-confirm",
            )
            if s.can_confirm
            else html.Span(s.why_not or "", className="muted")
        )
        (cards if i < SHOWN_SUGGESTIONS else more).append(
            html.Div(
                className="cmd-suggestion",
                id=f"suggestion-{s.suggestion_id}",
                children=[
                    html.Div(
                        [
                            html.Strong(f"{s.subject} · {what}"),
                            html.Span(f" · lead {s.lead}", className="muted"),
                        ]
                    ),
                    html.Div(s.reason, className="cmd-reason"),
                    action,
                ],
            )
        )
    if more:
        cards.append(
            html.Details(
                className="cmd-more",
                children=[html.Summary(f"{len(more)} more suggestions"), *more],
            )
        )
    return cards


def _task_table(tasks: Sequence[TaskRow]) -> html.Table:
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Task", "Team", "Kind", "Status", "Acknowledge")])
    )
    rows = []
    for t in tasks:
        classes = ["cmd-task"]
        if t.overdue:
            classes.append("overdue")
        if t.escalated:
            classes.append("escalated")
        timer = fmt_timer(t.seconds_left)
        if t.ack_due and t.seconds_left is not None:
            timer += f" (due {t.ack_due})"
        status = t.status.replace("_", " ")
        if t.escalated:
            status += f" · {t.escalated}"
        rows.append(
            html.Tr(
                className=" ".join(classes),
                id=f"task-{t.task_id}",
                title=t.title,
                children=[
                    html.Td(t.task_id),
                    html.Td(t.team),
                    html.Td(t.kind.replace("_", " ")),
                    html.Td(status),
                    html.Td(timer, className="cmd-timer"),
                ],
            )
        )
    return html.Table(className="cmd-tasks", children=[head, html.Tbody(rows)])


def _activation_block(a: ActivationRow) -> html.Div:
    cases = f"{a.cases_shown} case{'s' if a.cases_shown != 1 else ''}"
    if a.cases_elsewhere:
        cases += f" (+{a.cases_elsewhere} elsewhere)"
    buttons = []
    for op, label, allowed in (
        ("escalate", "Escalate", a.can_escalate),
        ("deescalate", "De-escalate", a.can_deescalate),
        ("stand_down", "Stand down", a.can_act),
    ):
        if allowed:
            buttons.append(
                html.Button(
                    label,
                    id={"type": "cmd-act", "activation": a.activation_id, "op": op},
                    n_clicks=0,
                    className=f"cmd-button cmd-{op.replace('_', '-')}",
                )
            )
    children: list[Any] = [
        html.Div(
            className="cmd-activation-head",
            children=[
                html.Strong(f"{a.activation_id} · {a.subject} · {a.plan}"),
                html.Span(f" · lead {a.lead} · {cases}", className="muted"),
            ],
        ),
        html.Div(buttons, className="cmd-actions") if buttons else None,
        _task_table(a.tasks)
        if a.tasks
        else html.Div("No tasks in your jurisdiction.", className="muted"),
    ]
    if a.tasks_elsewhere:
        children.append(
            html.Div(f"+{a.tasks_elsewhere} tasks outside your jurisdiction", className="muted")
        )
    overdue = any(t.overdue for t in a.tasks)
    return html.Div(
        id=f"activation-{a.activation_id}",
        className="cmd-activation" + (" has-overdue" if overdue else ""),
        children=[c for c in children if c is not None],
    )


def board(view: CommandView) -> list[Any]:
    """The task board, grouped by the tier of the activation (province, city, county)."""
    out: list[Any] = [
        html.H3("Task board"),
        html.Div(f"event time {view.now}", className="muted cmd-clock"),
    ]
    if not view.activations:
        out.append(html.Div("No active plans in your jurisdiction.", className="muted"))
        return out
    for tier in reversed(LEVEL_NAMES):
        acts = [a for a in view.activations if a.level == tier]
        if not acts:
            continue
        out.append(
            html.Div(
                id=f"tier-{tier}",
                className="cmd-tier",
                children=[html.H4(f"{TIER_LABELS[tier]} ({len(acts)})")]
                + [_activation_block(a) for a in acts],
            )
        )
    return out


def options(view: CommandView) -> list[dict[str, str]]:
    return [{"value": v, "label": label} for v, label in view.subjects]


def ids_in(view: CommandView) -> Iterable[str]:
    """Every suggestion, activation and task id in a view (for tests and logs)."""
    for s in view.suggestions:
        yield s.suggestion_id
    for a in view.activations:
        yield a.activation_id
        for t in a.tasks:
            yield t.task_id
