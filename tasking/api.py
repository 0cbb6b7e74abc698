"""JSON over HTTP for teams and other systems, on the dashboard's Flask server.

Every request carries ``Authorization: Bearer <token>``; tokens come from the
configuration (``ICC_API_TOKENS``, see :mod:`icc.config`), each with a role and
a subject:

* ``team`` (subject: a team id of the roster) - may read and act on its own tasks;
* ``commander`` (subject: the adcode of its center) - may read suggestions and
  activations, confirm, activate, change level and stand down within its
  jurisdiction (the lead center is the commander's own or one below it);
* ``auditor`` - may read the audit trail.

Routes (under ``/api/tasking``)::

    GET  /tasks                             team: own tasks; commander: its jurisdiction's
    POST /tasks/<id>/acknowledge            team
    POST /tasks/<id>/status   {"status": "en_route" | "on_scene"}
    POST /tasks/<id>/complete {"note"?}
    POST /tasks/<id>/decline  {"reason"}    reason required
    GET  /suggestions                       commander
    POST /suggestions/<id>/confirm          commander
    GET  /activations                       commander
    POST /activations {"series_id" | "case_id", "plan"?, "level"?}
    POST /activations/<id>/level {"level"}  escalate / de-escalate
    POST /activations/<id>/stand-down {"reason"?}
    GET  /audit?case_id=&series_id=&team_id=&activation_id=   auditor, commander

Errors are JSON ``{"error": "..."}``: 401 without a valid token, 403 when the
role or jurisdiction does not allow the action, 404 for an unknown id, 409 for
a transition the current state forbids, 400 for a malformed body.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request

from tasking.model import Task
from tasking.service import TaskingError, TaskingService

__all__ = ["PREFIX", "Credential", "credentials", "register_api"]

log = logging.getLogger(__name__)

PREFIX = "/api/tasking"


@dataclass(frozen=True)
class Credential:
    """A token (kept only as its SHA-256) with the role and subject it grants."""

    digest: bytes
    role: str
    subject: str

    @classmethod
    def of(cls, token: str, role: str, subject: str) -> Credential:
        return cls(hashlib.sha256(token.encode("utf-8")).digest(), role, subject)

    @property
    def actor(self) -> str:
        return self.subject if self.role == "team" else f"{self.role}@{self.subject}"


def credentials(tokens: Iterable[Any]) -> list[Credential]:
    """Credentials from configured tokens (objects with ``token``, ``role``, ``subject``,
    e.g. :class:`icc.config.ApiToken`)."""
    return [Credential.of(t.token, t.role, t.subject) for t in tokens]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _check_credentials(creds: Sequence[Credential], service: TaskingService) -> None:
    for c in creds:
        if c.role == "team" and c.subject not in service.org.teams:
            raise ValueError(f"API token for team {c.subject!r}: expected a team id of the roster")
        if c.role == "commander" and (
            not c.subject.isdigit() or int(c.subject) not in service.org.centers
        ):
            raise ValueError(
                f"API token for commander {c.subject!r}: expected the adcode of a command center"
            )
        if c.role not in ("team", "commander", "auditor"):
            raise ValueError(f"API token role {c.role!r}: expected team, commander or auditor")


def _body() -> dict[str, Any]:
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "expected a JSON object as the request body")
    return data


def _require(*roles: str) -> Any:
    cred: Credential = g.tasking_credential
    if cred.role not in roles:
        raise ApiError(403, f"role {cred.role!r} may not do this; expected {' or '.join(roles)}")
    return cred


def register_api(
    server: Flask, service: TaskingService, credentials: Sequence[Credential]
) -> Blueprint:
    """Mount the tasking API on ``server`` (the Dash app's ``app.server``).

    ``credentials`` are checked against the organisation first (``ValueError``
    naming the bad entry).
    """
    _check_credentials(credentials, service)
    creds = list(credentials)
    bp = Blueprint("tasking_api", __name__, url_prefix=PREFIX)

    @bp.before_request
    def _authenticate() -> Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "missing credentials: expected 'Authorization: Bearer <token>'")
        digest = hashlib.sha256(token.strip().encode("utf-8")).digest()
        found = None
        for c in creds:
            if hmac.compare_digest(c.digest, digest):
                found = c
        if found is None:
            return _error(401, "invalid token")
        g.tasking_credential = found
        return None

    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return _error(exc.status, str(exc))

    @bp.errorhandler(TaskingError)
    def _tasking_error(exc: TaskingError) -> Response:
        return _error(exc.status, str(exc))

    def commander_covers(cred: Credential, adcode: int | None) -> None:
        center = int(cred.subject)
        if adcode is None or not service.org.covers(center, adcode):
            raise ApiError(403, f"{adcode} is outside the jurisdiction of center {center}")

    def own_task(task_id: str) -> tuple[Credential, Task]:
        cred = _require("team")
        task = service.task(task_id)
        if task.team_id != cred.subject:
            raise ApiError(403, f"task {task_id} is not assigned to team {cred.subject}")
        return cred, task

    # -- teams ---------------------------------------------------------------------------
    @bp.get("/tasks")
    def list_tasks() -> Response:
        cred = _require("team", "commander")
        if cred.role == "team":
            tasks = service.tasks_of(cred.subject)
        else:
            tasks = [
                t
                for t in service.tasks_of()
                if service.org.covers(
                    int(cred.subject), service.activations[t.activation_id].lead_adcode
                )
            ]
        return jsonify({"tasks": [t.snapshot() for t in tasks]})

    def task_action(
        fn: Callable[[Credential, Task, dict[str, Any]], Task],
    ) -> Callable[[str], Response]:
        def view(task_id: str) -> Response:
            cred, task = own_task(task_id)
            body = _body()
            return jsonify({"task": fn(cred, task, body).snapshot()})

        view.__name__ = fn.__name__
        return view

    def acknowledge(cred: Credential, task: Task, body: dict[str, Any]) -> Task:
        return service.acknowledge(task.task_id, actor=cred.actor, role=cred.role)

    def status(cred: Credential, task: Task, body: dict[str, Any]) -> Task:
        value = body.get("status")
        if not isinstance(value, str):
            raise ApiError(400, f"status = {value!r}: expected 'en_route' or 'on_scene'")
        return service.update_status(task.task_id, value, actor=cred.actor, role=cred.role)

    def complete(cred: Credential, task: Task, body: dict[str, Any]) -> Task:
        note = body.get("note")
        if note is not None and not isinstance(note, str):
            raise ApiError(400, f"note = {note!r}: expected a string")
        return service.complete(task.task_id, actor=cred.actor, role=cred.role, note=note)

    def decline(cred: Credential, task: Task, body: dict[str, Any]) -> Task:
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ApiError(
                400, "reason: expected a non-empty string saying why the task is declined"
            )
        return service.decline(task.task_id, reason, actor=cred.actor, role=cred.role)

    for name, fn in (
        ("acknowledge", acknowledge),
        ("status", status),
        ("complete", complete),
        ("decline", decline),
    ):
        bp.add_url_rule(f"/tasks/<task_id>/{name}", view_func=task_action(fn), methods=["POST"])

    # -- commanders ----------------------------------------------------------------------
    @bp.get("/suggestions")
    def list_suggestions() -> Response:
        cred = _require("commander")
        center = int(cred.subject)
        out = [
            s.snapshot()
            for s in service.suggestion_list()
            if s.lead_adcode is None or service.org.covers(center, s.lead_adcode)
        ]
        return jsonify({"suggestions": out})

    @bp.post("/suggestions/<suggestion_id>/confirm")
    def confirm(suggestion_id: str) -> Response:
        cred = _require("commander")
        sugg = service.suggestions.get(suggestion_id)
        if sugg is None:
            raise ApiError(404, f"no suggestion {suggestion_id!r}")
        lead = sugg.lead_adcode
        if lead is None and sugg.activation_id in service.activations:
            lead = service.activations[sugg.activation_id].lead_adcode
        commander_covers(cred, lead)
        act = service.confirm(suggestion_id, actor=cred.actor, role=cred.role)
        return jsonify({"activation": act.snapshot()})

    @bp.get("/activations")
    def list_activations() -> Response:
        cred = _require("commander")
        center = int(cred.subject)
        out = [
            a.snapshot()
            for a in service.activation_list()
            if service.org.covers(center, a.lead_adcode)
        ]
        return jsonify({"activations": out})

    @bp.post("/activations")
    def activate() -> Response:
        cred = _require("commander")
        body = _body()
        series_id, case_id = body.get("series_id"), body.get("case_id")
        for key, value in (
            ("series_id", series_id),
            ("case_id", case_id),
            ("plan", body.get("plan")),
            ("level", body.get("level")),
        ):
            if value is not None and not isinstance(value, str):
                raise ApiError(400, f"{key} = {value!r}: expected a string")
        case_ids = [case_id] if case_id else list(service.series_cases(series_id or ""))
        counties = [c.county for c in (service.cases.get(x) for x in case_ids) if c is not None]
        center = int(cred.subject)
        if counties and not any(service.org.covers(center, c) for c in counties):
            raise ApiError(
                403, f"no case of {series_id or case_id} is in the jurisdiction of center {center}"
            )
        act = service.activate(
            series_id=series_id,
            case_id=case_id,
            plan=body.get("plan"),
            level=body.get("level"),
            actor=cred.actor,
            role=cred.role,
        )
        return _json(201, {"activation": act.snapshot()})

    def _own_activation(cred: Credential, activation_id: str) -> None:
        act = service.activations.get(activation_id)
        if act is None:
            raise ApiError(404, f"no activation {activation_id!r}")
        commander_covers(cred, act.lead_adcode)

    @bp.post("/activations/<activation_id>/level")
    def change_level(activation_id: str) -> Response:
        cred = _require("commander")
        _own_activation(cred, activation_id)
        level = _body().get("level")
        if not isinstance(level, str):
            raise ApiError(400, f"level = {level!r}: expected county, city or province")
        act = service.change_level(activation_id, level, actor=cred.actor, role=cred.role)
        return jsonify({"activation": act.snapshot()})

    @bp.post("/activations/<activation_id>/stand-down")
    def stand_down(activation_id: str) -> Response:
        cred = _require("commander")
        _own_activation(cred, activation_id)
        reason = _body().get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ApiError(400, f"reason = {reason!r}: expected a string")
        act = service.stand_down(activation_id, actor=cred.actor, role=cred.role, reason=reason)
        return jsonify({"activation": act.snapshot()})

    # -- audit ---------------------------------------------------------------------------
    @bp.get("/audit")
    def audit() -> Response:
        cred = _require("auditor", "commander")
        filters = {
            k: request.args[k]
            for k in ("case_id", "series_id", "team_id", "activation_id", "task_id")
            if k in request.args
        }
        if not filters:
            raise ApiError(
                400, "expected at least one of case_id, series_id, team_id, activation_id, task_id"
            )
        entries = service.audit.query(**filters)
        service.audit.record(
            "audit_viewed",
            actor=cred.actor,
            role=cred.role,
            at=service.now,
            detail=str(sorted(filters.items())),
        )
        return jsonify({"entries": [e.to_dict() for e in entries]})

    server.register_blueprint(bp)
    log.info("tasking API mounted at %s with %d credentials", PREFIX, len(creds))
    return bp


def _json(status: int, payload: dict[str, Any]) -> Response:
    resp = jsonify(payload)
    resp.status_code = status
    return resp


def _error(status: int, message: str) -> Response:
    resp = _json(status, {"error": message})
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="icc"'
    return resp
