"""Login, sessions, server-side scoping, masking and the audit log, over HTTP (Flask test
client posting to ``/_dash-update-component`` exactly as the browser does)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dash
import pytest

from dashboard.app import create_app
from dashboard.audit import AuditLog
from dashboard.auth import (
    LoginLimiter,
    SessionStore,
    User,
    UserStore,
    hash_password,
    mask_phone,
    mask_text,
    verify_password,
)
from dashboard.query import LinkView, PersonView, SeriesView
from icc.demo import DEMO_USERS, demo_users

from .conftest import PASSWORD, ListReader, case_ids_of, dash_post, login, refresh_body

ZH = ("ZJ-330211-0001", "ZJ-330211-0002")  # 镇海区 (Ningbo)
YW = "ZJ-330782-0001"  # 义乌市 (Jinhua)
SUSPECT = PersonView("suspect", "沈美玲", "33070219990919656X", "+86 131-0352-5722")


@pytest.fixture
def reader(sample_cases) -> ListReader:  # noqa: ANN001
    cross = SeriesView(
        "S-0001",
        (*ZH, YW),
        counties=(330211, 330782),
        updated_at=sample_cases[0].reported_at,
        links=(
            LinkView(ZH[0], ZH[1], 0.93, (("vehicle", "浙B12345 seen within 800 m of 2 scenes"),)),
            LinkView(ZH[1], YW, 0.81, (("phone", "13103525722 seen near both scenes"),)),
        ),
        key_entities=("浙B12345", "13103525722"),
    )
    only_yw = SeriesView("S-0002", (YW, "ZJ-330782-0009"), counties=(330782,))
    details = {
        ZH[0]: ((SUSPECT,), "夜间柴油被盗 <script>alert(1)</script> 联系 13812345678"),
        YW: ((SUSPECT,), "投资诈骗"),
    }
    return ListReader(sample_cases, series=[cross, only_yw], details=details)


@pytest.fixture
def app(reader: ListReader, users: UserStore, audit: AuditLog) -> dash.Dash:
    return create_app(reader, users=users, audit=audit, secret_key="x" * 32)


def text(resp) -> str:  # noqa: ANN001
    """A callback response as readable text (Dash escapes non-ASCII in its JSON)."""
    return json.dumps(resp.get_json(), ensure_ascii=False)


def refresh(client) -> dict:  # noqa: ANN001
    resp = dash_post(client, **refresh_body())
    assert resp.status_code == 200, resp.status_code
    return resp.get_json()


def series_detail(client, series_id: str):  # noqa: ANN001, ANN201
    return dash_post(
        client,
        [("series-detail", "children"), ("series-layer", "hideout")],
        [("series-list", "value", series_id), ("last-render", "data", None)],
        changed="series-list.value",
    )


def case_detail(client, case_id: str):  # noqa: ANN001, ANN201
    return dash_post(
        client,
        [("case-detail", "children")],
        [
            ({"type": "case-open", "case": "ALL"}, "n_clicks", []),
            ("case-layer", "clickData", {"properties": {"id": case_id}}),
            ("case-recent-layer", "clickData", None),
        ],
        changed="case-layer.clickData",
    )


def test_everything_needs_a_session(app: dash.Dash) -> None:
    client = app.server.test_client()
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/login")
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-dependencies").status_code == 401
    assert dash_post(client, **refresh_body()).status_code == 401
    assert case_detail(client, ZH[0]).status_code == 401
    login_page = client.get("/login").get_data(as_text=True)
    assert "http://" not in login_page and "https://" not in login_page


def test_login_logout_and_failed_login_audited(app: dash.Dash, audit: AuditLog) -> None:
    client = app.server.test_client()
    bad = client.post("/login", data={"username": "zh.team", "password": "wrong-password"})
    assert bad.status_code == 401 and "Wrong user or password" in bad.get_data(as_text=True)
    assert client.get("/").status_code == 302
    login(client, "zh.team")
    index = client.get("/").get_data(as_text=True)
    assert "http://" not in index and "https://" not in index and "/assets/style.css" in index
    assert client.get("/_dash-layout").status_code == 200
    client.get("/logout")
    assert client.get("/_dash-layout").status_code == 401
    assert [r["action"] for r in audit.rows()] == ["login_failed", "login", "logout"]
    cookie = client.get_cookie("icc_session")
    assert cookie is None or cookie.http_only


def test_county_user_gets_only_its_cases_even_calling_callbacks_directly(app: dash.Dash) -> None:
    zh, yw, prov = (app.server.test_client() for _ in range(3))
    login(zh, "zh.team")
    login(yw, "yw.team")
    login(prov, "prov.analyst")
    assert case_ids_of(refresh(zh)) == set(ZH)
    assert case_ids_of(refresh(yw)) == {YW}
    assert len(case_ids_of(refresh(prov))) == 5
    first = str(refresh(zh))
    assert YW not in first and "义乌" not in first and "13103525722" not in first
    # the cross-county series reaches Zhenhai without anything of the Yiwu case
    detail = series_detail(zh, "S-0001")
    assert detail.status_code == 200
    body = text(detail)
    assert ZH[0] in body and "浙B12345" in body
    assert YW not in body and "131" not in body and "1 more in other jurisdictions" in body
    # a series wholly in Yiwu, or a Yiwu case, asked for by id: nothing
    assert YW not in text(series_detail(zh, "S-0002"))
    assert YW not in text(case_detail(zh, YW)).replace(f"case {YW} not found", "")
    assert "not found" in text(case_detail(zh, YW))


def test_masking_by_role_and_audit_of_person_views(app: dash.Dash, audit: AuditLog) -> None:
    analyst, officer = app.server.test_client(), app.server.test_client()
    login(analyst, "prov.analyst")
    login(officer, "prov.officer")
    masked = text(case_detail(analyst, ZH[0]))
    assert "330702********656X" in masked and "131****5722" in masked
    assert "33070219990919656X" not in masked and "13812345678" not in masked
    full = text(case_detail(officer, ZH[0]))
    assert "33070219990919656X" in full and "+86 131-0352-5722" in full
    series_masked = text(series_detail(analyst, "S-0001"))
    assert "131****5722" in series_masked and "13103525722" not in series_masked
    views = [(r["user"], r["action"], r["object"]) for r in audit.rows() if r["action"] != "login"]
    assert views == [
        ("prov.analyst", "view_case", ZH[0]),
        ("prov.officer", "view_case", ZH[0]),
        ("prov.analyst", "view_series", "S-0001"),
    ]


def test_audit_log_is_append_only(tmp_path: Path) -> None:
    import sqlite3

    log = AuditLog(tmp_path / "a.sqlite")
    log.record("u", "analyst", 330000, "view_case", "C-1")
    for sql in ("UPDATE views SET user = 'x'", "DELETE FROM views"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            log._conn.execute(sql)
    assert len(log.rows()) == 1


def test_sessions_expire(reader: ListReader, users: UserStore, audit: AuditLog) -> None:
    app = create_app(reader, users=users, audit=audit, sessions=SessionStore(idle_s=0.2, max_s=60))
    client = app.server.test_client()
    login(client, "zh.team")
    assert client.get("/_dash-layout").status_code == 200
    time.sleep(0.3)
    assert client.get("/_dash-layout").status_code == 401
    store = SessionStore(idle_s=60, max_s=0.1)
    sid = store.create("a")
    assert store.user_of(sid) == "a"
    time.sleep(0.15)
    assert store.user_of(sid) is None


def test_passwords_and_user_files(tmp_path: Path) -> None:
    h = hash_password("s3cret-pass", n=2**10)
    assert h.startswith("scrypt$") and "s3cret" not in h
    assert verify_password("s3cret-pass", h) and not verify_password("s3cret-pasS", h)
    assert not verify_password("x", "not-a-hash")
    good = tmp_path / "users.toml"
    good.write_text(
        f'[[user]]\nname = "a"\nrole = "analyst"\njurisdiction = 330200\npassword = "{h}"\n'
    )
    store = UserStore.from_file(good)
    assert store.authenticate("a", "s3cret-pass") is not None
    assert (
        store.authenticate("a", "wrong") is None and store.authenticate("b", "s3cret-pass") is None
    )
    plain = tmp_path / "plain.toml"
    plain.write_text('[[user]]\nname = "a"\nrole = "analyst"\njurisdiction = 1\npassword = "pw"\n')
    with pytest.raises(ValueError, match="scrypt hash"):
        UserStore.from_file(plain)
    with pytest.raises(ValueError, match="role 'boss'"):
        User("x", "boss", 330000)
    with pytest.raises(ValueError, match="adcode"):
        User("x", "analyst", 42)
    assert len(UserStore.from_env({})) == 0  # no default users


def test_masking_helpers() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_text("id 330106198001010012, tel +86 138-1234-5678") == (
        "id 330106********0012, tel 138****5678"
    )
    assert mask_text("浙B12345 and case ZJ-330211-20260302-0001") == (
        "浙B12345 and case ZJ-330211-20260302-0001"
    )


def test_demo_users_are_random_and_one_per_role() -> None:
    store_a, logins_a = demo_users(330000)
    _, logins_b = demo_users(330000)
    assert {name for name, *_ in logins_a} == {name for name, *_ in DEMO_USERS}
    assert {p for _, p, *_ in logins_a}.isdisjoint({p for _, p, *_ in logins_b})
    name, password, *_ = logins_a[0]
    assert store_a.authenticate(name, password) is not None
    assert store_a.get("zhenhai").jurisdiction == 330211


def test_failed_logins_are_rate_limited_per_user_and_address(
    app: dash.Dash, audit: AuditLog
) -> None:
    client = app.server.test_client()
    for _ in range(5):
        resp = client.post("/login", data={"username": "zh.team", "password": "wrong-password"})
        assert resp.status_code == 401 and "Wrong user or password" in resp.get_data(as_text=True)
    # the sixth attempt is refused before the password is even checked - the right one too
    resp = client.post("/login", data={"username": "zh.team", "password": PASSWORD})
    assert resp.status_code == 429
    assert "Too many failed sign-ins for this user from your address" in resp.get_data(as_text=True)
    assert "Try again in 5 minutes" in resp.get_data(as_text=True)
    assert 0 < int(resp.headers["Retry-After"]) <= 300
    assert client.get("/").status_code == 302  # still signed out
    assert [r["action"] for r in audit.rows("zh.team")][-1] == "login_throttled"
    # another user from the same address, and the same user from another address, may try
    login(client, "prov.analyst")
    other = app.server.test_client()
    resp = other.post(
        "/login",
        data={"username": "zh.team", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert resp.status_code == 302


def test_login_limiter_window() -> None:
    lim = LoginLimiter(max_failures=3, window_s=60)
    for t in (0.0, 10.0, 20.0):
        assert lim.retry_after("u", "a", now=t) == 0
        lim.fail("u", "a", now=t)
    assert lim.retry_after("u", "a", now=21.0) == 39  # the first failure leaves at 60 s
    assert lim.retry_after("u", "a", now=60.5) == 0  # ... and then two remain: may try
    lim.fail("u", "a", now=61.0)
    assert lim.retry_after("u", "a", now=61.0) > 0
    lim.reset("u", "a")
    assert lim.retry_after("u", "a", now=61.0) == 0
    with pytest.raises(ValueError, match="max_failures = 0: expected an int of at least 1"):
        LoginLimiter(max_failures=0, window_s=60)


def test_health_and_metrics_answer_without_login(command_runtime, users, audit) -> None:  # noqa: ANN001
    """As ``icc demo`` and ``icc dashboard`` mount them: open paths, everything else closed."""
    from icc.ops import register_ops_routes
    from icc.query import RuntimeReader

    app = create_app(RuntimeReader(command_runtime), users=users, audit=audit)
    register_ops_routes(app.server, command_runtime)
    client = app.server.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200 and health.is_json
    assert health.get_json()["status"] == "ok"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = metrics.get_data(as_text=True)
    assert "# TYPE icc_cases gauge" in body
    cases = next(line for line in body.splitlines() if line.startswith("icc_cases "))
    assert float(cases.split()[1]) == len(command_runtime.cases.cases())
    assert client.get("/").status_code == 302  # the page itself still needs a session
    # open means exactly those paths, not everything that starts like them
    for path in ("/metricsX", "/healthz/../_dash-layout", "/loginx"):
        assert client.get(path).status_code in (302, 401), path
