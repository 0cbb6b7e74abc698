"""``icc.query.RuntimeReader`` over a replayed scenario: the views the dashboard gets from the
real pipeline (series with per-link evidence, link times, teams, case detail)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dashboard.auth import User
from dashboard.scope import ScopedReader
from icc.config import Settings
from icc.query import RuntimeReader
from icc.runtime import Runtime


@pytest.fixture(scope="module")
def reader(replayed_scenario: tuple[Path, dict, dict]):  # noqa: ANN201
    base, _, _ = replayed_scenario
    runtime = Runtime.open(Settings(data_dir=base / "state"))
    yield RuntimeReader(runtime)
    runtime.close()


def test_series_carry_links_evidence_and_entities(reader: RuntimeReader) -> None:
    series = reader.series()
    assert series, "the scenario has series"
    stamps = [s.updated_at for s in series]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    for s in series:
        assert len(s.case_ids) >= 2 and s.links
        for link in s.links:
            assert {link.case_a, link.case_b} <= set(s.case_ids)
            assert link.evidence and all(kind and text for kind, text in link.evidence)
    assert any(s.key_entities for s in series)


def test_cases_and_link_times(reader: RuntimeReader) -> None:
    cases = reader.cases()
    assert cases == sorted(cases, key=lambda c: c.reported_at)
    linked = [c for c in cases if c.series_id]
    assert linked and all(c.status == "linked" and c.linked_at is not None for c in linked)
    assert all(c.linked_at >= c.reported_at for c in linked)
    assert all(c.linked_at is None for c in cases if not c.series_id)
    since = reader.now() - dt.timedelta(hours=6)
    assert all(c.reported_at >= since for c in reader.cases(since=since))
    assert reader.version() == reader.version()  # stable while nothing changes


def test_case_detail_teams_and_scoping(reader: RuntimeReader) -> None:
    case = next(c for c in reader.cases() if c.series_id)
    detail = reader.case_detail(case.case_id)
    assert detail is not None and detail.case.case_id == case.case_id
    assert detail.persons or detail.narrative
    assert reader.case_detail("no-such-case") is None
    teams = reader.teams()
    assert teams and any(t.county for t in teams)
    county = case.county
    scoped = ScopedReader(reader, User("t", "county_team", county))
    assert {c.county for c in scoped.cases()} == {county}
    assert all(t.county == county for t in scoped.teams())
    other = next(c for c in reader.cases() if c.county and c.county != county)
    assert scoped.case_detail(other.case_id) is None
