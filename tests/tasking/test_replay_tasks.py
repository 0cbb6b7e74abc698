"""``icc replay --export-tasks`` on a generated scenario: activations follow the plan rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from geo.lookup import JurisdictionIndex
from graph.cases import CaseBook
from icc.cli import main
from ingest.models import parse_message
from tasking.org import Organisation
from tasking.plans import load_plans
from tasking.rules import lead_center, select_plan, situation_of


@pytest.fixture(scope="module")
def exported(
    replayed_scenario: tuple[Path, dict, dict], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, dict, list[dict]]:
    base, _, _ = replayed_scenario
    stream = base / "zj" / "stream.jsonl"
    out = tmp_path_factory.mktemp("tasks")
    mp = pytest.MonkeyPatch()
    mp.setenv("ICC_DATA_DIR", str(out / "state"))
    try:
        code = main(
            [
                "replay",
                str(stream),
                "--export-tasks",
                str(out / "tasks.json"),
                "--export-series",
                str(out / "series.json"),
            ]
        )
    finally:
        mp.undo()
    assert code == 0
    messages = [json.loads(line) for line in stream.read_text(encoding="utf-8").splitlines()]
    tasks = json.loads((out / "tasks.json").read_text(encoding="utf-8"))
    series = json.loads((out / "series.json").read_text(encoding="utf-8"))
    return tasks, series, messages


def test_export_has_the_contract_shape(exported: tuple[dict, dict, list[dict]]) -> None:
    tasks, series, _ = exported
    assert set(tasks) == {"activations"} and tasks["activations"]
    for act in tasks["activations"]:
        assert {"series_id", "level", "lead_adcode", "teams", "tasks"} <= set(act)
        assert act["level"] in ("county", "city", "province")
        for t in act["tasks"]:
            assert {"task_id", "team_id", "kind", "status"} <= set(t)
    active = {a["series_id"] for a in tasks["activations"] if a["status"] == "active"}
    assert active == {s["series_id"] for s in series["series"]}  # every series, auto-confirmed


def test_activations_are_consistent_with_the_plan_rules(
    exported: tuple[dict, dict, list[dict]],
) -> None:
    tasks, series, messages = exported
    book = CaseBook(JurisdictionIndex.for_province(330000))
    book.apply(
        [
            parse_message(json.dumps(m, ensure_ascii=False))
            for m in messages
            if m["kind"] == "incident"
        ]
    )
    org, plans = Organisation.load(330000), load_plans()
    members = {s["series_id"]: s["case_ids"] for s in series["series"]}
    levels: Counter[str] = Counter()
    for act in tasks["activations"]:
        if act["status"] != "active":
            continue
        s = situation_of(act["series_id"], [book.get(c) for c in members[act["series_id"]]])
        plan = select_plan(plans, s)
        assert plan is not None
        assert (act["plan"], act["level"]) == (plan.name, plan.level.value), act["series_id"]
        assert act["lead_adcode"] == lead_center(plan, s, org)
        levels[act["level"]] += 1
        if act["level"] == "county":
            assert len(s.counties) <= 1
        elif act["level"] == "city":
            assert len(s.cities) == 1 and len(s.counties) >= 2
            assert act["lead_adcode"] == s.cities[0]
        else:
            assert act["lead_adcode"] == 330000
        # teams come from the affected counties (or, when those are full, their cities)
        for team in act["teams"]:
            assert org.teams[team].county in s.counties or org.teams[team].city in s.cities
        # span of control
        stack = [act["group"]]
        while stack:
            g = stack.pop()
            assert len(g["teams"]) + len(g["subgroups"]) <= plans.span_of_control
            stack.extend(g["subgroups"])
    assert len(levels) >= 2, levels


def test_capacity_escalation_and_team_ids_in_the_replay(
    exported: tuple[dict, dict, list[dict]],
) -> None:
    tasks, _, messages = exported
    org = Organisation.load(330000)
    load: Counter[str] = Counter()
    every = [t for a in tasks["activations"] for t in a["tasks"]]
    for t in every:
        if t["status"] in ("pending", "acknowledged", "en_route", "on_scene"):
            load[t["team_id"]] += 1
    assert all(n <= org.teams[team].capacity for team, n in load.items())
    # nobody acknowledges in batch mode: the escalation chains run on event time
    assert any(t["escalations"] > 0 for t in every)
    assert any(t["escalated_to"] for t in every)
    streamed = {m["team_id"] for m in messages if m["kind"] == "team_status"}
    assert streamed == set(org.teams)  # the roster uses the scenario's team ids
