"""The command panel's callbacks over real pipeline state (a replayed scenario), called
exactly as the browser calls them: only commanders act, everything is scoped to the
user's jurisdiction on the server, bad input gets a sentence, never a traceback, and
every command reaches the tasking audit trail with the user and role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.app import create_app
from dashboard.command import fmt_timer
from icc.query import RuntimeReader

from .conftest import login, pending_suggestions

ZHENHAI, NINGBO = 330211, 330200


@pytest.fixture(scope="module")
def app_and_service(command_runtime, command_users, tmp_path_factory):  # noqa: ANN001, ANN201
    from dashboard.audit import AuditLog

    audit = AuditLog(tmp_path_factory.mktemp("cmd-audit") / "audit.sqlite")
    service = command_runtime.tasking.service
    app = create_app(
        RuntimeReader(command_runtime),
        users=command_users,
        audit=audit,
        tasking=service,
    )
    yield app, service, audit
    audit.close()


@pytest.fixture
def client_as(app_and_service) -> Iterator:  # noqa: ANN001
    app = app_and_service[0]
    clients = []

    def make(name: str | None):  # noqa: ANN202
        client = app.server.test_client()
        if name is not None:
            login(client, name)
        clients.append(client)
        return client

    yield make


def _id_str(component_id: dict[str, str]) -> str:
    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))


def command(
    client: Any,
    *,
    confirm: str | None = None,
    act: tuple[str, str] | None = None,
    activate: bool = False,
    subject: Any = None,
    level: Any = None,
) -> Any:
    """POST the panel's command callback as the browser does after one click."""
    confirm_in, act_in = [], []
    if confirm is not None:
        cid = {"type": "cmd-confirm", "suggestion": confirm}
        confirm_in = [{"id": cid, "property": "n_clicks", "value": 1}]
        changed = _id_str(cid) + ".n_clicks"
    elif act is not None:
        aid = {"type": "cmd-act", "activation": act[0], "op": act[1]}
        act_in = [{"id": aid, "property": "n_clicks", "value": 1}]
        changed = _id_str(aid) + ".n_clicks"
    else:
        changed = "cmd-activate.n_clicks"
    body = {
        "output": "..cmd-message.children...cmd-nonce.data..",
        "outputs": [
            {"id": "cmd-message", "property": "children"},
            {"id": "cmd-nonce", "property": "data"},
        ],
        "inputs": [
            confirm_in,
            act_in,
            {"id": "cmd-activate", "property": "n_clicks", "value": 1 if activate else 0},
        ],
        "state": [
            {"id": "cmd-subject", "property": "value", "value": subject},
            {"id": "cmd-level", "property": "value", "value": level},
            {"id": "cmd-nonce", "property": "data", "value": 0},
        ],
        "changedPropIds": [changed],
    }
    return client.post("/_dash-update-component", json=body)


def message(resp: Any) -> tuple[str, str]:
    """(text, css class) of the panel message in a command response."""
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    props = resp.get_json()["response"]["cmd-message"]["children"]["props"]
    return props["children"], props["className"]


def draw(client: Any) -> Any:
    """POST the panel's draw callback; returns the response text (JSON)."""
    body = {
        "output": "..cmd-suggestions.children...cmd-board.children..."
        "cmd-subject.options...cmd-sig.data..",
        "outputs": [
            {"id": "cmd-suggestions", "property": "children"},
            {"id": "cmd-board", "property": "children"},
            {"id": "cmd-subject", "property": "options"},
            {"id": "cmd-sig", "property": "data"},
        ],
        "inputs": [
            {"id": "refresh", "property": "n_intervals", "value": 1},
            {"id": "cmd-nonce", "property": "data", "value": 0},
        ],
        "state": [{"id": "cmd-sig", "property": "data", "value": None}],
        "changedPropIds": ["refresh.n_intervals"],
    }
    resp = client.post("/_dash-update-component", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


def outside(county: int, adcode: int) -> bool:
    return county // 100 != adcode // 100 if adcode % 100 == 0 else county != adcode


def test_a_non_commander_calling_confirm_directly_is_refused(app_and_service, client_as) -> None:  # noqa: ANN001
    _, service, audit = app_and_service
    sugg = pending_suggestions(service)[0]
    before = len(service.activation_list())
    for name, label in (("prov.analyst", "Analyst"), ("zh.team", "County team")):
        text, css = message(command(client_as(name), confirm=sugg.suggestion_id))
        assert text == f"Only a commander may confirm plans; you are signed in as {label}."
        assert css == "cmd-error"
    assert service.suggestions[sugg.suggestion_id].status == "pending"
    assert len(service.activation_list()) == before
    refused = [r for r in audit.rows() if r["action"] == "command_refused"]
    assert {r["user"] for r in refused} >= {"prov.analyst", "zh.team"}
    # without a session the callback is not even reached
    resp = command(client_as(None), confirm=sugg.suggestion_id)
    assert resp.status_code == 401 and sugg.suggestion_id not in resp.get_data(as_text=True)
    # the analyst's panel is read-only: no suggestions, no buttons
    page = draw(client_as("prov.analyst"))
    assert "cmd-confirm" not in page and '"cmd-act"' not in page and "Suggestions" not in page


def test_a_county_commander_gets_only_its_own_countys_activations(
    app_and_service,
    client_as,  # noqa: ANN001
) -> None:
    _, service, _ = app_and_service
    # the province confirms a plan for a series with no case in Ningbo
    elsewhere = pending_suggestions(service, lambda c: outside(c, NINGBO))[0]
    text, css = message(command(client_as("prov.commander"), confirm=elsewhere.suggestion_id))
    assert css == "cmd-ok" and text.startswith(f"Confirmed {elsewhere.suggestion_id}: activation")
    act = next(a for a in service.activation_list() if a.subject == elsewhere.subject)
    assert act.task_ids
    other_cases = set(act.case_ids)
    # and Zhenhai's commander confirms Zhenhai's own series
    own = pending_suggestions(service, lambda c: c == ZHENHAI)[0]
    text, css = message(command(client_as("zh.commander"), confirm=own.suggestion_id))
    assert css == "cmd-ok", text
    mine = next(a for a in service.activation_list() if a.subject == own.subject)

    zh = client_as("zh.commander")
    page = draw(zh)
    assert mine.activation_id in page and mine.task_ids[0] in page
    assert act.activation_id not in page and not any(t in page for t in act.task_ids)
    assert not any(c in page for c in other_cases)
    assert elsewhere.suggestion_id not in page
    # calling the callbacks directly on the other county's objects: nothing, and no change
    text, css = message(command(zh, confirm=elsewhere.suggestion_id))
    assert css == "cmd-error" and "in your jurisdiction" in text
    for op in ("stand_down", "escalate"):
        text, css = message(command(zh, act=(act.activation_id, op)))
        assert text == f"No activation {act.activation_id!r} in your jurisdiction."
    assert act.status == "active" and act.level.value == elsewhere.level.value
    # the province commander sees both
    page = draw(client_as("prov.commander"))
    assert mine.activation_id in page and act.activation_id in page
    assert '"cmd-act"' in page  # with the buttons to command them
    # a province analyst sees the same board, read-only
    page = draw(client_as("prov.analyst"))
    assert mine.activation_id in page and act.activation_id in page
    assert '"cmd-act"' not in page and "cmd-confirm" not in page


def test_manual_activation_escalation_and_stand_down(app_and_service, client_as) -> None:  # noqa: ANN001
    _, service, _ = app_and_service
    nb = client_as("nb.commander")
    active = {a.subject for a in service.activation_list() if a.status == "active"}
    case = next(
        c.case_id
        for c in service.cases.cases()
        if c.city == NINGBO and c.case_id not in active and c.county != ZHENHAI
    )
    text, css = message(command(nb, activate=True, subject=f"case:{case}", level="county"))
    assert css == "cmd-ok" and text.startswith("Activated activation A-"), text
    act = next(a for a in service.activation_list() if a.subject == case and a.status == "active")
    assert act.level.value == "county" and act.task_ids
    assert act.activation_id in draw(nb)

    text, _ = message(command(nb, act=(act.activation_id, "escalate")))
    assert text.startswith(f"Escalated activation {act.activation_id}") and "city level" in text
    assert act.level.value == "city"
    text, _ = message(command(nb, act=(act.activation_id, "stand_down")))
    assert text == f"Stood down {act.activation_id}."
    assert act.status == "stood_down"
    assert act.activation_id not in draw(nb)
    # the tasking audit trail names the user and the role of every command
    entries = [
        (e.action, e.actor, e.role) for e in service.audit.query(activation_id=act.activation_id)
    ]
    assert ("activated", "nb.commander", "commander") in entries
    assert ("level_changed", "nb.commander", "commander") in entries
    assert ("stood_down", "nb.commander", "commander") in entries


@pytest.mark.parametrize(
    ("subject", "level", "expected"),
    [
        (None, "county", "Choose a series or a case to activate a plan on."),
        ("series:S-9999", "auto", "No current series 'S-9999'."),
        ("S-0001", "auto", "Subject 'S-0001': expected 'series:<series id>' or 'case:<case id>'."),
        ("case:ZJ-nowhere", "auto", "No case 'ZJ-nowhere' in your jurisdiction."),
        ("case:x", "level 1", "Level 'level 1': expected auto, county, city, province."),
        (
            "case:x",
            "province",
            "A city commander cannot activate a province-level plan; ask the province center.",
        ),
    ],
)
def test_bad_input_gets_a_clear_message(client_as, subject, level, expected) -> None:  # noqa: ANN001
    text, css = message(
        command(client_as("nb.commander"), activate=True, subject=subject, level=level)
    )
    assert (text, css) == (expected, "cmd-error")


def test_timer_text() -> None:
    assert fmt_timer(59) == "0:59 left"
    assert fmt_timer(-1) == "overdue 0:01"
    assert fmt_timer(7200) == "2 h 00 min left"


def test_timers_count_down_on_event_time_and_late_tasks_are_highlighted(tmp_path) -> None:  # noqa: ANN001
    """A fresh pipeline: one case, a manual county plan, then the stream's clock moves on."""
    import datetime as dt

    from dash import html

    from dashboard.auth import User
    from dashboard.command import CommandDesk, board
    from icc.config import Settings
    from icc.runtime import Runtime
    from ingest.sources import RawMessage
    from tests.factories import incident

    runtime = Runtime.open(Settings(data_dir=tmp_path / "state"))
    try:
        raw = json.dumps(incident("ZJ-330211-0001"), ensure_ascii=False).encode("utf-8")
        runtime.ingestor.process([RawMessage(raw, "test", "1")])
        service = runtime.tasking.service
        desk = CommandDesk(service, RuntimeReader(runtime), str)
        zh = User("zh.commander", "commander", ZHENHAI)
        outcome = desk.activate(zh, "case:ZJ-330211-0001", "auto")
        assert outcome.ok, outcome.text
        (row,) = desk.view(zh).activations
        assert row.level == "county" and row.tasks
        first = row.tasks[0]
        assert first.status == "pending" and first.seconds_left == 30 * 60
        assert not first.overdue and first.escalated is None
        # 16 minutes of stream time later: 14 minutes left, nothing fired yet
        service.advance(service.now + dt.timedelta(minutes=16))
        first = desk.view(zh).activations[0].tasks[0]
        assert first.seconds_left == 14 * 60 and not first.overdue and first.escalated is None
        # past the deadline (escalation steps count from it): overdue, re-notified
        service.advance(service.now + dt.timedelta(minutes=30))
        first = desk.view(zh).activations[0].tasks[0]
        assert first.overdue and first.seconds_left == -16 * 60
        assert first.escalated == "re-notified"
        # later still: escalated to the next tier up, and counted in the KPI
        service.advance(service.now + dt.timedelta(minutes=60))
        view = desk.view(zh)
        first = view.activations[0].tasks[0]
        assert first.overdue and first.escalated and first.escalated.startswith("escalated to")
        assert desk.tasks_overdue(zh) == sum(t.overdue for t in view.activations[0].tasks) > 0
        drawn = html.Div(board(view)).to_plotly_json()
        text = json.dumps(drawn, default=lambda o: o.to_plotly_json(), ensure_ascii=False)
        assert "cmd-task overdue escalated" in text and "overdue 1 h 16 min" in text
        # a county team sees its own tasks on the board, without any command button
        team = desk.view(User("zh.team", "county_team", ZHENHAI))
        assert [t.task_id for t in team.activations[0].tasks] == [
            t.task_id for t in view.activations[0].tasks
        ]
        assert not team.activations[0].can_act and not team.suggestions
        assert not desk.view(User("yw.team", "county_team", 330782)).activations
    finally:
        runtime.close()
