"""The tasking API on the dashboard's real Flask server: tokens, roles, jurisdictions, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from dashboard.app import create_app
from icc.config import ApiToken, Settings
from icc.query import RuntimeReader
from icc.runtime import Runtime
from ingest.sources import RawMessage
from tasking.api import PREFIX, credentials, register_api
from tests.factories import team_status
from tests.tasking.conftest import T0, case_msg

TOKENS = {
    "zhenhai1": ApiToken("tok-team-zhenhai-01", "team", "T-330211-01"),
    "zhenhai2": ApiToken("tok-team-zhenhai-02", "team", "T-330211-02"),
    "province": ApiToken("tok-commander-province", "commander", "330000"),
    "ningbo": ApiToken("tok-commander-ningbo-city", "commander", "330200"),
    "hangzhou": ApiToken("tok-commander-hangzhou-city", "commander", "330100"),
    "auditor": ApiToken("tok-auditor-inspectorate", "auditor", "330000"),
}


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.open(Settings(data_dir=tmp_path / "state", api_tokens=tuple(TOKENS.values())))
    msgs = [
        case_msg("ZJ-API-1", 330211, "robbery", victims=1),
        team_status("T-330211-01", at=T0.isoformat()),
        team_status("T-330211-02", at=T0.isoformat()),
    ]
    rt.ingestor.process(
        [
            RawMessage(json.dumps(m, ensure_ascii=False).encode(), "test", str(i))
            for i, m in enumerate(msgs)
        ]
    )
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    app = create_app(RuntimeReader(runtime))
    assert runtime.tasking is not None
    register_api(app.server, runtime.tasking.service, credentials(runtime.settings.api_tokens))
    return app.server.test_client()


def call(
    client: FlaskClient, method: str, path: str, who: str | None, body: Any = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {TOKENS[who].token}"} if who else {}
    resp = client.open(f"{PREFIX}{path}", method=method, headers=headers, json=body)
    return resp.status_code, resp.get_json()


def _activate(client: FlaskClient) -> dict[str, Any]:
    code, out = call(client, "POST", "/activations", "ningbo", {"case_id": "ZJ-API-1"})
    assert code == 201, out
    return out["activation"]


def test_requests_without_a_valid_token_are_refused(client: FlaskClient) -> None:
    resp = client.get(f"{PREFIX}/tasks")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in resp.get_json()["error"]
    resp = client.get(f"{PREFIX}/tasks", headers={"Authorization": "Bearer not-a-token"})
    assert resp.status_code == 401 and resp.get_json() == {"error": "invalid token"}
    resp = client.get(f"{PREFIX}/tasks", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert resp.status_code == 401


def test_commanders_act_only_within_their_jurisdiction(client: FlaskClient) -> None:
    code, out = call(client, "POST", "/activations", "hangzhou", {"case_id": "ZJ-API-1"})
    assert code == 403 and "jurisdiction of center 330100" in out["error"]
    code, out = call(client, "POST", "/activations", "zhenhai1", {"case_id": "ZJ-API-1"})
    assert code == 403 and "role 'team'" in out["error"]
    act = _activate(client)
    assert (act["plan"], act["level"], act["lead_adcode"]) == ("county-case", "county", 330211)
    code, out = call(client, "POST", "/activations", "ningbo", {"case_id": "ZJ-API-1"})
    assert code == 409 and "already has the active activation" in out["error"]
    code, out = call(client, "POST", "/activations", "ningbo", {"case_id": "ZJ-nope"})
    assert code == 404
    code, out = call(client, "POST", "/activations", "ningbo", {"case_id": 7})
    assert code == 400 and "case_id = 7" in out["error"]

    aid = act["activation_id"]
    code, out = call(client, "POST", f"/activations/{aid}/level", "hangzhou", {"level": "city"})
    assert code == 403
    code, out = call(client, "POST", f"/activations/{aid}/level", "ningbo", {"level": "2"})
    assert code == 400 and "expected one of county, city, province" in out["error"]
    code, out = call(client, "POST", f"/activations/{aid}/level", "ningbo", {"level": "city"})
    assert code == 200 and out["activation"]["lead_adcode"] == 330200
    code, out = call(client, "GET", "/activations", "hangzhou")
    assert code == 200 and out["activations"] == []
    code, out = call(client, "GET", "/activations", "province")
    assert [a["activation_id"] for a in out["activations"]] == [aid]
    code, out = call(client, "POST", f"/activations/{aid}/stand-down", "province", {"reason": "ok"})
    assert code == 200 and out["activation"]["status"] == "stood_down"
    code, out = call(client, "POST", f"/activations/{aid}/stand-down", "province")
    assert code == 409


def test_teams_acknowledge_update_complete_and_decline_their_own_tasks(
    client: FlaskClient,
) -> None:
    _activate(client)
    code, out = call(client, "GET", "/tasks", "zhenhai1")
    mine = [t["task_id"] for t in out["tasks"]]
    assert len(mine) == 2  # examine the scene, interview the victim
    code, out = call(client, "GET", "/tasks", "zhenhai2")
    assert code == 200 and out["tasks"] == []
    task, other = mine

    assert call(client, "POST", f"/tasks/{task}/acknowledge", "zhenhai2")[0] == 403
    assert call(client, "POST", f"/tasks/{task}/acknowledge", "ningbo")[0] == 403
    assert call(client, "POST", "/tasks/A-9999-T01/acknowledge", "zhenhai1")[0] == 404
    code, out = call(client, "POST", f"/tasks/{task}/complete", "zhenhai1")
    assert code == 409 and "only an acknowledged task" in out["error"]

    code, out = call(client, "POST", f"/tasks/{task}/acknowledge", "zhenhai1")
    assert code == 200 and out["task"]["status"] == "acknowledged"
    assert call(client, "POST", f"/tasks/{task}/acknowledge", "zhenhai1")[0] == 409
    code, out = call(client, "POST", f"/tasks/{task}/status", "zhenhai1", {"status": "lost"})
    assert code == 400 and "expected one of en_route, on_scene" in out["error"]
    resp = client.post(
        f"{PREFIX}/tasks/{task}/status",
        data="not json",
        headers={"Authorization": f"Bearer {TOKENS['zhenhai1'].token}"},
    )
    assert resp.status_code == 400
    code, out = call(client, "POST", f"/tasks/{task}/status", "zhenhai1", {"status": "on_scene"})
    assert code == 200 and out["task"]["status"] == "on_scene"
    code, out = call(client, "POST", f"/tasks/{task}/complete", "zhenhai1", {"note": "done"})
    assert code == 200 and out["task"]["status"] == "completed"

    code, out = call(client, "POST", f"/tasks/{other}/decline", "zhenhai1", {})
    assert code == 400 and "reason" in out["error"]
    code, out = call(client, "POST", f"/tasks/{other}/decline", "zhenhai1", {"reason": "in court"})
    assert code == 200 and out["task"]["declined_by"] == ["T-330211-01"]
    assert out["task"]["team_id"] == "T-330211-02"  # handed to the other Zhenhai team
    assert out["task"]["status"] == "pending"
    code, out = call(client, "GET", "/tasks", "zhenhai2")
    assert [t["task_id"] for t in out["tasks"]] == [other]


def test_audit_route_is_for_auditors_and_commanders(client: FlaskClient) -> None:
    _activate(client)
    assert call(client, "GET", "/audit?case_id=ZJ-API-1", "zhenhai1")[0] == 403
    assert call(client, "GET", "/audit", "auditor")[0] == 400
    code, out = call(client, "GET", "/audit?case_id=ZJ-API-1", "auditor")
    assert code == 200
    actions = [e["action"] for e in out["entries"]]
    assert actions[0] == "activated" and "task_dispatched" in actions
    assert out["entries"][0]["actor"] == "commander@330200"
    code, out = call(client, "GET", "/audit?team_id=T-330211-01", "province")
    assert code == 200 and out["entries"]


def test_credentials_are_checked_against_the_roster(runtime: Runtime) -> None:
    app = create_app(RuntimeReader(runtime))
    assert runtime.tasking is not None
    bad = [ApiToken("tok-unknown-team-000", "team", "T-999999-01")]
    with pytest.raises(ValueError, match="T-999999-01"):
        register_api(app.server, runtime.tasking.service, credentials(bad))


def test_team_status_messages_reach_the_roster_through_the_pipeline(runtime: Runtime) -> None:
    assert runtime.tasking is not None
    teams = runtime.tasking.org.teams
    assert teams["T-330211-01"].status == "available" and teams["T-330211-01"].status_at == T0
    later = (T0.replace(hour=9)).isoformat()
    msgs = [
        team_status("T-330211-02", status="unavailable", at=later),
        team_status("T-330211-01", status="on_scene", at=T0.replace(hour=7).isoformat()),  # older
    ]
    runtime.ingestor.process(
        [RawMessage(json.dumps(m).encode(), "test", f"s{i}") for i, m in enumerate(msgs)]
    )
    assert teams["T-330211-02"].status == "unavailable" and teams["T-330211-02"].free == 0
    assert teams["T-330211-01"].status == "available"  # an older status changes nothing
    assert runtime.tasking.service.now == T0.replace(hour=9)  # the watermark moved
