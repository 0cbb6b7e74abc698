"""Dashboard fixtures: an in-memory StateReader over real CaseView records, and a live server.

``ListReader`` is the dashboard's own input interface implemented over a plain
list; it is not a stand-in for any store.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from dashboard.audit import AuditLog
from dashboard.auth import User, UserStore, hash_password
from dashboard.query import CaseDetail, CaseView, PersonView, SeriesView, Stats, TeamView
from geo.jurisdictions import load_province

log = logging.getLogger(__name__)

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=CST)


class ListReader:
    """A thread-safe StateReader over lists of cases, series and teams; ``add`` bumps the
    version. ``details`` maps a case id to its persons and narrative."""

    def __init__(
        self,
        cases: list[CaseView] | None = None,
        now: dt.datetime = NOW,
        series: list[SeriesView] | None = None,
        teams: list[TeamView] | None = None,
        details: dict[str, tuple[tuple[PersonView, ...], str | None]] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._cases = list(cases or [])
        self._series = list(series or [])
        self._teams = list(teams or [])
        self._details = dict(details or {})
        self._version = 1
        self._now = now
        self.version_calls = 0
        self.case_calls = 0

    def set_series(self, series: list[SeriesView]) -> None:
        with self._lock:
            self._series = list(series)
            self._version += 1

    def teams(self) -> list[TeamView]:
        with self._lock:
            return list(self._teams)

    def case_detail(self, case_id: str) -> CaseDetail | None:
        with self._lock:
            case = next((c for c in self._cases if c.case_id == case_id), None)
            persons, narrative = self._details.get(case_id, ((), None))
        if case is None:
            return None
        return CaseDetail(case=case, persons=persons, narrative=narrative)

    def add(self, *cases: CaseView, now: dt.datetime | None = None) -> None:
        with self._lock:
            self._cases.extend(cases)
            if now is not None:
                self._now = now
            self._version += 1

    def advance(self, now: dt.datetime) -> None:
        """Move the stream clock without changing the state (the version stays)."""
        with self._lock:
            self._now = now

    def version(self) -> int:
        with self._lock:
            self.version_calls += 1
            return self._version

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def cases(
        self, since: dt.datetime | None = None, categories: frozenset[str] | None = None
    ) -> list[CaseView]:
        with self._lock:
            self.case_calls += 1
            out = [
                c
                for c in self._cases
                if (since is None or c.reported_at >= since)
                and (categories is None or c.category in categories)
            ]
        return sorted(out, key=lambda c: c.reported_at)

    def series(self) -> list[SeriesView]:
        with self._lock:
            return list(self._series)

    def stats(self) -> Stats:
        with self._lock:
            return Stats(
                messages_accepted=len(self._cases) + 3,
                deadlettered=1,
                cases=len(self._cases),
                sightings=7,
                series=len(self._series),
                by_category=dict(Counter(c.category for c in self._cases)),
            )


def county_point(adcode: int) -> tuple[float, float]:
    """(lon, lat) of a point inside a real county."""
    point = load_province(330000).counties.geometry.loc[adcode].representative_point()
    return float(point.x), float(point.y)


def make_case(
    case_id: str, category: str, county: int, hours_ago: float, now: dt.datetime = NOW
) -> CaseView:
    lon, lat = county_point(county)
    reported = now - dt.timedelta(hours=hours_ago)
    return CaseView(
        case_id=case_id,
        category=category,
        lon=lon,
        lat=lat,
        reported_at=reported,
        occurred_start=reported - dt.timedelta(hours=6),
        occurred_end=reported - dt.timedelta(hours=1),
        county=county,
        city=county // 100 * 100,
    )


@pytest.fixture
def sample_cases() -> list[CaseView]:
    """Five cases in four real counties, 0.5 h to 30 h before NOW."""
    return [
        make_case("ZJ-330211-0001", "theft.fuel", 330211, 0.5),  # 镇海区
        make_case("ZJ-330211-0002", "theft.fuel", 330211, 3.0),
        make_case("ZJ-330782-0001", "fraud.investment", 330782, 5.0),  # 义乌市
        make_case("ZJ-330106-0001", "burglary.residential", 330106, 20.0),  # 西湖区
        make_case("ZJ-330302-0001", "robbery", 330302, 30.0),  # 鹿城区
    ]


@pytest.fixture
def reader(sample_cases: list[CaseView]) -> ListReader:
    return ListReader(sample_cases)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve() -> Iterator:
    """Serve a Flask app on a free loopback port in a thread; yields ``start(app) -> url``."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def start(flask_app: object) -> str:
        server = make_server("127.0.0.1", free_port(), flask_app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="dash-test-server", daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=10)


PASSWORD = "test-password-1"  # a test fixture's password, not a default credential
_HASH = hash_password(PASSWORD, n=2**10)
USERS = {
    "prov.analyst": ("analyst", 330000),
    "prov.officer": ("case_officer", 330000),
    "nb.commander": ("commander", 330200),
    "zh.team": ("county_team", 330211),  # 镇海区
    "yw.team": ("county_team", 330782),  # 义乌市
}


@pytest.fixture(scope="session")
def users() -> UserStore:
    return UserStore(User(name, role, j, _HASH) for name, (role, j) in USERS.items())


@pytest.fixture
def audit(tmp_path) -> AuditLog:  # noqa: ANN001
    log_ = AuditLog(tmp_path / "audit.sqlite")
    yield log_
    log_.close()


def login(client, name: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    """Sign a Flask test client in."""
    resp = client.post("/login", data={"username": name, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


REFRESH_OUTPUTS = [
    ("case-layer", "data"),
    ("case-recent-layer", "data"),
    ("series-layer", "data"),
    ("team-layer", "data"),
    ("county-layer", "hideout"),
    ("case-count", "children"),
    ("case-total", "children"),
    ("status", "children"),
    ("category-filter", "options"),
    ("kpi-strip", "children"),
    ("series-list", "options"),
    ("last-render", "data"),
]


def dash_post(
    client,  # noqa: ANN001 - a Flask test client or a requests.Session with base url
    outputs: list[tuple[str, str]],
    inputs: list[tuple[object, str, object]],
    state: list[tuple[object, str, object]] = (),  # type: ignore[assignment]
    changed: str | None = None,
):  # noqa: ANN202
    """POST one callback to ``/_dash-update-component`` exactly as the browser does."""
    if len(outputs) == 1:
        output = f"{outputs[0][0]}.{outputs[0][1]}"
        outs: object = {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        outs = [{"id": i, "property": p} for i, p in outputs]
    body = {
        "output": output,
        "outputs": outs,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [changed] if changed else [],
    }
    return client.post("/_dash-update-component", json=body)


def refresh_body(window: str = "all", categories: list[str] | None = None) -> dict:
    return {
        "outputs": REFRESH_OUTPUTS,
        "inputs": [
            ("want", "data", {"seq": 1}),
            ("time-window", "value", window),
            ("category-filter", "value", categories or []),
            ("custom-from", "value", None),
            ("custom-to", "value", None),
        ],
        "state": [("last-render", "data", None)],
        "changed": "want.data",
    }


def case_ids_of(response_json: dict) -> set[str]:
    """Case ids in a refresh response's case layers."""
    out = set()
    for layer in ("case-layer", "case-recent-layer"):
        data = response_json["response"].get(layer, {}).get("data", {"features": []})
        out |= {f["properties"]["id"] for f in data["features"]}
    return out


# -- the command panel over real pipeline state ---------------------------------------
COMMAND_USERS = {
    "prov.commander": ("commander", 330000),
    "nb.commander": ("commander", 330200),  # 宁波市
    "zh.commander": ("commander", 330211),  # 镇海区, Ningbo
    "prov.analyst": ("analyst", 330000),
    "zh.team": ("county_team", 330211),
}


@pytest.fixture(scope="session")
def command_users() -> UserStore:
    return UserStore(User(name, role, j, _HASH) for name, (role, j) in COMMAND_USERS.items())


@pytest.fixture(scope="session")
def command_runtime(replayed_scenario, tmp_path_factory):  # noqa: ANN001, ANN201
    """A :class:`~icc.runtime.Runtime` rebuilt from a copy of the replayed scenario's state:
    the real pipeline with tasking's pending plan suggestions (nothing confirmed yet).
    Shared by the command-panel tests: each test picks suggestions no other test uses."""
    import shutil

    from icc.config import Settings
    from icc.runtime import Runtime

    base, _, _ = replayed_scenario
    state = tmp_path_factory.mktemp("command") / "state"
    shutil.copytree(base / "state", state)
    runtime = Runtime.open(Settings(data_dir=state))
    assert runtime.tasking is not None
    yield runtime
    runtime.close()


def pending_suggestions(service, where=None):  # noqa: ANN001, ANN201
    """Pending 'activate' suggestions whose cases' counties all satisfy ``where(county)``."""
    out = []
    active = {a.subject for a in service.activation_list() if a.status == "active"}
    for s in service.suggestion_list():
        if s.status != "pending" or s.kind != "activate" or s.subject in active:
            continue
        counties = {service.cases.get(c).county for c in s.case_ids}
        if where is None or all(where(c) for c in counties):
            out.append(s)
    return out
