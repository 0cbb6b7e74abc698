"""Property tests of the wire contract models (shared/CONTRACT.md).

Valid messages are built by hypothesis strategies and must parse and round-trip;
each contract rule is then broken by a hypothesis-driven mutation of a valid
message and must raise :class:`ContractError` whose text names the field and
shows the bad value.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ingest import models
from ingest.models import (
    KNOWN_CATEGORIES,
    ContractError,
    Incident,
    Sighting,
    TeamStatus,
    parse_message,
)
from tests.factories import sighting

#: Applied to every property test: enough examples to find edge cases, few enough
#: to keep this module well under 20 s; no per-example deadline (CI machines vary).
CONTRACT = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --------------------------------------------------------------------------- helpers

KINDS = ("incident", "sighting", "team_status")
PERSON_ROLES = ("suspect", "victim", "witness", "reporter")
VEHICLE_ROLES = ("suspect", "victim", "involved")
ENTITY_KINDS = ("plate", "phone", "mac")
TEAM_STATUSES = ("available", "assigned", "en_route", "on_scene", "unavailable")
TIMESTAMP_FIELDS = {
    "incident": ("reported_at", "occurred_start", "occurred_end"),
    "sighting": ("at",),
    "team_status": ("at",),
}
REQUIRED = {
    "incident": (
        "report_id",
        "reported_at",
        "occurred_start",
        "occurred_end",
        "lon",
        "lat",
        "category",
    ),
    "sighting": ("sighting_id", "entity_kind", "entity", "checkpoint_id", "lon", "lat", "at"),
    "team_status": ("team_id", "status", "at"),
}
ID_PATTERN = re.compile(r"[0-9*]{17}[0-9Xx*]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def encode(message: dict[str, Any]) -> bytes:
    """The wire form of ``message``: UTF-8 JSON, Chinese characters unescaped."""
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def reject(message: dict[str, Any] | bytes) -> ContractError:
    """Parse ``message`` and return the :class:`ContractError` it must raise."""
    raw = message if isinstance(message, bytes) else encode(message)
    with pytest.raises(ContractError) as info:
        parse_message(raw)
    return info.value


def shown(value: Any) -> str:
    """How ContractError shows a bad value: its repr, cut to 77 characters if long."""
    return repr(value)[:77]


def assert_names(err: ContractError, field: str, value: Any) -> None:
    """``err`` names ``field`` and shows ``value``, in its text and its ``errors``."""
    text = str(err)
    assert f"{field}:" in text, text
    assert shown(value) in text, text
    assert "expected" in text, text
    assert any(f == field and v == value for f, v, _ in err.errors), err.errors


def id_check_digit(first17: str) -> str:
    """GB 11643 check character of the first 17 digits of a resident ID."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def instant(text: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp the way the standard library does."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def as_rfc3339(moment: dt.datetime, use_z: bool) -> str:
    """Format an aware datetime; UTC may be written with a ``Z`` suffix."""
    text = moment.isoformat()
    if use_z and moment.utcoffset() == dt.timedelta(0):
        text = text[: -len("+00:00")] + "Z"
    return text


# ------------------------------------------------------------------------ strategies

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红海波宁浩宇俊"
PINYIN = ("zhang", "wang", "li", "chen", "liu", "huang", "zhou", "wu", "xu", "shen", "ye")
PINYIN_GIVEN = ("wei", "fang", "jun", "xiaoming", "jianguo", "li na", "hai bo", "tao")
PROVINCE_ABBR = "浙沪苏皖闽赣京粤"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

offsets = st.integers(min_value=-14 * 4, max_value=14 * 4).map(
    lambda q: dt.timezone(dt.timedelta(minutes=15 * q))
)
aware = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2035, 12, 31),
    timezones=offsets,
)
gaps = st.one_of(
    st.just(dt.timedelta(0)),
    st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=30)),
)

chinese_names = st.builds(
    lambda s, g, spaced: s + (" " if spaced else "") + g,
    st.sampled_from(SURNAMES),
    st.text(alphabet=GIVEN, min_size=1, max_size=2),
    st.booleans(),
)
pinyin_names = st.builds(
    lambda s, g, upper: f"{s} {g}".title() if upper else f"{g} {s}",
    st.sampled_from(PINYIN),
    st.sampled_from(PINYIN_GIVEN),
    st.booleans(),
)
names = st.one_of(chinese_names, pinyin_names)
ids = st.text(alphabet=string.ascii_letters + string.digits + "-_:", min_size=1, max_size=64)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """An 18-character resident ID: valid check digit, wrong one, or partial with '*'."""
    body = draw(st.text(alphabet=string.digits, min_size=17, max_size=17))
    shape = draw(st.sampled_from(("valid", "wrong_check", "partial", "lower_x")))
    if shape == "valid":
        return body + id_check_digit(body)
    if shape == "wrong_check":
        right = id_check_digit(body)
        return body + draw(st.sampled_from([c for c in "0123456789X" if c != right]))
    if shape == "partial":
        cut = draw(st.integers(min_value=6, max_value=14))
        return body[:cut] + "*" * (17 - cut) + "*"
    return body + "x"


@st.composite
def phones(draw: st.DrawFn) -> str:
    """A mainland mobile number written in one of the usual ways."""
    prefix = draw(st.sampled_from(("130", "135", "138", "139", "150", "158", "177", "186", "199")))
    rest = draw(st.text(alphabet=string.digits, min_size=8, max_size=8))
    style = draw(st.sampled_from(("bare", "intl", "dashed")))
    if style == "bare":
        return prefix + rest
    if style == "intl":
        return f"+86 {prefix}-{rest[:4]}-{rest[4:]}"
    return f"{prefix}-{rest[:4]}-{rest[4:]}"


plates = st.builds(
    lambda p, letter, tail: p + letter + tail,
    st.sampled_from(PROVINCE_ABBR),
    st.sampled_from(PLATE_LETTERS),
    st.text(alphabet=string.digits + "ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=5, max_size=6),
)
unknown_categories = st.from_regex(
    r"[a-z0-9_]{1,10}(\.[a-z0-9_]{1,10}){0,2}", fullmatch=True
).filter(lambda c: c not in KNOWN_CATEGORIES)
categories = st.one_of(st.sampled_from(sorted(KNOWN_CATEGORIES)), unknown_categories)
lons = st.one_of(
    st.floats(min_value=-180.0, max_value=180.0, allow_nan=False),
    st.integers(min_value=-180, max_value=180),
    st.floats(min_value=118.0, max_value=123.0),
)
lats = st.one_of(
    st.floats(min_value=-90.0, max_value=90.0, allow_nan=False),
    st.integers(min_value=-90, max_value=90),
    st.floats(min_value=27.0, max_value=31.5),
)
timestamps = st.builds(as_rfc3339, aware, st.booleans())

persons = st.fixed_dictionaries(
    {"role": st.sampled_from(PERSON_ROLES), "name": names},
    optional={
        "id_number": id_numbers(),
        "phone": phones(),
        "dob": st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2010, 12, 31)).map(
            dt.date.isoformat
        ),
        "gender": st.sampled_from(("M", "F")),
    },
)
vehicles = st.fixed_dictionaries({"role": st.sampled_from(VEHICLE_ROLES), "plate": plates})
organizations = st.fixed_dictionaries(
    {
        "role": st.sampled_from(("victim", "shell", "employer", "carrier")),
        "name": st.sampled_from(
            ("宁波镇海某物流有限公司", "金华某投资管理有限公司", "Acme Trading Co.")
        ),
    },
    optional={
        "uscc": st.text(alphabet=string.digits + string.ascii_uppercase, min_size=18, max_size=18)
    },
)


@st.composite
def incidents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid incident; the three timestamps may use different offsets and ``Z``."""
    reported = draw(aware)
    end = reported - draw(gaps)
    start = end - draw(gaps)
    message: dict[str, Any] = {
        "kind": "incident",
        "report_id": draw(ids),
        "reported_at": as_rfc3339(reported, draw(st.booleans())),
        "occurred_start": as_rfc3339(start.astimezone(draw(offsets)), draw(st.booleans())),
        "occurred_end": as_rfc3339(end.astimezone(draw(offsets)), draw(st.booleans())),
        "lon": draw(lons),
        "lat": draw(lats),
        "category": draw(categories),
    }
    optional = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "case_id": ids,
                "address": st.sampled_from(("浙江省宁波市镇海区蛟川街道", "义乌市国际商贸城", "")),
                "mo": st.lists(
                    st.sampled_from(("night", "target.truck", "tool.siphon", "fake.invoice")),
                    max_size=4,
                ),
                "loss_cny": st.one_of(st.floats(min_value=0, max_value=1e9), st.integers(0, 10**9)),
                "persons": st.lists(persons, max_size=3),
                "vehicles": st.lists(vehicles, max_size=3),
                "organizations": st.lists(organizations, max_size=2),
                "narrative": st.text(max_size=40),
                "source": st.sampled_from(("110", "walk-in", "online", "enterprise-station")),
            },
        )
    )
    message.update(optional)
    return message


sightings = st.fixed_dictionaries(
    {
        "kind": st.just("sighting"),
        "sighting_id": ids,
        "entity_kind": st.sampled_from(ENTITY_KINDS),
        "entity": st.one_of(plates, phones()),
        "checkpoint_id": st.from_regex(r"ZJ-[0-9]{4}-[A-Z]{2}[0-9]{2}", fullmatch=True),
        "lon": lons,
        "lat": lats,
        "at": timestamps,
    }
)


@st.composite
def team_statuses(draw: st.DrawFn) -> dict[str, Any]:
    """A valid team status, with a position (both lon and lat) or without."""
    message: dict[str, Any] = {
        "kind": "team_status",
        "team_id": draw(ids),
        "status": draw(st.sampled_from(TEAM_STATUSES)),
        "at": draw(timestamps),
    }
    if draw(st.booleans()):
        message["lon"] = draw(lons)
        message["lat"] = draw(lats)
    return message


messages = st.one_of(incidents(), sightings, team_statuses())


# ----------------------------------------------------------------- valid messages


def _check_timestamps(parsed: Any, message: dict[str, Any]) -> None:
    for field in TIMESTAMP_FIELDS[message["kind"]]:
        value = getattr(parsed, field)
        expected = instant(message[field])
        assert value == expected
        assert value.utcoffset() == expected.utcoffset()


@CONTRACT
@given(incidents())
def test_valid_incident_round_trips(message: dict[str, Any]) -> None:
    parsed = parse_message(encode(message))
    assert isinstance(parsed, Incident)
    assert parsed.report_id == message["report_id"]
    assert parsed.case == message.get("case_id", message["report_id"])
    assert parsed.category == message["category"]
    assert parsed.category_known == (message["category"] in KNOWN_CATEGORIES)
    assert parsed.lon == message["lon"] and parsed.lat == message["lat"]
    assert parsed.loss_cny == message.get("loss_cny")
    assert parsed.mo == message.get("mo", [])
    assert parsed.address == message.get("address")
    assert parsed.narrative == message.get("narrative")
    assert parsed.source == message.get("source")
    _check_timestamps(parsed, message)
    assert parsed.occurred_start <= parsed.occurred_end <= parsed.reported_at
    assert parsed.event_time == parsed.reported_at
    assert parsed.key == f"incident:{message['report_id']}"
    for got, sent in zip(parsed.persons, message.get("persons", []), strict=True):
        assert (got.role, got.name) == (sent["role"], sent["name"])
        assert got.id_number == sent.get("id_number")
        assert got.phone == sent.get("phone")
        assert got.gender == sent.get("gender")
        assert (got.dob.isoformat() if got.dob else None) == sent.get("dob")
    sent_vehicles = [(v["role"], v["plate"]) for v in message.get("vehicles", [])]
    assert [(v.role, v.plate) for v in parsed.vehicles] == sent_vehicles
    sent_orgs = [(o["role"], o["name"], o.get("uscc")) for o in message.get("organizations", [])]
    assert [(o.role, o.name, o.uscc) for o in parsed.organizations] == sent_orgs


@CONTRACT
@given(sightings)
def test_valid_sighting_round_trips(message: dict[str, Any]) -> None:
    parsed = parse_message(encode(message))
    assert isinstance(parsed, Sighting)
    for field in ("sighting_id", "entity_kind", "entity", "checkpoint_id", "lon", "lat"):
        assert getattr(parsed, field) == message[field]
    _check_timestamps(parsed, message)
    assert parsed.event_time == parsed.at
    assert parsed.key == f"sighting:{message['sighting_id']}"


@CONTRACT
@given(team_statuses())
def test_valid_team_status_round_trips(message: dict[str, Any]) -> None:
    parsed = parse_message(encode(message))
    assert isinstance(parsed, TeamStatus)
    assert (parsed.team_id, parsed.status) == (message["team_id"], message["status"])
    assert parsed.lon == message.get("lon") and parsed.lat == message.get("lat")
    _check_timestamps(parsed, message)


@CONTRACT
@given(messages, st.sampled_from(("str", "ascii", "indented")))
def test_any_json_spelling_parses_the_same(message: dict[str, Any], spelling: str) -> None:
    """Bytes, str, ASCII-escaped and pretty-printed JSON all give the same model."""
    reference = parse_message(encode(message))
    if spelling == "str":
        raw: bytes | str = json.dumps(message, ensure_ascii=False)
    elif spelling == "ascii":
        raw = json.dumps(message).encode()
    else:
        raw = json.dumps(message, ensure_ascii=False, indent=2).encode()
    assert parse_message(raw) == reference


@CONTRACT
@given(messages, st.dictionaries(st.from_regex(r"x_[a-z]{1,8}", fullmatch=True), st.integers()))
def test_unknown_extra_fields_are_ignored(message: dict[str, Any], extra: dict[str, int]) -> None:
    """The contract grows by optional fields; today's reader must accept tomorrow's messages."""
    assert parse_message(encode({**message, **extra})) == parse_message(encode(message))


@CONTRACT
@given(unknown_categories)
def test_unknown_category_is_kept_verbatim(category: str) -> None:
    message = {**EXAMPLE_INCIDENT, "category": category}
    parsed = parse_message(encode(message))
    assert isinstance(parsed, Incident)
    assert parsed.category == category
    assert not parsed.category_known


@pytest.mark.parametrize("category", sorted(KNOWN_CATEGORIES))
def test_known_categories_are_known(category: str) -> None:
    parsed = parse_message(encode({**EXAMPLE_INCIDENT, "category": category}))
    assert isinstance(parsed, Incident) and parsed.category_known


@CONTRACT
@given(aware, offsets, offsets, st.booleans())
def test_equal_boundaries_are_accepted(
    moment: dt.datetime, tz_start: dt.tzinfo, tz_end: dt.tzinfo, use_z: bool
) -> None:
    """start == end == reported_at is allowed, even written in three different offsets."""
    message = {
        **EXAMPLE_INCIDENT,
        "reported_at": as_rfc3339(moment, use_z),
        "occurred_start": moment.astimezone(tz_start).isoformat(),
        "occurred_end": moment.astimezone(tz_end).isoformat(),
    }
    parsed = parse_message(encode(message))
    assert isinstance(parsed, Incident)
    assert parsed.occurred_start == parsed.occurred_end == parsed.reported_at


def test_z_suffix_and_non_china_offsets() -> None:
    parsed = parse_message(encode({**EXAMPLE_SIGHTING, "at": "2026-03-01T00:00:00Z"}))
    assert parsed.event_time.utcoffset() == dt.timedelta(0)
    parsed = parse_message(encode({**EXAMPLE_SIGHTING, "at": "2026-02-28T19:30:00-04:30"}))
    assert parsed.event_time == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_case_defaults_to_report_id() -> None:
    parsed = parse_message(encode(EXAMPLE_INCIDENT))
    assert isinstance(parsed, Incident)
    assert parsed.case_id is None and parsed.case == "ZJ-NB-2026-0001"
    parsed = parse_message(encode({**EXAMPLE_INCIDENT, "case_id": "ZJ-NB-2025-0917"}))
    assert isinstance(parsed, Incident) and parsed.case == "ZJ-NB-2025-0917"


def test_report_id_length_limits_are_inclusive() -> None:
    for report_id in ("r", "r" * 64, "报" * 64):
        parsed = parse_message(encode({**EXAMPLE_INCIDENT, "report_id": report_id}))
        assert isinstance(parsed, Incident) and parsed.report_id == report_id


def test_boundary_coordinates_are_accepted() -> None:
    for lon, lat in ((-180, -90), (180, 90), (0, 0), (180.0, -90.0)):
        parsed = parse_message(encode({**EXAMPLE_SIGHTING, "lon": lon, "lat": lat}))
        assert (parsed.lon, parsed.lat) == (lon, lat)


def test_zero_loss_and_empty_lists_are_accepted() -> None:
    message = {**EXAMPLE_INCIDENT, "loss_cny": 0, "mo": [], "persons": [], "vehicles": []}
    parsed = parse_message(encode(message))
    assert isinstance(parsed, Incident) and parsed.loss_cny == 0


# ---------------------------------------------------------------- broken messages

EXAMPLE_INCIDENT: dict[str, Any] = {
    "kind": "incident",
    "report_id": "ZJ-NB-2026-0001",
    "reported_at": "2026-03-02T07:40:00+08:00",
    "occurred_start": "2026-03-01T22:00:00+08:00",
    "occurred_end": "2026-03-02T06:00:00+08:00",
    "lon": 121.713,
    "lat": 29.965,
    "address": "浙江省宁波市镇海区蛟川街道",
    "category": "theft.fuel",
    "mo": ["night", "target.truck", "tool.siphon"],
    "loss_cny": 4800,
    "persons": [{"role": "reporter", "name": "王建国", "phone": "+86 138-1234-5678"}],
    "vehicles": [{"role": "victim", "plate": "浙B7M215"}],
}
EXAMPLE_SIGHTING: dict[str, Any] = {
    "kind": "sighting",
    "sighting_id": "ANPR-330211-0001",
    "entity_kind": "plate",
    "entity": "浙B12345",
    "checkpoint_id": "ZJ-0211-ZH01",
    "lon": 121.6,
    "lat": 29.9,
    "at": "2026-03-01T23:12:05+08:00",
}

naive_timestamps = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2035, 12, 31)
).map(lambda d: d.isoformat(sep=" " if d.second % 2 else "T"))


@CONTRACT
@given(st.data(), messages, naive_timestamps)
def test_naive_timestamp_is_rejected(data: st.DataObject, message: dict, naive: str) -> None:
    field = data.draw(st.sampled_from(TIMESTAMP_FIELDS[message["kind"]]))
    err = reject({**message, field: naive})
    assert_names(err, field, naive)
    assert "offset" in str(err)


@CONTRACT
@given(
    incidents(),
    st.timedeltas(min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(days=9)),
)
def test_start_after_end_is_rejected(message: dict[str, Any], excess: dt.timedelta) -> None:
    end = instant(message["occurred_end"])
    start = end + excess
    message = {**message, "occurred_start": start.isoformat()}
    err = reject(message)
    text = str(err)
    assert "occurred_start" in text and "occurred_end" in text, text
    assert start.isoformat() in text, text
    assert "occurred_start <= occurred_end" in text, text


@CONTRACT
@given(
    incidents(),
    st.timedeltas(min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(days=9)),
)
def test_end_after_reported_is_rejected(message: dict[str, Any], excess: dt.timedelta) -> None:
    reported = instant(message["reported_at"])
    end = (reported + excess).astimezone(instant(message["occurred_end"]).tzinfo)
    message = {**message, "occurred_start": end.isoformat(), "occurred_end": end.isoformat()}
    err = reject(message)
    text = str(err)
    assert "occurred_end" in text and "reported_at" in text, text
    assert end.isoformat() in text and reported.isoformat() in text, text
    assert "occurred_end <= reported_at" in text, text


small_text = st.text(alphabet=string.ascii_letters + "浙江省", max_size=8)
not_a_number = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6).map(repr),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(small_text, st.integers(), max_size=2),
    st.none(),
    small_text,
)
not_a_string = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(min_value=-1e6, max_value=1e6),
    st.booleans(),
    st.lists(small_text, max_size=3),
    st.dictionaries(small_text, st.integers(), max_size=2),
)
not_a_list = st.one_of(
    small_text,
    st.integers(),
    st.dictionaries(small_text, small_text, max_size=2),
)
NUMBER_FIELDS = {"incident": ("lon", "lat", "loss_cny"), "sighting": ("lon", "lat")}
STRING_FIELDS = {
    "incident": ("report_id", "case_id", "category", "address", "narrative", "source"),
    "sighting": ("sighting_id", "entity_kind", "entity", "checkpoint_id", "at"),
    "team_status": ("team_id", "status", "at"),
}
LIST_FIELDS = ("mo", "persons", "vehicles", "organizations")


@CONTRACT
@given(st.data(), st.one_of(incidents(), sightings))
def test_non_number_for_number_is_rejected(data: st.DataObject, message: dict) -> None:
    field = data.draw(st.sampled_from(NUMBER_FIELDS[message["kind"]]))
    value = data.draw(not_a_number)
    assume(not (value is None and field == "loss_cny"))  # null is fine for an optional field
    assert_names(reject({**message, field: value}), field, value)


@CONTRACT
@given(st.data(), messages)
def test_non_string_for_string_is_rejected(data: st.DataObject, message: dict) -> None:
    field = data.draw(st.sampled_from(STRING_FIELDS[message["kind"]]))
    value = data.draw(not_a_string)
    assert_names(reject({**message, field: value}), field, value)


@CONTRACT
@given(st.data(), incidents())
def test_non_list_for_list_is_rejected(data: st.DataObject, message: dict) -> None:
    field = data.draw(st.sampled_from(LIST_FIELDS))
    value = data.draw(not_a_list)
    assert_names(reject({**message, field: value}), field, value)


@CONTRACT
@given(
    st.sampled_from(("persons", "vehicles", "organizations")),
    st.one_of(st.lists(small_text, max_size=3), small_text, st.integers()),
)
def test_non_object_list_item_is_rejected(field: str, item: Any) -> None:
    message = {**EXAMPLE_INCIDENT, field: [item]}
    assert_names(reject(message), f"{field}[0]", item)


@CONTRACT
@given(st.data(), messages)
def test_missing_required_field_is_rejected(data: st.DataObject, message: dict) -> None:
    field = data.draw(st.sampled_from(REQUIRED[message["kind"]]))
    del message[field]
    err = reject(message)
    assert f"{field}: missing" in str(err), str(err)
    assert any(f == field for f, _, _ in err.errors)


@CONTRACT
@given(st.data(), messages)
def test_several_problems_are_all_reported(data: st.DataObject, message: dict) -> None:
    required = REQUIRED[message["kind"]]
    dropped = data.draw(st.lists(st.sampled_from(required), min_size=2, max_size=3, unique=True))
    for field in dropped:
        del message[field]
    err = reject(message)
    assert {f for f, _, _ in err.errors} >= set(dropped)


def _not_in(choices: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=12),
        st.sampled_from(choices).map(str.upper),
        st.sampled_from(choices).map(lambda c: c + " "),
    ).filter(lambda v: v not in choices)


@CONTRACT
@given(st.integers(0, 2), _not_in(PERSON_ROLES))
def test_bad_person_role_is_rejected(index: int, role: str) -> None:
    people = [{"role": "witness", "name": "Li Na"} for _ in range(3)]
    people[index] = {"role": role, "name": "张伟"}
    err = reject({**EXAMPLE_INCIDENT, "persons": people})
    assert_names(err, f"persons[{index}].role", role)
    assert "'suspect'" in str(err)


@CONTRACT
@given(_not_in(VEHICLE_ROLES))
def test_bad_vehicle_role_is_rejected(role: str) -> None:
    err = reject({**EXAMPLE_INCIDENT, "vehicles": [{"role": role, "plate": "浙B12345"}]})
    assert_names(err, "vehicles[0].role", role)
    assert "'involved'" in str(err)


@CONTRACT
@given(sightings, _not_in(ENTITY_KINDS))
def test_bad_entity_kind_is_rejected(message: dict[str, Any], entity_kind: str) -> None:
    err = reject({**message, "entity_kind": entity_kind})
    assert_names(err, "entity_kind", entity_kind)
    assert "'plate'" in str(err)


@CONTRACT
@given(team_statuses(), _not_in(TEAM_STATUSES))
def test_bad_team_status_is_rejected(message: dict[str, Any], status: str) -> None:
    err = reject({**message, "status": status})
    assert_names(err, "status", status)
    assert "'en_route'" in str(err)


@CONTRACT
@given(st.data(), messages)
def test_coordinates_out_of_range_are_rejected(data: st.DataObject, message: dict) -> None:
    field, limit = data.draw(st.sampled_from((("lon", 180.0), ("lat", 90.0))))
    magnitude = data.draw(
        st.one_of(
            st.floats(min_value=limit, max_value=1e300, exclude_min=True),
            st.integers(min_value=int(limit) + 1, max_value=10**6),
        )
    )
    value = magnitude * data.draw(st.sampled_from((1, -1)))
    if message["kind"] == "team_status":
        message = {**message, "lon": 120.0, "lat": 30.0}
    assert_names(reject({**message, field: value}), field, value)


@CONTRACT
@given(
    st.one_of(
        st.floats(max_value=0.0, exclude_max=True, allow_nan=False, allow_infinity=False),
        st.integers(min_value=-(10**12), max_value=-1),
    )
)
def test_negative_loss_is_rejected(loss: float) -> None:
    err = reject({**EXAMPLE_INCIDENT, "loss_cny": loss})
    assert_names(err, "loss_cny", loss)
    assert "greater than or equal to 0" in str(err)


@CONTRACT
@given(
    st.sampled_from(("incident", "incident_case", "sighting")),
    st.one_of(st.just(""), st.text(alphabet="ZJ-0123456789报案", min_size=65, max_size=200)),
)
def test_bad_id_length_is_rejected(where: str, value: str) -> None:
    if where == "sighting":
        message, field = EXAMPLE_SIGHTING, "sighting_id"
    else:
        message = EXAMPLE_INCIDENT
        field = "case_id" if where == "incident_case" else "report_id"
    err = reject({**message, field: value})
    assert_names(err, field, value)
    assert "64" in str(err) or "at least 1" in str(err)


malformed_ids = st.one_of(
    st.text(alphabet=string.digits, max_size=30).filter(lambda s: len(s) != 18),
    st.text(alphabet=string.digits + "ABCXYZ- ", min_size=18, max_size=18),
    st.builds(
        lambda body: body[:8] + "X" + body[9:], st.text(string.digits, min_size=18, max_size=18)
    ),
).filter(lambda s: not ID_PATTERN.fullmatch(s))


@CONTRACT
@given(malformed_ids, st.sampled_from(PERSON_ROLES))
def test_malformed_id_number_is_rejected(id_number: str, role: str) -> None:
    person = {"role": role, "name": "陈静", "id_number": id_number}
    err = reject({**EXAMPLE_INCIDENT, "persons": [person]})
    assert_names(err, "persons[0].id_number", id_number)
    assert "18-character" in str(err)


@CONTRACT
@given(id_numbers())
def test_wrong_check_digit_is_kept(id_number: str) -> None:
    """A wrong check digit is not a contract error (it is only not trusted later)."""
    person = {"role": "suspect", "name": "陈静", "id_number": id_number}
    parsed = parse_message(encode({**EXAMPLE_INCIDENT, "persons": [person]}))
    assert isinstance(parsed, Incident) and parsed.persons[0].id_number == id_number


@CONTRACT
@given(team_statuses(), st.sampled_from(("lon", "lat")), st.floats(-90, 90))
def test_team_position_needs_both_coordinates(
    message: dict, given_field: str, value: float
) -> None:
    message = {k: v for k, v in message.items() if k not in ("lon", "lat")}
    message[given_field] = value
    err = reject(message)
    text = str(err)
    assert "lon" in text and "lat" in text, text
    assert f"{given_field}={value!r}" in text, text
    assert "both or neither" in text, text


@CONTRACT
@given(messages, _not_in(KINDS))
def test_unknown_kind_is_rejected(message: dict[str, Any], kind: str) -> None:
    err = reject({**message, "kind": kind})
    assert_names(err, "kind", kind)
    assert "'incident'" in str(err) and "'team_status'" in str(err)


@CONTRACT
@given(messages)
def test_missing_kind_is_rejected(message: dict[str, Any]) -> None:
    del message["kind"]
    err = reject(message)
    assert "kind: missing" in str(err)


@pytest.mark.parametrize("kind", [None, 5, ["incident"]])
def test_non_string_kind_is_shown_as_sent(kind: Any) -> None:
    assert_names(reject({**EXAMPLE_SIGHTING, "kind": kind}), "kind", kind)


def test_length_error_reads_naturally() -> None:
    text = str(reject({**EXAMPLE_INCIDENT, "report_id": "r" * 65}))
    assert "expected string should" not in text, text
    assert "expected a string with at most 64 characters" in text, text


def test_utf8_bom_is_not_content() -> None:
    assert parse_message(b"\xef\xbb\xbf" + encode(EXAMPLE_SIGHTING)).kind == "sighting"


def test_long_unknown_category_is_kept() -> None:
    category = "enterprise." + "x" * 100
    assert parse_message(encode({**EXAMPLE_INCIDENT, "category": category})).category == category


@CONTRACT
@given(messages, st.data())
def test_invalid_json_is_rejected(message: dict[str, Any], data: st.DataObject) -> None:
    raw = encode(message)
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    broken = raw[:cut]
    err = reject(broken)
    text = str(err)
    assert text.startswith("message:"), text
    assert "valid JSON" in text, text
    assert shown(broken.decode("utf-8", "replace")) in text, text


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
non_objects = st.one_of(
    json_scalars,
    st.lists(
        st.one_of(json_scalars, st.dictionaries(st.text(max_size=5), json_scalars)), max_size=4
    ),
)


@CONTRACT
@given(non_objects)
def test_non_object_json_is_rejected(value: Any) -> None:
    err = reject(json.dumps(value).encode())
    text = str(err)
    assert text.startswith("message:") and "an object" in text, text
    assert shown(value) in text, text


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"\xff\xfe{}", b"{'kind': 'sighting'}", b'{"kind": "sighting",}'],
)
def test_garbage_is_rejected_as_invalid_json(raw: bytes) -> None:
    err = reject(raw)
    assert str(err).startswith("message:"), str(err)
    assert "valid JSON" in str(err)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("field", ["lon", "lat", "loss_cny"])
def test_non_finite_numbers_are_rejected(field: str, literal: str) -> None:
    """The JSON parser tolerates NaN/Infinity literals; the number fields must not."""
    raw = encode({**EXAMPLE_INCIDENT, field: 0}).replace(
        f'"{field}": 0'.encode(), f'"{field}": {literal}'.encode()
    )
    err = reject(raw)
    assert f"{field}:" in str(err) and "finite" in str(err), str(err)


def test_contract_error_is_a_value_error() -> None:
    err = reject({**EXAMPLE_SIGHTING, "lat": "29.9"})
    assert isinstance(err, ValueError)
    assert err.errors == [("lat", "29.9", "a valid number")]
    assert str(err) == "lat: got '29.9'; expected a valid number"


def _union_verdict(raw: bytes | str) -> Any:
    """What the contract's discriminated union alone makes of ``raw``: the message, or
    the text and triples of the error it gives."""
    text = raw[3:] if isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        return models._ADAPTER.validate_json(text)
    except ValidationError as exc:
        err = models._to_contract_error(exc, text)
        return (str(err), err.errors)


def _verdict(raw: bytes | str) -> Any:
    try:
        return parse_message(raw)
    except ContractError as err:
        return (str(err), err.errors)


_GOOD = sighting()


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(_GOOD).encode(),  # '{"kind": "sighting", ...': the fast path
        json.dumps(_GOOD, separators=(",", ":")).encode(),
        json.dumps(_GOOD),  # text
        b"\xef\xbb\xbf" + json.dumps(_GOOD).encode(),
        json.dumps(
            {**{k: v for k, v in _GOOD.items() if k != "kind"}, "kind": "sighting"}
        ).encode(),
        json.dumps({**_GOOD, "extra": [1, 2]}).encode(),
        json.dumps({**_GOOD, "at": "2026-03-02T01:12:00"}).encode(),  # naive
        json.dumps({**_GOOD, "lon": "121.7"}).encode(),  # a string for a number
        json.dumps({**_GOOD, "kind": "sightings"}).encode(),  # starts like one, is not
        json.dumps({k: v for k, v in _GOOD.items() if k != "entity"}).encode(),
        json.dumps({**_GOOD, "entity": "x" * 65}).encode(),
        json.dumps(_GOOD).encode()[:-5],  # truncated
        b'{"kind": "sighting", "entity": "\xff\xfe"}',  # not UTF-8
    ],
)
def test_sightings_read_by_their_own_validator_get_the_unions_verdict(raw: bytes | str) -> None:
    """parse_message reads a message that starts like a sighting with the sighting model's
    validator first; whatever it accepts or refuses, the verdict (the message, or the error
    text and its triples) is the contract union's."""
    assert _verdict(raw) == _union_verdict(raw)
    if isinstance(_verdict(raw), Sighting):
        assert type(_verdict(raw)) is Sighting
