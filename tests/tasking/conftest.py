"""Fixtures for tasking: the real organisation, plans, cases placed in real counties."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from geo.jurisdictions import load_province
from geo.lookup import JurisdictionIndex
from graph.cases import CaseBook
from ingest.models import parse_message
from tasking.audit import AuditLog
from tasking.org import Organisation
from tasking.plans import PlanBook, load_plans
from tasking.service import TaskingService
from tests.factories import incident

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def point_in(county: int, shift: float = 0.0) -> tuple[float, float]:
    """A point inside a county (its representative point, nudged by ``shift`` degrees)."""
    geom = load_province(330000).counties.geometry[county]
    p = geom.representative_point()
    return float(p.x) + shift * 1e-3, float(p.y) + shift * 1e-3


def case_msg(
    case_id: str,
    county: int,
    category: str,
    day: int = 0,
    victims: int = 0,
    loss: float = 1000.0,
    **over: Any,
) -> dict[str, Any]:
    """An incident for a case placed in ``county``, ``day`` days after T0."""
    lon, lat = point_in(county, shift=day)
    start = T0 + dt.timedelta(days=day) - dt.timedelta(hours=10)
    persons = [
        {"role": "victim", "name": f"受害人{case_id[-3:]}{k}", "phone": f"1380000{day:02d}{k:02d}"}
        for k in range(victims)
    ]
    return incident(
        case_id,
        reported_at=(start + dt.timedelta(hours=10)).isoformat(),
        occurred_start=start.isoformat(),
        occurred_end=(start + dt.timedelta(hours=8)).isoformat(),
        lon=lon,
        lat=lat,
        category=category,
        loss_cny=loss,
        persons=persons,
        vehicles=[],
        organizations=[],
        address=f"scene of {case_id}",
        **over,
    )


@pytest.fixture(scope="session")
def index() -> JurisdictionIndex:
    return JurisdictionIndex.for_province(330000)


@pytest.fixture
def cases(index: JurisdictionIndex) -> CaseBook:
    return CaseBook(index)


def add_cases(book: CaseBook, msgs: list[dict[str, Any]]) -> list[str]:
    book.apply([parse_message(json.dumps(m, ensure_ascii=False)) for m in msgs])
    return [m["report_id"] for m in msgs]


@pytest.fixture
def org() -> Organisation:
    return Organisation.load(330000)


@pytest.fixture(scope="session")
def plans() -> PlanBook:
    return load_plans()


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit.sqlite")
    yield log
    log.close()


@pytest.fixture
def service(org: Organisation, plans: PlanBook, audit: AuditLog, cases: CaseBook) -> TaskingService:
    svc = TaskingService(org, plans, audit, cases)
    svc.advance(T0)
    return svc
