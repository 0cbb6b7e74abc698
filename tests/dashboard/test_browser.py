"""The command center in a real browser (Debian chromium driven by Playwright).

One server and one browser for the module: a :class:`ListReader` with cases in
Zhenhai, Yiwu, Hangzhou and Wenzhou, a cross-county series with evidence and
a narrative containing ``<script>``. Every page records the host of every
request it makes; the last test asserts they were all 127.0.0.1. The slow
test runs ``make demo`` (or ``icc demo``) itself and signs in with the
credentials the demo prints. Screenshots go to ``_artifacts/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from dashboard.app import create_app
from dashboard.audit import AuditLog
from dashboard.query import LinkView, PersonView, SeriesView

from .conftest import (
    NOW,
    PASSWORD,
    ListReader,
    case_ids_of,
    dash_post,
    free_port,
    make_case,
    pending_suggestions,
    refresh_body,
)

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).with_name("_artifacts")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# SVG paths of the outline layers in Leaflet's overlay pane (cases are on their own canvas).
OUTLINE_PATHS = ".leaflet-overlay-pane svg path"
NARRATIVE = "柴油被盗。<script>window.__pwned = 1</script> <b>not bold</b>"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]

REQUESTED: list[str] = []


@pytest.fixture(scope="module")
def live(users, tmp_path_factory) -> Iterator[tuple[str, ListReader, AuditLog]]:  # noqa: ANN001
    """(base url, reader, audit log) of one server for the module."""
    cases = [
        make_case("ZJ-330211-0001", "theft.fuel", 330211, 0.5),  # 镇海区
        make_case("ZJ-330211-0002", "theft.fuel", 330211, 3.0),
        make_case("ZJ-330782-0001", "fraud.investment", 330782, 5.0),  # 义乌市
        make_case("ZJ-330106-0001", "burglary.residential", 330106, 20.0),  # 西湖区
        make_case("ZJ-330302-0001", "robbery", 330302, 30.0),  # 鹿城区
    ]
    series = SeriesView(
        "S-0001",
        ("ZJ-330211-0001", "ZJ-330211-0002", "ZJ-330782-0001"),
        counties=(330211, 330782),
        updated_at=cases[0].reported_at,
        links=(
            LinkView(
                "ZJ-330211-0001",
                "ZJ-330211-0002",
                0.93,
                (("vehicle", "浙B12345 seen within 800 m of 2 scenes during their windows"),),
            ),
            LinkView(
                "ZJ-330211-0002",
                "ZJ-330782-0001",
                0.81,
                (("person", "suspect 沈美玲 (case ZJ-330782-0001) is 沈美铃"),),
            ),
        ),
        key_entities=("浙B12345",),
    )
    suspect = PersonView("suspect", "沈美玲", "33070219990919656X", "13103525722")
    reader = ListReader(cases, series=[series], details={"ZJ-330211-0001": ((suspect,), NARRATIVE)})
    audit = AuditLog(tmp_path_factory.mktemp("audit") / "audit.sqlite")
    app = create_app(reader, refresh_ms=500, users=users, audit=audit)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", free_port(), app.server, threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", reader, audit
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(browser, url: str, user: str):  # noqa: ANN001, ANN201
    """A fresh context signed in as ``user``, recording every request."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("request", lambda req: REQUESTED.append(req.url))
    page.goto(url + "login", wait_until="domcontentloaded")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#map", timeout=60_000)
    return page


def case_count(page) -> int:  # noqa: ANN001
    text = page.inner_text("#case-count").strip().replace(",", "")
    return int(text) if text.isdigit() else -1


def wait_count(page, predicate, timeout_s: float) -> int:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    count = case_count(page)
    while not predicate(count):
        if time.monotonic() > deadline:
            raise AssertionError(f"#case-count stayed at {count} for {timeout_s:.0f} s")
        page.wait_for_timeout(100)
        count = case_count(page)
    return count


def wait_outlines(page) -> None:  # noqa: ANN001
    page.wait_for_function(
        f"document.querySelectorAll({OUTLINE_PATHS!r}).length >= 90", timeout=60_000
    )


def drawn(page, case_id: str) -> bool:  # noqa: ANN001
    return bool(page.evaluate("id => window.iccDrawn && window.iccDrawn.has(id)", case_id))


def test_page_loads_outlines_and_cases_and_updates_live(browser, live) -> None:  # noqa: ANN001
    url, reader, _ = live
    page = new_page(browser, url, "prov.analyst")
    assert page.title() == "Investigation Command Center — 浙江省"
    wait_outlines(page)
    assert page.locator(OUTLINE_PATHS).count() >= 90 + 11 + 1
    assert wait_count(page, lambda c: c == 5, timeout_s=30) == 5
    assert drawn(page, "ZJ-330211-0001") and drawn(page, "ZJ-330302-0001")
    assert page.locator(".leaflet-cases-pane canvas").count() >= 1
    assert "prov.analyst" in page.inner_text("#whoami")
    assert page.inner_text("#kpi-tasks-overdue") == "—"
    # a new case pushed into the state appears without a reload
    later = NOW + dt.timedelta(minutes=5)
    t0 = time.monotonic()
    reader.add(make_case("ZJ-330481-NEW1", "theft.cargo", 330481, 0, now=later), now=later)
    wait_count(page, lambda c: c == 6, timeout_s=15)
    page.wait_for_function("() => window.iccDrawn.has('ZJ-330481-NEW1')", timeout=5_000)
    log.info("new case drawn %.2f s after it was added", time.monotonic() - t0)
    # the filters narrow the map: the last hour holds two cases
    page.get_by_text("last 1 h", exact=True).click()
    wait_count(page, lambda c: c == 2, timeout_s=15)
    page.get_by_text("all", exact=True).click()
    wait_count(page, lambda c: c == 6, timeout_s=15)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map.png"))
    page.context.close()


def test_series_evidence_and_narrative_as_text(browser, live) -> None:  # noqa: ANN001
    url, _, audit = live
    page = new_page(browser, url, "prov.analyst")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.get_by_text(re.compile(r"^S-0001 · 3 cases")).click()
    evidence = page.locator("#series-evidence")
    evidence.get_by_text("浙B12345 seen within 800 m", exact=False).wait_for(timeout=15_000)
    assert "same person" in evidence.inner_text().lower()
    assert page.locator("#series-timeline .tl-row").count() == 3
    page.get_by_role("button", name="ZJ-330211-0001").click()
    narrative = page.locator("#case-narrative")
    narrative.wait_for(timeout=15_000)
    assert narrative.inner_text() == NARRATIVE  # shown as the characters typed
    assert narrative.locator("script, b").count() == 0
    assert page.evaluate("window.__pwned === undefined") and not dialogs
    persons = page.inner_text("#case-persons")
    assert "330702********656X" in persons and "131****5722" in persons  # analyst: masked
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "series.png"))
    page.context.close()
    actions = [(r["user"], r["action"], r["object"]) for r in audit.rows()]
    assert ("prov.analyst", "view_series", "S-0001") in actions
    assert ("prov.analyst", "view_case", "ZJ-330211-0001") in actions


def test_county_user_sees_only_its_county(browser, live) -> None:  # noqa: ANN001
    url, reader, _ = live
    page = new_page(browser, url, "zh.team")
    wait_outlines(page)
    assert wait_count(page, lambda c: c == 2, timeout_s=30) == 2
    assert not drawn(page, "ZJ-330782-0001")
    html = page.content()
    assert "ZJ-330782-0001" not in html and "义乌" not in page.inner_text("#series-panel")
    # the same session calling the callback directly, outside the page: still only Zhenhai
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with requests.Session() as s:
        s.cookies.update(cookies)
        resp = dash_post(_Prefixed(s, url), **refresh_body())
        assert resp.status_code == 200
        assert case_ids_of(resp.json()) == {"ZJ-330211-0001", "ZJ-330211-0002"}
    # and without a session: nothing
    resp = dash_post(_Prefixed(requests.Session(), url), **refresh_body())
    assert resp.status_code == 401 and "ZJ-" not in resp.text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "county.png"))
    page.context.close()


@pytest.fixture(scope="module")
def command_live(command_runtime, command_users, tmp_path_factory) -> Iterator[str]:  # noqa: ANN001
    """A server over the real pipeline (the replayed scenario) with tasking connected."""
    from icc.query import RuntimeReader

    audit = AuditLog(tmp_path_factory.mktemp("cmd-browser") / "audit.sqlite")
    app = create_app(
        RuntimeReader(command_runtime),
        refresh_ms=500,
        users=command_users,
        audit=audit,
        tasking=command_runtime.tasking.service,
    )
    server = make_server("127.0.0.1", free_port(), app.server, threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=10)
    audit.close()


def test_a_commanders_one_click_activates_a_plan_and_its_tasks_appear(
    browser,  # noqa: ANN001
    command_live: str,
    command_runtime,  # noqa: ANN001
) -> None:
    service = command_runtime.tasking.service
    # a plan suggestion of the replayed scenario that nobody confirmed yet
    sugg = pending_suggestions(service)[-1]
    page = new_page(browser, command_live, "prov.commander")
    card = page.locator(f"#suggestion-{sugg.suggestion_id}")
    card.wait_for(timeout=30_000)
    assert sugg.subject in card.inner_text() and f"{sugg.level.value} level" in card.inner_text()
    card.get_by_role("button", name="Confirm").click()  # the one click
    outcome = page.locator("#cmd-outcome")
    outcome.wait_for(timeout=15_000)
    assert outcome.inner_text().startswith(f"Confirmed {sugg.suggestion_id}: activation A-")
    act = next(a for a in service.activation_list() if a.subject == sugg.subject)
    block = page.locator(f"#activation-{act.activation_id}")
    block.wait_for(timeout=15_000)
    assert page.locator(f"#tier-{act.level.value} #activation-{act.activation_id}").count() == 1
    rows = block.locator("tr.cmd-task")
    assert rows.count() == len(act.task_ids) > 0
    first = service.tasks[act.task_ids[0]]
    row = page.locator(f"#task-{first.task_id}")
    assert first.team_id and first.team_id in row.inner_text()
    assert "left (due" in row.locator(".cmd-timer").inner_text()
    # the suggestion is gone from the list, and the audit trail names the commander
    page.wait_for_function(
        f"() => !document.querySelector('#suggestion-{sugg.suggestion_id}')", timeout=15_000
    )
    actions = [
        (e.action, e.actor, e.role) for e in service.audit.query(activation_id=act.activation_id)
    ]
    assert ("activated", "prov.commander", "commander") in actions
    block.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "command.png"))
    page.context.close()


def test_no_request_leaves_the_machine() -> None:
    assert REQUESTED, "the pages made no requests at all"
    outside = [u for u in REQUESTED if urlsplit(u).hostname != "127.0.0.1"]
    assert not outside, f"the page requested outside hosts: {outside[:10]}"


class _Prefixed:
    """``requests.Session`` with a base url, shaped like a Flask test client for dash_post."""

    def __init__(self, session: requests.Session, base: str) -> None:
        self.session, self.base = session, base.rstrip("/")

    def post(self, path: str, json: dict) -> requests.Response:  # noqa: A002
        return self.session.post(self.base + path, json=json, timeout=30)


# -- the real command ---------------------------------------------------------
def _wait_http(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"icc demo exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"icc demo did not answer at {url} within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the process and its children (``make`` runs the demo as a child)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # a child left behind by make


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("icc.cli") is None, reason="the icc console script is not written yet"
)
def test_make_demo_serves_the_page(browser, tmp_path: Path) -> None:  # noqa: ANN001
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "ICC_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    log_path = tmp_path / "demo.log"
    venv_python = REPO / ".venv" / "bin" / "python"
    if (
        shutil.which("make")
        and venv_python.exists()
        and Path(sys.executable).resolve() == venv_python.resolve()
    ):
        cmd = ["make", "-s", "demo", f"PORT={port}", "SPEEDUP=600"]
    else:
        cmd = [sys.executable, "-m", "icc", "demo", "--port", str(port), "--speedup", "600"]
        cmd += ["--seed", "3", "--scale", "0.1", "--reset"]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            try:
                _wait_http(url + "login", proc, timeout_s=120)
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc}\n--- demo output ---\n{log_path.read_text()[-4000:]}"
                ) from exc
            # the operations endpoints answer without a session (icc.ops, mounted by the demo)
            with urllib.request.urlopen(url + "healthz", timeout=10) as resp:
                assert resp.status == 200 and json.load(resp)["status"] == "ok"
            with urllib.request.urlopen(url + "metrics", timeout=10) as resp:
                assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                assert "# TYPE icc_cases gauge" in resp.read().decode("utf-8")
            printed = dict(re.findall(r"demo login: (\S+) / (\S+)", log_path.read_text()))
            assert set(printed) >= {"analyst", "officer", "commander", "zhenhai"}, printed
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.on("request", lambda req: REQUESTED.append(req.url))
            page.goto(url, wait_until="domcontentloaded")  # redirected to the login form
            page.fill("#username", "analyst")
            page.fill("#password", printed["analyst"])
            page.click("#login-submit")
            wait_outlines(page)
            assert wait_count(page, lambda c: c > 0, timeout_s=90) > 0
            # tasking is connected: the analyst sees the board read-only, no controls
            page.locator("#cmd-board h3").wait_for(timeout=30_000)
            assert not page.locator("#cmd-manual").is_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "demo.png"))
            outside = [u for u in REQUESTED if urlsplit(u).hostname != "127.0.0.1"]
            assert not outside, outside[:10]
            context.close()
        finally:
            _stop(proc)
