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

from dashboard.query import CaseView, SeriesView, Stats
from geo.jurisdictions import load_province

log = logging.getLogger(__name__)

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=CST)


class ListReader:
    """A thread-safe StateReader over a list of cases; ``add`` bumps the version."""

    def __init__(self, cases: list[CaseView] | None = None, now: dt.datetime = NOW) -> None:
        self._lock = threading.Lock()
        self._cases = list(cases or [])
        self._version = 1
        self._now = now
        self.version_calls = 0
        self.case_calls = 0

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
        return []

    def stats(self) -> Stats:
        with self._lock:
            return Stats(
                messages_accepted=len(self._cases) + 3,
                deadlettered=1,
                cases=len(self._cases),
                sightings=7,
                series=0,
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
