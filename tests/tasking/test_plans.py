"""The plan file: the packaged one loads; a bad one fails at start naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from icc.cli import main
from icc.config import ConfigError, Settings
from icc.runtime import Runtime
from tasking.levels import Level
from tasking.org import Organisation, load_roster
from tasking.plans import DEFAULT_PLANS, PlanError, load_plans
from tasking.schema import SchemaError
from tasking.service import check_plans

GOOD = DEFAULT_PLANS.read_text(encoding="utf-8")


def test_packaged_plans_cover_every_level_with_named_levels() -> None:
    book = load_plans()
    assert {p.level for p in book.plans} == set(Level)
    assert all(isinstance(p.level, Level) for p in book.plans)
    assert [p.level for p in book.ordered()] == sorted((p.level for p in book.plans), reverse=True)
    assert book.span_of_control == 8
    assert all(p.tasks and p.ack_deadline.total_seconds() > 0 for p in book.plans)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('level = "county"', "level = 1", r"plan\[\d\]\.level = 1: expected one of county, city"),
        (
            "min_cases = 2\nmax_counties = 1",
            "min_case = 2",
            r"plan\[\d\]\.trigger\.min_case: unknown key",
        ),
        (
            'deadline = "30m"',
            'deadline = "soon"',
            r"plan\[\d\]\.ack\.deadline = 'soon': expected a duration",
        ),
        (
            'action = "renotify"',
            'action = "panic"',
            r"plan\[0\]\.escalation\[0\]\.action = 'panic': expected one of",
        ),
        (
            'title = "Locate {entity}"',
            'title = "Locate {plate}"',
            r"placeholder \{plate\} is not available",
        ),
        (
            'name = "county-case"',
            'name = "county-series"',
            r"name = 'county-series': expected a unique plan name",
        ),
        (
            "span_of_control = 8",
            "span_of_control = 0",
            r"dispatch\.span_of_control = 0: expected an integer",
        ),
        (
            'lead = "first"',
            'lead = "nearest"',
            r"lead = 'nearest': expected one of majority, first",
        ),
        ('per = "case"', 'per = "suspect"', r"per = 'suspect': expected one of case"),
        (
            "min_cities = 2",
            'min_cities = "two"',
            r"trigger\.min_cities = 'two': expected an integer",
        ),
    ],
)
def test_invalid_plan_file_names_the_bad_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in GOOD
    bad = tmp_path / "plans.toml"
    bad.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PlanError, match=message) as err:
        load_plans(bad)
    assert str(err.value).startswith("plans.toml: ")


def test_broken_toml_and_lead_outside_the_level_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "plans.toml"
    bad.write_text("[[plan]\nname = 1\n", encoding="utf-8")
    with pytest.raises(PlanError, match="plans.toml: not valid TOML"):
        load_plans(bad)
    bad.write_text(GOOD.replace('lead = "first"', "lead = 330200", 1), encoding="utf-8")
    with pytest.raises(PlanError, match=r"lead = 330200: expected the adcode of a county center"):
        check_plans(load_plans(bad), Organisation.load(330000))


def test_invalid_plan_file_fails_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "plans.toml"
    bad.write_text(GOOD.replace('deadline = "20m"', 'deadline = "20 minutes"', 1), encoding="utf-8")
    with pytest.raises(PlanError, match=r"plan\[3\]\.ack\.deadline = '20 minutes'"):
        Runtime.open(Settings(data_dir=tmp_path / "state", plans_path=bad))
    assert not (tmp_path / "state" / "journal.sqlite").exists()  # nothing opened
    monkeypatch.setenv("ICC_TASKING_PLANS", str(bad))
    stream = tmp_path / "empty.jsonl"
    stream.write_text("", encoding="utf-8")
    assert main(["replay", str(stream)]) == 2
    assert "plan[3].ack.deadline" in capsys.readouterr().err.replace("\n", "")


def test_config_checks_the_tasking_variables(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ICC_TASKING_PLANS"):
        Settings.from_env({"ICC_TASKING_PLANS": str(tmp_path / "missing.toml")})
    with pytest.raises(ConfigError, match="entry 1: role 'chief'"):
        Settings.from_env({"ICC_API_TOKENS": "0123456789abcdef:chief:330000"})
    with pytest.raises(ConfigError, match="at least 16 characters"):
        Settings.from_env({"ICC_API_TOKENS": "short:team:T-330211-01"})
    s = Settings.from_env({"ICC_API_TOKENS": "0123456789abcdef:team:T-330211-01, "})
    assert [(t.role, t.subject) for t in s.api_tokens] == [("team", "T-330211-01")]
    assert "0123456789abcdef" not in repr(s)


def test_roster_matches_the_scenario_team_ids_and_is_validated(tmp_path: Path) -> None:
    org = Organisation.load(330000)
    assert len([c for c in org.centers.values() if c.level is Level.COUNTY]) == 90
    assert len([c for c in org.centers.values() if c.level is Level.CITY]) == 11
    assert org.center(330200).parent == 330000 and org.center(330211).parent == 330200
    assert {"T-330211-01", "T-330211-02", "T-330206-01"} <= set(org.teams)
    assert "T-330206-02" not in org.teams  # Beilun is not a central district
    bad = tmp_path / "roster.toml"
    bad.write_text("[counties.999999]\nteams = 1\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="counties.999999: expected the adcode of a county"):
        load_roster(bad, [330211])
    bad.write_text("[defaults]\ncapacity = 0\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"defaults\.capacity = 0: expected an integer"):
        load_roster(bad, [330211])
