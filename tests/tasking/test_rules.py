"""Which plan a series triggers, at which level, led by which center, with which teams."""

from __future__ import annotations

import pytest

from graph.cases import CaseBook
from tasking.levels import Level
from tasking.service import TaskingService
from tests.tasking.conftest import add_cases, case_msg

NINGBO = 330200
ZHENHAI, BEILUN = 330211, 330206


def test_single_county_burglary_series_suggests_a_county_plan(
    service: TaskingService, cases: CaseBook
) -> None:
    ids = add_cases(
        cases,
        [case_msg(f"ZJ-B-{k}", ZHENHAI, "burglary.commercial", day=k) for k in range(3)],
    )
    sugg = service.on_series("created", "S-0001", ids)
    assert sugg is not None and sugg.kind == "activate" and sugg.status == "pending"
    assert sugg.plan == "county-series" and sugg.level is Level.COUNTY
    assert sugg.lead_adcode == ZHENHAI
    act = service.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    assert act.level is Level.COUNTY and act.lead_adcode == ZHENHAI
    assert {service.org.teams[t].county for t in act.teams} == {ZHENHAI}
    # one ANPR task per scene, each with a team of the county
    anpr = [service.tasks[t] for t in act.task_ids if service.tasks[t].kind == "anpr"]
    assert len(anpr) == 3 and all(t.team_id and t.team_id.startswith("T-330211-") for t in anpr)


def test_ningbo_fuel_theft_over_two_counties_is_led_by_the_ningbo_city_center(
    service: TaskingService, cases: CaseBook
) -> None:
    ids = add_cases(
        cases,
        [
            case_msg("ZJ-F-1", ZHENHAI, "theft.fuel", day=0),
            case_msg("ZJ-F-2", ZHENHAI, "theft.fuel", day=1),
            case_msg("ZJ-F-3", BEILUN, "theft.fuel", day=2),
        ],
    )
    sugg = service.on_series("created", "S-0002", ids, entities=["浙B12345", "13800001111"])
    assert sugg is not None
    assert (sugg.plan, sugg.level, sugg.lead_adcode) == ("city-cross-county", Level.CITY, NINGBO)
    act = service.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    assert act.lead_adcode == NINGBO
    assert {service.org.teams[t].county for t in act.teams} == {ZHENHAI, BEILUN}
    kinds = {service.tasks[t].kind: service.tasks[t] for t in act.task_ids}
    assert kinds["locate_vehicle"].title == "Locate 浙B12345"  # plates preferred as entities


def test_investment_fraud_with_victims_in_several_cities_is_led_by_the_province(
    service: TaskingService, cases: CaseBook
) -> None:
    counties = [330702, 330782, 330106, 330302, 330381]  # Jinhua x2, Hangzhou, Wenzhou x2
    ids = add_cases(
        cases,
        [
            case_msg(f"ZJ-I-{k}", c, "fraud.investment", day=k, victims=2, loss=300_000)
            for k, c in enumerate(counties)
        ],
    )
    sugg = service.on_series("created", "S-0003", ids)
    assert sugg is not None
    assert (sugg.plan, sugg.level, sugg.lead_adcode) == ("province-fraud", Level.PROVINCE, 330000)
    act = service.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    # the county teams of every affected county take part
    assert {service.org.teams[t].county for t in act.teams} == set(counties)
    tasks = [service.tasks[t] for t in act.task_ids]
    interviews = [t for t in tasks if t.kind == "interview_victims"]
    assert len(interviews) == len(counties)
    for t in interviews:
        assert t.team_id is not None and service.org.teams[t.team_id].county == t.county
    freezes = {t.county for t in tasks if t.kind == "freeze_accounts"}
    assert freezes == set(counties)


def test_a_large_fraud_in_one_city_goes_to_the_province(
    service: TaskingService, cases: CaseBook
) -> None:
    ids = add_cases(
        cases,
        [
            case_msg("ZJ-L-1", 330702, "fraud.investment", loss=4_000_000, victims=1),
            case_msg("ZJ-L-2", 330702, "fraud.investment", day=1, loss=2_000_000, victims=1),
        ],
    )
    sugg = service.on_series("created", "S-0004", ids)
    assert sugg is not None and sugg.plan == "province-large-fraud"
    assert sugg.lead_adcode == 330000


def test_series_growth_changes_level_and_dissolution_stands_down(
    service: TaskingService, cases: CaseBook
) -> None:
    ids = add_cases(cases, [case_msg(f"ZJ-G-{k}", ZHENHAI, "theft.fuel", day=k) for k in range(2)])
    service.auto_confirm = True
    first = service.on_series("created", "S-0005", ids)
    assert first is not None and first.status == "confirmed"
    act = service.activations[first.activation_id or "A-0001"]
    assert act.level is Level.COUNTY
    more = add_cases(cases, [case_msg("ZJ-G-9", BEILUN, "theft.fuel", day=3)])
    up = service.on_series("updated", "S-0005", ids + more)
    assert up is not None and up.kind == "change_level" and up.status == "confirmed"
    assert act.level is Level.CITY and act.lead_adcode == NINGBO
    assert any(service.org.teams[t].county == BEILUN for t in act.teams)
    down = service.on_series("dissolved", "S-0005", ids + more)
    assert down is not None and down.kind == "stand_down"
    assert act.status == "stood_down"
    assert all(service.tasks[t].status in ("cancelled", "completed") for t in act.task_ids)
    assert all(not service.org.teams[t].open_tasks for t in act.teams)


def test_manual_activation_on_a_case_and_level_changes(
    service: TaskingService, cases: CaseBook
) -> None:
    add_cases(cases, [case_msg("ZJ-M-1", ZHENHAI, "robbery", victims=1)])
    act = service.activate(case_id="ZJ-M-1", actor="cmd", role="commander")
    assert (act.plan, act.level, act.lead_adcode) == ("county-case", Level.COUNTY, ZHENHAI)
    service.change_level(act.activation_id, "city", actor="cmd", role="commander")
    assert act.level is Level.CITY and act.lead_adcode == NINGBO
    service.change_level(act.activation_id, Level.PROVINCE, actor="cmd", role="commander")
    assert act.level is Level.PROVINCE and act.lead_adcode == 330000
    service.change_level(act.activation_id, "county", actor="cmd", role="commander")
    assert act.level is Level.COUNTY and act.lead_adcode == ZHENHAI
    with pytest.raises(ValueError, match="expected one of county, city, province"):
        Level.parse(2)


def test_escalating_a_burglary_series_to_the_province_does_not_start_the_fraud_plan(
    service: TaskingService, cases: CaseBook
) -> None:
    ids = add_cases(
        cases,
        [case_msg(f"ZJ-BE-{k}", ZHENHAI, "burglary.commercial", day=k) for k in range(3)],
    )
    sugg = service.on_series("created", "S-0009", ids)
    assert sugg is not None and sugg.plan == "county-series"
    act = service.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    up = service.change_level(act.activation_id, "province", actor="cmd", role="commander")
    # no province plan triggers for one county's burglaries: the commander's choice of
    # level takes the province's plan without a category condition, not its fraud plan
    assert up.level is Level.PROVINCE
    assert up.plan == "province-cross-city"


def test_escalating_a_fraud_series_to_the_province_takes_the_fraud_plan(
    service: TaskingService, cases: CaseBook
) -> None:
    ids = add_cases(
        cases, [case_msg(f"ZJ-FR-{k}", ZHENHAI, "fraud.telecom", day=k) for k in range(2)]
    )
    sugg = service.on_series("created", "S-0010", ids)
    assert sugg is not None and sugg.level is not Level.PROVINCE
    act = service.confirm(sugg.suggestion_id, actor="cmd", role="commander")
    up = service.change_level(act.activation_id, "province", actor="cmd", role="commander")
    assert up.plan == "province-fraud"
